"""Mastodon: the streaming API (server-sent events), backfilled and, if need be, replaced by REST.

Resumes from: the cursor ``{"since_id": <newest status id sent>}`` under
``mastodon:<base url>:<timeline>``. On every (re)connect with a cursor the
agent first pages ``/api/v1/timelines/...?since_id=`` (REST) up to the
present, then opens the stream, so statuses posted while it was away or
disconnected are not lost. When streaming keeps failing (the instance
disabled it, a proxy strips SSE) it polls the same REST timeline instead and
tries the stream again now and then.

On a crash: statuses sent since the last checkpoint (at most
``checkpoint_every`` posts or ``checkpoint_seconds``) are sent again by the next
run: duplicates, harmless because post ids are stable. Edits and deletes of
*old* statuses that happened while the agent was down are lost: REST
timelines list statuses by id, not their later edits or deletions.

Malformed input: a status that is not valid JSON, or lacks an id, still goes
to the raw topic as it came, so the normalize stage dead-letters it with the
reason (one place to inspect bad data). Stream events that are not about
statuses (``notification``, ``filters_changed``, ...) are not posts and are
dropped at the edge with a debug line.

Partition key and conversation: statuses carry only ``in_reply_to_id``, so
the agent remembers the thread roots of recent statuses (bounded) and passes
the root as ``conversation_root`` in the context; the adapter files the post
under it. When a reply's parent is not remembered (a restart, or a reply to
a post from before the stream started) the agent asks the instance once:
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

import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from streams.backoff import Backoff
from streams.settings import Settings
from streams.sources.base import (
    RawSink,
    RunLimits,
    RunReport,
    Stopped,
    Stopper,
    fetch,
    http_client,
    is_newer,
    newest_id,
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
    """One of the timelines the agent follows: a hashtag, the public timeline or a list."""

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
    token: str | None = None
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


def sse_events(lines: Iterable[str]) -> Iterator[tuple[str | None, str]]:
    """Server-sent events from text lines: ``(event, data)``; ``(None, "")`` for a heartbeat.

    Heartbeats (comment lines) are yielded so the reader can check its stop
    flag while a quiet stream only sends those.
    """
    event: str | None = None
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield event or "message", "\n".join(data)
            event, data = None, []
        elif line.startswith(":"):
            yield None, ""
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)


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


class _PerMinute:
    """At most ``limit`` events in any 60 seconds; refuses rather than waits.

    Waiting would stall the stream, and a missing root only costs a
    best-effort conversation, so a refused lookup is simply skipped.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._times: deque[float] = deque()

    def take(self, now: float) -> bool:
        while self._times and now - self._times[0] >= 60.0:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True


class MastodonAgent:
    def __init__(
        self, settings: Settings, options: MastodonOptions, limits: RunLimits, stopper: Stopper
    ) -> None:
        self.opts = options
        self.stopper = stopper
        base = options.base_url.rstrip("/")
        self.base = base
        self.sink = RawSink(
            settings,
            "mastodon",
            f"mastodon:{base}:{options.timeline.name}",
            limits,
            stopper,
            checkpoint_every=options.checkpoint_every,
            checkpoint_seconds=options.checkpoint_seconds,
        )
        self.since_id: str | None = None
        self.roots = _Roots()
        self.backoff = Backoff(base=options.retry_base, cap=options.retry_cap)
        # Separate so a lookup's retries never reset or lengthen the stream's reconnect delays.
        self.lookup_backoff = Backoff(base=options.retry_base, cap=options.retry_cap)
        self.lookups = _PerMinute(options.context_lookups_per_minute)
        self.failed_lookups: OrderedDict[str, float] = OrderedDict()
        headers = {"Authorization": f"Bearer {options.token}"} if options.token else {}
        self.client = http_client(headers)

    # --- cursor -------------------------------------------------------------------
    def _cursor(self) -> dict[str, Any] | None:
        return {"since_id": self.since_id} if self.since_id else None

    # --- records ------------------------------------------------------------------
    def _send_status(self, status: Any, event: str | None, raw: Any) -> None:
        """Send one status (REST object, or an event's payload), keyed by its thread."""
        if not isinstance(status, dict) or not isinstance(status.get("id"), str | int):
            self.sink.emit(FORMAT, raw, None)
            return
        reblog = status.get("reblog")
        inner: dict[str, Any] = reblog if isinstance(reblog, dict) else status
        native = str(inner.get("id", status["id"]))
        parent = str(inner["in_reply_to_id"]) if inner.get("in_reply_to_id") else None
        root = self._root_of(parent) if parent else None
        key = root or parent or native
        self.roots.remember(native, key)
        context = {"conversation_root": root} if root else {}
        if self.sink.emit(FORMAT, raw, key, context) and event in (None, "update"):
            self.since_id = newest_id(self.since_id, str(status["id"]))

    def _send_event(self, event: str, data: str) -> None:
        if event == "delete":
            self.sink.emit(FORMAT, {"event": "delete", "payload": data}, self.roots.key_of(data))
            return
        if event not in STATUS_EVENTS:
            log.debug("ignored stream event %s", event)
            return
        try:
            status = json.loads(data)
        except ValueError:
            status = None
        self._send_status(status, event, {"event": event, "payload": data})

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

        Like :func:`fetch` (same client, so the same token; 429 ``Retry-After``
        and 5xx waited out with backoff) but bounded by ``CONTEXT_ATTEMPTS``,
        ``context_lookup_wait`` and the per-minute cap (every retry is a
        request too), since the stream is not read meanwhile. The caller has
        already taken the first request from the cap.
        """
        url = f"{self.base}/api/v1/statuses/{parent}/context"
        waited = 0.0
        for attempt in range(1, CONTEXT_ATTEMPTS + 1):
            if attempt > 1 and not self.lookups.take(time.monotonic()):
                reason = "the per-minute cap was reached while retrying"
                break
            try:
                response = self.client.get(url, timeout=self.stopper.bounded(CONTEXT_TIMEOUT))
            except httpx.TransportError as exc:
                delay = self.lookup_backoff.delay()
                reason = type(exc).__name__
            else:
                if response.status_code == 200:
                    self.lookup_backoff.reset()
                    return self._learn_context(parent, response)
                if response.status_code != 429 and response.status_code < 500:
                    # 404: deleted, private or unknown to this instance; no retry helps.
                    log.debug(
                        "thread-root lookup for %s answered HTTP %s",
                        parent,
                        response.status_code,
                    )
                    return None
                delay = self.lookup_backoff.delay(
                    response.headers, response.status_code, time.time()
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
            context = response.json()
        except ValueError:
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
    def backfill(self) -> None:
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
            response = fetch(
                self.client,
                self.base + self.opts.timeline.rest(),
                params=params,
                stopper=self.stopper,
                backoff=self.backoff,
                source="mastodon",
            )
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
                page = response.json()
            except ValueError:
                self.sink.skip("timeline page is not JSON", url=str(response.url))
                return
            if not isinstance(page, list):
                self.sink.skip("timeline page is not a list", url=str(response.url))
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
            self.sink.emit(FORMAT, raw, None)
        for status_id in sorted(collected, key=lambda i: (len(i), i)):
            if self.stopper.stopped():
                break
            if is_newer(status_id, self.since_id) or self.since_id is None:
                self._send_status(collected[status_id], None, collected[status_id])
        self.sink.checkpoint(self._cursor())

    # --- streaming --------------------------------------------------------------------
    def stream(self) -> bool:
        """Read the stream until it drops or the agent stops; False if it could not be opened."""
        path, params = self.opts.timeline.stream()
        timeout = httpx.Timeout(10.0, read=self.stopper.bounded(self.opts.idle_timeout))
        with self.client.stream(
            "GET",
            self.base + path,
            params=params,
            headers={"Accept": "text/event-stream"},
            timeout=timeout,
        ) as response:
            if response.status_code == 429 or response.status_code >= 500:
                delay = self.backoff.delay(response.headers, response.status_code)
                log.warning("stream answered HTTP %s; waiting %.1fs", response.status_code, delay)
                self.stopper.sleep(delay)
                return False
            content_type = response.headers.get("content-type", "")
            if response.status_code != 200 or "text/event-stream" not in content_type:
                log.warning("streaming unavailable (HTTP %s)", response.status_code)
                return False
            self.backoff.reset()
            log.info("stream open", extra={"timeline": self.opts.timeline.name})
            for event, data in sse_events(response.iter_lines()):
                if event is not None:
                    self._send_event(event, data)
                if self.stopper.stopped():
                    break
                self.sink.maybe_checkpoint(self._cursor())
        return True

    def run(self) -> RunReport:
        started = time.monotonic()
        cursor = self.sink.load_cursor()
        self.since_id = str(cursor["since_id"]) if cursor and cursor.get("since_id") else None
        failures = 0
        polling_since: float | None = None
        try:
            while not self.stopper.stopped():
                if polling_since is not None:
                    self.backfill()
                    if time.monotonic() - polling_since >= self.opts.stream_retry_seconds:
                        polling_since = None
                        failures = 0
                    else:
                        self.stopper.sleep(self.opts.poll_interval)
                    continue
                if self.since_id:
                    self.backfill()
                if self.stopper.stopped():
                    break
                try:
                    opened = self.stream()
                except (httpx.TransportError, httpx.StreamError) as exc:
                    opened = True
                    log.warning("stream dropped: %s", type(exc).__name__)
                self.sink.checkpoint(self._cursor())
                if self.stopper.stopped():
                    break
                failures = 0 if opened else failures + 1
                if failures >= self.opts.stream_failures_before_polling:
                    log.warning("streaming keeps failing; polling the REST timeline instead")
                    polling_since = time.monotonic()
                    continue
                self.stopper.sleep(self.backoff.jittered())
        except Stopped:
            pass
        finally:
            self.client.close()
            report = self.sink.finish(self._cursor(), started)
        return report


def run_mastodon(
    settings: Settings, options: MastodonOptions, limits: RunLimits, stopper: Stopper | None = None
) -> RunReport:
    """Follow one Mastodon timeline onto the raw topic until a limit or a stop."""
    stopper = stopper or Stopper(limits.max_runtime)
    return MastodonAgent(settings, options, limits, stopper).run()
