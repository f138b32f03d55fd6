"""The Mastodon agent against a local SSE + REST server, through the real local Kafka."""

from __future__ import annotations

import json
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
from streams.sources.base import RunLimits
from streams.sources.mastodon import MastodonOptions, Timeline, run_mastodon, sse_events

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
    server.stream_route(STREAM, connections, beat=b":thump\n\n", content_type="text/event-stream")


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
    from streams.cli.main import app

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


def test_unparseable_statuses_are_skipped_and_id_less_ones_go_to_the_dead_letter_stage(
    iso: Isolated,
) -> None:
    good = mastodon_statuses(1)[0]
    frames = [
        sse("update", "{not json"),
        sse("update", json.dumps({"content": "no id"})),
        _update(good),
    ]
    with HttpServer() as server:
        _stream(server, [(frames, False)])
        report = run_mastodon(
            iso.settings, _options(server.url), RunLimits(max_runtime=6, max_posts=2)
        )
    assert (report.sent, report.skipped) == (2, 1)
    envelopes = [env for _, env in raw_envelopes(iso.settings)]
    assert len(envelopes) == 2
    [bad] = [env for env in envelopes if good["id"] not in str(env.payload)]
    with pytest.raises(AdapterError):
        normalize(bad)
    assert [normalize(env).id for env in envelopes if env is not bad] == [f"mastodon:{good['id']}"]


# --- thread roots of replies whose ancestors were never streamed ------------------------

CONTEXT = "/api/v1/statuses/"


def _status(status_id: str, parent: str | None = None) -> dict[str, Any]:
    status = mastodon_statuses(1)[0]
    status["id"] = status_id
    status["url"] = f"https://harbour.social/@mira_lindqvist/{status_id}"
    status["in_reply_to_id"] = parent
    status["in_reply_to_account_id"] = "90001" if parent else None
    return status


def _context(server: HttpServer, ancestors: dict[str, list[str]]) -> None:
    """``/statuses/:id/context`` for the ids in ``ancestors`` (oldest first); 404 for others."""

    def handler(seen: Seen) -> Reply:
        status_id = seen.path.removeprefix(CONTEXT).removesuffix("/context")
        if status_id not in ancestors:
            return Reply(404, b'{"error": "Record not found"}')
        return json_reply(
            {"ancestors": [_status(a) for a in ancestors[status_id]], "descendants": []}
        )

    server.route(CONTEXT, handler)


def _looked_up_paths(requests: list[Seen]) -> list[str]:
    """The status ids whose context was asked for, in order."""
    return [r.path.removeprefix(CONTEXT).removesuffix("/context") for r in requests]


def test_an_unseen_thread_root_is_asked_for_once_and_becomes_the_conversation(
    iso: Isolated,
) -> None:
    # Thread A: a0 <- a1 (neither streamed) <- a2, a3; a2 <- a4; a0 <- a5.
    a0, a1, a2, a3, a4, a5 = (f"11223344556679{n:04d}" for n in range(6))
    # Thread B: b1 (a root, not streamed) <- b2.  c is a root.
    b1, b2, c = "112233445566800000", "112233445566800007", "112233445566800014"
    frames = [
        _update(_status(a2, a1)),
        _update(_status(a3, a1)),  # sibling: a1's root is remembered
        _update(_status(a4, a2)),  # reply to a streamed status
        _update(_status(a5, a0)),  # reply to an ancestor the lookup named
        _update(_status(c)),
        _update(_status(b2, b1)),
    ]
    with HttpServer() as server:
        _stream(server, [(frames, False)])
        _context(server, {a1: [a0], b1: []})
        report = run_mastodon(
            iso.settings,
            _options(server.url, token="s3cret-token"),
            RunLimits(max_runtime=10, max_posts=len(frames)),
        )
        lookups = server.seen(CONTEXT)
    assert report.sent == len(frames)
    assert _looked_up_paths(lookups) == [a1, b1]  # once per unknown thread, none for known roots
    assert all(r.headers["authorization"] == "Bearer s3cret-token" for r in lookups)
    records = raw_envelopes(iso.settings)
    by_id = {normalize(env).id: (key, env) for key, env in records}
    expected = {a2: a0, a3: a0, a4: a0, a5: a0, b2: b1}
    for status_id, root in expected.items():
        key, env = by_id[f"mastodon:{status_id}"]
        assert env.context == {"conversation_root": root}
        assert key == root
        assert normalize(env).conversation_id == f"mastodon:{root}"
    key, env = by_id[f"mastodon:{c}"]
    assert (key, env.context, normalize(env).conversation_id) == (c, {}, f"mastodon:{c}")


@pytest.mark.parametrize(
    ("failure", "requests"),
    [("404", 1), ("500", 3), ("not json", 1), ("429 beyond the budget", 1)],
)
def test_a_failed_root_lookup_files_the_reply_under_its_parent(
    iso: Isolated, failure: str, requests: int
) -> None:
    parent = "112233445566790007"
    first, sibling = "112233445566790014", "112233445566790021"
    frames = [_update(_status(first, parent)), _update(_status(sibling, parent))]
    with HttpServer() as server:
        _stream(server, [(frames, False)])
        if failure == "404":
            _context(server, {})
        elif failure == "500":
            server.route(CONTEXT, lambda seen: Reply(500, b'{"error": "oops"}'))
        elif failure == "not json":
            server.route(CONTEXT, lambda seen: Reply(200, b"<html>maintenance</html>"))
        else:
            # A valid answer hides behind a 429 asking for longer than a lookup may wait.
            _context(server, {parent: ["112233445566790000"]})
            server.throttle(CONTEXT, {"Retry-After": "30"}, times=5)
        report = run_mastodon(
            iso.settings,
            _options(server.url, context_lookup_wait=2.0),
            RunLimits(max_runtime=10, max_posts=2),
        )
        lookups = _looked_up_paths(server.seen(CONTEXT))
    assert report.sent == 2  # ingest carried on
    assert report.seconds < 8  # and did not wait out the 30 s Retry-After
    # The failure is remembered: the sibling reply does not ask again.
    assert lookups == [parent] * requests
    records = raw_envelopes(iso.settings)
    assert len(records) == 2
    for key, env in records:
        assert key == parent
        assert env.context == {}
        assert normalize(env).conversation_id == f"mastodon:{parent}"


def test_root_lookups_per_minute_are_capped_from_the_cli(iso: Isolated) -> None:
    from streams.cli.main import app

    parents = ["112233445566790000", "112233445566800000"]
    replies = ["112233445566790007", "112233445566800007"]
    frames = [_update(_status(r, p)) for r, p in zip(replies, parents, strict=True)]
    with HttpServer() as server:
        _stream(server, [(frames, False)])
        _context(server, {p: [] for p in parents})
        result = CliRunner().invoke(
            app,
            [
                "ingest",
                "mastodon",
                "--base-url",
                server.url,
                "--hashtag",
                TAG,
                "--context-lookups-per-minute",
                "1",
                "--max-posts",
                "2",
                "--max-runtime",
                "10",
            ],
            env=iso.env,
        )
        lookups = _looked_up_paths(server.seen(CONTEXT))
    assert result.exit_code == 0, result.output
    assert lookups == [parents[0]]  # the second thread is over the cap
    contexts = {normalize(env).id: env.context for _, env in raw_envelopes(iso.settings)}
    assert contexts == {
        f"mastodon:{replies[0]}": {"conversation_root": parents[0]},
        f"mastodon:{replies[1]}": {},
    }
