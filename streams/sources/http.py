"""The HTTP side of a source: one object holds the client, stop flag, backoff and pacer.

Every HTTP platform (Mastodon, X, Reddit, RSS) waits out the same things the
same way: 429 with ``Retry-After`` or a spent quota, 5xx and network errors,
with one backoff per source and, where the platform asks for politeness, one
pacer. Holding them together means a request is ``self.http.get(url)``, and
no call passes them along one by one.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import socket
import threading
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
DEFAULT_DEADLINE = 60.0
"""Seconds one fetch may take, connect, redirects and every read together."""
MAX_REDIRECTS = 5
"""Redirect hops one fetch follows (each one checked) before it is given up on."""

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


class FetchSkipped(Exception):
    """A fetch given up on for good (too large, too slow, a refused host or redirect).

    Not a network error: retrying at once would meet the same answer, so the
    caller counts it as a skipped fetch (a :class:`~streams.sources.base.Skip`
    with ``reason``) and waits for its next poll, its cursor where it was.
    """

    def __init__(self, reason: str, url: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail} ({url})" if detail else f"{reason} ({url})")
        self.reason = reason
        """Short and fixed (it labels the skipped-records metric); the numbers go in ``detail``."""
        self.url = url
        self.detail = detail


class HostRefused(FetchSkipped):
    """A URL (the first one or a redirect's) whose host is not a public internet address."""


def parse_allow_hosts(value: str | Iterable[str]) -> frozenset[str]:
    """Host names and IPs from ``TOWNSQUARE_INGEST_ALLOW_HOSTS`` (comma-separated), lower-cased."""
    items = value.split(",") if isinstance(value, str) else value
    return frozenset(h.strip().strip("[]").lower() for h in items if h.strip())


def refused_address(address: str) -> str | None:
    """Why an address may not be fetched from (None: a public address).

    Loopback, private (RFC 1918, fc00::/7), shared (100.64/10), link-local
    (169.254/16 with the cloud metadata address, fe80::/10), unspecified,
    multicast, reserved, and whatever else is not globally routable: the
    addresses a feed or a redirect could use to reach the cluster's own
    services instead of the internet.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for name in ("loopback", "link_local", "private", "unspecified", "multicast", "reserved"):
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    return None if ip.is_global else "not globally routable"


Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (what the connection may end up using)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpx.ConnectError(f"cannot resolve {host}: {exc}") from exc
    return [str(info[4][0]) for info in infos]


class HttpClient:
    """An ``httpx.Client`` that retries what is retryable, paced, stoppable and bounded.

    Every fetch through :meth:`get` or :meth:`fetch` reads at most
    ``max_bytes`` of body, ends by ``deadline`` seconds after it started
    (connect, redirects and every read together, not only per read), and
    reaches public addresses only: httpx follows no redirect itself; each hop
    (the first URL too) is checked here, at most :data:`MAX_REDIRECTS` of
    them, http(s) only. A host named in ``allow_hosts`` (by name or IP, as
    written in the URL) skips the address check; that is how tests and local
    servers on 127.0.0.1 are reached.

    The address check happens when the host is resolved, just before the
    request: a DNS answer that changes between that check and httpx's own
    resolution (DNS rebinding, a TTL of zero) is not caught. The cluster's
    egress NetworkPolicy (helm/) refuses private ranges as the second line.

    Connections are not kept alive, so that every fetch owns its socket and
    the deadline can shut it (a server sending headers a byte a second never
    lets a per-read timeout fire); pollers fetch seconds apart, so reuse
    would save little.
    """

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
        allow_hosts: str | Iterable[str] = (),
        deadline: float = DEFAULT_DEADLINE,
        max_bytes: int = MAX_PAGE_BYTES,
        resolver: Resolver = resolve,
    ) -> None:
        self.source = source
        self.stopper = stopper
        self.backoff = backoff
        self.pacer = pacer
        self.clock = clock
        self.timeout = timeout
        self.allow_hosts = parse_allow_hosts(allow_hosts)
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.resolver = resolver
        self.client = httpx.Client(
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            timeout=httpx.Timeout(timeout, connect=10.0),
            follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0),
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
        max_bytes: int | None = None,
    ) -> httpx.Response:
        """GET ``url``, waiting out 429s (their ``Retry-After``), 5xx and network errors.

        Returns the first response that is not retryable (the caller judges 2xx,
        304 and other 4xx), its body read (``response.url`` is the URL that
        served it, after redirects); raises :class:`Stopped` if the source
        stops meanwhile, and :class:`FetchSkipped` for a fetch that retrying
        would not mend (above the cap, past the deadline, a refused host or
        redirect). A pacer also honours a spent quota announced on that
        response (``x-ratelimit-remaining: 0``), so the next request waits for
        the reset.
        """
        while True:
            if self.pacer is not None and not self.stopper.pace(self.pacer):
                raise Stopped
            if self.stopper.stopped():
                raise Stopped
            try:
                response = self.fetch(url, params=params, headers=headers, max_bytes=max_bytes)
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

    def fetch(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        deadline: float | None = None,
    ) -> httpx.Response:
        """One bounded GET, redirects followed and checked hop by hop; no retry.

        Raises :class:`FetchSkipped` (and :class:`HostRefused`) as :meth:`get`
        does, and ``httpx.TransportError`` for a network error.
        """
        limit = self.max_bytes if max_bytes is None else max_bytes
        seconds = self.stopper.bounded(self.deadline if deadline is None else deadline)
        ends = time.monotonic() + seconds
        request = self.client.build_request("GET", url, params=params, headers=headers)
        origin = request.url
        for _ in range(MAX_REDIRECTS + 1):
            self.check_host(request.url)
            response = self._bounded(request, ends, limit, seconds)
            if not response.has_redirect_location:
                return response
            target = request.url.join(response.headers["location"])
            if target.scheme not in ("http", "https"):
                raise FetchSkipped("redirect refused", _plain(origin), f"to a {target.scheme}: URL")
            log.info(
                "redirected (HTTP %s)",
                response.status_code,
                extra={"source": self.source, "url": _plain(request.url), "to": _plain(target)},
            )
            hop_headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
            request = self.client.build_request("GET", target, headers=hop_headers)
            if (target.scheme, target.host, target.port) != (
                origin.scheme,
                origin.host,
                origin.port,
            ):
                # As browsers and httpx do: credentials stay with the origin they were meant for.
                request.headers.pop("authorization", None)
        raise FetchSkipped("too many redirects", _plain(origin), f"more than {MAX_REDIRECTS}")

    def check_host(self, url: httpx.URL) -> None:
        """Refuse a URL that is not http(s) or whose host resolves to a non-public address."""
        if url.scheme not in ("http", "https"):
            raise HostRefused("scheme refused", _plain(url), f"{url.scheme}: URLs are not fetched")
        host = url.host.lower()
        if host in self.allow_hosts:
            return
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            addresses = self.resolver(host, url.port or (443 if url.scheme == "https" else 80))
        for address in addresses:
            why = refused_address(address)
            if why is not None:
                raise HostRefused(
                    "host refused",
                    _plain(url),
                    f"{host} resolves to a {why} address ({address}); list it in "
                    "TOWNSQUARE_INGEST_ALLOW_HOSTS to fetch it anyway",
                )

    def _bounded(
        self, request: httpx.Request, ends: float, limit: int, seconds: float
    ) -> httpx.Response:
        """Send ``request`` and read its body, abandoned above ``limit`` bytes or at ``ends``.

        A watchdog shuts the request's socket at ``ends``: per-read timeouts
        alone let a server that sends a byte a second hold the fetch forever.
        """
        remaining = ends - time.monotonic()
        if remaining <= 0:
            raise FetchSkipped("deadline passed", _plain(request.url), f"{seconds:g}s")
        sockets: list[socket.socket] = []
        expired = threading.Event()

        def trace(name: str, info: Mapping[str, Any]) -> None:
            if name == "connection.connect_tcp.complete" and info.get("return_value") is not None:
                sock = info["return_value"].get_extra_info("socket")
                if sock is not None:
                    sockets.append(sock)
                    if expired.is_set():
                        _shut(sock)

        def expire() -> None:
            expired.set()
            for sock in sockets:
                _shut(sock)

        request.extensions["trace"] = trace
        request.extensions["timeout"] = httpx.Timeout(
            min(self.timeout, remaining), connect=min(10.0, remaining)
        ).as_dict()
        watchdog = threading.Timer(remaining, expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            response = self.client.send(request, stream=True)
            try:
                body = self._read(response, limit, ends, seconds)
            finally:
                response.close()
        except httpx.TransportError as exc:
            if expired.is_set() or time.monotonic() >= ends:
                raise FetchSkipped("deadline passed", _plain(request.url), f"{seconds:g}s") from exc
            raise
        finally:
            watchdog.cancel()
        if expired.is_set():
            raise FetchSkipped("deadline passed", _plain(request.url), f"{seconds:g}s")
        # The body is already decoded: a kept Content-Encoding would have httpx decode it again.
        kept = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(response.status_code, headers=kept, content=body, request=request)

    def _read(self, response: httpx.Response, limit: int, ends: float, seconds: float) -> bytes:
        url = _plain(response.request.url)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchSkipped(
                "body above the size cap", url, f"Content-Length {declared} > {limit} bytes"
            )
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > limit:
                raise FetchSkipped("body above the size cap", url, f"over {limit} bytes")
            if time.monotonic() >= ends:
                raise FetchSkipped("deadline passed", url, f"{seconds:g}s")
        return bytes(body)

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
        end, and the run loop decides when to connect again. Its host is
        checked as a fetch's is; a refused one is the operator's to fix
        (:class:`IngestError`). No redirect is followed: a 3xx is a stream
        that did not open.
        """
        request = self.client.build_request("GET", url, params=params)
        try:
            self.check_host(request.url)
        except HostRefused as exc:
            raise IngestError(f"not connecting to the stream: {exc}") from exc
        timeout = httpx.Timeout(10.0, read=self.stopper.bounded(idle_timeout))
        return self.client.stream("GET", url, params=params, headers=headers, timeout=timeout)

    def close(self) -> None:
        self.client.close()


def _plain(url: httpx.URL) -> str:
    """A URL for a log line: no query, which may carry tokens."""
    return str(url.copy_with(query=None))


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


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
        allow_hosts: str | Iterable[str] = (),
        deadline: float = DEFAULT_DEADLINE,
        max_bytes: int = MAX_PAGE_BYTES,
    ) -> None:
        super().__init__(outbox, key, backoff)
        self.http = HttpClient(
            outbox.source,
            outbox.stopper,
            backoff,
            headers=headers,
            pacer=pacer,
            allow_hosts=allow_hosts,
            deadline=deadline,
            max_bytes=max_bytes,
        )

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
