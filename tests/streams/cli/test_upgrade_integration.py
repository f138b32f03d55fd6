"""docs/upgrading.md's move to more partitions, end to end: v1 topics to v2 beside them.

A worker runs on ``v1`` with 2 partitions. ``setup`` with ``TOWNSQUARE_TOPIC_VERSION=v2``,
4 partitions and a new app id creates the ``v2`` topics beside the old ones.
A ``v2`` worker takes new posts, some of them continuing ``v1`` threads, and an
edit of a ``v1`` post. The ``v1`` worker then stops. The shared index ends with
every post exactly once, the edit in place, and the ``v1`` topics as they were.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from generated_input import raw_envelope
from kafka import KafkaAdminClient, KafkaProducer
from support import (
    Servers,
    canonical_post,
    crashes,
    find_doc,
    indexed_ids,
    isolated,
    running_worker,
    wait_for,
)

from streams.cli.setup import run_setup
from streams.kafka_config import kafka_python_config
from streams.settings import Settings
from streams.topic_names import RAW

pytestmark = pytest.mark.integration


def _send(settings: Settings, posts: list[dict[str, object]]) -> None:
    producer = KafkaProducer(acks="all", **kafka_python_config(settings))
    try:
        for post in posts:
            producer.send(
                settings.topic(RAW),
                key=str(post["conversation_id"]).encode(),
                value=raw_envelope("canonical", post),
            )
        producer.flush(timeout=30)
    finally:
        producer.close()


def _partitions(settings: Settings, topic: str) -> int:
    admin = KafkaAdminClient(**kafka_python_config(settings))
    try:
        (described,) = admin.describe_topics([topic])
        return len(described["partitions"])
    finally:
        admin.close()


def test_moving_to_a_v2_topic_version_keeps_every_post_once(
    servers: Servers, tmp_path: Path
) -> None:
    v1 = isolated(servers, tmp_path / "v1", TOWNSQUARE_TOPIC_PARTITIONS="2")
    v2 = isolated(
        servers,
        tmp_path / "v2",
        TOWNSQUARE_TOPIC_PREFIX=v1.env["TOWNSQUARE_TOPIC_PREFIX"],
        TOWNSQUARE_INDEX_PREFIX=v1.env["TOWNSQUARE_INDEX_PREFIX"],
        TOWNSQUARE_APP_ID=v1.env["TOWNSQUARE_APP_ID"] + "-v2",
        TOWNSQUARE_TOPIC_VERSION="v2",
        TOWNSQUARE_TOPIC_PARTITIONS="4",
    )
    assert v1.settings.topic(RAW) != v2.settings.topic(RAW)
    assert v1.settings.index_alias("posts") == v2.settings.index_alias("posts")

    before = [canonical_post(n, n % 6) for n in range(18)]
    after = [canonical_post(n, n % 6, reply_to=n - 6) for n in range(18, 30)]  # v1 threads go on
    edited = {**canonical_post(3, 3), "kind": "edit", "text": "Post 3, edited after the move"}

    run_setup(v1.settings)
    with running_worker(v1, tmp_path / "v1.log") as old:
        _send(v1.settings, before)
        assert wait_for(lambda: len(indexed_ids(v1.settings)) >= len(before), 120, 1)

        report = run_setup(v2.settings)
        assert f"topic {v2.settings.topic(RAW)}" in report.created
        assert _partitions(v2.settings, v2.settings.topic(RAW)) == 4
        with running_worker(v2, tmp_path / "v2.log") as new:
            _send(v2.settings, [*after, edited])
            every = {str(p["id"]) for p in before + after}
            assert wait_for(lambda: set(indexed_ids(v2.settings)) >= every, 180, 1)

            def edit_applied() -> bool:
                doc = find_doc(v2.settings, "x:1003")
                return doc is not None and doc["text"] == edited["text"]

            assert wait_for(edit_applied, 60, 1)
            assert new.poll() is None and old.poll() is None

    counts = indexed_ids(v2.settings)
    assert set(counts) == {str(p["id"]) for p in before + after}
    assert max(counts.values()) == 1, "the shared index holds every post once"
    assert _partitions(v1.settings, v1.settings.topic(RAW)) == 2, "v1 is left as it was"
    for log in ("v1.log", "v2.log"):
        assert crashes((tmp_path / log).read_text()) == []
