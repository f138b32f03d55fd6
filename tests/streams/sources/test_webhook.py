"""The signed webhook receiver, through the real local Kafka."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servers import PAYLOADS, raw_envelopes
from support import Isolated, free_port, wait_for
from typer.testing import CliRunner

from processors.adapters import normalize
from streams.sources.credentials import IngestCredentials
from streams.sources.webhook import (
    SIGNATURE_HEADER,
    WebhookOptions,
    WebhookReceiver,
    check_signature,
    sign,
)

pytestmark = pytest.mark.integration

SECRET = b"webhook-secret-for-tests"
PREVIOUS = b"the-secret-before-rotation"
BODY = (PAYLOADS / "webhook.json").read_bytes()
PATH = "/webhook/forum"
NOW = 1_700_000_000


@pytest.fixture
def receiver(iso: Isolated) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(iso.settings, WebhookOptions(secret=SECRET, port=0, max_bytes=4096)) as r:
        yield r


def _post(url: str, body: bytes, signature: str | None, source: str = "forum") -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return httpx.post(f"{url}/webhook/{source}", content=body, headers=headers, timeout=10)


def _signed(body: bytes, secret: bytes = SECRET, path: str = PATH, at: float | None = None) -> str:
    return sign(secret, int(time.time() if at is None else at), path, body)


def _raw(url: str, request: bytes, timeout: float = 3.0) -> tuple[bytes, float]:
    """Send bytes as they are (no client fixing them up); the answer until close, and how long."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    started = time.monotonic()
    answer = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(request)
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except TimeoutError:
            pass  # still open: the caller's assertion on the answer says what was wrong
    return answer, time.monotonic() - started


def _check(header: str | None, body: bytes = b"{}", path: str = PATH) -> str | None:
    return check_signature([SECRET], header, path, body, now=NOW)


def test_sign_makes_the_documented_header() -> None:
    header = sign(SECRET, NOW, PATH, b"{}")
    digest = hmac.new(SECRET, b"1700000000./webhook/forum.{}", hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={digest}"


def test_signature_checks_are_exact() -> None:
    good = sign(SECRET, NOW, PATH, b"{}")
    digest = good.split("v1=")[1]
    assert _check(good) is None
    assert _check(f" v1={digest} , t={NOW} ") is None  # order and spaces do not matter
    assert _check(good, body=b"{} ") is not None
    assert _check(good, path="/webhook/other") is not None  # bound to the path
    assert _check(f"t={NOW + 1},v1={digest}") is not None  # bound to the timestamp
    assert _check(sign(b"other", NOW, PATH, b"{}")) is not None
    old_scheme = "sha256=" + hmac.new(SECRET, b"{}", hashlib.sha256).hexdigest()
    for header in (None, "", old_scheme, f"t={NOW}", f"v1={digest}", "t=1,v1=00,garbage"):
        assert _check(header) is not None, header
    for t in ("1_700_000_000", "+1700000000", "17e8", "", "1700000000" + "0" * 3):
        assert _check(f"t={t},v1={digest}") is not None, t
    assert _check(f"t={NOW},t={NOW},v1={digest}") is not None
    assert "more than 8" in str(_check(f"t={NOW}," + ",".join([f"v1={digest}"] * 9)))


def test_the_timestamp_must_be_within_the_tolerance() -> None:
    def at(t: int) -> str | None:
        return check_signature([SECRET], sign(SECRET, t, PATH, b"{}"), PATH, b"{}", now=NOW)

    assert at(NOW - 299) is None and at(NOW + 299) is None
    assert "too old" in str(at(NOW - 301))
    assert "too new" in str(at(NOW + 301))
    header = sign(SECRET, NOW - 3600, PATH, b"{}")
    assert check_signature([SECRET], header, PATH, b"{}", now=NOW, tolerance=7200) is None


def test_rotation_accepts_either_secret_and_any_v1_value() -> None:
    both = [SECRET, PREVIOUS]
    old = sign(PREVIOUS, NOW, PATH, b"{}")
    assert check_signature(both, old, PATH, b"{}", now=NOW) is None
    assert check_signature([SECRET], old, PATH, b"{}", now=NOW) is not None
    new_digest = sign(SECRET, NOW, PATH, b"{}").split("v1=")[1]
    two_values = f"{old},v1={new_digest}"  # a sender signing with both during its own rotation
    assert check_signature([SECRET], two_values, PATH, b"{}", now=NOW) is None
    assert check_signature([b"third"], two_values, PATH, b"{}", now=NOW) is not None


def test_the_options_repr_hides_the_secrets() -> None:
    options = WebhookOptions(secret=SECRET, previous_secret=PREVIOUS)
    for text in (repr(options), str(options)):
        assert SECRET.decode() not in text and PREVIOUS.decode() not in text
        assert "max_bytes" in text  # the rest is still shown


def test_the_previous_secret_is_read_like_the_current_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "previous").write_text(PREVIOUS.decode() + "\n")
    monkeypatch.setenv("TOWNSQUARE_WEBHOOK_SECRET_PREVIOUS_FILE", str(tmp_path / "previous"))
    credentials = IngestCredentials()
    assert credentials.webhook_secret_previous is not None
    assert credentials.webhook_secret_previous.get_secret_value() == PREVIOUS.decode()
    assert PREVIOUS.decode() not in repr(credentials)


def test_a_signed_post_is_acknowledged_after_kafka_has_it(
    iso: Isolated, receiver: WebhookReceiver
) -> None:
    response = _post(receiver.url, BODY, _signed(BODY))
    assert response.status_code == 202
    [(key, envelope)] = raw_envelopes(iso.settings)  # already there when 202 came back
    assert envelope.format == "webhook"
    assert envelope.context == {"webhook_source": "forum"}
    assert key == "forum:thread-88/post-1"
    post = normalize(envelope)
    assert post.id == "forum:thread-88/post-3"


def test_a_delete_notice_becomes_a_delete_message(iso: Isolated, receiver: WebhookReceiver) -> None:
    body = json.dumps({"type": "delete", "platform": "forum", "id": "thread-88/post-3"}).encode()
    assert _post(receiver.url, body, _signed(body)).status_code == 202
    [(_, envelope)] = raw_envelopes(iso.settings)
    post = normalize(envelope)
    assert (post.kind, post.id) == ("delete", "forum:thread-88/post-3")


_BAD_SIGNATURES: dict[str, Callable[[], str | None]] = {
    "missing": lambda: None,
    "old-scheme": lambda: "sha256=" + hmac.new(SECRET, BODY, hashlib.sha256).hexdigest(),
    "other-scheme": lambda: "md5=abc",
    "zero-hmac": lambda: f"t={int(time.time())},v1=" + "0" * 64,
    "wrong-secret": lambda: _signed(BODY, secret=b"wrong"),
    "other-path": lambda: _signed(BODY, path="/webhook/other"),  # signed for another source
}
"""Made when the test runs (not at collection): their timestamps must be current."""


@pytest.mark.parametrize("kind", sorted(_BAD_SIGNATURES))
def test_a_bad_or_missing_signature_is_401_and_nothing_is_sent(
    iso: Isolated, receiver: WebhookReceiver, kind: str
) -> None:
    assert _post(receiver.url, BODY, _BAD_SIGNATURES[kind]()).status_code == 401
    assert raw_envelopes(iso.settings) == []


def test_a_replayed_old_request_is_401_and_nothing_is_sent(
    iso: Isolated, receiver: WebhookReceiver
) -> None:
    captured = _signed(BODY, at=time.time() - 301)
    response = _post(receiver.url, BODY, captured)
    assert response.status_code == 401
    assert "too old" in response.json()["message"]
    future = _post(receiver.url, BODY, _signed(BODY, at=time.time() + 400))
    assert future.status_code == 401 and "too new" in future.json()["message"]
    assert raw_envelopes(iso.settings) == []


def test_during_a_rotation_the_previous_secret_is_accepted(iso: Isolated) -> None:
    options = WebhookOptions(secret=SECRET, previous_secret=PREVIOUS, port=0)
    with WebhookReceiver(iso.settings, options) as receiver:
        assert _post(receiver.url, BODY, _signed(BODY, secret=PREVIOUS)).status_code == 202
        both = _signed(BODY, secret=b"unknown") + ",v1=" + _signed(BODY).split("v1=")[1]
        assert _post(receiver.url, BODY, both).status_code == 202
        assert _post(receiver.url, BODY, _signed(BODY, secret=b"unknown")).status_code == 401
    assert len(raw_envelopes(iso.settings)) == 2


class _RefusedFuture:
    """A send Kafka answered with a refusal (done, and failed)."""

    is_done = True

    def get(self, timeout: float) -> None:
        raise RuntimeError("the broker refused the record")


def test_a_record_kafka_refuses_is_503_and_stops_the_receiver(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(receiver.outbox.producer, "send", lambda *a, **k: _RefusedFuture())
    response = _post(receiver.url, BODY, _signed(BODY))
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert receiver.failure is not None  # run_webhook raises it: a non-zero exit
    assert receiver.stopper.stopped()
    assert receiver.accepted == 0


def test_size_json_and_routing_are_checked(iso: Isolated, receiver: WebhookReceiver) -> None:
    big = b'{"text": "' + b"a" * 5000 + b'"}'
    assert _post(receiver.url, big, _signed(big)).status_code == 413
    assert _post(receiver.url, BODY, _signed(BODY), source="Bad Source!").status_code == 404
    assert httpx.get(f"{receiver.url}/healthz").status_code == 200
    assert httpx.get(f"{receiver.url}/other").status_code == 404
    assert raw_envelopes(iso.settings) == []


_DEEP_OBJECT = b'{"a":' * 100 + b"1" + b"}" * 100


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",  # not UTF-8
        b"[1, 2]",
        b'"a string"',
        b'{"a": NaN}',
        _DEEP_OBJECT,  # Python parses it; the shared parse path refuses it (depth 64)
        b"[" * 100_000 + b"]" * 100_000,
        b'{"text": "\\ud800"}',  # valid JSON, but no UTF-8 can carry it to Kafka
    ],
    ids=["text", "latin1", "array", "string", "nan", "deep", "very-deep", "surrogate"],
)
def test_a_signed_but_unreadable_body_is_400_so_the_sender_stops(
    iso: Isolated, body: bytes
) -> None:
    options = WebhookOptions(secret=SECRET, port=0, max_bytes=256 * 1024)
    with WebhookReceiver(iso.settings, options) as receiver:
        response = _post(receiver.url, body, _signed(body))
    assert response.status_code == 400, response.text
    assert "Retry-After" not in response.headers
    assert raw_envelopes(iso.settings) == []


def test_an_oversized_body_is_refused_from_its_length_before_it_is_sent(
    receiver: WebhookReceiver,
) -> None:
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n"
        f"{SIGNATURE_HEADER}: {_signed(b'')}\r\n"
    ).encode()
    for extra in (b"", b"Expect: 100-continue\r\n"):
        answer, seconds = _raw(receiver.url, head + extra + b"\r\n")  # headers only, no body
        assert answer.startswith(b"HTTP/1.1 413 "), answer
        assert b"100 Continue" not in answer
        assert seconds < 1.0  # answered at once, and closed (recv saw the end)


def test_a_large_body_still_gets_its_413(receiver: WebhookReceiver) -> None:
    big = b"a" * (4 * 1024 * 1024)
    assert _post(receiver.url, big, _signed(big)).status_code == 413


@pytest.mark.parametrize(
    "length",
    [b"1_0", b"+10", b"0x10", b"1 0", b"10,10", b"-1", b"\xd9\xa1\xd9\xa0", b"1" * 13, b""],
    ids=["underscore", "plus", "hex", "inner-space", "list", "negative", "arabic", "13", "empty"],
)
def test_a_content_length_that_is_not_ascii_digits_is_400(
    iso: Isolated, receiver: WebhookReceiver, length: bytes
) -> None:
    body = b'{"a": 123}'  # ten bytes: what "1_0" would have meant
    request = (
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\n{SIGNATURE_HEADER}: {_signed(body)}\r\n".encode()
        + b"Content-Length: "
        + length
        + b"\r\n\r\n"
        + body
    )
    answer, _ = _raw(receiver.url, request)
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert b"Connection: close" in answer
    assert raw_envelopes(iso.settings) == []


def test_two_content_lengths_are_400_and_spaces_around_one_are_fine(
    receiver: WebhookReceiver,
) -> None:
    head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\n".encode()
    twice, _ = _raw(receiver.url, head + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}")
    assert twice.startswith(b"HTTP/1.1 400 "), twice
    # Optional whitespace around the value is legal HTTP: the length is taken, then the
    # missing signature is what refuses the request.
    spaced, _ = _raw(receiver.url, head + b"Content-Length: \t2 \r\nConnection: close\r\n\r\n{}")
    assert spaced.startswith(b"HTTP/1.1 401 "), spaced


def test_chunked_or_no_length_is_411(receiver: WebhookReceiver) -> None:
    head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\n".encode()
    chunked, _ = _raw(
        receiver.url, head + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    )
    assert chunked.startswith(b"HTTP/1.1 411 "), chunked
    none, _ = _raw(receiver.url, head + b"\r\n")
    assert none.startswith(b"HTTP/1.1 411 "), none


def test_the_cli_serves_until_max_posts(iso: Isolated, tmp_path: Path) -> None:
    from streams.cli.main import app

    port = free_port()
    result: dict[str, object] = {}

    def serve() -> None:
        result["r"] = CliRunner().invoke(
            app,
            ["ingest", "webhook", "--port", str(port), "--max-posts", "1", "--max-runtime", "20"],
            env={
                **iso.env,
                "TOWNSQUARE_WEBHOOK_SECRET": SECRET.decode(),
                "TOWNSQUARE_WEBHOOK_SECRET_PREVIOUS": PREVIOUS.decode(),
            },
        )

    thread = threading.Thread(target=serve)
    thread.start()

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    assert wait_for(healthy, timeout=15, interval=0.1)
    url = f"http://127.0.0.1:{port}"
    assert _post(url, BODY, _signed(BODY, secret=b"unknown")).status_code == 401
    # Signed with the previous secret: the CLI read TOWNSQUARE_WEBHOOK_SECRET_PREVIOUS.
    assert _post(url, BODY, _signed(BODY, secret=PREVIOUS)).status_code == 202
    thread.join(timeout=20)
    assert not thread.is_alive()
    outcome = result["r"]
    output = getattr(outcome, "output", "")
    assert getattr(outcome, "exit_code", None) == 0, output
    assert SECRET.decode() not in output and PREVIOUS.decode() not in output


_json_objects = st.dictionaries(
    st.text(max_size=8),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda c: st.lists(c, max_size=3),
        max_leaves=6,
    ),
    max_size=5,
).map(lambda d: json.dumps(d).encode())


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(st.binary(max_size=6000), _json_objects),
    signed=st.sampled_from(["good", "none", "random"]),
    noise=st.one_of(
        st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=80),
        st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: f"sha256={h}"),
        st.tuples(st.integers(0, 10**13), st.text("0123456789abcdef", max_size=70)).map(
            lambda tv: f"t={tv[0]},v1={tv[1]}"
        ),
    ),
)
def test_random_bodies_and_signatures_never_get_a_server_error(
    receiver: WebhookReceiver, body: bytes, signed: str, noise: str
) -> None:
    signature = {"good": _signed(body), "none": None, "random": noise}[signed]
    try:
        response = _post(receiver.url, body, signature)
    except httpx.TransportError as exc:  # pragma: no cover - would be a crash of the receiver
        pytest.fail(f"the receiver dropped the connection: {exc!r}")
    assert response.status_code in {202, 400, 401, 413}
    if response.status_code == 202:
        assert signed == "good" and len(body) <= 4096
    assert receiver._thread.is_alive()
