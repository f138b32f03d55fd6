"""`townsquare search` and `conversations` without servers: checked values, windows, views, CSV.

Elasticsearch is replaced by a recorder that answers each search from a
function, so these tests see exactly what the commands ask and print. What the
real server answers is held by ``test_analyst_integration.py``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from streams.cli.analyst import (
    ALERT_COLUMNS,
    CONVERSATION_COLUMNS,
    POST_COLUMNS,
    WIDE,
    conversations_table,
    posts_table,
    write_csv,
)
from streams.cli.main import app
from streams.es.search import ACTIONS, STAKEHOLDER_LABELS, adapter_platforms

Answer = Callable[[dict[str, Any]], dict[str, Any]]


def _hits(*docs: dict[str, Any]) -> dict[str, Any]:
    return {"hits": {"total": {"value": len(docs)}, "hits": [{"_source": d} for d in docs]}}


@dataclass
class FakeEs:
    """Answers ``search`` from ``answer`` and keeps every request."""

    answer: Answer = field(default=lambda request: _hits())
    requests: list[dict[str, Any]] = field(default_factory=list)

    def search(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        return self.answer(request)

    def close(self) -> None:
        pass


@pytest.fixture
def es(monkeypatch: pytest.MonkeyPatch) -> FakeEs:
    fake = FakeEs()
    monkeypatch.setattr("streams.es.client.sync_client", lambda settings: fake)
    return fake


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A profile of our own, so the topics (and the SLA) are the test's."""
    profile = tmp_path / "profile.yaml"
    profile.write_text(
        "organisation:\n"
        "  name: Test Council\n"
        "  topics: [bins, garden waste, fly-tipping]\n"
        "  reply_sla_minutes: 60\n",
        encoding="utf-8",
    )
    return {"TOWNSQUARE_PROFILE_PATH": str(profile), "TOWNSQUARE_INDEX_PREFIX": "t"}


def _run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def _refused(result: Result) -> str:
    """The one-line usage error of a refused value (exit code 2, nothing on stdout)."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# --- values checked against the allowed sets --------------------------------------------


@pytest.mark.parametrize(
    ("args", "suggestion", "allowed"),
    [
        (["--action", "replyy"], "reply", ACTIONS),
        (["--action", "reply", "--action", "escalte"], "escalate", ACTIONS),
        (["--stakeholder", "journalist"], "media", STAKEHOLDER_LABELS),
        (["--stakeholder", "cusomer"], "customer", STAKEHOLDER_LABELS),
        (["--sort", "jonability"], "joinability", ("joinability", "time", "relevance")),
        (["--topic", "bin"], "bins", ("bins", "garden waste", "fly-tipping")),
        (["--topic", "garden-wastes"], "garden waste", ("bins", "garden waste", "fly-tipping")),
    ],
)
def test_search_refuses_a_typo_before_asking_the_index(
    es: FakeEs, env: dict[str, str], args: list[str], suggestion: str, allowed: tuple[str, ...]
) -> None:
    line = _refused(_run(env, "search", *args))
    option, bad = args[-2], args[-1]
    assert f"{option} {bad!r} is not " in line
    assert f"did you mean {suggestion!r}?" in line
    assert line.endswith("Choose from: " + ", ".join(allowed))
    assert es.requests == [], "a value with a fixed vocabulary is checked without a search"


def test_a_platform_no_adapter_produces_is_looked_up_in_the_index(
    es: FakeEs, env: dict[str, str]
) -> None:
    """Webhook senders name their own platform; "twitter" is neither an adapter's nor theirs."""
    buckets = [{"key": "forum", "doc_count": 3}, {"key": "x", "doc_count": 9}]
    es.answer = lambda r: (
        {
            "hits": {"total": {"value": 0}, "hits": []},
            "aggregations": {"platforms": {"buckets": buckets}},
        }
        if "aggs" in r
        else _hits()
    )
    line = _refused(_run(env, "search", "--platform", "twitter"))
    assert "--platform 'twitter' is not a known platform" in line
    assert "did you mean 'x'?" in line
    assert line.endswith("Choose from: bluesky, forum, mastodon, reddit, rss, x")

    es.requests.clear()
    result = _run(env, "search", "--platform", "Forum", "--platform", "x", "--json")
    assert result.exit_code == 0, result.output
    query = es.requests[-1]["query"]["bool"]["filter"]
    assert {"terms": {"platform": ["forum", "x"]}} in query

    es.requests.clear()
    assert _run(env, "search", "--platform", "mastodon", "--json").exit_code == 0
    assert not any("aggs" in r for r in es.requests), "an adapter's platform needs no lookup"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--json", "--csv"], "--json and --csv both choose the output"),
        (["--sort", "relevance"], "--sort relevance orders by text match, so it needs a QUERY"),
        (["--since", "yesterday"], "--since: 'yesterday' is not a duration"),
        (["--from", "14/03/2026"], "--from: '14/03/2026' is not an ISO 8601 date or time"),
        (["--until", "soon"], "--until: 'soon' is not an ISO 8601 date or time"),
        (["--since", "24h", "--from", "2026-03-13"], "--since and --from both set"),
        (
            ["--from", "2026-03-15", "--until", "2026-03-14"],
            "--from 2026-03-15 starts at 2026-03-15 00:00 UTC, not before --until 2026-03-14 "
            "(which ends at 2026-03-15 00:00 UTC): the window is empty",
        ),
    ],
)
def test_search_usage_errors_are_one_line_and_exit_2(
    es: FakeEs, env: dict[str, str], args: list[str], says: str
) -> None:
    assert says in _refused(
        _run(env, "search", "bins", *args)
        if "relevance" not in args
        else _run(env, "search", *args)
    )
    assert es.requests == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--action", "rply"], "--action 'rply' is not an action; did you mean 'reply'?"),
        (["--now", "noon"], "--now: 'noon' is not an ISO 8601 date or time"),
        (["--json", "--csv"], "--json and --csv both choose the output"),
    ],
)
def test_conversations_usage_errors_are_one_line_and_exit_2(
    es: FakeEs, env: dict[str, str], args: list[str], says: str
) -> None:
    assert says in _refused(_run(env, "conversations", *args))
    assert es.requests == []


def test_conversations_check_platforms_and_filter_on_them(es: FakeEs, env: dict[str, str]) -> None:
    es.answer = lambda r: (
        {
            "hits": {"total": {"value": 0}, "hits": []},
            "aggregations": {"platforms": {"buckets": []}},
        }
        if "aggs" in r
        else _hits()
    )
    line = _refused(_run(env, "conversations", "--platform", "bsky"))
    assert "did you mean 'bluesky'?" in line
    assert line.endswith("Choose from: " + ", ".join(adapter_platforms()))
    result = _run(env, "conversations", "--awaiting-reply", "--platform", "x", "--action", "Reply")
    assert result.exit_code == 0, result.output
    assert es.requests[-1]["query"] == {
        "bool": {
            "filter": [
                {"term": {"awaiting_org_reply": True}},
                {"terms": {"platform": ["x"]}},
                {"terms": {"last_post.action": ["reply"]}},
            ]
        }
    }


def test_help_lists_every_allowed_value() -> None:
    """The help is written out by hand: it must not drift from the models."""
    search = " ".join(
        CliRunner().invoke(app, ["search", "--help"]).output.replace("│", " ").split()
    )
    for value in (*ACTIONS, *STAKEHOLDER_LABELS, *adapter_platforms(), "joinability", "relevance"):
        assert value in search, value
    assert "best joinability first" in search


# --- windows -----------------------------------------------------------------------------


def test_since_with_nothing_newer_names_the_newest_post_and_a_from_to_try(
    es: FakeEs, env: dict[str, str]
) -> None:
    newest = {"id": "x:1", "created_at": "2026-03-14T18:30:00Z"}
    es.answer = lambda r: (
        _hits(newest) if "created_at" in str(r.get("sort")) and r.get("size") == 1 else _hits()
    )
    for args in (["--since", "24h"], ["--since", "24h", "--json"]):
        result = _run(env, "search", *args)
        assert result.exit_code == 0, result.output
        assert result.stderr.strip() == (
            "no posts newer than 24h; the newest is from 2026-03-14: try --from 2026-03-13"
        )
        assert result.stdout == ""
        window, lookup = es.requests[-2:]
        assert "gte" in str(window["query"]), "the first search has the window"
        assert lookup["query"] == {"match_all": {}}, "the second one drops it"

    result = _run(env, "search", "bins", "--platform", "x", "--since", "2h", "--csv")
    assert result.stderr.strip() == (
        "no matching posts newer than 2h; the newest match is from 2026-03-14: "
        "try --from 2026-03-13"
    )
    assert result.stdout.splitlines() == [",".join(c.name for c in POST_COLUMNS)]
    assert "range" not in str(es.requests[-1]["query"])
    assert {"terms": {"platform": ["x"]}} in es.requests[-1]["query"]["bool"]["filter"]

    es.answer = lambda r: _hits()
    result = _run(env, "search", "--since", "7d")
    assert result.stderr.strip() == "no posts newer than 7d, nor any older"


def test_from_and_until_send_an_absolute_window(es: FakeEs, env: dict[str, str]) -> None:
    result = _run(env, "search", "--from", "2026-03-13", "--until", "2026-03-14T12:00+01:00")
    assert result.exit_code == 0, result.output
    assert es.requests[-1]["query"]["bool"]["filter"] == [
        {
            "range": {
                "created_at": {
                    "gte": "2026-03-13T00:00:00+00:00",
                    "lt": "2026-03-14T11:00:00+00:00",
                }
            }
        }
    ]
    _run(env, "search", "--until", "2026-03-14")
    assert es.requests[-1]["query"]["bool"]["filter"] == [
        {"range": {"created_at": {"lt": "2026-03-15T00:00:00+00:00"}}}
    ]


def test_the_default_order_is_joinability_even_with_a_query(
    es: FakeEs, env: dict[str, str]
) -> None:
    _run(env, "search", "bins")
    assert es.requests[-1]["sort"][0] == {"joinability.score": {"order": "desc"}}
    _run(env, "search", "bins", "--sort", "relevance")
    assert es.requests[-1]["sort"][0] == {"_score": {"order": "desc"}}
    _run(env, "search", "--sort", "TIME")
    assert es.requests[-1]["sort"][0] == {"created_at": {"order": "desc"}}


# --- views at 80 and 160 columns -----------------------------------------------------------

LONG_URL = (
    "https://x.example/DevPatel88/status/1790000000000000501?s=20&t=abcdefghijklmnopqrstuvwxyz0123"
)
TEXT = (
    "@HarboursideBC bins on Marsh Lane weren't collected this morning. Is the lorry coming "
    "back today? Third time this month and nobody answers the phone."
)
REASON = "asks us directly for an answer (mentions @HarboursideBC)"

POST: dict[str, Any] = {
    "id": "x:501",
    "platform": "x",
    "created_at": "2026-05-01T10:02:00Z",
    "text": TEXT,
    "author": {"handle": "DevPatel88"},
    "url": LONG_URL,
    "stakeholder_labels": ["citizen", "influencer"],
    "joinability": {"score": 0.8234, "action": "reply", "reasons": [REASON, "is about 'bins'"]},
    "conversation_id": "x:501",
}
RECORD: dict[str, Any] = {
    "conversation_id": "x:501",
    "platform": "x",
    "awaiting_org_reply": True,
    "waiting_seconds": 22200,
    "sla": "over",
    "over_by_seconds": 7800,
    "sla_minutes": 240,
    "posts": 2,
    "participants": 2,
    "own_posts": 0,
    "last_post": {
        "id": "x:502",
        "created_at": "2026-05-01T10:32:00Z",
        "author": "mags_on_marsh",
        "text": TEXT,
        "url": LONG_URL,
        "action": "listen_only",
        "stakeholder_labels": ["citizen"],
        "reasons": [REASON],
    },
}


def _screen(renderable: Any, width: int, terminal: bool = False) -> tuple[str, str]:
    """(what the reader sees, the raw output) at ``width`` columns."""
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=terminal, color_system="truecolor")
    console.print(renderable, crop=False)
    raw = out.getvalue()
    return re.sub(r"\x1b\[[0-9;]*m|\x1b\]8;[^\x1b]*\x1b\\", "", raw), raw


def _words(screen: str) -> str:
    return " ".join(screen.split())


def _assert_fits_and_links_whole(screen: str, width: int, url: str) -> None:
    lines = screen.splitlines()
    assert [line.strip() for line in lines].count(url) == 1, screen
    for line in lines:
        if line.strip() != url:
            assert len(line) <= width, line
    assert "…" not in screen


@pytest.mark.parametrize("width", [80, 160])
def test_posts_keep_text_time_reason_stakeholders_and_the_whole_link(width: int) -> None:
    screen, _ = _screen(posts_table([POST], "1 matching post"), width)
    _assert_fits_and_links_whole(screen, width, LONG_URL)
    words = _words(screen)
    assert TEXT in words
    assert f"why: {REASON}" in words
    assert "2026-05-01 10:02" in screen
    assert "0.82 reply" in screen
    assert "citizen, influencer" in screen
    assert "@DevPatel88 on x" in screen
    head = next(line for line in screen.splitlines() if "0.82 reply" in line)
    assert ("why:" in head) is (width >= WIDE), "wide terminals put the reason on the head line"
    text_lines = [line for line in screen.splitlines() if line.strip() and line.strip() in TEXT]
    assert len(text_lines) == (1 if width == 160 else 2)


@pytest.mark.parametrize("width", [80, 160])
def test_conversations_keep_wait_sla_last_post_reason_and_the_whole_link(width: int) -> None:
    screen, _ = _screen(conversations_table([RECORD], "1 conversation awaiting our reply"), width)
    _assert_fits_and_links_whole(screen, width, LONG_URL)
    words = _words(screen)
    assert "waiting 6h 10m, over by 2h 10m │ x:501 │ x │ 2 posts, 2 people" in words
    assert "last post 2026-05-01 10:32 │ @mags_on_marsh │ citizen │ listen_only" in words
    assert TEXT in words
    assert f"why: {REASON}" in words
    within = {**RECORD, "waiting_seconds": 600, "over_by_seconds": None, "sla": "within"}
    assert (
        "waiting 10m, within SLA, 3h 50m left"
        in _screen(conversations_table([within], "t"), width)[0]
    )


def test_on_a_terminal_a_plain_link_is_a_hyperlink_too_and_still_shown_whole() -> None:
    screen, raw = _screen(posts_table([POST], "t"), 80, terminal=True)
    assert "\x1b]8;id=" in raw and f";{LONG_URL}\x1b\\" in raw
    _assert_fits_and_links_whole(screen, 80, LONG_URL)
    odd = {**POST, "url": "https://x.example/a b"}
    _, raw = _screen(posts_table([odd], "t"), 80, terminal=True)
    assert "\x1b]8;" not in raw, "a URL with a space is shown, never put in an escape sequence"


def test_the_search_command_prints_whole_links_when_not_a_terminal(
    es: FakeEs, env: dict[str, str]
) -> None:
    es.answer = lambda r: _hits(POST)
    result = _run(env, "search", "bins")
    assert result.exit_code == 0, result.output
    assert "1 matching post, best joinability first, then newest (times in UTC)" in result.stdout
    assert LONG_URL in result.stdout.splitlines()[-1]
    assert "\x1b" not in result.stdout


# --- CSV ---------------------------------------------------------------------------------


def test_csv_columns_are_stable() -> None:
    assert [c.name for c in POST_COLUMNS] == [
        "id",
        "created_at",
        "platform",
        "author",
        "score",
        "action",
        "stakeholders",
        "reasons",
        "text",
        "url",
        "conversation_id",
    ]
    assert [c.name for c in CONVERSATION_COLUMNS][:3] == [
        "conversation_id",
        "platform",
        "awaiting_org_reply",
    ]
    assert [c.name for c in CONVERSATION_COLUMNS][-3:] == [
        "last_post_reasons",
        "last_post_text",
        "last_post_url",
    ]


def test_csv_keeps_text_as_written_and_parses_back(es: FakeEs, env: dict[str, str]) -> None:
    tricky = {**POST, "id": "x:2", "text": 'line one, "quoted"\nline two\r\n=SUM(A1)', "url": None}
    es.answer = lambda r: _hits(POST, tricky)
    as_csv = _run(env, "search", "bins", "--csv")
    as_json = _run(env, "search", "bins", "--json")
    assert as_csv.exit_code == as_json.exit_code == 0, as_csv.output
    # The bytes: click's ``Result.stdout`` turns every CRLF into LF, the one in a post too.
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout_bytes.decode(), newline="")))
    docs = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert len(rows) == len(docs) == 2
    for row, doc in zip(rows, docs, strict=True):
        assert row["id"] == doc["id"]
        # As stored, but for the leading ' that keeps "@..." or "=..." from being a formula.
        assert row["text"].removeprefix("'") == doc["text"]
        assert row["text"].startswith("'") == doc["text"].startswith(("@", "="))
        assert row["url"] == (doc["url"] or "")
        assert float(row["score"]) == doc["joinability"]["score"]
        assert row["stakeholders"].split(";") == doc["stakeholder_labels"]
        assert row["reasons"].split("\n") == doc["joinability"]["reasons"]
        assert row["author"] == doc["author"]["handle"]
        assert row["created_at"] == doc["created_at"]


def test_csv_on_a_terminal_writes_control_characters_out() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    hostile = {**POST, "text": "red \x1b[31malert\x1b[0m"}
    for out, expected in (
        (Terminal(), "red \\x1b[31malert\\x1b[0m"),
        (io.StringIO(), hostile["text"]),
    ):
        write_csv(POST_COLUMNS, [hostile], out)
        (row,) = csv.DictReader(io.StringIO(out.getvalue(), newline=""))
        assert row["text"] == expected


def test_alerts_csv_is_the_json_output_in_columns(es: FakeEs, env: dict[str, str]) -> None:
    alert = {
        "id": "a1",
        "kind": "rule",
        "rule": "press",
        "severity": "warning",
        "created_at": "2026-05-01T10:00:00Z",
        "conversation_id": "x:541",
        "post_id": "x:541",
        "platform": "x",
        "author_handle": "KateLindenNews",
        "summary": 'the press asks, "today"\nplease',
        "url": LONG_URL,
        "kibana_url": None,
    }
    es.answer = lambda r: _hits(alert)
    as_csv = _run(env, "alerts", "--csv")
    assert as_csv.exit_code == 0, as_csv.output
    (row,) = csv.DictReader(io.StringIO(as_csv.stdout_bytes.decode(), newline=""))
    (doc,) = [json.loads(line) for line in _run(env, "alerts", "--json").stdout.splitlines()]
    assert row == {k: "" if doc[k] is None else doc[k] for k in row}
    assert list(row) == [c.name for c in ALERT_COLUMNS]
    assert "--json and --csv" in _refused(_run(env, "alerts", "--json", "--csv"))


def test_every_csv_keeps_a_post_that_looks_like_a_formula_as_text() -> None:
    from streams.cli.csv_cells import spreadsheet_text
    from streams.cli.views import inbox_csv  # noqa: F401  (it writes its cells with the same rule)

    hostile = {**POST, "text": '=HYPERLINK("https://evil.example","win")'}
    out = io.StringIO()
    write_csv(POST_COLUMNS, [hostile], out)
    (row,) = csv.DictReader(io.StringIO(out.getvalue(), newline=""))
    assert row["text"] == "'" + hostile["text"]
    for start in ("+", "-", "@", "\t"):
        out = io.StringIO()
        write_csv(POST_COLUMNS, [{**POST, "text": f"{start}1"}], out)
        (row,) = csv.DictReader(io.StringIO(out.getvalue(), newline=""))
        assert row["text"] == f"'{start}1"
    assert spreadsheet_text("plain words") == "plain words"
    assert spreadsheet_text(None) == "" and spreadsheet_text(["a", "b"]) == "a;b"
