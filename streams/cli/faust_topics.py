"""Create Faust's internal topics at ``setup``, exactly as a worker would declare them.

A Faust worker declares its internal topics when it starts (and again on
every rebalance): each table's changelog, the leader assignor's topic and
every ``internal=True`` topic an agent reads (the alert role's arrivals
topic). Faust only sends the CreateTopics request when its client's metadata
does not already list the topic, so a worker whose topics exist needs Read,
Write and Describe on them but not the Kafka Create ACL. ``setup`` runs with
an admin principal anyway; creating them here lets the worker principals go
without Create.

The set of topics is not written down a second time: :func:`faust_internal_topics`
builds the app a worker with role ``all`` builds (:func:`streams.worker.app.create_worker`,
which only declares things: no connection, no thread, no file) and reads the
topics off it, so a new table or internal topic is created by ``setup`` with
no change here. Role ``all`` declares the union of every role's tables and
topics, under the pipeline's group (``settings.app_id``). A worker running
only the side roles (alert, notify) is in a group of its own
(:func:`streams.worker.roles.consumer_group`), whose topics have other names.
``setup`` creates those of the groups the Helm chart deploys as well
(:data:`GROUPS`: ``alert`` alone and ``notify`` alone); a worker running
``--role alert --role notify`` together is in ``<app id>-alert-notify``, whose
topics it still creates itself.

The configs mirror Faust's own (``faust.transport.drivers.aiokafka.Transport._topic_config``
and ``Topic.declare``): ``cleanup.policy`` from the topic's ``compacting`` and
``deleting`` flags (``compact`` for a table, ``compact,delete`` for a windowed
one), ``retention.ms`` from its retention (a windowed table's ``expires``),
then the topic's extra ``config`` on top; partitions from the topic or else
``topic_partitions``, replication from the topic or else
``topic_replication_factor`` (both from the settings). Existing topics are
never changed (Faust does not change them either); a partition count other
than the one declared is reported as drift.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.settings import Settings

if TYPE_CHECKING:
    import faust

CLEANUP_POLICY = "cleanup.policy"
RETENTION_MS = "retention.ms"


@dataclass(frozen=True)
class InternalTopic:
    """One Faust-internal topic as a worker would create it."""

    name: str
    partitions: int
    replication: int
    configs: dict[str, str]


class _Report(Protocol):
    """What :func:`create_faust_topics` fills in (``kafka_topics.TopicReport`` is one)."""

    created: list[str]
    existing: list[str]
    drift: list[str]


def faust_internal_topics(
    settings: Settings, roles: Iterable[str] = ("all",)
) -> list[InternalTopic]:
    """The internal topics a worker running ``roles`` declares, sorted by name.

    Builds the app as ``townsquare worker`` does (same group naming, same
    :func:`~streams.worker.app.create_worker`) but never starts it.
    """
    from streams.worker.app import create_worker
    from streams.worker.roles import consumer_group, resolve

    wanted = resolve(roles)
    grouped = settings.model_copy(update={"app_id": consumer_group(settings.app_id, wanted)})
    app = create_worker(grouped, wanted).app
    found: dict[str, InternalTopic] = {}
    for channel in _internal_channels(app):
        for topic in _as_topics(app, channel):
            found.setdefault(topic.name, topic)
    return [found[name] for name in sorted(found)]


def _internal_channels(app: faust.App) -> list[Any]:
    """The topics Faust calls ``maybe_declare`` on when the worker runs.

    Tables declare their changelog on start, the leader assignor its topic
    (unless ``topic_disable_leader``), and the conductor every subscribed
    channel marked ``internal`` (an agent's ``internal=True`` topic).
    """
    channels: list[Any] = [table.changelog_topic for table in app.tables.values()]
    if not app.conf.topic_disable_leader:
        from faust.assignor.leader_assignor import LeaderAssignor

        leader = cast(LeaderAssignor, app._leader_assignor)
        channels.append(leader._leader_topic)  # a cached_property: builds the Topic, no I/O
    channels += [agent.channel for agent in app.agents.values() if agent.channel.internal]
    return channels


def _as_topics(app: faust.App, channel: Any) -> list[InternalTopic]:
    """``Topic.declare`` and ``Transport._topic_config`` of faust-streaming, without the I/O."""
    partitions = channel.partitions or app.conf.topic_partitions
    replication = channel.replicas or app.conf.topic_replication_factor or 1
    configs = faust_topic_config(channel.retention, channel.compacting, channel.deleting)
    configs.update({k: str(v) for k, v in (channel.config or {}).items()})
    return [
        InternalTopic(name, int(partitions), int(replication), dict(configs))
        for name in channel.topics
    ]


def faust_topic_config(
    retention: Any, compacting: bool | None, deleting: bool | None
) -> dict[str, str]:
    """The configs Faust sends for a topic with these flags (values as the brokers keep them).

    ``retention`` is seconds or a ``timedelta`` (Faust's ``Seconds``); like
    Faust, a missing or zero retention sets no ``retention.ms``.
    """
    from mode.utils.times import want_seconds

    config: dict[str, str] = {}
    flags = ({"compact"} if compacting else set()) | ({"delete"} if deleting else set())
    if flags:
        config[CLEANUP_POLICY] = ",".join(sorted(flags))
    retention_ms = int(want_seconds(retention) * 1000.0) if retention else None
    if retention_ms:
        config[RETENTION_MS] = str(retention_ms)
    return config


GROUPS: tuple[tuple[str, ...], ...] = (("all",), ("alert",), ("notify",))
"""The role sets whose groups ``setup`` creates topics for: the pipeline's, and the chart's
two side-role deployments (each in its own consumer group)."""


def create_faust_topics(admin: KafkaAdminClient, settings: Settings, report: _Report) -> None:
    """Create the missing internal topics of every group in :data:`GROUPS`; report the rest.

    Topics that exist are left as they are, like Faust leaves them; only a
    partition count other than the declared one is reported (see
    :func:`_check_partitions`).
    """
    existing = set(admin.list_topics())
    kept: dict[str, int] = {}
    declared = {t.name: t for roles in GROUPS for t in faust_internal_topics(settings, roles)}
    for topic in declared.values():
        if topic.name not in existing:
            try:
                admin.create_topics(
                    [
                        NewTopic(
                            name=topic.name,
                            num_partitions=topic.partitions,
                            replication_factor=topic.replication,
                            topic_configs=topic.configs,
                        )
                    ]
                )
                report.created.append(topic.name)
                continue
            except TopicAlreadyExistsError:
                pass  # a worker or another setup created it meanwhile
        report.existing.append(topic.name)
        kept[topic.name] = topic.partitions
    if kept:
        _check_partitions(admin, kept, report)


def _check_partitions(admin: KafkaAdminClient, kept: dict[str, int], report: _Report) -> None:
    """Report internal topics whose partition count is not the declared one (never changed).

    A changelog with another count than its table's source topic breaks the
    co-partitioning recovery relies on; Faust would use the topic as it is.
    """
    for described in admin.describe_topics(list(kept)):
        count = len(described.get("partitions") or [])
        full = described.get("name") or described.get("topic")  # the field was renamed
        if not full or full not in kept or count == kept[full]:
            continue
        wanted = kept[full]
        report.drift.append(
            f"{full} has {count} partitions, the worker declares {wanted}: Faust uses "
            "the topic as it is and setup never changes it (docs/operations.md, "
            "State and recovery)"
        )
