"""index_alerts: alerts -> the alerts index, offsets committed only after the bulk ack.

The alerts twin of :mod:`streams.worker.agents.index`, with the same
guarantees: events are taken in batches and collapsed to one action per
alert id (:func:`streams.steps.alert.alert_actions`, last write wins), so a
replayed or redelivered alert overwrites its document (``_id`` is the alert
id). ILM rolls the alerts index over too, so one lookup over the family
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

from collections.abc import Sequence
from datetime import datetime

import faust
from faust.types import AgentT

from streams.steps.alert import alert_actions
from streams.steps.collapse import Collapsed
from streams.worker.agents import batch_agent
from streams.worker.agents.family_index import FamilyIndexBatches
from streams.worker.resources import Resources
from streams.worker.tables import Tables
from streams.worker.topics import Topics

STAGE = "index_alerts"


class AlertIndexBatches(FamilyIndexBatches):
    """The alerts family (see :mod:`streams.worker.agents.family_index`)."""

    def __init__(self, topics: Topics, resources: Resources) -> None:
        super().__init__(topics, resources, family="alerts", stage=STAGE, collapse=_collapse)


def _collapse(events: Sequence[faust.EventT], alias: str, now: datetime) -> Collapsed:
    return alert_actions([event.message.value or b"" for event in events], alias, now)


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
