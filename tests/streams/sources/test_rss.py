"""The RSS agent against a local feed server (conditional GET), through the real local Kafka."""

from __future__ import annotations

import pytest
from servers import PAYLOADS, HttpServer, Reply, Seen, raw_envelopes, rss_document
from support import Isolated
from typer.testing import CliRunner

from processors.adapters import AdapterError, normalize
from streams.sources.base import RunLimits
from streams.sources.rss import Feed, RssOptions, parse_comments_for, run_rss

pytestmark = pytest.mark.integration

POST_ID = "https://kestrelbayfoodbank.example/?p=412"


def _feed(server: HttpServer, path: str, body: bytes, etag: str = '"v1"') -> None:
    modified = "Mon, 03 Jun 2024 10:00:00 GMT"

    def handler(seen: Seen) -> Reply:
        if seen.headers.get("if-none-match") == etag:
            return Reply(304, headers={"ETag": etag})
        return Reply(
            200,
            body,
            {"Content-Type": "application/rss+xml", "ETag": etag, "Last-Modified": modified},
        )

    server.route(path, handler)


def test_comments_for_splits_at_the_feed_url() -> None:
    assert parse_comments_for("https://a.example/?p=1=https://a.example/p/1/feed") == Feed(
        "https://a.example/p/1/feed", "https://a.example/?p=1"
    )
    with pytest.raises(ValueError, match="POST_ID=FEED_URL"):
        parse_comments_for("no-url-here")


def test_feeds_and_comment_feeds_land_once_and_304_sends_nothing_again(iso: Isolated) -> None:
    from streams.cli.main import app

    comments = rss_document(
        [("c-1", "Is the Saturday slot still running?"), ("c-2", "Dropped off two boxes")]
    )
    with HttpServer() as server:
        _feed(server, "/blog/feed", (PAYLOADS / "rss_feed.xml").read_bytes())
        _feed(server, "/blog/summer-appeal/feed", comments)
        result = CliRunner().invoke(
            app,
            [
                "ingest",
                "rss",
                f"{server.url}/blog/feed",
                "--comments-for",
                f"{POST_ID}={server.url}/blog/summer-appeal/feed",
                "--interval",
                "0.3",
                "--max-runtime",
                "2",
            ],
            env=iso.env,
        )
        polls = server.seen("/blog/feed")
    assert result.exit_code == 0, result.output
    assert len(polls) >= 2
    assert "if-none-match" not in polls[0].headers
    assert polls[1].headers["if-none-match"] == '"v1"'
    assert polls[1].headers["if-modified-since"] == "Mon, 03 Jun 2024 10:00:00 GMT"
    records = raw_envelopes(iso.settings)
    assert len(records) == 4  # every later poll was a 304
    posts = {normalize(env).id: (key, normalize(env)) for key, env in records}
    key, comment = posts["rss:c-1"]
    assert key == POST_ID
    assert comment.in_reply_to is not None and comment.in_reply_to.post_id == f"rss:{POST_ID}"
    assert posts[f"rss:{POST_ID}"][1].text.startswith("Summer appeal")


def test_a_run_stopped_mid_feed_keeps_no_etag_so_the_next_run_sends_the_rest(iso: Isolated) -> None:
    items = [(f"entry-{n}", f"Food bank news {n}") for n in range(6)]
    with HttpServer() as server:
        _feed(server, "/feed", rss_document(items))
        options = RssOptions(feeds=(Feed(f"{server.url}/feed"),), interval=0.3, retry_base=0.05)
        first = run_rss(iso.settings, options, RunLimits(max_runtime=5, max_posts=2))
        assert first.cursor == {f"{server.url}/feed": {"etag": None, "modified": None}}
        before = len(server.seen("/feed"))
        run_rss(iso.settings, options, RunLimits(max_runtime=1.5))
        second = server.seen("/feed")[before:]
    assert "if-none-match" not in second[0].headers  # a full fetch, not a 304 hiding 4 entries
    assert second[-1].headers.get("if-none-match") == '"v1"'
    ids = [normalize(env).id for _, env in raw_envelopes(iso.settings)]
    assert sorted(ids) == sorted(f"rss:entry-{n}" for n in range(6))  # each exactly once


def test_429_retry_after_is_honoured(iso: Isolated) -> None:
    with HttpServer() as server:
        _feed(server, "/feed", rss_document([("a", "A"), ("b", "B")]))
        server.throttle("/feed", {"Retry-After": "1"})
        options = RssOptions(feeds=(Feed(f"{server.url}/feed"),), interval=0.3, retry_base=0.05)
        report = run_rss(iso.settings, options, RunLimits(max_runtime=8, max_posts=2))
        polls = server.seen("/feed")
    assert report.sent == 2
    assert polls[1].at - polls[0].at >= 1.0


def test_an_unreadable_feed_is_skipped_and_an_incomplete_entry_flows_on(iso: Isolated) -> None:
    broken_entry = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        b"<item><description>no id, no link</description></item></channel></rss>"
    )
    with HttpServer() as server:
        _feed(server, "/junk", b"this is <<< not a feed")
        _feed(server, "/odd", broken_entry)
        options = RssOptions(
            feeds=(Feed(f"{server.url}/junk"), Feed(f"{server.url}/odd")),
            interval=5,
            retry_base=0.05,
        )
        report = run_rss(iso.settings, options, RunLimits(max_runtime=5, max_posts=1))
    assert report.skipped == 1
    [(_, envelope)] = raw_envelopes(iso.settings)
    with pytest.raises(AdapterError):
        normalize(envelope)


def test_a_huge_a_slow_and_a_redirected_away_feed_are_skipped_and_the_next_feed_is_read(
    iso: Isolated,
) -> None:
    """Each bad feed is a counted skip; the good one, reached by a redirect, still lands."""
    from test_http_fetch import MIB, Counted, _trickle

    huge = Counted()
    with HttpServer() as server, HttpServer() as internal:
        internal.route("/", lambda seen: Reply(200, rss_document([("secret", "Internal")])))
        internal_port = internal.url.rsplit(":", 1)[1]
        server.route("/huge", lambda seen: Reply(200, stream=huge))
        server.route("/slow", _trickle)
        server.route(
            "/away",
            lambda seen: Reply(302, headers={"Location": f"http://localhost:{internal_port}/"}),
        )
        server.route("/old", lambda seen: Reply(301, headers={"Location": "/feed"}))
        _feed(server, "/feed", rss_document([("a", "A"), ("b", "B")]))
        options = RssOptions(
            feeds=tuple(Feed(f"{server.url}/{p}") for p in ("huge", "slow", "away", "old")),
            interval=30,
            retry_base=0.05,
            max_bytes=MIB,
            fetch_deadline=1.5,
        )
        report = run_rss(iso.settings, options, RunLimits(max_runtime=10, max_posts=2))
        assert internal.seen("/") == []
    assert (report.sent, report.skipped) == (2, 3)
    assert huge.written < 16 * MIB
    # No validators stored for the skipped feeds: the next poll fetches them afresh.
    assert report.cursor is not None
    assert report.cursor[f"{server.url}/huge"] == {"etag": None, "modified": None}
    envelopes = [env for _, env in raw_envelopes(iso.settings)]
    assert sorted(normalize(env).id for env in envelopes) == ["rss:a", "rss:b"]
    assert {env.context["feed_url"] for env in envelopes} == {f"{server.url}/feed"}
