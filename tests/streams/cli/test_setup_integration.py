"""``townsquare setup`` against the real servers: idempotent, and what it creates is right."""

from __future__ import annotations

from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from support import Servers, isolated

from streams.cli.setup import run_setup
from streams.es.client import sync_client
from streams.es.indices import ilm_policy_name
from streams.kafka_config import kafka_python_config
from streams.topic_names import CURSORS, RAW, TOPIC_NAMES

pytestmark = pytest.mark.integration


def test_setup_twice_creates_once_and_reports_the_rest_as_existing(
    servers: Servers, tmp_path: Path
) -> None:
    iso = isolated(servers, tmp_path, TOWNSQUARE_TOPIC_PARTITIONS="3")
    first = run_setup(iso.settings)
    second = run_setup(iso.settings)
    topics = {f"topic {iso.settings.topic(n)}" for n in TOPIC_NAMES}
    assert topics <= set(first.created)
    assert second.created == []
    assert topics <= set(second.existing)
    assert first.unsupported == second.unsupported

    admin = KafkaAdminClient(**kafka_python_config(iso.settings))
    try:
        described = admin.describe_topics([iso.settings.topic(n) for n in TOPIC_NAMES])
        assert {len(t["partitions"]) for t in described} == {3}

        def cleanup_policy(name: str) -> str | None:
            topic = iso.settings.topic(name)
            configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
            entry = configs["topic"][topic].get("cleanup.policy")
            return entry["value"] if entry else None

        assert cleanup_policy(CURSORS) == "compact"
        assert cleanup_policy(RAW) in (None, "delete")
    finally:
        admin.close()

    es = sync_client(iso.settings)
    try:
        for family in ("posts", "alerts"):
            alias = iso.settings.index_alias(family)
            assert es.indices.get_alias(name=alias) == {
                f"{alias}-000001": {"aliases": {alias: {"is_write_index": True}}}
            }
            mapping = es.indices.get_mapping(index=alias)[f"{alias}-000001"]["mappings"]
            assert mapping["dynamic"] == "strict"
        posts = es.indices.get_mapping(index=iso.settings.index_alias("posts"))
        props = next(iter(posts.values()))["mappings"]["properties"]
        assert props["entities"]["type"] == "nested"
        assert props["text"]["analyzer"] == "english"
        assert props["joinability"]["properties"]["score"]["type"] == "float"
    finally:
        es.close()


@pytest.mark.needs_real_services
def test_ilm_policy_deletes_after_the_configured_retention(
    servers: Servers, tmp_path: Path
) -> None:
    if servers.local:
        pytest.skip("the local search server has no ILM API; set TOWNSQUARE_ES_URL to a real one")
    iso = isolated(servers, tmp_path, TOWNSQUARE_RETENTION_DAYS="30")
    report = run_setup(iso.settings)
    assert not any(u.startswith("ILM") for u in report.unsupported)
    es = sync_client(iso.settings)
    try:
        name = ilm_policy_name(iso.settings)
        policy = es.ilm.get_lifecycle(name=name)[name]["policy"]
        assert policy["phases"]["delete"]["min_age"] == "30d"
        settings = es.indices.get_settings(index=f"{iso.settings.index_alias('posts')}-000001")
        index = next(iter(settings.values()))["settings"]["index"]
        assert index["lifecycle"]["name"] == name
    finally:
        es.close()


def test_setup_reports_ilm_plainly_where_the_server_lacks_it(
    servers: Servers, tmp_path: Path
) -> None:
    if not servers.local:
        pytest.skip("only the local server lacks ILM")
    report = run_setup(isolated(servers, tmp_path).settings)
    assert any(u.startswith("ILM") and "no ILM API" in u for u in report.unsupported)
