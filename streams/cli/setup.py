"""``townsquare setup``: everything the pipeline needs to exist, created idempotently."""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.cli.kafka_topics import create_topics
from streams.es.client import sync_client
from streams.es.indices import install
from streams.settings import Settings


@dataclass
class Report:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)


def run_setup(settings: Settings) -> Report:
    report = Report()
    topics = create_topics(settings)
    report.created += [f"topic {t}" for t in topics.created]
    report.existing += [f"topic {t}" for t in topics.existing]
    es = sync_client(settings)
    try:
        indices = install(es, settings)
    finally:
        es.close()
    report.created += indices.created
    report.existing += indices.existing
    report.unsupported += indices.unsupported
    return report
