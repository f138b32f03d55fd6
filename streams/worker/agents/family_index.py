"""The one bulk step every index agent runs: collapse, find the holders, place, index, dead-letter.

Posts, alerts and thread views are indexed the same way (issue #11): one
action per id per batch (last write wins), one holder lookup over the family
so a write lands on the copy already there and a delete reaches every copy,
then the bulk; refusals become dead letters, once per message. The agents
differ only in how a batch of events becomes actions (:data:`Collapse`) and
in what they observe afterwards (:meth:`FamilyIndexBatches.indexed`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import faust

from streams.es.bulk import BulkOptions, index_batch
from streams.es.holders import holders
from streams.metrics import BATCH_SIZE, MESSAGES, STAGE_LATENCY
from streams.steps.outputs import Rejected
from streams.steps.placement import place
from streams.worker.dead_letters import publish_dead_letter
from streams.worker.resources import Resources
from streams.worker.topics import Topics

log = logging.getLogger("townsquare.index")


class Collapsed(Protocol):
    """What a collapse step returns: positioned actions and positioned refusals."""

    @property
    def actions(self) -> list[tuple[int, dict[str, Any]]]: ...

    @property
    def rejected(self) -> list[tuple[int, Rejected]]: ...


Collapse = Callable[[Sequence[faust.EventT], str, datetime], Collapsed]
"""A batch of events, the family's write alias and now -> one action per id."""


def bulk_options(resources: Resources) -> BulkOptions:
    settings = resources.settings
    return BulkOptions(
        chunk_size=settings.es_bulk_chunk,
        max_chunk_bytes=settings.es_bulk_max_bytes,
        max_retries=settings.es_max_retries,
        max_backoff=settings.es_max_backoff,
    )


class FamilyIndexBatches:
    """One bulk batch of one index family at a time: an index agent's whole body."""

    def __init__(
        self, topics: Topics, resources: Resources, *, family: str, stage: str, collapse: Collapse
    ) -> None:
        self.topics = topics
        self.resources = resources
        self.stage = stage
        self.collapse = collapse
        self.alias = resources.settings.index_alias(family)
        self.family = f"{self.alias}-*"
        self.options = bulk_options(resources)

    async def _dead_letter(self, event: faust.EventT, reason: str, error: str) -> None:
        await publish_dead_letter(
            self.topics.dlq, event, stage=self.stage, reason=reason, error=error
        )

    def indexed(self, actions: Sequence[dict[str, Any]], done: datetime) -> None:
        """Called with the actions Elasticsearch took; agents add their own metrics here."""

    async def handle(self, events: Sequence[faust.EventT]) -> None:
        """Index one batch; bad messages and refused documents become dead letters."""
        started = time.perf_counter()
        BATCH_SIZE.labels(stage=self.stage).observe(len(events))
        collapsed = self.collapse(events, self.alias, datetime.now(UTC))
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
                    extra={
                        "stage": self.stage,
                        "reason": failure.reason,
                        "error": failure.error[:500],
                    },
                )
                continue
            position = placed[failure.index][0]
            if position in failed:
                continue
            failed.add(position)
            await self._dead_letter(events[position], failure.reason, failure.error)
        MESSAGES.labels(stage=self.stage, outcome="ok").inc(len(batch) - len(failed))
        self.indexed([a for p, a in batch if p not in failed], datetime.now(UTC))
        STAGE_LATENCY.labels(stage=self.stage).observe(time.perf_counter() - started)
