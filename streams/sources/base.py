"""The source contract: what every ingest source shares, and the one run loop they all use.

A *source* reads one platform (or a file, or pushes) and puts raw envelopes on
``posts.raw``. Three pieces, each written once:

- :class:`Stopper`: SIGTERM, ``--max-runtime`` and ``--max-posts`` as one flag
  that every wait and blocking read checks, so a stop never waits longer than
  one read timeout.
- :class:`Outbox`: the output path of every source, live or not (replay and
  the webhook receiver too): the raw producer, the cursor store and the run's
  counters. A cursor is stored only after Kafka acknowledged every record sent
  before it, so a crash can only make the next run resend records since the
  last checkpoint (harmless: post ids are stable), never skip one.
- :class:`Source`: the run loop of a live source: load the cursor, step until
  stopped, checkpoint, close, report. A platform implements only
  :meth:`Source.step` (plus how its cursor reads and writes).

Sources are plain threads-and-blocking-I/O programs, one process per source.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from kafka.errors import MessageSizeTooLargeError

from streams.backoff import Backoff, Pacer
from streams.metrics import INGEST_SKIPPED
from streams.settings import Settings
from streams.sources.cursors import CursorStore
from streams.sources.producer import MAX_REQUEST_BYTES, RawProducer

log = logging.getLogger("townsquare.ingest")

PRODUCER_MAX_REQUEST_BYTES = MAX_REQUEST_BYTES
"""The raw producer's ``max_request_size`` (streams/sources/producer.py): it refuses larger."""
MAX_RECORD_BYTES = 448 * 1024
"""Largest frame, line or event a source parses and sends; larger ones are skipped at the edge.

Under half of :data:`PRODUCER_MAX_REQUEST_BYTES`, because the envelope may
hold a record as a JSON string (a Mastodon event's payload), and escaping
at most doubles it, plus the envelope's own fields.
"""

Cursors = dict[str, dict[str, Any]]
"""Stored cursors by key (``mastodon:<base url>:<timeline>``, ``rss:<feed url>``, ...)."""


class IngestError(Exception):
    """A problem the operator must fix (bad token, unknown feed); the message says what to do."""


class DeliveryError(IngestError):
    """Kafka did not take a record that was sent: nothing after it may be acknowledged.

    Raised instead of storing a cursor (or answering 2xx), and from every later
    send, so a source whose producer failed stops with a non-zero exit and is
    restarted, rather than go on reporting posts as sent that never arrived.
    """


class Stopped(Exception):
    """The source was told to stop while waiting (to retry, or for its pacer)."""


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
        """Wait ``seconds`` unless stopped first; True if the source should go on."""
        remaining = self.remaining()
        wait = seconds if remaining is None else min(seconds, remaining)
        if wait > 0:
            self._event.wait(wait)
        return not self.stopped()

    def bounded(self, timeout: float) -> float:
        """``timeout`` shortened to the time left, so a blocking read ends by the deadline."""
        remaining = self.remaining()
        return timeout if remaining is None else max(0.05, min(timeout, remaining + 0.05))

    def pace(self, pacer: Pacer) -> bool:
        """Wait until ``pacer`` lets the next one go and count it; False if stopped."""
        wait = pacer.wait_needed(time.monotonic())
        if (wait and not self.sleep(wait)) or self.stopped():
            return False
        pacer.sent(time.monotonic())
        return True


class Checkpointing(Protocol):
    """Options that say how often a source checkpoints (its records, or its seconds)."""

    @property
    def checkpoint_every(self) -> int: ...

    @property
    def checkpoint_seconds(self) -> float: ...


@dataclass(frozen=True)
class Checkpoints:
    """How often to checkpoint, for callers without options of their own (replay)."""

    checkpoint_every: int = 100
    checkpoint_seconds: float = 5.0


class Outbox:
    """Producer, cursor store and counters of one run: the only way records leave a source.

    ``emit`` sends asynchronously and keeps the send's future; ``checkpoint``
    confirms every kept future (flush, then check each one) before it stores a
    cursor. ``deliver`` is the synchronous twin for a caller that answers
    someone (the webhook's 202). A failed send breaks the outbox: every later
    send raises :class:`DeliveryError`. Counters are guarded by a lock because
    the webhook receiver sends from one thread per request.
    """

    def __init__(
        self,
        source: str,
        producer: RawProducer,
        cursors: CursorStore,
        limits: RunLimits | None = None,
        stopper: Stopper | None = None,
        *,
        checkpoint_every: int = 100,
        checkpoint_seconds: float = 5.0,
    ) -> None:
        self.source = source
        self.producer = producer
        self.cursors = cursors
        self.limits = limits or RunLimits()
        self.stopper = stopper or Stopper(self.limits.max_runtime)
        self.sent = 0
        self.skipped = 0
        self._checkpoint_every = checkpoint_every
        self._checkpoint_seconds = checkpoint_seconds
        self._pending: list[Any] = []
        self._saved_at = time.monotonic()
        self._stored: Cursors = {}
        self._broken: DeliveryError | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        settings: Settings,
        source: str,
        limits: RunLimits | None = None,
        stopper: Stopper | None = None,
        checkpoints: Checkpointing | None = None,
    ) -> Outbox:
        """An outbox on the configured Kafka: the raw producer and the cursors topic."""
        checkpoints = checkpoints or Checkpoints()
        return cls(
            source,
            RawProducer(settings, source),
            CursorStore(settings),
            limits,
            stopper,
            checkpoint_every=checkpoints.checkpoint_every,
            checkpoint_seconds=checkpoints.checkpoint_seconds,
        )

    def load_cursors(self) -> Cursors:
        """Every stored cursor (one scan of the compacted topic), without its ``updated_at``."""
        stored = {
            key: {k: v for k, v in value.items() if k != "updated_at"}
            for key, value in self.cursors.load_all().items()
        }
        self._stored = copy.deepcopy(stored)
        return stored

    @property
    def full(self) -> bool:
        return self.limits.max_posts is not None and self.sent >= self.limits.max_posts

    @property
    def broken(self) -> bool:
        """True once Kafka refused a record: the outbox sends nothing more."""
        return self._broken is not None

    def _check_broken(self) -> None:
        if self._broken is not None:
            raise DeliveryError(f"an earlier send failed, so nothing more is sent: {self._broken}")

    def emit(
        self, fmt: str, payload: Any, key: str | None, context: Mapping[str, Any] | None = None
    ) -> bool:
        """Send one record (async); False (and nothing sent) once the post limit is reached.

        A record the producer refuses as too large is counted as skipped, not sent.
        """
        with self._lock:
            self._check_broken()
            if self.full:
                self.stopper.stop()
                return False
            try:
                future = self.producer.send(fmt, payload, key, dict(context or {}))
            except MessageSizeTooLargeError as exc:
                # Refused by the client before anything reached the broker, so the
                # producer is unharmed: a record too large for the edge checks to see.
                refused = str(exc)
            else:
                self._pending.append(future)
                self.sent += 1
                if self.full:
                    self.stopper.stop()
                return True
        self.skip("record above the producer's max request size", detail=refused)
        return True

    def deliver(
        self,
        fmt: str,
        payload: Any,
        key: str | None,
        context: Mapping[str, Any] | None = None,
        timeout: float = 10.0,
    ) -> bool:
        """Send one record and wait until Kafka has it; False (nothing sent) at the post limit.

        Raises :class:`DeliveryError` when Kafka refused it (which breaks the
        outbox) or did not answer in ``timeout`` (which does not: the producer
        still retries, and a resend by the caller is harmless).
        """
        with self._lock:
            self._check_broken()
            if self.full:
                return False
            future = self.producer.send(fmt, payload, key, dict(context or {}))
        try:
            future.get(timeout=timeout)
        except Exception as exc:
            if future.is_done:
                self._fail(exc)
            raise DeliveryError(f"Kafka did not acknowledge a record in {timeout:.0f}s") from exc
        with self._lock:
            self.sent += 1
            if self.full:
                self.stopper.stop()
        return True

    def _fail(self, exc: BaseException) -> None:
        error = DeliveryError(f"Kafka did not take a record: {type(exc).__name__}: {exc}")
        with self._lock:
            self._broken = self._broken or error
        raise error from exc

    def skip(self, reason: str, **fields: Any) -> None:
        """Count a record dropped at the edge, with a log line saying why."""
        with self._lock:
            self.skipped += 1
        INGEST_SKIPPED.labels(source=self.source, reason=reason[:60]).inc()
        log.warning("skipped at the edge: %s", reason, extra={"source": self.source, **fields})

    @property
    def due(self) -> bool:
        """True once ``checkpoint_every`` records or ``checkpoint_seconds`` await a checkpoint."""
        if not self._pending:
            return False
        waited = time.monotonic() - self._saved_at >= self._checkpoint_seconds
        return waited or len(self._pending) >= self._checkpoint_every

    def checkpoint(self, cursors: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Confirm every record sent so far, then store each cursor that changed.

        Confirming means flushing (so every send is done) and checking each
        send's outcome: kafka-python's ``flush`` does not raise for a failed
        batch, so a cursor stored after it alone could cover lost records.
        """
        self._check_broken()
        flush_error: Exception | None = None
        try:
            self.producer.flush()
        except Exception as exc:  # kafka-python raises a bare "Future not done" after a fatal error
            flush_error = exc
        with self._lock:
            pending, self._pending = self._pending, []
        for future in pending:
            if flush_error is not None and not future.is_done:
                with contextlib.suppress(Exception):  # its outcome is read just below
                    future.get(timeout=5)
            if future.failed():
                self._fail(future.exception)  # the cause, rather than flush's vaguer error
        if flush_error is not None:
            self._fail(flush_error)
        for key, value in (cursors or {}).items():
            if value != self._stored.get(key):
                self.cursors.put(key, dict(value))
                self._stored[key] = copy.deepcopy(dict(value))
        self._saved_at = time.monotonic()

    def close(self) -> None:
        try:
            self.producer.close()
        finally:
            self.cursors.close()

    def finish(self, cursors: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Last checkpoint, then close (even if the checkpoint fails)."""
        try:
            self.checkpoint(cursors)
        finally:
            self.close()


@dataclass(frozen=True)
class Send:
    """A record a step read, for the raw topic (``format`` names the adapter)."""

    format: str
    payload: Any
    key: str | None
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Skip:
    """Something a step read that is no record (a notice, an unreadable page): counted, logged."""

    reason: str
    fields: Mapping[str, Any] = field(default_factory=dict)


Item = Send | Skip | None
"""What a step yields; None is a beat (a heartbeat, an ignored event): nothing to send, but a
moment at which the loop checks the stop flag and whether a checkpoint is due."""

Steps = Generator[Item, None, float]
"""A step: yields items, returns the seconds to wait before the next step."""


class Source(ABC):
    """The run loop of a live source; a platform implements :meth:`step` and its cursor.

    Why a generator and not ``step(cursor) -> (records, cursor)``: one step of
    a streaming platform is one connection, which lasts for hours; its
    records must leave as they arrive and its cursor be stored every few
    seconds in between, not when the step returns. So a step *yields* each
    record as it reads it, and the loop sends every record yielded to it:
    a ``yield`` is a send. A step therefore moves its own position
    (``since_id``, ``time_us``) just *before* the ``yield`` of the record it
    covers, and the loop checkpoints only right after a send, so a stored
    cursor covers exactly the records sent. When the run stops or reaches its
    post limit the loop closes the step at its ``yield`` instead of resuming
    it, so nothing after that record is read.

    ``retryable`` names the errors that mean "the connection broke" (network
    errors, a dropped stream): the loop checkpoints, waits a jittered backoff
    and steps again. Any other error is fatal: the loop checkpoints what was
    sent, closes and lets it propagate (an :class:`IngestError` tells the
    operator what to fix).
    """

    retryable: ClassVar[tuple[type[Exception], ...]] = ()

    def __init__(self, outbox: Outbox, key: str, backoff: Backoff) -> None:
        self.outbox = outbox
        self.stopper = outbox.stopper
        self.key = key
        self.backoff = backoff

    @property
    def name(self) -> str:
        return self.outbox.source

    @abstractmethod
    def step(self) -> Steps:
        """Read once (one connection, one poll): yield what was read, return the next wait."""

    @abstractmethod
    def cursors(self) -> Cursors:
        """The cursors to store now, by key (most sources have one, under ``self.key``)."""

    @abstractmethod
    def resume(self, stored: Cursors) -> None:
        """Take up the position the stored cursors name (all of them; pick by key)."""

    def report_cursor(self) -> dict[str, Any] | None:
        """The cursor the run's report shows (the one under ``self.key``)."""
        return self.cursors().get(self.key)

    def close(self) -> None:  # noqa: B027 - optional hook: a websocket source holds nothing
        """Release what the source holds (its HTTP client); the outbox is closed by the loop."""

    def run(self) -> RunReport:
        """Resume, step until stopped, checkpoint after every step; finish even on an error."""
        started = time.monotonic()
        self.resume(self.outbox.load_cursors())
        try:
            while not self.stopper.stopped():
                try:
                    wait = self._drain(self.step())
                except Stopped:
                    break
                except self.retryable as exc:
                    wait = self.backoff.jittered()
                    log.warning(
                        "connection lost (%s); retrying in %.1fs",
                        type(exc).__name__,
                        wait,
                        extra={"source": self.name},
                    )
                self.outbox.checkpoint(self.cursors())
                if wait:
                    self.stopper.sleep(wait)
        finally:
            try:
                self.close()
            finally:
                self.outbox.finish(self.cursors())
        return RunReport(
            self.outbox.sent,
            self.outbox.skipped,
            time.monotonic() - started,
            self.report_cursor(),
        )

    def _drain(self, steps: Steps) -> float:
        """Send what one step yields until it ends, the run stops or the post limit is reached."""
        try:
            while True:
                try:
                    item = next(steps)
                except StopIteration as end:
                    return float(end.value or 0.0)
                if isinstance(item, Send):
                    # Never refused here: reaching the post limit stops the run
                    # (below), so no record is yielded once the outbox is full.
                    self.outbox.emit(item.format, item.payload, item.key, item.context)
                elif isinstance(item, Skip):
                    self.outbox.skip(item.reason, **item.fields)
                # The step moved its position before yielding, so the cursors cover
                # exactly the records sent so far.
                if self.outbox.due:
                    self.outbox.checkpoint(self.cursors())
                if self.stopper.stopped():
                    return 0.0
        finally:
            steps.close()


def newest_id(*ids: str | None) -> str | None:
    """The newest of numeric platform ids (Mastodon, X): longer is newer, then lexical."""
    present = [i for i in ids if i]
    return max(present, key=lambda i: (len(i), i)) if present else None


def is_newer(candidate: str, than: str | None) -> bool:
    return than is None or (len(candidate), candidate) > (len(than), than)
