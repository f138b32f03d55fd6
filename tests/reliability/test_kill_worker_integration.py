"""SIGKILL the whole worker three times mid-run: nothing is lost, nothing is indexed twice.

2,000 posts in 500 four-post threads are replayed, then the worker's process
group (the Faust worker and its spaCy pool) is killed with SIGKILL at three
points drawn from a seeded generator, each time the index has reached a
further count, and restarted. No cleanup runs on SIGKILL: no offsets are
committed, no group is left, the producer buffer is lost. At the end:

* Elasticsearch holds exactly the 2,000 post ids, each as one document;
* ``posts.enriched`` holds every id (replays may publish some twice);
* the conversation table's final state (its changelog) equals the state a
  clean, single pass over the same posts computes.

The restarted worker gets its partitions back because workers use static
group membership (:mod:`streams.worker.membership`): it rejoins under its
predecessor's id instead of waiting for the group to evict a ghost. It reads
every partition again from its committed offset (or, never committed, from its
beginning) because its consumer seeks with nothing in flight
(:mod:`streams.worker.transport`); Faust's own consumer skipped records there
under CPU load. Under load this test also found Faust's livelock check
crashing a restarted worker on a partition awaiting an offset reset, fixed
in the same module.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from support import (
    Servers,
    canonical_post,
    indexed_ids,
    isolated,
    read_topic,
    topic_records,
    wait_for,
)

from processors.conversation import ConversationState, apply_post
from schemas.models import CanonicalPost
from streams.cli.run import start_worker, stop_worker
from streams.cli.setup import run_setup
from streams.profiles import load_profile_with_digest
from streams.sources.replay import replay_file
from streams.topic_names import ENRICHED

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

POSTS = 2000
THREAD = 4
KILLS = 3
SEED = 20261201
COMPARED = ("post_count", "participants", "own_posts", "awaiting_org_reply", "give", "ask")


def _posts() -> list[dict[str, Any]]:
    out = []
    for n in range(POSTS):
        root = n - n % THREAD
        text = (
            f"@HarboursideBC when is the green bin collected on street {root}?"
            if n % THREAD == 0
            else None
        )
        out.append(canonical_post(n, root, text=text, reply_to=n - 1 if n % THREAD else None))
    return out


def _clean_states(posts: list[dict[str, Any]], settings: Any) -> dict[str, dict[str, Any]]:
    org = load_profile_with_digest(settings).org
    states: dict[str, ConversationState] = {}
    for raw in posts:
        post = CanonicalPost.model_validate(raw)
        new = apply_post(states.get(post.conversation_id), post, org)
        states[post.conversation_id] = new
    return {cid: _compared(s.model_dump(mode="json")) for cid, s in states.items()}


def _compared(state: dict[str, Any]) -> dict[str, Any]:
    return {field: state.get(field) for field in COMPARED}


def _changelog_states(settings: Any) -> dict[str, dict[str, Any]]:
    """The last value per key of the conversations changelog (what a recovery rebuilds)."""
    latest: dict[str, dict[str, Any]] = {}
    for record in topic_records(settings, f"{settings.app_id}-conversations-changelog", 30):
        key = json.loads(record.key)
        value = json.loads(record.value) if record.value is not None else None
        if isinstance(value, str):
            value = json.loads(value)
        if value is None:
            latest.pop(key, None)
        else:
            latest[key] = _compared(value)
    return latest


def _ids_in(name: str, value: bytes) -> str | None:
    """The post id a record of topic ``name`` carries (None if it carries none)."""
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if name.endswith("raw"):
        data = data.get("payload") if isinstance(data, dict) else None
    return data.get("id") if isinstance(data, dict) else None


def _short(topic: str) -> str:
    """``normalized`` for ``<prefix>posts.normalized.v1``; a name without dots as it is."""
    parts = topic.rsplit(".", 2)
    return parts[-2] if len(parts) == 3 else topic


def _where_missing(settings: Any, missing: set[str]) -> str:
    """Which topics hold the missing posts, and where (so a failure says which stage lost them)."""
    from kafka import KafkaAdminClient

    from streams.kafka_config import kafka_python_config
    from streams.topic_names import NORMALIZED, RAW

    found = []
    for name in (RAW, ENRICHED):
        records = read_topic(settings, name, 60)
        held = sorted(i for i in (_ids_in(name, v) for _, v in records) if i in missing)
        found.append(f"{name} holds {held}")
    enriched = {_ids_in(ENRICHED, v) for _, v in read_topic(settings, ENRICHED, 60)}
    where = [
        f"{post_id}@{r.partition}:{r.offset}"
        for r in topic_records(settings, settings.topic(NORMALIZED), 30)
        if (post_id := _ids_in(NORMALIZED, r.value)) not in enriched
    ]
    admin = KafkaAdminClient(**kafka_python_config(settings))
    try:
        offsets = admin.list_group_offsets(settings.app_id)
        committed = str(
            {
                f"{_short(tp.topic)}:{tp.partition}": meta.offset
                for group in offsets.values()
                for tp, meta in group.items()
            }
        )
    except Exception as exc:  # a diagnostic only: never hide the assertion behind it
        committed = f"unavailable ({exc!r})"
    finally:
        admin.close()
    return (
        f"missing {sorted(missing)[:20]}; "
        + "; ".join(found)
        + f"; normalized records never enriched: {where[:20]}; committed offsets: {committed}"
    )


def test_three_sigkills_lose_nothing_and_index_nothing_twice(
    servers: Servers, tmp_path: Path
) -> None:
    iso = isolated(servers, tmp_path)
    run_setup(iso.settings)
    posts = _posts()
    corpus = tmp_path / "posts.jsonl"
    corpus.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")
    replay_file(iso.settings, corpus, "jsonl")

    rng = random.Random(SEED)
    kill_at = sorted(rng.sample(range(100, POSTS - 300), KILLS))
    progress: list[int] = []
    for k, threshold in enumerate(kill_at):
        proc = start_worker(iso.settings, tmp_path / f"worker-{k}.log", dict(iso.env))
        try:
            reached = wait_for(lambda t=threshold: len(indexed_ids(iso.settings)) >= t, 180, 0.3)
            assert reached, f"worker {k} never indexed {threshold} posts; see worker-{k}.log"
            time.sleep(rng.uniform(0.0, 1.5))
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        progress.append(len(indexed_ids(iso.settings)))

    proc = start_worker(iso.settings, tmp_path / "worker-last.log", dict(iso.env))
    try:
        done = wait_for(lambda: len(indexed_ids(iso.settings)) >= POSTS, 240, 1.0)
        counts = indexed_ids(iso.settings)
        assert done, f"{len(counts)} of {POSTS} indexed after the kills at {progress}; " + (
            _where_missing(iso.settings, {p["id"] for p in posts} - set(counts))
        )
    finally:
        stop_worker(proc)

    expected_ids = {p["id"] for p in posts}
    assert set(counts) == expected_ids
    assert max(counts.values()) == 1, "a post was indexed as two documents"

    enriched = {json.loads(value)["id"] for _, value in read_topic(iso.settings, ENRICHED, 60)}
    assert expected_ids <= enriched

    assert _changelog_states(iso.settings) == _clean_states(posts, iso.settings)
