"""Faust tables: state that must survive restarts, backed by changelog topics.

``conversations`` maps conversation id -> ConversationState (as JSON). The
normalized topic is keyed by conversation id, so every post of a conversation
reaches the same partition and this table needs no repartition.

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
from typing import Any

import faust

from streams.worker.app import app, settings

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


conversations = CoPartitionedTable(
    app,
    name="conversations",
    default=None,
    key_type=str,
    value_type=None,
    partitions=settings.topic_partitions,
    beacon=app.tables.beacon,
    help="Conversation id -> conversation state (participants, own posts, awaiting reply).",
)
app.tables.add(conversations)
