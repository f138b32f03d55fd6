"""The worker's consumer: a seek during recovery leaves no record behind (issue #10).

Faust's own fetch loop (``Consumer._drain_messages``) runs against a partition
kept in memory (:class:`MemoryBroker`: its records, the fetch position,
aiokafka's seek rules), with the stream buffer a list. Each test replays what
the failing runs showed (:mod:`streams.worker.transport`):
``Recovery.on_recovery_completed`` awaits ``perform_seek`` while the loop holds
a record fetched before the seek, then clears the stream buffers
(``app.flow_control.resume()``) and resumes the flow. Afterwards every record
from where processing stood must reach the stream again, and the commit may
cover only records the stream processed.

The same replay on Faust's consumer is kept as a strict ``xfail``: it shows the
flaw is still in the installed Faust, and fails (XPASS) once Faust fixes it,
which is the time to see whether :class:`GapSafeConsumer` is still needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping
from time import monotonic
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from aiokafka.structs import ConsumerRecord
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

from streams.settings import Settings
from streams.worker.app import create_app
from streams.worker.transport import GapSafeConsumer

TOPIC = "t.posts.normalized.v1"
P = TP(TOPIC, 0)
END = 30
"""The partition holds offsets 0..29."""
BATCH = 10
"""Records per fetch (``max_poll_records``)."""
HELD = 4
"""The record of the first batch the fetch loop holds when the seek comes (its 5th)."""
STEPS = 200
"""Loop turns allowed for any one step of a replay (a bound, not a timing)."""
CLEAR_AFTER = 2
"""Loop turns between the end of the seek and the clear (Recovery's ``_wait`` returning)."""


class MemoryBroker:
    """The broker side of a consumer: one partition in memory, aiokafka's fetch and seek rules."""

    flow_active: bool
    committed: int | None = None
    fetch_at: int = 0
    """The fetch position."""
    dry: int = 0
    """Fetches that found nothing more to read (the loop is done with the last batch)."""

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> Any:
        await asyncio.sleep(0)
        if not self.flow_active:
            return {}  # like Faust's aiokafka driver: nothing is fetched while the flow is stopped
        if self.fetch_at >= END:
            self.dry += 1
            return {}
        offsets = range(self.fetch_at, min(self.fetch_at + BATCH, END))
        self.fetch_at = offsets[-1] + 1
        return {P: [_record(offset) for offset in offsets]}

    async def seek_to_committed(self) -> Mapping[TP, Any]:  # int, or None: never committed
        # aiokafka seeks only a partition whose committed offset is above 0.
        if self.committed:
            self.fetch_at = self.committed
        return {P: self.committed}

    async def earliest_offsets(self, *partitions: TP) -> Mapping[TP, int]:
        return {tp: 0 for tp in partitions}

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        self.fetch_at = partitions[P]

    def assignment(self) -> set[TP]:
        return {P}

    def highwater(self, tp: TP) -> int:
        return END


class FaustProbe(MemoryBroker, faust_aiokafka.Consumer):
    pass


class GapSafeProbe(MemoryBroker, GapSafeConsumer):
    pass


def _record(offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(TOPIC, 0, offset, 0, 0, None, b"{}", None, 0, 2, [])


class Stream:
    """The stream buffer; the callback holds the record at ``hold`` until released."""

    def __init__(self, hold: int) -> None:
        self.buffer: list[Message] = []
        self.hold = hold
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def deliver(self, message: Message) -> None:
        if message.offset == self.hold and not self.release.is_set():
            self.holding.set()
            await self.release.wait()
        self.buffer.append(message)


async def _until(condition: Any) -> None:
    for _ in range(STEPS):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the replay did not get there")


async def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


def _consumer(
    probe: type[faust_aiokafka.Consumer], app: faust.App, callback: Any = _nothing
) -> Any:
    """``probe`` on ``app``'s transport, with no rebalance callbacks of its own."""
    return probe(
        app.transport,
        callback=callback,
        on_partitions_revoked=_nothing,
        on_partitions_assigned=_nothing,
    )


async def _replay(
    probe: type[faust_aiokafka.Consumer], committed: int | None
) -> tuple[list[int], int | None]:
    """The offsets the stream got after the clear, and the offset the consumer would commit."""
    app = faust.App("townsquare-test-transport", broker="kafka://127.0.0.1:1", autodiscover=False)
    app.topics.acking_topics.add(TOPIC)  # what subscribing an agent to the topic does
    start = committed or 0
    stream = Stream(hold=start + HELD)

    consumer: Any = _consumer(probe, app, stream.deliver)
    consumer.committed, consumer.fetch_at = committed, start
    consumer.resume_partitions({P})  # assigned, and resumed as the recovery does
    fetcher = SimpleNamespace(_stopped=asyncio.Event())
    drain = asyncio.ensure_future(consumer._drain_messages(fetcher))
    try:
        # Recovery.on_recovery_completed, with the loop holding a record of its first batch:
        await _until(stream.holding.is_set)
        seek = asyncio.ensure_future(consumer.perform_seek())
        await _until(seek.done)
        await seek
        stream.release.set()
        for _ in range(CLEAR_AFTER):  # the loop carries on with what it holds, if it may
            await asyncio.sleep(0)
        stream.buffer.clear()  # app.flow_control.resume()
        consumer.resume_flow()
        await _until(lambda: consumer.dry > 1)
    finally:
        fetcher._stopped.set()
        drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drain
    for message in stream.buffer:  # the stream processes what it got
        consumer.ack(message)
    return [m.offset for m in stream.buffer], consumer._new_offset(P)


def _check(handed: Iterable[int], commit: int | None, start: int) -> None:
    processed = set(handed)
    skipped = set(range(start, commit or start)) - processed
    assert not skipped, f"committed {commit}, past records never processed: {sorted(skipped)}"
    left = set(range(start, END)) - processed
    assert not left, f"records never read again: {sorted(left)}"
    assert commit == END


PROBES = [
    pytest.param(GapSafeProbe, id="GapSafeConsumer"),
    pytest.param(
        FaustProbe,
        id="faust-Consumer",
        marks=pytest.mark.xfail(strict=True, reason="the flaw GapSafeConsumer works around"),
    ),
]


@pytest.mark.parametrize("probe", PROBES)
async def test_a_committed_partition_is_read_again_from_its_committed_offset(
    probe: type[faust_aiokafka.Consumer],
) -> None:
    """As seen on ``posts.normalized`` [0], committed 398: Faust drops the records the seek
    brings as already read (and stalls, or with a gap in between commits past them)."""
    handed, commit = await _replay(probe, committed=10)
    _check(handed, commit, 10)


@pytest.mark.parametrize("probe", PROBES)
async def test_a_partition_never_committed_is_read_again_from_its_beginning(
    probe: type[faust_aiokafka.Consumer],
) -> None:
    """As seen on a partition never committed: Faust does not seek it, and commits past the
    records the clear threw away."""
    handed, commit = await _replay(probe, committed=None)
    _check(handed, commit, 0)


def test_the_worker_consumes_through_the_gap_safe_consumer() -> None:
    app = create_app(Settings(), ["normalize"])
    assert issubclass(app.transport.Consumer, GapSafeConsumer)


def _fetched_then_reset(reset: bool) -> Any:
    """aiokafka's own subscription state for ``P``: fetched from, then (if ``reset``) reset.

    A fetch timestamp and a highwater mark make Faust's livelock check read the
    partition's position; ``await_reset`` is what aiokafka's fetcher does on an
    ``OffsetOutOfRange`` and what ``seek_to_beginning`` does.
    """
    from aiokafka import TopicPartition
    from aiokafka.consumer.fetcher import OffsetResetStrategy
    from aiokafka.consumer.subscription_state import SubscriptionState

    subscriptions = SubscriptionState()
    subscriptions.subscribe({TOPIC})
    aiotp = TopicPartition(TOPIC, 0)
    subscriptions.assign_from_subscribed({aiotp})
    state = subscriptions.subscription.assignment.state_value(aiotp)
    state.seek(5)
    state.timestamp = time.time() * 1000  # a fetch just now (milliseconds)
    state.highwater = END
    if reset:
        state.await_reset(OffsetResetStrategy.EARLIEST)
    return SimpleNamespace(_fetcher=SimpleNamespace(_subscriptions=subscriptions))


async def _livelock_check(probe: type[faust_aiokafka.Consumer], reset: bool) -> None:
    """One round of Faust's livelock check over ``P``, on aiokafka's own partition state."""
    app = faust.App("townsquare-test-livelock", broker="kafka://127.0.0.1:1", autodiscover=False)
    app.topics.acking_topics.add(TOPIC)

    consumer: Any = _consumer(probe, app)
    consumer._thread._consumer = _fetched_then_reset(reset)
    consumer._thread.time_started = monotonic()
    consumer.verify_event_path(monotonic(), P)


def _against_faust(raises: type[BaseException], reason: str) -> list[Any]:
    """GapSafeConsumer, and Faust's own consumer as a strict xfail raising ``raises``."""
    return [
        pytest.param(GapSafeConsumer, id="GapSafeConsumer"),
        pytest.param(
            faust_aiokafka.Consumer,
            id="faust-Consumer",
            marks=pytest.mark.xfail(strict=True, raises=raises, reason=reason),
        ),
    ]


LIVELOCK_PROBES = _against_faust(AssertionError, "aiokafka asserts on a reset position")


@pytest.mark.parametrize("probe", LIVELOCK_PROBES)
async def test_the_livelock_check_survives_a_partition_awaiting_an_offset_reset(
    probe: type[faust_aiokafka.Consumer],
) -> None:
    """Seen in the kill test under load: the check read the position of a partition
    awaiting a reset, aiokafka asserted, and the worker crashed."""
    await _livelock_check(probe, reset=True)


@pytest.mark.parametrize("reset", [False, True], ids=["with-position", "awaiting-reset"])
async def test_the_livelock_check_runs_faust_s_check_only_for_a_partition_with_a_position(
    reset: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The skip is only for a partition without a position: with one, Faust's own check
    runs on it (recorded here in place of the check itself)."""
    checked: list[TP] = []

    def faust_check(self: Any, now: float, tp: TP) -> None:
        checked.append(tp)

    monkeypatch.setattr(faust_aiokafka.Consumer, "verify_event_path", faust_check)
    await _livelock_check(GapSafeConsumer, reset=reset)
    assert checked == ([] if reset else [P])


def _consumer_with_copies(probe: type[faust_aiokafka.Consumer]) -> tuple[Any, Any, Any]:
    """A consumer, its app and a ``posts.enriched``-like record delivered to three agents.

    One agent processed its copy; the other two copies sit in their queues,
    where a revocation's ``flow_control.clear()`` throws them away.
    """
    from faust.types.tuples import Message as FaustMessage
    from mode.utils.queues import FlowControlQueue

    from streams.worker.transport import gap_safe_transport

    app = faust.App("townsquare-test-clear", broker="kafka://127.0.0.1:1", autodiscover=False)
    app.transport = gap_safe_transport(app)  # what create_worker installs
    app.topics.acking_topics.add(TOPIC)

    consumer: Any = _consumer(probe, app)
    message = FaustMessage(TOPIC, 0, 7, 0.0, 0, [], None, b"{}", None)
    message.incref(3)  # the conductor: one reference per subscribed channel
    consumer._unacked_messages.add(message)  # the first agent took it: tracked
    message.ack(consumer)  # ... and processed it
    queues: list[FlowControlQueue[Any]] = [
        FlowControlQueue(flow_control=app.flow_control, clear_on_resume=True) for _ in "ab"
    ]
    for queue in queues:
        queue.put_nowait(SimpleNamespace(message=message))
    return consumer, app, (message, queues)


async def _wait_empty_within(consumer: Any, waiting: Any, seconds: float) -> None:
    """Await ``waiting`` (its ``wait_empty``) for ``seconds``; TimeoutError if it still waits.

    Faust's loop does not end on cancellation while it commits, so a wait that
    overruns is ended the way a stopping worker ends it (``should_stop``).
    """
    done, _ = await asyncio.wait({waiting}, timeout=seconds)
    if not done:
        consumer._stopped.set()
        await asyncio.wait_for(waiting, timeout=5)
        raise TimeoutError(f"wait_empty still waiting after {seconds}s")
    await waiting


WAIT_PROBES = _against_faust(TimeoutError, "waits for copies nobody will ack")


@pytest.mark.parametrize("probe", WAIT_PROBES)
async def test_a_revocation_does_not_wait_for_records_the_clear_threw_away(
    probe: type[faust_aiokafka.Consumer],
) -> None:
    """Seen after a broker restart: every agent idle, ``wait_empty`` waiting for good for a
    ``posts.enriched`` record at refcount 1."""
    consumer, app, (message, queues) = _consumer_with_copies(probe)
    app.flow_control.clear()  # Faust's _on_partitions_revoked, before wait_empty
    assert all(queue.empty() for queue in queues)
    await _wait_empty_within(consumer, asyncio.ensure_future(consumer.wait_empty()), 3)
    assert not message.acked, "a record no agent processed must not count as done"
    assert message not in consumer._unacked_messages


async def test_a_revocation_still_waits_for_a_record_an_agent_is_processing() -> None:
    """Only copies thrown away are let go: a copy still in an agent's hands is waited for."""
    consumer, app, (message, queues) = _consumer_with_copies(GapSafeConsumer)
    queues[0].get_nowait()  # the second agent took its copy and is working on it
    app.flow_control.clear()  # the third agent's copy goes
    waiting = asyncio.ensure_future(consumer.wait_empty())
    await asyncio.sleep(1.5)
    assert not waiting.done(), "left before the agent processing the record had acked it"
    message.ack(consumer)  # the second agent is done; the third's copy was thrown away
    assert message.refcount == 1 and not message.acked
    await _wait_empty_within(consumer, waiting, 3)
    assert message not in consumer._unacked_messages
