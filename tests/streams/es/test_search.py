"""Search filters translate to the Elasticsearch query analysts expect."""

from __future__ import annotations

from datetime import timedelta

import pytest

from streams.es.search import PostFilter, parse_duration, posts_query, posts_sort


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        (" 45 S ", timedelta(seconds=45)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "d7", "1y", "-3h"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match=r"e\.g\. 30m"):
        parse_duration(text)


def test_no_filter_matches_everything_by_joinability() -> None:
    flt = PostFilter()
    assert posts_query(flt) == {"match_all": {}}
    assert posts_sort(flt)[0] == {"joinability.score": "desc"}


def test_every_filter_lands_in_the_bool_filter() -> None:
    flt = PostFilter(
        text="bins",
        min_joinability=0.5,
        actions=["reply"],
        stakeholders=["media"],
        since=timedelta(hours=2),
        platforms=["x"],
        conversation_ids=["x:1", "x:2"],
    )
    q = posts_query(flt)["bool"]
    assert q["must"][0]["multi_match"]["query"] == "bins"
    assert {"range": {"joinability.score": {"gte": 0.5}}} in q["filter"]
    assert {"terms": {"joinability.action": ["reply"]}} in q["filter"]
    assert {"terms": {"stakeholder_labels": ["media"]}} in q["filter"]
    assert {"terms": {"conversation_id": ["x:1", "x:2"]}} in q["filter"]
    assert not any("conversation.awaiting_org_reply" in str(f) for f in q["filter"])
    assert {"range": {"created_at": {"gte": "now-7200s"}}} in q["filter"]
    assert {"terms": {"platform": ["x"]}} in q["filter"]
    assert posts_sort(flt)[0] == {"_score": "desc"}


def test_awaiting_threads_filter_their_posts_and_no_thread_waiting_matches_nothing() -> None:
    """``search --awaiting-reply`` looks the waiting threads up first; none waiting, no posts."""
    assert posts_query(PostFilter(conversation_ids=[])) == {
        "bool": {"must": [], "filter": [{"terms": {"conversation_id": []}}]}
    }
    assert posts_query(PostFilter(conversation_ids=None)) == {"match_all": {}}
