"""Silence: posts.raw -> arrivals per source -> the ``silence`` table -> a timer -> alerts.

Sources are watched at the raw topic, where every source's envelopes land
with its name and ``received_at`` (:mod:`streams.steps.silence` says why the
source and not the platform). ``posts.raw`` is keyed by conversation hint or
stream name, so one source's records are on many partitions; a per-source
table needs them in one place. Sending one record per post again would
double the raw traffic, so ``townsquare.arrivals`` takes the raw topic in
batches and sends one :class:`~streams.steps.silence.Arrivals` summary per
source and batch (two JSON fields read per envelope, the payload untouched)
to an arrivals topic keyed by source; ``townsquare.silence`` folds them into
the ``silence`` table, co-partitioned with it.

The arrivals topic is a Faust-internal topic (``<app id>-silence-arrivals``,
declared by the worker like the tables' changelogs) rather than one of
:mod:`streams.topic_names`: it holds no post and no person (a source name,
two times and a count), nobody outside the worker reads it, and a day of
retention is plenty for a summary that matters only until the next one.

Every :data:`EVERY` seconds a timer walks the sources of the table
partitions this worker owns actively and asks
:func:`streams.steps.silence.check` at ``clock()``; as for reply deadlines,
each alert is acknowledged by the broker before the state that says it was
sent is stored, with the changelog partition named explicitly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
from faust.types import AgentT
from pydantic import ValidationError

from streams import topic_names as names
from streams.metrics import ALERTS, MESSAGES
from streams.steps.silence import Arrivals, arrival, arrive, check, summarise
from streams.worker.agents import batch_agent
from streams.worker.dead_letters import message_key, publish_dead_letter
from streams.worker.resources import Resources
from streams.worker.table_walk import owned_entries, owned_partitions, partition_count
from streams.worker.tables import Tables, source_partition
from streams.worker.topics import Topics

STAGE = "silence"
EVERY = 60.0
"""Seconds between timer runs; the smallest allowed silence is a minute or more."""
BATCH = 500
BATCH_WAIT = 1.0
ARRIVALS_RETENTION = timedelta(days=1)

log = logging.getLogger("townsquare.alert")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def arrivals_topic(app: faust.App, resources: Resources) -> faust.TopicT:
    """The internal arrivals topic, keyed by source (created by the worker that uses it)."""
    settings = resources.settings
    return app.topic(
        f"{settings.app_id}-silence-arrivals",
        key_type=str,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.topic_partitions,
        retention=ARRIVALS_RETENTION,
        internal=True,
    )


class SilenceWatch:
    """The two agents' bodies (:meth:`summarise`, :meth:`follow`) and the timer's (:meth:`tick`)."""

    def __init__(
        self,
        app: faust.App,
        topics: Topics,
        arrivals: faust.TopicT,
        table: Any,
        resources: Resources,
        clock: Clock,
    ) -> None:
        self.app = app
        self.topics = topics
        self.arrivals = arrivals
        self.table = table
        self.resources = resources
        self.clock = clock
        self.source = arrivals.get_topic_name()

    async def summarise(self, events: Sequence[faust.EventT]) -> None:
        """One raw batch -> one arrivals summary per source in it."""
        found = [a for a in (arrival(e.message.value) for e in events) if a is not None]
        for summary in summarise(found):
            await self.arrivals.send(
                key=summary.source, value=summary.model_dump_json().encode("utf-8")
            )
        if len(found) < len(events):  # normalize dead-letters these; here they only count
            MESSAGES.labels(stage=STAGE, outcome="no_source").inc(len(events) - len(found))

    async def follow(self, event: faust.EventT) -> None:
        """One arrivals summary -> the source's state."""
        key = message_key(event.key)
        try:
            arrivals = Arrivals.model_validate_json(event.message.value or b"")
        except (ValidationError, ValueError) as exc:
            await publish_dead_letter(
                self.topics.dlq, event, stage=STAGE, reason="schema", error=str(exc)
            )
            return
        key = key or arrivals.source
        stored = self.table.get(key)
        state = arrive(stored, arrivals)
        if state != stored:
            self.table[key] = state
        MESSAGES.labels(stage=STAGE, outcome="ok").inc()

    def owned(self) -> list[int]:
        """The partitions of the arrivals topic (and so of the table) this worker owns actively."""
        return owned_partitions(self.app, self.source)

    async def tick(self, owned: Iterable[int] | None = None) -> int:
        """Check every owned source at ``clock()``; the number of alerts sent."""
        mine = set(self.owned() if owned is None else owned)
        config = self.resources.rules.silence
        if not mine or not config.enabled:
            return 0
        partitions = partition_count(self.app, self.source)
        now = self.clock()
        sent = 0
        async for key, part, stored in owned_entries(self.table, mine, partitions):
            checked = check(stored, now, config)
            if checked.alert is None or checked.stored is None:
                continue
            fut = await self.topics.publish(
                names.ALERTS, f"source:{key}", checked.alert.model_dump_json().encode("utf-8")
            )
            await fut  # acknowledged before the state says it was sent
            with source_partition(part):
                self.table[key] = checked.stored
            sent += 1
            ALERTS.labels(rule=checked.alert.rule, severity=checked.alert.severity).inc()
            log.warning(
                "silent source: %s",
                checked.alert.summary,
                extra={"stage": STAGE, "alert_id": checked.alert.id, "source": key},
            )
        return sent


def register(
    app: faust.App,
    topics: Topics,
    tables: Tables,
    resources: Resources,
    *,
    clock: Clock = utc_now,
    every: float = EVERY,
) -> AgentT:
    """Declare the arrivals and silence agents, the silence table and its timer on ``app``."""
    arrivals = arrivals_topic(app, resources)
    watch = SilenceWatch(app, topics, arrivals, tables.silence, resources, clock)

    @app.timer(every, name="townsquare.silence.timer")
    async def check_silence() -> None:
        try:
            await watch.tick()
        except Exception:  # policy: a failed run (broker away) is logged; the next one retries
            log.exception("silence check failed", extra={"stage": STAGE})

    async def silence_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            await watch.follow(event)

    batch_agent(
        app, topics.raw, "townsquare.arrivals", watch.summarise, size=BATCH, within=BATCH_WAIT
    )
    return app.agent(arrivals, name="townsquare.silence")(silence_agent)
