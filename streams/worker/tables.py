"""Faust tables: state that must survive restarts, backed by changelog topics.

* ``conversations`` maps conversation id -> ConversationState (as JSON). The
  normalized topic is keyed by conversation id, so every post of a
  conversation reaches the same partition and this table needs no repartition.
* ``post_locations`` maps post id -> where the post lives, or the delete that
  arrived before it (see :mod:`streams.steps.locate`); co-partitioned with
  ``posts.by_id``.
* The alert role's: ``deadlines`` (conversation id -> the post waiting for our
  reply and the level alerted, co-partitioned with ``conversations.state``),
  ``spike_counts`` (a tumbling windowed table: spike key and five-minute
  bucket -> count and drivers) with ``spike_state`` (spike key -> the last
  alert per rule; ``~since:<partition>`` -> when that partition started
  watching), both co-partitioned with ``posts.by_spike_key``, and ``silence``
  (source -> last arrival and usual gap, co-partitioned with the arrivals
  topic of :mod:`streams.worker.agents.alert_silence`).
* ``alert_throttle`` maps conversation id -> when each alert rule last fired
  there, and on which post (see :mod:`streams.steps.alert`); co-partitioned
  with ``posts.enriched``, which is keyed by conversation id too.

:class:`Tables` declares a table on its app the first time a role asks for it,
so a worker declares (and recovers from the changelog) only the tables of the
roles it runs.

Faust ties a table write to "the current event" to pick the changelog
partition (the source partition, so table and topic stay co-partitioned and
recovery after a rebalance restores exactly the keys a worker owns). A batch
from ``take_events`` has no current event, so the enrich agent names the
source partition explicitly with :func:`source_partition` while it updates the
table for each event of the batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property
from typing import Any

import faust
from faust.types import TableT
from faust.types.tables import WindowWrapperT

from streams.settings import Settings
from streams.steps import spikes

_source_partition: ContextVar[int | None] = ContextVar("townsquare_source_partition", default=None)


class CoPartitionedTable(faust.Table):
    """A table whose changelog partition is the source event's partition, also in batches."""

    def partition_for_key(self, key: Any) -> int | None:
        partition = _source_partition.get()
        if partition is None:
            return super().partition_for_key(key)
        return partition


@contextmanager
def source_partition(partition: int) -> Iterator[None]:
    """Table writes inside this block go to changelog ``partition``."""
    token = _source_partition.set(partition)
    try:
        yield
    finally:
        _source_partition.reset(token)


class Tables:
    """The pipeline's tables on one app, each declared on first access."""

    def __init__(self, app: faust.App, settings: Settings) -> None:
        self._app = app
        self._settings = settings

    @cached_property
    def conversations(self) -> CoPartitionedTable:
        table = CoPartitionedTable(
            self._app,
            name="conversations",
            default=None,
            key_type=str,
            value_type=None,
            partitions=self._settings.topic_partitions,
            beacon=self._app.tables.beacon,
            help="Conversation id -> conversation state (participants, own posts, awaiting reply).",
        )
        self._app.tables.add(table)
        return table

    @cached_property
    def alert_throttle(self) -> CoPartitionedTable:
        table = CoPartitionedTable(
            self._app,
            name="alert_throttle",
            default=None,
            key_type=str,
            value_type=None,
            partitions=self._settings.topic_partitions,
            beacon=self._app.tables.beacon,
            help="Conversation id -> per alert rule, when it last fired there and on which post.",
        )
        self._app.tables.add(table)
        return table

    @cached_property
    def locations(self) -> TableT:
        return self._app.Table(
            "post_locations",
            default=None,
            key_type=str,
            partitions=self._settings.topic_partitions,
            help="Post id -> {conversation_id} or {pending_delete} for deletes that came first.",
        )

    @cached_property
    def deadlines(self) -> CoPartitionedTable:
        return self._copartitioned(
            "deadlines",
            "Conversation id -> the post waiting for our reply, since when, level alerted.",
        )

    @cached_property
    def spike_counts(self) -> WindowWrapperT:
        # Windowed keys are (key, (start, end)) tuples, JSON in the changelog (no key_type).
        return (
            self._app.Table(
                "spike_counts",
                default=None,
                partitions=self._settings.topic_partitions,
                help="Spike key and 5-minute bucket -> posts counted, top authors and entities.",
            )
            .tumbling(spikes.BUCKET, expires=spikes.HISTORY)
            .relative_to_stream()
        )

    @cached_property
    def spike_state(self) -> TableT:
        return self._app.Table(
            "spike_state",
            default=None,
            key_type=str,
            partitions=self._settings.topic_partitions,
            help="Spike key -> last alert per rule; ~since:<partition> -> watching since.",
        )

    @cached_property
    def silence(self) -> CoPartitionedTable:
        return self._copartitioned(
            "silence", "Ingest source -> last arrival, usual gap, silence alerted."
        )

    def _copartitioned(self, name: str, help: str) -> CoPartitionedTable:
        table = CoPartitionedTable(
            self._app,
            name=name,
            default=None,
            key_type=str,
            value_type=None,
            partitions=self._settings.topic_partitions,
            beacon=self._app.tables.beacon,
            help=help,
        )
        self._app.tables.add(table)
        return table
