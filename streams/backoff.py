"""Retry delays and request pacing for the live ingest agents (pure: no I/O, no sleeping).

Platforms push back in two ways: ``Retry-After`` (seconds or an HTTP date, RFC
9110) and ``X-RateLimit-Reset``-style headers, which differ by platform: X
sends epoch seconds (``x-rate-limit-reset``), Reddit seconds until the reset
(``x-ratelimit-reset``), Mastodon an ISO 8601 time. When the server names a
wait we wait at least that long (capped, so a bogus header cannot park an
agent for a day); otherwise full jitter (a uniform draw in ``[0, min(cap,
base * 2**attempt)]``) spreads reconnecting agents apart instead of having
them stampede a recovering API together.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_RESET_HEADERS = ("x-rate-limit-reset", "x-ratelimit-reset", "ratelimit-reset")
_REMAINING_HEADERS = ("x-rate-limit-remaining", "x-ratelimit-remaining", "ratelimit-remaining")
# Values above this are epoch seconds; below, a delay in seconds (no reset is 30 years away).
_EPOCH_THRESHOLD = 10**9


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value.strip()
    return None


def _seconds_until(moment: datetime, now: float) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() - now


def parse_retry_after(value: str, now: float) -> float | None:
    """Seconds to wait from ``Retry-After`` (delta seconds or an HTTP date); None if unreadable."""
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, _seconds_until(parsedate_to_datetime(value), now))
    except (TypeError, ValueError, IndexError):
        return None


def parse_reset(value: str, now: float) -> float | None:
    """Seconds to wait from a rate-limit reset value: epoch seconds, delta seconds or ISO 8601."""
    try:
        number = float(value)
    except ValueError:
        try:
            return max(
                0.0, _seconds_until(datetime.fromisoformat(value.replace("Z", "+00:00")), now)
            )
        except ValueError:
            return None
    if number >= _EPOCH_THRESHOLD:
        return max(0.0, number - now)
    return max(0.0, number)


def server_wait(headers: Mapping[str, str], status: int, now: float) -> float | None:
    """The wait the server asked for, if any.

    ``Retry-After`` counts on any status. A reset header counts on 429 or when
    the remaining quota is 0: on a normal 200 it only says when the window
    rolls over, which is no reason to stop.
    """
    retry_after = _header(headers, "retry-after")
    if retry_after is not None:
        parsed = parse_retry_after(retry_after, now)
        if parsed is not None:
            return parsed
    exhausted = status == 429 or any(
        (_header(headers, name) or "").split(".")[0] == "0" for name in _REMAINING_HEADERS
    )
    if not exhausted:
        return None
    for name in _RESET_HEADERS:
        value = _header(headers, name)
        if value is not None:
            parsed = parse_reset(value, now)
            if parsed is not None:
                return parsed
    return None


@dataclass
class Backoff:
    """Capped exponential backoff with full jitter; ``reset()`` after a success."""

    base: float = 1.0
    cap: float = 60.0
    max_server_wait: float = 900.0
    rng: Callable[[float, float], float] = field(default=random.uniform, repr=False)
    attempt: int = 0

    def jittered(self) -> float:
        """The next jittered delay, and count the attempt."""
        ceiling = min(self.cap, self.base * (2 ** min(self.attempt, 32)))
        self.attempt += 1
        return self.rng(0.0, ceiling)

    def delay(
        self, headers: Mapping[str, str] | None = None, status: int = 0, now: float = 0.0
    ) -> float:
        """Seconds to wait before the next try: the server's wait if it named one, else jitter.

        A server wait is honoured in full (up to ``max_server_wait``) plus a
        small jitter, so agents sharing a quota do not return in lockstep.
        """
        asked = server_wait(headers or {}, status, now) if headers is not None else None
        if asked is None:
            return self.jittered()
        self.attempt += 1
        return min(asked, self.max_server_wait) + self.rng(0.0, min(1.0, self.base))

    def reset(self) -> None:
        self.attempt = 0


@dataclass
class RequestPacer:
    """At most ``per_minute`` requests per minute, evenly spaced (politeness towards an API)."""

    per_minute: float
    next_at: float = 0.0

    def wait_needed(self, now: float) -> float:
        """Seconds to wait before the next request may go out (0 if it may go now)."""
        return max(0.0, self.next_at - now)

    def sent(self, now: float) -> None:
        """Record a request sent at ``now``."""
        interval = 60.0 / self.per_minute if self.per_minute > 0 else 0.0
        self.next_at = max(self.next_at, now) + interval

    def push_back(self, until: float) -> None:
        """Hold every request until ``until`` (the server said so)."""
        self.next_at = max(self.next_at, until)
