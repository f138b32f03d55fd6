"""Hostile frames at the edge: too large, too deep, not an object, an endless line.

Each one is skipped with its reason (counted, logged), nothing of it reaches
the producer, and the source goes on to the next frame. The stream tests run
against the local recorded-payload servers, through the real local Kafka.
"""

from __future__ import annotations

import json
import logging
from itertools import chain
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from servers import (
    HttpServer,
    JetstreamServer,
    Reply,
    Seen,
    jetstream_events,
    json_reply,
    mastodon_statuses,
    raw_envelopes,
    sse,
    x_tweets,
)
from support import Isolated

from processors.adapters import normalize
from streams.sources.base import MAX_RECORD_BYTES, PRODUCER_MAX_REQUEST_BYTES, RunLimits
from streams.sources.bluesky import MAX_FRAME_BYTES, BlueskyOptions, run_bluesky
from streams.sources.http import Overlong, bounded_lines
from streams.sources.mastodon import MastodonOptions, Timeline, run_mastodon, sse_events
from streams.sources.x import SEARCH_PATH, STREAM_PATH, XOptions, run_x

MIB = 1024 * 1024
DEEP = "[" * 200_000


def _skip_reasons(caplog: pytest.LogCaptureFixture) -> list[str]:
    prefix = "skipped at the edge: "
    return [
        r.getMessage().removeprefix(prefix)
        for r in caplog.records
        if r.getMessage().startswith(prefix)
    ]


# --- the caps ---------------------------------------------------------------------------


def test_a_record_at_the_cap_fits_the_producer_even_escaped_twice_over() -> None:
    assert 2 * MAX_RECORD_BYTES + 64 * 1024 < PRODUCER_MAX_REQUEST_BYTES
    # The websocket may read more (then the frame is skipped, not the connection lost).
    assert MAX_FRAME_BYTES > MAX_RECORD_BYTES


# --- bounded lines ------------------------------------------------------------------------


def test_an_over_long_line_is_dropped_up_to_its_newline_and_the_next_line_kept() -> None:
    chunks = [b"ok\r\n", b"x" * 40, b"x" * 40, b"\r", b"\nnext\n", b"\n"]
    assert list(bounded_lines(chunks, max_bytes=50)) == ["ok", Overlong(80), "next", ""]


def test_a_line_without_a_newline_is_given_up_on_within_the_discard_bound() -> None:
    endless = (b"x" * 1024 for _ in range(10_000))
    lines = list(bounded_lines(endless, max_bytes=100, max_discard=8 * 1024))
    assert len(lines) == 1
    assert isinstance(lines[0], Overlong) and lines[0].endless
    assert lines[0].size <= 8 * 1024 + 1024


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet="ab€ :", max_size=30), max_size=20),
    st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=20, max_size=20),
    st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=50),
)
def test_lines_under_the_cap_split_as_splitlines_does_however_they_are_chunked(
    lines: list[str], breaks: list[str], cuts: list[int]
) -> None:
    data = "".join(line + eol for line, eol in zip(lines, breaks, strict=False)).encode()
    chunks, at = [], 0
    for cut in chunks_sizes(cuts, len(data)):
        chunks.append(data[at : at + cut])
        at += cut
    assert list(bounded_lines(chunks, max_bytes=1024)) == data.decode().splitlines()


def chunks_sizes(cuts: list[int], total: int) -> list[int]:
    sizes, left, n = [], total, 0
    while left > 0:
        size = min(cuts[n % len(cuts)], left)
        sizes.append(size)
        left -= size
        n += 1
    return sizes


def test_an_sse_event_with_an_over_long_line_or_too_much_data_is_dropped_whole() -> None:
    lines: list[str | Overlong] = [
        "event: update",
        "data: {",
        Overlong(900),
        "data: }",
        "",
        "event: update",
        "data: " + "y" * 30,
        "data: " + "y" * 30,
        "",
        "event: delete",
        "data: 7",
        "",
    ]
    events = list(sse_events(lines, max_bytes=50))
    assert [type(e) for e in events[:2]] == [Overlong, Overlong]
    assert events[2] == ("delete", "7")


# --- Bluesky Jetstream ---------------------------------------------------------------------


@pytest.mark.integration
def test_jetstream_skips_a_2mib_frame_and_a_deep_one_and_stores_the_next_post(
    iso: Isolated, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="townsquare.ingest")
    [event] = jetstream_events(1)
    huge = json.dumps({**event, "pad": "x" * (2 * MIB)})
    with JetstreamServer([event], extra_frames=[huge, DEEP]) as server:
        report = run_bluesky(
            iso.settings,
            BlueskyOptions(jetstream_url=server.url, retry_base=0.05),
            RunLimits(max_runtime=15, max_posts=1),
        )
        connections = server.connections
    assert (report.sent, report.skipped) == (1, 2)
    assert connections == 1  # neither frame cost the connection
    assert _skip_reasons(caplog) == ["Jetstream frame: too_large", "Jetstream frame: too_deep"]
    [(_, envelope)] = raw_envelopes(iso.settings)
    assert normalize(envelope).id == (
        f"bluesky:at://{event['did']}/app.bsky.feed.post/{event['commit']['rkey']}"
    )
    assert report.cursor == {"time_us": event["time_us"]}


# --- Mastodon SSE ----------------------------------------------------------------------------

TAG = "Northvale"


@pytest.mark.integration
def test_mastodon_skips_an_over_long_line_and_a_deep_event_and_stores_the_next_status(
    iso: Isolated, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="townsquare.ingest")
    good = mastodon_statuses(1)[0]
    # The long line arrives in pieces, as a network would deliver it.
    long_line = [b"event: update\ndata: {"] + [b"x" * 65_536] * 16 + [b"}\n\n"]
    frames = [*long_line, sse("update", DEEP), sse("update", json.dumps(good))]

    def handler(seen: Seen) -> Reply:
        body = chain(frames, server.hold(20, b":thump\n\n"))
        return Reply(200, headers={"Content-Type": "text/event-stream"}, stream=body)

    with HttpServer() as server:
        server.route("/api/v1/streaming/hashtag", handler)
        report = run_mastodon(
            iso.settings,
            MastodonOptions(base_url=server.url, timeline=Timeline("hashtag", TAG)),
            RunLimits(max_runtime=15, max_posts=1),
        )
        streams = len(server.seen("/api/v1/streaming/"))
    assert (report.sent, report.skipped) == (1, 2)
    assert streams == 1
    assert _skip_reasons(caplog) == [
        f"stream event over {MAX_RECORD_BYTES} bytes",
        "status event: too_deep",
    ]
    [(_, envelope)] = raw_envelopes(iso.settings)
    assert normalize(envelope).id == f"mastodon:{good['id']}"


# --- X ---------------------------------------------------------------------------------------


def _x_options(url: str, **extra: Any) -> XOptions:
    return XOptions(token="t", base_url=url, retry_base=0.05, **extra)


@pytest.mark.integration
def test_x_stream_skips_long_deep_and_non_object_lines_and_stores_the_next_tweet(
    iso: Isolated, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="townsquare.ingest")
    good = x_tweets(1)[0]
    lines = [
        b'{"data": {"id": "1", "text": "' + b"x" * (MAX_RECORD_BYTES + 10) + b'"}}\r\n',
        DEEP.encode() + b"\r\n",
        b"[1, 2]\r\n",
        json.dumps(good).encode() + b"\r\n",
    ]

    def handler(seen: Seen) -> Reply:
        body = chain(lines, server.hold(20, b"\r\n"))
        return Reply(200, headers={"Content-Type": "application/json"}, stream=body)

    with HttpServer() as server:
        server.route(STREAM_PATH, handler)
        report = run_x(iso.settings, _x_options(server.url), RunLimits(max_runtime=15, max_posts=1))
    assert (report.sent, report.skipped) == (1, 3)
    assert _skip_reasons(caplog) == [
        f"stream line over {MAX_RECORD_BYTES} bytes",
        "stream line: too_deep",
        "stream line: wrong_type",
    ]
    [(_, envelope)] = raw_envelopes(iso.settings)
    assert normalize(envelope).id == f"x:{good['data']['id']}"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("page", "reason"),
    [
        ([1, 2], "search page: wrong_type"),
        (None, "search page: too_deep"),  # None: the deep frame, as the body
    ],
)
def test_x_search_skips_a_page_that_is_not_a_json_object(
    iso: Isolated, caplog: pytest.LogCaptureFixture, page: Any, reason: str
) -> None:
    caplog.set_level(logging.WARNING, logger="townsquare.ingest")
    with HttpServer() as server:
        if page is None:
            server.route(SEARCH_PATH, lambda seen: Reply(200, DEEP.encode()))
        else:
            server.route(SEARCH_PATH, lambda seen: json_reply(page))
        report = run_x(
            iso.settings,
            _x_options(server.url, query="#Fernhill", interval=0.2),
            RunLimits(max_runtime=1.5),
        )
        polls = len(server.seen(SEARCH_PATH))
    assert polls >= 2  # it went on polling
    assert (report.sent, report.skipped) == (0, polls)
    assert set(_skip_reasons(caplog)) == {reason}


@pytest.mark.integration
def test_x_search_reads_a_page_with_odd_shapes_without_crashing(iso: Isolated) -> None:
    good = x_tweets(1)[0]
    page = {"data": [good["data"], "junk"], "includes": ["not", "an", "object"], "meta": [1]}
    with HttpServer() as server:
        server.route(SEARCH_PATH, lambda seen: json_reply(page))
        report = run_x(
            iso.settings,
            _x_options(server.url, query="#Fernhill", interval=5),
            RunLimits(max_runtime=5, max_posts=1),
        )
    assert report.sent == 1
