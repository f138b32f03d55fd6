"""Spikes, list in and list out: generated event-time series through the pure detector.

The series are event time (``created_at``), generated minute by minute over
a day: a steady background on several keys, some above ``min_count`` per
hour but never above their own baseline, and a replayed burst on one key.
``now`` is explicit (just after the series), as the agent's clock would be.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from processors.alerts import alert_id
from processors.rules_file import SpikeRule
from schemas.models import Alert, EnrichedPost
from streams.steps.spikes import (
    BUCKET_MS,
    HISTORY,
    Mention,
    SpikeDetector,
    add,
    beyond_history,
    bucket_start,
    detect,
    mentions,
    spike_keys,
    to_ms,
)

T0 = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)
RULE = SpikeRule(
    name="spike",
    window=timedelta(hours=1),
    baseline=timedelta(hours=12),
    min_count=10,
    factor=3.0,
    cooldown=timedelta(hours=6),
)
NOW = T0 + timedelta(hours=24)
BURST_AUTHORS = ["flood_watch", "river_resident", "ana_k"]


def mention(key: str, n: int, at: datetime, author: str = "someone", **kw: Any) -> Mention:
    return Mention(
        key=key,
        post_id=f"x:{key}:{n}",
        at=at,
        author=author,
        platform="x",
        url=f"https://x.example/{n}",
        **kw,
    )


def steady(key: str, every_minutes: int, hours: float = 24, jitter: int = 0) -> Iterator[Mention]:
    rng = random.Random(key)
    minutes = 0
    n = 0
    while minutes < hours * 60:
        at = T0 + timedelta(minutes=minutes + rng.randint(0, jitter))
        yield mention(key, n, at, author=f"{key.split(':')[1]}_fan{n % 7}")
        minutes += every_minutes
        n += 1


def background() -> list[Mention]:
    """Four keys for a day: bins 6/h, parking 20/h (above min_count), Elm Street 4/h, flood 1/h."""
    return [
        *steady("hashtag:bins", 10, jitter=4),
        *steady("hashtag:parking", 3, jitter=2),
        *steady("entity:elm street", 15, jitter=5),
        *steady("hashtag:floodwarning", 60, jitter=20),
    ]


def burst(start: datetime, posts: int = 30, minutes: int = 20, tag: str = "n") -> list[Mention]:
    """``posts`` posts on #floodwarning within ``minutes``, mostly from three people."""
    return [
        mention(
            "hashtag:floodwarning",
            10_000 + n,
            start + timedelta(seconds=n * minutes * 60 // posts),
            author=BURST_AUTHORS[n % 3] if n % 5 else f"passer_by{n}",
            entities=["River Avon", "Mill Lane"] if n % 2 else ["River Avon"],
        ).model_copy(update={"post_id": f"x:burst-{tag}-{n}"})
        for n in range(posts)
    ]


def by_time(*streams: list[Mention]) -> list[Mention]:
    return sorted((m for s in streams for m in s), key=lambda m: (m.at, m.key, m.post_id))


def test_a_steady_background_raises_nothing_from_a_cold_start() -> None:
    # parking runs at 20 posts an hour from the first minute: above min_count, at its baseline.
    assert detect(by_time(background()), [RULE], NOW) == []


def test_a_replayed_burst_over_the_background_is_found_once_with_its_drivers() -> None:
    start = T0 + timedelta(hours=18, minutes=7)
    alerts = detect(by_time(background(), burst(start)), [RULE], NOW)
    [alert] = alerts
    assert (alert.kind, alert.rule, alert.severity) == ("spike", "spike", "warning")
    drivers = alert.spike
    assert drivers is not None and drivers.key == "hashtag:floodwarning"
    # Found as soon as the hour holds 3x its baseline (about one an hour) and min_count.
    assert drivers.count >= RULE.min_count
    assert 0.5 <= drivers.baseline <= 1.5
    assert drivers.count >= RULE.factor * drivers.baseline
    assert set(drivers.authors[:3]) == set(BURST_AUTHORS)
    assert drivers.entities[0] == "River Avon" and "Mill Lane" in drivers.entities
    assert len(drivers.post_ids) == 5
    assert sum(p.startswith("x:burst-") for p in drivers.post_ids) >= 4, drivers.post_ids
    assert alert.post_id == drivers.post_ids[0]
    # The window is judged in event time: it ends with the burst, not with the replay.
    window_start = datetime.fromisoformat({c.field: c.value for c in alert.why}["window_start"])
    assert start - timedelta(hours=1) < window_start <= start
    assert alert.id == alert_id("spike", "spike", "hashtag:floodwarning", window_start.isoformat())
    assert alert.summary.startswith("#floodwarning: ")
    assert alert.created_at == NOW


def test_the_same_replay_gives_the_same_alert_and_a_redelivery_no_new_one() -> None:
    stream = by_time(background(), burst(T0 + timedelta(hours=18)))
    first = detect(stream, [RULE], NOW)
    again = detect(stream, [RULE], NOW)
    assert [a.id for a in first] == [a.id for a in again] and len(first) == 1

    # At-least-once: the burst delivered twice to one detector. Counted once, and the
    # redelivered post that raised the alert re-sends it under the same id, nothing else.
    detector = SpikeDetector([RULE], NOW)
    [raised] = detector.feed(stream)
    counts = {k: v["count"] for k, v in detector.buckets.items()}
    [resent] = detector.feed(burst(T0 + timedelta(hours=18)))
    assert resent.id == raised.id
    assert {k: v["count"] for k, v in detector.buckets.items()} == counts, "counted once"


def test_a_second_burst_within_the_cooldown_is_quiet_and_after_it_alerts_again() -> None:
    first = T0 + timedelta(hours=14)
    within = burst(first + timedelta(hours=3), tag="b")
    after = burst(first + timedelta(hours=7), posts=60, tag="c")
    alerts = detect(by_time(background(), burst(first), within, after), [RULE], NOW)
    starts = [datetime.fromisoformat(a.why[-1].value) for a in alerts]
    assert len(alerts) == 2
    assert starts[1] - starts[0] >= RULE.cooldown
    assert len({a.id for a in alerts}) == 2


def test_a_new_key_after_the_warm_up_spikes_from_nothing() -> None:
    fresh = [
        mention("topic:flooding", n, T0 + timedelta(hours=20, minutes=n * 2)) for n in range(12)
    ]
    [alert] = detect(by_time(background(), fresh), [RULE], NOW)
    assert alert.spike is not None and alert.spike.baseline == 0
    assert "where there were none before" in alert.summary


def test_nothing_is_judged_during_the_warm_up() -> None:
    early = burst(T0 + timedelta(hours=2))
    assert detect(by_time(background(), early), [RULE], NOW) == []


def test_posts_too_old_for_the_table_history_are_counted_but_not_judged() -> None:
    stream = by_time(background(), burst(T0 + timedelta(hours=18)))
    late_now = T0 + HISTORY + timedelta(hours=12)  # the burst's baseline has expired by now
    assert detect(stream, [RULE], late_now) == []
    assert len(detect(stream, [RULE], T0 + HISTORY)) == 1


def test_a_rule_longer_than_the_table_history_is_named() -> None:
    week = RULE.model_copy(update={"name": "weekly", "baseline": timedelta(days=7)})
    assert beyond_history([RULE, week]) == ["weekly"]
    assert detect(by_time(background(), burst(T0 + timedelta(hours=18))), [week], NOW) == []


def test_below_min_count_is_not_a_spike_even_at_many_times_the_baseline() -> None:
    small = burst(T0 + timedelta(hours=18), posts=8)
    quiet = [m for m in background() if m.key != "hashtag:floodwarning"]
    assert detect(by_time(quiet, small), [RULE], NOW) == []


def test_a_rule_only_judges_its_key_kinds() -> None:
    entities_only = RULE.model_copy(update={"on": ["entity"]})
    stream = by_time(background(), burst(T0 + timedelta(hours=18)))
    assert detect(stream, [entities_only], NOW) == []


def test_a_bucket_counts_a_post_once_and_keeps_the_latest() -> None:
    m = mention("hashtag:x", 1, T0, entities=["A"])
    once = add(None, m)
    assert once is not None and once["count"] == 1
    assert add(once, m) is None
    later = mention("hashtag:x", 2, T0 + timedelta(seconds=30), author="b")
    twice = add(once, later)
    assert twice is not None
    assert (twice["count"], twice["authors"], twice["last"]["post_id"]) == (
        2,
        {"someone": 1, "b": 1},
        "x:hashtag:x:2",
    )
    assert bucket_start(to_ms(T0) + BUCKET_MS - 1) == to_ms(T0)
    assert bucket_start(to_ms(T0) + BUCKET_MS) == to_ms(T0) + BUCKET_MS


def _enriched(**overrides: Any) -> EnrichedPost:
    data: dict[str, Any] = {
        "id": "x:1",
        "platform": "x",
        "created_at": "2026-05-01T10:00:00Z",
        "received_at": "2026-05-01T10:00:05Z",
        "text": "Flooding on Mill Lane again #FloodWarning #floodwarning #Bins",
        "author": {"id": "x:ana", "handle": "ana_k"},
        "conversation_id": "x:1",
        "hashtags": ["FloodWarning", "floodwarning", "Bins"],
        "entities": [
            {"text": "Mill  Lane", "label": "PLACE", "start": 12, "end": 21, "source": "model"},
            {"text": "River Avon", "label": "PLACE", "start": 0, "end": 1, "source": "gazetteer"},
            {
                "text": "#FloodWarning",
                "label": "HASHTAG",
                "start": 0,
                "end": 1,
                "source": "hashtag",
            },
            {"text": "@council", "label": "MENTION", "start": 0, "end": 1, "source": "mention"},
        ],
        "joinability": {"score": 0.4, "action": "listen_only"},
        "reading": {
            "addressed": "none",
            "about_us": True,
            "kind": "complaint",
            "sentiment": "negative",
            "signals": [
                {"name": "on_topic", "score": 0.4, "evidence": ["is about 'Bin  Collection'"]}
            ],
        },
    }
    data.update(overrides)
    return EnrichedPost.model_validate(data)


def test_spike_keys_fold_case_and_count_only_model_and_gazetteer_entities() -> None:
    post = _enriched()
    assert spike_keys(post, {"entity", "hashtag", "topic"}, ["bin collection", "parking"]) == [
        "entity:mill lane",
        "entity:river avon",
        "hashtag:bins",
        "hashtag:floodwarning",
        "topic:bin collection",
    ]
    assert spike_keys(post, {"hashtag"}, []) == ["hashtag:bins", "hashtag:floodwarning"]


def test_mentions_carry_event_time_and_skip_our_own_and_redacted_posts() -> None:
    post = _enriched()
    found = mentions(post, [RULE], ["bin collection"])
    assert {m.key for m in found} >= {"hashtag:floodwarning", "topic:bin collection"}
    assert {m.at for m in found} == {post.created_at}
    assert found[0].entities == ["Mill  Lane", "River Avon"]
    assert all(m.author == "ana_k" for m in found)

    skewed = _enriched(created_at="2026-05-01T11:00:00Z")  # "written" after it reached us
    assert {m.at for m in mentions(skewed, [RULE], [])} == {skewed.received_at}

    own = _enriched(author={"id": "x:council", "handle": "council", "is_org_account": True})
    assert mentions(own, [RULE], []) == []
    assert mentions(_enriched(redacted=True), [RULE], []) == []
    assert mentions(post, [], []) == []


def test_enriched_posts_to_an_alert_end_to_end_in_the_step() -> None:
    posts = [
        _enriched(
            id=f"x:{n}",
            created_at=(T0 + timedelta(hours=13, minutes=n)).isoformat(),
            received_at=None,
            author={"id": f"x:a{n % 2}", "handle": f"a{n % 2}"},
            hashtags=["Storm"],
            entities=[],
            reading=None,
        )
        for n in range(12)
    ]
    # A quiet morning elsewhere: the detector has watched for the whole baseline.
    warm = [mention("hashtag:other", 0, T0)]
    stream = warm + [m for p in posts for m in mentions(p, [RULE], [])]
    [alert] = detect(stream, [RULE], NOW)
    assert alert.spike is not None
    assert (alert.spike.key, alert.spike.count, alert.spike.authors) == (
        "hashtag:storm",
        10,
        ["a0", "a1"],
    )


@pytest.mark.parametrize("posts", [9, 10])
def test_min_count_is_the_edge(posts: int) -> None:
    warm = [mention("hashtag:other", 0, T0)]
    fresh = [mention("hashtag:new", n, T0 + timedelta(hours=13, minutes=n)) for n in range(posts)]
    alerts: list[Alert] = detect(warm + fresh, [RULE], NOW)
    assert len(alerts) == (1 if posts >= RULE.min_count else 0)
