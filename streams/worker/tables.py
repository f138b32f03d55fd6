"""Faust tables: state that must survive restarts, backed by changelog topics.

* ``conversations`` maps conversation id -> ConversationState (as JSON). The
  normalized topic is keyed by conversation id, so every post of a
  conversation reaches the same partition and this table needs no repartition.
* ``post_locations`` maps post id -> where the post lives, or the delete that
  arrived before it (see :mod:`streams.steps.locate`); co-partitioned with
  ``posts.by_id``.

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

from streams.settings import Settings

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
    def locations(self) -> TableT:
        return self._app.Table(
            "post_locations",
            default=None,
            key_type=str,
            partitions=self._settings.topic_partitions,
            help="Post id -> {conversation_id} or {pending_delete} for deletes that came first.",
        )
