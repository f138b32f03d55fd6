"""alert: posts.enriched -> alerts, in batches, throttled per conversation and rule.

The agent body stays thin: decode (tombstones are skipped, bad values
dead-lettered), read the batch's conversations from the throttle table, call
the pure step :func:`streams.steps.alert.raise_alerts` with the rules loaded
at warm-up, write the changed throttle states (each to its source partition's
changelog), and send the alerts keyed by conversation id. The batch is acked
when ``take_events`` resumes, after every send was handed to the producer,
which Faust flushes before it commits; a crash before that redelivers the
batch, and the step raises the same alerts with the same ids again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import faust
from faust.types import AgentT

from schemas.models import EnrichedPost
from streams.metrics import ALERTS, BATCH_SIZE, MESSAGES, STAGE_LATENCY
from streams.steps.alert import decode, raise_alerts
from streams.worker.agents import batch_agent
from streams.worker.dead_letters import publish_dead_letter
from streams.worker.expiry import register_throttle_expiry
from streams.worker.resources import Resources
from streams.worker.tables import Tables, source_partition
from streams.worker.topics import Topics

STAGE = "alert"
log = logging.getLogger("townsquare.alert")


class AlertBatches:
    """One alert batch at a time: the agent's whole body, apart from taking the batch."""

    def __init__(self, topics: Topics, tables: Tables, resources: Resources) -> None:
        self.topics = topics
        self.throttle = tables.alert_throttle
        self.resources = resources

    async def _dead_letter(self, event: faust.EventT, reason: str, error: str) -> None:
        await publish_dead_letter(self.topics.dlq, event, stage=STAGE, reason=reason, error=error)

    async def handle(self, events: Sequence[faust.EventT]) -> None:
        """Evaluate the rules on one batch of enriched posts, in order, and send the alerts."""
        started = time.perf_counter()
        BATCH_SIZE.labels(stage=STAGE).observe(len(events))
        posts: list[EnrichedPost | None] = []
        partitions: dict[str, int] = {}
        tombstones = 0
        for event in events:
            decoded = decode(event.message.value)
            if decoded.rejected is not None:
                await self._dead_letter(event, decoded.rejected.reason, decoded.rejected.error)
            elif decoded.post is None:
                tombstones += 1
            else:
                partitions[decoded.post.conversation_id] = event.message.partition
            posts.append(decoded.post)
        settings = self.resources.settings
        stored = {key: self.throttle.get(key) for key in partitions}
        try:
            raised = raise_alerts(
                posts,
                stored,
                self.resources.rules.rules,
                datetime.now(UTC),
                settings.kibana_base_url,
            )
        except Exception as exc:  # policy: a batch the step cannot handle is dead-lettered whole
            for event, post in zip(events, posts, strict=True):
                if post is not None:
                    await self._dead_letter(
                        event, "unexpected_error", f"{type(exc).__name__}: {exc}"
                    )
            return
        for position, why in raised.rejected:
            await self._dead_letter(events[position], why.reason, why.error)
        for key, state in raised.throttle.items():
            with source_partition(partitions[key]):
                self.throttle[key] = state
        await self.topics.send(raised.sends)
        for alert in raised.alerts:
            ALERTS.labels(rule=alert.rule, severity=alert.severity).inc()
        for outcome, count in raised.outcomes.items():
            MESSAGES.labels(stage=STAGE, outcome=outcome).inc(count)
        if tombstones:
            MESSAGES.labels(stage=STAGE, outcome="skipped").inc(tombstones)
        seconds = time.perf_counter() - started
        STAGE_LATENCY.labels(stage=STAGE).observe(seconds)
        if raised.alerts:
            log.info(
                "alert batch: %d posts, %d alerts (%s)",
                len(events),
                len(raised.alerts),
                ", ".join(sorted({a.rule for a in raised.alerts})),
                extra={"stage": STAGE, "posts": len(events), "alerts": len(raised.alerts)},
            )


def register(app: faust.App, topics: Topics, tables: Tables, resources: Resources) -> AgentT:
    """Declare the alert agent, its throttle table and that table's retention sweep on ``app``.

    Rules load at warm-up.
    """
    settings = resources.settings
    register_throttle_expiry(app, topics.enriched, tables.alert_throttle, settings.retention_days)
    return batch_agent(
        app,
        topics.enriched,
        "townsquare.alert",
        AlertBatches(topics, tables, resources).handle,
        size=settings.batch_size,
        within=settings.batch_wait,
    )
