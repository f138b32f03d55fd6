"""index_conversations: conversations.state -> the conversations index, one document per thread.

The enrich stage publishes a thread's view after every post, edit or delete of
it, and a null value when the thread is gone. Events are taken in batches and
collapsed to one action per conversation id
(:func:`streams.es.conversations.collapse_views`: last write wins, a
tombstone becomes a delete), so a bulk never applies an older state after a
newer one. ``_id`` is the conversation id, so a replay or a redelivery
overwrites the same document.

The family has a write alias over numbered indices like posts (no ILM, but an
operator may roll it over): one lookup over the family
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

from collections.abc import Sequence
from datetime import datetime

import faust
from faust.types import AgentT

from streams.es.conversations import CollapsedViews, collapse_views
from streams.worker.agents import batch_agent
from streams.worker.agents.family_index import FamilyIndexBatches
from streams.worker.dead_letters import message_key
from streams.worker.resources import Resources
from streams.worker.tables import Tables
from streams.worker.topics import Topics

STAGE = "index_conversations"


class ConversationIndexBatches(FamilyIndexBatches):
    """The conversations family (see :mod:`streams.worker.agents.family_index`)."""

    def __init__(self, topics: Topics, resources: Resources) -> None:
        super().__init__(topics, resources, family="conversations", stage=STAGE, collapse=_collapse)


def _collapse(events: Sequence[faust.EventT], alias: str, now: datetime) -> CollapsedViews:
    messages = [(message_key(e.message.key), e.message.value) for e in events]
    return collapse_views(messages, alias, now)


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
