"""The signed webhook receiver, through the real local Kafka."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servers import PAYLOADS, raw_envelopes
from support import Isolated, free_port, wait_for
from typer.testing import CliRunner

from processors.adapters import normalize
from streams.sources.webhook import (
    SIGNATURE_HEADER,
    WebhookOptions,
    WebhookReceiver,
    sign,
    signature_ok,
)

pytestmark = pytest.mark.integration

SECRET = b"webhook-secret-for-tests"
BODY = (PAYLOADS / "webhook.json").read_bytes()


@pytest.fixture
def receiver(iso: Isolated) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(iso.settings, WebhookOptions(secret=SECRET, port=0, max_bytes=4096)) as r:
        yield r


def _post(url: str, body: bytes, signature: str | None, source: str = "forum") -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return httpx.post(f"{url}/webhook/{source}", content=body, headers=headers, timeout=10)


def test_signature_checks_are_exact() -> None:
    good = sign(SECRET, b"{}")
    assert signature_ok(SECRET, b"{}", good)
    assert not signature_ok(SECRET, b"{} ", good)
    assert not signature_ok(SECRET, b"{}", good.removeprefix("sha256="))
    assert not signature_ok(b"other", b"{}", good)
    assert not signature_ok(SECRET, b"{}", None)


def test_a_signed_post_is_acknowledged_after_kafka_has_it(
    iso: Isolated, receiver: WebhookReceiver
) -> None:
    response = _post(receiver.url, BODY, sign(SECRET, BODY))
    assert response.status_code == 202
    [(key, envelope)] = raw_envelopes(iso.settings)  # already there when 202 came back
    assert envelope.format == "webhook"
    assert envelope.context == {"webhook_source": "forum"}
    assert key == "forum:thread-88/post-1"
    post = normalize(envelope)
    assert post.id == "forum:thread-88/post-3"


def test_a_delete_notice_becomes_a_delete_message(iso: Isolated, receiver: WebhookReceiver) -> None:
    body = json.dumps({"type": "delete", "platform": "forum", "id": "thread-88/post-3"}).encode()
    assert _post(receiver.url, body, sign(SECRET, body)).status_code == 202
    [(_, envelope)] = raw_envelopes(iso.settings)
    post = normalize(envelope)
    assert (post.kind, post.id) == ("delete", "forum:thread-88/post-3")


@pytest.mark.parametrize(
    ("signature", "status"),
    [(None, 401), ("sha256=" + "0" * 64, 401), ("md5=abc", 401), (sign(b"wrong", BODY), 401)],
)
def test_a_bad_or_missing_signature_is_401_and_nothing_is_sent(
    iso: Isolated, receiver: WebhookReceiver, signature: str | None, status: int
) -> None:
    assert _post(receiver.url, BODY, signature).status_code == status
    assert raw_envelopes(iso.settings) == []


def test_size_json_and_routing_are_checked(iso: Isolated, receiver: WebhookReceiver) -> None:
    big = b'{"text": "' + b"a" * 5000 + b'"}'
    assert _post(receiver.url, big, sign(SECRET, big)).status_code == 413
    for body in (b"not json", b"\xff\xfe", b"[1, 2]"):
        assert _post(receiver.url, body, sign(SECRET, body)).status_code == 400
    assert _post(receiver.url, BODY, sign(SECRET, BODY), source="Bad Source!").status_code == 404
    assert httpx.get(f"{receiver.url}/healthz").status_code == 200
    assert raw_envelopes(iso.settings) == []


def test_the_cli_serves_until_max_posts(iso: Isolated, tmp_path: Path) -> None:
    from streams.cli.main import app

    port = free_port()
    result: dict[str, object] = {}

    def serve() -> None:
        result["r"] = CliRunner().invoke(
            app,
            ["ingest", "webhook", "--port", str(port), "--max-posts", "1", "--max-runtime", "20"],
            env={**iso.env, "TOWNSQUARE_WEBHOOK_SECRET": SECRET.decode()},
        )

    thread = threading.Thread(target=serve)
    thread.start()

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    assert wait_for(healthy, timeout=15, interval=0.1)
    assert _post(f"http://127.0.0.1:{port}", BODY, sign(SECRET, BODY)).status_code == 202
    thread.join(timeout=20)
    assert not thread.is_alive()
    outcome = result["r"]
    assert getattr(outcome, "exit_code", None) == 0, getattr(outcome, "output", "")
    assert SECRET.decode() not in getattr(outcome, "output", "")


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
    ),
)
def test_random_bodies_and_signatures_never_get_a_server_error(
    receiver: WebhookReceiver, body: bytes, signed: str, noise: str
) -> None:
    signature = {"good": sign(SECRET, body), "none": None, "random": noise}[signed]
    try:
        response = _post(receiver.url, body, signature)
    except httpx.TransportError as exc:  # pragma: no cover - would be a crash of the receiver
        pytest.fail(f"the receiver dropped the connection: {exc!r}")
    assert response.status_code in {202, 400, 401, 413}
    if response.status_code == 202:
        assert signed == "good" and len(body) <= 4096
    assert receiver._thread.is_alive()
