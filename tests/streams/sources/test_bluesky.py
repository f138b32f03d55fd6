"""The Bluesky agent against a local Jetstream websocket server, through the real local Kafka."""

from __future__ import annotations

import json

import pytest
from servers import PAYLOADS, JetstreamServer, jetstream_events, raw_envelopes
from support import Isolated
from typer.testing import CliRunner

from processors.adapters import normalize
from streams.sources.base import MAX_RECORD_BYTES, RunLimits
from streams.sources.bluesky import (
    MAX_FRAME_BYTES,
    TOO_BIG_STEP_US,
    BlueskyOptions,
    run_bluesky,
    subscribe_url,
)

pytestmark = pytest.mark.integration

REWIND_US = 3_000_000


def _options(url: str) -> BlueskyOptions:
    return BlueskyOptions(jetstream_url=url, retry_base=0.05)


def test_the_url_asks_for_posts_only_and_rewinds_the_cursor() -> None:
    options = BlueskyOptions(
        jetstream_url="wss://js.example/subscribe", dids=("did:plc:a", "did:plc:b")
    )
    assert subscribe_url(options, None) == (
        "wss://js.example/subscribe?wantedCollections=app.bsky.feed.post"
        f"&wantedDids=did%3Aplc%3Aa&wantedDids=did%3Aplc%3Ab&maxMessageSizeBytes={MAX_RECORD_BYTES}"
    )
    assert subscribe_url(options, 10_000_000).endswith("&cursor=7000000")
    assert subscribe_url(options, 10_000_000, rewind=False).endswith("&cursor=10000000")


def test_recorded_events_land_on_the_raw_topic_through_the_cli(iso: Isolated) -> None:
    from streams.cli.main import app

    recorded = [
        json.loads(line) for line in (PAYLOADS / "bluesky_jetstream.jsonl").read_text().splitlines()
    ]
    with JetstreamServer(recorded) as server:
        result = CliRunner().invoke(
            app,
            [
                "ingest",
                "bluesky",
                "--jetstream-url",
                server.url,
                "--did",
                recorded[0]["did"],
                "--max-posts",
                "4",
                "--max-runtime",
                "10",
            ],
            env=iso.env,
        )
    assert result.exit_code == 0, result.output
    assert server.requests[0].query["wantedCollections"] == "app.bsky.feed.post"
    assert server.requests[0].query["wantedDids"] == recorded[0]["did"]
    records = raw_envelopes(iso.settings)
    assert [env.format for _, env in records] == [
        "bluesky-jetstream"
    ] * 4  # a like and identity are not posts
    posts = [normalize(env) for _, env in records]
    assert sorted(p.kind for p in posts) == ["delete", "edit", "post", "post"]
    root = "at://did:plc:q3wzr7kqlhz5xb2mdnefvyqa/app.bsky.feed.post/3l3qo2vuowo2b"
    replies = [(key, p) for (key, _), p in zip(records, posts, strict=True) if p.in_reply_to]
    assert replies and all(key == root for key, _ in replies)  # keyed by the thread root
    assert {p.conversation_id for _, p in replies} == {f"bluesky:{root}"}


def test_a_dropped_connection_resumes_from_the_cursor_in_this_run_and_the_next(
    iso: Isolated,
) -> None:
    events = jetstream_events(10)
    with JetstreamServer(events, drops=[4, None, 0]) as server:
        first = run_bluesky(iso.settings, _options(server.url), RunLimits(max_runtime=3))
        assert "cursor" not in server.requests[0].query
        # Reconnected after the drop from the last event it had, a few seconds earlier.
        assert int(server.requests[1].query["cursor"]) == events[3]["time_us"] - REWIND_US
        assert first.cursor == {"time_us": events[-1]["time_us"]}
        run_bluesky(iso.settings, _options(server.url), RunLimits(max_runtime=2))
        assert int(server.requests[2].query["cursor"]) == events[-1]["time_us"] - REWIND_US
    uris = {normalize(env).id for _, env in raw_envelopes(iso.settings)}
    assert uris == {
        f"bluesky:at://{e['did']}/app.bsky.feed.post/{e['commit']['rkey']}" for e in events
    }


def test_a_429_handshake_is_retried_after_retry_after(iso: Isolated) -> None:
    events = jetstream_events(2)
    with JetstreamServer(events) as server:
        server.throttle("1")
        report = run_bluesky(
            iso.settings, _options(server.url), RunLimits(max_runtime=8, max_posts=2)
        )
    assert report.sent == 2
    assert server.requests[1].at - server.requests[0].at >= 1.0


def test_malformed_frames_are_skipped_at_the_edge_and_the_stream_goes_on(iso: Isolated) -> None:
    events = jetstream_events(1)
    with JetstreamServer(events, extra_frames=["{broken", "[1, 2]"]) as server:
        report = run_bluesky(
            iso.settings, _options(server.url), RunLimits(max_runtime=6, max_posts=1)
        )
    assert (report.sent, report.skipped) == (1, 2)
    envelopes = [env for _, env in raw_envelopes(iso.settings)]
    assert [normalize(env).kind for env in envelopes] == ["post"]


def test_a_frame_that_closes_the_connection_is_stepped_past_not_replayed_for_ever(
    iso: Isolated,
) -> None:
    """A server that ignores maxMessageSizeBytes sends a frame above the websocket's max_size."""
    first, last = jetstream_events(2)
    huge = {**first, "time_us": first["time_us"] + 500, "pad": "x" * (MAX_FRAME_BYTES + 1)}
    with JetstreamServer([first, huge, last]) as server:
        report = run_bluesky(
            iso.settings, _options(server.url), RunLimits(max_runtime=8, max_posts=2)
        )
        requests = list(server.requests)
    assert (report.sent, report.skipped) == (2, 1)
    assert len(requests) == 2  # one reconnect, not a replay loop
    assert {r.query["maxMessageSizeBytes"] for r in requests} == {str(MAX_RECORD_BYTES)}
    # Resumed just past the last event seen, without the rewind that would replay the frame.
    assert int(requests[1].query["cursor"]) == first["time_us"] + TOO_BIG_STEP_US
    assert report.cursor == {"time_us": last["time_us"]}
    assert len(raw_envelopes(iso.settings)) == 2
