"""Slow and surplus clients cannot hold the webhook receiver (loopback, real Kafka behind it).

A slowloris sends a byte just often enough to beat any per-read timeout; only a
deadline on the whole request cuts it off, and only a cap on connections bounds
the threads it can pin meanwhile.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx
import pytest
from servers import PAYLOADS
from support import Isolated, wait_for

from streams.sources.webhook import (
    CONNECTION_THREAD,
    SIGNATURE_HEADER,
    WebhookOptions,
    WebhookReceiver,
    sign,
)

pytestmark = pytest.mark.integration

SECRET = b"slow-client-secret"
BODY = (PAYLOADS / "webhook.json").read_bytes()
GIVE_UP = 8.0
"""A trickling client stops by itself after this long: the test never hangs on a held connection."""
INTERVAL = 0.5

_HEADERS_NEVER_END = b"POST /webhook/forum HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 200
_BODY_NEVER_ENDS = (
    b"POST /webhook/forum HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n" + b"{" * 200
)


def _connection_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == CONNECTION_THREAD)


class ThreadPeak:
    """The most threads while sampling: all of the process's, and the receiver's connection ones."""

    def __init__(self) -> None:
        self.peak = threading.active_count()
        self.connections = _connection_threads()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, threading.active_count())
            self.connections = max(self.connections, _connection_threads())

    @contextmanager
    def sampling(self) -> Iterator[ThreadPeak]:
        self._thread.start()
        try:
            yield self
        finally:
            self._done.set()
            self._thread.join(timeout=5)


def _address(receiver: WebhookReceiver) -> tuple[str, int]:
    parts = urlsplit(receiver.url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def _trickle(address: tuple[str, int], payload: bytes) -> tuple[float, bytes]:
    """Send ``payload`` a byte every INTERVAL until the server answers or closes.

    Returns how long the connection was held and what the server said (b"" if
    it just closed); GIVE_UP seconds means it was still open when we gave up.
    """
    with socket.create_connection(address, timeout=5) as sock:
        started = time.monotonic()
        for byte in payload:
            if time.monotonic() - started >= GIVE_UP:
                break
            try:
                sock.sendall(bytes([byte]))
                readable, _, _ = select.select([sock], [], [], INTERVAL)
                if readable:
                    return time.monotonic() - started, sock.recv(4096)
            except OSError:
                return time.monotonic() - started, b""
        return GIVE_UP, b""


def _signed_post(receiver: WebhookReceiver) -> httpx.Response:
    path = "/webhook/forum"
    header = sign(SECRET, int(time.time()), path, BODY)
    return httpx.post(
        receiver.url + path, content=BODY, headers={SIGNATURE_HEADER: header}, timeout=10
    )


@pytest.mark.parametrize("payload", [_HEADERS_NEVER_END, _BODY_NEVER_ENDS], ids=["headers", "body"])
def test_trickling_clients_are_cut_off_at_the_request_deadline(
    iso: Isolated, payload: bytes
) -> None:
    options = WebhookOptions(secret=SECRET, port=0, request_timeout=2.0)
    with WebhookReceiver(iso.settings, options) as receiver:
        baseline = threading.active_count()
        address = _address(receiver)
        with ThreadPeak().sampling() as threads, ThreadPoolExecutor(30) as pool:
            clients = [pool.submit(_trickle, address, payload) for _ in range(30)]
            time.sleep(0.5)
            # An honest sender is served while the trickling connections are open.
            assert _signed_post(receiver).status_code == 202
            held = [future.result(timeout=GIVE_UP + 5)[0] for future in clients]
        # Every slow connection was closed by the deadline (2 s), none lasted to GIVE_UP.
        assert max(held) < 3.0, held
        assert min(held) >= 1.5, held
        # At most one receiver thread per open connection, and all of them gone after.
        assert threads.connections <= 30 + 1, threads.connections  # + the honest post
        assert wait_for(lambda: _connection_threads() == 0, timeout=5, interval=0.1)
        print(
            f"\n30 slow clients ({payload[:4]!r}...): held {min(held):.2f}-{max(held):.2f}s; "
            f"connection threads peak {threads.connections}; "
            f"process threads baseline {baseline}, peak {threads.peak}"
        )


def test_connections_above_the_cap_are_answered_503_at_once(iso: Isolated) -> None:
    options = WebhookOptions(secret=SECRET, port=0, request_timeout=2.0, max_connections=4)
    with WebhookReceiver(iso.settings, options) as receiver:
        address = _address(receiver)
        with ThreadPoolExecutor(30) as pool:
            baseline = threading.active_count()  # the pool starts its threads lazily
            with ThreadPeak().sampling() as threads:
                slow = [pool.submit(_trickle, address, _HEADERS_NEVER_END) for _ in range(4)]
                time.sleep(0.5)  # the four hold every slot now
                started = time.monotonic()
                surplus = [pool.submit(_trickle, address, _HEADERS_NEVER_END) for _ in range(26)]
                answers = [future.result(timeout=GIVE_UP + 5) for future in surplus]
                surplus_seconds = time.monotonic() - started
                held = [future.result(timeout=GIVE_UP + 5)[0] for future in slow]
        for seconds, answer in answers:
            assert seconds < 1.0
            assert answer.startswith(b"HTTP/1.1 503 "), answer
            assert b"Retry-After: " in answer
        assert max(held) < 3.0, held
        # At most 4 receiver threads, however many connections came in.
        assert threads.connections <= 4, threads.connections
        assert threads.peak - baseline <= 30 + 1 + 4, (threads.peak, baseline)
        # The slots come back: once the slow ones are cut off, posts are served again.
        assert _signed_post(receiver).status_code == 202
        assert receiver.rejected >= 30
        print(
            f"\ncap 4: 26 surplus connections answered 503 in {surplus_seconds:.2f}s; "
            f"4 slow held {max(held):.2f}s; connection threads peak {threads.connections}; "
            f"process threads baseline {baseline}, peak {threads.peak}"
        )


def test_the_deadline_is_per_request_on_a_kept_alive_connection(iso: Isolated) -> None:
    options = WebhookOptions(secret=SECRET, port=0, request_timeout=1.0)
    with WebhookReceiver(iso.settings, options) as receiver, httpx.Client(timeout=10) as client:
        path = "/webhook/forum"
        ports: set[int] = set()
        for _ in range(3):  # 3 x 0.6 s on one connection: longer than one deadline in all
            header = sign(SECRET, int(time.time()), path, BODY)
            response = client.post(
                receiver.url + path, content=BODY, headers={SIGNATURE_HEADER: header}
            )
            assert response.status_code == 202
            assert response.headers.get("Connection") != "close"
            stream = response.extensions["network_stream"]
            ports.add(stream.get_extra_info("client_addr")[1])
            time.sleep(0.6)
        assert len(ports) == 1  # the same connection served all three
