"""Alerts end to end: replay -> worker (normalize, enrich, alert, index) -> the alerts index.

One replayed file holds a post for each default rule, a second press request
in the same thread minutes after the first (the throttle must hold it), and
chatter that raises nothing. Then the same file is replayed again: every
alert is raised again with the same id (the index overwrites it), and no new
id appears anywhere.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import Isolated, isolated, read_topic, running_worker, wait_for

from processors.alerts import alert_id
from processors.rules import RulesError
from streams.cli.setup import run_setup
from streams.es.client import sync_client
from streams.settings import Settings
from streams.sources.replay import replay_file
from streams.topic_names import ALERTS, DLQ, ENRICHED
from streams.worker.app import create_worker

ROLES = ("normalize", "enrich", "alert", "index")
KATE = {
    "id": "x:9001",
    "handle": "KateLindenNews",
    "bio": "Local democracy reporter at the Harbourside Echo",
    "followers": 5200,
    "verified": True,
}


def _post(
    native: int,
    text: str,
    author: dict[str, Any],
    at: datetime,
    *,
    conversation: int | None = None,
    reply_to: int | None = None,
) -> dict[str, Any]:
    from processors.text import find_hashtags, find_mentions

    post: dict[str, Any] = {
        "id": f"x:{native}",
        "platform": "x",
        "url": f"https://x.example/{author['handle']}/status/{native}",
        "created_at": at.isoformat().replace("+00:00", "Z"),
        "text": text,
        "author": author,
        "conversation_id": f"x:{conversation or native}",
        "mentions": [s.value for s in find_mentions(text)],
        "hashtags": [s.value for s in find_hashtags(text)],
    }
    if reply_to is not None:
        post["in_reply_to"] = {"post_id": f"x:{reply_to}", "author_id": author["id"]}
    return post


def _corpus(now: datetime) -> list[dict[str, Any]]:
    """Written a few minutes ago, so freshness is what a live stream would see."""
    t = now - timedelta(minutes=10)
    return [
        _post(
            5001,
            "@HarboursideBC bins on Marsh Lane weren't collected this morning, lorry drove "
            "straight past. Is it coming back today?",
            {"id": "x:9002", "handle": "DevPatel88", "followers": 412},
            t,
        ),
        _post(
            5002,
            "@HarboursideBC Could your press office comment on reports that the Old Mill "
            "Recycling Centre will close in June? Deadline 4pm.",
            KATE,
            t + timedelta(minutes=1),
        ),
        _post(
            5003,
            "@HarboursideBC Following up on my request: can the press office confirm the Old "
            "Mill closure date for tomorrow's paper?",
            KATE,
            t + timedelta(minutes=3),
            conversation=5002,
            reply_to=5002,
        ),
        _post(
            5004,
            "@HarboursideBC thanks for the interview this morning, the listeners loved hearing "
            "about the Green Bin Club",
            {
                "id": "x:9003",
                "handle": "SamOnBayFM",
                "bio": "Breakfast presenter, Bay FM",
                "followers": 9000,
            },
            t + timedelta(minutes=4),
        ),
        _post(
            5005,
            "@HarboursideBC my mum died last month and I don't know how to close her council "
            "tax account. Can someone help?",
            {"id": "x:9004", "handle": "lou_quay", "followers": 120},
            t + timedelta(minutes=5),
        ),
        _post(
            5006,
            "Fog so thick on the bay this morning I ran the whole seafront without seeing the "
            "sea. #Harbourside",
            {"id": "x:9005", "handle": "RosieQuayside", "followers": 733},
            t + timedelta(minutes=6),
        ),
    ]


EXPECTED = {
    "x:5001": "reply-now",
    "x:5002": "escalate",
    "x:5004": "media-or-influencer",
    "x:5005": "personal-care",
}
"""The post each alert is raised on, and its rule; x:5003 is throttled, x:5006 raises nothing."""


def _indexed_alerts(settings: Settings) -> list[dict[str, Any]]:
    es = sync_client(settings)
    try:
        alias = settings.index_alias("alerts")
        es.indices.refresh(index=alias)
        resp = es.search(index=alias, query={"match_all": {}}, size=1000)
        return [hit["_source"] | {"_id": hit["_id"]} for hit in resp["hits"]["hits"]]
    finally:
        es.close()


def _alert_records(settings: Settings) -> list[tuple[str | None, dict[str, Any]]]:
    return [(key, json.loads(value)) for key, value in read_topic(settings, ALERTS)]


def _drained(settings: Settings, topic: str) -> bool:
    """The worker's group has committed every offset of ``topic`` (both its agents acked)."""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    from streams.kafka_config import kafka_python_config

    name = settings.topic(topic)
    admin = KafkaAdminClient(**kafka_python_config(settings))
    consumer = KafkaConsumer(group_id=None, **kafka_python_config(settings))
    try:
        parts = consumer.partitions_for_topic(name) or set()
        ends = consumer.end_offsets([TopicPartition(name, p) for p in parts])
        committed = {
            tp: meta.offset
            for group in admin.list_group_offsets(settings.app_id).values()
            for tp, meta in group.items()
            if tp.topic == name
        }
    except Exception:  # the group may not exist yet: not drained
        return False
    finally:
        admin.close()
        consumer.close()
    return bool(ends) and all(committed.get(tp, -1) >= end for tp, end in ends.items())


@pytest.fixture(scope="module")
def worker(servers: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Isolated]:
    tmp = tmp_path_factory.mktemp("alerts")
    iso = isolated(
        servers,  # type: ignore[arg-type]
        tmp,
        TOWNSQUARE_KIBANA_BASE_URL="https://kibana.example",
    )
    run_setup(iso.settings)
    with running_worker(iso, tmp / "worker.log", *ROLES) as proc:
        yield iso
        assert proc.poll() is None, (tmp / "worker.log").read_text()[-3000:]


@pytest.mark.integration
def test_each_default_rule_alerts_once_throttles_and_a_replay_adds_no_id(
    worker: Isolated, tmp_path: Path
) -> None:
    settings = worker.settings
    posts = _corpus(datetime.now(UTC))
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")
    assert replay_file(settings, path, "jsonl").sent == len(posts)

    def raised() -> dict[str, str]:
        return {a["post_id"]: a["rule"] for a in _indexed_alerts(settings)}

    assert wait_for(lambda: set(raised()) >= set(EXPECTED), timeout=120), (
        f"indexed alerts: {raised()}; dead letters: {read_topic(settings, DLQ)[-3:]}"
    )
    assert wait_for(lambda: _drained(settings, ENRICHED), timeout=60)
    time.sleep(2)  # the last alert batch's bulk may still be in flight
    first = _indexed_alerts(settings)
    assert {a["post_id"]: a["rule"] for a in first} == EXPECTED, "x:5003 throttled, x:5006 quiet"

    by_post = {a["post_id"]: a for a in first}
    for post_id, rule in EXPECTED.items():
        alert = by_post[post_id]
        assert alert["_id"] == alert["id"] == alert_id("rule", rule, post_id)
        assert alert["kind"] == "rule"
        assert alert["why"], "an alert says why"
        assert alert["url"] == next(p["url"] for p in posts if p["id"] == post_id)
        assert alert["kibana_url"].startswith("https://kibana.example/app/discover")
    escalated = by_post["x:5002"]
    assert escalated["severity"] == "critical"
    assert escalated["why"] == [{"field": "joinability.action", "value": "escalate"}]
    assert escalated["summary"].startswith(
        "A press, legal, safety or self-harm matter addressed to us needs a person now: "
        "@KateLindenNews: @HarboursideBC Could your press office"
    )
    assert "media" in escalated["stakeholder_labels"]
    assert by_post["x:5005"]["action"] == "reply"

    records = _alert_records(settings)
    assert {key for key, _ in records} == {f"x:{n}" for n in (5001, 5002, 5004, 5005)}, (
        "keyed by conversation id"
    )
    assert all(value["conversation_id"] == key for key, value in records)
    ids = {value["id"] for _, value in records}
    assert ids == {a["id"] for a in first}
    assert alert_id("rule", "escalate", "x:5003") not in ids, "throttled within 15 minutes"

    # The same file again: every alert comes again under its own id, none is new.
    assert replay_file(settings, path, "jsonl").sent == len(posts)
    assert wait_for(
        lambda: sum(1 for k, _ in read_topic(settings, ENRICHED) if k) >= 2 * len(posts),
        timeout=120,
    )
    assert wait_for(lambda: _drained(settings, ENRICHED), timeout=60)
    assert wait_for(lambda: _drained(settings, ALERTS), timeout=60)
    again = _alert_records(settings)
    assert len(again) > len(records), "the replay raised its alerts again"
    assert {value["id"] for _, value in again} == ids, "no new alert ids on replay"
    second = _indexed_alerts(settings)
    assert sorted(a["_id"] for a in second) == sorted(a["_id"] for a in first)
    letters = [json.loads(v) for _, v in read_topic(settings, DLQ)]
    assert [d for d in letters if d["stage"] in ("alert", "index_alerts")] == []


# --- start-up, no servers ---------------------------------------------------------------


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=tmp_path, metrics_port=0, allow_sample_profile=True, **overrides)


async def test_the_alert_role_declares_its_agent_and_throttle_table(tmp_path: Path) -> None:
    built = create_worker(_settings(tmp_path), ["alert"])
    # The role's other modules (deadlines, spikes, silence) add their own agents.
    assert "townsquare.alert" in built.app.agents
    assert "townsquare.index" not in built.app.agents
    assert "alert_throttle" in built.app.tables
    indexing = create_worker(_settings(tmp_path), ["index"])
    assert "townsquare.index_alerts" in indexing.app.agents


async def test_a_bad_rules_file_stops_the_alert_worker_at_start(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules: [{name: a, when: {field: joinability.scor, gte: 1}}]\n")
    built = create_worker(_settings(tmp_path, rules_path=bad), ["alert"])
    *_, service = built.services()
    with pytest.raises(RulesError, match=r"did you mean 'joinability\.score'"):
        await service.start()
    good = create_worker(_settings(tmp_path), ["alert"])
    good.resources.warm_up(["alert"])
    assert good.resources.rules.rules[0].name == "reply-now"
