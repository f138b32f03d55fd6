"""`townsquare search` and `townsquare conversations` through the real search server.

Two ways in: a module-wide pipeline run (replay a small file through a real
worker, so the documents are what enrichment really produces) for the filters
and the awaiting count, and documents indexed directly with the index stage's
``index_batch`` where a test needs exact states (many waits, SLA arithmetic,
posts flagged in a thread that no longer waits). Expected answers are computed
from what the indices hold, not written down, so a filter that silently
matches everything fails. "Awaiting our reply" is read from the conversations
index (one document per thread, its state now) by every command.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from rich.console import Console
from support import Isolated, Servers, isolated, running_worker, wait_for
from typer.testing import CliRunner, Result

from schemas.models import (
    ConversationSummary,
    ConversationView,
    EnrichedPost,
    Entity,
    Joinability,
    Reading,
    Signal,
    Stakeholder,
    StakeholderLabel,
)
from streams.cli.main import app
from streams.cli.run import stale_conversations
from streams.cli.setup import run_setup
from streams.es.bulk import BulkOptions, index_batch
from streams.es.client import async_client, sync_client
from streams.es.conversations import view_document
from streams.es.documents import post_document
from streams.es.indices import install
from streams.settings import get_settings
from streams.sources.replay import replay_file

pytestmark = pytest.mark.integration

COUNCIL = "HarboursideBC"
SLA_MINUTES = 240  # the sample council profile's reply_sla_minutes


def _invoke(iso: Isolated, *args: str) -> Result:
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args), env=iso.env)
    finally:
        get_settings.cache_clear()


def _cli(iso: Isolated, *args: str) -> Result:
    result = _invoke(iso, *args)
    assert result.exit_code == 0, result.output
    return result


def _json_lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


# --- the pipeline run ------------------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    iso: Isolated
    now: datetime
    posts: dict[str, dict[str, Any]]


def _post(
    pid: str,
    conv: str,
    at: datetime,
    text: str,
    handle: str,
    *,
    platform: str = "x",
    reply_to: str | None = None,
    mentions: tuple[str, ...] = (),
) -> dict[str, Any]:
    post: dict[str, Any] = {
        "id": f"{platform}:{pid}",
        "platform": platform,
        "url": f"https://{platform}.example/{handle}/{pid}",
        "created_at": _iso(at),
        "lang": "en",
        "text": text,
        "author": {"id": f"{platform}:{handle.lower()}", "handle": handle},
        "conversation_id": f"{platform}:{conv}",
        "mentions": list(mentions),
    }
    if reply_to is not None:
        post["in_reply_to"] = {"post_id": f"{platform}:{reply_to}"}
    return post


def _corpus(now: datetime) -> list[dict[str, Any]]:
    h = timedelta(hours=1)
    return [
        # A: a resident asks us, a neighbour chimes in; nobody from the council answers.
        _post(
            "501",
            "501",
            now - 6 * h,
            f"@{COUNCIL} bins on Marsh Lane weren't collected this morning. "
            "Is the lorry coming back today?",
            "DevPatel88",
            mentions=(COUNCIL,),
        ),
        _post(
            "502",
            "501",
            now - 5.5 * h,
            "same on Heron Close, third time since Christmas",
            "mags_on_marsh",
            reply_to="501",
        ),
        # B: a resident asks, the council answers: no longer waiting.
        _post(
            "511",
            "511",
            now - 5 * h,
            f"@{COUNCIL} there is a huge pothole on Fenwick Road, when will it be fixed?",
            "cyclist_jo",
            mentions=(COUNCIL,),
        ),
        _post(
            "512",
            "511",
            now - 4 * h,
            "@cyclist_jo thanks Jo, our highways team will inspect Fenwick Road within 48 hours",
            COUNCIL,
            reply_to="511",
            mentions=("cyclist_jo",),
        ),
        # C: on Mastodon, asked an hour ago: waiting, within the SLA.
        _post(
            "521",
            "521",
            now - 1 * h,
            "@HarboursideBC@harbour.social.example is Quayside Library open on Sunday?",
            "reader",
            platform="mastodon",
            mentions=("HarboursideBC@harbour.social.example",),
        ),
        # D: yesterday's chatter, none of our business.
        _post(
            "531",
            "531",
            now - 30 * h,
            "Lovely sunset over the harbour tonight",
            "sunsetfan",
        ),
        # E: the local paper asks for comment.
        _post(
            "541",
            "541",
            now - 2 * h,
            f"@{COUNCIL} HarboursideEcho here: can you comment on missed bin collections?",
            "KateLindenNews",
            mentions=(COUNCIL,),
        ),
    ]


@pytest.fixture(scope="module")
def corpus(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    tmp = tmp_path_factory.mktemp("commands")
    iso = isolated(servers, tmp)
    run_setup(iso.settings)
    now = datetime.now(UTC).replace(microsecond=0)
    posts = _corpus(now)
    path = tmp / "posts.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")
    with running_worker(iso, tmp / "worker.log") as proc:
        replay_file(iso.settings, path, "jsonl")
        wanted = {p["id"] for p in posts}
        assert wait_for(lambda: wanted <= set(_all_docs(iso)), timeout=120), (
            tmp / "worker.log"
        ).read_text()[-3000:]
        assert wait_for(lambda: not _stale(iso, sorted(wanted)), timeout=60), (
            tmp / "worker.log"
        ).read_text()[-3000:]
        yield Corpus(iso, now, {p["id"]: p for p in posts})
        assert proc.poll() is None


def _all_docs(iso: Isolated) -> dict[str, dict[str, Any]]:
    es = sync_client(iso.settings)
    try:
        alias = iso.settings.index_alias("posts")
        es.indices.refresh(index=alias)
        hits = es.search(index=alias, query={"match_all": {}}, size=1000)["hits"]["hits"]
        return {h["_source"]["id"]: h["_source"] for h in hits}
    finally:
        es.close()


def _stale(iso: Isolated, ids: list[str]) -> list[str]:
    es = sync_client(iso.settings)
    try:
        return stale_conversations(
            es, iso.settings.index_alias("posts"), iso.settings.index_alias("conversations"), ids
        )
    finally:
        es.close()


def _threads(iso: Isolated) -> dict[str, dict[str, Any]]:
    es = sync_client(iso.settings)
    try:
        alias = iso.settings.index_alias("conversations")
        es.indices.refresh(index=alias)
        hits = es.search(index=alias, query={"match_all": {}}, size=1000)["hits"]["hits"]
        return {h["_id"]: h["_source"] for h in hits}
    finally:
        es.close()


def _search_ids(iso: Isolated, *args: str) -> list[str]:
    return [d["id"] for d in _json_lines(_cli(iso, "search", "--json", *args))]


def test_search_without_filters_returns_every_post_best_joinability_first(
    corpus: Corpus,
) -> None:
    docs = _search_ids(corpus.iso)
    assert set(docs) == set(corpus.posts)
    scores = [_all_docs(corpus.iso)[i]["joinability"]["score"] for i in docs]
    assert scores == sorted(scores, reverse=True)


def test_each_search_filter_matches_exactly_the_posts_that_qualify(corpus: Corpus) -> None:
    docs = _all_docs(corpus.iso)
    iso = corpus.iso

    scores = sorted(d["joinability"]["score"] for d in docs.values())
    cut = scores[len(scores) // 2]
    expected = {i for i, d in docs.items() if d["joinability"]["score"] >= cut}
    assert 0 < len(expected) < len(docs)
    assert set(_search_ids(iso, "--min-joinability", str(cut))) == expected

    actions = {d["joinability"]["action"] for d in docs.values()}
    assert len(actions) >= 2, actions
    for action in actions:
        expected = {i for i, d in docs.items() if d["joinability"]["action"] == action}
        assert set(_search_ids(iso, "--action", action)) == expected, action

    assert "media" in docs["x:541"]["stakeholder_labels"]
    expected = {i for i, d in docs.items() if "media" in d["stakeholder_labels"]}
    assert set(_search_ids(iso, "--stakeholder", "media")) == expected

    # Posts of the threads waiting now: B's question was flagged when it arrived, but
    # the council has answered it since, so none of B's posts is listed.
    waiting = {c for c, t in _threads(iso).items() if t["awaiting_org_reply"]}
    assert waiting == {"x:501", "mastodon:521", "x:541"}
    assert docs["x:511"]["conversation"]["awaiting_org_reply"], "flagged when it arrived"
    expected = {i for i, d in docs.items() if d["conversation_id"] in waiting}
    assert expected == {"x:501", "x:502", "mastodon:521", "x:541"}
    assert set(_search_ids(iso, "--awaiting-reply")) == expected

    assert _search_ids(iso, "--platform", "mastodon") == ["mastodon:521"]
    assert set(_search_ids(iso, "--since", "24h")) == set(docs) - {"x:531"}
    assert _search_ids(iso, "pothole") == ["x:511"]
    # "bin collections" stems to the same word as "bins"; x:501 is older than 3h.
    assert _search_ids(iso, "bins", "--platform", "x", "--since", "3h") == ["x:541"]
    assert _search_ids(iso, "--limit", "2") == _search_ids(iso)[:2]


def test_search_table_and_bad_duration(corpus: Corpus) -> None:
    table = _cli(corpus.iso, "search", "--platform", "mastodon").stdout
    assert "1 matching post, best joinability first" in table
    assert "@reader" in table
    bad = _invoke(corpus.iso, "search", "--since", "yesterday")
    assert bad.exit_code == 2
    assert "e.g. 30m" in bad.output


def test_conversations_awaiting_reply_are_the_unanswered_threads_oldest_first(
    corpus: Corpus,
) -> None:
    reference = corpus.now + timedelta(minutes=10)
    rows = _json_lines(
        _cli(corpus.iso, "conversations", "--awaiting-reply", "--json", "--now", _iso(reference))
    )
    # B was answered by the council: its first post is still flagged, its thread is not waiting.
    assert [r["conversation_id"] for r in rows] == ["x:501", "x:541", "mastodon:521"]
    by_id = {r["conversation_id"]: r for r in rows}
    a = by_id["x:501"]
    assert a["waiting_seconds"] == int(timedelta(hours=6, minutes=10).total_seconds())
    assert a["sla"] == "over"
    assert a["over_by_seconds"] == a["waiting_seconds"] - SLA_MINUTES * 60
    assert a["last_post"]["id"] == "x:502"  # the newest post, not the one that is waiting
    assert a["last_post"]["author"] == "mags_on_marsh"
    c = by_id["mastodon:521"]
    assert (c["sla"], c["over_by_seconds"]) == ("within", None)
    assert c["waiting_seconds"] == 70 * 60
    assert all(r["sla_minutes"] == SLA_MINUTES for r in rows)

    limited = _json_lines(
        _cli(corpus.iso, "conversations", "--awaiting-reply", "--json", "--limit", "1")
    )
    assert [r["conversation_id"] for r in limited] == ["x:501"]

    every = _json_lines(_cli(corpus.iso, "conversations", "--json"))
    assert {r["conversation_id"] for r in every} == {
        "x:501",
        "x:511",
        "mastodon:521",
        "x:531",
        "x:541",
    }
    answered = next(r for r in every if r["conversation_id"] == "x:511")
    assert answered["awaiting_org_reply"] is False
    assert answered["own_posts"] == 1

    table = _cli(corpus.iso, "conversations", "--awaiting-reply").stdout
    assert "3 conversations awaiting our reply (reply SLA 240 min)" in table
    assert "over by" in table and "within" in table


def test_typos_exit_2_with_the_allowed_values_against_the_real_index(corpus: Corpus) -> None:
    """The three typos of the issue, each once an empty list with exit code 0."""
    for args, suggestion in (
        (("search", "--action", "replyy"), "reply"),
        (("search", "--stakeholder", "journalist"), "media"),
        (("search", "--platform", "twitter"), "x"),
        (("conversations", "--platform", "twiter"), "x"),
        (("conversations", "--action", "escalat"), "escalate"),
    ):
        result = _invoke(corpus.iso, *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stdout == ""
        (line,) = result.stderr.splitlines()
        assert f"{args[-2]} {args[-1]!r} is not " in line
        assert f"did you mean {suggestion!r}?" in line
    platforms = _invoke(corpus.iso, "search", "--platform", "twitter").stderr
    assert platforms.strip().endswith("Choose from: bluesky, mastodon, reddit, rss, x")


def test_topic_and_entity_match_what_the_reading_and_the_entities_recorded(corpus: Corpus) -> None:
    """Expected sets come from the enriched documents, so the stored shape is what is tested."""
    docs = _all_docs(corpus.iso)

    def on_topic(doc: dict[str, Any], topic: str) -> bool:
        signals = (doc.get("reading") or {}).get("signals") or []
        evidence = " ".join(e for s in signals if s["name"] == "on_topic" for e in s["evidence"])
        return topic in evidence.lower()

    expected = {i for i, d in docs.items() if on_topic(d, "bins")}
    assert expected, "the sample council's topics include bins, and the corpus talks about them"
    assert expected < set(docs)
    assert set(_search_ids(corpus.iso, "--topic", "Bins")) == expected
    assert _search_ids(corpus.iso, "--topic", "council tax") == []

    names = sorted({e["text"] for d in docs.values() for e in d["entities"] if " " in e["text"]})
    assert names, [d["entities"] for d in docs.values()]
    name = names[0]
    expected = {
        i for i, d in docs.items() if any(e["text"].lower() == name.lower() for e in d["entities"])
    }
    assert set(_search_ids(corpus.iso, "--entity", name.upper())) == expected
    assert _search_ids(corpus.iso, "--entity", name[:-1]) == [], "the whole name, not a part"


def test_the_views_of_the_real_records_keep_their_content_at_80_and_160(corpus: Corpus) -> None:
    from streams.cli.analyst import conversations_table, posts_table

    rows = _json_lines(_cli(corpus.iso, "conversations", "--awaiting-reply", "--json"))
    posts = _json_lines(_cli(corpus.iso, "search", "--json"))
    assert any(r["last_post"]["reasons"] for r in rows), rows
    assert any(r["last_post"]["stakeholder_labels"] for r in rows), rows
    for width in (80, 160):
        out = Console(record=True, width=width)
        out.print(conversations_table(rows, "t"), crop=False)
        screen = out.export_text()
        words = " ".join(screen.split())
        lines = [line.strip() for line in screen.splitlines()]
        for row in rows:
            last = row["last_post"]
            assert last["url"] in lines, (width, last["url"], screen)
            assert " ".join(last["text"].split()) in words
            assert _when(last["created_at"]) in words
            if last["reasons"]:
                assert f"why: {last['reasons'][0]}" in words
            assert row["conversation_id"] in words
        assert "over by" in words and "within SLA" in words

        out = Console(record=True, width=width)
        out.print(posts_table(posts, "t"), crop=False)
        screen = out.export_text()
        words = " ".join(screen.split())
        lines = [line.strip() for line in screen.splitlines()]
        for doc in posts:
            assert doc["url"] in lines
            assert " ".join(doc["text"].split()) in words
            assert _when(doc["created_at"]) in words
            if doc["joinability"]["reasons"]:
                assert f"why: {doc['joinability']['reasons'][0]}" in words
            for label in doc["stakeholder_labels"]:
                assert label in words


def _when(stored: str) -> str:
    return datetime.fromisoformat(stored).astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _settled_count(es: Elasticsearch, alias: str, quiet: float = 2.0, timeout: float = 30.0) -> int:
    """Documents under ``alias`` once a count has held for ``quiet`` seconds (bounded)."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        es.indices.refresh(index=alias, ignore_unavailable=True)
        count = int(es.count(index=alias, ignore_unavailable=True)["count"])
        if count != last:
            last, since = count, time.monotonic()
        elif count > 0 and time.monotonic() - since >= quiet:
            return count
        time.sleep(0.25)
    return last


def test_run_summary_counts_threads_waiting_now_not_posts_ever_flagged(corpus: Corpus) -> None:
    from streams.cli.run import summary

    es = sync_client(corpus.iso.settings)
    out = Console(record=True, width=200)
    alerts = corpus.iso.settings.index_alias("alerts")
    try:
        # The alert role indexes its alerts a moment after the posts: wait until none arrive.
        raised = _settled_count(es, alerts)
        summary(es, corpus.iso.settings, list(corpus.posts), out)
    finally:
        es.close()
    text = out.export_text()
    assert "7 posts indexed in 5 conversations; 3 conversations await our reply" in text
    assert f"alerts raised: {raised}" in text


def test_the_run_summary_says_zero_alerts_when_the_alerts_alias_is_missing(
    direct: Isolated,
) -> None:
    from streams.cli.run import summary

    es = sync_client(direct.settings)
    out = Console(record=True, width=200)
    try:
        es.indices.delete(index=f"{direct.settings.index_alias('alerts')}-000001")
        summary(es, direct.settings, ["x:none"], out)
    finally:
        es.close()
    text = out.export_text()
    assert "0 posts indexed in 0 conversations; 0 conversations await our reply" in text
    assert "alerts raised: 0" in text


# --- exact states, indexed directly ------------------------------------------------------


def _thread(
    conv: str,
    last_activity: datetime,
    *,
    awaiting_since: datetime | None,
    posts: int = 1,
) -> dict[str, Any]:
    view = ConversationView(
        conversation_id=conv,
        platform="x",
        posts=posts,
        participants=1,
        participant_ids=[f"x:a-{conv}"],
        last_activity=last_activity,
        awaiting_org_reply=awaiting_since is not None,
        awaiting_since=awaiting_since,
        last_post={
            "id": f"{conv}-last",
            "author_id": f"x:a-{conv}",
            "handle": f"author-{conv}",
            "created_at": last_activity,
            "text": f"the last post in {conv}",
            "url": f"https://x.example/p/{conv}",
        },
        updated_at=last_activity,
    )
    return view_document(view, last_activity)


def _enriched(
    n: int,
    conv: str,
    created: datetime,
    processed: datetime,
    *,
    awaiting_since: datetime | None,
    posts: int = 1,
) -> dict[str, Any]:
    post = EnrichedPost(
        id=f"x:{n}",
        platform="x",
        url=f"https://x.example/p/{n}",
        created_at=created,
        text=f"post {n} in {conv}",
        author={"id": f"x:a{n}", "handle": f"author{n}"},
        conversation_id=conv,
        joinability=Joinability(score=0.5, action="reply"),
        conversation=ConversationSummary(
            posts=posts,
            participants=1,
            last_activity=created,
            awaiting_org_reply=awaiting_since is not None,
            awaiting_since=awaiting_since,
        ),
        processed_at={"enrich": processed},
    )
    return post_document(post)


@pytest.fixture
def direct(servers: Servers, tmp_path: Path) -> Isolated:
    iso = isolated(servers, tmp_path)
    es = sync_client(iso.settings)
    install(es, iso.settings)
    es.close()
    return iso


def _index(iso: Isolated, docs: list[dict[str, Any]], family: str = "posts") -> None:
    alias = iso.settings.index_alias(family)
    key = "id" if family == "posts" else "conversation_id"
    actions = [{"_op_type": "index", "_index": alias, "_id": d[key], "_source": d} for d in docs]

    async def go() -> None:
        es = async_client(iso.settings)
        try:
            assert await index_batch(es, actions, BulkOptions(max_retries=1)) == []
        finally:
            await es.close()

    asyncio.run(go())
    es = sync_client(iso.settings)
    es.indices.refresh(index=alias)
    es.close()


def test_oldest_wait_first_with_limit_and_exact_sla_arithmetic(direct: Isolated) -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    waits = {"c-a": 30, "c-b": 600, "c-c": 241, "c-d": 240, "c-e": 5000}
    docs = [
        _thread(conv, now - timedelta(minutes=m), awaiting_since=now - timedelta(minutes=m))
        for conv, m in waits.items()
    ]
    docs.append(_thread("c-answered", now, awaiting_since=None))
    _index(direct, docs, "conversations")
    rows = _json_lines(
        _cli(
            direct,
            "conversations",
            "--awaiting-reply",
            "--json",
            "--now",
            _iso(now),
            "--limit",
            "4",
        )
    )
    assert [r["conversation_id"] for r in rows] == ["c-e", "c-b", "c-c", "c-d"]
    for row in rows:
        waited = waits[row["conversation_id"]] * 60
        assert row["waiting_seconds"] == waited
        over = waited > SLA_MINUTES * 60
        assert row["sla"] == ("over" if over else "within")
        assert row["over_by_seconds"] == (waited - SLA_MINUTES * 60 if over else None)
        assert row["last_post"] == {
            "id": f"{row['conversation_id']}-last",
            "created_at": _iso(now - timedelta(minutes=waits[row["conversation_id"]])),
            "author": f"author-{row['conversation_id']}",
            "text": f"the last post in {row['conversation_id']}",
            "url": f"https://x.example/p/{row['conversation_id']}",
            "action": None,
            "stakeholder_labels": [],
            "reasons": [],
        }
    every = _json_lines(_cli(direct, "conversations", "--json", "--now", _iso(now)))
    assert [r["conversation_id"] for r in every] == [
        "c-answered",
        "c-a",
        "c-d",
        "c-c",
        "c-b",
        "c-e",
    ], "most recently active first"


def test_posts_flagged_when_they_arrived_do_not_make_a_thread_wait(direct: Isolated) -> None:
    """Only the conversations index says who waits: a flagged snapshot on a post does not."""
    t = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    _index(
        direct,
        [
            _enriched(1, "answered", t, t, awaiting_since=t),
            _enriched(2, "waiting", t, t, awaiting_since=t),
        ],
    )
    _index(
        direct,
        [
            _thread("answered", t + timedelta(hours=1), awaiting_since=None, posts=2),
            _thread("waiting", t, awaiting_since=t),
        ],
        "conversations",
    )
    now = _iso(t + timedelta(hours=3))
    rows = _json_lines(_cli(direct, "conversations", "--awaiting-reply", "--json", "--now", now))
    assert [r["conversation_id"] for r in rows] == ["waiting"]
    assert rows[0]["waiting_seconds"] == 3 * 3600
    assert _search_ids(direct, "--awaiting-reply") == ["x:2"]
    everything = _search_ids(direct)
    assert set(everything) == {"x:1", "x:2"}


# --- an older corpus, indexed directly: windows, order, platforms, topics, CSV ---------------

OLD = datetime(2026, 3, 14, tzinfo=UTC)


def _scored(
    pid: str,
    text: str,
    score: float,
    created: datetime,
    *,
    topic: str | None = None,
    entities: tuple[str, ...] = (),
    labels: tuple[StakeholderLabel, ...] = (),
) -> dict[str, Any]:
    platform = pid.split(":", 1)[0]
    post = EnrichedPost(
        id=pid,
        platform=platform,
        url=f"https://{platform}.example/p/{pid.split(':', 1)[1]}?ref=townsquare-analyst-test",
        created_at=created,
        text=text,
        author={"id": f"{platform}:a-{pid}", "handle": f"author_{pid.split(':', 1)[1]}"},
        conversation_id=pid,
        entities=[
            Entity(text=e, label="LOCATION", start=0, end=len(e), source="model") for e in entities
        ],
        stakeholders=[Stakeholder(label=label, score=0.9, reasons=["said so"]) for label in labels],
        joinability=Joinability(
            score=score, action="reply", reasons=[f"first reason of {pid}", "a second one"]
        ),
        reading=Reading(
            addressed="none",
            about_us=topic is not None,
            kind="chatter",
            sentiment="neutral",
            signals=[Signal(name="on_topic", score=0.4, evidence=[f"is about '{topic}'"])]
            if topic
            else [],
        ),
    )
    return post_document(post)


@pytest.fixture
def older(direct: Isolated) -> Isolated:
    """Four posts around 14 March, well before now; one on a platform a webhook sender named."""
    _index(
        direct,
        [
            _scored(
                "x:11", "bins bins bins, overflowing bins", 0.2, OLD.replace(hour=9), topic="bins"
            ),
            _scored(
                "x:12",
                "the bins on Elm Street were missed",
                0.9,
                OLD - timedelta(seconds=1),
                topic="Bins",
                entities=("Elm Street",),
                labels=("citizen", "media"),
            ),
            _scored(
                "x:13",
                'a lovely park, "really"\nsecond line, with a comma',
                0.95,
                OLD.replace(hour=23, minute=59),
                topic="Garden  Waste",
                entities=("Elm Street Park",),
            ),
            _scored("forum:14", "bins again", 0.5, OLD + timedelta(days=1)),
        ],
    )
    return direct


def test_since_on_an_older_corpus_says_so_and_names_the_newest_day(older: Isolated) -> None:
    result = _cli(older, "search", "--since", "24h")
    assert result.stdout == ""
    assert result.stderr.strip() == (
        "no posts newer than 24h; the newest is from 2026-03-15: try --from 2026-03-14"
    )
    result = _cli(older, "search", "--since", "24h", "--platform", "x", "--json")
    assert result.stderr.strip() == (
        "no matching posts newer than 24h; the newest match is from 2026-03-14: "
        "try --from 2026-03-13"
    )
    assert set(_search_ids(older, "--from", "2026-03-13", "--platform", "x")) == {
        "x:11",
        "x:12",
        "x:13",
    }


def test_from_and_until_are_absolute_utc_windows(older: Isolated) -> None:
    # A date as --until includes that day; --from is inclusive, --until exclusive.
    assert set(_search_ids(older, "--from", "2026-03-14", "--until", "2026-03-14")) == {
        "x:11",
        "x:13",
    }
    assert set(_search_ids(older, "--from", "2026-03-14T00:00:00+01:00")) == {
        "x:11",
        "x:12",
        "x:13",
        "forum:14",
    }
    assert _search_ids(older, "--until", "2026-03-14T09:00") == ["x:12"]
    assert _search_ids(older, "--from", "2026-03-15T00:00Z") == ["forum:14"]


def test_a_query_keeps_the_joinability_order_and_relevance_is_asked_for(older: Isolated) -> None:
    """x:11 is the best text match for "bins" and the worst joinability."""
    relevance = _search_ids(older, "bins", "--sort", "relevance")
    assert relevance[0] == "x:11"
    by_joinability = _search_ids(older, "bins")
    assert by_joinability == ["x:12", "forum:14", "x:11"]
    assert by_joinability[0] != relevance[0]
    assert _search_ids(older, "bins", "--sort", "time") == ["forum:14", "x:11", "x:12"]
    title = _cli(older, "search", "bins").stdout.splitlines()[0]
    assert title == "3 matching posts, best joinability first, then newest (times in UTC)"


def test_a_platform_a_webhook_named_is_accepted_and_its_typo_suggested(older: Isolated) -> None:
    assert _search_ids(older, "--platform", "forum") == ["forum:14"]
    result = _invoke(older, "search", "--platform", "forun")
    assert result.exit_code == 2
    assert "did you mean 'forum'?" in result.stderr
    assert result.stderr.strip().endswith("Choose from: bluesky, forum, mastodon, reddit, rss, x")


def test_topics_and_entities_on_exact_documents(older: Isolated) -> None:
    assert set(_search_ids(older, "--topic", "bins")) == {"x:11", "x:12"}
    assert _search_ids(older, "--topic", "garden waste") == ["x:13"]
    assert set(_search_ids(older, "--topic", "bins", "--topic", "Garden-Waste")) == {
        "x:11",
        "x:12",
        "x:13",
    }
    assert _search_ids(older, "--entity", "elm street") == ["x:12"]
    assert _search_ids(older, "--entity", "ELM STREET PARK") == ["x:13"]
    assert _search_ids(older, "--entity", "elm") == []
    assert _search_ids(older, "--topic", "bins", "--entity", "Elm Street") == ["x:12"]


def test_search_csv_is_the_json_output_in_columns(older: Isolated) -> None:
    as_json = _json_lines(_cli(older, "search", "--json"))
    as_csv = _cli(older, "search", "--csv").stdout_bytes.decode()
    rows = list(csv.DictReader(io.StringIO(as_csv, newline="")))
    assert as_csv.splitlines()[0] == (
        "id,created_at,platform,author,score,action,stakeholders,reasons,text,url,conversation_id"
    )
    assert (
        [r["id"] for r in rows]
        == [d["id"] for d in as_json]
        == [
            "x:13",
            "x:12",
            "forum:14",
            "x:11",
        ]
    )
    for row, doc in zip(rows, as_json, strict=True):
        assert row["text"] == doc["text"]
        assert row["url"] == doc["url"]
        assert row["created_at"] == doc["created_at"]
        assert row["platform"] == doc["platform"]
        assert row["author"] == doc["author"]["handle"]
        assert float(row["score"]) == doc["joinability"]["score"]
        assert row["action"] == doc["joinability"]["action"]
        assert row["stakeholders"] == ";".join(doc["stakeholder_labels"])
        assert row["reasons"].split("\n") == doc["joinability"]["reasons"]
        assert row["conversation_id"] == doc["conversation_id"]
    assert "\n" in rows[0]["text"] and '"' in rows[0]["text"]


def test_conversations_csv_is_the_json_output_in_columns(older: Isolated) -> None:
    """The thread's newest post brings its stakeholders and reasons from the posts index."""
    t = OLD + timedelta(hours=10)
    view = ConversationView(
        conversation_id="x:12",
        platform="x",
        posts=2,
        participants=2,
        participant_ids=["x:a-x:12", "x:other"],
        last_activity=t,
        awaiting_org_reply=True,
        awaiting_since=t - timedelta(hours=1),
        last_post={
            "id": "x:12",
            "author_id": "x:a-x:12",
            "handle": "author_12",
            "created_at": t,
            "text": "the bins on Elm Street were missed",
            "url": "https://x.example/p/12?ref=townsquare-analyst-test",
            "action": "reply",
        },
        updated_at=t,
    )
    _index(
        older, [view_document(view, t), _thread("x:99", t, awaiting_since=None)], "conversations"
    )
    now = _iso(t + timedelta(hours=5))
    as_json = _json_lines(_cli(older, "conversations", "--json", "--now", now))
    as_csv = _cli(older, "conversations", "--csv", "--now", now).stdout_bytes.decode()
    rows = list(csv.DictReader(io.StringIO(as_csv, newline="")))
    assert [r["conversation_id"] for r in rows] == [r["conversation_id"] for r in as_json]
    assert len(rows) == 2
    flat = {
        "conversation_id": "x:12",
        "awaiting_org_reply": "true",
        "waiting_seconds": str(6 * 3600),
        "sla": "over",
        "over_by_seconds": str(6 * 3600 - SLA_MINUTES * 60),
        "last_post_id": "x:12",
        "last_post_action": "reply",
        "last_post_stakeholders": "citizen;media",
        "last_post_reasons": "first reason of x:12\na second one",
        "last_post_url": "https://x.example/p/12?ref=townsquare-analyst-test",
    }
    row = next(r for r in rows if r["conversation_id"] == "x:12")
    assert {k: row[k] for k in flat} == flat
    record = next(r for r in as_json if r["conversation_id"] == "x:12")
    assert record["last_post"]["stakeholder_labels"] == ["citizen", "media"]
    assert record["last_post"]["reasons"] == ["first reason of x:12", "a second one"]
    for row, record in zip(rows, as_json, strict=True):
        for column in ("platform", "awaiting_since", "posts", "participants", "last_activity"):
            assert row[column] == ("" if record[column] is None else str(record[column]))
        for key in ("id", "created_at", "author", "text", "url"):
            assert row[f"last_post_{key}"] == (record["last_post"][key] or "")
    table = _cli(older, "conversations", "--awaiting-reply", "--now", now).stdout
    assert "last post 2026-03-14 10:00 │ @author_12 │ citizen, media │ reply" in table
    assert "why: first reason of x:12" in table
    assert "https://x.example/p/12?ref=townsquare-analyst-test" in map(
        str.strip, table.splitlines()
    )
    replying = _json_lines(_cli(older, "conversations", "--action", "reply", "--json"))
    assert [r["conversation_id"] for r in replying] == ["x:12"]
    assert [
        r["conversation_id"]
        for r in _json_lines(_cli(older, "conversations", "--platform", "x", "--json"))
    ] == ["x:12", "x:99"]
