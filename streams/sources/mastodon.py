"""Mastodon: the streaming API (server-sent events), backfilled and, if need be, replaced by REST.

Resumes from: the cursor ``{"since_id": <newest status id sent>}`` under
``mastodon:<base url>:<timeline>``. On every (re)connect with a cursor the
source first pages ``/api/v1/timelines/...?since_id=`` (REST) up to the
present, then opens the stream, so statuses posted while it was away or
disconnected are not lost. When streaming keeps failing (the instance
disabled it, a proxy strips SSE) it polls the same REST timeline instead and
tries the stream again now and then.

On a crash: statuses sent since the last checkpoint (at most
``checkpoint_every`` posts or ``checkpoint_seconds``) are sent again by the next
run: duplicates, harmless because post ids are stable. Edits and deletes of
*old* statuses that happened while the source was down are lost: REST
timelines list statuses by id, not their later edits or deletions.

Malformed input: a stream line or event above :data:`MAX_RECORD_BYTES` is
read and dropped (never held whole), and a status event that is not JSON,
not an object or nested too deep is skipped too: counted and logged at the
edge with the reason, and the stream goes on. A status object that lacks an
id still goes to the raw topic as it came, so the normalize stage
dead-letters it with the reason. Stream events that are not about
statuses (``notification``, ``filters_changed``, ...) are not posts and are
dropped at the edge with a debug line.

Partition key and conversation: statuses carry only ``in_reply_to_id``, so
the source remembers the thread roots of recent statuses (bounded) and passes
the root as ``conversation_root`` in the context; the adapter files the post
under it. When a reply's parent is not remembered (a restart, or a reply to
a post from before the stream started) the source asks the instance once:
``/api/v1/statuses/<parent>/context``, whose first ancestor is the root (the
parent itself when it has none), and remembers the answer for the parent and
its ancestors, so the rest of the thread needs no request. Those lookups are
capped per minute (``context_lookups_per_minute``), may wait out 429/5xx only
briefly (``context_lookup_wait``: the stream is not read meanwhile) and a
failed one is not repeated for a while. If there is no answer (404, network
error, malformed JSON, the cap reached) the key is the parent and no
``conversation_root`` is passed: the adapter's own best guess. A root status
keys to its own id. Ingest never waits on, or stops for, a lookup.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from processors.adapters.common import parse_json_object, parse_untrusted_json
from processors.adapters.errors import AdapterError
from streams.backoff import Backoff, Pacer, retryable_status
from streams.settings import Settings
from streams.sources.base import (
    MAX_RECORD_BYTES,
    Item,
    Outbox,
    RunLimits,
    RunReport,
    Send,
    Skip,
    Steps,
    Stopper,
    is_newer,
)
from streams.sources.http import (
    MAX_PAGE_BYTES,
    FetchSkipped,
    Overlong,
    SinceIdSource,
    bounded_lines,
    refuse,
)

log = logging.getLogger("townsquare.ingest.mastodon")

FORMAT = "mastodon"
DEFAULT_BASE_URL = "https://mastodon.social"
STATUS_EVENTS = frozenset({"update", "status.update"})
PAGE_LIMIT = 40
CONTEXT_ATTEMPTS = 3
"""Requests one thread-root lookup may make (the first try and its retries)."""
CONTEXT_TIMEOUT = 10.0
"""Seconds one context request may take: the stream is not read while it runs."""
FAILED_LOOKUP_TTL = 600.0
"""Seconds a failed lookup is not repeated, so the replies to a gone post cost one request."""


@dataclass(frozen=True)
class Timeline:
    """One of the timelines the source follows: a hashtag, the public timeline or a list."""

    kind: str  # "hashtag" | "public" | "list"
    value: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in {"hashtag", "public", "list"}:
            raise ValueError(f"unknown timeline {self.kind!r}: use hashtag, public or list")
        if self.kind != "public" and not self.value:
            raise ValueError(f"the {self.kind} timeline needs a value")

    @property
    def name(self) -> str:
        return self.kind if self.kind == "public" else f"{self.kind}:{self.value}"

    def stream(self) -> tuple[str, dict[str, str]]:
        if self.kind == "hashtag":
            return "/api/v1/streaming/hashtag", {"tag": str(self.value)}
        if self.kind == "list":
            return "/api/v1/streaming/list", {"list": str(self.value)}
        return "/api/v1/streaming/public", {}

    def rest(self) -> str:
        if self.kind == "hashtag":
            return f"/api/v1/timelines/tag/{self.value}"
        if self.kind == "list":
            return f"/api/v1/timelines/list/{self.value}"
        return "/api/v1/timelines/public"


@dataclass(frozen=True)
class MastodonOptions:
    base_url: str
    timeline: Timeline
    token: str | None = field(default=None, repr=False)
    """Kept out of the repr: options get logged and shown in tracebacks."""
    poll_interval: float = 30.0
    idle_timeout: float = 90.0
    """No bytes for this long (Mastodon sends a heartbeat every ~15 s) means a stalled stream."""
    stream_failures_before_polling: int = 3
    stream_retry_seconds: float = 300.0
    retry_base: float = 1.0
    retry_cap: float = 60.0
    max_backfill_pages: int = 25
    checkpoint_every: int = 100
    checkpoint_seconds: float = 5.0
    context_lookups_per_minute: int = 30
    """Cap on thread-root requests (``/statuses/:id/context``); 0 turns lookups off.

    Mastodon allows 300 requests per 5 minutes per account or IP; 30 a minute
    leaves most of that to the timeline backfill and polling.
    """
    context_lookup_wait: float = 10.0
    """Seconds a lookup may spend waiting out 429, 5xx or network errors before giving up."""


def sse_events(
    lines: Iterable[str | Overlong], max_bytes: int = MAX_RECORD_BYTES
) -> Iterator[tuple[str | None, str] | Overlong]:
    """Server-sent events from text lines: ``(event, data)``; ``(None, "")`` for a heartbeat.

    Heartbeats (comment lines) are yielded so the reader can check its stop
    flag while a quiet stream only sends those. An event whose data passes
    ``max_bytes``, or that had an over-long line (:func:`bounded_lines`), is
    dropped whole and reported as one :class:`Overlong`; an endless one ends
    the events.
    """
    event: str | None = None
    data: list[str] = []
    size = 0
    dropped: Overlong | None = None
    for line in lines:
        if isinstance(line, Overlong):
            if line.endless:
                yield line
                return
            dropped, data = Overlong(size + line.size), []
        elif not line:
            if dropped is not None:
                yield dropped
            elif data:
                yield event or "message", "\n".join(data)
            event, data, size, dropped = None, [], 0, None
        elif line.startswith(":"):
            yield None, ""
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                size += len(value.encode("utf-8", "surrogatepass")) + 1
                if dropped is not None:
                    dropped = Overlong(size)
                elif size > max_bytes:
                    dropped, data = Overlong(size), []
                else:
                    data.append(value)
    if dropped is not None:
        yield dropped


class _Roots:
    """Thread roots of recently seen statuses (bounded, least recently used out first).

    A root stored after a failed lookup is the parent (a guess): replies to
    that status inherit it, so what was already sent of a thread stays in one
    conversation.
    """

    def __init__(self, size: int = 20_000) -> None:
        self._roots: OrderedDict[str, str] = OrderedDict()
        self._size = size

    def root_of(self, status_id: str) -> str | None:
        root = self._roots.get(status_id)
        if root is not None:
            self._roots.move_to_end(status_id)
        return root

    def remember(self, status_id: str, root: str) -> None:
        self._roots[status_id] = root
        self._roots.move_to_end(status_id)
        while len(self._roots) > self._size:
            self._roots.popitem(last=False)

    def key_of(self, status_id: str) -> str:
        return self._roots.get(status_id, status_id)


class MastodonSource(SinceIdSource):
    """One Mastodon timeline: a step is one stream connection (after a backfill), or one poll."""

    def __init__(
        self, outbox: Outbox, options: MastodonOptions, allow_hosts: str | Iterable[str] = ()
    ) -> None:
        self.opts = options
        self.base = options.base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {options.token}"} if options.token else {}
        super().__init__(
            outbox,
            f"mastodon:{self.base}:{options.timeline.name}",
            Backoff(base=options.retry_base, cap=options.retry_cap),
            headers=headers,
            allow_hosts=allow_hosts,
        )
        self.roots = _Roots()
        # Separate so a lookup's retries never reset or lengthen the stream's reconnect delays.
        self.lookup_backoff = Backoff(base=options.retry_base, cap=options.retry_cap)
        self.lookups = Pacer.burst_per_minute(options.context_lookups_per_minute)
        self.failed_lookups: OrderedDict[str, float] = OrderedDict()
        self.stream_failures = 0
        self.polling_since: float | None = None

    # --- records ------------------------------------------------------------------
    def _status(self, status: Any, event: str | None, raw: Any) -> Iterator[Item]:
        """One status (REST object, or an event's payload), keyed by its thread."""
        if not isinstance(status, dict) or not isinstance(status.get("id"), str | int):
            yield Send(FORMAT, raw, None)
            return
        reblog = status.get("reblog")
        inner: dict[str, Any] = reblog if isinstance(reblog, dict) else status
        native = str(inner.get("id", status["id"]))
        parent = str(inner["in_reply_to_id"]) if inner.get("in_reply_to_id") else None
        root = self._root_of(parent) if parent else None
        key = root or parent or native
        self.roots.remember(native, key)
        if event in (None, "update"):
            self.saw(str(status["id"]))
        yield Send(FORMAT, raw, key, {"conversation_root": root} if root else {})

    def _event(self, event: str, data: str) -> Iterator[Item]:
        if event == "delete":
            yield Send(FORMAT, {"event": "delete", "payload": data}, self.roots.key_of(data))
            return
        if event not in STATUS_EVENTS:
            log.debug("ignored stream event %s", event)
            yield None
            return
        try:
            status = parse_json_object(data, MAX_RECORD_BYTES, f"{event} event")
        except AdapterError as exc:
            yield Skip(f"status event: {exc.reason}", {"detail": exc.detail[:300]})
            return
        yield from self._status(status, event, {"event": event, "payload": data})

    # --- thread roots -----------------------------------------------------------------
    def _root_of(self, parent: str) -> str | None:
        """The thread root of a reply to ``parent``: remembered, else asked for; None if unknown."""
        known = self.roots.root_of(parent)
        if known is not None:
            return known
        failed_at = self.failed_lookups.get(parent)
        now = time.monotonic()
        if failed_at is not None and now - failed_at < FAILED_LOOKUP_TTL:
            return None
        if not self.lookups.take(now):
            # Not a failure of this thread: a later reply may look it up once the cap allows.
            log.debug("thread-root lookups at their cap; filing %s under its parent", parent)
            return None
        root = self._lookup_root(parent)
        if root is None:
            self.failed_lookups[parent] = now
            self.failed_lookups.move_to_end(parent)
            while len(self.failed_lookups) > 1_000:
                self.failed_lookups.popitem(last=False)
        else:
            self.failed_lookups.pop(parent, None)
        return root

    def _lookup_root(self, parent: str) -> str | None:
        """Ask the instance for the root of ``parent``'s thread; None on any failure.

        Like :meth:`HttpClient.get` (same client, so the same token; 429
        ``Retry-After`` and 5xx waited out with backoff) but bounded by
        ``CONTEXT_ATTEMPTS``, ``context_lookup_wait`` and the per-minute cap
        (every retry is a request too), and refused rather than waited for
        when the cap is reached, since the stream is not read meanwhile. The
        caller has already taken the first request from the cap.
        """
        url = f"{self.base}/api/v1/statuses/{parent}/context"
        waited = 0.0
        for attempt in range(1, CONTEXT_ATTEMPTS + 1):
            if attempt > 1 and not self.lookups.take(time.monotonic()):
                reason = "the per-minute cap was reached while retrying"
                break
            try:
                response = self.http.fetch(url, deadline=CONTEXT_TIMEOUT)
            except FetchSkipped as exc:
                reason = exc.reason
                break
            except httpx.TransportError as exc:
                delay = self.lookup_backoff.delay()
                reason = type(exc).__name__
            else:
                if response.status_code == 200:
                    self.lookup_backoff.reset()
                    return self._learn_context(parent, response)
                if not retryable_status(response.status_code):
                    # 404: deleted, private or unknown to this instance; no retry helps.
                    log.debug(
                        "thread-root lookup for %s answered HTTP %s",
                        parent,
                        response.status_code,
                    )
                    return None
                delay = self.lookup_backoff.delay(
                    response.headers, response.status_code, self.http.clock()
                )
                reason = f"HTTP {response.status_code}"
            if attempt == CONTEXT_ATTEMPTS or waited + delay > self.opts.context_lookup_wait:
                break
            waited += delay
            if not self.stopper.sleep(delay):
                return None
        log.warning(
            "thread-root lookup for %s failed (%s); filing the reply under its parent",
            parent,
            reason,
        )
        return None

    def _learn_context(self, parent: str, response: httpx.Response) -> str | None:
        """The root from a context answer, remembered for ``parent`` and its ancestors."""
        try:
            context = parse_untrusted_json(response.content, MAX_PAGE_BYTES, "context answer")
        except AdapterError:
            context = None
        ancestors = context.get("ancestors") if isinstance(context, dict) else None
        ids = (
            [
                str(a["id"])
                for a in ancestors
                if isinstance(a, dict) and isinstance(a.get("id"), str | int)
            ]
            if isinstance(ancestors, list)
            else None
        )
        if ids is None or (ancestors and len(ids) != len(ancestors)):
            log.warning("thread-root lookup for %s: malformed context answer", parent)
            return None
        root = ids[0] if ids else parent
        for status_id in [*ids, parent]:
            self.roots.remember(status_id, root)
        return root

    # --- REST -----------------------------------------------------------------------
    def backfill(self) -> Iterator[Item]:
        """Every status after ``since_id`` (or the newest page without one), oldest first."""
        collected: dict[str, Any] = {}
        malformed: list[Any] = []
        max_id: str | None = None
        for _ in range(self.opts.max_backfill_pages):
            params: dict[str, Any] = {"limit": PAGE_LIMIT}
            if self.since_id:
                params["since_id"] = self.since_id
            if max_id:
                params["max_id"] = max_id
            try:
                response = self.http.get(self.base + self.opts.timeline.rest(), params=params)
            except FetchSkipped as exc:
                yield Skip(
                    f"timeline fetch skipped: {exc.reason}", {"url": exc.url, "detail": exc.detail}
                )
                return
            if response.status_code in (401, 403, 404, 410):
                raise refuse(
                    response,
                    "Mastodon",
                    "check --base-url, the timeline name and the access token "
                    "(TOWNSQUARE_MASTODON_TOKEN or --token-env)",
                )
            if response.status_code != 200:
                log.warning("timeline answered HTTP %s; will retry", response.status_code)
                return
            try:
                page = parse_untrusted_json(response.content, MAX_PAGE_BYTES, "timeline page")
            except AdapterError as exc:
                yield Skip(f"timeline page: {exc.reason}", {"url": str(response.url)})
                return
            if not isinstance(page, list):
                yield Skip("timeline page is not a list", {"url": str(response.url)})
                return
            for status in page:
                if isinstance(status, dict) and isinstance(status.get("id"), str | int):
                    collected[str(status["id"])] = status
                else:
                    malformed.append(status)
            if len(page) < PAGE_LIMIT or not self.since_id:
                break
            max_id = min((str(s["id"]) for s in collected.values()), key=lambda i: (len(i), i))
        for raw in malformed:
            yield Send(FORMAT, raw, None)
        for status_id in sorted(collected, key=lambda i: (len(i), i)):
            if is_newer(status_id, self.since_id) or self.since_id is None:
                yield from self._status(collected[status_id], None, collected[status_id])

    # --- streaming --------------------------------------------------------------------
    def stream(self) -> Generator[Item, None, tuple[bool, float]]:
        """Read the stream until it drops: (whether it opened, the wait before the next step)."""
        path, params = self.opts.timeline.stream()
        with self.http.stream(
            self.base + path,
            idle_timeout=self.opts.idle_timeout,
            params=params,
            headers={"Accept": "text/event-stream"},
        ) as response:
            if retryable_status(response.status_code):
                return False, self.http.retry_delay(response)
            content_type = response.headers.get("content-type", "")
            if response.status_code != 200 or "text/event-stream" not in content_type:
                log.warning("streaming unavailable (HTTP %s)", response.status_code)
                return False, 0.0
            self.backoff.reset()
            log.info("stream open", extra={"timeline": self.opts.timeline.name})
            lines = bounded_lines(response.iter_bytes(), MAX_RECORD_BYTES)
            for item in sse_events(lines, MAX_RECORD_BYTES):
                if isinstance(item, Overlong):
                    yield Skip(f"stream event over {MAX_RECORD_BYTES} bytes", {"bytes": item.size})
                    if item.endless:
                        break  # no newline in sight: reconnect (after a backfill)
                    continue
                event, data = item
                if event is None:
                    yield None  # a heartbeat: time to check the stop flag
                else:
                    yield from self._event(event, data)
        return True, self.backoff.jittered()

    def step(self) -> Steps:
        """Poll REST while streaming is off; else backfill from the cursor and read the stream.

        After ``stream_failures_before_polling`` streams in a row that would not
        open (the instance disabled streaming, a proxy strips SSE, 429/5xx), poll
        the REST timeline for ``stream_retry_seconds``, then try the stream
        again. A stream that opened and dropped, or a network error (which the
        run loop retries), ends such a streak.
        """
        if self.polling_since is not None:
            yield from self.backfill()
            if time.monotonic() - self.polling_since < self.opts.stream_retry_seconds:
                return self.opts.poll_interval
            self.polling_since = None
            self.stream_failures = 0
            return 0.0
        if self.since_id:
            yield from self.backfill()
        failures, self.stream_failures = self.stream_failures, 0
        opened, wait = yield from self.stream()
        if opened:
            return wait
        self.stream_failures = failures + 1
        if self.stream_failures >= self.opts.stream_failures_before_polling:
            log.warning("streaming keeps failing; polling the REST timeline instead")
            self.polling_since = time.monotonic()
            return wait
        return wait or self.backoff.jittered()


def run_mastodon(
    settings: Settings, options: MastodonOptions, limits: RunLimits, stopper: Stopper | None = None
) -> RunReport:
    """Follow one Mastodon timeline onto the raw topic until a limit or a stop."""
    outbox = Outbox.open(settings, "mastodon", limits, stopper, options)
    return MastodonSource(outbox, options, settings.ingest_allow_hosts).run()
