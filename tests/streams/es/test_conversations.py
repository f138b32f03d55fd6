"""Current conversation state from per-post snapshots: queries, parsing, ordering, SLA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streams.es.conversations import (
    candidates_query,
    conversation_record,
    format_span,
    latest_query,
    parse_candidates,
    parse_latest,
    select,
    sla_status,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _record(
    conv: str, awaiting: bool, since: str | None, last_activity: str, own: int = 0
) -> dict[str, Any]:
    return {
        "conversation_id": conv,
        "platform": "x",
        "state_post_id": f"{conv}-p",
        "conversation": {
            "awaiting_org_reply": awaiting,
            "awaiting_since": since,
            "last_activity": last_activity,
            "own_posts": own,
            "posts": 3,
            "participants": 2,
        },
        "last_post": {
            "id": f"{conv}-p",
            "text": "hello",
            "author": {"handle": "h"},
            "created_at": last_activity,
        },
    }


def test_candidates_for_awaiting_only_are_threads_with_any_awaiting_snapshot() -> None:
    body = candidates_query(awaiting_only=True, max_conversations=50)
    assert body["size"] == 0
    assert body["query"] == {"term": {"conversation.awaiting_org_reply": True}}
    assert body["aggs"]["conversations"]["terms"] == {"field": "conversation_id", "size": 50}
    assert candidates_query(False, 7)["query"] == {"match_all": {}}


def test_latest_query_takes_the_snapshot_enriched_last_and_the_newest_post() -> None:
    body = latest_query(["a", "b"])
    assert body["query"] == {"terms": {"conversation_id": ["a", "b"]}}
    terms = body["aggs"]["conversations"]
    assert terms["terms"]["size"] == 2
    state = terms["aggs"]["state"]["top_hits"]
    assert state["size"] == 1
    assert next(iter(state["sort"][0])) == "processed_at.enrich"
    assert state["sort"][0]["processed_at.enrich"]["unmapped_type"] == "date"
    assert state["sort"][1] == {"created_at": {"order": "desc"}}
    assert terms["aggs"]["last"]["top_hits"]["sort"] == [{"created_at": {"order": "desc"}}]


def test_parsing_reports_truncation_and_pairs_state_with_last_post() -> None:
    ids, truncated = parse_candidates(
        {
            "aggregations": {
                "conversations": {"buckets": [{"key": "a"}, {"key": "b"}], "sum_other_doc_count": 3}
            }
        }
    )
    assert (ids, truncated) == (["a", "b"], True)
    bucket = {
        "key": "a",
        "state": {"hits": {"hits": [{"_source": {"id": "p1", "conversation": {"posts": 2}}}]}},
        "last": {"hits": {"hits": [{"_source": {"id": "p2", "platform": "x", "text": "t"}}]}},
    }
    [rec] = parse_latest({"aggregations": {"conversations": {"buckets": [bucket]}}})
    assert rec["state_post_id"] == "p1"
    assert rec["conversation"] == {"posts": 2}
    assert rec["last_post"]["id"] == "p2"
    assert rec["platform"] == "x"


def test_awaiting_selection_drops_answered_threads_and_puts_the_oldest_wait_first() -> None:
    records = [
        _record("new", True, "2026-05-01T11:00:00Z", "2026-05-01T11:00:00Z"),
        _record("answered", False, None, "2026-05-01T11:30:00Z", own=1),
        _record("old", True, "2026-04-30T09:00:00+00:00", "2026-05-01T10:00:00Z"),
        _record("mid", True, "2026-05-01T08:00:00Z", "2026-05-01T09:00:00Z"),
    ]
    got = [r["conversation_id"] for r in select(records, awaiting_only=True, limit=10)]
    assert got == ["old", "mid", "new"]
    assert [r["conversation_id"] for r in select(records, True, 2)] == ["old", "mid"]
    recent = [r["conversation_id"] for r in select(records, awaiting_only=False, limit=10)]
    assert recent == ["answered", "new", "old", "mid"]


@pytest.mark.parametrize(
    ("waited_min", "sla_min", "over", "text"),
    [
        (30, 240, False, "within, left 3h 30m"),
        (240, 240, False, "within, left 0m"),
        (245, 240, True, "over by 5m"),
        (60 * 24 * 2 + 90, 240, True, "over by 1d 21h"),
    ],
)
def test_sla_arithmetic(waited_min: int, sla_min: int, over: bool, text: str) -> None:
    status = sla_status(NOW - timedelta(minutes=waited_min), NOW, sla_min)
    assert status.waited == timedelta(minutes=waited_min)
    assert status.over is over
    assert status.describe() == text


def test_a_wait_in_the_future_counts_as_zero() -> None:
    assert sla_status(NOW + timedelta(minutes=5), NOW, 10).waited == timedelta(0)


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(seconds=59), "0m"),
        (timedelta(minutes=7), "7m"),
        (timedelta(hours=2, minutes=5), "2h 05m"),
        (timedelta(days=3, hours=4, minutes=59), "3d 4h"),
    ],
)
def test_spans_read_well(span: timedelta, text: str) -> None:
    assert format_span(span) == text


def test_record_for_the_cli_carries_wait_and_sla_verdict() -> None:
    rec = conversation_record(
        _record("c", True, "2026-05-01T07:00:00Z", "2026-05-01T07:00:00Z"), NOW, 240
    )
    assert rec["waiting_seconds"] == 5 * 3600
    assert rec["sla"] == "over"
    assert rec["over_by_seconds"] == 3600
    assert rec["last_post"] == {
        "id": "c-p",
        "created_at": "2026-05-01T07:00:00Z",
        "author": "h",
        "text": "hello",
        "url": None,
    }
    answered = conversation_record(_record("d", False, None, "2026-05-01T07:00:00Z"), NOW, 240)
    assert (answered["waiting_seconds"], answered["sla"], answered["over_by_seconds"]) == (
        None,
        None,
        None,
    )
