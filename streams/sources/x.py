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

Malformed input: a stream line that is not JSON goes to the raw topic as the
string it was, so the normalize stage dead-letters it with the reason.
Keep-alive blank lines are skipped; so are messages carrying only
``errors`` (operational notices such as a forced disconnect), counted and
logged at the edge, since they are not posts.

Partition key: the tweet's ``conversation_id`` (its thread), else its id.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from streams.backoff import Backoff
from streams.settings import Settings
from streams.sources.base import (
    IngestError,
    RawSink,
    RunLimits,
    RunReport,
    Stopped,
    Stopper,
    fetch,
    http_client,
    newest_id,
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
    token: str
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


def partition_key(message: dict[str, Any]) -> str | None:
    data = message.get("data", message)
    if not isinstance(data, dict):
        return None
    for name in ("conversation_id", "id"):
        value = data.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and value:
            return str(value)
    return None


class XAgent:
    def __init__(
        self, settings: Settings, options: XOptions, limits: RunLimits, stopper: Stopper
    ) -> None:
        self.opts = options
        self.stopper = stopper
        self.base = options.base_url.rstrip("/")
        mode = f"search:{options.query}" if options.query else "stream"
        self.sink = RawSink(
            settings,
            "x",
            f"x:{self.base}:{mode}",
            limits,
            stopper,
            checkpoint_every=options.checkpoint_every,
            checkpoint_seconds=options.checkpoint_seconds,
        )
        self.client = http_client({"Authorization": f"Bearer {options.token}"})
        self.backoff = Backoff(base=options.retry_base, cap=options.retry_cap)
        self.since_id: str | None = None

    def _cursor(self) -> dict[str, Any] | None:
        return {"since_id": self.since_id} if self.since_id else None

    def _send(self, message: dict[str, Any]) -> None:
        if self.sink.emit(FORMAT, message, partition_key(message)):
            data = message.get("data")
            if isinstance(data, dict) and isinstance(data.get("id"), str):
                self.since_id = newest_id(self.since_id, data["id"])

    # --- recent search ------------------------------------------------------------------
    def search(self, query: str) -> None:
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
            response = fetch(
                self.client,
                self.base + SEARCH_PATH,
                params=params,
                stopper=self.stopper,
                backoff=self.backoff,
                source="x",
            )
            if response.status_code in (401, 403):
                raise refuse(response, "X", "check TOWNSQUARE_X_BEARER_TOKEN and the app's access")
            if response.status_code != 200:
                log.warning(
                    "recent search answered HTTP %s: %s", response.status_code, response.text[:200]
                )
                return
            try:
                page = response.json()
            except ValueError:
                self.sink.skip("search page is not JSON")
                return
            for tweet in page.get("data") or []:
                if isinstance(tweet, dict) and isinstance(tweet.get("id"), str):
                    tweets[tweet["id"]] = tweet
            for user in (page.get("includes") or {}).get("users") or []:
                if isinstance(user, dict) and isinstance(user.get("id"), str):
                    users[user["id"]] = user
            token = (page.get("meta") or {}).get("next_token")
            if not token or not self.since_id:
                break
        for tweet_id in sorted(tweets, key=lambda i: (len(i), i)):
            if self.stopper.stopped():
                break
            tweet = tweets[tweet_id]
            author = users.get(str(tweet.get("author_id")))
            self._send({"data": tweet, "includes": {"users": [author] if author else []}})
        self.sink.checkpoint(self._cursor())

    # --- filtered stream ----------------------------------------------------------------
    def _line(self, line: str) -> None:
        if not line.strip():
            return  # keep-alive
        try:
            message = json.loads(line)
        except ValueError:
            self.sink.emit(FORMAT, line, None)
            return
        if isinstance(message, dict) and "errors" in message and "data" not in message:
            self.sink.skip("stream notice without data", detail=str(message["errors"])[:300])
            return
        if not isinstance(message, dict):
            self.sink.emit(FORMAT, message, None)
            return
        self._send(message)

    def stream(self) -> bool:
        timeout = httpx.Timeout(10.0, read=self.stopper.bounded(self.opts.idle_timeout))
        with self.client.stream(
            "GET", self.base + STREAM_PATH, params=FIELDS, timeout=timeout
        ) as response:
            if response.status_code in (401, 403):
                response.read()
                raise refuse(
                    response, "X", "check TOWNSQUARE_X_BEARER_TOKEN and stream rules access"
                )
            if response.status_code != 200:
                delay = self.backoff.delay(response.headers, response.status_code, time.time())
                log.warning("stream answered HTTP %s; waiting %.1fs", response.status_code, delay)
                self.stopper.sleep(delay)
                return False
            self.backoff.reset()
            for line in response.iter_lines():
                self._line(line)
                if self.stopper.stopped():
                    break
                self.sink.maybe_checkpoint(self._cursor())
        return True

    def run(self) -> RunReport:
        started = time.monotonic()
        cursor = self.sink.load_cursor()
        self.since_id = str(cursor["since_id"]) if cursor and cursor.get("since_id") else None
        try:
            while not self.stopper.stopped():
                if self.opts.query:
                    self.search(self.opts.query)
                    self.stopper.sleep(self.opts.interval)
                    continue
                if self.opts.backfill_query and self.since_id:
                    self.search(self.opts.backfill_query)
                try:
                    opened = self.stream()
                except (httpx.TransportError, httpx.StreamError) as exc:
                    opened = True
                    log.warning("stream dropped: %s", type(exc).__name__)
                self.sink.checkpoint(self._cursor())
                if opened and not self.stopper.stopped():
                    self.stopper.sleep(self.backoff.jittered())
        except Stopped:
            pass
        finally:
            self.client.close()
            report = self.sink.finish(self._cursor(), started)
        return report


def run_x(
    settings: Settings, options: XOptions, limits: RunLimits, stopper: Stopper | None = None
) -> RunReport:
    """Follow the filtered stream or poll recent search onto the raw topic."""
    if not options.token:
        raise IngestError("set TOWNSQUARE_X_BEARER_TOKEN (or TOWNSQUARE_X_BEARER_TOKEN_FILE)")
    stopper = stopper or Stopper(limits.max_runtime)
    return XAgent(settings, options, limits, stopper).run()
