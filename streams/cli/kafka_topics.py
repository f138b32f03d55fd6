"""Create the pipeline's topics idempotently with kafka-python's admin client."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.kafka_config import kafka_python_config
from streams.settings import Settings
from streams.topic_names import COMPACTED, TOPIC_NAMES


@dataclass
class TopicReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


def topic_configs(name: str) -> dict[str, str]:
    if name in COMPACTED:
        return {"cleanup.policy": "compact"}
    return {}


def create_topics(settings: Settings) -> TopicReport:
    report = TopicReport()
    admin = KafkaAdminClient(client_id="townsquare-setup", **kafka_python_config(settings))
    try:
        existing = set(admin.list_topics())
        for name in TOPIC_NAMES:
            full = settings.topic(name)
            if full in existing:
                report.existing.append(full)
                continue
            try:
                admin.create_topics(
                    [
                        NewTopic(
                            name=full,
                            num_partitions=settings.topic_partitions,
                            replication_factor=settings.topic_replication,
                            topic_configs=topic_configs(name),
                        )
                    ]
                )
                report.created.append(full)
            except TopicAlreadyExistsError:
                report.existing.append(full)
    finally:
        admin.close()
    return report
