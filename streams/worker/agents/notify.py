"""notify: alerts -> the webhooks their rules name, signed, retried, dead-lettered when refused.

For each alert on ``alerts`` and each output it names (:attr:`Alert.outputs`)
that ``TOWNSQUARE_ALERT_WEBHOOKS`` configures, one POST (the body, signature
and decision come from :mod:`streams.steps.notify`)::

    X-Townsquare-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}." + body)>
    X-Townsquare-Alert-Id: <alert id>
    Content-Type: application/json
    User-Agent: townsquare-notify/<version>

Every attempt is signed afresh, so a late retry still carries a current
timestamp. An output name no webhook has is counted
(``townsquare_alert_deliveries_total{outcome="unknown_output"}``) and logged
once per worker; the other outputs are still served.

**Retries.** Connection errors, timeouts (10 s per request, connect to
answer), 429 and 5xx are retried up to ``TOWNSQUARE_ALERT_WEBHOOK_RETRIES``
times with capped, jittered exponential backoff (waits capped at 1, 2, 4, 8,
16, then 30 s), honouring ``Retry-After`` up to 30 s. Any other answer (a 4xx,
a redirect, which is not followed) is final at once. Either way the alert's
message goes to the dead-letter topic (stage ``notify``, reason
``webhook_failed`` or ``webhook_refused``, the error naming the output and the
status, never the URL, whose path may hold a token; one letter per failed
output) and the stream goes on.

**How long one receiver can hold the stream.** The outputs of one alert are
served concurrently, so the slowest decides: at most ``retries + 1``
requests of 10 s and ``retries`` waits of 31 s
(:func:`streams.steps.notify.max_delivery_seconds`), which is 215 s with the
default five retries (60 s of requests, and 31 s of waits when no
``Retry-After`` is sent, 155 s when every answer asks for 30 s or more).
That stays below the worker's 300 s poll interval. A worker handles one alert
at a time, so while a receiver is being retried the worker's later alerts wait
for it, for at most that long.

**Delivery guarantee.** The event is acked only after every output has an
outcome, so a receiver that fails twice and then answers 2xx gets the alert
once: retries stop at the first 2xx. A crash between a delivery and the
offset commit sends the alert again after the restart, with the same
``X-Townsquare-Alert-Id`` (alert ids are stable), and a request that timed out
after the receiver took it is sent again too. That is at-least-once: receivers
make it exactly-once by ignoring an alert id they have seen. A Slack incoming
webhook cannot do that, so a Slack channel may, rarely, show an alert twice.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

import faust
from faust.types import AgentT
from pydantic import ValidationError

from schemas.models import Alert
from streams.backoff import Backoff
from streams.metrics import ALERT_DELIVERIES, MESSAGES
from streams.settings import WebhookOutput
from streams.steps.notify import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    REASON_FAILED,
    REASON_REFUSED,
    REQUEST_TIMEOUT,
    body,
    check_alert_id,
    decide,
    request_headers,
    sign,
)
from streams.worker.dead_letters import publish_dead_letter
from streams.worker.resources import Resources
from streams.worker.tables import Tables
from streams.worker.topics import Topics

if TYPE_CHECKING:
    import httpx

STAGE = "notify"
log = logging.getLogger("townsquare.notify")


def user_agent() -> str:
    """``townsquare-notify/<package version>``, so receivers can tell senders and versions apart."""
    try:
        version = importlib.metadata.version("townsquare")
    except importlib.metadata.PackageNotFoundError:  # running from a tree that is not installed
        version = "0+unknown"
    return f"townsquare-notify/{version}"


class Notifier:
    """Delivers one alert event to its outputs: the agent's whole body, apart from the loop."""

    def __init__(
        self,
        topics: Topics,
        resources: Resources,
        *,
        agent: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        settings = resources.settings
        self.topics = topics
        self.resources = resources
        self.webhooks: Mapping[str, WebhookOutput] = settings.alert_webhooks
        secret = settings.alert_webhook_secret
        self._secret = secret.get_secret_value().encode() if secret is not None else None
        self.retries = settings.alert_webhook_retries
        self.user_agent = agent or user_agent()
        self._sleep = sleep
        self._clock = clock
        self._unknown_logged: set[str] = set()

    def __repr__(self) -> str:  # never the secret, even by accident
        return f"Notifier(outputs={sorted(self.webhooks)}, retries={self.retries})"

    async def handle(self, event: faust.EventT) -> None:
        """Deliver the alert in ``event`` to every configured output it names; never raises."""
        try:
            alert = Alert.model_validate_json(event.message.value or b"")
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)[:3]
            await self._dead_letter(event, "invalid_alert", f"not an alert: {errors}")
            return
        problem = check_alert_id(alert.id)
        if problem:
            await self._dead_letter(event, "invalid_alert", problem)
            return
        targets: list[tuple[str, WebhookOutput]] = []
        for name in dict.fromkeys(alert.outputs):  # a name listed twice is delivered once
            output = self.webhooks.get(name)
            if output is None:
                self._unknown(name, alert)
            else:
                targets.append((name, output))
        await asyncio.gather(*(self._deliver_safely(event, alert, n, o) for n, o in targets))
        MESSAGES.labels(stage=STAGE, outcome="ok").inc()

    def _unknown(self, name: str, alert: Alert) -> None:
        ALERT_DELIVERIES.labels(output=name, outcome="unknown_output").inc()
        if name in self._unknown_logged:
            return
        self._unknown_logged.add(name)
        extra = {"stage": STAGE, "output": name, "rule": alert.rule}
        if not self.webhooks:  # on purpose: alerts stay on the topic and in the index
            log.info("no alert webhooks configured; output %r is not delivered", name, extra=extra)
            return
        log.warning(
            "alert output %r is not configured (TOWNSQUARE_ALERT_WEBHOOKS): its alerts are "
            "not delivered; this is logged once, and counted",
            name,
            extra=extra,
        )

    async def _post(
        self, url: str, content: bytes, headers: dict[str, str]
    ) -> tuple[int | None, Mapping[str, str], str]:
        """One request: its status (None without an answer), headers and a URL-free description.

        The answer's body is not read: only the status counts, and a receiver
        cannot make us hold a large body.
        """
        import httpx

        client: httpx.AsyncClient = self.resources.http
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                async with client.stream(
                    "POST", url, content=content, headers=headers, timeout=REQUEST_TIMEOUT
                ) as response:
                    status = response.status_code
                    return status, dict(response.headers), f"HTTP {status}"
        except (httpx.TransportError, TimeoutError) as exc:
            # The exception's text may quote the URL: only its kind is kept.
            return None, {}, type(exc).__name__

    async def _deliver_safely(
        self, event: faust.EventT, alert: Alert, name: str, output: WebhookOutput
    ) -> None:
        """:meth:`_deliver`, with anything unforeseen (a malformed URL, say) dead-lettered."""
        try:
            await self._deliver(event, alert, name, output)
        except Exception as exc:  # policy: one output's trouble never stops the stream
            ALERT_DELIVERIES.labels(output=name, outcome="failed").inc()
            log.error(
                "alert delivery to %s failed: %s", name, type(exc).__name__, extra={"stage": STAGE}
            )
            error = f"output {name!r}: {type(exc).__name__}, not retried"
            await self._dead_letter(event, REASON_FAILED, error)

    async def _deliver(
        self, event: faust.EventT, alert: Alert, name: str, output: WebhookOutput
    ) -> None:
        """Send ``alert`` to one output until a 2xx, a refusal or the last retry.

        Each outcome ends here (counted; a dead letter for a failure), so one
        output's trouble never stops the alert's other outputs or the stream.
        """
        assert self._secret is not None  # Settings refuses webhooks without a secret
        content = body(alert, output.format)
        backoff = Backoff(base=BACKOFF_BASE, cap=BACKOFF_CAP, max_server_wait=BACKOFF_CAP)
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            signature = sign(self._secret, int(self._clock()), content)
            headers = request_headers(alert.id, signature, self.user_agent)
            status, answer, described = await self._post(output.url, content, headers)
            decision = decide(status)
            extra = {
                "stage": STAGE,
                "output": name,
                "alert_id": alert.id,
                "status": status,
                "attempt": attempt,
            }
            if decision == "delivered":
                ALERT_DELIVERIES.labels(output=name, outcome="delivered").inc()
                log.info("alert delivered to %s", name, extra=extra)
                return
            if decision == "refused":
                ALERT_DELIVERIES.labels(output=name, outcome="refused").inc()
                error = f"output {name!r}: {described}, refused (not retried)"
                await self._dead_letter(event, REASON_REFUSED, error)
                return
            if attempt == attempts:
                break
            ALERT_DELIVERIES.labels(output=name, outcome="retried").inc()
            wait = backoff.delay(answer, status or 0, self._clock())
            log.info(
                "alert delivery to %s failed (%s), retrying in %.1fs",
                name,
                described,
                wait,
                extra=extra,
            )
            await self._sleep(wait)
        ALERT_DELIVERIES.labels(output=name, outcome="failed").inc()
        error = f"output {name!r}: {described} after {attempts} attempts"
        await self._dead_letter(event, REASON_FAILED, error)

    async def _dead_letter(self, event: faust.EventT, reason: str, error: str) -> None:
        await publish_dead_letter(self.topics.dlq, event, stage=STAGE, reason=reason, error=error)


def register(app: faust.App, topics: Topics, tables: Tables, resources: Resources) -> AgentT:
    """Declare the notify agent on ``app``; the HTTP client opens with the first delivery."""
    notifier = Notifier(topics, resources)

    async def notify_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            await notifier.handle(event)

    return app.agent(topics.alerts, name="townsquare.notify")(notify_agent)
