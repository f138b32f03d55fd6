"""``townsquare setup`` against the real servers: idempotent, what it creates is right, and
retention follows the settings on topics and the ILM policy alike."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from support import Servers, isolated

from streams.cli.main import setup_lines
from streams.cli.setup import run_setup
from streams.es.client import sync_client
from streams.es.indices import ilm_policy_name
from streams.kafka_config import kafka_python_config
from streams.settings import Settings
from streams.topic_names import COMPACTED, CURSORS, HOLD_POSTS, RAW, TOPIC_NAMES

DAY_MS = 24 * 60 * 60 * 1000

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

        shorter = _same_prefix(iso.env, servers, tmp_path, TOWNSQUARE_RETENTION_DAYS="7")
        updated = run_setup(shorter)
        assert f"ilm policy {name} (delete after 7d, was 30d)" in updated.updated
        policy = es.ilm.get_lifecycle(name=name)[name]["policy"]
        assert policy["phases"]["delete"]["min_age"] == "7d"
        assert f"ilm policy {name}" in run_setup(shorter).existing
    finally:
        es.close()


def test_setup_reports_ilm_plainly_where_the_server_lacks_it(
    servers: Servers, tmp_path: Path
) -> None:
    if not servers.local:
        pytest.skip("only the local server lacks ILM")
    report = run_setup(isolated(servers, tmp_path).settings)
    (note,) = [u for u in report.unsupported if u.startswith("ILM")]
    assert "no ILM API" in note and "townsquare retention apply" in note
    assert not any("ilm" in line.lower() for line in report.updated + report.created)


def _same_prefix(env: dict[str, str], servers: Servers, tmp_path: Path, **changes: str) -> Settings:
    """The settings of an earlier ``isolated`` run (same topics and indices), with ``changes``."""
    keep = {k: v for k, v in env.items() if k.endswith("_PREFIX") or k == "TOWNSQUARE_APP_ID"}
    return isolated(servers, tmp_path, **{**keep, **changes}).settings


def _topic_configs(settings: Settings, names: Iterable[str]) -> dict[str, dict[str, str]]:
    """The configs set on each topic (logical name -> key -> value), as the brokers say."""
    admin = KafkaAdminClient(**kafka_python_config(settings))
    try:
        topics = {settings.topic(n): n for n in names}
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics]
        )["topic"]
        return {
            topics[t]: {k: entry["value"] for k, entry in configs.items()}
            for t, configs in described.items()
        }
    finally:
        admin.close()


def test_topics_holding_posts_get_the_retention_and_follow_a_change(
    servers: Servers, tmp_path: Path
) -> None:
    # A retention shorter than the 7-day default replay window bounds the topics too.
    iso = isolated(servers, tmp_path, TOWNSQUARE_RETENTION_DAYS="5")
    run_setup(iso.settings)
    created = _topic_configs(iso.settings, TOPIC_NAMES)
    for name in HOLD_POSTS:
        assert created[name]["retention.ms"] == str(5 * DAY_MS), name
    for name in COMPACTED:
        assert created[name]["cleanup.policy"] == "compact", name
        assert "retention.ms" not in created[name], f"{name} is bounded by compaction, not time"

    # Topics may keep posts for less time than the index: 2 days on topics, 30 in the index.
    shorter = _same_prefix(
        iso.env,
        servers,
        tmp_path,
        TOWNSQUARE_RETENTION_DAYS="30",
        TOWNSQUARE_TOPIC_RETENTION_DAYS="2",
    )
    report = run_setup(shorter)
    assert report.created == []
    assert sorted(report.updated) == sorted(
        f"topic {shorter.topic(n)} retention.ms {2 * DAY_MS} (was {5 * DAY_MS})" for n in HOLD_POSTS
    )
    after = _topic_configs(shorter, TOPIC_NAMES)
    for name in HOLD_POSTS:
        assert after[name] == {"cleanup.policy": "delete", "retention.ms": str(2 * DAY_MS)}, name
    for name in COMPACTED:
        assert after[name] == created[name], f"{name} is left as it was"
    lines = [line.plain for line in setup_lines(report)]
    assert (
        f"updated  topic {shorter.topic(RAW)} retention.ms {2 * DAY_MS} (was {5 * DAY_MS})" in lines
    )

    again = run_setup(shorter)
    assert again.updated == [] and again.created == []


def test_setup_adds_a_newer_templates_fields_to_existing_indices(
    servers: Servers, tmp_path: Path
) -> None:
    """An upgrade that adds a field must not leave older strict indices refusing documents."""
    from streams.es.client import sync_client

    iso = isolated(servers, tmp_path)
    alerts = iso.settings.index_alias("alerts")
    posts = iso.settings.index_alias("posts")
    es = sync_client(iso.settings)
    try:
        # Indices as an older version created them (before its templates): strict, fewer
        # fields; the posts one lacks a field inside an object (joinability.reason_codes
        # came that way), the alerts one whole top-level fields.
        es.indices.create(
            index=f"{alerts}-000001",
            mappings={"dynamic": "strict", "properties": {"id": {"type": "keyword"}}},
            aliases={alerts: {"is_write_index": True}},
        )
        es.indices.create(
            index=f"{posts}-000001",
            mappings={
                "dynamic": "strict",
                "properties": {"joinability": {"properties": {"score": {"type": "float"}}}},
            },
            aliases={posts: {"is_write_index": True}},
        )
        report = run_setup(iso.settings)
        [line] = [u for u in report.updated if u.startswith(f"mapping of {alerts}:")]
        assert "rule" in line and "spike" in line
        mapped = es.indices.get_mapping(index=f"{alerts}-000001")[f"{alerts}-000001"]
        assert {"rule", "severity", "why", "spike"} <= set(mapped["mappings"]["properties"])
        [line] = [u for u in report.updated if u.startswith(f"mapping of {posts}:")]
        assert "joinability.reason_codes" in line
        got = es.indices.get_mapping(index=f"{posts}-000001")[f"{posts}-000001"]["mappings"]
        assert "reason_codes" in got["properties"]["joinability"]["properties"]
        again = run_setup(iso.settings)
        assert not [u for u in again.updated if u.startswith("mapping of")], "nothing left to add"
    finally:
        es.close()


def test_drift_is_reported_and_apply_sets_configs_back_but_never_partitions(
    servers: Servers, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    from kafka.admin import NewTopic

    iso = isolated(servers, tmp_path, TOWNSQUARE_TOPIC_PARTITIONS="3")
    cursors, raw = iso.settings.topic(CURSORS), iso.settings.topic(RAW)
    admin = KafkaAdminClient(**kafka_python_config(iso.settings))
    try:  # made by hand, wrongly: a compacted topic with delete, and too few partitions
        admin.create_topics(
            [
                NewTopic(cursors, 3, 1, topic_configs={"cleanup.policy": "delete"}),
                NewTopic(raw, 1, 1),
            ]
        )
    finally:
        admin.close()

    first = run_setup(iso.settings)
    assert any(cursors in d and "cleanup.policy is delete" in d for d in first.drift)
    assert any(raw in d and "has 1 partitions" in d for d in first.drift), first.drift
    assert len(first.drift) == 2

    applied = run_setup(iso.settings, apply=True)
    assert f"topic {cursors} cleanup.policy compact (was delete)" in applied.updated
    assert [d for d in applied.drift if raw in d], "partitions are reported, never changed"

    again = run_setup(iso.settings)
    assert len(again.drift) == 1 and raw in again.drift[0]
    admin = KafkaAdminClient(**kafka_python_config(iso.settings))
    try:
        (described,) = admin.describe_topics([raw])
        assert len(described["partitions"]) == 1
    finally:
        admin.close()

    result = subprocess.run(
        [sys.executable, "-m", "streams.cli.main", "setup", "--check"],
        env={**os.environ, **iso.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "drift" in result.stdout and raw in result.stdout


def test_a_changed_field_type_is_reported_and_rolls_in_with_the_next_index(
    servers: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/upgrading.md, "A new index template": the type change reaches the next index."""
    import asyncio
    import copy

    from streams.es import indices
    from streams.es.client import async_client
    from streams.es.holders import holders_once

    iso = isolated(servers, tmp_path)
    posts = iso.settings.index_alias("posts")
    run_setup(iso.settings)
    es = sync_client(iso.settings)
    try:
        es.index(index=posts, id="x:1", document={"id": "x:1", "platform": "x"}, refresh=True)

        shipped = indices.load_template

        def newer(family: str) -> dict[str, object]:
            template = copy.deepcopy(shipped(family))
            if family == "posts":  # a release that turns `lang` from keyword into text
                template["template"]["mappings"]["properties"]["lang"] = {"type": "text"}
            return template

        monkeypatch.setattr(indices, "load_template", newer)
        report = run_setup(iso.settings)
        assert any(posts in u and "changed type" in u for u in report.unsupported)
        old = f"{posts}-000001"
        mapped = es.indices.get_mapping(index=old)[old]["mappings"]["properties"]
        assert mapped["lang"]["type"] == "keyword", "an existing index keeps its mapping"

        rolled = es.indices.rollover(alias=posts)
        new = rolled["new_index"]
        mapped = es.indices.get_mapping(index=new)[new]["mappings"]["properties"]
        assert mapped["lang"]["type"] == "text", "the next index takes the new template"
        es.index(index=posts, id="x:2", document={"id": "x:2", "lang": "en gb"}, refresh=True)
        found = es.search(index=posts, query={"match_all": {}})["hits"]["hits"]
        assert {h["_id"]: h["_index"] for h in found} == {"x:1": old, "x:2": new}
    finally:
        es.close()

    async def where() -> dict[str, list[str]]:
        client = async_client(iso.settings)
        try:
            return await holders_once(client, f"{posts}-*", ["x:1", "x:2"])
        finally:
            await client.close()

    # The index stage still finds the old document where it is (edits, deletes, erasures).
    assert asyncio.run(where()) == {"x:1": [old], "x:2": [new]}
