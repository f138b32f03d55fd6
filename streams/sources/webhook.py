"""A signed webhook receiver for platforms that push: ``POST /webhook/<source>``.

Each request carries one JSON object (the shape of
:mod:`processors.adapters.webhook`), signed with a timestamp so that a captured
request cannot be replayed later::

    X-Townsquare-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>

where the HMAC is keyed by ``TOWNSQUARE_WEBHOOK_SECRET`` over the bytes
``f"{t}.{path}.".encode() + body`` (``path`` exactly as in the request line,
e.g. ``/webhook/mysource``, so a push for one source cannot be replayed to
another). :func:`sign` computes the header. The timestamp must be within
``tolerance`` seconds (default 300) of the receiver's clock, which bounds the
replay window to that skew. Rotation: a sender may put several ``v1=`` values
in one header (one per secret it holds), and the receiver accepts the current
secret and ``TOWNSQUARE_WEBHOOK_SECRET_PREVIOUS``; any pairing that matches is
enough. Every comparison is constant time. Unknown ``vN=`` items are ignored,
so a later scheme can be sent alongside ``v1``.

Answers, cheapest check first so a hostile sender costs little:

- 503 with ``Retry-After`` on connect, without reading anything, when
  ``max_connections`` connections are already open (the thread count is
  bounded by that cap);
- 411 without a ``Content-Length`` (or with chunked encoding); 400 when it is
  not plain ASCII digits (``int()`` would also take ``1_0``, ``+10`` or
  non-ASCII digits); 413 at once, from the header alone, when it is above
  ``max_bytes``; all three close the connection (the body is never read);
- 401 on a missing, malformed or wrong signature, or a timestamp outside the
  tolerance (the message says too old or too new);
- 400 when the signed body is not one UTF-8 JSON object (parsed by the shared
  untrusted-JSON path, depth-limited) or cannot be stored as text: the sender
  must not retry it;
- 202 only after Kafka acknowledged the raw envelope (the :class:`Outbox`
  every source sends through waits for this record's acknowledgement), so a
  202 means the post is durable; 503 with ``Retry-After`` when Kafka cannot
  take it, so the sender retries. When Kafka refused a record for good the
  outbox is broken: the receiver stops and exits non-zero, so the platform
  restarts it, instead of answering every later push with a 503.

Slow clients: every request (request line, headers and body) must arrive
within ``request_timeout`` seconds of its start (the connection's accept, or
the end of the previous answer on a kept-alive connection); each socket read
waits only for the time left, so trickling a byte at a time gains nothing,
and the connection is closed without an answer when time is up. The stdlib
server is kept: aiohttp's has no whole-request deadline of its own either
(only a keep-alive timer, an hour by default), so it would have needed the
same deadline around header reading, which is where a slowloris sits.

A delete notice ``{"type": "delete", "platform": P, "id": ID, "author_id"?,
"deleted_at"?}`` becomes a webhook ``kind: "delete"`` message.

Resumes from: nothing — the sender holds the state. On a crash, requests in
flight got no 202 and are retried by a well-behaved sender (possibly sent
twice: ids are stable); nothing is lost that was answered 202. The body is
not deduplicated here; that happens downstream by post id, which also makes a
replay inside the tolerance harmless.

Partition key: ``<platform>:<conversation_id>``, else ``<platform>:<id>``.
``GET /healthz`` answers 200 for probes.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import logging
import math
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any

from processors.adapters.common import parse_json_object
from processors.adapters.errors import AdapterError
from streams.settings import Settings
from streams.sources.base import DeliveryError, Outbox, RunLimits, RunReport, Stopper

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

log = logging.getLogger("townsquare.ingest.webhook")

FORMAT = "webhook"
SIGNATURE_HEADER = "X-Townsquare-Signature"
CONNECTION_THREAD = "webhook-connection"
"""Name of the thread that serves one connection (at most ``max_connections`` of them)."""
_SOURCE = re.compile(r"^/webhook/([a-z0-9][a-z0-9_-]{0,31})/?$")
_DIGITS = re.compile(r"[0-9]{1,12}")
"""A Content-Length or a timestamp: ASCII digits only, and few enough to be sane."""
_MAX_SIGNATURES = 8
"""``v1=`` values one header may carry: rotation needs two, more only costs HMACs."""
_CHUNK = 64 * 1024
_BUSY_SECONDS = 1
_WARN_EVERY = 60.0


def _canned(status: str, message: str, retry_after: int) -> bytes:
    body = json.dumps({"status": int(status.split()[0]), "message": message}).encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: {retry_after}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


_BUSY = _canned("503 Service Unavailable", "too many open connections", _BUSY_SECONDS)
"""Written straight to a connection above the cap, from the accepting thread, without reading."""


@dataclass(frozen=True)
class WebhookOptions:
    secret: bytes = field(repr=False)
    previous_secret: bytes | None = field(default=None, repr=False)
    """The secret before a rotation, still accepted until every sender has the new one."""
    host: str = "127.0.0.1"
    port: int = 8088
    max_bytes: int = 256 * 1024
    request_timeout: float = 10.0
    """Seconds for a whole request (headers and body) to arrive; slower ones are cut off."""
    max_connections: int = 64
    """Connections served at once (one thread each); more are answered 503 on connect."""
    tolerance: float = 300.0
    """Seconds a signature's timestamp may differ from our clock: the replay window."""

    @property
    def secrets(self) -> tuple[bytes, ...]:
        return (self.secret, self.previous_secret) if self.previous_secret else (self.secret,)


def _signed_bytes(timestamp: int | str, path: str, body: bytes) -> bytes:
    # The timestamp as sent (a str when checking), so leading zeros cannot make a mismatch.
    return f"{timestamp}.{path}.".encode() + body


def sign(secret: bytes, timestamp: int, path: str, body: bytes) -> str:
    """The ``X-Townsquare-Signature`` value a sender computes for a POST of ``body`` to ``path``."""
    digest = hmac.new(secret, _signed_bytes(timestamp, path, body), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def check_signature(
    secrets: Sequence[bytes],
    header: str | None,
    path: str,
    body: bytes,
    *,
    tolerance: float = 300.0,
    now: float | None = None,
) -> str | None:
    """Why the request is refused (a message for the sender), or None when it is authentic.

    The timestamp is judged only after the HMAC matched, so "too old" is said
    only of a request we know was signed with our secret: a sender whose clock
    is off learns that, a forger learns nothing.
    """
    usage = f"expected {SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256>"
    if not header:
        return f"missing {SIGNATURE_HEADER}; {usage}"
    timestamps: list[str] = []
    candidates: list[bytes] = []
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            return f"malformed {SIGNATURE_HEADER}; {usage}"
        if name == "t":
            timestamps.append(value.strip())
        elif name == "v1":
            candidates.append(value.strip().lower().encode("utf-8", "replace"))
    if len(timestamps) != 1 or not _DIGITS.fullmatch(timestamps[0]) or not candidates:
        return f"malformed {SIGNATURE_HEADER}; {usage}"
    if len(candidates) > _MAX_SIGNATURES:
        return f"more than {_MAX_SIGNATURES} v1 signatures in {SIGNATURE_HEADER}"
    signed = _signed_bytes(timestamps[0], path, body)
    matched = False
    for secret in secrets:
        expected = hmac.new(secret, signed, hashlib.sha256).hexdigest().encode("ascii")
        for candidate in candidates:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        return f"wrong signature; {usage} of f'{{t}}.{{path}}.' + body"
    skew = (time.time() if now is None else now) - int(timestamps[0])
    if skew > tolerance:
        return f"signature timestamp too old: {skew:.0f}s behind (tolerance {tolerance:.0f}s)"
    if skew < -tolerance:
        return f"signature timestamp too new: {-skew:.0f}s ahead (tolerance {tolerance:.0f}s)"
    return None


def as_message(body: dict[str, Any]) -> dict[str, Any]:
    """The adapter payload for a pushed object; a delete notice becomes a ``kind: delete`` post."""
    if body.get("type") != "delete":
        return body
    author_id = body.get("author_id")
    return {
        "platform": body.get("platform"),
        "id": body.get("id"),
        "kind": "delete",
        "author": {"id": author_id if author_id is not None else "unknown"},
        "created_at": body.get("deleted_at") or datetime.now(UTC).isoformat(),
    }


def partition_key(message: dict[str, Any]) -> str | None:
    platform = message.get("platform")
    native = message.get("conversation_id") or message.get("id")
    if not isinstance(platform, str) or not isinstance(native, str | int) or not native:
        return None
    native = str(native)
    return native if native.startswith(f"{platform}:") else f"{platform}:{native}"


class _DeadlineReader(io.RawIOBase):
    """The connection's reads, each waiting only for what is left of the request's time.

    A per-read timeout restarts with every byte, so a client that trickles
    bytes holds the connection forever; this one cannot outlast ``deadline``.
    """

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock
        self.deadline = math.inf
        self.timed_out = False
        self.received = 0
        """Bytes since ``start``: tells a cut-off request from an idle kept-alive connection."""

    def start(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.timed_out = False
        self.received = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.timed_out = True
            raise TimeoutError("the request did not arrive within its deadline")
        self._sock.settimeout(remaining)
        try:
            count = self._sock.recv_into(buffer)
        except TimeoutError:
            self.timed_out = True
            raise
        self.received += count
        return count


class _Server(HTTPServer):
    """An HTTP server with one thread per connection, and at most ``max_connections`` of them."""

    request_queue_size = 128
    """The listen backlog: the stdlib's 5 would make a burst of connects wait out SYN retries."""

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        max_connections: int,
        on_refused: Callable[[], None],
    ) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(max_connections)
        self._on_refused = on_refused
        self._warned_at = -math.inf

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self._refuse(request)
            return
        thread = threading.Thread(
            target=self._serve, args=(request, client_address), name=CONNECTION_THREAD, daemon=True
        )
        try:
            thread.start()
        except BaseException:
            self._slots.release()
            raise

    def _serve(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The stdlib prints to stderr; a bug here belongs in the structured log.
        log.exception("webhook connection from %s failed", client_address)

    def _refuse(self, request: socket.socket) -> None:
        """Answer 503 from the accepting thread without blocking it, then close."""
        self._on_refused()
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            log.warning("webhook receiver at its connection cap: answering new connections 503")
        try:
            request.setblocking(False)
            with contextlib.suppress(OSError):
                request.recv(_CHUNK)  # what already came, so the close is less likely a reset
            request.send(_BUSY)
        except OSError:
            pass
        finally:
            self.shutdown_request(request)


class WebhookReceiver:
    """The HTTP server; ``start()`` serves in a thread, ``close()`` stops and flushes."""

    def __init__(
        self,
        settings: Settings,
        options: WebhookOptions,
        limits: RunLimits | None = None,
        stopper: Stopper | None = None,
    ) -> None:
        if not options.secret:
            raise ValueError("the webhook secret is empty: set TOWNSQUARE_WEBHOOK_SECRET")
        if options.request_timeout <= 0 or options.max_connections < 1 or options.tolerance < 0:
            raise ValueError("request_timeout and max_connections must be positive, tolerance >= 0")
        self.opts = options
        self.limits = limits or RunLimits()
        self.stopper = stopper or Stopper(self.limits.max_runtime)
        self.outbox = Outbox.open(settings, "webhook", self.limits, self.stopper)
        self.failure: DeliveryError | None = None
        """Set when Kafka refused a record for good; the receiver has stopped."""
        self.rejected = 0
        self._lock = threading.Lock()
        self._httpd = _Server(
            (options.host, options.port), self._handler(), options.max_connections, self._reject
        )
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def accepted(self) -> int:
        """Posts Kafka acknowledged (each got its 202)."""
        return self.outbox.sent

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        log.info("webhook receiver listening on %s", self.url)
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)
        self.outbox.close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _reject(self) -> None:
        with self._lock:
            self.rejected += 1

    def accept(self, source: str, message: dict[str, Any]) -> None:
        """Send and wait for Kafka's acknowledgement (raises if it does not come).

        :class:`OverflowError` at the post limit; :class:`DeliveryError` when
        Kafka did not take the post; if it refused it for good, the receiver
        also stops (``failure`` says why).
        """
        context = {"webhook_source": source}
        try:
            delivered = self.outbox.deliver(FORMAT, message, partition_key(message), context)
        except DeliveryError as exc:
            if self.outbox.broken:
                self.failure = exc
                self.stopper.stop()
            raise
        if not delivered:
            raise OverflowError("post limit reached")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self
        options = self.opts

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "townsquare-webhook"
            sys_version = ""
            _reader: _DeadlineReader

            def setup(self) -> None:
                super().setup()
                self.rfile.close()  # replaced: the stdlib file would read without a deadline
                self._reader = _DeadlineReader(self.connection)
                self.rfile = io.BufferedReader(self._reader)

            def handle_one_request(self) -> None:
                self._reader.start(options.request_timeout)
                try:
                    super().handle_one_request()
                except OSError as exc:  # the client went away; nothing to answer
                    log.debug("webhook connection from %s ended: %s", self.address_string(), exc)
                    self.close_connection = True
                if self._reader.timed_out:
                    self.close_connection = True  # closed without an answer: it was too slow
                    if self._reader.received:  # an idle kept-alive connection is no rejection
                        receiver._reject()
                        log.debug("cut off %s at the request deadline", self.address_string())

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s " + format, self.address_string(), *args)

            def _answer(self, status: int, message: str, close: bool = False, **extra: str) -> None:
                if status >= 400:
                    receiver._reject()
                body = json.dumps({"status": status, "message": message}).encode()
                self.connection.settimeout(options.request_timeout)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in extra.items():
                    self.send_header(name.replace("_", "-"), value)
                if close:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/healthz":
                    self._answer(200, "ok")
                else:
                    self._answer(404, "not found; POST /webhook/<source> or GET /healthz")

            def handle_expect_100(self) -> bool:
                # Refuse before the client sends the body, not after it did.
                if self.command == "POST" and (
                    self._source() is None or self._content_length() is None
                ):
                    return False
                return super().handle_expect_100()

            def _source(self) -> str | None:
                """The source named by the path, or None after answering 404 (and closing)."""
                match = _SOURCE.match(self.path)
                if match is None:
                    self._answer(404, "not found; POST /webhook/<source>", True)
                    return None
                return match.group(1)

            def _content_length(self) -> int | None:
                """The declared length, or None after answering why it is refused (and closing)."""
                if self.headers.get("Transfer-Encoding"):
                    self._answer(411, "send a Content-Length (chunked bodies are refused)", True)
                    return None
                lengths = self.headers.get_all("Content-Length") or []
                if not lengths:
                    self._answer(411, "Content-Length required", True)
                    return None
                raw = lengths[0].strip(" \t")  # optional whitespace is allowed around a value
                if len(lengths) > 1 or not _DIGITS.fullmatch(raw):
                    self._answer(400, "bad Content-Length: one value of ASCII digits", True)
                    return None
                length = int(raw)
                if length > options.max_bytes:
                    self._answer(413, f"body above {options.max_bytes} bytes", True)
                    return None
                return length

            def _read_body(self) -> bytes | None:
                """The body, or None after answering why it was refused (or the client left)."""
                length = self._content_length()
                if length is None:
                    return None
                body = self.rfile.read(length) if length else b""
                if len(body) < length:
                    self.close_connection = True
                    return None
                return body

            def do_POST(self) -> None:
                source = self._source()
                if source is None:
                    return
                body = self._read_body()
                if body is None:
                    return
                problem = check_signature(
                    options.secrets,
                    self.headers.get(SIGNATURE_HEADER),
                    self.path,
                    body,
                    tolerance=options.tolerance,
                )
                if problem is not None:
                    self._answer(401, problem)
                    return
                try:
                    value = parse_json_object(body, options.max_bytes, "webhook body")
                except AdapterError as exc:
                    self._answer(400, f"the body must be one UTF-8 JSON object ({exc})")
                    return
                try:
                    receiver.accept(source, as_message(value))
                except OverflowError:
                    self._answer(503, "not accepting posts now", Retry_After="30")
                    return
                except Exception as exc:
                    log.error("Kafka did not acknowledge a pushed post: %s", exc)
                    self._answer(503, "could not store the post; retry later", Retry_After="5")
                    return
                self._answer(202, "accepted")

        return Handler


def run_webhook(
    settings: Settings, options: WebhookOptions, limits: RunLimits, stopper: Stopper | None = None
) -> RunReport:
    """Serve until SIGTERM, ``max_runtime`` or ``max_posts`` accepted posts."""
    started = time.monotonic()
    stopper = stopper or Stopper(limits.max_runtime)
    receiver = WebhookReceiver(settings, options, limits, stopper).start()
    try:
        while stopper.sleep(0.5):
            pass
    finally:
        receiver.close()
    if receiver.failure is not None:
        raise receiver.failure
    return RunReport(receiver.accepted, receiver.rejected, time.monotonic() - started, None)
