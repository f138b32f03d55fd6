"""index_conversations: conversations.state -> the conversations index, one document per thread.

The enrich stage publishes a thread's view after every post, edit or delete of
it, and a null value when the thread is gone. Events are taken in batches and
collapsed to one action per conversation id
(:func:`streams.es.conversations.collapse_views`: last write wins, a
tombstone becomes a delete), so a bulk never applies an older state after a
newer one. ``_id`` is the conversation id, so a replay or a redelivery
overwrites the same document.

The family has a write alias over numbered indices like posts (no ILM, but an
operator may roll it over): one search over the family
(:func:`streams.es.holders.holders`) says which indices hold the batch's
threads, and :func:`streams.steps.placement.place` writes each view where the
thread's document already lives and aims each delete at every copy, so a
thread keeps exactly one document after a rollover.

The batch is acked when ``take_events`` resumes, which is after
:func:`streams.es.bulk.index_batch` returned: Elasticsearch acknowledged every
action or each refusal went to the dead-letter topic. While Elasticsearch is
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
from streams.es.conversations import collapse_views
from streams.es.holders import holders
from streams.metrics import BATCH_SIZE, MESSAGES, STAGE_LATENCY
from streams.steps.placement import place
from streams.worker.agents import batch_agent
from streams.worker.dead_letters import message_key, publish_dead_letter
from streams.worker.resources import Resources
from streams.worker.tables import Tables
from streams.worker.topics import Topics

STAGE = "index_conversations"
log = logging.getLogger("townsquare.index")


class ConversationIndexBatches:
    """One bulk batch of thread views at a time: the agent's body, apart from taking the batch."""

    def __init__(self, topics: Topics, resources: Resources) -> None:
        settings = resources.settings
        self.topics = topics
        self.resources = resources
        self.alias = settings.index_alias("conversations")
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
        """Upsert (or delete) the batch's threads; refused messages become dead letters."""
        started = time.perf_counter()
        BATCH_SIZE.labels(stage=STAGE).observe(len(events))
        messages = [(message_key(e.message.key), e.message.value) for e in events]
        collapsed = collapse_views(messages, self.alias, datetime.now(UTC))
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
                    "bulk result for an unknown document",
                    extra={"stage": STAGE, "reason": failure.reason, "error": failure.error[:500]},
                )
                continue
            position = placed[failure.index][0]
            if position in failed:
                continue
            failed.add(position)
            await self._dead_letter(events[position], failure.reason, failure.error)
        MESSAGES.labels(stage=STAGE, outcome="ok").inc(len(batch) - len(failed))
        STAGE_LATENCY.labels(stage=STAGE).observe(time.perf_counter() - started)


def register(app: faust.App, topics: Topics, tables: Tables, resources: Resources) -> AgentT:
    """Declare the conversations index agent on ``app`` (part of the ``index`` role)."""
    settings = resources.settings
    return batch_agent(
        app,
        topics.conversations,
        "townsquare.index_conversations",
        ConversationIndexBatches(topics, resources).handle,
        size=settings.es_bulk_chunk,
        within=settings.batch_wait,
    )
