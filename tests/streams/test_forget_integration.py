"""Erasing a person end to end, through the real broker, search server and worker.

A conversation with three participants is indexed, the posts index is rolled
over and more posts land in the new index; then ``forget`` erases one
participant. Their posts must be gone from every index (by id and by handle),
from the latest values of the enriched topic, from the conversation table and
the locate table; the conversations index keeps each thread's document for
the others but names them nowhere (participants, last post), nor does the
latest value of any thread on ``conversations.state``; the others' posts
stay; an audit record is written; a later post of theirs is dropped; and a
second run removes nothing and says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import Isolated, isolated, read_topic, running_worker, topic_records, wait_for
from typer.testing import CliRunner

from streams.cli.main import app
from streams.cli.run import stale_conversations
from streams.cli.setup import run_setup
from streams.es.client import sync_client
from streams.forget import audit_index, forget
from streams.sources.replay import replay_file
from streams.topic_names import CONVERSATIONS, ENRICHED

pytestmark = pytest.mark.integration

ALICE, BOB, CAROL, DAVE = "alice", "bob", "carol", "dave"


def _post(n: int, conversation: int, who: str, reply_to: int | None = None) -> dict[str, Any]:
    post: dict[str, Any] = {
        "id": f"x:{9000 + n}",
        "platform": "x",
        "created_at": f"2026-05-01T11:{n:02d}:00Z",
        "text": f"Post {n} from {who} about the bins on Elm Street",
        "author": {"id": f"x:{who}-id", "handle": who.capitalize()},
        "conversation_id": f"x:{9000 + conversation}",
    }
    if reply_to is not None:
        post["in_reply_to"] = {"post_id": f"x:{9000 + reply_to}", "author_id": "x:someone"}
    return post


def _replay(iso: Isolated, path: Path, posts: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")
    assert replay_file(iso.settings, path, "jsonl").sent == len(posts)


def _stored(iso: Isolated, query: dict[str, Any]) -> list[str]:
    es = sync_client(iso.settings)
    try:
        pattern = f"{iso.settings.index_alias('posts')}-*"
        es.indices.refresh(index=pattern)
        hits = es.search(index=pattern, query=query, size=1000, source=["id"])["hits"]["hits"]
        return sorted(h["_source"]["id"] for h in hits)
    finally:
        es.close()


def _all_ids(iso: Isolated) -> list[str]:
    return _stored(iso, {"match_all": {}})


def _threads(iso: Isolated, query: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Conversations documents (every index of the family) by thread id."""
    es = sync_client(iso.settings)
    try:
        pattern = f"{iso.settings.index_alias('conversations')}-*"
        es.indices.refresh(index=pattern)
        resp = es.search(index=pattern, query=query or {"match_all": {}}, size=1000)
        return {h["_id"]: h["_source"] for h in resp["hits"]["hits"]}
    finally:
        es.close()


NAMES_ALICE = {
    "bool": {
        "should": [
            {"term": {"participant_ids": "x:alice-id"}},
            {"term": {"last_post.author_id": "x:alice-id"}},
            {"term": {"last_post.handle": {"value": "alice", "case_insensitive": True}}},
        ],
        "minimum_should_match": 1,
    }
}


def _threads_current(iso: Isolated, ids: list[str]) -> bool:
    es = sync_client(iso.settings)
    try:
        return not stale_conversations(
            es, iso.settings.index_alias("posts"), iso.settings.index_alias("conversations"), ids
        )
    finally:
        es.close()


def _latest(records: list[Any]) -> dict[str, bytes | None]:
    latest: dict[str, bytes | None] = {}
    for r in records:
        latest[r.key.decode()] = r.value
    return latest


def _enriched_present(iso: Isolated) -> set[str]:
    """Post ids a subscriber folding posts.enriched (posts, then tombstones) still holds."""
    present: set[str] = set()
    for _, value in read_topic(iso.settings, ENRICHED):
        data = json.loads(value)
        if data.get("kind") == "delete":
            present.discard(data["id"])
        else:
            present.add(data["id"])
    return present


@pytest.fixture(scope="module")
def pipeline(servers: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Isolated]:
    tmp = tmp_path_factory.mktemp("forget")
    iso = isolated(servers, tmp)  # type: ignore[arg-type]
    run_setup(iso.settings)
    with running_worker(iso, tmp / "worker.log") as proc:
        yield iso
        assert proc.poll() is None, (tmp / "worker.log").read_text()[-3000:]


def test_forget_erases_a_participant_everywhere_and_drops_their_later_posts(
    pipeline: Isolated, tmp_path: Path
) -> None:
    iso = pipeline
    thread = [
        _post(0, 0, ALICE),
        _post(1, 0, BOB, reply_to=0),
        _post(2, 0, ALICE, reply_to=1),
        _post(3, 0, CAROL, reply_to=2),
    ]
    _replay(iso, tmp_path / "first.jsonl", thread)
    first_ids = {p["id"] for p in thread}
    assert wait_for(lambda: first_ids <= set(_all_ids(iso)), timeout=90), _all_ids(iso)

    es = sync_client(iso.settings)
    try:
        rolled = es.indices.rollover(alias=iso.settings.index_alias("posts"))
        assert rolled["rolled_over"]
    finally:
        es.close()
    later = [_post(4, 4, ALICE), _post(5, 4, DAVE, reply_to=4)]
    _replay(iso, tmp_path / "second.jsonl", later)
    assert wait_for(lambda: {"x:9004", "x:9005"} <= set(_all_ids(iso)), timeout=90)
    alice_ids = ["x:9000", "x:9002", "x:9004"]
    others = ["x:9001", "x:9003", "x:9005"]
    every = sorted(first_ids | {"x:9004", "x:9005"})
    assert wait_for(lambda: _threads_current(iso, every), timeout=60)
    before = _threads(iso)
    assert set(before) == {"x:9000", "x:9004"}
    assert set(_threads(iso, NAMES_ALICE)) == {"x:9000", "x:9004"}, "the check can fail"

    report = forget(iso.settings, "@ALICE", requested_by="privacy-desk ticket 17", settle=2.0)

    # The conversations index: at once (forget cleans the documents itself) and for good
    # (the pipeline's erased views), each thread stays for the others, naming her nowhere.
    assert _threads(iso, NAMES_ALICE) == {}

    def threads_clean() -> bool:
        docs = _threads(iso)
        return (
            set(docs) == {"x:9000", "x:9004"}
            and not _threads(iso, NAMES_ALICE)
            and sorted(docs["x:9000"]["participant_ids"]) == ["x:bob-id", "x:carol-id"]
            and docs["x:9004"]["participant_ids"] == ["x:dave-id"]
            and docs["x:9000"]["posts"] == 2
            and (docs["x:9000"]["last_post"] or {}).get("author_id") == "x:carol-id"
        )

    assert wait_for(threads_clean, timeout=60), _threads(iso)
    assert all("alice" not in json.dumps(d).lower() for d in _threads(iso).values())

    def views_clean() -> bool:
        latest = _latest(topic_records(iso.settings, iso.settings.topic(CONVERSATIONS)))
        return set(latest) >= {"x:9000", "x:9004"} and not any(
            value is not None and b"alice" in value.lower() for value in latest.values()
        )

    assert wait_for(views_clean, timeout=60)

    assert report.removed["posts"] == 3
    assert sorted(report.post_ids) == alice_ids
    assert len(report.conversations) == 2
    # Elasticsearch, by id and by handle, in every index of the family.
    assert _stored(iso, {"ids": {"values": alice_ids}}) == []
    assert _stored(iso, {"term": {"author.handle": "Alice"}}) == []
    assert _stored(iso, {"term": {"author.id": "x:alice-id"}}) == []
    assert _all_ids(iso) == others, "the other participants' posts stay"
    # The audit record.
    es = sync_client(iso.settings)
    try:
        es.indices.refresh(index=audit_index(iso.settings))
        [audit] = es.search(index=audit_index(iso.settings))["hits"]["hits"]
    finally:
        es.close()
    record = audit["_source"]
    assert record["requested_by"] == "privacy-desk ticket 17"
    assert record["subjects"] == ["alice"], "a handle is recorded normalized"
    assert record["removed_total"] == 3 and sorted(record["post_ids"]) == alice_ids
    # A subscriber folding the enriched topic no longer holds any of their posts.
    assert wait_for(lambda: not set(alice_ids) & _enriched_present(iso), timeout=60)
    assert set(others) <= _enriched_present(iso)
    # The conversation table's latest state names them nowhere; locate's entries are gone.
    app_id = iso.settings.app_id
    conversations = f"{app_id}-conversations-changelog"

    def conversations_clean() -> bool:
        latest = _latest(topic_records(iso.settings, conversations))
        return bool(latest) and not any(
            value is not None and b"alice" in value.lower() for value in latest.values()
        )

    assert wait_for(conversations_clean, timeout=60), _latest(
        topic_records(iso.settings, conversations)
    )
    locations = f"{app_id}-post_locations-changelog"

    def locations_gone() -> bool:
        latest = {
            k.strip('"'): v for k, v in _latest(topic_records(iso.settings, locations)).items()
        }
        return all(pid in latest and latest[pid] is None for pid in alice_ids)

    assert wait_for(locations_gone, timeout=60), _latest(topic_records(iso.settings, locations))

    # A later post of theirs is dropped; one of someone else's after it is indexed.
    _replay(iso, tmp_path / "third.jsonl", [_post(6, 0, ALICE), _post(7, 0, BOB, reply_to=3)])
    assert wait_for(lambda: "x:9007" in _all_ids(iso), timeout=90)
    assert "x:9006" not in _all_ids(iso)

    # A second run finds nothing, removes nothing, and says so.
    result = CliRunner().invoke(app, ["forget", "alice", "--settle", "0"], env=iso.env)
    assert result.exit_code == 0, result.output
    assert "nothing left to remove for alice" in result.output
    assert "erasure in force since" in result.output


def test_cleaning_a_conversations_document_never_overwrites_a_newer_view(
    servers: object, tmp_path: Path
) -> None:
    """Forget writes over the version it read; a view the pipeline wrote in between is read
    again and cleaned again, so neither the person nor the newer state is lost."""
    from datetime import UTC, datetime

    from schemas.models import ConversationView
    from streams.es.conversations import view_document
    from streams.es.indices import install
    from streams.forget import Identity, _scrub_views, find_views

    iso = isolated(servers, tmp_path)  # type: ignore[arg-type]
    now = datetime.now(UTC)

    def doc(posts: int) -> dict[str, Any]:
        view = ConversationView(
            conversation_id="x:1",
            platform="x",
            posts=posts,
            participants=2,
            participant_ids=["x:alice-id", "x:bob-id"],
            last_post={
                "id": "x:2",
                "author_id": "x:alice-id",
                "handle": "Alice",
                "created_at": now,
            },
            updated_at=now,
        )
        return view_document(view, now)

    es = sync_client(iso.settings)
    try:
        install(es, iso.settings)
        alias = iso.settings.index_alias("conversations")
        es.index(index=alias, id="x:1", document=doc(2), refresh=True)
        who = Identity(frozenset({"x:alice-id"}), frozenset({"alice"}), frozenset({"x:2"}))
        [stale] = find_views(es, iso.settings, who, None)
        es.index(index=alias, id="x:1", document=doc(3), refresh=True)  # the pipeline, meanwhile

        assert _scrub_views(es, [stale], who) == 1
        clean = es.get(index=alias, id="x:1")["_source"]
        assert clean["posts"] == 3, "the newer view was cleaned, not replaced by the older one"
        assert clean["participant_ids"] == ["x:bob-id"] and clean["participants"] == 1
        assert clean["last_post"] is None
        assert find_views(es, iso.settings, who, None) == []
        assert _scrub_views(es, [stale], who) == 0, "already clean: nothing written"
    finally:
        es.close()
