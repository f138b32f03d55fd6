"""The notifier: alerts on the alerts topic reach local webhook receivers signed, once, or the DLQ.

Two layers. In process, :class:`Notifier` against ``httpx.MockTransport`` with
a recorded sleep: the retry loop's waits, its bound and its dead letters,
in milliseconds. Then a real ``townsquare worker --role notify`` against the
test session's broker, fed :class:`Alert` records we publish ourselves (the
alert stage is another piece of work), delivering to a receiver on
127.0.0.1 whose paths behave differently: always 200, 503 twice per alert and
then 200, always 503, and 400. Every wait is bounded.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.metadata
import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer
from pydantic import SecretStr
from support import Isolated, Servers, isolated, read_topic, running_worker, wait_for

from schemas.models import Alert, Condition, DeadLetter
from streams.cli.setup import run_setup
from streams.kafka_config import kafka_python_config
from streams.settings import Settings, WebhookOutput
from streams.steps.notify import max_delivery_seconds
from streams.topic_names import ALERTS, DLQ
from streams.worker.agents.notify import Notifier
from streams.worker.resources import Resources

SECRET = "s3cret-webhook-key-for-tests"
TOKEN = "T0KEN"
"""In every receiver path, as Slack puts a token there: it must never show in logs or DLQ."""
RETRIES = 2
ATTEMPTS = RETRIES + 1


def _alert(n: str, outputs: list[str], **overrides: Any) -> Alert:
    fields: dict[str, Any] = {
        "id": f"alert-{n}",
        "kind": "rule",
        "rule": "reply_recommended",
        "severity": "warning",
        "created_at": datetime(2026, 5, 1, 10, 0, tzinfo=UTC),
        "conversation_id": f"x:conv-{n}",
        "post_id": f"x:{n}",
        "platform": "x",
        "author_handle": "resident1",
        "summary": f"Alert {n}: a resident asks about the bins <!channel>",
        "why": [Condition(field="joinability.score", value="0.91")],
        "url": f"https://x.example/resident1/status/{n}",
        "outputs": outputs,
        **overrides,
    }
    return Alert.model_validate(fields)


def _receiver_verifies(secret: bytes, header: str, body: bytes, now: float) -> bool:
    """What a receiver runs (the README's snippet): HMAC of f"{t}." + body, t within 5 minutes."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret, parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(now - int(parts["t"])) <= 300


# --- in process: the retry loop -----------------------------------------------------------


class _FakeDlq:
    def __init__(self) -> None:
        self.sent: list[DeadLetter] = []

    async def send(self, *, key: str | None, value: bytes, headers: object = None) -> None:
        self.sent.append(DeadLetter.model_validate_json(value))


def _event(alert: Alert) -> Any:
    message = SimpleNamespace(
        key=(alert.conversation_id or "").encode(),
        value=alert.model_dump_json().encode(),
        topic="t.alerts.v1",
        partition=0,
        offset=7,
    )
    return SimpleNamespace(message=message)


def _notifier(
    answers: dict[str, list[httpx.Response]], retries: int
) -> tuple[Notifier, _FakeDlq, list[float], list[httpx.Request]]:
    """A notifier whose receivers answer from ``answers``: per output in turn, the last repeats."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        queue = answers[request.url.path.strip("/")]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    settings = Settings(
        alert_webhooks={
            name: WebhookOutput(url=f"http://receiver.test/{name}") for name in answers
        },
        alert_webhook_secret=SecretStr(SECRET),
        alert_webhook_retries=retries,
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    dlq = _FakeDlq()
    notifier = Notifier(
        SimpleNamespace(dlq=dlq),  # type: ignore[arg-type]  # only the DLQ is used
        Resources(settings, http=client),
        sleep=sleep,
        clock=lambda: 1_780_000_000.0,
    )
    return notifier, dlq, waits, seen


async def test_retries_stop_at_the_first_2xx_and_honour_retry_after() -> None:
    busy = httpx.Response(503, headers={"Retry-After": "7"})
    notifier, dlq, waits, seen = _notifier(
        {"ops": [busy, httpx.Response(500), httpx.Response(200)]}, 5
    )
    await notifier.handle(_event(_alert("1", ["ops"])))
    assert len(seen) == 3, "two failures, then one delivery, then nothing more"
    assert 7.0 <= waits[0] <= 8.0, "Retry-After is honoured (plus at most 1 s of jitter)"
    assert 0.0 <= waits[1] <= 2.0, "no Retry-After: jittered, capped at base * 2"
    assert dlq.sent == []
    for request in seen:
        assert _receiver_verifies(
            SECRET.encode(),
            request.headers["X-Townsquare-Signature"],
            request.content,
            1_780_000_000.0,
        )


async def test_a_receiver_that_never_succeeds_is_bounded_and_dead_lettered() -> None:
    huge = httpx.Response(429, headers={"Retry-After": "86400"})
    notifier, dlq, waits, seen = _notifier({"ops": [huge], "fine": [httpx.Response(204)]}, 5)
    await notifier.handle(_event(_alert("2", ["ops", "fine", "ops", "missing"])))
    ops = [r for r in seen if r.url.path == "/ops"]
    assert len(ops) == 6, "one try and five retries, the duplicate name delivered once"
    assert all(w <= 31.0 for w in waits), "a day-long Retry-After is capped"
    assert sum(waits) + 6 * 10.0 <= max_delivery_seconds(5)
    [letter] = dlq.sent
    assert (letter.stage, letter.reason) == ("notify", "webhook_failed")
    assert letter.error == "output 'ops': HTTP 429 after 6 attempts"
    assert "receiver.test" not in letter.model_dump_json()
    assert (letter.topic, letter.partition, letter.offset) == ("t.alerts.v1", 0, 7)
    assert Alert.model_validate_json(letter.payload).id == "alert-2"


async def test_a_4xx_is_final_and_a_transport_error_is_retried() -> None:
    notifier, dlq, waits, seen = _notifier({"gone": [httpx.Response(410)]}, 5)
    await notifier.handle(_event(_alert("3", ["gone"])))
    assert len(seen) == 1 and waits == []
    assert [(d.reason, d.error) for d in dlq.sent] == [
        ("webhook_refused", "output 'gone': HTTP 410, refused (not retried)")
    ]

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused to http://receiver.test/secret-path")

    notifier, dlq, waits, _ = _notifier({"down": [httpx.Response(200)]}, 2)
    notifier.resources._http = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    await notifier.handle(_event(_alert("4", ["down"])))
    assert len(waits) == 2
    [letter] = dlq.sent
    assert letter.error == "output 'down': ConnectError after 3 attempts", "no URL in it"


async def test_a_record_that_is_not_an_alert_is_dead_lettered() -> None:
    notifier, dlq, _, seen = _notifier({"ops": [httpx.Response(200)]}, 1)
    event = _event(_alert("5", ["ops"]))
    event.message.value = b'{"id": "x"}'
    await notifier.handle(event)
    bad_id = _event(_alert("6", ["ops"], id="two words"))
    await notifier.handle(bad_id)
    assert [d.reason for d in dlq.sent] == ["invalid_alert", "invalid_alert"]
    assert seen == []


# --- a real worker --------------------------------------------------------------------------


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int


@dataclass
class Receiver:
    """A webhook receiver on loopback; what each path answers is decided per alert id."""

    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, alert_id: str) -> tuple[int, dict[str, str]]:
        kind = path.rsplit("/", 1)[-1].split("-", 1)[0]
        if kind == "flaky":
            earlier = sum(
                1
                for h in self.hits
                if h.path == path and h.headers.get("x-townsquare-alert-id") == alert_id
            )
            return (503, {"Retry-After": "1"}) if earlier < 2 else (200, {})
        return {"down": (503, {}), "bad": (400, {})}.get(kind, (200, {}))

    def of(self, kind: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path.rsplit("/", 1)[-1].startswith(kind + "-")]


def _serve(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        timeout = 5  # a stuck request cannot hold a thread for long

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 1_000_000))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with receiver.lock:
                status, extra = receiver.answer(self.path, headers.get("x-townsquare-alert-id", ""))
                receiver.hits.append(Hit(self.path, headers, body, time.time(), status))
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="test-webhook-receiver", daemon=True).start()
    return server


@dataclass
class Run:
    iso: Isolated
    receiver: Receiver
    letters: list[DeadLetter]
    log: str


ALERTS_SENT = {
    "a1": _alert("a1", ["ok", "slack", "nowhere"]),
    "a2": _alert("a2", ["ok", "nowhere"]),
    "f1": _alert("f1", ["flaky"]),
    "f2": _alert("f2", ["flaky"]),
    "f3": _alert("f3", ["flaky"]),
    "d1": _alert("d1", ["down"], conversation_id="x:conv-d"),
    "d2": _alert("d2", ["ok"], conversation_id="x:conv-d"),
    "b1": _alert("b1", ["bad"]),
}


def _publish(settings: Settings, alerts: list[Alert]) -> None:
    producer = KafkaProducer(acks="all", **kafka_python_config(settings))
    try:
        for alert in alerts:  # one at a time: d1 must be before d2 on their partition
            producer.send(
                settings.topic(ALERTS),
                key=(alert.conversation_id or alert.id).encode(),
                value=alert.model_dump_json().encode(),
            ).get(timeout=30)
    finally:
        producer.close()


@pytest.fixture(scope="module")
def run(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp_path = tmp_path_factory.mktemp("notify")
    receiver = Receiver()
    server = _serve(receiver)
    base = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    webhooks = {
        name: {"url": f"{base}/{name}-{TOKEN}", "format": "slack" if name == "slack" else "json"}
        for name in ("ok", "slack", "flaky", "down", "bad")
    }
    secret_file = tmp_path / "webhook-secret"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    iso = isolated(
        servers,
        tmp_path,
        TOWNSQUARE_ALERT_WEBHOOKS=json.dumps(webhooks),
        TOWNSQUARE_ALERT_WEBHOOK_SECRET_FILE=str(secret_file),
        TOWNSQUARE_ALERT_WEBHOOK_RETRIES=str(RETRIES),
        NO_PROXY="127.0.0.1,localhost",
    )
    assert iso.settings.alert_webhook_secret is not None
    run_setup(iso.settings)
    log = tmp_path / "worker.log"

    def letters() -> list[DeadLetter]:
        return [
            DeadLetter.model_validate_json(v) for _k, v in read_topic(iso.settings, DLQ, timeout=10)
        ]

    def done() -> bool:
        ok_ids = {h.headers.get("x-townsquare-alert-id") for h in receiver.of("ok")}
        flaky_ok = [h for h in receiver.of("flaky") if h.status == 200]
        return (
            {"alert-a1", "alert-a2", "alert-d2"} <= ok_ids
            and len(receiver.of("slack")) >= 1
            and len(flaky_ok) >= 3
            and len(receiver.of("down")) >= ATTEMPTS
            and len(receiver.of("bad")) >= 1
            and len(letters()) >= 2
        )

    try:
        with running_worker(iso, log, "notify") as worker:
            _publish(iso.settings, list(ALERTS_SENT.values()))
            finished = wait_for(done, timeout=150, interval=1.0)
            time.sleep(3)  # anything sent twice would arrive now
            assert worker.poll() is None, "the worker is still running"
        text = log.read_text(encoding="utf-8", errors="replace")
        assert finished, f"not every delivery happened in time; worker log:\n{text[-4000:]}"
        yield Run(iso, receiver, letters(), text)
    finally:
        server.shutdown()
        server.server_close()


integration = pytest.mark.integration
"""The worker tests need the broker; the in-process ones above do not."""


@integration
def test_alerts_arrive_signed_and_verify(run: Run) -> None:
    secret = SECRET.encode()
    version = importlib.metadata.version("townsquare")
    delivered = run.receiver.of("ok") + run.receiver.of("slack")
    assert len(delivered) == 4, "a1 and a2 and d2 to ok, a1 to slack, each once"
    for hit in delivered:
        signature = hit.headers["x-townsquare-signature"]
        assert _receiver_verifies(secret, signature, hit.body, hit.at)
        assert not _receiver_verifies(b"another secret", signature, hit.body, hit.at)
        assert not _receiver_verifies(secret, signature, hit.body + b"\n", hit.at)
        assert hit.headers["content-type"] == "application/json"
        assert hit.headers["user-agent"] == f"townsquare-notify/{version}"
    for hit in run.receiver.of("ok"):
        alert = Alert.model_validate_json(hit.body)
        assert alert == ALERTS_SENT[alert.id.removeprefix("alert-")]
        assert hit.headers["x-townsquare-alert-id"] == alert.id
    [slack] = run.receiver.of("slack")
    message = json.loads(slack.body)
    assert set(message) == {"text", "blocks"}
    assert slack.headers["x-townsquare-alert-id"] == "alert-a1"
    assert "&lt;!channel&gt;" in message["text"] and "<!channel>" not in slack.body.decode()
    # An output no webhook has is logged once (a1 and a2 both name it), never crashes.
    warnings = [line for line in run.log.splitlines() if "'nowhere' is not configured" in line]
    assert len(warnings) == 1, run.log[-3000:]
    assert SECRET not in run.log and TOKEN not in run.log


@integration
def test_a_receiver_that_fails_twice_then_succeeds_gets_each_alert_exactly_once(run: Run) -> None:
    hits = run.receiver.of("flaky")
    by_id: dict[str, list[Hit]] = {}
    for hit in hits:
        by_id.setdefault(hit.headers["x-townsquare-alert-id"], []).append(hit)
    assert set(by_id) == {"alert-f1", "alert-f2", "alert-f3"}
    for alert_id, attempts in by_id.items():
        assert [h.status for h in attempts] == [503, 503, 200], alert_id
        assert [h.body for h in attempts] == [attempts[0].body] * 3, "the same body each time"
        gaps = [b.at - a.at for a, b in itertools.pairwise(attempts)]
        assert all(gap >= 0.95 for gap in gaps), f"Retry-After: 1 was honoured: {gaps}"
        # Each attempt is signed afresh, and each verifies.
        for hit in attempts:
            assert _receiver_verifies(
                SECRET.encode(), hit.headers["x-townsquare-signature"], hit.body, hit.at
            )
    assert not [d for d in run.letters if "flaky" in d.error]


@integration
def test_a_receiver_that_never_succeeds_leaves_a_dead_letter_and_later_alerts_go_out(
    run: Run,
) -> None:
    down = run.receiver.of("down")
    assert [h.status for h in down] == [503] * ATTEMPTS, "one try and RETRIES retries, no more"
    [letter] = [d for d in run.letters if d.reason == "webhook_failed"]
    assert letter.stage == "notify"
    assert letter.error == f"output 'down': HTTP 503 after {ATTEMPTS} attempts"
    assert Alert.model_validate_json(letter.payload).id == "alert-d1"
    assert letter.key == "x:conv-d" and letter.topic == run.iso.settings.topic(ALERTS)
    record = letter.model_dump_json()
    assert TOKEN not in record and "127.0.0.1" not in record and SECRET not in record
    # d2 came after d1 on the same partition: it still went out, after d1 was given up.
    [later] = [h for h in run.receiver.of("ok") if h.headers["x-townsquare-alert-id"] == "alert-d2"]
    assert later.at > down[-1].at


@integration
def test_a_400_is_final_one_attempt_and_a_dead_letter(run: Run) -> None:
    assert [h.status for h in run.receiver.of("bad")] == [400]
    [letter] = [d for d in run.letters if d.reason == "webhook_refused"]
    assert letter.stage == "notify"
    assert letter.error == "output 'bad': HTTP 400, refused (not retried)"
    assert Alert.model_validate_json(letter.payload).id == "alert-b1"
    assert TOKEN not in letter.model_dump_json()
    assert len(run.letters) == 2, "nothing else was dead-lettered"
