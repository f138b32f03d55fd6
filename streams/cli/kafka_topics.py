"""Create the pipeline's topics idempotently, keep retention in step, report other drift.

Topics that hold people's posts (:data:`~streams.topic_names.HOLD_POSTS`) get
``retention.ms`` from ``TOWNSQUARE_TOPIC_RETENTION_DAYS`` (else
``TOWNSQUARE_RETENTION_DAYS``), so Kafka forgets a post no later than the index
does; compacted topics keep the latest value per key and are not time-bounded.
A topic that already exists is described and, when its retention differs from
the settings, altered: shortening the retention in the settings must shorten it
on the brokers at the next ``setup``, not only on topics created from then on.

Faust's internal topics (tables' changelogs, the assignor topic, the arrivals
topic) are created too, exactly as a worker would declare them
(:mod:`streams.cli.faust_topics`), so workers need no Create ACL; they are
never altered once they exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.cli.faust_topics import create_faust_topics
from streams.kafka_config import kafka_python_config
from streams.settings import Settings
from streams.topic_names import COMPACTED, HOLD_POSTS, TOPIC_NAMES

RETENTION_MS = "retention.ms"
CLEANUP_POLICY = "cleanup.policy"


@dataclass
class TopicReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    """``<topic> <config> <new> (was <old>)``, one per config changed to match the settings."""
    drift: list[str] = field(default_factory=list)
    """What differs from the settings and was left as it is, each with what to do."""


class TopicConfigError(RuntimeError):
    """The brokers refused to change a topic's configuration."""


def topic_configs(name: str, settings: Settings) -> dict[str, str]:
    """Every topic config townsquare manages for the logical topic ``name``.

    The whole set, not only what differs from the broker defaults: the same
    dict is sent when a topic's config is altered (see :func:`_align_retention`).
    """
    if name in COMPACTED:
        return {CLEANUP_POLICY: "compact"}
    if name in HOLD_POSTS:
        return {CLEANUP_POLICY: "delete", RETENTION_MS: str(settings.topic_retention_ms)}
    return {}


def create_topics(settings: Settings, *, apply: bool = False) -> TopicReport:
    """Create missing topics, align retention, report (or with ``apply`` fix) other drift.

    Safe to run again: a second run creates nothing and changes nothing.
    """
    report = TopicReport()
    admin = KafkaAdminClient(client_id="townsquare-setup", **kafka_python_config(settings))
    try:
        existing = set(admin.list_topics())
        kept: dict[str, str] = {}  # full name -> logical name, for topics that were there
        for name in TOPIC_NAMES:
            full = settings.topic(name)
            if full not in existing:
                try:
                    admin.create_topics(
                        [
                            NewTopic(
                                name=full,
                                num_partitions=settings.topic_partitions,
                                replication_factor=settings.topic_replication,
                                topic_configs=topic_configs(name, settings),
                            )
                        ]
                    )
                    report.created.append(full)
                    continue
                except TopicAlreadyExistsError:
                    pass  # created meanwhile by another setup: align it like any existing one
            report.existing.append(full)
            kept[full] = name
            if name in HOLD_POSTS:
                change = _align_retention(admin, full, topic_configs(name, settings))
                if change is not None:
                    report.updated.append(change)
        if kept:
            _check_policies(admin, kept, settings, report, apply)
            _check_partitions(admin, kept, settings, report)
        # Faust's own topics (changelogs, assignor, arrivals), so workers need no Create ACL.
        create_faust_topics(admin, settings, report)
    finally:
        admin.close()
    return report


def _check_policies(
    admin: KafkaAdminClient,
    kept: dict[str, str],
    settings: Settings,
    report: TopicReport,
    apply: bool,
) -> None:
    """Compare each managed ``cleanup.policy``; set it back with ``apply``, else report it."""
    managed = {full: topic_configs(name, settings) for full, name in kept.items()}
    wanted = {full: configs for full, configs in managed.items() if CLEANUP_POLICY in configs}
    if not wanted:
        return
    current = _describe(admin, list(wanted), CLEANUP_POLICY)
    for full, configs in wanted.items():
        have = current.get(full) or "delete"  # Kafka's default when the topic sets none
        want = configs[CLEANUP_POLICY]
        if have == want:
            continue
        if not apply:
            report.drift.append(
                f"{full} {CLEANUP_POLICY} is {have}, townsquare needs {want}: "
                "run `townsquare setup --apply` to set it"
            )
            continue
        _alter(admin, full, configs, f"{CLEANUP_POLICY}={want}")
        report.updated.append(f"{full} {CLEANUP_POLICY} {want} (was {have})")


def _check_partitions(
    admin: KafkaAdminClient, kept: dict[str, str], settings: Settings, report: TopicReport
) -> None:
    """Report topics whose partition count is not the configured one (never changed here)."""
    wanted = settings.topic_partitions
    for described in admin.describe_topics(list(kept)):
        count = len(described.get("partitions") or [])
        full = described.get("name") or described.get("topic")  # the field was renamed
        if not full or count == wanted:
            continue
        if count < wanted:
            report.drift.append(
                f"{full} has {count} partitions, TOWNSQUARE_TOPIC_PARTITIONS says {wanted}: "
                "partitions are not added in place (keys, and the conversation state with "
                "them, would move); move to a new topic version (docs/operations.md)"
            )
        else:
            report.drift.append(
                f"{full} has {count} partitions, more than the {wanted} configured: workers "
                f"use all {count}; set TOWNSQUARE_TOPIC_PARTITIONS={count} to match"
            )


def _describe(admin: KafkaAdminClient, topics: list[str], key: str) -> dict[str, str | None]:
    """One config's effective value for each topic (a broker default counts), in one request."""
    described: dict[str, Any] = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, t, configs={key: None}) for t in topics],
        config_filter="all",
    )
    out: dict[str, str | None] = {}
    for topic in topics:
        entry = described.get("topic", {}).get(topic, {}).get(key)
        value = entry.get("value") if isinstance(entry, dict) else None
        out[topic] = str(value) if value is not None else None
    return out


def _align_retention(admin: KafkaAdminClient, topic: str, wanted: dict[str, str]) -> str | None:
    """Set ``wanted`` on ``topic`` when its retention differs; the report line, or None."""
    old = _describe(admin, [topic], RETENTION_MS).get(topic)
    new = wanted[RETENTION_MS]
    if old == new:
        return None
    _alter(admin, topic, wanted, f"{RETENTION_MS}={new}")
    return f"{topic} {RETENTION_MS} {new} (was {old or 'unset'})"


def _alter(admin: KafkaAdminClient, topic: str, wanted: dict[str, str], what: str) -> None:
    """Set every config townsquare manages for ``topic`` in one request.

    Never one key alone: the non-incremental AlterConfigs request replaces the
    topic's whole dynamic config, resetting every key it does not name (a
    compacted topic would silently go back to delete). kafka-python uses
    IncrementalAlterConfigs where the brokers support it (2.3+, and the local
    stand-in) and falls back to AlterConfigs otherwise, filling in the other
    modified keys it reads first; sending the full managed set keeps both
    paths correct.
    """
    result: dict[str, Any] = admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic, configs=dict(wanted))]
    )
    outcome = result.get("topic", {}).get(topic)
    if outcome != "OK":
        raise TopicConfigError(f"could not set {what} on topic {topic}: {outcome}")
