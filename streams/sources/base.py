"""What every live ingest agent shares: run limits, stopping, sending, checkpointing, HTTP retries.

The loop of an agent is always the same: read from the platform, ``emit`` each
post (an async send), and now and then ``checkpoint``: flush the producer, so
Kafka has acknowledged every post sent so far, then store the cursor. The
order matters: a cursor is never ahead of what Kafka holds, so a crash can
only make the next run resend posts since the last checkpoint (harmless,
post ids are stable), never skip one.

Agents are plain threads-and-blocking-I/O programs, one process per source:
``Stopper`` turns SIGTERM, ``--max-runtime`` and ``--max-posts`` into one
flag that every wait and read loop checks, so a stop never waits longer than
one read timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from streams.backoff import Backoff, RequestPacer
from streams.metrics import INGEST_SKIPPED
from streams.settings import Settings
from streams.sources.cursors import CursorStore
from streams.sources.producer import RawProducer

log = logging.getLogger("townsquare.ingest")

USER_AGENT = "townsquare-ingest/1.0"


@dataclass(frozen=True)
class RunLimits:
    """Bounds of one run; None means unbounded (production)."""

    max_runtime: float | None = None
    max_posts: int | None = None


@dataclass
class RunReport:
    sent: int
    skipped: int
    seconds: float
    cursor: dict[str, Any] | None


class Stopper:
    """One stop flag for a signal, the deadline and the post limit; waits wake up on it."""

    def __init__(self, max_runtime: float | None = None) -> None:
        self._event = threading.Event()
        self._deadline = time.monotonic() + max_runtime if max_runtime is not None else None

    def stop(self) -> None:
        self._event.set()

    def stopped(self) -> bool:
        if self._deadline is not None and time.monotonic() >= self._deadline:
            self._event.set()
        return self._event.is_set()

    def remaining(self) -> float | None:
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` unless stopped first; True if the agent should go on."""
        remaining = self.remaining()
        wait = seconds if remaining is None else min(seconds, remaining)
        if wait > 0:
            self._event.wait(wait)
        return not self.stopped()

    def bounded(self, timeout: float) -> float:
        """``timeout`` shortened to the time left, so a blocking read ends by the deadline."""
        remaining = self.remaining()
        return timeout if remaining is None else max(0.05, min(timeout, remaining + 0.05))


class RawSink:
    """Producer, cursor store and counters of one agent run."""

    def __init__(
        self,
        settings: Settings,
        source: str,
        cursor_key: str,
        limits: RunLimits,
        stopper: Stopper,
        *,
        checkpoint_every: int = 100,
        checkpoint_seconds: float = 5.0,
        producer: RawProducer | None = None,
        cursors: CursorStore | None = None,
    ) -> None:
        self.source = source
        self.cursor_key = cursor_key
        self.limits = limits
        self.stopper = stopper
        self.producer = producer or RawProducer(settings, source)
        self.cursors = cursors or CursorStore(settings)
        self.sent = 0
        self.skipped = 0
        self._checkpoint_every = checkpoint_every
        self._checkpoint_seconds = checkpoint_seconds
        self._unsaved = 0
        self._saved_at = time.monotonic()
        self.cursor: dict[str, Any] | None = None

    def load_cursor(self) -> dict[str, Any] | None:
        stored = self.cursors.get(self.cursor_key)
        self.cursor = {k: v for k, v in stored.items() if k != "updated_at"} if stored else None
        if self.cursor:
            log.info("resuming from cursor", extra={"source": self.source, "cursor": self.cursor})
        return self.cursor

    @property
    def full(self) -> bool:
        return self.limits.max_posts is not None and self.sent >= self.limits.max_posts

    def emit(
        self, fmt: str, payload: Any, key: str | None, context: Mapping[str, Any] | None = None
    ) -> bool:
        """Send one record; False (and nothing sent) once the post limit is reached."""
        if self.full:
            self.stopper.stop()
            return False
        self.producer.send(fmt, payload, key, dict(context or {}))
        self.sent += 1
        self._unsaved += 1
        if self.full:
            self.stopper.stop()
        return True

    def skip(self, reason: str, **fields: Any) -> None:
        """Count a record dropped at the edge, with a log line saying why."""
        self.skipped += 1
        INGEST_SKIPPED.labels(source=self.source, reason=reason[:60]).inc()
        log.warning("skipped at the edge: %s", reason, extra={"source": self.source, **fields})

    def checkpoint(self, cursor: Mapping[str, Any] | None) -> None:
        """Flush (every sent post acknowledged), then store ``cursor`` if there is one."""
        self.producer.flush()
        if cursor is not None and dict(cursor) != self.cursor:
            self.cursors.put(self.cursor_key, dict(cursor))
            self.cursor = dict(cursor)
        self._unsaved = 0
        self._saved_at = time.monotonic()

    def maybe_checkpoint(self, cursor: Mapping[str, Any] | None) -> None:
        """Checkpoint after ``checkpoint_every`` posts or ``checkpoint_seconds``, if sooner."""
        if not self._unsaved:
            return
        due = time.monotonic() - self._saved_at >= self._checkpoint_seconds
        if due or self._unsaved >= self._checkpoint_every:
            self.checkpoint(cursor)

    def close(self) -> None:
        self.producer.close()
        self.cursors.close()

    def finish(self, cursor: Mapping[str, Any] | None, started: float) -> RunReport:
        """Last checkpoint, then close (even if the checkpoint fails); the run's report."""
        try:
            self.checkpoint(cursor)
        finally:
            self.close()
        return RunReport(
            self.sent,
            self.skipped,
            time.monotonic() - started,
            dict(cursor) if cursor is not None else None,
        )


class Stopped(Exception):
    """The agent was told to stop while waiting to retry."""


def http_client(headers: Mapping[str, str] | None = None, timeout: float = 30.0) -> httpx.Client:
    return httpx.Client(
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        timeout=httpx.Timeout(timeout, connect=10.0),
        follow_redirects=True,
    )


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def fetch(
    client: httpx.Client,
    url: str,
    *,
    stopper: Stopper,
    backoff: Backoff,
    source: str,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    pacer: RequestPacer | None = None,
    clock: Callable[[], float] = time.time,
) -> httpx.Response:
    """GET ``url``, waiting out 429s (their ``Retry-After``), 5xx and network errors.

    Returns the first response that is not retryable (the caller judges 2xx,
    304 and other 4xx); raises :class:`Stopped` if the agent stops meanwhile.
    """
    while True:
        if pacer is not None:
            wait = pacer.wait_needed(time.monotonic())
            if wait and not stopper.sleep(wait):
                raise Stopped
        if stopper.stopped():
            raise Stopped
        if pacer is not None:
            pacer.sent(time.monotonic())
        try:
            response = client.get(url, params=params, headers=headers)
        except httpx.TransportError as exc:
            delay = backoff.delay()
            log.warning(
                "request failed (%s); retrying in %.1fs",
                type(exc).__name__,
                delay,
                extra={"source": source, "url": url},
            )
        else:
            if not _retryable(response.status_code):
                backoff.reset()
                return response
            delay = backoff.delay(response.headers, response.status_code, clock())
            log.warning(
                "HTTP %s; retrying in %.1fs",
                response.status_code,
                delay,
                extra={"source": source, "url": url, "status": response.status_code},
            )
            if pacer is not None:
                pacer.push_back(time.monotonic() + delay)
        if not stopper.sleep(delay):
            raise Stopped


class IngestError(Exception):
    """A problem the operator must fix (bad token, unknown feed); the message says what to do."""


def newest_id(*ids: str | None) -> str | None:
    """The newest of numeric platform ids (Mastodon, X): longer is newer, then lexical."""
    present = [i for i in ids if i]
    return max(present, key=lambda i: (len(i), i)) if present else None


def is_newer(candidate: str, than: str | None) -> bool:
    return than is None or (len(candidate), candidate) > (len(than), than)


def refuse(response: httpx.Response, platform: str, hint: str) -> IngestError:
    """An :class:`IngestError` for a non-retryable answer, without echoing credentials."""
    return IngestError(
        f"{platform} answered HTTP {response.status_code} for {response.request.url.path}: {hint}"
    )
