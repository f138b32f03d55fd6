"""``townsquare setup``: everything the pipeline needs to exist, created idempotently.

Run again after changing a retention setting: existing topics and the ILM
policy are brought in line with it and reported as ``updated``. Other drift
(a topic's ``cleanup.policy`` or partition count) is reported as ``drift``;
``--apply`` sets the configs back, ``--check`` exits 1 while any is left.
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
    drift: list[str] = field(default_factory=list)
    """What differs from the settings and was left alone, each with what to do about it."""


def run_setup(settings: Settings, *, apply: bool = False) -> Report:
    """Create what is missing; ``apply`` also sets back topic configs that drifted."""
    report = Report()
    topics = create_topics(settings, apply=apply)
    report.drift += [f"topic {line}" for line in topics.drift]
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
