"""Walking a table's owned entries from a timer: the conversation sweep, reply deadlines, silence.

A timer runs on every worker, so each walks only the keys of the partitions it
owns actively (not as a standby) and names the changelog partition of each
write itself (:func:`streams.worker.tables.source_partition`): a timer has no
current event. That partition is the key's partition of the source topic,
which the producers chose with the Kafka default partitioner (murmur2 of the
key bytes; Faust's aiokafka producer and kafka-python's agree), so a key is
written to the changelog partition it was recovered from.

A walk yields to the event loop every :data:`CHUNK` keys, so the agents keep
running meanwhile; an entry they changed in between is read afresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

import faust
from aiokafka.partitioner import murmur2

__all__ = ["CHUNK", "key_partition", "owned_entries", "owned_partitions", "partition_count"]

CHUNK = 500
"""Keys walked between yields to the event loop."""


def key_partition(key: str, partitions: int) -> int:
    """The partition the Kafka default partitioner gives ``key`` (UTF-8) among ``partitions``."""
    return (murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions


def owned_partitions(app: faust.App, topic: str) -> list[int]:
    """The partitions of ``topic`` (and so of its tables) this worker owns actively."""
    return [tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic]


def partition_count(app: faust.App, topic: str) -> int:
    """How many partitions ``topic`` has, as the consumer sees it (else the configured count)."""
    return int(app.consumer.topic_partitions(topic) or app.conf.topic_partitions)


async def owned_entries(
    table: Any, owned: Iterable[int], partitions: int
) -> AsyncIterator[tuple[str, int, Any]]:
    """``(key, partition, stored value)`` of each entry whose key is in an ``owned`` partition.

    The keys are listed first, so the table may change during the walk; an
    entry gone by the time its turn comes is skipped.
    """
    mine = set(owned)
    keyed = ((key, key_partition(key, partitions)) for key in list(table.keys()))
    keys = [(key, part) for key, part in keyed if part in mine]
    for n, (key, part) in enumerate(keys, 1):
        stored = table.get(key)
        if stored is not None:
            yield key, part, stored
        if n % CHUNK == 0:
            await asyncio.sleep(0)
