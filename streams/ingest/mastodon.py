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

Partition key: the thread root when the agent saw the chain (it remembers
the roots of recent statuses and passes ``conversation_root`` in the
context), else the parent (the adapter's own best guess), else the status id.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from streams.ingest.backoff import Backoff
from streams.ingest.base import (
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
from streams.settings import Settings

log = logging.getLogger("townsquare.ingest.mastodon")

FORMAT = "mastodon"
DEFAULT_BASE_URL = "https://mastodon.social"
STATUS_EVENTS = frozenset({"update", "status.update"})
PAGE_LIMIT = 40


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
    """Thread roots of recently seen statuses (bounded), so replies key to their thread."""

    def __init__(self, size: int = 20_000) -> None:
        self._roots: OrderedDict[str, str] = OrderedDict()
        self._size = size

    def place(self, status_id: str, parent: str | None) -> tuple[str, str | None]:
        """The partition key of a status and the ``conversation_root`` to pass, if known."""
        known = self._roots.get(parent) if parent else None
        root = known or parent or status_id
        self._roots[status_id] = root
        self._roots.move_to_end(status_id)
        while len(self._roots) > self._size:
            self._roots.popitem(last=False)
        return root, known

    def key_of(self, status_id: str) -> str:
        return self._roots.get(status_id, status_id)


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
        parent = inner.get("in_reply_to_id")
        key, root = self.roots.place(native, str(parent) if parent else None)
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
            try:
                self.sink.checkpoint(self._cursor())
            finally:
                self.sink.close()
                self.client.close()
        return RunReport(
            self.sink.sent, self.sink.skipped, time.monotonic() - started, self._cursor()
        )


def run_mastodon(
    settings: Settings, options: MastodonOptions, limits: RunLimits, stopper: Stopper | None = None
) -> RunReport:
    """Follow one Mastodon timeline onto the raw topic until a limit or a stop."""
    stopper = stopper or Stopper(limits.max_runtime)
    return MastodonAgent(settings, options, limits, stopper).run()
