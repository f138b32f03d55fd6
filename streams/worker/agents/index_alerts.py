"""index_alerts: alerts -> the alerts index, offsets committed only after the bulk ack.

The alerts twin of :mod:`streams.worker.agents.index`, with the same
guarantees: events are taken in batches and collapsed to one action per
alert id (:func:`streams.steps.alert.alert_actions`, last write wins), so a
replayed or redelivered alert overwrites its document (``_id`` is the alert
id). ILM rolls the alerts index over too, so one search over the family
(:func:`streams.es.holders.holders`) says which indices already hold the
batch's ids and :func:`streams.steps.placement.place` writes each alert where
it already lives, keeping one copy after a rollover.

The batch is acked when ``take_events`` resumes, which is after
:func:`streams.es.bulk.index_batch` returned: Elasticsearch acknowledged every
document or each refusal went to the dead-letter topic. While Elasticsearch is
down the lookup and the bulk keep retrying, so this agent stops pulling and
nothing is committed past what is indexed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import faust
from faust.types import AgentT

from streams.es.bulk import BulkOptions, index_batch
from streams.es.holders import holders
from streams.metrics import BATCH_SIZE, MESSAGES, STAGE_LATENCY
from streams.steps.alert import alert_actions
from streams.steps.placement import place
from streams.worker.agents import batch_agent
from streams.worker.dead_letters import publish_dead_letter
from streams.worker.resources import Resources
from streams.worker.tables import Tables
from streams.worker.topics import Topics

STAGE = "index_alerts"
log = logging.getLogger("townsquare.index")


class AlertIndexBatches:
    """One bulk batch of alerts at a time: the agent's whole body, apart from taking the batch."""

    def __init__(self, topics: Topics, resources: Resources) -> None:
        settings = resources.settings
        self.topics = topics
        self.resources = resources
        self.alias = settings.index_alias("alerts")
        self.family = f"{self.alias}-*"
        self.options = BulkOptions(
            chunk_size=settings.es_bulk_chunk,
            max_chunk_bytes=settings.es_bulk_max_bytes,
            max_retries=settings.es_max_retries,
            max_backoff=settings.es_max_backoff,
        )

    async def _dead_letter(self, event: faust.EventT, reason: str, error: str) -> None:
        await publish_dead_letter(self.topics.dlq, event, stage=STAGE, reason=reason, error=error)

    async def handle(self, events: Sequence[faust.EventT]) -> None:
        """Index one batch of alerts; refused documents become dead letters, the rest is indexed."""
        started = time.perf_counter()
        BATCH_SIZE.labels(stage=STAGE).observe(len(events))
        collapsed = alert_actions(
            [event.message.value or b"" for event in events], self.alias, datetime.now(UTC)
        )
        for position, why in collapsed.rejected:
            await self._dead_letter(events[position], why.reason, why.error)
        batch = collapsed.actions
        es = self.resources.es
        held = await holders(es, self.family, [a["_id"] for _, a in batch], options=self.options)
        placed = place(batch, held)
        failures = await index_batch(es, [a for _, a in placed], self.options)
        failed: set[int] = set()
        for failure in failures:
            if failure.index < 0:
                log.error(
                    "bulk result for an unknown alert document",
                    extra={"stage": STAGE, "reason": failure.reason, "error": failure.error[:500]},
                )
                continue
            position = placed[failure.index][0]
            if position in failed:
                continue  # one message, several actions (a stale copy's delete): one dead letter
            failed.add(position)
            await self._dead_letter(events[position], failure.reason, failure.error)
        MESSAGES.labels(stage=STAGE, outcome="ok").inc(len(batch) - len(failed))
        STAGE_LATENCY.labels(stage=STAGE).observe(time.perf_counter() - started)


def register(app: faust.App, topics: Topics, tables: Tables, resources: Resources) -> AgentT:
    """Declare the alerts index agent on ``app``; the Elasticsearch client opens with a batch."""
    settings = resources.settings
    return batch_agent(
        app,
        topics.alerts,
        "townsquare.index_alerts",
        AlertIndexBatches(topics, resources).handle,
        size=settings.es_bulk_chunk,
        within=settings.batch_wait,
    )
