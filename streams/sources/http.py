"""The HTTP side of a source: one object holds the client, stop flag, backoff and pacer.

Every HTTP platform (Mastodon, X, Reddit, RSS) waits out the same things the
same way: 429 with ``Retry-After`` or a spent quota, 5xx and network errors,
with one backoff per source and, where the platform asks for politeness, one
pacer. Holding them together means a request is ``self.http.get(url)``, and
no call passes them along one by one.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from streams.backoff import Backoff, Pacer, retryable_status, server_wait
from streams.sources.base import (
    Cursors,
    IngestError,
    Outbox,
    Source,
    Stopped,
    Stopper,
    newest_id,
)

log = logging.getLogger("townsquare.ingest")

USER_AGENT = "townsquare-ingest/1.0"
MAX_PAGE_BYTES = 16 * 1024 * 1024
"""Largest API page (a timeline, a search result) parsed; its records are capped on sending."""
MAX_DISCARD_BYTES = 64 * 1024 * 1024
"""Bytes of one over-long stream line read and dropped before the stream is given up on."""

_EOL = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class Overlong:
    """A stream line (or SSE event) above the cap: dropped unread, ``size`` bytes at least.

    ``endless`` means no newline came within :data:`MAX_DISCARD_BYTES`: the
    stream was given up on (the caller reconnects).
    """

    size: int
    endless: bool = False


def bounded_lines(
    chunks: Iterable[bytes], max_bytes: int, max_discard: int = MAX_DISCARD_BYTES
) -> Iterator[str | Overlong]:
    """Lines of a byte stream (``\\r\\n``, ``\\n`` or ``\\r``), never one above ``max_bytes``.

    What ``httpx``'s ``iter_lines`` does, with a cap: a longer line is not kept
    but read and dropped up to its newline and reported as one
    :class:`Overlong`, so memory stays bounded by ``max_bytes`` plus a chunk.
    A line still without a newline after ``max_discard`` bytes ends the
    lines with an endless :class:`Overlong`. Lines are UTF-8, undecodable
    bytes replaced (as ``iter_lines`` does).
    """
    buffer = bytearray()
    dropping, dropped = False, 0  # inside an over-long line, and its bytes so far
    skip_lf = False  # the last chunk ended in "\r": a "\n" starting the next is the same break
    for chunk in chunks:
        if not chunk:
            continue
        start = 1 if skip_lf and chunk[:1] == b"\n" else 0
        skip_lf = False
        while True:
            match = _EOL.search(chunk, start)
            piece = chunk[start : match.start() if match else len(chunk)]
            if not dropping and len(buffer) + len(piece) > max_bytes:
                dropping, dropped, buffer = True, len(buffer), bytearray()
            if dropping:
                dropped += len(piece)
            else:
                buffer += piece
            if match is None:
                break
            if dropping:
                yield Overlong(dropped)
                dropping, dropped = False, 0
            else:
                yield buffer.decode("utf-8", "replace")
                buffer.clear()
            start = match.end()
            if match.group() == b"\r" and start == len(chunk):
                skip_lf = True
        if dropped > max_discard:
            yield Overlong(dropped, endless=True)
            return
    if dropping:
        yield Overlong(dropped)
    elif buffer:
        yield buffer.decode("utf-8", "replace")


class HttpClient:
    """An ``httpx.Client`` that retries what is retryable, paced and stoppable."""

    def __init__(
        self,
        source: str,
        stopper: Stopper,
        backoff: Backoff,
        *,
        headers: Mapping[str, str] | None = None,
        pacer: Pacer | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.stopper = stopper
        self.backoff = backoff
        self.pacer = pacer
        self.clock = clock
        self.client = httpx.Client(
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            timeout=httpx.Timeout(timeout, connect=10.0),
            follow_redirects=True,
        )

    def retry_delay(self, response: httpx.Response) -> float:
        """How long to wait after a retryable answer: the server's wait if it named one."""
        delay = self.backoff.delay(response.headers, response.status_code, self.clock())
        log.warning(
            "HTTP %s; retrying in %.1fs",
            response.status_code,
            delay,
            extra={"source": self.source, "url": str(response.request.url.copy_with(query=None))},
        )
        if self.pacer is not None:
            self.pacer.push_back(time.monotonic() + delay)
        return delay

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """GET ``url``, waiting out 429s (their ``Retry-After``), 5xx and network errors.

        Returns the first response that is not retryable (the caller judges 2xx,
        304 and other 4xx); raises :class:`Stopped` if the source stops meanwhile.
        A pacer also honours a spent quota announced on that response
        (``x-ratelimit-remaining: 0``), so the next request waits for the reset.
        """
        while True:
            if self.pacer is not None and not self.stopper.pace(self.pacer):
                raise Stopped
            if self.stopper.stopped():
                raise Stopped
            try:
                response = self.client.get(url, params=params, headers=headers)
            except httpx.TransportError as exc:
                delay = self.backoff.delay()
                log.warning(
                    "request failed (%s); retrying in %.1fs",
                    type(exc).__name__,
                    delay,
                    extra={"source": self.source, "url": url},
                )
            else:
                if not retryable_status(response.status_code):
                    self.backoff.reset()
                    self._note_quota(response)
                    return response
                delay = self.retry_delay(response)
            if not self.stopper.sleep(delay):
                raise Stopped

    def _note_quota(self, response: httpx.Response) -> None:
        if self.pacer is None:
            return
        wait = server_wait(response.headers, 200, self.clock())
        if wait:
            self.pacer.push_back(time.monotonic() + wait)

    def stream(
        self,
        url: str,
        *,
        idle_timeout: float,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AbstractContextManager[httpx.Response]:
        """A streaming GET whose reads give up after ``idle_timeout`` (or at the deadline).

        No retry here: a stream that cannot be opened or drops is the step's
        end, and the run loop decides when to connect again.
        """
        timeout = httpx.Timeout(10.0, read=self.stopper.bounded(idle_timeout))
        return self.client.stream("GET", url, params=params, headers=headers, timeout=timeout)

    def close(self) -> None:
        self.client.close()


class HttpSource(Source):
    """A source over HTTP: its :class:`HttpClient` shares the source's stopper and backoff."""

    retryable: ClassVar[tuple[type[Exception], ...]] = (httpx.TransportError, httpx.StreamError)

    def __init__(
        self,
        outbox: Outbox,
        key: str,
        backoff: Backoff,
        *,
        headers: Mapping[str, str] | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        super().__init__(outbox, key, backoff)
        self.http = HttpClient(outbox.source, outbox.stopper, backoff, headers=headers, pacer=pacer)

    def close(self) -> None:
        self.http.close()


class SinceIdSource(HttpSource):
    """An HTTP source over increasing numeric ids (Mastodon, X): the cursor is the newest sent.

    Both platforms page with ``since_id``, so the position is one id and
    "newer" is the platform's id order (:func:`newest_id`).
    """

    since_id: str | None = None

    def saw(self, native_id: str) -> None:
        """Move the cursor to ``native_id`` if it is newer (call it before yielding the record)."""
        self.since_id = newest_id(self.since_id, native_id)

    def cursors(self) -> Cursors:
        return {self.key: {"since_id": self.since_id}} if self.since_id else {}

    def resume(self, stored: Cursors) -> None:
        since_id = stored.get(self.key, {}).get("since_id")
        self.since_id = str(since_id) if since_id else None


def refuse(response: httpx.Response, platform: str, hint: str) -> IngestError:
    """An :class:`IngestError` for a non-retryable answer, without echoing credentials."""
    return IngestError(
        f"{platform} answered HTTP {response.status_code} for {response.request.url.path}: {hint}"
    )
