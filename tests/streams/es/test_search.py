"""Search filters translate to the Elasticsearch query analysts expect, and typos are caught."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest

from schemas.models import Action, StakeholderLabel
from streams.es.search import (
    ACTIONS,
    PLATFORM_SYNONYMS,
    SORTS,
    STAKEHOLDER_LABELS,
    STAKEHOLDER_SYNONYMS,
    BadChoice,
    PostFilter,
    adapter_platforms,
    check_choices,
    parse_duration,
    parse_instant,
    posts_query,
    posts_sort,
)


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


# --- windows -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "end_of_day", "expected"),
    [
        ("2026-03-14", False, datetime(2026, 3, 14, tzinfo=UTC)),
        ("2026-03-14", True, datetime(2026, 3, 15, tzinfo=UTC)),
        ("20260314", False, datetime(2026, 3, 14, tzinfo=UTC)),
        ("2026-03-14T09:30", False, datetime(2026, 3, 14, 9, 30, tzinfo=UTC)),
        ("2026-03-14 09:30:15", True, datetime(2026, 3, 14, 9, 30, 15, tzinfo=UTC)),
        ("2026-03-14T09:30Z", False, datetime(2026, 3, 14, 9, 30, tzinfo=UTC)),
        ("2026-03-14T09:30z", False, datetime(2026, 3, 14, 9, 30, tzinfo=UTC)),
        ("2026-03-14T09:30+01:00", False, datetime(2026, 3, 14, 8, 30, tzinfo=UTC)),
        ("2026-03-14T23:30-02:00", False, datetime(2026, 3, 15, 1, 30, tzinfo=UTC)),
    ],
)
def test_instants_are_utc_dates_or_times(text: str, end_of_day: bool, expected: datetime) -> None:
    """A time without a zone is UTC; a date as an end includes that whole day."""
    got = parse_instant(text, end_of_day=end_of_day)
    assert got == expected
    assert got.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["yesterday", "", "14/03/2026", "2026-13-01", "2026-03-14T25:00"])
def test_bad_instants_show_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match=r"not an ISO 8601 date or time, e\.g\. 2026-03-14"):
        parse_instant(text)


def test_a_window_is_a_range_on_created_at_from_inclusive_until_exclusive() -> None:
    start = datetime(2026, 3, 13, tzinfo=UTC)
    end = datetime(2026, 3, 15, 1, tzinfo=UTC)
    q = posts_query(PostFilter(start=start, end=end))["bool"]
    assert q["filter"] == [
        {"range": {"created_at": {"gte": "2026-03-13T00:00:00+00:00", "lt": end.isoformat()}}}
    ]
    only_end = posts_query(PostFilter(end=end))["bool"]["filter"]
    assert only_end == [{"range": {"created_at": {"lt": end.isoformat()}}}]
    flt = PostFilter(text="bins", start=start, end=end, platforms=["x"])
    assert flt.without_window() == PostFilter(text="bins", platforms=["x"])
    assert flt.start == start, "without_window leaves the filter itself alone"


# --- vocabularies ------------------------------------------------------------------------


def test_vocabularies_are_the_models_and_the_adapters() -> None:
    assert get_args(Action) == ACTIONS
    assert get_args(StakeholderLabel) == STAKEHOLDER_LABELS
    assert adapter_platforms() == ("bluesky", "mastodon", "reddit", "rss", "x")
    assert SORTS[0] == "joinability", "the default order is the first"
    for meant in (*STAKEHOLDER_SYNONYMS.values(), *PLATFORM_SYNONYMS.values()):
        assert meant in (*STAKEHOLDER_LABELS, *adapter_platforms()), meant


def test_checked_values_come_back_spelled_as_allowed() -> None:
    assert check_choices("--action", ["Reply", "listen-only", "reply"], ACTIONS, "an action") == [
        "reply",
        "listen_only",
    ]
    assert check_choices("--topic", ["Garden Waste"], ["bins", "garden waste"], "a topic") == [
        "garden waste"
    ]
    assert check_choices("--action", [], ACTIONS, "an action") == []


@pytest.mark.parametrize(
    ("option", "value", "allowed", "synonyms", "suggestion"),
    [
        ("--action", "replyy", ACTIONS, None, "reply"),
        ("--action", "escalte", ACTIONS, None, "escalate"),
        ("--stakeholder", "journalist", STAKEHOLDER_LABELS, STAKEHOLDER_SYNONYMS, "media"),
        ("--stakeholder", "custmer", STAKEHOLDER_LABELS, STAKEHOLDER_SYNONYMS, "customer"),
        ("--platform", "twitter", ("bluesky", "x"), PLATFORM_SYNONYMS, "x"),
        ("--platform", "mastodn", ("mastodon", "x"), PLATFORM_SYNONYMS, "mastodon"),
        ("--platform", "twiter", ("bluesky", "x"), PLATFORM_SYNONYMS, "x"),
        ("--sort", "jonability", SORTS, None, "joinability"),
    ],
)
def test_a_typo_is_refused_with_the_allowed_values_and_a_suggestion(
    option: str,
    value: str,
    allowed: tuple[str, ...],
    synonyms: dict[str, str] | None,
    suggestion: str,
) -> None:
    with pytest.raises(BadChoice) as caught:
        check_choices(
            option, ["reply", value] if option == "--action" else [value], allowed, "x", synonyms
        )
    exc = caught.value
    assert (exc.option, exc.value, exc.suggestion) == (option, value, suggestion)
    message = str(exc)
    assert message.startswith(f"{option} {value!r} is not x; did you mean {suggestion!r}?")
    assert message.endswith("Choose from: " + ", ".join(allowed))
    assert "\n" not in message


def test_a_value_far_from_every_allowed_one_gets_the_list_without_a_guess() -> None:
    with pytest.raises(BadChoice, match=r"'zebra' is not a label\. Choose from: customer, ") as c:
        check_choices(
            "--stakeholder", ["zebra"], STAKEHOLDER_LABELS, "a label", STAKEHOLDER_SYNONYMS
        )
    assert c.value.suggestion is None


def test_a_synonym_is_only_a_suggestion_never_accepted() -> None:
    with pytest.raises(BadChoice):
        check_choices("--platform", ["twitter"], ("x",), "a platform", PLATFORM_SYNONYMS)


# --- the query ---------------------------------------------------------------------------


def test_no_filter_matches_everything_by_joinability() -> None:
    assert posts_query(PostFilter()) == {"match_all": {}}
    assert posts_sort()[0] == {"joinability.score": {"order": "desc"}}


def test_every_filter_lands_in_the_bool_filter() -> None:
    flt = PostFilter(
        text="bins",
        min_joinability=0.5,
        actions=["reply"],
        stakeholders=["media"],
        start=datetime(2026, 3, 14, tzinfo=UTC),
        platforms=["x"],
        topics=["garden waste"],
        entities=["Elm Street"],
        conversation_ids=["x:1", "x:2"],
    )
    q = posts_query(flt)["bool"]
    assert q["must"][0]["multi_match"]["query"] == "bins"
    assert {"range": {"joinability.score": {"gte": 0.5}}} in q["filter"]
    assert {"terms": {"joinability.action": ["reply"]}} in q["filter"]
    assert {"terms": {"stakeholder_labels": ["media"]}} in q["filter"]
    assert {"terms": {"conversation_id": ["x:1", "x:2"]}} in q["filter"]
    assert not any("conversation.awaiting_org_reply" in str(f) for f in q["filter"])
    assert {"range": {"created_at": {"gte": "2026-03-14T00:00:00+00:00"}}} in q["filter"]
    assert {"terms": {"platform": ["x"]}} in q["filter"]
    topic = {
        "nested": {
            "path": "reading.signals",
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"reading.signals.name": "on_topic"}},
                        {"match_phrase": {"reading.signals.evidence": "garden waste"}},
                    ]
                }
            },
        }
    }
    assert topic in q["filter"]
    entity = {
        "nested": {
            "path": "entities",
            "query": {
                "term": {"entities.text.raw": {"value": "Elm Street", "case_insensitive": True}}
            },
        }
    }
    assert entity in q["filter"]
    assert len(q["filter"]) == 8


def test_several_topics_or_entities_are_alternatives() -> None:
    q = posts_query(PostFilter(topics=["bins", "parking"], entities=["a", "b"]))["bool"]
    topics, entities = q["filter"]
    assert topics["bool"]["minimum_should_match"] == 1
    assert [t["nested"]["query"]["bool"]["filter"][1] for t in topics["bool"]["should"]] == [
        {"match_phrase": {"reading.signals.evidence": "bins"}},
        {"match_phrase": {"reading.signals.evidence": "parking"}},
    ]
    assert [
        e["nested"]["query"]["term"]["entities.text.raw"]["value"]
        for e in entities["bool"]["should"]
    ] == ["a", "b"]


def test_the_order_is_explicit_and_a_query_does_not_change_it() -> None:
    """ "Best joinability first" holds with words too; text relevance only when asked for."""
    assert posts_sort("joinability") == [
        {"joinability.score": {"order": "desc"}},
        {"created_at": {"order": "desc"}},
        {"id": {"order": "asc"}},
    ]
    assert posts_sort("time")[:2] == [
        {"created_at": {"order": "desc"}},
        {"joinability.score": {"order": "desc"}},
    ]
    assert posts_sort("relevance")[:2] == [
        {"_score": {"order": "desc"}},
        {"joinability.score": {"order": "desc"}},
    ]
    assert all(s[-1] == {"id": {"order": "asc"}} for s in map(posts_sort, SORTS))
    with pytest.raises(BadChoice, match="did you mean 'time'"):
        posts_sort("tme")


def test_awaiting_threads_filter_their_posts_and_no_thread_waiting_matches_nothing() -> None:
    """``search --awaiting-reply`` looks the waiting threads up first; none waiting, no posts."""
    assert posts_query(PostFilter(conversation_ids=[])) == {
        "bool": {"must": [], "filter": [{"terms": {"conversation_id": []}}]}
    }
    assert posts_query(PostFilter(conversation_ids=None)) == {"match_all": {}}
