"""The enrich role's sweep of the conversation table, so the retention period holds there too.

Every :data:`EVERY` seconds each enrich worker walks the conversation states
of the partitions it owns (actively, not as a standby) and applies
:func:`streams.steps.expiry.expire_stored` with the cutoff ``now -
TOWNSQUARE_RETENTION_DAYS``: a thread quiet for longer goes (a changelog
tombstone), older posts and participants leave the rest.

A timer has no current event, so the changelog partition of each write is
named explicitly (:func:`streams.worker.tables.source_partition`). It is the
key's partition of ``posts.normalized``, which the producers chose with the
Kafka default partitioner (murmur2 of the key bytes; Faust's aiokafka producer
and the kafka-python one used by ``townsquare forget`` agree), so a key is
written to the changelog partition it was recovered from.

The walk yields to the event loop every :data:`CHUNK` keys, so the enrich
agent keeps running; a key the agent changed in between is read afresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
from aiokafka.partitioner import murmur2

from streams.steps.expiry import expire_stored
from streams.worker.tables import source_partition

log = logging.getLogger("townsquare.enrich")

EVERY = 3600.0
"""Seconds between sweeps: an hour is fine grain for a retention of days."""

CHUNK = 500


def key_partition(key: str, partitions: int) -> int:
    """The partition the Kafka default partitioner gives ``key`` (UTF-8) among ``partitions``."""
    return (murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions


async def sweep(
    table: Any, owned: Iterable[int], partitions: int, cutoff: datetime
) -> Counter[str]:
    """Expire the states of ``table`` whose key is in an ``owned`` partition; counts by outcome."""
    mine = set(owned)
    outcomes: Counter[str] = Counter()
    keys = [k for k in list(table.keys()) if key_partition(k, partitions) in mine]
    for n, key in enumerate(keys, 1):
        stored = table.get(key)
        if stored is not None:
            expired = expire_stored(stored, cutoff)
            with source_partition(key_partition(key, partitions)):
                if expired.drop:
                    del table[key]
                    outcomes["dropped"] += 1
                elif expired.state is not None:
                    table[key] = expired.state
                    outcomes["trimmed"] += 1
        if n % CHUNK == 0:
            await asyncio.sleep(0)
    return outcomes


def register_expiry(app: faust.App, source: faust.TopicT, table: Any, retention_days: int) -> None:
    """Declare the sweep's timer on ``app`` for the table fed by ``source``."""
    topic = source.get_topic_name()

    @app.timer(EVERY)
    async def expire_conversations() -> None:
        owned = [tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic]
        if not owned:
            return
        partitions = app.consumer.topic_partitions(topic) or app.conf.topic_partitions
        cutoff = datetime.now(UTC) - timedelta(days=retention_days)
        outcomes = await sweep(table, owned, partitions, cutoff)
        if outcomes:
            log.info(
                "conversation states past retention: %d dropped, %d trimmed",
                outcomes["dropped"],
                outcomes["trimmed"],
                extra={"stage": "enrich", **outcomes},
            )
