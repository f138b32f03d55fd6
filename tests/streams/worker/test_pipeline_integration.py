"""End to end through the real broker and search server: replay -> worker -> Elasticsearch.

One worker serves the whole module (starting one costs seconds); each test
uses its own file and ids, so the tests do not depend on each other's order.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import (
    Isolated,
    canonical_post,
    find_doc,
    indexed_ids,
    isolated,
    read_topic,
    running_worker,
    wait_for,
)

from streams.cli.setup import run_setup
from streams.es.client import sync_client
from streams.sources.replay import replay_file
from streams.topic_names import DLQ

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pipeline(servers: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Isolated]:
    tmp = tmp_path_factory.mktemp("pipeline")
    iso = isolated(servers, tmp)  # type: ignore[arg-type]
    run_setup(iso.settings)
    with running_worker(iso, tmp / "worker.log") as proc:
        yield iso
        assert proc.poll() is None, (tmp / "worker.log").read_text()[-3000:]


def _indexed_ids(iso: Isolated) -> Counter[str]:
    return indexed_ids(iso.settings)


def _write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_replaying_a_file_twice_leaves_one_document_per_post(
    pipeline: Isolated, tmp_path: Path
) -> None:
    posts = [
        canonical_post(n, conversation=n - n % 4, reply_to=None if n % 4 == 0 else n - 1)
        for n in range(24)
    ]
    path = _write_jsonl(tmp_path / "posts.jsonl", [json.dumps(p) for p in posts])
    wanted = {p["id"] for p in posts}

    first = replay_file(pipeline.settings, path, "jsonl")
    second = replay_file(pipeline.settings, path, "jsonl")
    assert first.sent == second.sent == len(posts)

    assert wait_for(lambda: wanted <= set(_indexed_ids(pipeline)), timeout=90), (
        f"indexed: {sorted(_indexed_ids(pipeline))}"
    )
    # Let the second replay drain completely before counting duplicates.
    assert wait_for(
        lambda: (
            sum(1 for k, _ in read_topic(pipeline.settings, "posts.enriched") if k is not None)
            >= 2 * len(posts)
        ),
        timeout=60,
    )
    counts = _indexed_ids(pipeline)
    mine = {i: c for i, c in counts.items() if i in wanted}
    assert mine == dict.fromkeys(wanted, 1)

    es = sync_client(pipeline.settings)
    doc = es.get(index=pipeline.settings.index_alias("posts"), id=posts[1]["id"])["_source"]
    es.close()
    assert doc["conversation_id"] == posts[0]["id"]
    # The adapter stamps the ingest event on the post (for end-to-end latency).
    assert len(doc["ingest_id"]) == 32 and doc["received_at"] is not None
    # The second replay re-enriched post 1 after all four posts of its thread
    # were counted once: replays do not inflate conversation state.
    assert doc["conversation"]["posts"] == 4
    assert 0.0 <= doc["joinability"]["score"] <= 1.0
    assert any(e["source"] == "hashtag" for e in doc["entities"])


def test_malformed_lines_go_to_the_dead_letter_topic_and_the_worker_goes_on(
    pipeline: Isolated, tmp_path: Path
) -> None:
    good_before = canonical_post(100, conversation=100)
    good_after = canonical_post(101, conversation=100, reply_to=100)
    missing_author = {
        k: v for k, v in canonical_post(102, conversation=102).items() if k != "author"
    }
    lines = [
        json.dumps(good_before),
        '{"id": "x:broken", "text": unterminated',
        json.dumps(missing_author),
        json.dumps(good_after),
    ]
    replay_file(pipeline.settings, _write_jsonl(tmp_path / "mixed.jsonl", lines), "jsonl")

    assert wait_for(
        lambda: {good_before["id"], good_after["id"]} <= set(_indexed_ids(pipeline)), timeout=90
    )

    def letters() -> list[dict[str, object]]:
        return [json.loads(v) for _, v in read_topic(pipeline.settings, DLQ)]

    assert wait_for(
        lambda: (
            len(
                [
                    d
                    for d in letters()
                    if "x:broken" in str(d["payload"]) or "x:1102" in str(d["payload"])
                ]
            )
            >= 2
        ),
        timeout=30,
    )
    mine = [
        d for d in letters() if "x:broken" in str(d["payload"]) or "x:1102" in str(d["payload"])
    ]
    reasons = {d["reason"] for d in mine}
    assert "invalid_json" in reasons
    assert reasons & {"missing_field", "wrong_type", "schema"}
    for letter in mine:
        assert letter["stage"] == "normalize"
        assert letter["topic"] == pipeline.settings.topic("posts.raw")
        assert isinstance(letter["offset"], int)
        assert isinstance(letter["partition"], int)
    assert "x:1102" not in _indexed_ids(pipeline)


def test_edits_replace_and_deletes_remove_the_post_everywhere(
    pipeline: Isolated, tmp_path: Path
) -> None:
    root = canonical_post(200, conversation=200, text="Bins on Elm Street missed again")
    reply = canonical_post(201, conversation=200, reply_to=200, text="Same on Oak Road")
    edit = {**reply, "kind": "edit", "text": "Same on Oak Road, and Ash Lane too"}
    gone = {**canonical_post(201, conversation=200), "kind": "delete", "text": ""}
    # A delete that overtakes its post: the post must never show up.
    early_delete = {**canonical_post(203, conversation=200), "kind": "delete", "text": ""}
    late_post = canonical_post(203, conversation=200, reply_to=200, text="Deleted before seen")
    after = canonical_post(204, conversation=200, reply_to=200, text="Still no collection")
    ids = {p["id"] for p in (root, reply, late_post, after)}

    def replay(name: str, *posts: dict[str, object]) -> None:
        replay_file(
            pipeline.settings,
            _write_jsonl(tmp_path / name, [json.dumps(p) for p in posts]),
            "jsonl",
        )

    def doc(post_id: str) -> dict[str, Any] | None:
        return find_doc(pipeline.settings, post_id)

    replay("a.jsonl", root, reply, early_delete)
    assert wait_for(lambda: doc(reply["id"]) is not None, timeout=60)
    replay("b.jsonl", edit)
    assert wait_for(lambda: (doc(reply["id"]) or {}).get("text") == edit["text"], timeout=60)
    edited = doc(reply["id"])
    assert edited is not None and edited["conversation"]["posts"] == 2  # an edit is not a new post

    replay("c.jsonl", gone, late_post, after)
    assert wait_for(lambda: doc(after["id"]) is not None, timeout=60)
    assert wait_for(lambda: doc(reply["id"]) is None, timeout=30)
    assert doc(late_post["id"]) is None
    last = doc(after["id"])
    assert last is not None
    assert last["conversation"]["posts"] == 2, "the deleted reply left the conversation state"

    tombstones = [
        json.loads(v)
        for _, v in read_topic(pipeline.settings, "posts.enriched")
        if json.loads(v).get("kind") == "delete"
    ]
    assert {t["id"] for t in tombstones} >= {reply["id"], late_post["id"]}
    assert all(t["conversation_id"] == root["id"] for t in tombstones if t["id"] in ids)


def test_a_document_the_mapping_refuses_is_dead_lettered_and_its_neighbours_indexed(
    pipeline: Isolated, tmp_path: Path
) -> None:
    before = canonical_post(300, conversation=300)
    # Valid for the model (a follower count is any non-negative int), refused by
    # Elasticsearch's long field: the index stage's per-document failure path.
    refused = canonical_post(301, conversation=300, reply_to=300)
    refused["author"] = {**refused["author"], "followers": 10**30}
    after = canonical_post(302, conversation=300, reply_to=300)
    path = _write_jsonl(
        tmp_path / "refused.jsonl", [json.dumps(p) for p in (before, refused, after)]
    )
    replay_file(pipeline.settings, path, "jsonl")

    assert wait_for(lambda: {before["id"], after["id"]} <= set(_indexed_ids(pipeline)), timeout=60)

    def index_letters() -> list[dict[str, Any]]:
        letters = [json.loads(v) for _, v in read_topic(pipeline.settings, DLQ)]
        return [d for d in letters if d["stage"] == "index" and refused["id"] in d["payload"]]

    assert wait_for(lambda: len(index_letters()) == 1, timeout=30)
    letter = index_letters()[0]
    assert letter["reason"] in {"document_parsing_exception", "mapper_parsing_exception"}
    assert "followers" in letter["error"]
    assert letter["topic"] == pipeline.settings.topic("posts.enriched")
    assert refused["id"] not in _indexed_ids(pipeline)


def test_a_delete_that_does_not_name_its_thread_still_leaves_the_conversation(
    pipeline: Isolated, tmp_path: Path
) -> None:
    """Most platforms delete by post id alone; the locate stage finds the thread."""
    root = canonical_post(400, conversation=400, text="Pothole on Quay Road")
    reply = canonical_post(401, conversation=400, reply_to=400, text="It's huge")
    blind_delete = {**canonical_post(401, conversation=401), "kind": "delete", "text": ""}
    early_blind = {**canonical_post(402, conversation=402), "kind": "delete", "text": ""}
    late = canonical_post(402, conversation=400, reply_to=400, text="Deleted before it came")
    after = canonical_post(403, conversation=400, reply_to=400, text="Still there today")

    def replay(name: str, *posts: dict[str, object]) -> None:
        lines = [json.dumps(p) for p in posts]
        replay_file(pipeline.settings, _write_jsonl(tmp_path / name, lines), "jsonl")

    replay("a.jsonl", root, reply)
    assert wait_for(lambda: find_doc(pipeline.settings, reply["id"]) is not None, timeout=60)
    replay("b.jsonl", blind_delete, early_blind)
    assert wait_for(lambda: find_doc(pipeline.settings, reply["id"]) is None, timeout=60)
    replay("c.jsonl", late)
    time.sleep(2)  # the late post may show briefly before its pending delete catches up
    replay("d.jsonl", after)
    assert wait_for(lambda: find_doc(pipeline.settings, after["id"]) is not None, timeout=60)
    assert wait_for(lambda: find_doc(pipeline.settings, late["id"]) is None, timeout=60)
    # The final state of the thread counts the root and the last post only.
    replay("e.jsonl", {**after, "kind": "edit", "text": "Still there today, three weeks on"})
    assert wait_for(
        lambda: (find_doc(pipeline.settings, after["id"]) or {}).get("text", "").endswith("on"),
        timeout=60,
    )
    doc = find_doc(pipeline.settings, after["id"])
    assert doc is not None
    assert doc["conversation"]["posts"] == 2, doc["conversation"]
