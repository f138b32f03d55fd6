"""index: posts.enriched -> Elasticsearch, offsets committed only after the bulk ack.

Events are taken in batches and collapsed to one action per post id
(:func:`streams.steps.collapse.collapse`, last write wins). ILM rolls the
posts index over, so a post may live in an older index than the one the write
alias points at; one lookup over the family (:func:`streams.es.holders.holders`)
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

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import faust
from faust.types import AgentT

from streams.metrics import END_TO_END_LATENCY
from streams.steps.collapse import Collapsed, collapse
from streams.worker.agents import batch_agent
from streams.worker.agents.family_index import FamilyIndexBatches
from streams.worker.resources import Resources
from streams.worker.tables import Tables
from streams.worker.topics import Topics

STAGE = "index"


class IndexBatches(FamilyIndexBatches):
    """The posts family: post ids, and the end-to-end latency of every post indexed."""

    def __init__(self, topics: Topics, resources: Resources) -> None:
        super().__init__(topics, resources, family="posts", stage=STAGE, collapse=_collapse)

    def indexed(self, actions: Sequence[dict[str, Any]], done: datetime) -> None:
        for action in actions:
            received = (action.get("_source") or {}).get("received_at")
            if received:
                latency = (done - datetime.fromisoformat(received)).total_seconds()
                END_TO_END_LATENCY.observe(latency)


def _collapse(events: Sequence[faust.EventT], alias: str, now: datetime) -> Collapsed:
    return collapse([event.message.value or b"" for event in events], alias, now)


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
