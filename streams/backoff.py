"""Retry delays and request pacing, shared by the ingest sources and the Elasticsearch bulk retry.

Pure: no I/O and no sleeping (the caller sleeps, so a stop flag can cut a
wait short and tests can check delays without waiting them out).

Platforms push back in two ways: ``Retry-After`` (seconds or an HTTP date, RFC
9110) and ``X-RateLimit-Reset``-style headers, which differ by platform: X
sends epoch seconds (``x-rate-limit-reset``), Reddit seconds until the reset
(``x-ratelimit-reset``), Mastodon an ISO 8601 time. When the server names a
wait we wait at least that long (capped, so a bogus header cannot park a
source for a day); otherwise full jitter (a uniform draw in ``[0, min(cap,
base * 2**attempt)]``) spreads reconnecting clients apart instead of having
them stampede a recovering server together.

What is worth retrying is decided once, by :func:`retryable_status`: 429 (the
server asks us to slow down) and every 5xx (the server, not the request, is at
fault). Anything else is the request's fault and retrying cannot fix it.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_RESET_HEADERS = ("x-rate-limit-reset", "x-ratelimit-reset", "ratelimit-reset")
_REMAINING_HEADERS = ("x-rate-limit-remaining", "x-ratelimit-remaining", "ratelimit-remaining")
# Values above this are epoch seconds; below, a delay in seconds (no reset is 30 years away).
_EPOCH_THRESHOLD = 10**9

RETRY_STATUSES: tuple[int, ...] = (429, *range(500, 600))
"""HTTP statuses worth another try (for clients that want a list, like the bulk helper)."""


def retryable_status(status: int | None) -> bool:
    """True for 429 and 5xx: the server is busy or failing, so the same request may work later."""
    return status in RETRY_STATUSES


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
        small jitter, so clients sharing a quota do not return in lockstep.
        """
        asked = server_wait(headers or {}, status, now) if headers is not None else None
        if asked is None:
            return self.jittered()
        self.attempt += 1
        return min(asked, self.max_server_wait) + self.rng(0.0, min(1.0, self.base))

    def reset(self) -> None:
        self.attempt = 0


@dataclass
class Pacer:
    """At most ``limit`` requests in any ``window`` seconds: one limiter for every rate we keep.

    ``limit=1`` spaces requests evenly (``window`` apart: a polite poller, a
    replay at N records a second); a larger ``limit`` allows bursts within
    the window (thread-root lookups that must not stall a stream). A caller
    that can wait asks :meth:`wait_needed` and sleeps; one that must not wait
    asks :meth:`take` and skips the request when refused. ``push_back`` holds
    every request until a time the server named.
    """

    limit: int = 1
    window: float = 0.0
    held_until: float = 0.0
    _sent: deque[float] = field(default_factory=deque, repr=False)

    @classmethod
    def per_minute(cls, requests: float) -> Pacer:
        """Evenly spaced, ``requests`` a minute; 0 or less means unpaced."""
        return cls(1, 60.0 / requests if requests > 0 else 0.0)

    @classmethod
    def per_second(cls, rate: float | None) -> Pacer:
        """Evenly spaced, ``rate`` a second; None or 0 means unpaced."""
        return cls(1, 1.0 / rate if rate else 0.0)

    @classmethod
    def burst_per_minute(cls, requests: int) -> Pacer:
        """Up to ``requests`` in any 60 seconds, in bursts if need be; 0 refuses every request."""
        return cls(requests, 60.0)

    def wait_needed(self, now: float) -> float:
        """Seconds to wait before the next request may go out (0 if it may go now)."""
        if self.limit <= 0:
            return float("inf")
        while self._sent and now - self._sent[0] >= self.window:
            self._sent.popleft()
        wait = self.held_until - now
        if len(self._sent) >= self.limit:
            wait = max(wait, self._sent[-self.limit] + self.window - now)
        return max(0.0, wait)

    def sent(self, now: float) -> None:
        """Record a request sent at ``now``."""
        if self.window > 0:
            self._sent.append(now)
            while len(self._sent) > max(self.limit, 1):
                self._sent.popleft()

    def take(self, now: float) -> bool:
        """Record a request at ``now`` if one may go now; False (nothing recorded) if not."""
        if self.wait_needed(now) > 0:
            return False
        self.sent(now)
        return True

    def push_back(self, until: float) -> None:
        """Hold every request until ``until`` (the server said so)."""
        self.held_until = max(self.held_until, until)
