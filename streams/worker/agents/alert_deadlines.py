"""Reply deadlines: conversations.state -> the ``deadlines`` table -> a timer -> alerts.

The agent follows each thread's current state on the compacted
``conversations.state`` topic and keeps the ``deadlines`` table (conversation
id -> :class:`streams.steps.deadlines.Waiting`) in step with it through
:func:`streams.steps.deadlines.track`; the table is co-partitioned with the
topic (same key, same partition). Every :data:`EVERY` seconds a timer walks
the keys of the partitions this worker owns actively (never a standby's) and
asks :func:`streams.steps.deadlines.check` what is due at ``clock()``: an
alert at the profile's ``reply_sla_minutes``, an escalated one at twice that.

A timer has no current event, so its table writes name their changelog
partition (:func:`streams.worker.tables.source_partition`): the key's
partition of ``conversations.state`` under the Kafka default partitioner,
which is how enrich's producer placed it (see :mod:`streams.worker.expiry`).
Each alert is sent and acknowledged by the broker before its level is
stored, so a crash in between repeats the alert (same id, one alert
downstream) rather than losing it.

``clock`` and ``every`` are parameters so tests run the timer against a
controlled clock; a worker uses the wall clock and a minute.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import AgentT
from pydantic import ValidationError

from processors.rules_file import DeadlineConfig
from schemas.models import ConversationView
from streams import topic_names as names
from streams.metrics import ALERTS, MESSAGES, REPLIES_OVERDUE
from streams.steps.deadlines import check, to_send, track
from streams.worker.dead_letters import message_key, publish_dead_letter
from streams.worker.resources import Resources
from streams.worker.table_walk import owned_entries, owned_partitions, partition_count
from streams.worker.tables import Tables, source_partition
from streams.worker.topics import Topics

STAGE = "deadlines"
EVERY = 60.0
"""Seconds between timer runs: a reply SLA is minutes to hours, a minute is fine grain."""
log = logging.getLogger("townsquare.alert")

Clock = Callable[[], datetime]

OVERDUE_LEVELS = {1: "awaiting", 2: "escalated"}
"""Deadline levels -> the ``level`` label of ``townsquare_replies_overdue``."""


def _level(stored: Any) -> int:
    """The level an entry has alerted at (0: not overdue yet); a malformed entry counts as 0."""
    try:
        return int(stored.get("level", 0))
    except (AttributeError, TypeError, ValueError):
        return 0


def utc_now() -> datetime:
    return datetime.now(UTC)


class DeadlineWatch:
    """The agent's body (:meth:`follow`) and the timer's (:meth:`tick`) over one table."""

    def __init__(
        self, app: faust.App, topics: Topics, table: Any, resources: Resources, clock: Clock
    ) -> None:
        self.app = app
        self.topics = topics
        self.table = table
        self.resources = resources
        self.clock = clock
        self.source = topics.conversations.get_topic_name()

    async def follow(self, event: faust.EventT) -> None:
        """One new state of a thread (or its tombstone): the table entry follows it."""
        key = message_key(event.key)
        if key is None:
            return
        try:
            view = ConversationView.model_validate_json(event.value) if event.value else None
        except (ValidationError, ValueError, TypeError) as exc:
            await self._dead_letter(event, "schema", str(exc))
            return
        try:
            known = self.table.get(key)
            entry = track(known, view)
            if entry is None:
                if known is not None:
                    del self.table[key]  # an own reply, or the thread is gone: a tombstone
            elif entry != known:
                self.table[key] = entry
        except Exception as exc:  # policy: one bad state never stops the stage
            await self._dead_letter(event, "unexpected_error", f"{type(exc).__name__}: {exc}")
            return
        MESSAGES.labels(stage=STAGE, outcome="ok").inc()

    async def _dead_letter(self, event: faust.EventT, reason: str, error: str) -> None:
        await publish_dead_letter(self.topics.dlq, event, stage=STAGE, reason=reason, error=error)

    def owned(self) -> list[int]:
        """The partitions of ``conversations.state`` this worker owns actively."""
        return owned_partitions(self.app, self.source)

    async def tick(self, owned: Iterable[int] | None = None) -> int:
        """Check every owned entry at ``clock()``; the number of alerts sent."""
        mine = set(self.owned() if owned is None else owned)
        if not mine:
            return 0
        config: DeadlineConfig = self.resources.rules.reply_deadlines
        if not config.enabled:
            return 0
        partitions = partition_count(self.app, self.source)
        sla = self.resources.org.reply_sla_minutes
        kibana = self.resources.settings.kibana_base_url
        now = self.clock()
        sent = 0
        overdue: Counter[int] = Counter()
        async for key, part, stored in owned_entries(self.table, mine, partitions):
            checked = check(stored, now, sla, config, kibana)
            overdue[_level(checked.stored if checked.stored is not None else stored)] += 1
            if checked.alert is None or checked.stored is None:
                continue
            out = to_send(checked.alert)
            fut = await self.topics.publish(names.ALERTS, out.key, out.value)
            await fut  # acknowledged before the level is stored
            with source_partition(part):
                self.table[key] = checked.stored
            sent += 1
            ALERTS.labels(rule=checked.alert.rule, severity=checked.alert.severity).inc()
            log.info(
                "reply deadline: %s",
                checked.alert.summary,
                extra={
                    "stage": STAGE,
                    "alert_id": checked.alert.id,
                    "conversation_id": key,
                    "severity": checked.alert.severity,
                },
            )
        for level, name in OVERDUE_LEVELS.items():
            REPLIES_OVERDUE.labels(level=name).set(overdue[level])
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
    """Declare the deadlines agent, its table and its timer on ``app``."""
    watch = DeadlineWatch(app, topics, tables.deadlines, resources, clock)

    @app.timer(every, name="townsquare.deadlines.timer")
    async def check_deadlines() -> None:
        try:
            await watch.tick()
        except Exception:  # policy: a failed run (broker away) is logged; the next one retries
            log.exception("reply deadline check failed", extra={"stage": STAGE})

    async def deadlines_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            await watch.follow(event)

    return app.agent(topics.conversations, name="townsquare.deadlines")(deadlines_agent)
