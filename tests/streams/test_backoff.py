"""Retry delays and request pacing (pure functions: no sleeping, no network)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.backoff import (
    Backoff,
    Pacer,
    parse_reset,
    parse_retry_after,
    retryable_status,
    server_wait,
)

NOW = 1_750_000_000.0


def _top(low: float, high: float) -> float:
    return high


def test_full_jitter_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(base=0.5, cap=4.0, rng=_top)
    assert [backoff.delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.delay() == 0.5


@given(
    attempts=st.integers(min_value=1, max_value=80),
    base=st.floats(0.01, 10),
    cap=st.floats(0.1, 600),
)
def test_jittered_delays_stay_within_zero_and_the_cap(
    attempts: int, base: float, cap: float
) -> None:
    backoff = Backoff(base=base, cap=cap)
    for _ in range(attempts):
        assert 0.0 <= backoff.delay() <= cap


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert parse_retry_after("7", NOW) == 7.0
    date = format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True)
    assert parse_retry_after(date, NOW) == pytest.approx(30.0)
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("-3", NOW) == 0.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (str(int(NOW) + 42), 42.0),  # X: epoch seconds
        ("12", 12.0),  # Reddit: seconds until the window resets
        (
            datetime.fromtimestamp(NOW + 90, UTC).isoformat().replace("+00:00", "Z"),
            90.0,
        ),  # Mastodon
        (str(int(NOW) - 5), 0.0),  # already past
        ("whenever", None),
    ],
)
def test_reset_headers_of_each_platform(value: str, expected: float | None) -> None:
    result = parse_reset(value, NOW)
    assert result == (pytest.approx(expected) if expected is not None else None)


def test_server_wait_prefers_retry_after_and_ignores_resets_on_success() -> None:
    assert (
        server_wait({"Retry-After": "3", "x-rate-limit-reset": str(int(NOW) + 60)}, 429, NOW) == 3.0
    )
    assert server_wait({"x-rate-limit-reset": str(int(NOW) + 60)}, 429, NOW) == 60.0
    assert server_wait({"x-ratelimit-reset": "20"}, 200, NOW) is None  # quota left: keep going
    assert (
        server_wait({"x-ratelimit-remaining": "0.0", "x-ratelimit-reset": "20"}, 200, NOW) == 20.0
    )
    assert server_wait({}, 503, NOW) is None


def test_a_server_wait_is_honoured_in_full_but_capped() -> None:
    backoff = Backoff(base=1.0, cap=2.0, max_server_wait=100.0, rng=lambda a, b: 0.0)
    assert (
        backoff.delay({"Retry-After": "30"}, 429, NOW) == 30.0
    )  # above the jitter cap: still waited
    assert backoff.delay({"Retry-After": "86400"}, 429, NOW) == 100.0
    assert backoff.delay({}, 500, NOW) == 0.0  # no hint: jitter (rng gives 0 here)


def test_the_pacer_spaces_requests_and_obeys_push_back() -> None:
    pacer = Pacer.per_minute(30)
    assert pacer.wait_needed(100.0) == 0.0
    pacer.sent(100.0)
    assert pacer.wait_needed(100.5) == pytest.approx(1.5)
    pacer.sent(102.0)
    pacer.push_back(200.0)
    assert pacer.wait_needed(150.0) == 50.0


def test_an_even_pacer_does_not_drift_when_requests_go_late() -> None:
    pacer = Pacer.per_second(10)
    pacer.sent(0.0)
    pacer.sent(0.13)  # 30 ms late: the next one is due 100 ms after it, not at 0.2
    assert pacer.wait_needed(0.2) == pytest.approx(0.03)


def test_a_burst_pacer_allows_its_limit_in_any_window_and_refuses_the_rest() -> None:
    pacer = Pacer.burst_per_minute(3)
    assert [pacer.take(t) for t in (0.0, 1.0, 2.0, 3.0)] == [True, True, True, False]
    assert pacer.wait_needed(3.0) == pytest.approx(57.0)  # the first one leaves the window
    assert pacer.take(60.0) is True
    assert pacer.take(60.5) is False
    assert pacer.take(61.0) is True


def test_a_zero_burst_refuses_everything_and_unpaced_never_waits() -> None:
    assert not Pacer.burst_per_minute(0).take(0.0)
    for unpaced in (Pacer.per_second(None), Pacer.per_minute(0)):
        for t in range(100):
            assert unpaced.take(t / 1000)


@pytest.mark.parametrize(
    ("status", "retry"),
    [(429, True), (500, True), (503, True), (599, True), (200, False), (304, False), (404, False)],
)
def test_429_and_every_5xx_are_worth_retrying(status: int, retry: bool) -> None:
    assert retryable_status(status) is retry
