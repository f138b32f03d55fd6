"""Local stand-ins for the platforms, on 127.0.0.1, replaying recorded-style payloads.

``HttpServer`` serves REST, listings, feeds, server-sent events and
newline-delimited streams from Python route functions; ``JetstreamServer``
is a websocket server (the ``websockets`` library) replaying Jetstream
events from a cursor. Both record every request they saw (path, query,
headers, time), can answer 429 with ``Retry-After`` a set number of times,
and can drop a connection mid-stream. Streams end by themselves after a
bounded hold, so nothing here runs unbounded.

The ``*_fixtures`` functions build longer timelines from the recorded
payloads under tests/fixtures/payloads (fictional content), with ids that
increase the way each platform's do.
"""

from __future__ import annotations

import copy
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import chain
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

PAYLOADS = Path(__file__).resolve().parents[2] / "fixtures" / "payloads"


@dataclass(frozen=True)
class Seen:
    """One request a local server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float
    """``time.monotonic()`` when it arrived (for gaps)."""
    wall: float = field(default_factory=time.time)
    """``time.time()`` when it arrived (against epoch reset headers)."""


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterable[bytes] | None = None
    """Chunks written one by one (chunked encoding): SSE and newline-delimited streams."""
    drop: bool = False
    """After the stream, cut the connection without finishing the body (a network drop)."""
    length: int | None = None
    """With ``stream``: announce this Content-Length and write the chunks raw (not chunked)."""


Route = Callable[[Seen], Reply]


def json_reply(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        status, json.dumps(value).encode(), {"Content-Type": "application/json", **(headers or {})}
    )


class HttpServer:
    """A threaded HTTP server whose routes (longest path prefix wins) are Python functions."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        self.closing = threading.Event()
        self._throttles: dict[str, list[dict[str, str]]] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(self, prefix: str, handler: Route) -> None:
        self.routes[prefix] = handler

    def throttle(self, prefix: str, headers: dict[str, str], times: int = 1) -> None:
        """The next ``times`` requests under ``prefix`` get 429 with ``headers``."""
        with self._lock:
            self._throttles.setdefault(prefix, []).extend([headers] * times)

    def seen(self, prefix: str = "/") -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def hold(self, seconds: float, beat: bytes, every: float = 0.1) -> Iterator[bytes]:
        """Heartbeats for at most ``seconds`` (a quiet but open stream)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self.closing.is_set():
            yield beat
            time.sleep(every)

    def stream_route(
        self,
        prefix: str,
        connections: list[tuple[list[bytes], bool]],
        *,
        beat: bytes,
        content_type: str,
    ) -> None:
        """Connection n sends ``connections[n]`` (chunks, drop?); later ones only heartbeat.

        A connection that does not drop holds open with ``beat`` after its chunks.
        """
        count = {"n": 0}

        def handler(seen: Seen) -> Reply:
            n = count["n"]
            count["n"] += 1
            chunks, drop = connections[n] if n < len(connections) else ([], False)
            body = chunks if drop else chain(chunks, self.hold(20, beat))
            return Reply(200, headers={"Content-Type": content_type}, stream=body, drop=drop)

        self.route(prefix, handler)

    def __enter__(self) -> HttpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _dispatch(self, seen: Seen) -> Reply:
        with self._lock:
            self.requests.append(seen)
            for prefix, queue in self._throttles.items():
                if seen.path.startswith(prefix) and queue:
                    return Reply(429, b'{"error": "Too many requests"}', queue.pop(0))
        matches = [p for p in self.routes if seen.path.startswith(p)]
        if not matches:
            return Reply(404, b'{"error": "Record not found"}')
        return self.routes[max(matches, key=len)](seen)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = server._dispatch(Seen("GET", parts.path, query, headers, time.monotonic()))
                try:
                    self._write(reply)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def _write(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.stream is None:
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    return
                if reply.length is None:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(reply.length))
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                for chunk in reply.stream:
                    if server.closing.is_set():
                        break
                    if reply.length is None:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    else:
                        self.wfile.write(chunk)
                    self.wfile.flush()
                if reply.length is not None:
                    return
                if reply.drop:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(b"0\r\n\r\n")

        return Handler


# --- websocket (Jetstream) ------------------------------------------------------------


class JetstreamServer:
    """Jetstream over a websocket: replays events with ``time_us >= cursor``, like the real one.

    ``drops[n]`` cuts connection ``n`` after that many events (None: send all,
    then stay open quietly); ``extra_frames`` are sent first on every
    connection (malformed input); ``throttle(n)`` refuses the next ``n``
    handshakes with 429 and ``Retry-After``.
    """

    def __init__(
        self,
        events: list[dict[str, Any]],
        drops: list[int | None] | None = None,
        extra_frames: list[str] | None = None,
        hold: float = 20.0,
    ) -> None:
        from websockets.sync.server import serve

        self.events = events
        self.drops = drops or []
        self.extra_frames = extra_frames or []
        self.hold = hold
        self.requests: list[Seen] = []
        self.connections = 0
        self._throttle: list[str] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = serve(
            self._handle, "127.0.0.1", 0, process_request=self._process_request, compression=None
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/subscribe"

    def throttle(self, retry_after: str = "1", times: int = 1) -> None:
        with self._lock:
            self._throttle.extend([retry_after] * times)

    def _process_request(self, connection: Any, request: Any) -> Any:
        parts = urlsplit(request.path)
        query = {k: ",".join(v) for k, v in parse_qs(parts.query).items()}
        headers = {k.lower(): v for k, v in request.headers.raw_items()}
        with self._lock:
            self.requests.append(Seen("GET", parts.path, query, headers, time.monotonic()))
            if self._throttle:
                response = connection.respond(429, "Too many requests\n")
                response.headers["Retry-After"] = self._throttle.pop(0)
                return response
        return None

    def _handle(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        with self._lock:
            index = self.connections
            self.connections += 1
        query = parse_qs(urlsplit(connection.request.path).query)
        cursor = int(query["cursor"][0]) if "cursor" in query else None
        wanted = set(",".join(query.get("wantedCollections", [])).split(","))
        drop = self.drops[index] if index < len(self.drops) else None
        try:
            for frame in self.extra_frames:
                connection.send(frame)
            sent = 0
            for event in self.events:
                if cursor is not None and event["time_us"] < cursor:
                    continue
                collection = (event.get("commit") or {}).get("collection")
                if collection is not None and wanted - {""} and collection not in wanted:
                    continue
                if drop is not None and sent >= drop:
                    connection.socket.shutdown(socket.SHUT_RDWR)
                    return
                connection.send(json.dumps(event))
                sent += 1
            end = time.monotonic() + self.hold
            while time.monotonic() < end and not self._closing.is_set():
                try:
                    connection.recv(timeout=0.1)
                except TimeoutError:
                    continue
        except (ConnectionClosed, OSError):
            return

    def __enter__(self) -> JetstreamServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._server.shutdown()
        self._thread.join(timeout=5)


# --- recorded-style timelines ---------------------------------------------------------


def _lines(name: str) -> list[dict[str, Any]]:
    text = (PAYLOADS / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def mastodon_statuses(count: int) -> list[dict[str, Any]]:
    """``count`` statuses shaped like the recorded ones; every third replies to the one before."""
    events = [e for e in _lines("mastodon_stream.jsonl") if e["event"] == "update"]
    template = json.loads(events[1]["payload"])
    out = []
    base = 112233445566780000
    for n in range(count):
        status = copy.deepcopy(template)
        status["id"] = str(base + n * 7)
        status["url"] = f"https://harbour.social/@mira_lindqvist/{status['id']}"
        status["content"] = f"<p>Quay Road footbridge update number {n} #Northvale</p>"
        reply = n % 3 == 2
        status["in_reply_to_id"] = out[-1]["id"] if reply else None
        status["in_reply_to_account_id"] = "90001" if reply else None
        out.append(status)
    return out


def jetstream_events(count: int) -> list[dict[str, Any]]:
    """``count`` post commits a second apart; every other one replies to the first."""
    template = _lines("bluesky_jetstream.jsonl")[1]
    out = []
    start = 1725911162329308
    root_uri = template["commit"]["record"]["reply"]["root"]["uri"]
    for n in range(count):
        event = copy.deepcopy(template)
        event["time_us"] = start + n * 1_000_000
        event["commit"]["rkey"] = f"3l3qo{n:04d}aa2b"
        record = event["commit"]["record"]
        record["text"] = f"Riverbank clean-up note {n} #RiverbankDay"
        record.pop("facets", None)
        if n % 2:
            record["reply"]["root"]["uri"] = root_uri
        else:
            record.pop("reply")
        out.append(event)
    return out


def reddit_children(count: int, subreddit: str = "northvale") -> list[dict[str, Any]]:
    """Submissions and comments, oldest first, fullnames in base-36 order like Reddit's."""
    listing = json.loads((PAYLOADS / "reddit_listing.json").read_text(encoding="utf-8"))
    post, comment = listing["data"]["children"][0], listing["data"]["children"][2]
    out: list[dict[str, Any]] = []
    for n in range(count):
        child = copy.deepcopy(post if n % 2 == 0 else comment)
        data = child["data"]
        data["id"] = f"1cq{n:04d}"
        data["name"] = f"{child['kind']}_{data['id']}"
        data["created_utc"] = 1715590800.0 + 60 * n
        data["subreddit"] = subreddit
        if child["kind"] == "t1":
            data["link_id"] = out[-1]["data"]["name"]
            data["parent_id"] = out[-1]["data"]["name"]
            data["body"] = f"Comment {n}: same on my street"
        else:
            data["title"] = f"Missed bin report {n}"
        out.append(child)
    return out


def x_tweets(count: int) -> list[dict[str, Any]]:
    """Filtered-stream messages with increasing snowflake ids; replies share a conversation."""
    template = _lines("x_v2_stream.jsonl")[0]
    out = []
    base = 1790011111111111111
    for n in range(count):
        message = copy.deepcopy(template)
        tweet = message["data"]
        tweet["id"] = str(base + n * 1000)
        tweet["text"] = f"Replacement buses update {n} #Fernhill"
        tweet["conversation_id"] = out[0]["data"]["id"] if n % 2 and out else tweet["id"]
        tweet.pop("entities", None)
        out.append(message)
    return out


def rss_document(items: list[tuple[str, str]], title: str = "Kestrel Bay Food Bank blog") -> bytes:
    """An RSS 2.0 feed of ``(guid, title)`` items, newest first as blogs publish them."""
    body = "".join(
        f"<item><title>{t}</title><link>https://kestrelbayfoodbank.example/blog/{n}</link>"
        f'<guid isPermaLink="false">{g}</guid>'
        f"<pubDate>Mon, 03 Jun 2024 09:{n % 60:02d}:00 +0100</pubDate>"
        f"<dc:creator>Joanna Whitby</dc:creator><description>{t} details</description></item>"
        for n, (g, t) in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{title}</title><link>https://kestrelbayfoodbank.example/blog</link>"
        f"{body}</channel></rss>"
    ).encode()


def sse(event: str, data: str) -> bytes:
    lines = "".join(f"data: {part}\n" for part in data.split("\n"))
    return f"event: {event}\n{lines}\n".encode()


def raw_envelopes(settings: Any) -> list[tuple[str | None, Any]]:
    """``(key, RawEnvelope)`` for every record on the raw topic."""
    from support import read_topic

    from schemas.models import RawEnvelope

    return [
        (key, RawEnvelope.model_validate_json(value))
        for key, value in read_topic(settings, "posts.raw")
    ]
