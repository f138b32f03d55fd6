"""Silent sources, list in and list out, with an explicit clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from processors.alerts import alert_id
from processors.rules_file import SilenceConfig
from schemas.models import Alert
from streams.steps.silence import (
    ALPHA,
    RULE,
    Arrivals,
    SourceState,
    arrival,
    arrive,
    check,
    summarise,
    sweep,
)

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CONFIG = SilenceConfig()  # factor 3, min_gap 30m


def envelope(source: str, at: datetime, **extra: Any) -> bytes:
    return json.dumps(
        {
            "ingest_id": "i",
            "source": source,
            "format": "canonical",
            "received_at": at.isoformat(),
            "payload": {"source": "not this one"},
            **extra,
        }
    ).encode()


def fed(source: str, every: timedelta, count: int, start: datetime = T0) -> dict[str, Any]:
    """A source's state after ``count`` arrivals ``every`` apart, in batches of five."""
    stored: dict[str, Any] | None = None
    times = [start + every * n for n in range(count)]
    for i in range(0, count, 5):
        [summary] = summarise((source, at) for at in times[i : i + 5])
        stored = arrive(stored, summary)
    assert stored is not None
    return stored


def minutes_after_last(stored: dict[str, Any], minutes: float) -> datetime:
    return SourceState.model_validate(stored).last + timedelta(minutes=minutes)


def test_arrival_reads_the_envelope_source_and_received_at_only() -> None:
    assert arrival(envelope("mastodon", T0)) == ("mastodon", T0)
    assert arrival(b"\xff not json") is None
    assert arrival(b"[1, 2]") is None
    assert arrival(json.dumps({"source": "x", "received_at": "yesterday"}).encode()) is None
    assert (
        arrival(json.dumps({"source": "x", "received_at": "2026-05-01T12:00:00"}).encode()) is None
    )
    assert arrival(json.dumps({"received_at": T0.isoformat()}).encode()) is None
    assert arrival(None) is None


def test_summarise_gives_one_summary_per_source() -> None:
    later = T0 + timedelta(seconds=30)
    out = summarise([("rss", later), ("mastodon", T0), ("rss", T0), ("rss", T0)])
    assert out == [
        Arrivals(source="rss", count=3, first=T0, last=later),
        Arrivals(source="mastodon", count=1, first=T0, last=T0),
    ]


def test_a_busy_source_is_silent_after_min_gap_once_per_silence() -> None:
    stored = fed("mastodon", timedelta(seconds=60), 30)
    state = SourceState.model_validate(stored)
    assert state.gaps == 29 and abs((state.gap_seconds or 0) - 60) < 1e-6

    assert check(stored, minutes_after_last(stored, 29), CONFIG).alert is None
    alert, after = check(stored, minutes_after_last(stored, 31), CONFIG)
    assert alert is not None and after is not None
    assert alert.id == alert_id("silence", RULE, "mastodon", state.last.isoformat())
    assert (alert.kind, alert.source, alert.severity, alert.conversation_id) == (
        "silence",
        "mastodon",
        "warning",
        None,
    )
    assert alert.summary.startswith("Source mastodon has delivered nothing for 31m")
    assert {c.field: c.value for c in alert.why}["allowed_gap_seconds"] == "1800"
    assert Alert.model_validate_json(alert.model_dump_json()) == alert
    # The same silence, checked again later (or by a worker after a restart): nothing.
    assert check(after, minutes_after_last(stored, 240), CONFIG).alert is None

    # Arrivals resume, then stop again: a new silence, a new alert.
    resumed = arrive(
        after, Arrivals(source="mastodon", count=1, first=T0, last=T0 + timedelta(hours=3))
    )
    again, _ = check(resumed, T0 + timedelta(hours=4), CONFIG)
    assert again is not None and again.id != alert.id


def test_a_slow_source_may_stay_quiet_for_factor_times_its_usual_gap() -> None:
    stored = fed("rss", timedelta(minutes=20), 15)
    assert check(stored, minutes_after_last(stored, 45), CONFIG).alert is None
    assert check(stored, minutes_after_last(stored, 59), CONFIG).alert is None
    alert, _ = check(stored, minutes_after_last(stored, 61), CONFIG)
    assert alert is not None and "usually one every 20m" in alert.summary


def test_no_usual_gap_yet_no_silence() -> None:
    stored = fed("reddit", timedelta(minutes=1), 3)  # two gaps
    assert check(stored, minutes_after_last(stored, 600), CONFIG).alert is None
    assert check(fed("reddit", timedelta(minutes=1), 4), T0 + timedelta(days=1), CONFIG).alert


def test_a_file_replay_ends_and_is_not_silent() -> None:
    stored = fed("replay", timedelta(seconds=1), 100)
    assert check(stored, minutes_after_last(stored, 600), CONFIG).alert is None


def test_switched_off_or_tighter_settings_from_the_rules_file() -> None:
    stored = fed("webhook", timedelta(seconds=60), 30)
    at = minutes_after_last(stored, 31)
    assert check(stored, at, SilenceConfig(enabled=False)).alert is None
    tight = SilenceConfig(min_gap=timedelta(minutes=5), severity="critical", outputs=["ops"])
    alert, _ = check(stored, minutes_after_last(stored, 6), tight)
    assert alert is not None and (alert.severity, alert.outputs) == ("critical", ["ops"])
    assert check(stored, at, CONFIG).alert is not None


def test_an_older_summary_moves_nothing() -> None:
    stored = fed("bluesky", timedelta(seconds=10), 20)
    old = Arrivals(source="bluesky", count=5, first=T0, last=T0 + timedelta(seconds=30))
    assert arrive(stored, old) == stored


def test_the_usual_gap_is_an_ewma_over_each_gap_of_a_summary() -> None:
    stored = fed("x", timedelta(seconds=10), 10)  # usual gap 10s
    last = SourceState.model_validate(stored).last
    # Four arrivals over the next 200s: four gaps of 50s each.
    after = arrive(
        stored, Arrivals(source="x", count=4, first=last, last=last + timedelta(seconds=200))
    )
    keep = (1 - ALPHA) ** 4
    usual = SourceState.model_validate(after).gap_seconds
    assert usual is not None and abs(usual - (keep * 10 + (1 - keep) * 50)) < 1e-6


def test_sweep_over_many_sources_is_list_in_list_out() -> None:
    table = {
        "mastodon": fed("mastodon", timedelta(seconds=60), 30),
        "rss": fed("rss", timedelta(minutes=20), 15, start=T0 - timedelta(hours=6)),
        "replay": fed("replay", timedelta(seconds=1), 50),
    }
    now = T0 + timedelta(hours=1)
    alerts, updates = sweep(table, now, CONFIG)
    assert sorted(a.source or "" for a in alerts) == ["mastodon", "rss"]
    assert set(updates) == {"mastodon", "rss"}
    assert sweep({**table, **updates}, now + timedelta(minutes=5), CONFIG) == ([], {})


def test_an_arrival_never_raises_on_what_reached_the_edge() -> None:
    """posts.raw holds every bad input normalize will dead-letter; reading it must not crash."""
    from streams.steps.silence import arrival

    deep = b"[" * 100_000 + b"]" * 100_000
    for value in (deep, b"\xff\xfe", b"NaN", b"1" * 5000, b"[]", b"", None):
        assert arrival(value) is None
