"""A replayed burst over a steady background, through a real worker and the local broker.

Fourteen hours of steady background on a few hashtags and a 20-post burst
on ``#floodwarning`` forty minutes ago are replayed as canonical posts into
``posts.raw``; a real ``townsquare worker`` (normalize, enrich, alert) takes
them through normalize, enrich (spaCy), the re-keying onto
``posts.by_spike_key`` and the windowed spike table, with the default rules
(1 h against the previous 12 h, at least 10 posts, 3x, 6 h cooldown).

Event times are relative to now: Faust expires a windowed table's buckets by
the wall clock (``HISTORY`` after they end), and posts older than that are
counted but not judged (see streams/steps/spikes.py), so a burst from last
year would rightly raise nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import (
    Isolated,
    Servers,
    isolated,
    read_topic,
    running_worker,
    topic_records,
    wait_for,
)

from schemas.models import Alert
from streams import topic_names as names
from streams.cli.setup import run_setup
from streams.sources.replay import replay_file
from streams.worker.table_walk import key_partition

pytestmark = pytest.mark.integration

BURST_KEY = "hashtag:floodwarning"
BURST_AUTHORS = ("flood_watch", "river_resident", "ana_k")
BACKGROUND = {  # hashtag -> posts an hour, all below min_count
    "bins": 6,
    "potholes": 4,
    "library": 2,
    "floodwarning": 1,
}
TEXTS = {
    "bins": "the bins on our road went out on time this week",
    "potholes": "another pothole opened up near the school gates",
    "library": "the reading group at the library was lovely",
    "floodwarning": "river looking high after the rain",
}


def _post(n: int, at: datetime, tag: str, author: str, text: str) -> dict[str, Any]:
    return {
        "id": f"x:{880000 + n}",
        "platform": "x",
        "created_at": at.isoformat().replace("+00:00", "Z"),
        "text": f"{text} #{tag}",
        "author": {"id": f"x:{author}", "handle": author},
        "conversation_id": f"x:{880000 + n}",
        "hashtags": [tag],
    }


def _series(now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    start = now - timedelta(hours=14)
    background: list[dict[str, Any]] = []
    for tag, per_hour in BACKGROUND.items():
        step = timedelta(hours=1) / per_hour
        for i in range(14 * per_hour):
            at = start + step * i + timedelta(minutes=len(tag))
            background.append(_post(len(background), at, tag, f"{tag}_fan{i % 5}", TEXTS[tag]))
    burst_start = now - timedelta(minutes=40)
    burst = [
        _post(
            5000 + i,
            burst_start + timedelta(minutes=i),
            "floodwarning",
            BURST_AUTHORS[i % 3] if i % 4 else f"passer_by{i}",
            f"water is over the footpath by the old bridge, take care ({i})",
        )
        for i in range(20)
    ]
    return background, burst


def _spike_alerts(iso: Isolated) -> list[Alert]:
    return [
        Alert.model_validate_json(value)
        for _, value in read_topic(iso.settings, names.ALERTS)
        if value and json.loads(value).get("kind") == "spike"
    ]


def _drained(iso: Isolated, name: str) -> bool:
    """The worker's group has committed every record of topic ``name`` (none is pending).

    A consumer that names the group but never subscribes only reads its offsets.
    """
    from kafka import KafkaConsumer, TopicPartition

    from streams.kafka_config import kafka_python_config

    topic = iso.settings.topic(name)
    consumer = KafkaConsumer(
        group_id=iso.settings.app_id,
        enable_auto_commit=False,
        **kafka_python_config(iso.settings),
    )
    try:
        parts = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        ends = consumer.end_offsets(parts)
        return bool(parts) and all((consumer.committed(tp) or 0) >= ends[tp] for tp in parts)
    finally:
        consumer.close()


def test_a_replayed_burst_is_found_once_with_its_drivers_and_the_background_raises_nothing(
    servers: Servers, tmp_path: Path
) -> None:
    iso = isolated(servers, tmp_path)
    run_setup(iso.settings)
    # The warm-up is per partition of posts.by_spike_key: the burst key's partition must
    # have watched a background key for the whole baseline (hashtags of BACKGROUND).
    parts = iso.settings.topic_partitions
    burst_partition = key_partition(BURST_KEY, parts)
    assert any(
        key_partition(f"hashtag:{tag}", parts) == burst_partition
        for tag in BACKGROUND
        if tag != "floodwarning"
    ), "choose background hashtags that share the burst key's partition"

    now = datetime.now(UTC)
    background, burst = _series(now)
    posts = sorted(background + burst, key=lambda p: p["created_at"])
    path = tmp_path / "burst.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")
    burst_ids = {p["id"] for p in burst}

    log = tmp_path / "worker.log"
    with running_worker(iso, log, "normalize", "enrich", "alert") as worker:
        replay_file(iso.settings, path, "jsonl")
        found = wait_for(lambda: bool(_spike_alerts(iso)), timeout=300, interval=2)
        assert found, log.read_text()[-3000:]
        # Let every post through, and every mention through the spike table.
        assert wait_for(
            lambda: len(read_topic(iso.settings, names.ENRICHED)) >= len(posts), 240, 2
        ), log.read_text()[-3000:]

        assert wait_for(lambda: _drained(iso, names.SPIKE_KEYS), 120, 2), "spikes lag"
        wait_for(lambda: False, timeout=10, interval=1)  # a quiet spell: nothing more comes
        assert worker.poll() is None, log.read_text()[-3000:]

    alerts = _spike_alerts(iso)
    assert [a.spike.key for a in alerts if a.spike] == [BURST_KEY], [a.summary for a in alerts]
    [alert] = alerts
    drivers = alert.spike
    assert drivers is not None
    assert drivers.count >= 10 and drivers.baseline <= 1.5
    assert set(drivers.authors[:3]) == set(BURST_AUTHORS)
    assert drivers.post_ids and set(drivers.post_ids) <= burst_ids
    assert alert.post_id in burst_ids
    assert alert.summary.startswith("#floodwarning: ")
    # Judged in event time: the window is the burst's, not the replay's.
    window_start = datetime.fromisoformat({c.field: c.value for c in alert.why}["window_start"])
    assert now - timedelta(hours=2) < window_start < now - timedelta(minutes=20)
    # The same run fed the silence table (the alert role's arrivals, per ingest source).
    silence = [
        json.loads(r.value)
        for r in topic_records(iso.settings, f"{iso.settings.app_id}-silence-changelog")
        if r.value and r.key == b'"replay"'
    ]
    assert silence and silence[-1]["source"] == "replay" and silence[-1]["gaps"] >= 1
    keys = {
        key
        for key, value in read_topic(iso.settings, names.ALERTS)
        if value and b'"spike"' in value
    }
    assert keys == {BURST_KEY}, "spike alerts are keyed by their spike key"
