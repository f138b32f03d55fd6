"""Bluesky: Jetstream (the JSON firehose) over a websocket, resumed by its ``cursor``.

Resumes from: the cursor ``{"time_us": <last event time processed>}`` under
``bluesky:<jetstream url>``. Every (re)connect asks Jetstream to replay from
that time minus ``rewind_seconds``: Jetstream's cursor is a wall-clock time,
and events within the same few microseconds may straddle it, so replaying a
few seconds costs some duplicates (harmless: ids are AT URIs, stable) and
closes the gap.

On a crash: events since the last checkpoint are replayed (duplicates).
Jetstream keeps a limited history (about a day), so an agent down for longer
than that loses the events in between; it logs the cursor it resumed from.

Malformed input: a frame that is not JSON, or not an object, goes to the raw
topic as it came, so the normalize stage dead-letters it with the reason.
Events that are not post commits (``identity``, ``account``, other
collections) are not posts: dropped at the edge with a debug line, though
their ``time_us`` still moves the cursor.

Partition key: the thread's root post URI (``reply.root.uri``), else the
post's own URI, so a thread stays on one partition.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import connect

from streams.backoff import Backoff
from streams.settings import Settings
from streams.sources.base import IngestError, RawSink, RunLimits, RunReport, Stopper

log = logging.getLogger("townsquare.ingest.bluesky")

FORMAT = "bluesky-jetstream"
POST_COLLECTION = "app.bsky.feed.post"
DEFAULT_JETSTREAM_URL = "wss://jetstream2.us-east.bsky.network/subscribe"


@dataclass(frozen=True)
class BlueskyOptions:
    jetstream_url: str = DEFAULT_JETSTREAM_URL
    dids: tuple[str, ...] = ()
    rewind_seconds: float = 3.0
    idle_timeout: float = 60.0
    """No frame for this long on a firehose means a stalled connection: reconnect."""
    retry_base: float = 1.0
    retry_cap: float = 60.0
    checkpoint_every: int = 500
    checkpoint_seconds: float = 5.0


def subscribe_url(options: BlueskyOptions, cursor_us: int | None) -> str:
    """The Jetstream URL with the wanted collection, DIDs and (when resuming) the cursor."""
    parts = urlsplit(options.jetstream_url)
    params: list[tuple[str, str]] = [("wantedCollections", POST_COLLECTION)]
    params += [("wantedDids", did) for did in options.dids]
    if cursor_us is not None:
        rewound = cursor_us - int(options.rewind_seconds * 1_000_000)
        params.append(("cursor", str(max(0, rewound))))
    query = "&".join(p for p in (parts.query, urlencode(params)) if p)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def partition_key(event: dict[str, Any]) -> str | None:
    commit = event.get("commit")
    if not isinstance(commit, dict):
        return None
    did, rkey = event.get("did"), commit.get("rkey")
    own = f"at://{did}/{POST_COLLECTION}/{rkey}" if did and rkey else None
    record = commit.get("record")
    reply = record.get("reply") if isinstance(record, dict) else None
    root = reply.get("root") if isinstance(reply, dict) else None
    uri = root.get("uri") if isinstance(root, dict) else None
    return uri if isinstance(uri, str) and uri else own


class BlueskyAgent:
    def __init__(
        self, settings: Settings, options: BlueskyOptions, limits: RunLimits, stopper: Stopper
    ) -> None:
        self.opts = options
        self.stopper = stopper
        self.sink = RawSink(
            settings,
            "bluesky",
            f"bluesky:{options.jetstream_url}",
            limits,
            stopper,
            checkpoint_every=options.checkpoint_every,
            checkpoint_seconds=options.checkpoint_seconds,
        )
        self.backoff = Backoff(base=options.retry_base, cap=options.retry_cap)
        self.time_us: int | None = None

    def _cursor(self) -> dict[str, Any] | None:
        return {"time_us": self.time_us} if self.time_us is not None else None

    def handle(self, frame: str | bytes) -> None:
        text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
        try:
            event = json.loads(text)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            self.sink.emit(FORMAT, text, None)
            return
        stamp = event.get("time_us")
        is_post = event.get("kind") == "commit" and (
            isinstance(event.get("commit"), dict)
            and event["commit"].get("collection") == POST_COLLECTION
        )
        if not is_post:
            log.debug("ignored Jetstream event of kind %s", event.get("kind"))
        elif not self.sink.emit(FORMAT, event, partition_key(event)):
            return
        if isinstance(stamp, int) and not isinstance(stamp, bool):
            self.time_us = max(stamp, self.time_us or 0)

    def _read(self) -> float:
        """One connection's life; the delay before the next connect."""
        url = subscribe_url(self.opts, self.time_us)
        try:
            with connect(url, open_timeout=10, close_timeout=2, max_size=4 * 1024 * 1024) as ws:
                log.info("connected", extra={"cursor": self.time_us})
                self.backoff.reset()
                while not self.stopper.stopped():
                    try:
                        frame = ws.recv(timeout=self.stopper.bounded(self.opts.idle_timeout))
                    except TimeoutError:
                        if not self.stopper.stopped():
                            log.warning("no frame for %.0fs; reconnecting", self.opts.idle_timeout)
                        break
                    self.handle(frame)
                    self.sink.maybe_checkpoint(self._cursor())
            return self.backoff.jittered() if not self.stopper.stopped() else 0.0
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status != 429 and status < 500:
                raise IngestError(
                    f"Jetstream refused the connection with HTTP {status}: check --jetstream-url"
                ) from exc
            delay = self.backoff.delay(dict(exc.response.headers.raw_items()), status, time.time())
            log.warning("Jetstream answered HTTP %s; waiting %.1fs", status, delay)
            return delay
        except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError) as exc:
            delay = self.backoff.jittered()
            log.warning("connection lost (%s); reconnecting in %.1fs", type(exc).__name__, delay)
            return delay

    def run(self) -> RunReport:
        started = time.monotonic()
        cursor = self.sink.load_cursor()
        if cursor and isinstance(cursor.get("time_us"), int):
            self.time_us = cursor["time_us"]
        try:
            while not self.stopper.stopped():
                delay = self._read()
                self.sink.checkpoint(self._cursor())
                if delay:
                    self.stopper.sleep(delay)
        finally:
            report = self.sink.finish(self._cursor(), started)
        return report


def run_bluesky(
    settings: Settings, options: BlueskyOptions, limits: RunLimits, stopper: Stopper | None = None
) -> RunReport:
    """Follow Jetstream's post commits onto the raw topic until a limit or a stop."""
    stopper = stopper or Stopper(limits.max_runtime)
    return BlueskyAgent(settings, options, limits, stopper).run()
