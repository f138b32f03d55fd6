"""``townsquare setup`` creates Faust's internal topics as a worker declares them.

So that workers can run without the Kafka Create ACL: after ``setup`` a real
worker must find every topic it declares and send no CreateTopics request.
The local stand-in has no authorizer, so the worker's requests are watched
instead: a ``sitecustomize`` on the worker's ``PYTHONPATH`` logs every
CreateTopics request its aiokafka clients send (Kafka checks Create only on
that request; the topics exist, so no metadata request auto-creates one).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from mode.utils.times import want_seconds
from support import Servers, crashes, isolated, running_worker, wait_for

from streams.cli.faust_topics import faust_internal_topics
from streams.cli.setup import run_setup
from streams.kafka_config import kafka_python_config
from streams.settings import Settings
from streams.worker.app import create_worker

pytestmark = pytest.mark.integration

CREATE_SENT = "TEST-HOOK CreateTopics sent"
HOOK_LOADED = "TEST-HOOK loaded"

HOOK = f"""
import sys

try:
    import aiokafka.client as _client
except Exception as exc:  # the worker would fail anyway; say why here
    print("TEST-HOOK failed", exc, file=sys.stderr, flush=True)
else:
    _send = _client.AIOKafkaClient.send

    async def send(self, node_id, request, *args, **kwargs):
        if type(request).__name__.startswith("CreateTopicsRequest"):
            print({CREATE_SENT!r}, request, file=sys.stderr, flush=True)
        return await _send(self, node_id, request, *args, **kwargs)

    _client.AIOKafkaClient.send = send
    print({HOOK_LOADED!r}, file=sys.stderr, flush=True)
"""


def _expected(settings: Settings) -> dict[str, tuple[int, dict[str, str]]]:
    """Name -> (partitions, configs) computed from the app's own objects, with Faust's code.

    Independent of :mod:`streams.cli.faust_topics`: the tables' changelog topic
    names as the tables report them, the assignor and arrivals names as
    docs/operations.md gives them, the configs from Faust's transport.
    """
    app = create_worker(settings, ("all",)).app
    transport: Any = app.transport

    def config(topic: Any) -> dict[str, str]:
        # What faust.transport.drivers.aiokafka's create_topic does to the retention.
        ms = int(want_seconds(topic.retention) * 1000.0) if topic.retention else None
        wanted = transport._topic_config(ms, topic.compacting, topic.deleting)
        return {k: str(v) for k, v in wanted.items()}

    out = {
        t.changelog_topic_name: (t.changelog_topic.partitions, config(t.changelog_topic))
        for t in app.tables.values()
    }
    out[f"{settings.app_id}-__assignor-__leader"] = (1, {})
    (arrivals,) = [a.channel for a in app.agents.values() if a.channel.internal]
    out[f"{settings.app_id}-silence-arrivals"] = (settings.topic_partitions, config(arrivals))
    return out


def _described(settings: Settings, names: list[str]) -> dict[str, tuple[int, dict[str, str]]]:
    """Name -> (partitions, the configs Faust manages) as the brokers have them."""
    admin = KafkaAdminClient(**kafka_python_config(settings))
    try:
        parts = {
            t["topic"] if "topic" in t else t["name"]: len(t["partitions"])
            for t in admin.describe_topics(names)
        }
        configs = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
        )["topic"]
        return {
            name: (
                parts[name],
                {
                    k: entry["value"]
                    for k, entry in configs[name].items()
                    if k in ("cleanup.policy", "retention.ms") and entry
                },
            )
            for name in names
        }
    finally:
        admin.close()


def test_setup_creates_faust_topics_once_with_faust_configs(
    servers: Servers, tmp_path: Path
) -> None:
    iso = isolated(servers, tmp_path, TOWNSQUARE_TOPIC_PARTITIONS="3")
    expected = _expected(iso.settings)
    topics = faust_internal_topics(iso.settings)
    assert {t.name for t in topics} == set(expected)
    assert {t.name: (t.partitions, t.configs) for t in topics} == expected
    assert {t.replication for t in topics} == {iso.settings.topic_replication}
    changelogs = {n for n in expected if n.endswith("-changelog")}
    assert len(changelogs) == 7  # conversations, post_locations and the alert role's five

    first = run_setup(iso.settings)
    assert {f"topic {n}" for n in expected} <= set(first.created)
    got = _described(iso.settings, sorted(expected))
    for name, (partitions, configs) in expected.items():
        have_partitions, have = got[name]
        assert have_partitions == partitions, name
        assert have.get("cleanup.policy", "delete") == configs.get("cleanup.policy", "delete"), name
        if "retention.ms" in configs:
            assert have["retention.ms"] == configs["retention.ms"], name
    spikes = f"{iso.settings.app_id}-spike_counts-changelog"
    assert got[spikes][1]["cleanup.policy"] == "compact,delete"
    # The chart's side-role deployments run in groups of their own: their topics too.
    side = {
        t.name
        for roles in (("alert",), ("notify",))
        for t in faust_internal_topics(iso.settings, roles)
    }
    assert f"{iso.settings.app_id}-alert-deadlines-changelog" in side
    assert f"{iso.settings.app_id}-notify-__assignor-__leader" in side
    assert {f"topic {n}" for n in side} <= set(first.created)
    assert got[f"{iso.settings.app_id}-conversations-changelog"][1]["cleanup.policy"] == "compact"

    second = run_setup(iso.settings)
    assert second.created == []
    assert {f"topic {n}" for n in expected} <= set(second.existing)
    assert second.drift == []


def test_faust_topic_drift_is_reported_never_changed(servers: Servers, tmp_path: Path) -> None:
    from kafka.admin import NewTopic

    iso = isolated(servers, tmp_path, TOWNSQUARE_TOPIC_PARTITIONS="3")
    changelog = f"{iso.settings.app_id}-conversations-changelog"
    admin = KafkaAdminClient(**kafka_python_config(iso.settings))
    try:
        admin.create_topics(
            [NewTopic(changelog, 1, 1, topic_configs={"cleanup.policy": "compact"})]
        )
    finally:
        admin.close()
    report = run_setup(iso.settings)
    assert f"topic {changelog}" in report.existing
    assert [d for d in report.drift if changelog in d and "has 1 partitions" in d], report.drift
    assert _described(iso.settings, [changelog])[changelog][0] == 1


def test_a_worker_after_setup_creates_no_topic(servers: Servers, tmp_path: Path) -> None:
    iso = isolated(servers, tmp_path)
    run_setup(iso.settings)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK, encoding="utf-8")
    path = os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH")) if p)
    watched = type(iso)(iso.settings, {**iso.env, "PYTHONPATH": path})
    log = tmp_path / "worker.log"
    with running_worker(watched, log) as proc:
        assert wait_for(lambda: "Ready" in log.read_text(errors="replace"), timeout=180), (
            log.read_text(errors="replace")[-3000:]
        )
        time.sleep(5)  # the assignment's declarations (conductor, tables) come just after
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
    text = log.read_text(errors="replace")
    assert HOOK_LOADED in text, "the request watch must run in the worker"
    assert CREATE_SENT not in text, [line for line in text.splitlines() if CREATE_SENT in line]
    assert "Topic creation" not in text and "Cannot create topic" not in text
    assert not crashes(text)


def test_setup_creates_what_a_worker_would_have_created(
    servers: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Left to itself a worker creates the same topics: same partitions, same configs."""
    import streams.cli.kafka_topics as kafka_topics

    iso = isolated(servers, tmp_path)
    with monkeypatch.context() as patched:
        patched.setattr(kafka_topics, "create_faust_topics", lambda *args: None)
        run_setup(iso.settings)  # the pipeline's topics only
    wanted = {t.name: (t.partitions, t.configs) for t in faust_internal_topics(iso.settings)}
    log = tmp_path / "worker.log"
    with running_worker(iso, log):
        assert wait_for(
            lambda: log.read_text(errors="replace").count("created.") >= len(wanted), timeout=180
        ), log.read_text(errors="replace")[-3000:]
    assert _described(iso.settings, sorted(wanted)) == wanted
