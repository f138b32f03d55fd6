"""The conversations index end to end: the sample corpus through a real worker.

One worker serves the module: it replays the whole sample corpus (323 posts in
89 threads) and waits until every post is searchable and every thread's
document is as current as its posts. Tests that add threads use ids of their
own (``x:77...``), so the tests do not depend on each other's order. Then:

* the index holds exactly one document per thread, with the state
  ``townsquare conversations`` showed before the index existed (rebuilt here
  from the posts' snapshots the way it did: the snapshot on the post enriched
  last, the newest post by ``created_at``);
* ``search --awaiting-reply``, ``conversations --awaiting-reply`` and the
  Kibana "Waiting for us" query count the same threads waiting now;
* an emptied thread's tombstone (a Kafka null value sent by Faust) deletes its
  document, and a null value from any producer does the same;
* after a rollover of the family a thread still has one document.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import Isolated, isolated, read_topic, running_worker, wait_for
from typer.testing import CliRunner, Result

from streams.cli.main import app
from streams.cli.run import corpus_ids, stale_conversations
from streams.cli.setup import run_setup
from streams.es.client import sync_client
from streams.sample import CORPUS, sample_path
from streams.settings import get_settings
from streams.sources.replay import replay_file
from streams.topic_names import CONVERSATIONS

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
KIBANA = ROOT / "deploy" / "kibana" / "townsquare.ndjson"
ROLES = ("normalize", "locate", "enrich", "index")


def _cli(iso: Isolated, *args: str) -> Result:
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, list(args), env=iso.env)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result


def _json_lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def _hits(iso: Isolated, family: str, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every document of a family, in every index of it (after a refresh)."""
    es = sync_client(iso.settings)
    try:
        pattern = f"{iso.settings.index_alias(family)}-*"
        es.indices.refresh(index=pattern)
        resp = es.search(index=pattern, query=query or {"match_all": {}}, size=10_000)
        return list(resp["hits"]["hits"])
    finally:
        es.close()


def _threads(iso: Isolated) -> dict[str, dict[str, Any]]:
    return {h["_id"]: h["_source"] for h in _hits(iso, "conversations")}


def _current(iso: Isolated, ids: list[str]) -> bool:
    es = sync_client(iso.settings)
    try:
        return not stale_conversations(
            es, iso.settings.index_alias("posts"), iso.settings.index_alias("conversations"), ids
        )
    finally:
        es.close()


@pytest.fixture(scope="module")
def corpus(servers: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Isolated]:
    tmp = tmp_path_factory.mktemp("conversations")
    iso = isolated(servers, tmp)  # type: ignore[arg-type]
    run_setup(iso.settings)
    ids = corpus_ids(sample_path(CORPUS))
    with running_worker(iso, tmp / "worker.log", *ROLES) as proc:
        replay_file(iso.settings, sample_path(CORPUS), "jsonl")
        log = tmp / "worker.log"
        assert wait_for(lambda: len(_hits(iso, "posts")) >= len(ids), timeout=240), log.read_text()[
            -3000:
        ]
        assert wait_for(lambda: _current(iso, ids), timeout=60), log.read_text()[-3000:]
        yield iso
        assert proc.poll() is None, log.read_text()[-3000:]


def _old_answer(posts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What ``townsquare conversations`` computed before the index: per thread, the snapshot
    on the post enriched last (``processed_at.enrich``, then ``created_at``) and the newest post."""
    by_thread: dict[str, list[dict[str, Any]]] = {}
    for doc in posts:
        by_thread.setdefault(doc["conversation_id"], []).append(doc)
    out = {}
    for conv, docs in by_thread.items():
        state = max(docs, key=lambda d: (d["processed_at"]["enrich"], d["created_at"]))
        newest = max(docs, key=lambda d: d["created_at"])
        out[conv] = {"conversation": state["conversation"], "last": newest}
    return out


def _times_equal(a: str | None, b: str | None) -> bool:
    from datetime import datetime

    def parse(v: str | None) -> datetime | None:
        return datetime.fromisoformat(v.replace("Z", "+00:00")) if v else None

    return parse(a) == parse(b)


def test_one_document_per_thread_with_the_state_the_old_command_showed(corpus: Isolated) -> None:
    sample = {
        json.loads(line)["conversation_id"]
        for line in sample_path(CORPUS).read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    posts = [
        h["_source"] for h in _hits(corpus, "posts") if h["_source"]["conversation_id"] in sample
    ]
    hits = _hits(corpus, "conversations")
    assert Counter(h["_id"] for h in hits).most_common(1)[0][1] == 1, "one document per thread"
    threads = {h["_id"]: h["_source"] for h in hits if h["_id"] in sample}
    old = _old_answer(posts)
    assert set(threads) == set(old) == sample and len(sample) == 89
    for conv, doc in threads.items():
        want, last = old[conv]["conversation"], old[conv]["last"]
        assert doc["conversation_id"] == conv and doc["platform"] == conv.split(":", 1)[0]
        assert doc["awaiting_org_reply"] == want["awaiting_org_reply"], conv
        assert _times_equal(doc["awaiting_since"], want["awaiting_since"]), conv
        for name in ("posts", "participants", "own_posts", "unanswered_org_posts", "give", "ask"):
            assert doc[name] == want[name], (conv, name)
        assert _times_equal(doc["last_activity"], want["last_activity"]), conv
        assert len(doc["participant_ids"]) == doc["participants"]
        shown = doc["last_post"]
        assert shown["id"] == last["id"], conv
        assert shown["handle"] == last["author"]["handle"] and shown["text"] == last["text"][:500]
        assert shown["url"] == last.get("url")
    awaiting = sum(d["awaiting_org_reply"] for d in threads.values())
    flagged = sum(p["conversation"]["awaiting_org_reply"] for p in posts)
    assert 0 < awaiting < flagged, (awaiting, flagged)


def _kibana_query(title: str) -> dict[str, Any]:
    """The saved search's KQL (a single ``field:true``) as the query Kibana sends."""
    for line in KIBANA.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        if obj["type"] == "search" and obj["attributes"]["title"] == title:
            source = json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
            assert obj["references"][0]["id"] == "townsquare-conversations"
            match = re.fullmatch(r"([\w.]+):(true|false)", source["query"]["query"])
            assert match, source["query"]["query"]
            return {"term": {match.group(1): match.group(2) == "true"}}
    raise AssertionError(f"no saved search {title!r}")


def test_every_reader_counts_the_same_threads_waiting_now(corpus: Isolated) -> None:
    threads = _threads(corpus)
    waiting = {c for c, d in threads.items() if d["awaiting_org_reply"]}
    assert waiting

    rows = _json_lines(
        _cli(corpus, "conversations", "--awaiting-reply", "--json", "--limit", "10000")
    )
    assert {r["conversation_id"] for r in rows} == waiting and len(rows) == len(waiting)
    since = [r["awaiting_since"] for r in rows]
    assert since == sorted(since, key=lambda v: v.replace("Z", "+00:00")), "oldest wait first"

    found = _json_lines(_cli(corpus, "search", "--awaiting-reply", "--json", "--limit", "10000"))
    assert {d["conversation_id"] for d in found} == waiting
    posts = [h["_source"] for h in _hits(corpus, "posts")]
    assert len(found) == sum(p["conversation_id"] in waiting for p in posts), "all their posts"

    for title in ("Waiting for us", "Awaiting our reply"):
        kibana = _hits(corpus, "conversations", _kibana_query(title))
        assert {h["_id"] for h in kibana} == waiting, title

    table = _cli(corpus, "conversations", "--awaiting-reply", "--limit", "10000").stdout
    assert f"{len(waiting)} conversations awaiting our reply" in table


def test_an_emptied_threads_tombstone_deletes_its_document(
    corpus: Isolated, tmp_path: Path
) -> None:
    post = {
        "id": "x:77001",
        "platform": "x",
        "created_at": "2026-03-12T10:00:00Z",
        "text": "@HarboursideBC is the tip open on bank holidays?",
        "author": {"id": "x:tip-asker", "handle": "tip_asker"},
        "conversation_id": "x:77001",
        "mentions": ["HarboursideBC"],
    }
    path = tmp_path / "thread.jsonl"
    path.write_text(json.dumps(post) + "\n", encoding="utf-8")
    replay_file(corpus.settings, path, "jsonl")
    assert wait_for(lambda: "x:77001" in _threads(corpus), timeout=90)
    assert _threads(corpus)["x:77001"]["awaiting_org_reply"] is True

    delete = {**post, "kind": "delete", "text": ""}
    path.write_text(json.dumps(delete) + "\n", encoding="utf-8")
    replay_file(corpus.settings, path, "jsonl")
    assert wait_for(lambda: "x:77001" not in _threads(corpus), timeout=90)
    records = [v for k, v in read_topic(corpus.settings, CONVERSATIONS) if k == "x:77001"]
    assert records[-1] is None, "Faust sent a Kafka null value, not an empty record"
    assert all(v is not None for v in records[:-1])


def test_a_null_value_from_any_producer_deletes_the_thread(
    corpus: Isolated, tmp_path: Path
) -> None:
    """What the retention sweep sends for a dropped thread (``topic.send(value=None)``)."""
    from kafka import KafkaProducer

    from streams.kafka_config import kafka_python_config

    victim = "x:77003"
    post = {
        "id": victim,
        "platform": "x",
        "created_at": "2026-03-12T11:00:00Z",
        "text": "Lovely morning on the prom",
        "author": {"id": "x:walker", "handle": "walker"},
        "conversation_id": victim,
    }
    path = tmp_path / "quiet.jsonl"
    path.write_text(json.dumps(post) + "\n", encoding="utf-8")
    replay_file(corpus.settings, path, "jsonl")
    assert wait_for(lambda: victim in _threads(corpus), timeout=90)
    producer = KafkaProducer(**kafka_python_config(corpus.settings))
    try:
        producer.send(corpus.settings.topic(CONVERSATIONS), key=victim.encode(), value=None)
        producer.flush(10)
    finally:
        producer.close()
    assert wait_for(lambda: victim not in _threads(corpus), timeout=90)


def test_after_a_rollover_a_thread_still_has_one_document(corpus: Isolated, tmp_path: Path) -> None:
    alias = corpus.settings.index_alias("conversations")
    es = sync_client(corpus.settings)
    try:
        assert es.indices.rollover(alias=alias)["rolled_over"]
    finally:
        es.close()
    threads = _threads(corpus)
    conv = next(c for c in sorted(threads) if c.startswith("x:"))
    before = threads[conv]["posts"]
    reply = {
        "id": "x:77002",
        "platform": "x",
        "created_at": "2026-03-13T09:00:00Z",
        "text": "same problem on our street",
        "author": {"id": "x:neighbour", "handle": "neighbour"},
        "conversation_id": conv,
        "in_reply_to": {"post_id": conv},
    }
    path = tmp_path / "reply.jsonl"
    path.write_text(json.dumps(reply) + "\n", encoding="utf-8")
    replay_file(corpus.settings, path, "jsonl")

    def updated() -> bool:
        hits = [h for h in _hits(corpus, "conversations") if h["_id"] == conv]
        return len(hits) == 1 and hits[0]["_source"]["posts"] == before + 1

    assert wait_for(updated, timeout=90), [
        (h["_index"], h["_source"]["posts"])
        for h in _hits(corpus, "conversations")
        if h["_id"] == conv
    ]
    [hit] = [h for h in _hits(corpus, "conversations") if h["_id"] == conv]
    assert hit["_index"] == f"{alias}-000001", "updated where it lives, not copied"
