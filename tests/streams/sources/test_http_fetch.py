"""Bounded fetches on loopback: the size cap, the overall deadline and checked redirects.

Unit-level (no Kafka): an :class:`HttpClient` against the local recorded-payload
server, or a raw socket where the server must misbehave below HTTP.
"""

from __future__ import annotations

import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator

import httpx
import pytest
from servers import HttpServer, Reply, Seen

from streams.backoff import Backoff
from streams.sources.base import Stopper
from streams.sources.http import FetchSkipped, HostRefused, HttpClient, refused_address

MIB = 1024 * 1024
LOCAL = "127.0.0.1"


def _client(**extra: object) -> HttpClient:
    options: dict[str, object] = {"allow_hosts": LOCAL, "deadline": 5.0, "max_bytes": MIB}
    options.update(extra)
    return HttpClient("test", Stopper(), Backoff(base=0.05, cap=0.1), **options)  # type: ignore[arg-type]


class Counted:
    """A 64 MiB body generated chunk by chunk (never held), counting what the server wrote."""

    def __init__(self, total: int = 64 * MIB, chunk: int = 64 * 1024) -> None:
        self.total, self.chunk, self.written = total, chunk, 0

    def __iter__(self) -> Iterator[bytes]:
        piece = b"<item>" + b"x" * (self.chunk - 6)
        while self.written < self.total:
            yield piece
            self.written += len(piece)  # counted once the write before it returned


@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "content-length"])
def test_a_body_above_the_cap_is_abandoned_after_about_the_cap(declared: bool) -> None:
    body = Counted()
    with HttpServer() as server:
        length = body.total if declared else None
        server.route("/big", lambda seen: Reply(200, stream=body, length=length))
        client = _client()
        tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(FetchSkipped) as caught:
                client.fetch(f"{server.url}/big")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            client.close()
        took = time.monotonic() - started
        time.sleep(0.2)  # let the server's write fail
    assert caught.value.reason == "body above the size cap"
    # The server got rid of the cap plus what the socket buffers held, far below 64 MiB.
    assert body.written < 16 * MIB
    if declared:
        assert body.written < 8 * MIB  # refused on the header, before the body was read
    assert peak < 6 * MIB
    assert took < 3


def test_a_body_at_the_cap_is_read_whole() -> None:
    with HttpServer() as server:
        server.route("/ok", lambda seen: Reply(200, stream=[b"y" * (MIB // 2)] * 2))
        client = _client()
        try:
            response = client.fetch(f"{server.url}/ok")
        finally:
            client.close()
    assert len(response.content) == MIB


def _trickle(seen: Seen) -> Reply:
    def body() -> Iterator[bytes]:
        for _ in range(30):
            yield b"x"
            time.sleep(1.0)

    return Reply(200, stream=body())


def test_a_body_trickled_a_byte_a_second_is_given_up_at_the_deadline() -> None:
    with HttpServer() as server:
        server.route("/slow", _trickle)
        client = _client(deadline=2.0)
        started = time.monotonic()
        try:
            with pytest.raises(FetchSkipped) as caught:
                client.get(f"{server.url}/slow")  # get: not retried, a skipped fetch
        finally:
            client.close()
        held = time.monotonic() - started
    assert caught.value.reason == "deadline passed"
    assert 1.9 < held < 3.0
    assert len(server.seen("/slow")) == 1


def test_headers_trickled_a_byte_a_second_are_given_up_at_the_deadline() -> None:
    """Below the body: no per-read timeout fires while a byte comes every second."""
    listener = socket.create_server((LOCAL, 0))
    port = listener.getsockname()[1]
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 60:
                if done.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(1.0)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = _client(deadline=2.0)
    started = time.monotonic()
    try:
        with pytest.raises(FetchSkipped, match="deadline"):
            client.fetch(f"http://{LOCAL}:{port}/")
        held = time.monotonic() - started
    finally:
        done.set()
        client.close()
        listener.close()
        thread.join(timeout=3)
    assert held < 3.0


def test_redirects_are_followed_hop_by_hop_and_the_final_url_kept() -> None:
    with HttpServer() as server:
        server.route("/a", lambda seen: Reply(301, headers={"Location": "/b?x=1"}))
        server.route("/b", lambda seen: Reply(302, headers={"Location": f"{server.url}/c"}))
        server.route("/c", lambda seen: Reply(200, b"here"))
        client = _client()
        try:
            response = client.fetch(f"{server.url}/a")
        finally:
            client.close()
        assert [s.path for s in server.seen("/")] == ["/a", "/b", "/c"]
        assert server.seen("/b")[0].query == {"x": "1"}
    assert (response.status_code, response.content) == (200, b"here")
    assert str(response.url) == f"{server.url}/c"


def test_a_redirect_to_a_host_not_allowed_is_refused_before_it_is_asked() -> None:
    with HttpServer() as feed, HttpServer() as other:
        port = other.url.rsplit(":", 1)[1]
        other.route("/", lambda seen: Reply(200, b"internal secrets"))
        for path, target in [
            ("/localhost", f"http://localhost:{port}/admin"),  # resolves to loopback
            ("/metadata", "http://169.254.169.254/latest/meta-data/"),
            ("/private", "http://10.0.0.7/"),
            ("/v6", "http://[::1]/"),
            ("/file", "file:///etc/passwd"),
        ]:
            feed.route(path, lambda seen, t=target: Reply(302, headers={"Location": t}))
        client = _client()
        try:
            for path in ("/localhost", "/metadata", "/private", "/v6", "/file"):
                with pytest.raises(FetchSkipped) as caught:
                    client.get(f"{feed.url}{path}")
                assert caught.value.reason in {"host refused", "redirect refused"}, path
        finally:
            client.close()
        assert other.seen("/") == []


def test_a_redirect_loop_ends_after_five_hops() -> None:
    with HttpServer() as server:
        server.route("/loop", lambda seen: Reply(302, headers={"Location": "/loop"}))
        client = _client()
        try:
            with pytest.raises(FetchSkipped, match="too many redirects"):
                client.fetch(f"{server.url}/loop")
        finally:
            client.close()
        assert len(server.seen("/loop")) == 6


def test_credentials_do_not_follow_a_redirect_to_another_origin() -> None:
    with HttpServer() as api, HttpServer() as elsewhere:
        api.route("/", lambda seen: Reply(302, headers={"Location": f"{elsewhere.url}/x"}))
        elsewhere.route("/", lambda seen: Reply(200, b"ok"))
        client = _client(headers={"Authorization": "Bearer secret"})
        try:
            client.fetch(f"{api.url}/")
        finally:
            client.close()
        assert api.seen("/")[0].headers["authorization"] == "Bearer secret"
        assert "authorization" not in elsewhere.seen("/")[0].headers


def test_the_first_url_is_checked_too_and_the_allow_list_lets_it_through() -> None:
    with HttpServer() as server:
        server.route("/", lambda seen: Reply(200, b"ok"))
        strict = _client(allow_hosts="")
        try:
            with pytest.raises(HostRefused, match="loopback"):
                strict.get(f"{server.url}/")
        finally:
            strict.close()
        assert server.seen("/") == []
    resolved = _client(allow_hosts="", resolver=lambda host, port: ["169.254.169.254"])
    with pytest.raises(HostRefused, match="link-local"):
        resolved.check_host(httpx.URL("https://metadata.example/"))
    by_name = _client(allow_hosts="metadata.example, ", resolver=lambda h, p: ["169.254.169.254"])
    by_name.check_host(httpx.URL("https://metadata.example/"))  # allowed: no error
    resolved.close()
    by_name.close()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fc00::1",
        "fe80::1%eth0",
        "::",
        "ff02::1",
        "::ffff:10.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refused_address(address) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert refused_address(address) is None
