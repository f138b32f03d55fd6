"""``townsquare setup``: everything the pipeline needs to exist, created idempotently.

Run again after changing a retention setting: existing topics and the ILM
policy are brought in line with it and reported as ``updated``.
"""

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
    updated: list[str] = field(default_factory=list)
    """Resources that existed with other settings and were changed to match them."""


def run_setup(settings: Settings) -> Report:
    report = Report()
    topics = create_topics(settings)
    report.created += [f"topic {t}" for t in topics.created]
    report.existing += [f"topic {t}" for t in topics.existing]
    report.updated += [f"topic {t}" for t in topics.updated]
    es = sync_client(settings)
    try:
        indices = install(es, settings)
    finally:
        es.close()
    report.created += indices.created
    report.existing += indices.existing
    report.updated += indices.updated
    report.unsupported += indices.unsupported
    return report
