"""Create the pipeline's topics idempotently, and keep their retention in step with the settings.

Topics that hold people's posts (:data:`~streams.topic_names.HOLD_POSTS`) get
``retention.ms`` from ``TOWNSQUARE_TOPIC_RETENTION_DAYS`` (else
``TOWNSQUARE_RETENTION_DAYS``), so Kafka forgets a post no later than the index
does; compacted topics keep the latest value per key and are not time-bounded.
A topic that already exists is described and, when its retention differs from
the settings, altered: shortening the retention in the settings must shorten it
on the brokers at the next ``setup``, not only on topics created from then on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import TopicAlreadyExistsError

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
    """``<topic> retention.ms <new> (was <old>)``, one per topic whose retention changed."""


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


def create_topics(settings: Settings) -> TopicReport:
    """Create missing topics and align the retention of existing ones; safe to run again."""
    report = TopicReport()
    admin = KafkaAdminClient(client_id="townsquare-setup", **kafka_python_config(settings))
    try:
        existing = set(admin.list_topics())
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
            if name in HOLD_POSTS:
                change = _align_retention(admin, full, topic_configs(name, settings))
                if change is not None:
                    report.updated.append(change)
    finally:
        admin.close()
    return report


def _current_retention(admin: KafkaAdminClient, topic: str) -> str | None:
    """The topic's effective ``retention.ms`` (a broker default counts), or None if not told."""
    described: dict[str, Any] = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic, configs={RETENTION_MS: None})],
        config_filter="all",
    )
    entry = described.get("topic", {}).get(topic, {}).get(RETENTION_MS)
    value = entry.get("value") if isinstance(entry, dict) else None
    return str(value) if value is not None else None


def _align_retention(admin: KafkaAdminClient, topic: str, wanted: dict[str, str]) -> str | None:
    """Set ``wanted`` on ``topic`` when its retention differs; the report line, or None."""
    old = _current_retention(admin, topic)
    new = wanted[RETENTION_MS]
    if old == new:
        return None
    # Every config townsquare manages for the topic goes in one request, never
    # retention.ms alone: the non-incremental AlterConfigs request replaces the
    # topic's whole dynamic config, resetting every key it does not name (a
    # compacted topic would silently go back to delete). kafka-python uses
    # IncrementalAlterConfigs where the brokers support it (2.3+, and the local
    # stand-in) and falls back to AlterConfigs otherwise, filling in the other
    # modified keys it reads first; sending the full managed set keeps both
    # paths correct.
    result: dict[str, Any] = admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic, configs=dict(wanted))]
    )
    outcome = result.get("topic", {}).get(topic)
    if outcome != "OK":
        raise TopicConfigError(f"could not set {RETENTION_MS}={new} on topic {topic}: {outcome}")
    return f"{topic} {RETENTION_MS} {new} (was {old or 'unset'})"
