"""notify's pure parts: Slack and JSON bodies, the signature, and what an answer means."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.models import Alert, Condition, SpikeDrivers
from streams.steps.notify import (
    ALERT_ID_HEADER,
    SIGNATURE_HEADER,
    body,
    check_alert_id,
    decide,
    escape_slack,
    json_body,
    max_delivery_seconds,
    request_headers,
    sign,
    slack_body,
    verify,
)

SECRET = b"a webhook secret of the deployment"
T = 1_780_000_000
EVIL = "Hey <!channel> look at <https://evil.example/phish|your invoice> & <@U123>"


def _alert(**overrides: Any) -> Alert:
    fields: dict[str, Any] = {
        "id": "al-3f9c2a",
        "kind": "rule",
        "rule": "press_enquiry",
        "severity": "critical",
        "created_at": datetime(2026, 5, 1, 10, 5, tzinfo=UTC),
        "conversation_id": "x:1001",
        "post_id": "x:1002",
        "platform": "x",
        "author_handle": "reporter",
        "summary": "A journalist asks for comment on the bin strike",
        "why": [Condition(field="reading.press", value="true")],
        "url": "https://x.example/reporter/status/1002",
        "kibana_url": "https://kibana.example/app/discover#/?_a=(query:'x:1002')",
        "outputs": ["press-desk"],
        **overrides,
    }
    return Alert.model_validate(fields)


def _slack(alert: Alert) -> dict[str, Any]:
    return dict(json.loads(slack_body(alert)))


def _all_text(message: dict[str, Any]) -> str:
    """Every string Slack would render from the message, concatenated."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message)
    return "\n".join(out)


# --- Slack -----------------------------------------------------------------------------


def test_slack_body_has_fallback_text_and_blocks_with_everything_a_person_needs() -> None:
    message = _slack(_alert())
    assert set(message) == {"text", "blocks"}
    assert (
        message["text"]
        == "[CRITICAL] press_enquiry: A journalist asks for comment on the bin strike"
    )
    assert "\n" not in message["text"]
    headline, why, context = message["blocks"]
    assert headline["type"] == "section" and headline["text"]["type"] == "mrkdwn"
    assert "*CRITICAL*" in headline["text"]["text"]
    assert "press_enquiry" in headline["text"]["text"]
    assert "bin strike" in headline["text"]["text"]
    assert why["text"]["text"] == "*Why*\n• reading.press: true"
    assert context["type"] == "context"
    links = context["elements"][1]["text"]
    assert "<https://x.example/reporter/status/1002|View post>" in links
    assert "<https://kibana.example/app/discover#/?_a=(query:'x:1002')|Open in Kibana>" in links
    assert "@reporter" in context["elements"][0]["text"]


def test_slack_escapes_untrusted_text_so_a_post_cannot_mention_or_link() -> None:
    alert = _alert(
        summary=EVIL,
        author_handle="<!here>",
        why=[Condition(field="text", value=EVIL), Condition(field="<!everyone>", value="x")],
    )
    message = _slack(alert)
    rendered = _all_text(message)
    for injected in ("<!channel>", "<!here>", "<!everyone>", "<https://evil", "<@U123>"):
        assert injected not in rendered, injected
    assert "&lt;!channel&gt;" in message["text"]
    assert "&lt;https://evil.example/phish|your invoice&gt; &amp; &lt;@U123&gt;" in rendered
    # The only links left are the ones we made ourselves.
    assert rendered.count("<") == 2
    assert escape_slack("a & b < c > d") == "a &amp; b &lt; c &gt; d"


def test_slack_links_are_only_http_and_cannot_be_broken_out_of() -> None:
    message = _slack(_alert(url="https://x.example/a|click>now<", kibana_url="javascript:alert(1)"))
    links = message["blocks"][-1]["elements"][1]["text"]
    assert links == "<https://x.example/a%7Cclick%3Enow%3C|View post>"
    assert "javascript" not in _all_text(message)
    spaced = _slack(_alert(url="https://x.example/a b", kibana_url=None))
    assert len(spaced["blocks"][-1]["elements"]) == 1, "a URL with a space is no link"
    bare = _slack(_alert(url=None, kibana_url=None))
    assert len(bare["blocks"][-1]["elements"]) == 1, "no links, no links element"


def test_slack_text_is_clipped_below_the_block_limit_without_splitting_an_entity() -> None:
    long = "&" * 5000
    message = _slack(_alert(summary=long, why=[Condition(field="f", value=long)] * 30))
    for block in message["blocks"]:
        texts = [block["text"]["text"]] if "text" in block else []
        texts += [e["text"] for e in block.get("elements", [])]
        for text in texts:
            assert len(text) <= 3000
            assert "&amp" not in text.replace("&amp;", ""), "an entity was cut in half"
    assert len(message["text"]) <= 500
    assert message["blocks"][1]["text"]["text"].endswith("… and 20 more")


def test_slack_shows_a_spike_with_its_drivers() -> None:
    spike = SpikeDrivers(
        key="hashtag:BinStrike", count=40, baseline=3.5, authors=["a1", "a2"], entities=["Elm St"]
    )
    message = _slack(_alert(kind="spike", rule="spike", severity="warning", spike=spike, why=[]))
    drivers = message["blocks"][1]["text"]["text"]
    assert drivers.startswith("*Drivers*\nhashtag:BinStrike: 40 posts against 3.5 usually")
    assert "entities: Elm St" in drivers and "authors: a1, a2" in drivers
    assert ":warning: *WARNING*" in message["blocks"][0]["text"]["text"]


# --- JSON ------------------------------------------------------------------------------


def test_json_body_is_the_alert_as_on_the_topic() -> None:
    alert = _alert(summary=EVIL)
    assert json_body(alert) == alert.model_dump_json().encode()
    assert Alert.model_validate_json(json_body(alert)) == alert
    assert body(alert, "json") == json_body(alert)
    assert body(alert, "slack") == slack_body(alert)


# --- signature -------------------------------------------------------------------------


def _receiver_check(secret: bytes, header: str, payload: bytes, now: float) -> bool:
    """The README's receiver snippet, written out independently of :func:`verify`."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp, signature = parts["t"], parts["v1"]
    expected = hmac.new(secret, timestamp.encode() + b"." + payload, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature) and abs(now - int(timestamp)) <= 300


def test_signature_covers_timestamp_and_body_and_verifies_with_the_secret() -> None:
    payload = json_body(_alert())
    header = sign(SECRET, T, payload)
    assert header.startswith(f"t={T},v1=")
    digest = hmac.new(SECRET, f"{T}.".encode() + payload, hashlib.sha256).hexdigest()
    assert header == f"t={T},v1={digest}"
    assert verify(SECRET, header, payload, now=T + 5)
    assert _receiver_check(SECRET, header, payload, now=T + 5)


def test_signature_fails_with_another_secret_a_changed_body_or_a_changed_timestamp() -> None:
    payload = json_body(_alert())
    header = sign(SECRET, T, payload)
    assert not verify(b"another secret", header, payload, now=T)
    assert not _receiver_check(b"another secret", header, payload, now=T)
    assert not verify(SECRET, header, payload.replace(b"critical", b"info"), now=T)
    assert not verify(SECRET, header, payload + b" ", now=T)
    moved = header.replace(f"t={T}", f"t={T + 1}")
    assert not verify(SECRET, moved, payload, now=T)
    assert not _receiver_check(SECRET, moved, payload, now=T)


def test_a_stale_or_malformed_signature_is_refused() -> None:
    payload = b"{}"
    header = sign(SECRET, T, payload)
    assert not verify(SECRET, header, payload, now=T + 301), "outside the tolerance"
    assert not verify(SECRET, header, payload, now=T - 301)
    assert verify(SECRET, header, payload, now=T + 3000, tolerance=3600)
    for bad in (None, "", "v1=abc", f"t={T}", "t=\uff11\uff12,v1=00", "garbage"):
        assert not verify(SECRET, bad, payload, now=T), bad
    rotated = f"{sign(b'old secret', T, payload)},v1={header.split('v1=')[1]}"
    assert verify(SECRET, rotated, payload, now=T), "any matching v1 is enough"


def test_request_headers_carry_signature_alert_id_content_type_and_user_agent() -> None:
    headers = request_headers("al-3f9c2a", "t=1,v1=ab", "townsquare-notify/0.1.0")
    assert headers == {
        "Content-Type": "application/json",
        "User-Agent": "townsquare-notify/0.1.0",
        SIGNATURE_HEADER: "t=1,v1=ab",
        ALERT_ID_HEADER: "al-3f9c2a",
    }
    for bad in ("", "with space", "line\r\nX-Injected: 1", "é", "x" * 257):
        assert check_alert_id(bad) is not None
        with pytest.raises(ValueError):
            request_headers(bad, "t=1,v1=ab", "ua")


# --- retry decisions -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "decision"),
    [
        (200, "delivered"),
        (201, "delivered"),
        (202, "delivered"),
        (204, "delivered"),
        (None, "retry"),
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (504, "retry"),
        (599, "retry"),
        (400, "refused"),
        (401, "refused"),
        (403, "refused"),
        (404, "refused"),
        (410, "refused"),
        (413, "refused"),
        (301, "refused"),
        (302, "refused"),
    ],
)
def test_retry_decision_per_status(status: int | None, decision: str) -> None:
    assert decide(status) == decision


def test_the_longest_a_receiver_can_hold_the_stream_is_bounded_by_the_retries() -> None:
    assert max_delivery_seconds(0) == 10.0, "one request, no wait"
    assert max_delivery_seconds(5) == 215.0, "the figure the agent's docstring gives"
    assert max_delivery_seconds(2) == 3 * 10.0 + 2 * 31.0
