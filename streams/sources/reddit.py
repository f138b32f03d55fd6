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
``before=`` with an empty listing; the source then restarts from the newest
page after ``empty_polls_before_reset`` empty polls, skipping what lies between.

Politeness: a descriptive User-Agent (``TOWNSQUARE_REDDIT_USER_AGENT``), at
most ``requests_per_minute`` requests, 429 ``Retry-After`` and
``x-ratelimit-remaining: 0`` / ``x-ratelimit-reset`` honoured.

Malformed input: a listing page that is not JSON (read through the shared
depth-limited parse), not an object, or above :data:`MAX_PAGE_BYTES` cannot be split into posts;
it is counted and skipped at the edge with a warning, and the cursor does not
move, so the next poll asks again. A child inside a good listing goes to the
raw topic as it came, so the normalize stage dead-letters it if it is bad.

Partition key: a comment's ``link_id`` (its submission), a submission's own
fullname: a thread stays on one partition.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from processors.adapters.common import parse_json_object
from processors.adapters.errors import AdapterError
from streams.backoff import Backoff, Pacer
from streams.settings import Settings
from streams.sources.base import (
    Cursors,
    Item,
    Outbox,
    RunLimits,
    RunReport,
    Send,
    Skip,
    Steps,
    Stopper,
)
from streams.sources.http import MAX_PAGE_BYTES, FetchSkipped, HttpSource, refuse

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


class RedditSource(HttpSource):
    """Subreddit listings: a step is one round of polls, every listing of every subreddit."""

    def __init__(
        self, outbox: Outbox, options: RedditOptions, allow_hosts: str | Iterable[str] = ()
    ) -> None:
        self.opts = options
        self.base = options.base_url.rstrip("/")
        super().__init__(
            outbox,
            f"reddit:{self.base}",
            Backoff(base=options.retry_base, cap=options.retry_cap),
            headers={"User-Agent": options.user_agent},
            pacer=Pacer.per_minute(options.requests_per_minute),
            allow_hosts=allow_hosts,
        )
        self.newest: dict[str, Any] = {}
        """The newest fullname sent per listing (``<sub>/new``): the cursor."""
        self.empty_polls: dict[str, int] = {}

    def cursors(self) -> Cursors:
        return {self.key: dict(self.newest)} if self.newest else {}

    def resume(self, stored: Cursors) -> None:
        self.newest = dict(stored.get(self.key, {}))

    def page(self, path: str, before: str | None) -> Generator[Item, None, list[Any] | None]:
        """The children of one listing page; None if there are none (a Skip says why)."""
        params: dict[str, Any] = {"limit": self.opts.limit, "raw_json": 1}
        if before:
            params["before"] = before
        try:
            response = self.http.get(self.base + path, params=params)
        except FetchSkipped as exc:
            yield Skip(f"listing fetch skipped: {exc.reason}", {"url": path, "detail": exc.detail})
            return None
        if response.status_code in (403, 404):
            raise refuse(response, "Reddit", "is the subreddit name right and is it public?")
        if response.status_code != 200:
            log.warning("listing answered HTTP %s; next poll retries", response.status_code)
            return None
        try:
            page = parse_json_object(response.content, MAX_PAGE_BYTES, "listing page")
        except AdapterError as exc:
            yield Skip(f"listing page: {exc.reason}", {"url": path, "detail": exc.detail[:300]})
            return None
        data = page.get("data")
        children = data.get("children") if isinstance(data, dict) else None
        if children is None:
            yield Skip("listing page is not a JSON listing", {"url": path})
            return None
        if not isinstance(children, list):
            yield Skip("listing children are not a list", {"url": path})
            return None
        return children

    def poll(self, subreddit: str, listing: str) -> Iterator[Item]:
        """Send every item newer than the cursor of one listing, oldest first."""
        name = f"{subreddit}/{listing}"
        path = f"/r/{subreddit}/{listing}.json"
        before = self.newest.get(name)
        pages: list[list[Any]] = []
        for _ in range(self.opts.max_pages):
            children = yield from self.page(path, before)
            if children is None:
                return
            pages.append(children)
            newest = next((n for n in map(_fullname, children) if n), None)
            if not self.newest.get(name) or len(children) < self.opts.limit or newest is None:
                break
            before = newest
        if self.newest.get(name) and not any(pages):
            self.empty_polls[name] = self.empty_polls.get(name, 0) + 1
            if self.empty_polls[name] >= self.opts.empty_polls_before_reset:
                log.warning("%s: cursor item gone? restarting from the newest page", name)
                self.newest.pop(name, None)
                self.empty_polls[name] = 0
            return
        self.empty_polls[name] = 0
        seen: set[str] = set()
        for page in pages:
            for child in reversed(page):
                fullname = _fullname(child)
                if fullname is not None and fullname in seen:
                    continue
                if fullname is not None:
                    seen.add(fullname)
                    self.newest[name] = fullname
                yield Send(FORMAT, child, partition_key(child), {"listing": name})

    def step(self) -> Steps:
        for subreddit in self.opts.subreddits:
            for listing in LISTINGS:
                yield from self.poll(subreddit, listing)
        return self.opts.interval


def run_reddit(
    settings: Settings, options: RedditOptions, limits: RunLimits, stopper: Stopper | None = None
) -> RunReport:
    """Poll subreddit listings onto the raw topic until a limit or a stop."""
    outbox = Outbox.open(settings, "reddit", limits, stopper)
    return RedditSource(outbox, options, settings.ingest_allow_hosts).run()
