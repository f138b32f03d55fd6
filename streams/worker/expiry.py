"""The enrich role's sweep of the conversation table, so the retention period holds there too.

Every :data:`EVERY` seconds each enrich worker walks the conversation states
of the partitions it owns (actively, not as a standby) and applies
:func:`streams.steps.expiry.expire_stored` with the cutoff ``now -
TOWNSQUARE_RETENTION_DAYS``: a thread quiet for longer goes (a changelog
tombstone), older posts and participants leave the rest. Either way the
thread's published view follows on ``conversations.state``: a null value for
a dropped thread (the index stage deletes its document), the trimmed view
for the rest, so the conversations index forgets whom the table forgot.

The walk (:mod:`streams.worker.table_walk`) covers owned keys only, names
each write's changelog partition itself (a timer has no current event; the
key's partition of ``posts.normalized``), and yields to the event loop as it
goes, so the enrich agent keeps running.

The views are sent as the agents send (``topic.send``; a ``None`` value goes
out as a Kafka null with the raw serializer). A timer commits no offsets, so
nothing waits on those sends; a view lost with a crash is sent again by the
next sweep only if the state still differs, which it does not. The next post
of a trimmed thread republishes its view anyway, and a dropped thread's
document is also deleted by ``townsquare retention apply`` (same rule, by
``last_activity``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import faust

from schemas.models import message_headers
from streams.steps.alert import expire_throttle
from streams.steps.expiry import Expired, expire_stored
from streams.worker.table_walk import owned_entries, owned_partitions, partition_count
from streams.worker.tables import source_partition

log = logging.getLogger("townsquare.enrich")

EVERY = 3600.0
"""Seconds between sweeps: an hour is fine grain for a retention of days."""

Publish = Callable[[str, bytes | None], Awaitable[Any]]
"""Send one thread's view (``None``: its tombstone) under its conversation id."""


async def _publish_nothing(key: str, value: bytes | None) -> None:
    return None


async def sweep(
    table: Any,
    owned: Iterable[int],
    partitions: int,
    cutoff: datetime,
    *,
    now: datetime | None = None,
    publish: Publish = _publish_nothing,
) -> Counter[str]:
    """Expire the states of ``table`` whose key is in an ``owned`` partition; counts by outcome.

    Each changed thread's view (or tombstone) goes to ``publish`` after the
    table write, stamped ``now`` (default: the clock).
    """
    stamp = now or datetime.now(UTC)
    return await expire_entries(
        table, owned, partitions, lambda stored: expire_stored(stored, cutoff, stamp), publish
    )


async def sweep_throttle(
    table: Any, owned: Iterable[int], partitions: int, cutoff: datetime
) -> Counter[str]:
    """Forget the alert firings before ``cutoff`` in ``table``'s owned entries; counts."""
    return await expire_entries(
        table, owned, partitions, lambda stored: expire_throttle(stored, cutoff)
    )


async def expire_entries(
    table: Any,
    owned: Iterable[int],
    partitions: int,
    judge: Callable[[Any], Expired],
    publish: Publish = _publish_nothing,
) -> Counter[str]:
    """Apply ``judge`` to each owned entry: delete, rewrite or leave it; counts by outcome.

    A deleted key publishes a tombstone, a rewritten one its ``view`` if the
    judge gave one.
    """
    outcomes: Counter[str] = Counter()
    async for key, part, stored in owned_entries(table, owned, partitions):
        expired = judge(stored)
        with source_partition(part):
            if expired.drop:
                del table[key]
                outcomes["dropped"] += 1
            elif expired.state is not None:
                table[key] = expired.state
                outcomes["trimmed"] += 1
        if expired.drop:
            await publish(key, None)
        elif expired.view is not None:
            await publish(key, expired.view)
    return outcomes


def register_expiry(
    app: faust.App,
    source: faust.TopicT,
    table: Any,
    retention_days: int,
    views: faust.TopicT | None = None,
) -> None:
    """Declare the sweep's timer on ``app`` for the table fed by ``source``.

    ``views`` is ``conversations.state``, where the sweep publishes what it
    changed; without it the sweep changes the table only.
    """

    async def publish(key: str, value: bytes | None) -> None:
        if views is not None:
            await views.send(
                key=key, value=value, headers=message_headers(value, "conversation_view")
            )

    async def expire(owned: list[int], partitions: int, cutoff: datetime) -> Counter[str]:
        return await sweep(table, owned, partitions, cutoff, publish=publish)

    retention_timer(
        app, source, retention_days, expire, "expire_conversations", "conversation states", "enrich"
    )


def register_throttle_expiry(
    app: faust.App, source: faust.TopicT, table: Any, retention_days: int
) -> None:
    """Declare the alert role's sweep of its throttle table (fed by ``source``) on ``app``."""

    async def expire(owned: list[int], partitions: int, cutoff: datetime) -> Counter[str]:
        return await sweep_throttle(table, owned, partitions, cutoff)

    retention_timer(
        app,
        source,
        retention_days,
        expire,
        "expire_alert_throttle",
        "alert throttle entries",
        "alert",
    )


Expire = Callable[[list[int], int, datetime], Awaitable[Counter[str]]]
"""One sweep: the owned partitions, the partition count and the retention cutoff in; the
entries ``dropped`` and ``trimmed`` out."""


def retention_timer(
    app: faust.App,
    source: faust.TopicT,
    retention_days: int,
    expire: Expire,
    name: str,
    what: str,
    stage: str,
) -> None:
    """Every :data:`EVERY` seconds, ``expire`` this worker's partitions of ``source``'s tables.

    ``name`` is the timer's, ``what`` the entries' in the log line, ``stage`` the role's.
    """
    topic = source.get_topic_name()

    async def tick() -> None:
        owned = owned_partitions(app, topic)
        if not owned:
            return
        cutoff = datetime.now(UTC) - timedelta(days=retention_days)
        outcomes = await expire(owned, partition_count(app, topic), cutoff)
        if outcomes:
            log.info(
                "%s past retention: %d dropped, %d trimmed",
                what,
                outcomes["dropped"],
                outcomes["trimmed"],
                extra={"stage": stage, **outcomes},
            )

    tick.__name__ = tick.__qualname__ = name  # Faust names a timer after its function
    app.timer(EVERY)(tick)
