"""RSS and Atom: polls feeds with conditional GET and sends entries it has not sent before.

Resumes from: one cursor per feed, ``rss:<feed url>`` = ``{"etag", "modified",
"seen": [entry ids, newest last, bounded]}``. Polls send ``If-None-Match`` and
``If-Modified-Since``; 304 means nothing new and costs the blog almost nothing.
Entries are sent oldest first, skipping ids in ``seen``. The ETag and
Last-Modified of a fetch are stored only once every entry of that fetch was
sent: a run stopped halfway keeps the old validators, so the next run gets a
full 200 instead of a 304 that would hide the unsent entries.

On a crash: entries since the last checkpoint (one per poll of a feed) are
sent again (duplicates; entry ids are stable). Lost: entries that drop out
of a feed between two polls (feeds show only their latest N), and entries
pushed out of ``seen`` that reappear (re-sent, not lost).

Comment feeds (WordPress ``wfw:commentRss``) are configured as
``--comments-for POST_ID=FEED_URL``: their entries reach the adapter with
``comments_for`` so they thread under that post.

Bounded fetches: a feed body above ``max_bytes`` (:data:`MAX_FEED_BYTES`), a
fetch past ``fetch_deadline``, and a feed or redirect whose host is not a
public address (unless in ``TOWNSQUARE_INGEST_ALLOW_HOSTS``) are skipped like
an unreadable feed: counted, logged, validators kept, the next feed polled.
Entries carry the URL that actually served them as ``feed_url``.

Malformed input: a body feedparser cannot read at all (no entries, parse
error) is counted and skipped at the edge with a warning: there is no entry
to dead-letter, and the validators are not stored, so it is fetched again.
An entry that parses but lacks what the adapter needs goes to the raw topic
as it is, so the normalize stage dead-letters it with the reason.

Partition key: the post commented on (comment feeds), the Atom
``thr:in-reply-to`` reference, else the entry's own id or link.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import feedparser

from streams.backoff import Backoff
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
from streams.sources.http import DEFAULT_DEADLINE, FetchSkipped, HttpSource

log = logging.getLogger("townsquare.ingest.rss")

FORMAT = "rss"
MAX_FEED_BYTES = 16 * 1024 * 1024
"""Largest feed body read; a larger one is abandoned at the cap (blogs serve well under 1 MiB)."""


@dataclass(frozen=True)
class Feed:
    url: str
    comments_for: str | None = None


@dataclass(frozen=True)
class RssOptions:
    feeds: tuple[Feed, ...]
    interval: float = 300.0
    max_seen: int = 500
    retry_base: float = 2.0
    retry_cap: float = 300.0
    max_bytes: int = MAX_FEED_BYTES
    """A feed body above this is abandoned unread past the cap and the fetch skipped."""
    fetch_deadline: float = DEFAULT_DEADLINE
    """Seconds one feed's fetch may take in all (redirects and a trickling body included)."""


def parse_comments_for(value: str) -> Feed:
    """``POST_ID=FEED_URL`` (split at the last ``=`` followed by a URL scheme)."""
    for scheme in ("=https://", "=http://"):
        post, sep, rest = value.rpartition(scheme)
        if sep and post:
            return Feed(url=sep[1:] + rest, comments_for=post)
    raise ValueError(f"--comments-for {value!r}: expected POST_ID=FEED_URL (an http(s) URL)")


def plain(value: Any) -> Any:
    """A feedparser value as plain JSON data (``struct_time`` becomes its 9-item list)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def entry_id(entry: dict[str, Any]) -> str:
    """The entry's id or link; a content hash when it has neither (so it is sent once)."""
    for name in ("id", "link"):
        value = entry.get(name)
        if isinstance(value, str) and value:
            return value
    digest = hashlib.sha256(json.dumps(entry, sort_keys=True, default=str).encode()).hexdigest()
    return f"sha256:{digest[:32]}"


def partition_key(entry: dict[str, Any], feed: Feed) -> str:
    if feed.comments_for:
        return feed.comments_for
    thread = entry.get("thr_in-reply-to")
    if isinstance(thread, dict):
        ref = thread.get("ref") or thread.get("href")
        if isinstance(ref, str) and ref:
            return ref
    return entry_id(entry)


class RssSource(HttpSource):
    """Feeds: a step is one round of conditional GETs, one per feed; each feed has its cursor."""

    def __init__(
        self, outbox: Outbox, options: RssOptions, allow_hosts: str | Iterable[str] = ()
    ) -> None:
        self.opts = options
        super().__init__(
            outbox,
            "rss",
            Backoff(base=options.retry_base, cap=options.retry_cap),
            headers={"Accept": "application/rss+xml, application/atom+xml, */*"},
            allow_hosts=allow_hosts,
            deadline=options.fetch_deadline,
            max_bytes=options.max_bytes,
        )
        self.state: dict[str, dict[str, Any]] = {}
        """Per feed URL: ``etag``, ``modified`` and ``seen`` (entry ids sent, newest last)."""

    @staticmethod
    def feed_key(feed: Feed) -> str:
        return f"rss:{feed.url}"

    def cursors(self) -> Cursors:
        """One cursor per feed, so adding or dropping a feed leaves the others' cursors alone."""
        return {self.feed_key(f): self.state[f.url] for f in self.opts.feeds if f.url in self.state}

    def resume(self, stored: Cursors) -> None:
        for feed in self.opts.feeds:
            value = stored.get(self.feed_key(feed))
            if value:
                self.state[feed.url] = json.loads(json.dumps(value))

    def report_cursor(self) -> dict[str, Any] | None:
        """The validators per feed (the ``seen`` lists are too long for a report line)."""
        return {url: {k: v for k, v in s.items() if k != "seen"} for url, s in self.state.items()}

    def poll(self, feed: Feed) -> Iterator[Item]:
        state = self.state.setdefault(feed.url, {"etag": None, "modified": None, "seen": []})
        headers: dict[str, str] = {}
        if state.get("etag"):
            headers["If-None-Match"] = state["etag"]
        if state.get("modified"):
            headers["If-Modified-Since"] = state["modified"]
        try:
            response = self.http.get(feed.url, headers=headers)
        except FetchSkipped as exc:
            # Nothing of it is sent and the validators stay: the next poll fetches it afresh.
            yield Skip(
                f"feed fetch skipped: {exc.reason}",
                {"feed": feed.url, "url": exc.url, "detail": exc.detail},
            )
            return
        if response.status_code == 304:
            return
        if response.status_code != 200:
            log.warning("feed answered HTTP %s", response.status_code, extra={"feed": feed.url})
            return
        parsed = feedparser.parse(
            response.content,
            response_headers={
                "content-location": str(response.url),
                "content-type": response.headers.get("content-type", "application/xml"),
            },
        )
        if not parsed.entries:
            if parsed.bozo:
                reason = f"feed could not be parsed ({type(parsed.bozo_exception).__name__})"
                yield Skip(reason, {"feed": feed.url})
            return
        title = parsed.feed.get("title")
        # Updated in place, entry by entry: a run stopped mid-feed keeps what it sent.
        seen: list[str] = state.setdefault("seen", [])
        known = set(seen)
        # The URL that served the entries (after redirects), which may not be the configured one.
        context: dict[str, Any] = {"feed_url": str(response.url), "feed_title": title}
        if feed.comments_for:
            context["comments_for"] = feed.comments_for
        for entry in reversed(parsed.entries):
            payload = plain(entry)
            native = entry_id(payload)
            if native in known:
                continue
            seen.append(native)
            known.add(native)
            yield Send(FORMAT, payload, partition_key(payload, feed), context)
        # Reached only when every entry was sent: only then may a 304 stand for this fetch.
        del seen[: -max(self.opts.max_seen, 2 * len(parsed.entries))]
        state["etag"] = response.headers.get("etag")
        state["modified"] = response.headers.get("last-modified")

    def step(self) -> Steps:
        for feed in self.opts.feeds:
            yield from self.poll(feed)
        return self.opts.interval


def run_rss(
    settings: Settings, options: RssOptions, limits: RunLimits, stopper: Stopper | None = None
) -> RunReport:
    """Poll feeds onto the raw topic until a limit or a stop."""
    outbox = Outbox.open(settings, "rss", limits, stopper)
    return RssSource(outbox, options, settings.ingest_allow_hosts).run()
