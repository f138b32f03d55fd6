"""The Reddit agent against a local listing server, through the real local Kafka."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from servers import PAYLOADS, HttpServer, Reply, Seen, json_reply, raw_envelopes, reddit_children
from support import Isolated
from typer.testing import CliRunner

from processors.adapters import AdapterError, normalize
from streams.sources.base import RunLimits
from streams.sources.reddit import RedditOptions, run_reddit

pytestmark = pytest.mark.integration

NEW = "/r/northvale/new.json"
COMMENTS = "/r/northvale/comments.json"


def _listing(children: list[dict[str, Any]]) -> Reply:
    return json_reply(
        {"kind": "Listing", "data": {"children": children, "after": None, "before": None}}
    )


def _serve(server: HttpServer, path: str, oldest_first: list[dict[str, Any]]) -> None:
    """Newest first; ``before=X`` gives the ``limit`` items just newer than X, as Reddit does."""

    def handler(seen: Seen) -> Reply:
        names = [c["data"]["name"] for c in oldest_first]
        limit = int(seen.query.get("limit", 25))
        before = seen.query.get("before")
        if before is None:
            picked = oldest_first[-limit:]
        elif before in names:
            start = names.index(before) + 1
            picked = oldest_first[start : start + limit]
        else:
            picked = []
        return _listing(list(reversed(picked)))

    server.route(path, handler)


def _options(url: str, **extra: Any) -> RedditOptions:
    values: dict[str, Any] = {"interval": 0.2, "requests_per_minute": 6000, "retry_base": 0.05}
    return RedditOptions(
        ("northvale",), "townsquare-tests/1.0", base_url=url, **{**values, **extra}
    )


def test_a_recorded_listing_lands_on_the_raw_topic_through_the_cli(iso: Isolated) -> None:
    from streams.cli.main import app

    listing = json.loads((PAYLOADS / "reddit_listing.json").read_text())
    with HttpServer() as server:
        server.route(NEW, lambda seen: json_reply(listing))
        server.route(COMMENTS, lambda seen: _listing([]))
        result = CliRunner().invoke(
            app,
            [
                "ingest",
                "reddit",
                "--subreddit",
                "northvale",
                "--base-url",
                server.url,
                "--interval",
                "0.2",
                "--requests-per-minute",
                "600",
                "--max-posts",
                "5",
                "--max-runtime",
                "10",
            ],
            env={**iso.env, "TOWNSQUARE_REDDIT_USER_AGENT": "townsquare-test/1.0 (by u/council)"},
        )
        first = server.seen(NEW)[0]
    assert result.exit_code == 0, result.output
    assert first.headers["user-agent"] == "townsquare-test/1.0 (by u/council)"
    records = raw_envelopes(iso.settings)
    assert [env.format for _, env in records] == ["reddit"] * 5
    stubs = [env for _, env in records if env.payload["kind"] == "more"]
    with pytest.raises(AdapterError):  # a collapsed-comments stub is not a post: dead-lettered
        normalize(stubs[0])
    posts = {normalize(env).id: key for key, env in records if env.payload["kind"] != "more"}
    assert posts["reddit:t1_l3vr0cd"] == "t3_1cq7xk2"  # a comment keys to its submission
    assert posts["reddit:t3_1cq7xk2"] == "t3_1cq7xk2"


def test_a_stopped_run_resumes_with_before_from_the_cursor_and_pages_forward(iso: Isolated) -> None:
    children = reddit_children(9)
    with HttpServer() as server:
        _serve(server, NEW, children)
        _serve(server, COMMENTS, [])
        first = run_reddit(
            iso.settings, _options(server.url), RunLimits(max_runtime=5, max_posts=4)
        )
        assert first.cursor == {"northvale/new": children[3]["data"]["name"]}
        before = len(server.seen(NEW))
        run_reddit(iso.settings, _options(server.url, limit=2), RunLimits(max_runtime=2))
        second = [r.query.get("before") for r in server.seen(NEW)[before:]]
    assert second[0] == children[3]["data"]["name"]  # started from the stored cursor
    assert second[1] == children[5]["data"]["name"]  # and paged towards the present
    names = [normalize(env).id for _, env in raw_envelopes(iso.settings)]
    assert set(names) == {f"reddit:{c['data']['name']}" for c in children}
    assert len(names) == len(children)  # before= never resends what the cursor covers


def test_429_retry_after_and_the_request_budget_are_honoured(iso: Isolated) -> None:
    children = reddit_children(2)
    with HttpServer() as server:
        _serve(server, NEW, children)
        _serve(server, COMMENTS, [])
        server.throttle(NEW, {"Retry-After": "1"})
        report = run_reddit(
            iso.settings,
            _options(server.url, requests_per_minute=120),
            RunLimits(max_runtime=8, max_posts=2),
        )
        seen = server.seen("/r/")
    assert report.sent == 2
    assert seen[1].at - seen[0].at >= 1.0  # Retry-After
    gaps = [b.at - a.at for a, b in itertools.pairwise(seen)]
    assert min(gaps) >= 0.45  # 120 requests per minute: one every 0.5 s


def test_a_broken_page_is_skipped_at_the_edge_and_a_broken_child_flows_on(iso: Isolated) -> None:
    good = reddit_children(1)
    bad_child = {"kind": "t1", "data": {"name": "t1_zz", "body": 5}}
    with HttpServer() as server:
        server.route(
            NEW, lambda seen: Reply(200, b"<html>we are down</html>", {"Content-Type": "text/html"})
        )
        _serve(server, COMMENTS, [*good, bad_child])
        report = run_reddit(
            iso.settings, _options(server.url), RunLimits(max_runtime=6, max_posts=2)
        )
    assert report.skipped >= 1
    assert "northvale/new" not in (report.cursor or {})
    by_name = {env.payload["data"]["name"]: env for _, env in raw_envelopes(iso.settings)}
    assert normalize(by_name[good[0]["data"]["name"]]).platform == "reddit"
    with pytest.raises(AdapterError):
        normalize(by_name["t1_zz"])


def test_a_deep_or_non_object_or_oversized_page_is_skipped_with_its_reason(
    iso: Isolated, caplog: pytest.LogCaptureFixture
) -> None:
    """Listing pages go through the shared depth-limited parse; none of them stops the source."""
    import logging

    from streams.sources.http import MAX_PAGE_BYTES

    caplog.set_level(logging.WARNING, logger="townsquare.ingest")
    good = reddit_children(1)
    deep = b"[" * 200_000  # json.loads would raise RecursionError
    over = json.dumps({"data": {"children": [], "pad": "x" * MAX_PAGE_BYTES}}).encode()
    pages = iter([deep, b"[1, 2]", over])

    def new(seen: Seen) -> Reply:
        page = next(pages, None)
        return _listing(good) if page is None else Reply(200, page)

    with HttpServer() as server:
        server.route(NEW, new)
        _serve(server, COMMENTS, [])
        report = run_reddit(
            iso.settings, _options(server.url), RunLimits(max_runtime=8, max_posts=1)
        )
    reasons = [
        r.getMessage().removeprefix("skipped at the edge: ")
        for r in caplog.records
        if r.getMessage().startswith("skipped at the edge: ")
    ]
    assert reasons == [
        "listing page: too_deep",
        "listing page: wrong_type",
        "listing fetch skipped: body above the size cap",
    ]
    assert (report.sent, report.skipped) == (1, 3)
    assert report.cursor == {"northvale/new": good[0]["data"]["name"]}
