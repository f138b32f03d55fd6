"""The Mastodon agent against a local SSE + REST server, through the real local Kafka."""

from __future__ import annotations

import json
from itertools import chain
from typing import Any

import pytest
from servers import (
    PAYLOADS,
    HttpServer,
    Reply,
    Seen,
    json_reply,
    mastodon_statuses,
    raw_envelopes,
    sse,
)
from support import Isolated
from typer.testing import CliRunner

from processors.adapters import AdapterError, normalize
from streams.ingest.base import RunLimits
from streams.ingest.mastodon import MastodonOptions, Timeline, run_mastodon, sse_events

pytestmark = pytest.mark.integration

TAG = "Northvale"
STREAM = "/api/v1/streaming/hashtag"
REST = f"/api/v1/timelines/tag/{TAG}"


def _timeline(server: HttpServer, statuses: list[dict[str, Any]]) -> None:
    """The REST timeline: newest first, since_id/max_id/limit as Mastodon applies them."""

    def handler(seen: Seen) -> Reply:
        def newer(a: str, b: str) -> bool:
            return (len(a), a) > (len(b), b)

        picked = [
            s
            for s in statuses
            if ("since_id" not in seen.query or newer(s["id"], seen.query["since_id"]))
            and ("max_id" not in seen.query or newer(seen.query["max_id"], s["id"]))
        ]
        picked.sort(key=lambda s: (len(s["id"]), s["id"]), reverse=True)
        return json_reply(picked[: int(seen.query.get("limit", 20))])

    server.route(REST, handler)


def _stream(server: HttpServer, connections: list[tuple[list[bytes], bool]]) -> None:
    """Connection n sends ``connections[n]`` (events, drop?); later ones only heartbeat."""
    count = {"n": 0}

    def handler(seen: Seen) -> Reply:
        n = count["n"]
        count["n"] += 1
        events, drop = connections[n] if n < len(connections) else ([], False)
        body = events if drop else chain(events, server.hold(20, b":thump\n\n"))
        return Reply(200, headers={"Content-Type": "text/event-stream"}, stream=body, drop=drop)

    server.route(STREAM, handler)


def _options(url: str, **extra: Any) -> MastodonOptions:
    return MastodonOptions(
        base_url=url, timeline=Timeline("hashtag", TAG), retry_base=0.05, **extra
    )


def _update(status: dict[str, Any]) -> bytes:
    return sse("update", json.dumps(status))


def test_sse_parsing_joins_data_lines_and_reports_heartbeats() -> None:
    lines = [
        ":thump",
        "event: update",
        'data: {"a":',
        "data: 1}",
        "",
        "event: delete",
        "data: 7",
        "",
    ]
    assert list(sse_events(lines)) == [(None, ""), ("update", '{"a":\n1}'), ("delete", "7")]


def test_recorded_stream_lands_on_the_raw_topic_through_the_cli(iso: Isolated) -> None:
    from streams.cli import app

    recorded = [
        json.loads(line) for line in (PAYLOADS / "mastodon_stream.jsonl").read_text().splitlines()
    ]
    frames = [
        sse(e["event"], e["payload"] if isinstance(e["payload"], str) else json.dumps(e["payload"]))
        for e in recorded
    ]
    with HttpServer() as server:
        _stream(server, [(frames, False)])
        result = CliRunner().invoke(
            app,
            [
                "ingest",
                "mastodon",
                "--base-url",
                server.url,
                "--hashtag",
                TAG,
                "--max-posts",
                "5",
                "--max-runtime",
                "15",
            ],
            env={**iso.env, "TOWNSQUARE_MASTODON_TOKEN": "s3cret-token"},
        )
        stream_requests = server.seen(STREAM)
    assert result.exit_code == 0, result.output
    assert "s3cret-token" not in result.output
    assert stream_requests[0].query == {"tag": TAG}
    assert stream_requests[0].headers["authorization"] == "Bearer s3cret-token"
    records = raw_envelopes(iso.settings)
    assert [env.format for _, env in records] == ["mastodon"] * 5  # the notification is not a post
    posts = [normalize(env) for _, env in records]
    assert [p.kind for p in posts] == ["post", "post", "edit", "delete", "post"]
    keys = {p.id: key for (key, _), p in zip(records, posts, strict=True) if p.kind == "post"}
    # The reply keys to the root it replies to, so the thread shares a partition.
    assert keys["mastodon:112233445566778899"] == "112233445566770000"
    assert posts[1].conversation_id == "mastodon:112233445566770000"


def test_a_dropped_stream_is_backfilled_from_the_cursor_and_a_new_run_resumes(
    iso: Isolated,
) -> None:
    statuses = mastodon_statuses(10)
    with HttpServer() as server:
        _timeline(server, statuses)
        _stream(server, [([_update(s) for s in statuses[:4]], True)])
        first = run_mastodon(iso.settings, _options(server.url), RunLimits(max_runtime=4))
        backfills = [r.query.get("since_id") for r in server.seen(REST)]
        assert statuses[3]["id"] in backfills, (
            backfills
        )  # backfilled from the last id before the drop
        assert first.cursor == {"since_id": statuses[-1]["id"]}

        later = mastodon_statuses(13)[10:]
        statuses.extend(later)
        before = len(server.seen(REST))
        run_mastodon(iso.settings, _options(server.url), RunLimits(max_runtime=3))
        second_run = server.seen(REST)[before:]
    assert second_run[0].query["since_id"] == statuses[9]["id"]  # started from the stored cursor
    ids = {normalize(env).id for _, env in raw_envelopes(iso.settings)}
    assert ids == {f"mastodon:{s['id']}" for s in statuses}


def test_429_retry_after_is_honoured_while_polling_the_rest_fallback(iso: Isolated) -> None:
    statuses = mastodon_statuses(3)
    with HttpServer() as server:
        _timeline(server, statuses)
        server.route(STREAM, lambda seen: Reply(404, b'{"error":"streaming disabled"}'))
        server.throttle(REST, {"Retry-After": "1"})
        report = run_mastodon(
            iso.settings,
            _options(server.url, stream_failures_before_polling=1, poll_interval=0.2),
            RunLimits(max_runtime=8, max_posts=3),
        )
        rest = server.seen(REST)
    assert report.sent == 3
    assert rest[1].at - rest[0].at >= 1.0  # waited out Retry-After before asking again
    assert {normalize(e).id for _, e in raw_envelopes(iso.settings)} == {
        f"mastodon:{s['id']}" for s in statuses
    }


def test_malformed_statuses_flow_to_the_raw_topic_for_the_dead_letter_stage(iso: Isolated) -> None:
    good = mastodon_statuses(1)[0]
    frames = [
        sse("update", "{not json"),
        sse("update", json.dumps({"content": "no id"})),
        _update(good),
    ]
    with HttpServer() as server:
        _stream(server, [(frames, False)])
        report = run_mastodon(
            iso.settings, _options(server.url), RunLimits(max_runtime=6, max_posts=3)
        )
    assert report.sent == 3
    envelopes = [env for _, env in raw_envelopes(iso.settings)]
    assert len(envelopes) == 3
    broken = [env for env in envelopes if good["id"] not in str(env.payload)]
    assert len(broken) == 2
    for bad in broken:
        with pytest.raises(AdapterError):
            normalize(bad)
    assert [normalize(env).id for env in envelopes if env not in broken] == [
        f"mastodon:{good['id']}"
    ]
