"""The X agent against a local stream + recent-search server, through the real local Kafka."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from servers import PAYLOADS, HttpServer, Reply, Seen, json_reply, raw_envelopes, x_tweets
from support import Isolated
from typer.testing import CliRunner

from processors.adapters import normalize
from streams.sources.base import RunLimits
from streams.sources.x import SEARCH_PATH, STREAM_PATH, XOptions, run_x

pytestmark = pytest.mark.integration


def _stream(server: HttpServer, connections: list[tuple[list[bytes], bool]]) -> None:
    server.stream_route(STREAM_PATH, connections, beat=b"\r\n", content_type="application/json")


def _search(server: HttpServer, messages: list[dict[str, Any]]) -> None:
    """Recent search: tweets after since_id, newest first, two per page with next_token."""

    def handler(seen: Seen) -> Reply:
        since = seen.query.get("since_id")
        tweets = [
            m["data"]
            for m in messages
            if since is None or (len(m["data"]["id"]), m["data"]["id"]) > (len(since), since)
        ]
        tweets.reverse()
        start = int(seen.query.get("next_token", "0"))
        page = tweets[start : start + 2]
        meta: dict[str, Any] = {"result_count": len(page)}
        if start + 2 < len(tweets):
            meta["next_token"] = str(start + 2)
        users = messages[0]["includes"]["users"]
        return json_reply({"data": page, "includes": {"users": users}, "meta": meta})

    server.route(SEARCH_PATH, handler)


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\r\n"


def _options(url: str, **extra: Any) -> XOptions:
    return XOptions(token="bearer-for-tests", base_url=url, retry_base=0.05, **extra)


def test_recorded_stream_lands_on_the_raw_topic_through_the_cli(iso: Isolated) -> None:
    from streams.cli.main import app

    lines = [
        line.encode() + b"\r\n\r\n"
        for line in (PAYLOADS / "x_v2_stream.jsonl").read_text().splitlines()
    ]
    with HttpServer() as server:
        _stream(server, [(lines, False)])
        result = CliRunner().invoke(
            app,
            [
                "ingest",
                "x",
                "--stream",
                "--base-url",
                server.url,
                "--max-posts",
                "4",
                "--max-runtime",
                "10",
            ],
            env={**iso.env, "TOWNSQUARE_X_BEARER_TOKEN": "very-secret-bearer"},
        )
        request = server.seen(STREAM_PATH)[0]
    assert result.exit_code == 0, result.output
    assert "very-secret-bearer" not in result.output
    assert request.headers["authorization"] == "Bearer very-secret-bearer"
    assert "conversation_id" in request.query["tweet.fields"]
    records = raw_envelopes(iso.settings)
    assert [env.format for _, env in records] == ["x-v2"] * 4
    posts = [(key, normalize(env)) for key, env in records]
    assert sorted(p.kind for _, p in posts) == ["delete", "delete", "post", "post"]
    reply = next(p for k, p in posts if p.id == "x:1790019999999999999" and p.kind == "post")
    assert reply.conversation_id == "x:1790011111111111111"
    assert {k for k, p in posts if p.id == reply.id and p.kind == "post"} == {"1790011111111111111"}


def test_a_dropped_stream_is_backfilled_by_search_from_the_cursor(iso: Isolated) -> None:
    messages = x_tweets(8)
    with HttpServer() as server:
        _stream(server, [([_line(m) for m in messages[:3]], True)])
        _search(server, messages)
        options = _options(server.url, backfill_query="Fernhill OR #Fernhill")
        first = run_x(iso.settings, options, RunLimits(max_runtime=3))
        searches = server.seen(SEARCH_PATH)
        assert searches[0].query["since_id"] == messages[2]["data"]["id"]
        assert searches[0].query["query"] == "Fernhill OR #Fernhill"
        assert first.cursor == {"since_id": messages[-1]["data"]["id"]}
        before = len(server.seen("/2/"))
        run_x(iso.settings, options, RunLimits(max_runtime=1.5))
        second = server.seen("/2/")[before:]
    assert second[0].path == SEARCH_PATH
    assert second[0].query["since_id"] == messages[-1]["data"]["id"]  # the new run's cursor
    ids = {normalize(env).id for _, env in raw_envelopes(iso.settings)}
    assert ids == {f"x:{m['data']['id']}" for m in messages}


def test_recent_search_waits_for_the_rate_limit_reset(iso: Isolated) -> None:
    messages = x_tweets(2)
    reset = int(time.time()) + 2
    with HttpServer() as server:
        _search(server, messages)
        server.throttle(
            SEARCH_PATH, {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
        )
        report = run_x(
            iso.settings,
            _options(server.url, query="Fernhill", interval=0.2),
            RunLimits(max_runtime=8, max_posts=2),
        )
        seen = server.seen(SEARCH_PATH)
    assert report.sent == 2
    assert seen[1].wall >= reset  # asked again only once the window had reset
    assert report.cursor == {"since_id": messages[-1]["data"]["id"]}


def test_malformed_lines_and_notices_are_skipped(iso: Isolated) -> None:
    good = x_tweets(1)[0]
    lines = [
        b"this is not json\r\n",
        b'{"errors": [{"title": "operational-disconnect"}]}\r\n',
        _line(good),
    ]
    with HttpServer() as server:
        _stream(server, [(lines, False)])
        report = run_x(iso.settings, _options(server.url), RunLimits(max_runtime=6, max_posts=1))
    assert (report.sent, report.skipped) == (1, 2)
    envelopes = [env for _, env in raw_envelopes(iso.settings)]
    assert [normalize(e).id for e in envelopes] == [f"x:{good['data']['id']}"]
