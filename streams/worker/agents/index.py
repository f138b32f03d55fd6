"""index: posts.enriched -> Elasticsearch, offsets committed only after the bulk ack.

Events are taken in batches and collapsed to one action per post id
(:func:`streams.steps.collapse.collapse`, last write wins). ILM rolls the
posts index over, so a post may live in an older index than the one the write
alias points at; one search over the family (:func:`streams.es.holders.holders`)
says which indices hold the batch's ids, and
:func:`streams.steps.placement.place` aims each delete at every copy and each
write at the copy already there, so a delete or an edit of an older post does
not miss it or duplicate it (issue #11).

The batch is acked when ``take_events`` resumes, which is after
:func:`streams.es.bulk.index_batch` returned, i.e. after Elasticsearch
acknowledged every document or each refusal went to the dead-letter topic.
While Elasticsearch is down the lookup and ``index_batch`` keep retrying, so
this agent stops pulling and nothing is committed past what is indexed. A
redelivered batch is looked up again and lands on the same copies.
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
from streams.metrics import BATCH_SIZE, END_TO_END_LATENCY, MESSAGES, STAGE_LATENCY
from streams.steps.collapse import collapse
from streams.steps.placement import place
from streams.worker.agents import batch_agent
from streams.worker.dead_letters import publish_dead_letter
from streams.worker.resources import Resources
from streams.worker.tables import Tables
from streams.worker.topics import Topics

STAGE = "index"
log = logging.getLogger("townsquare.index")


class IndexBatches:
    """One bulk batch at a time: the agent's whole body, apart from taking the batch."""

    def __init__(self, topics: Topics, resources: Resources) -> None:
        settings = resources.settings
        self.topics = topics
        self.resources = resources
        self.alias = settings.index_alias("posts")
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
        """Index one batch; bad documents become dead letters, the rest is indexed."""
        started = time.perf_counter()
        BATCH_SIZE.labels(stage=STAGE).observe(len(events))
        collapsed = collapse(
            [event.message.value or b"" for event in events], self.alias, datetime.now(UTC)
        )
        for position, why in collapsed.rejected:
            await self._dead_letter(events[position], why.reason, why.error)
        batch = collapsed.actions
        es = self.resources.es
        held = await holders(es, self.family, [a["_id"] for _, a in batch], options=self.options)
        placed = place(batch, held)
        failures = await index_batch(es, [a for _, a in placed], self.options)
        # A message has failed if any of its actions did (a delete per copy, say);
        # it is dead-lettered once, with the first refusal.
        failed: set[int] = set()
        for failure in failures:
            if failure.index < 0:
                # Elasticsearch answered for an id we did not send: nothing to dead-letter.
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
        done = datetime.now(UTC)
        MESSAGES.labels(stage=STAGE, outcome="ok").inc(len(batch) - len(failed))
        for position, action in batch:
            if position in failed:
                continue
            received = (action.get("_source") or {}).get("received_at")
            if received:
                latency = (done - datetime.fromisoformat(received)).total_seconds()
                END_TO_END_LATENCY.observe(latency)
        STAGE_LATENCY.labels(stage=STAGE).observe(time.perf_counter() - started)


def register(app: faust.App, topics: Topics, tables: Tables, resources: Resources) -> AgentT:
    """Declare the index agent on ``app``; the Elasticsearch client opens with the first batch."""
    settings = resources.settings
    return batch_agent(
        app,
        topics.enriched,
        "townsquare.index",
        IndexBatches(topics, resources).handle,
        size=settings.es_bulk_chunk,
        within=settings.batch_wait,
    )
