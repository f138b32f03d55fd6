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
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from support import Isolated, Servers, isolated, running_worker, wait_for
from typer.testing import CliRunner, Result

from schemas.models import ConversationSummary, ConversationView, EnrichedPost, Joinability
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
    assert "1 matching posts" in table
    assert "@reader" in table
    get_settings.cache_clear()
    bad = CliRunner().invoke(app, ["search", "--since", "yesterday"], env=corpus.iso.env)
    assert bad.exit_code == 1
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


def test_run_summary_counts_threads_waiting_now_not_posts_ever_flagged(corpus: Corpus) -> None:
    from streams.cli.run import summary

    es = sync_client(corpus.iso.settings)
    out = Console(record=True, width=200)
    try:
        summary(es, corpus.iso.settings, list(corpus.posts), out)
        alerts = corpus.iso.settings.index_alias("alerts")
        es.indices.refresh(index=alerts)
        raised = int(es.count(index=alerts)["count"])
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
