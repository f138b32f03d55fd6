"""notify: what a webhook delivery of an alert is made of (bodies, signature, retry decision).

Pure: no network, no clock, no sleeping. The notify agent
(:mod:`streams.worker.agents.notify`) builds each request from these
functions, sends it, and asks :func:`decide` what the answer means; tests run
them list in, list out.

**Bodies.** Format ``json`` is the :class:`schemas.models.Alert` as
``schemas/json`` documents it (:func:`json_body`). Format ``slack`` is a
Slack-compatible message (:func:`slack_body`): ``{"text": ..., "blocks":
[...]}``, with the one-line ``text`` as the notification fallback. Alerts
quote people's posts (summary, why, handles), which are untrusted, so every
piece of text goes through :func:`escape_slack`: Slack reads ``<...>`` as a
link or a mention (``<!channel>``, ``<https://evil|click>``), and escaping
``&``, ``<`` and ``>`` turns those into plain text. Links we add ourselves
(the post URL, the Kibana URL) are only http(s) and have ``|``, ``<`` and
``>`` encoded, so a crafted URL cannot end the link early. Text is clipped
after escaping so no block passes Slack's 3,000-character limit.

**Signature.** Like the ingest webhook's (:mod:`streams.sources.webhook`)::

    X-Townsquare-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}." + body)>

The timestamp is signed with the body, so a receiver that refuses a ``t``
far from its clock (5 minutes, say) cannot be fed a captured delivery later.
The URL path is not signed (unlike the ingest side): receivers often sit
behind a proxy that rewrites it, and the path of a Slack-style URL is itself a
secret that should not have to be configured twice. :func:`verify` is the
receiver's check.

**Retry decision.** :func:`decide`: a 2xx is delivered; no answer (a
connection error or timeout), 429 and 5xx are worth another try
(:func:`streams.backoff.retryable_status`); anything else, a 4xx or a
redirect we do not follow, is the receiver refusing this request, and sending
it again cannot help.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from schemas.models import Alert
from streams.backoff import retryable_status

SIGNATURE_HEADER = "X-Townsquare-Signature"
ALERT_ID_HEADER = "X-Townsquare-Alert-Id"
"""The alert's stable id: the same on a replay or a redelivery, so receivers dedupe on it."""

REQUEST_TIMEOUT = 10.0
"""Seconds one request may take, connect to answer."""
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
"""Seconds: the jittered wait doubles from ``BACKOFF_BASE`` up to this, and a
``Retry-After`` is honoured up to this too (plus at most ``BACKOFF_BASE`` of jitter)."""

REASON_FAILED = "webhook_failed"
"""Dead-letter reason: no 2xx after every retry (connection errors, timeouts, 429, 5xx)."""
REASON_REFUSED = "webhook_refused"
"""Dead-letter reason: the receiver refused the request (a 4xx other than 429, a 3xx)."""

Decision = Literal["delivered", "retry", "refused"]

_SLACK_TEXT_LIMIT = 3000
"""Slack's limit on a section block's text."""
_FALLBACK_LIMIT = 500
_WHY_LINES = 10
_URL_LIMIT = 1000
_ALERT_ID = re.compile(r"[\x21-\x7e]{1,256}")
"""Printable ASCII without spaces: what may go into a header value as it is."""
_SEVERITY = {
    "critical": ":rotating_light: *CRITICAL*",
    "warning": ":warning: *WARNING*",
    "info": ":information_source: *INFO*",
}


# --- decisions -------------------------------------------------------------------------


def decide(status: int | None) -> Decision:
    """What an answer means: ``None`` is no answer at all (connection error, timeout)."""
    if status is None or retryable_status(status):
        return "retry"
    if 200 <= status < 300:
        return "delivered"
    return "refused"


def max_delivery_seconds(retries: int) -> float:
    """The longest one output can hold the stream: every request times out, every wait is full.

    ``retries + 1`` requests of at most :data:`REQUEST_TIMEOUT` each, and
    ``retries`` waits of at most ``BACKOFF_CAP + BACKOFF_BASE`` (a capped
    ``Retry-After`` plus its jitter; without one the jittered waits are capped
    at 1, 2, 4, 8, 16, 30, ... seconds, which is less). With the default five
    retries that is 60 + 155 = 215 seconds.
    """
    return (retries + 1) * REQUEST_TIMEOUT + retries * (BACKOFF_CAP + BACKOFF_BASE)


# --- signature -------------------------------------------------------------------------


def _signed_bytes(timestamp: int | str, body: bytes) -> bytes:
    return f"{timestamp}.".encode() + body


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Townsquare-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    digest = hmac.new(secret, _signed_bytes(timestamp, body), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    secret: bytes, header: str | None, body: bytes, *, now: float, tolerance: float = 300.0
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and its timestamp is within tolerance.

    What a receiver runs (README, "Alert webhooks"). Any ``v1=`` that matches
    is enough, so a sender may carry two during a key rotation; the
    comparison is constant time.
    """
    if not header:
        return False
    timestamps: list[str] = []
    candidates: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t":
            timestamps.append(value.strip())
        elif name == "v1":
            candidates.append(value.strip().lower())
    if len(timestamps) != 1 or not timestamps[0].isascii() or not timestamps[0].isdigit():
        return False
    expected = hmac.new(secret, _signed_bytes(timestamps[0], body), hashlib.sha256).hexdigest()
    matched = False
    for candidate in candidates[:8]:
        matched |= hmac.compare_digest(expected.encode(), candidate.encode("utf-8", "replace"))
    return matched and abs(now - int(timestamps[0])) <= tolerance


def check_alert_id(alert_id: str) -> str | None:
    """Why ``alert_id`` cannot go into the ``X-Townsquare-Alert-Id`` header, or None."""
    if _ALERT_ID.fullmatch(alert_id):
        return None
    return "alert id is not 1 to 256 printable ASCII characters without spaces"


def request_headers(alert_id: str, signature: str, user_agent: str) -> dict[str, str]:
    """Every header of one delivery; raises ``ValueError`` for an id a header cannot carry."""
    problem = check_alert_id(alert_id)
    if problem:
        raise ValueError(problem)
    return {
        "Content-Type": "application/json",
        "User-Agent": user_agent,
        SIGNATURE_HEADER: signature,
        ALERT_ID_HEADER: alert_id,
    }


# --- bodies ----------------------------------------------------------------------------


def body(alert: Alert, fmt: Literal["slack", "json"]) -> bytes:
    """The request body of ``alert`` in the output's format."""
    return slack_body(alert) if fmt == "slack" else json_body(alert)


def json_body(alert: Alert) -> bytes:
    """The alert itself, exactly as it is on the alerts topic (``schemas/json/alert.json``)."""
    return alert.model_dump_json().encode()


def escape_slack(text: str) -> str:
    """``text`` with Slack's control characters escaped, so it shows as written.

    Slack reads ``<...>`` as a link, a mention or a command (``<!channel>``)
    and ``&`` as the start of an entity; its docs ask for exactly these three.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    """``text`` on one line, escaped, and at most ``limit`` characters once escaped.

    Cut between characters, never inside an entity like ``&amp;``, which would
    leave a stray ``&`` for Slack to read.
    """
    flat = " ".join(text.split())
    out: list[str] = []
    length = 0
    for char in flat:
        piece = escape_slack(char)
        if length + len(piece) > limit - 1:
            out.append("…")
            break
        out.append(piece)
        length += len(piece)
    return "".join(out)


def _link(url: str | None, label: str) -> str | None:
    """A Slack link ``<url|label>`` for an http(s) URL; None for anything else."""
    if not url or len(url) > _URL_LIMIT or any(c.isspace() or ord(c) < 32 for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    safe = url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace("&", "&amp;")
    return f"<{safe}|{label}>"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def fallback_text(alert: Alert) -> str:
    """The one-line notification text: severity, rule and summary."""
    return _clip(f"[{alert.severity.upper()}] {alert.rule}: {alert.summary}", _FALLBACK_LIMIT)


def slack_blocks(alert: Alert) -> list[dict[str, Any]]:
    """The message's blocks: headline, why, spike drivers, context and links."""
    headline = (
        f"{_SEVERITY[alert.severity]} · {_clip(alert.rule, 100)}\n{_clip(alert.summary, 2500)}"
    )
    blocks = [_mrkdwn(headline)]
    if alert.why:
        lines = [f"• {_clip(c.field, 80)}: {_clip(c.value, 200)}" for c in alert.why[:_WHY_LINES]]
        if len(alert.why) > _WHY_LINES:
            lines.append(f"… and {len(alert.why) - _WHY_LINES} more")
        blocks.append(_mrkdwn("*Why*\n" + "\n".join(lines)))
    if alert.spike is not None:
        spike = alert.spike
        drivers = [
            f"{_clip(spike.key, 200)}: {spike.count} posts against {spike.baseline:.1f} usually"
        ]
        if spike.entities:
            drivers.append("entities: " + _clip(", ".join(spike.entities[:10]), 600))
        if spike.authors:
            drivers.append("authors: " + _clip(", ".join(spike.authors[:10]), 600))
        blocks.append(_mrkdwn("*Drivers*\n" + "\n".join(drivers)))
    context: list[str] = [alert.kind]
    if alert.platform:
        context.append(_clip(alert.platform, 40))
    if alert.author_handle:
        context.append("@" + _clip(alert.author_handle, 100))
    if alert.source:
        context.append("source " + _clip(alert.source, 100))
    links = [
        link
        for link in (_link(alert.url, "View post"), _link(alert.kibana_url, "Open in Kibana"))
        if link
    ]
    elements = [{"type": "mrkdwn", "text": " · ".join(context)}]
    if links:
        elements.append({"type": "mrkdwn", "text": " · ".join(links)})
    blocks.append({"type": "context", "elements": elements})
    return blocks


def slack_body(alert: Alert) -> bytes:
    """A Slack-compatible message for ``alert`` (incoming webhooks and look-alikes)."""
    message = {"text": fallback_text(alert), "blocks": slack_blocks(alert)}
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
