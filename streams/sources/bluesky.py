"""Bluesky: Jetstream (the JSON firehose) over a websocket, resumed by its ``cursor``.

Resumes from: the cursor ``{"time_us": <last event time processed>}`` under
``bluesky:<jetstream url>``. Every (re)connect asks Jetstream to replay from
that time minus ``rewind_seconds``: Jetstream's cursor is a wall-clock time,
and events within the same few microseconds may straddle it, so replaying a
few seconds costs some duplicates (harmless: ids are AT URIs, stable) and
closes the gap.

On a crash: events since the last checkpoint are replayed (duplicates).
Jetstream keeps a limited history (about a day), so a source down for longer
than that loses the events in between; it logs the cursor it resumed from.

Malformed input: a frame that is not JSON, not an object, nested deeper
than the normalizer allows or above :data:`MAX_RECORD_BYTES` is skipped at
the edge (counted, logged with the reason) and the stream goes on; it moves
no cursor, so nothing after it is lost. A frame above
:data:`MAX_FRAME_BYTES` (a memory bound, far above any real Jetstream event)
makes the websocket library close the connection (1009). Such frames should
not come: every subscription asks Jetstream for ``maxMessageSizeBytes`` =
:data:`MAX_RECORD_BYTES`, and Jetstream drops larger events for that
subscriber. If one still does (an older or other server), a reconnect from
the same cursor would replay it for ever, so the close is counted as a skip,
logged, and the cursor moves past the last event seen by a small step
(:data:`TOO_BIG_STEP_US`, doubled on every such close in a row) and is used
without the rewind on the next connect. The events in that step are lost; the
doubling bounds how many reconnects it takes to get past the unknown event.

Events that are not post commits (``identity``, ``account``, other
collections) are not posts: dropped at the edge with a debug line, though
their ``time_us`` still moves the cursor.

Partition key: the thread's root post URI (``reply.root.uri``), else the
post's own URI, so a thread stays on one partition.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.frames import CloseCode
from websockets.sync.client import connect

from processors.adapters.common import parse_json_object
from processors.adapters.errors import AdapterError
from streams.backoff import Backoff, retryable_status
from streams.settings import Settings
from streams.sources.base import (
    MAX_RECORD_BYTES,
    Cursors,
    IngestError,
    Item,
    Outbox,
    RunLimits,
    RunReport,
    Send,
    Skip,
    Source,
    Steps,
    Stopper,
)

log = logging.getLogger("townsquare.ingest.bluesky")

FORMAT = "bluesky-jetstream"
POST_COLLECTION = "app.bsky.feed.post"
DEFAULT_JETSTREAM_URL = "wss://jetstream2.us-east.bsky.network/subscribe"
MAX_FRAME_BYTES = 4 * 1024 * 1024
"""The websocket's ``max_size``: what one frame may cost in memory before it is judged.

Above :data:`MAX_RECORD_BYTES` on purpose: a frame between the two is read and
skipped, and the connection lives on. A frame above it closes the connection
(the library's 1009), and the reconnect's rewind would replay it.
"""
TOO_BIG_STEP_US = 1_000
"""First step (µs) the cursor moves past the last event seen after a 1009 close."""


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


def subscribe_url(options: BlueskyOptions, cursor_us: int | None, rewind: bool = True) -> str:
    """The Jetstream URL with the wanted collection, DIDs, size cap and (resuming) the cursor.

    ``maxMessageSizeBytes`` has Jetstream drop events above the record cap for
    this subscriber, so none reaches the websocket's ``max_size`` and closes it.
    """
    parts = urlsplit(options.jetstream_url)
    params: list[tuple[str, str]] = [("wantedCollections", POST_COLLECTION)]
    params += [("wantedDids", did) for did in options.dids]
    params.append(("maxMessageSizeBytes", str(MAX_RECORD_BYTES)))
    if cursor_us is not None:
        rewound = cursor_us - (int(options.rewind_seconds * 1_000_000) if rewind else 0)
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


class BlueskySource(Source):
    """Jetstream: a step is one websocket connection, from the cursor (rewound) on."""

    retryable: ClassVar[tuple[type[Exception], ...]] = (
        ConnectionClosed,
        InvalidHandshake,
        OSError,
        TimeoutError,
    )

    def __init__(self, outbox: Outbox, options: BlueskyOptions) -> None:
        self.opts = options
        super().__init__(
            outbox,
            f"bluesky:{options.jetstream_url}",
            Backoff(base=options.retry_base, cap=options.retry_cap),
        )
        self.time_us: int | None = None
        self.too_big_closes = 0
        """1009 closes in a row with no frame handled between: how far the next skip steps."""

    def cursors(self) -> Cursors:
        return {self.key: {"time_us": self.time_us}} if self.time_us is not None else {}

    def resume(self, stored: Cursors) -> None:
        time_us = stored.get(self.key, {}).get("time_us")
        if isinstance(time_us, int) and not isinstance(time_us, bool):
            self.time_us = time_us

    def handle(self, frame: str | bytes) -> Iterator[Item]:
        try:
            event = parse_json_object(frame, MAX_RECORD_BYTES, "Jetstream frame")
        except AdapterError as exc:
            yield Skip(f"Jetstream frame: {exc.reason}", {"detail": exc.detail[:300]})
            return
        self.too_big_closes = 0
        stamp = event.get("time_us")
        if isinstance(stamp, int) and not isinstance(stamp, bool):
            self.time_us = max(stamp, self.time_us or 0)
        is_post = event.get("kind") == "commit" and (
            isinstance(event.get("commit"), dict)
            and event["commit"].get("collection") == POST_COLLECTION
        )
        if is_post:
            yield Send(FORMAT, event, partition_key(event))
        else:
            log.debug("ignored Jetstream event of kind %s", event.get("kind"))
            yield None

    def step(self) -> Steps:
        """One connection's life; returns the wait before the next connect."""
        url = subscribe_url(self.opts, self.time_us, rewind=not self.too_big_closes)
        try:
            ws = connect(url, open_timeout=10, close_timeout=2, max_size=MAX_FRAME_BYTES)
        except InvalidStatus as exc:
            status = exc.response.status_code
            if not retryable_status(status):
                raise IngestError(
                    f"Jetstream refused the connection with HTTP {status}: check --jetstream-url"
                ) from exc
            headers = dict(exc.response.headers.raw_items())
            delay = self.backoff.delay(headers, status, time.time())
            log.warning("Jetstream answered HTTP %s; waiting %.1fs", status, delay)
            return delay
        with ws:
            log.info("connected", extra={"cursor": self.time_us})
            self.backoff.reset()
            while True:
                try:
                    frame = ws.recv(timeout=self.stopper.bounded(self.opts.idle_timeout))
                except TimeoutError:
                    if not self.stopper.stopped():
                        log.warning("no frame for %.0fs; reconnecting", self.opts.idle_timeout)
                    break
                except ConnectionClosed as exc:
                    if exc.sent is None or exc.sent.code != CloseCode.MESSAGE_TOO_BIG:
                        raise
                    yield self.skip_too_big()
                    break
                yield from self.handle(frame)
        return self.backoff.jittered()

    def skip_too_big(self) -> Skip:
        """Move the cursor past a frame that closed the connection, so no reconnect replays it.

        Its ``time_us`` is unknown (it was never read), only that it comes after
        the last event handled: the cursor moves a step past that, and the step
        doubles while closes keep coming without a frame handled in between.
        """
        step = TOO_BIG_STEP_US << min(self.too_big_closes, 40)
        self.too_big_closes += 1
        resumed = self.time_us
        if self.time_us is not None:
            self.time_us += step
        log.error(
            "a frame above %d bytes closed the connection; moving the cursor %s by %d µs past it",
            MAX_FRAME_BYTES,
            resumed,
            step if resumed is not None else 0,
        )
        return Skip(
            f"Jetstream frame above {MAX_FRAME_BYTES} bytes closed the connection",
            {"cursor": resumed, "step_us": step},
        )


def run_bluesky(
    settings: Settings, options: BlueskyOptions, limits: RunLimits, stopper: Stopper | None = None
) -> RunReport:
    """Follow Jetstream's post commits onto the raw topic until a limit or a stop."""
    return BlueskySource(Outbox.open(settings, "bluesky", limits, stopper, options), options).run()
