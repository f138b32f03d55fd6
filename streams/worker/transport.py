"""Faust's Kafka transport, with a seek that leaves no record behind (issue #10).

What goes wrong in Faust (faust-streaming 0.15.3 on aiokafka 0.14) when a
rebalance ends, a restarted worker's first one or the one after a broker
restart alike (the race is Faust's; the local servers only make it likely):

1. ``Recovery.on_recovery_completed`` (``faust/tables/recovery.py``; the
   table-less ``_resume_streams`` alike) resumes the stream partitions while
   the consumer's flow is active, awaits ``perform_seek``, then calls
   ``app.flow_control.resume()``, which *clears every stream buffer*, then
   ``consumer.resume_flow()``. The fetch loop (``Consumer._drain_messages``)
   runs all along: during the seek's round trips it hands the streams records
   from where the fetcher had got to, and the clear throws them away. (Seen:
   ``posts.normalized`` [0], committed 398, records 398..915 handed on during
   a 70 ms seek; [1], never committed, 0..33.)
2. The seek should have them read again, but

   * aiokafka's ``seek_to_committed`` moves only a partition whose committed
     offset is above 0. One never committed stays where the fetcher got to, so
     what the clear threw away is never fetched again, and
     ``Consumer._new_offset``, whose consistency check is skipped when the
     committed offset is None or 0, commits past it;
   * for a committed partition ``perform_seek`` puts ``_read_offset`` back to
     the committed offset, but the record the fetch loop holds meanwhile (fetched
     before the seek) is then recorded as read, and the rest of its batch is
     handed on: ``_read_offset`` is ahead again, and the records the seek brings
     are dropped as already read (Faust's "DROPPED MESSAGE ROFF"). If the held
     record was compared with the seek's offset, ``_drain_messages`` also takes
     the jump for a gap in the log (``_add_gap``; seen: 399..916, committed
     398), and ``_new_offset``'s gap filling commits past records nobody
     processed. Without such a gap the commit stalls instead, waiting for acks
     that never come.

Upstream: faust-streaming#596 (a recovery race leaves unrecoverable gaps in the
acked offsets) and #606 (wrong commit in case of gaps); #216/#217 fixed an
earlier form of the ordering in ``_resume_streams``.

:class:`GapSafeConsumer` changes :meth:`~GapSafeConsumer.perform_seek` alone
(``getmany`` only notes when the fetch loop holds a record), so that nothing
fetched before the seek is handed on or recorded as read after it, and every
stream partition is read again from where processing stands:

* it stops the flow first, so the fetch loop neither fetches nor hands on
  (Faust's ``getmany`` drops a batch that arrives while the flow is stopped,
  and seeks); both callers resume the flow after clearing the buffers;
* it waits until the fetch loop has let go of the record it holds;
* it seeks a stream partition never committed to its beginning, where the
  consumer began reading it (``consumer_auto_offset_reset`` is ``earliest``).

Gap filling and ``_new_offset`` are left as they are: with the seek right, the
fetch loop reports as gaps only offsets the log really lacks (compaction,
transaction markers), and townsquare's agents ack each partition in order (no
agent ``concurrency``), so the acked run starts at the committed offset. (#606's
off-by-one, a commit past an offset still in process, needs acks out of order.)

It also keeps Faust's livelock check (``verify_event_path``, every
``2.5 x commit_interval``) from crashing the worker. The check reads aiokafka's
``TopicPartitionState.position`` expecting None for a partition without a
fetch position, but aiokafka asserts there instead. A partition has none while
it awaits a reset: after an ``OffsetOutOfRange`` (on a real cluster, retention
deleting segments a slow consumer had not read yet) or an explicit seek to an
end. The ``AssertionError`` crashed the consumer, and with it the worker,
whose offsets then stayed where they were (seen once in 12 runs of the kill
test under CPU load: the restarted worker crashed 13 s after start, with 1,127
of 2,000 posts indexed). :meth:`GapSafeConsumer.verify_event_path` leaves such
a partition out of that round; the next round checks it again.

And it keeps a rebalance (or a shutdown) from waiting forever for a message no
stream holds. Faust delivers a record of a topic with several agents (on
``posts.enriched``: index, alert, spikes, ...) to each agent's queue, counting
one reference per copy, and tracks it as unacked once the first agent takes
it. On revocation ``app.flow_control.clear()`` empties every queue and
``Consumer.wait_empty`` then waits until each tracked record is acked; the
copies thrown out of the queues never will be, so it waits for good, with
every agent idle (seen after a broker restart: 2 of 10 runs, and 1 of 2 under
CPU load, each with a ``posts.enriched`` record at refcount 1).
:class:`ClearingFlowControl` counts the copies each clear throws away, and
:meth:`GapSafeConsumer.wait_empty` stops waiting for a record all of whose
outstanding copies were thrown away. It is not acked, so the commit stays
before it and the seek after the rebalance reads it again; agents that had
processed it see it twice, which the index (post ids as document ids) and
the conversation state (a post counted once) absorb.

``tests/streams/worker/test_transport.py`` replays the failure against Faust's
own fetch loop, and keeps the replay on Faust's consumer as a strict xfail: it
passes, and so fails, once an upgraded Faust no longer has the flaw.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from weakref import WeakKeyDictionary

import faust
from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message
from mode.utils.locks import Event
from mode.utils.queues import FlowControlEvent


class GapSafeConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer whose :meth:`perform_seek` leaves no record behind.

    Its livelock check also skips a partition awaiting an offset reset instead
    of crashing on it (:meth:`verify_event_path`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._let_go = Event()
        self._let_go.set()

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        """Faust's batch; :attr:`_let_go` is clear while the fetch loop holds a record."""
        async for tp, message in super().getmany(timeout):
            self._let_go.clear()
            try:
                yield tp, message
            finally:
                # The fetch loop asks for the next record (or drops the batch) only
                # after it has handed this one on and recorded its offset as read.
                self._let_go.set()

    async def wait_empty(self) -> None:
        """Faust's wait for the records in process, without those no stream holds any more."""
        self.let_go_of_cleared()
        await super().wait_empty()

    def _clean_unacked_messages(self) -> None:
        """Each turn of Faust's wait: forget the acked records, and those no stream holds."""
        super()._clean_unacked_messages()
        self.let_go_of_cleared()

    def let_go_of_cleared(self) -> list[Message]:
        """Stop tracking records whose every outstanding copy a flow-control clear threw away.

        They stay unacked: the commit does not pass them and the next seek
        reads them again. Returns them, for the log and for tests.
        """
        flow = self.app.flow_control
        if not isinstance(flow, ClearingFlowControl):
            return []
        cleared = flow.cleared
        dropped = [
            message
            for message in list(self._unacked_messages)
            if not message.acked and 0 < message.refcount <= cleared.get(message, 0)
        ]
        for message in dropped:
            self._unacked_messages.discard(message)
        if dropped:
            self.log.info(
                "Not waiting for %d records no stream holds (cleared from the stream "
                "buffers; read again after the seek): %s",
                len(dropped),
                ", ".join(f"{m.tp.topic}[{m.tp.partition}]@{m.offset}" for m in dropped[:5]),
            )
        return dropped

    async def perform_seek(self) -> None:
        """Seek every stream partition to where processing stands, with nothing in flight.

        Leaves the flow stopped: Faust's callers (``Recovery.on_recovery_completed``,
        ``Recovery._resume_streams``) clear the stream buffers and resume it right
        after, and ``getmany`` calls this with the flow stopped already.
        """
        self.stop_flow()  # first, before any await: nothing more is fetched or handed on
        await self.wait(self._let_go)  # the record in hand is recorded before the seek
        await super().perform_seek()
        if self.app.conf.consumer_auto_offset_reset != "earliest":
            return  # "latest" keeps no place to go back to: Faust's behaviour stands
        acks_enabled_for = self.app.topics.acks_enabled_for  # the streams, not changelogs
        never = [
            tp
            for tp in self.assignment()
            if acks_enabled_for(tp.topic) and not self._committed_offset[tp]
        ]
        if never:  # left where the fetcher got to by aiokafka's seek_to_committed
            await self.seek_wait(await self.earliest_offsets(*never))

    def verify_event_path(self, now: float, tp: TP) -> None:
        """Faust's "is this partition still moving?" check, for partitions with a position.

        The check only logs; a partition without a fetch position (awaiting a
        reset) has nothing to measure yet, and reading its position would raise.
        """
        if not self._has_position(tp):
            return None
        return super().verify_event_path(now, tp)

    def _has_position(self, tp: TP) -> bool:
        consumer = getattr(self._thread, "_consumer", None)  # None until the thread started
        subscription = consumer._fetcher._subscriptions.subscription if consumer else None
        assignment = subscription.assignment if subscription is not None else None
        if assignment is None:
            return True  # Faust's own check reports a missing assignment: let it
        state = assignment.state_value(TopicPartition(tp.topic, tp.partition))
        return state is None or bool(state.has_valid_position)


class ClearingFlowControl(FlowControlEvent):
    """Faust's flow control, counting the record copies each clear throws out of the queues.

    Install before any topic or agent is declared (their queues register
    with it): ``app.flow_control = ClearingFlowControl(loop=app.loop)``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cleared: WeakKeyDictionary[Message, int] = WeakKeyDictionary()
        """Per record, the copies clears threw away; an entry goes with its record."""

    def clear(self) -> None:
        """Empty every managed queue, noting each record copy that goes."""
        for queue in list(self._queues):
            for item in list(queue._queue):  # type: ignore[attr-defined]  # asyncio.Queue's deque
                message = getattr(item, "message", None)
                if message is not None:
                    self.cleared[message] = self.cleared.get(message, 0) + 1
        super().clear()


class GapSafeTransport(faust_aiokafka.Transport):
    """Faust's aiokafka transport, consuming with a :class:`GapSafeConsumer`."""

    Consumer = GapSafeConsumer


def gap_safe_transport(app: faust.App) -> GapSafeTransport:
    """The transport for ``app``, to install before anything asks for ``app.transport``.

    Declaring topics does, so right after the app is created::

        app.transport = gap_safe_transport(app)

    Installs :class:`ClearingFlowControl` on ``app`` as well, which
    :meth:`GapSafeConsumer.wait_empty` reads.
    """
    app.flow_control = ClearingFlowControl(loop=app.loop)
    return GapSafeTransport(app.conf.broker_consumer, app)
