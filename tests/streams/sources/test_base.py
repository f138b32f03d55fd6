"""The source contract without a network: the run loop, the outbox and the stopper.

A scripted source (its steps are Python generators) runs against an outbox
whose producer and cursor store are in memory. Every fake writes to one event
log, so a test can check the order that matters: a cursor is stored only after
the records it covers were confirmed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

from streams.backoff import Backoff, Pacer
from streams.sources.base import (
    Cursors,
    DeliveryError,
    IngestError,
    Outbox,
    RunLimits,
    Send,
    Skip,
    Source,
    Steps,
    Stopped,
    Stopper,
)

KEY = "fake:timeline"


class FakeFuture:
    """The part of kafka-python's send future the outbox uses."""

    def __init__(self, error: Exception | None = None, done: bool = True) -> None:
        self.exception = error
        self.is_done = done

    def failed(self) -> bool:
        return self.exception is not None

    def get(self, timeout: float | None = None) -> None:
        if not self.is_done:
            raise TimeoutError(f"no answer in {timeout}s")
        if self.exception is not None:
            raise self.exception


class FakeProducer:
    def __init__(self, log: list[str], fail_at: int | None = None) -> None:
        self.log = log
        self.sent: list[tuple[str, Any, str | None, dict[str, Any]]] = []
        self.fail_at = fail_at
        self.closed = False

    def send(self, fmt: str, payload: Any, key: str | None, context: dict[str, Any]) -> FakeFuture:
        self.sent.append((fmt, payload, key, context))
        self.log.append(f"send {payload}")
        failed = self.fail_at is not None and len(self.sent) == self.fail_at
        return FakeFuture(RuntimeError("MessageSizeTooLarge") if failed else None)

    def flush(self, timeout: float | None = 60.0) -> None:
        self.log.append("flush")

    def close(self) -> None:
        self.closed = True
        self.log.append("close producer")


class FakeCursors:
    def __init__(self, log: list[str], stored: Cursors | None = None) -> None:
        self.log = log
        self.stored: Cursors = {k: dict(v) for k, v in (stored or {}).items()}

    def load_all(self) -> Cursors:
        return {k: {**v, "updated_at": "2026-05-01T00:00:00Z"} for k, v in self.stored.items()}

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.stored[key] = dict(value)
        self.log.append(f"put {value}")

    def close(self) -> None:
        self.log.append("close cursors")


StepScript = Callable[["ScriptedSource"], Steps]


class ScriptedSource(Source):
    """Steps from a script; the position is the last number sent, as ``{"last": n}``."""

    retryable: ClassVar[tuple[type[Exception], ...]] = (ConnectionError,)

    def __init__(self, outbox: Outbox, steps: list[StepScript]) -> None:
        super().__init__(outbox, KEY, Backoff(base=0.0, cap=0.0))
        self.script = iter(steps)
        self.last: int | None = None
        self.resumed_from: Cursors | None = None
        self.closed = False
        self.steps_taken = 0

    def cursors(self) -> Cursors:
        return {KEY: {"last": self.last}} if self.last is not None else {}

    def resume(self, stored: Cursors) -> None:
        self.resumed_from = stored
        self.last = stored.get(KEY, {}).get("last")

    def step(self) -> Steps:
        self.steps_taken += 1
        script = next(self.script, None)
        if script is None:
            self.stopper.stop()
            return 0.0
        return (yield from script(self))

    def close(self) -> None:
        self.closed = True
        self.outbox.producer.log.append("close source")  # type: ignore[attr-defined]

    def send(self, n: int) -> Iterator[Send]:
        self.last = n
        yield Send("fake", n, f"key-{n}")


def numbers(*values: int, wait: float = 0.0) -> StepScript:
    def script(source: ScriptedSource) -> Steps:
        for n in values:
            yield from source.send(n)
        return wait

    return script


def raises(error: Exception, *before: int) -> StepScript:
    def script(source: ScriptedSource) -> Steps:
        for n in before:
            yield from source.send(n)
        raise error

    return script


def outbox(
    log: list[str],
    *,
    stored: Cursors | None = None,
    limits: RunLimits | None = None,
    checkpoint_every: int = 100,
    fail_at: int | None = None,
) -> Outbox:
    return Outbox(
        "fake",
        FakeProducer(log, fail_at),  # type: ignore[arg-type]
        FakeCursors(log, stored),  # type: ignore[arg-type]
        limits or RunLimits(max_runtime=10),
        checkpoint_every=checkpoint_every,
        checkpoint_seconds=3600,
    )


def sent(box: Outbox) -> list[Any]:
    return [payload for _, payload, _, _ in box.producer.sent]  # type: ignore[attr-defined]


def stored(box: Outbox) -> Cursors:
    return box.cursors.stored  # type: ignore[attr-defined]


def test_the_loop_resumes_steps_checkpoints_closes_and_reports() -> None:
    log: list[str] = []
    box = outbox(log, stored={KEY: {"last": 2}, "other:key": {"x": 1}})
    source = ScriptedSource(box, [numbers(3, 4), numbers(), numbers(5)])
    source.outbox.skip("not a post")
    report = source.run()
    assert source.resumed_from == {KEY: {"last": 2}, "other:key": {"x": 1}}  # no updated_at
    assert sent(box) == [3, 4, 5]
    assert (report.sent, report.skipped, report.cursor) == (3, 1, {"last": 5})
    assert stored(box)[KEY] == {"last": 5}
    assert source.closed and box.producer.closed  # type: ignore[attr-defined]
    # Flushed before each cursor write; nothing stored after a step that moved nothing.
    assert log == [
        "send 3",
        "send 4",
        "flush",
        "put {'last': 4}",
        "flush",
        "send 5",
        "flush",
        "put {'last': 5}",
        "flush",  # the step that found the script empty
        "close source",
        "flush",  # finish: the last checkpoint, then close
        "close producer",
        "close cursors",
    ]


def test_a_cursor_that_did_not_move_is_not_written_again() -> None:
    log: list[str] = []
    box = outbox(log, stored={KEY: {"last": 7}})
    ScriptedSource(box, [numbers()]).run()
    assert not [line for line in log if line.startswith("put")]


def test_the_post_limit_stops_the_step_at_its_yield_and_the_cursor_covers_what_was_sent() -> None:
    log: list[str] = []
    read: list[int] = []

    def reads(source: ScriptedSource) -> Steps:
        for n in range(1, 100):
            read.append(n)
            yield from source.send(n)
        return 0.0

    box = outbox(log, limits=RunLimits(max_posts=3))
    report = ScriptedSource(box, [reads]).run()
    assert sent(box) == [1, 2, 3]
    assert read == [1, 2, 3]  # nothing read after the last record the limit allowed
    assert report.cursor == {"last": 3}
    assert stored(box) == {KEY: {"last": 3}}


def test_a_due_checkpoint_is_taken_inside_a_long_step() -> None:
    log: list[str] = []
    box = outbox(log, checkpoint_every=2)
    seen_while_streaming: list[Cursors] = []

    def stream(source: ScriptedSource) -> Steps:
        for n in range(1, 6):
            yield from source.send(n)
            seen_while_streaming.append(dict(stored(box)))
        return 0.0

    ScriptedSource(box, [stream]).run()
    assert seen_while_streaming[1] == {KEY: {"last": 2}}  # stored after the 2nd send
    assert seen_while_streaming[3] == {KEY: {"last": 4}}
    assert stored(box) == {KEY: {"last": 5}}


def test_beats_and_skips_let_the_loop_stop_a_quiet_step() -> None:
    log: list[str] = []
    stopper = Stopper()
    beats = {"n": 0}

    def quiet(source: ScriptedSource) -> Steps:
        while True:  # only heartbeats: the loop, not the step, notices the stop
            beats["n"] += 1
            if beats["n"] == 5:
                stopper.stop()
            yield Skip("notice") if beats["n"] == 2 else None

    box = Outbox(
        "fake",
        FakeProducer(log),  # type: ignore[arg-type]
        FakeCursors(log),  # type: ignore[arg-type]
        RunLimits(),
        stopper,
    )
    report = ScriptedSource(box, [quiet]).run()
    assert beats["n"] == 5
    assert (report.sent, report.skipped, report.cursor) == (0, 1, None)


def test_a_retryable_error_checkpoints_what_was_sent_and_steps_again() -> None:
    log: list[str] = []
    box = outbox(log)
    source = ScriptedSource(box, [raises(ConnectionError("reset by peer"), 1, 2), numbers(3)])
    report = source.run()
    assert source.steps_taken == 3  # the failed step, the next one, the empty script
    assert sent(box) == [1, 2, 3]
    assert log[:4] == ["send 1", "send 2", "flush", "put {'last': 2}"]
    assert report.cursor == {"last": 3}


def test_a_fatal_error_propagates_after_the_run_is_finished() -> None:
    log: list[str] = []
    box = outbox(log)
    source = ScriptedSource(box, [raises(IngestError("check the token"), 1, 2), numbers(3)])
    with pytest.raises(IngestError, match="check the token"):
        source.run()
    assert sent(box) == [1, 2]  # no further step
    assert stored(box) == {KEY: {"last": 2}}  # what was sent is checkpointed
    assert source.closed and box.producer.closed  # type: ignore[attr-defined]
    assert log[-5:] == [
        "close source",
        "flush",
        "put {'last': 2}",
        "close producer",
        "close cursors",
    ]


def test_stopped_while_waiting_ends_the_run_quietly() -> None:
    log: list[str] = []
    box = outbox(log)
    report = ScriptedSource(box, [raises(Stopped(), 1), numbers(2)]).run()
    assert sent(box) == [1]
    assert report.cursor == {"last": 1}


def test_a_step_returns_its_wait_and_a_stop_cuts_it_short() -> None:
    log: list[str] = []
    box = outbox(log, limits=RunLimits(max_runtime=0.5))
    started = time.monotonic()
    ScriptedSource(box, [numbers(1, wait=30.0), numbers(2)]).run()
    assert 0.4 <= time.monotonic() - started < 5  # waited for the deadline, not 30 s
    assert sent(box) == [1]


# --- the outbox on its own ---------------------------------------------------------


def test_a_failed_send_stops_the_cursor_and_every_later_send() -> None:
    log: list[str] = []
    box = outbox(log, fail_at=2)
    for n in (1, 2, 3):
        box.emit("fake", n, None)
    with pytest.raises(DeliveryError, match="MessageSizeTooLarge"):
        box.checkpoint({KEY: {"last": 3}})
    assert stored(box) == {}  # the cursor would have covered a lost record
    assert box.broken
    with pytest.raises(DeliveryError):
        box.emit("fake", 4, None)
    with pytest.raises(DeliveryError):
        box.deliver("fake", 4, None)


def test_a_source_whose_send_failed_exits_with_an_ingest_error() -> None:
    log: list[str] = []
    box = outbox(log, fail_at=1)
    source = ScriptedSource(box, [numbers(1, 2)])
    with pytest.raises(IngestError):  # the CLI turns it into a non-zero exit
        source.run()
    assert stored(box) == {}
    assert box.producer.closed  # type: ignore[attr-defined]


def test_deliver_counts_only_acknowledged_records_and_a_timeout_does_not_break_it() -> None:
    log: list[str] = []
    box = outbox(log, limits=RunLimits(max_posts=2))
    assert box.deliver("fake", 1, None)
    box.producer.send = lambda *a: FakeFuture(done=False)  # type: ignore[method-assign]
    with pytest.raises(DeliveryError, match="did not acknowledge"):
        box.deliver("fake", 2, None, timeout=0.1)
    assert (box.sent, box.broken) == (1, False)
    box.producer.send = lambda *a: FakeFuture()  # type: ignore[method-assign]
    assert box.deliver("fake", 3, None)
    assert box.stopper.stopped()  # the limit reached
    assert not box.deliver("fake", 4, None)
    assert box.sent == 2


# --- the stopper's pacing ------------------------------------------------------------


def test_pace_holds_the_rate_without_drifting() -> None:
    stopper = Stopper()
    pacer = Pacer.per_second(50.0)
    started = time.monotonic()
    for _ in range(26):
        assert stopper.pace(pacer)
    assert 0.49 <= time.monotonic() - started < 1.0
    unpaced = Pacer.per_second(None)
    started = time.monotonic()
    for _ in range(1000):
        stopper.pace(unpaced)
    assert time.monotonic() - started < 0.1


def test_pace_gives_up_when_stopped() -> None:
    stopper = Stopper(max_runtime=0.2)
    pacer = Pacer.per_minute(1)
    assert stopper.pace(pacer)
    started = time.monotonic()
    assert not stopper.pace(pacer)  # would wait a minute; the deadline comes first
    assert time.monotonic() - started < 1.0
