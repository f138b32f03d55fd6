"""Reddit: polls subreddit listings (``/r/<sub>/new.json``, ``/r/<sub>/comments.json``) politely.

Resumes from: the cursor ``{"<sub>/new": <fullname>, "<sub>/comments": <fullname>}``
under ``reddit:<base url>`` — the newest item sent per listing. Each poll asks
for ``before=<that fullname>`` (items newer than it) and pages towards the
present, sending oldest first, so a stop after any post leaves a cursor that
covers exactly what was sent. The first run without a cursor starts at the
newest page (no history walk).

On a crash: items since the last checkpoint are sent again (duplicates;
fullnames are stable ids). Lost: anything past ``max_pages * limit`` new items
between two polls, and, if the cursor item itself is deleted, Reddit answers
``before=`` with an empty listing; the agent then restarts from the newest
page after ``empty_polls_before_reset`` empty polls, skipping what lies between.

Politeness: a descriptive User-Agent (``TOWNSQUARE_REDDIT_USER_AGENT``), at
most ``requests_per_minute`` requests, 429 ``Retry-After`` and
``x-ratelimit-remaining: 0`` / ``x-ratelimit-reset`` honoured.

Malformed input: a listing page that is not JSON cannot be split into posts;
it is counted and skipped at the edge with a warning, and the cursor does not
move, so the next poll asks again. A child inside a good listing goes to the
raw topic as it came, so the normalize stage dead-letters it if it is bad.

Partition key: a comment's ``link_id`` (its submission), a submission's own
fullname: a thread stays on one partition.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from streams.backoff import Backoff, RequestPacer, server_wait
from streams.settings import Settings
from streams.sources.base import (
    RawSink,
    RunLimits,
    RunReport,
    Stopped,
    Stopper,
    fetch,
    http_client,
    refuse,
)

log = logging.getLogger("townsquare.ingest.reddit")

FORMAT = "reddit"
LISTINGS = ("new", "comments")


@dataclass(frozen=True)
class RedditOptions:
    subreddits: tuple[str, ...]
    user_agent: str
    base_url: str = "https://www.reddit.com"
    interval: float = 60.0
    requests_per_minute: float = 10.0
    limit: int = 100
    max_pages: int = 10
    empty_polls_before_reset: int = 30
    retry_base: float = 2.0
    retry_cap: float = 300.0


def partition_key(child: Any) -> str | None:
    data = child.get("data") if isinstance(child, dict) else None
    if not isinstance(data, dict):
        return None
    link = data.get("link_id")
    name = data.get("name")
    if child.get("kind") == "t1" and isinstance(link, str):
        return link
    return name if isinstance(name, str) else None


def _fullname(child: Any) -> str | None:
    data = child.get("data") if isinstance(child, dict) else None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


class RedditAgent:
    def __init__(
        self, settings: Settings, options: RedditOptions, limits: RunLimits, stopper: Stopper
    ) -> None:
        self.opts = options
        self.stopper = stopper
        self.base = options.base_url.rstrip("/")
        self.sink = RawSink(settings, "reddit", f"reddit:{self.base}", limits, stopper)
        self.client = http_client({"User-Agent": options.user_agent})
        self.backoff = Backoff(base=options.retry_base, cap=options.retry_cap)
        self.pacer = RequestPacer(options.requests_per_minute)
        self.cursor: dict[str, Any] = {}
        self.empty_polls: dict[str, int] = {}

    def _page(self, path: str, before: str | None) -> list[Any] | None:
        params: dict[str, Any] = {"limit": self.opts.limit, "raw_json": 1}
        if before:
            params["before"] = before
        response = fetch(
            self.client,
            self.base + path,
            params=params,
            stopper=self.stopper,
            backoff=self.backoff,
            source="reddit",
            pacer=self.pacer,
        )
        quota_wait = server_wait(response.headers, 200, time.time())
        if quota_wait:
            self.pacer.push_back(time.monotonic() + quota_wait)
        if response.status_code in (403, 404):
            raise refuse(response, "Reddit", "is the subreddit name right and is it public?")
        if response.status_code != 200:
            log.warning("listing answered HTTP %s; next poll retries", response.status_code)
            return None
        try:
            listing = response.json()
            children = listing["data"]["children"]
        except (ValueError, KeyError, TypeError):
            self.sink.skip("listing page is not a JSON listing", url=path)
            return None
        if not isinstance(children, list):
            self.sink.skip("listing children are not a list", url=path)
            return None
        return children

    def poll(self, subreddit: str, listing: str) -> None:
        """Send every item newer than the cursor of one listing, oldest first."""
        name = f"{subreddit}/{listing}"
        path = f"/r/{subreddit}/{listing}.json"
        before = self.cursor.get(name)
        pages: list[list[Any]] = []
        for _ in range(self.opts.max_pages):
            children = self._page(path, before)
            if children is None:
                return
            pages.append(children)
            newest = next((n for n in map(_fullname, children) if n), None)
            if not self.cursor.get(name) or len(children) < self.opts.limit or newest is None:
                break
            before = newest
        if self.cursor.get(name) and not any(pages):
            self.empty_polls[name] = self.empty_polls.get(name, 0) + 1
            if self.empty_polls[name] >= self.opts.empty_polls_before_reset:
                log.warning("%s: cursor item gone? restarting from the newest page", name)
                self.cursor.pop(name, None)
                self.empty_polls[name] = 0
            return
        self.empty_polls[name] = 0
        seen: set[str] = set()
        for page in pages:
            for child in reversed(page):
                fullname = _fullname(child)
                if fullname is not None and fullname in seen:
                    continue
                if not self.sink.emit(FORMAT, child, partition_key(child), {"listing": name}):
                    return
                if fullname is not None:
                    seen.add(fullname)
                    self.cursor[name] = fullname

    def run(self) -> RunReport:
        started = time.monotonic()
        self.cursor = dict(self.sink.load_cursor() or {})
        try:
            while not self.stopper.stopped():
                for subreddit in self.opts.subreddits:
                    for listing in LISTINGS:
                        if self.stopper.stopped():
                            break
                        self.poll(subreddit, listing)
                        self.sink.checkpoint(self.cursor or None)
                self.stopper.sleep(self.opts.interval)
        except Stopped:
            pass
        finally:
            self.client.close()
            report = self.sink.finish(self.cursor or None, started)
        return report


def run_reddit(
    settings: Settings, options: RedditOptions, limits: RunLimits, stopper: Stopper | None = None
) -> RunReport:
    """Poll subreddit listings onto the raw topic until a limit or a stop."""
    stopper = stopper or Stopper(limits.max_runtime)
    return RedditAgent(settings, options, limits, stopper).run()
