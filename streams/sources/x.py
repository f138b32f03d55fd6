"""X (Twitter) API v2: the filtered stream, or recent search polled with ``since_id``.

Resumes from: the cursor ``{"since_id": <newest tweet id sent>}`` under
``x:<base url>:stream`` or ``x:<base url>:search:<query>``. Recent search asks
for ``since_id`` and pages with ``next_token``, sending oldest first. The
filtered stream has no cursor of its own: with ``backfill_query`` set (the
stream rules written as one search query) every (re)connect first runs recent
search from the cursor, so tweets missed while disconnected are fetched.

On a crash: tweets since the last checkpoint are sent again (duplicates; ids
are stable). Lost: in stream mode without ``backfill_query``, tweets posted
while disconnected; in both modes, anything older than recent search's
seven-day window.

Malformed input: a stream line above :data:`MAX_RECORD_BYTES` is read and
dropped (never held whole); a line or search page that is not JSON, not an
object or nested too deep is skipped too: counted and logged at the edge with
the reason, and the source goes on. Keep-alive blank lines are skipped; so
are messages carrying only ``errors`` (operational notices such as a forced
disconnect), counted and logged at the edge, since they are not posts.

Partition key: the tweet's ``conversation_id`` (its thread), else its id.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from processors.adapters.common import parse_json_object
from processors.adapters.errors import AdapterError
from streams.backoff import Backoff
from streams.settings import Settings
from streams.sources.base import (
    MAX_RECORD_BYTES,
    IngestError,
    Item,
    Outbox,
    RunLimits,
    RunReport,
    Send,
    Skip,
    Steps,
    Stopper,
)
from streams.sources.http import (
    MAX_PAGE_BYTES,
    FetchSkipped,
    Overlong,
    SinceIdSource,
    bounded_lines,
    refuse,
)

log = logging.getLogger("townsquare.ingest.x")

FORMAT = "x-v2"
STREAM_PATH = "/2/tweets/search/stream"
SEARCH_PATH = "/2/tweets/search/recent"
FIELDS = {
    "tweet.fields": "author_id,conversation_id,created_at,entities,in_reply_to_user_id,lang,"
    "public_metrics,referenced_tweets",
    "expansions": "author_id",
    "user.fields": "description,public_metrics,username,verified",
}


@dataclass(frozen=True)
class XOptions:
    token: str = field(repr=False)
    """Kept out of the repr: options get logged and shown in tracebacks."""
    base_url: str = "https://api.x.com"
    query: str | None = None
    """Recent-search mode; None means the filtered stream."""
    backfill_query: str | None = None
    interval: float = 30.0
    idle_timeout: float = 30.0
    """X sends a keep-alive every 20 s; nothing for this long is a stalled stream."""
    max_pages: int = 10
    retry_base: float = 1.0
    retry_cap: float = 320.0
    checkpoint_every: int = 100
    checkpoint_seconds: float = 5.0


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def partition_key(message: dict[str, Any]) -> str | None:
    data = message.get("data", message)
    if not isinstance(data, dict):
        return None
    for name in ("conversation_id", "id"):
        value = data.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and value:
            return str(value)
    return None


class XSource(SinceIdSource):
    """X API v2: a step is one recent-search poll, or one stream connection after a backfill."""

    def __init__(
        self, outbox: Outbox, options: XOptions, allow_hosts: str | Iterable[str] = ()
    ) -> None:
        self.opts = options
        self.base = options.base_url.rstrip("/")
        mode = f"search:{options.query}" if options.query else "stream"
        super().__init__(
            outbox,
            f"x:{self.base}:{mode}",
            Backoff(base=options.retry_base, cap=options.retry_cap),
            headers={"Authorization": f"Bearer {options.token}"},
            allow_hosts=allow_hosts,
        )

    def _message(self, message: dict[str, Any]) -> Iterator[Item]:
        data = message.get("data")
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            self.saw(data["id"])
        yield Send(FORMAT, message, partition_key(message))

    # --- recent search ------------------------------------------------------------------
    def search(self, query: str) -> Iterator[Item]:
        """Every tweet matching ``query`` after ``since_id`` (or the newest page), oldest first."""
        tweets: dict[str, dict[str, Any]] = {}
        users: dict[str, Any] = {}
        token: str | None = None
        for _ in range(self.opts.max_pages):
            params: dict[str, Any] = {"query": query, "max_results": 100, **FIELDS}
            if self.since_id:
                params["since_id"] = self.since_id
            if token:
                params["next_token"] = token
            try:
                response = self.http.get(self.base + SEARCH_PATH, params=params)
            except FetchSkipped as exc:
                # Nothing collected is sent, so the cursor stays before this search.
                yield Skip(
                    f"search page fetch skipped: {exc.reason}",
                    {"url": SEARCH_PATH, "detail": exc.detail},
                )
                return
            if response.status_code in (401, 403):
                raise refuse(response, "X", "check TOWNSQUARE_X_BEARER_TOKEN and the app's access")
            if response.status_code != 200:
                log.warning(
                    "recent search answered HTTP %s: %s", response.status_code, response.text[:200]
                )
                return
            try:
                page = parse_json_object(response.content, MAX_PAGE_BYTES, "search page")
            except AdapterError as exc:
                yield Skip(f"search page: {exc.reason}", {"detail": exc.detail[:300]})
                return
            for tweet in _list(page.get("data")):
                if isinstance(tweet, dict) and isinstance(tweet.get("id"), str):
                    tweets[tweet["id"]] = tweet
            for user in _list(_dict(page.get("includes")).get("users")):
                if isinstance(user, dict) and isinstance(user.get("id"), str):
                    users[user["id"]] = user
            next_token = _dict(page.get("meta")).get("next_token")
            token = next_token if isinstance(next_token, str) else None
            if not token or not self.since_id:
                break
        for tweet_id in sorted(tweets, key=lambda i: (len(i), i)):
            tweet = tweets[tweet_id]
            author = users.get(str(tweet.get("author_id")))
            yield from self._message(
                {"data": tweet, "includes": {"users": [author] if author else []}}
            )

    # --- filtered stream ----------------------------------------------------------------
    def _line(self, line: str) -> Iterator[Item]:
        if not line.strip():
            yield None  # keep-alive
            return
        try:
            message = parse_json_object(line, MAX_RECORD_BYTES, "stream line")
        except AdapterError as exc:
            yield Skip(f"stream line: {exc.reason}", {"detail": exc.detail[:300]})
            return
        if "errors" in message and "data" not in message:
            yield Skip("stream notice without data", {"detail": str(message["errors"])[:300]})
        else:
            yield from self._message(message)

    def stream(self) -> Generator[Item, None, float]:
        """Read the filtered stream until it drops; the wait before connecting again."""
        with self.http.stream(
            self.base + STREAM_PATH, idle_timeout=self.opts.idle_timeout, params=FIELDS
        ) as response:
            if response.status_code in (401, 403):
                response.read()
                raise refuse(
                    response, "X", "check TOWNSQUARE_X_BEARER_TOKEN and stream rules access"
                )
            if response.status_code != 200:
                return self.http.retry_delay(response)
            self.backoff.reset()
            for line in bounded_lines(response.iter_bytes(), MAX_RECORD_BYTES):
                if isinstance(line, Overlong):
                    yield Skip(f"stream line over {MAX_RECORD_BYTES} bytes", {"bytes": line.size})
                    if line.endless:
                        break  # no newline in sight: reconnect
                else:
                    yield from self._line(line)
        return self.backoff.jittered()

    def step(self) -> Steps:
        """Poll recent search; or backfill by search from the cursor, then read the stream."""
        if self.opts.query:
            yield from self.search(self.opts.query)
            return self.opts.interval
        if self.opts.backfill_query and self.since_id:
            yield from self.search(self.opts.backfill_query)
        return (yield from self.stream())


def run_x(
    settings: Settings, options: XOptions, limits: RunLimits, stopper: Stopper | None = None
) -> RunReport:
    """Follow the filtered stream or poll recent search onto the raw topic."""
    if not options.token:
        raise IngestError("set TOWNSQUARE_X_BEARER_TOKEN (or TOWNSQUARE_X_BEARER_TOKEN_FILE)")
    outbox = Outbox.open(settings, "x", limits, stopper, options)
    return XSource(outbox, options, settings.ingest_allow_hosts).run()
