"""A signed webhook receiver for platforms that push: ``POST /webhook/<source>``.

Each request carries one JSON object (the shape of
:mod:`processors.adapters.webhook`) signed with HMAC-SHA256 over the raw body:
``X-Townsquare-Signature: sha256=<hex>``, keyed by ``TOWNSQUARE_WEBHOOK_SECRET``.
Answers, cheapest check first so a hostile sender costs little:

- 413 when ``Content-Length`` is above ``max_bytes`` (the body is not read);
  411 without a length; the body is read in chunks and never past the limit;
- 401 on a missing or wrong signature (compared in constant time);
- 400 when the body is not a UTF-8 JSON object;
- 202 only after Kafka acknowledged the raw envelope (the :class:`Outbox`
  every source sends through waits for this record's acknowledgement), so a
  202 means the post is durable; 503 with ``Retry-After`` when Kafka cannot
  take it, so the sender retries. When Kafka refused a record for good the
  outbox is broken: the receiver stops and exits non-zero, so the platform
  restarts it, instead of answering every later push with a 503.

A delete notice ``{"type": "delete", "platform": P, "id": ID, "author_id"?,
"deleted_at"?}`` becomes a webhook ``kind: "delete"`` message.

Resumes from: nothing — the sender holds the state. On a crash, requests in
flight got no 202 and are retried by a well-behaved sender (possibly sent
twice: ids are stable); nothing is lost that was answered 202. The body is
not deduplicated here; that happens downstream by post id. There is no
replay window on signatures: a captured request can be replayed, which only
resends the same post.

Partition key: ``<platform>:<conversation_id>``, else ``<platform>:<id>``.
``GET /healthz`` answers 200 for probes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from streams.settings import Settings
from streams.sources.base import DeliveryError, Outbox, RunLimits, RunReport, Stopper

log = logging.getLogger("townsquare.ingest.webhook")

FORMAT = "webhook"
SIGNATURE_HEADER = "X-Townsquare-Signature"
_SOURCE = re.compile(r"^/webhook/([a-z0-9][a-z0-9_-]{0,31})/?$")
_CHUNK = 64 * 1024
_DRAIN_LIMIT = 1024 * 1024
"""Bytes of an oversized body read and thrown away before answering 413 and closing."""


@dataclass(frozen=True)
class WebhookOptions:
    secret: bytes
    host: str = "127.0.0.1"
    port: int = 8088
    max_bytes: int = 256 * 1024
    read_timeout: float = 10.0


def sign(secret: bytes, body: bytes) -> str:
    """The signature header value a sender computes for ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = sign(secret, body).encode("ascii")
    return hmac.compare_digest(expected, header.strip().encode("utf-8", "replace"))


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
        self.opts = options
        self.limits = limits or RunLimits()
        self.stopper = stopper or Stopper(self.limits.max_runtime)
        self.outbox = Outbox.open(settings, "webhook", self.limits, self.stopper)
        self.failure: DeliveryError | None = None
        """Set when Kafka refused a record for good; the receiver has stopped."""
        self.rejected = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((options.host, options.port), self._handler())
        self._httpd.daemon_threads = True
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
            timeout = options.read_timeout
            server_version = "townsquare-webhook"
            sys_version = ""

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s " + format, self.address_string(), *args)

            def _answer(self, status: int, message: str, close: bool = False, **extra: str) -> None:
                if status >= 400:
                    with receiver._lock:
                        receiver.rejected += 1
                body = json.dumps({"status": status, "message": message}).encode()
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

            def _read_body(self) -> bytes | None:
                """The body, or None after answering why it was refused."""
                if self.headers.get("Transfer-Encoding"):
                    self._answer(411, "send a Content-Length (chunked bodies are refused)", True)
                    return None
                raw_length = self.headers.get("Content-Length")
                if raw_length is None:
                    self._answer(411, "Content-Length required", True)
                    return None
                try:
                    length = int(raw_length)
                except ValueError:
                    length = -1
                if length < 0:
                    self._answer(400, "bad Content-Length", True)
                    return None
                if length > options.max_bytes:
                    self._drain(min(length, options.max_bytes + _DRAIN_LIMIT))
                    self._answer(413, f"body above {options.max_bytes} bytes", True)
                    return None
                chunks: list[bytes] = []
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(_CHUNK, remaining))
                    if not chunk:
                        self.close_connection = True
                        return None
                    chunks.append(chunk)
                    remaining -= len(chunk)
                return b"".join(chunks)

            def _drain(self, count: int) -> None:
                """Discard up to ``count`` bytes, so the client reads our 413 instead of a reset."""
                while count > 0:
                    chunk = self.rfile.read(min(_CHUNK, count))
                    if not chunk:
                        return
                    count -= len(chunk)

            def do_POST(self) -> None:
                match = _SOURCE.match(self.path)
                if match is None:
                    self._answer(404, "not found; POST /webhook/<source>", True)
                    return
                try:
                    body = self._read_body()
                except TimeoutError:
                    self.close_connection = True
                    return
                if body is None:
                    return
                if not signature_ok(options.secret, body, self.headers.get(SIGNATURE_HEADER)):
                    self._answer(401, f"missing or wrong {SIGNATURE_HEADER} (sha256=<hex HMAC>)")
                    return
                try:
                    value = json.loads(body.decode("utf-8"))
                except (UnicodeDecodeError, ValueError, RecursionError):
                    self._answer(400, "the body is not UTF-8 JSON")
                    return
                if not isinstance(value, dict):
                    self._answer(400, "the body must be one JSON object")
                    return
                try:
                    receiver.accept(match.group(1), as_message(value))
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
