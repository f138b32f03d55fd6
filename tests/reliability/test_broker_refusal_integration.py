"""The broker refuses a record for good: no 2xx, no cursor past it, and no silent acceptance after.

The raw topic gets a broker-side ``max.message.bytes`` (4,096) below a signed
6 KB post, which is how a platform team's topic policy meets a large post.
kafka-python's idempotent producer treats that refusal as fatal: every later
send on it fails too, so a source that kept running would refuse (or, before
the fix, silently lose) every post after. What is promised instead:

* the webhook answers 503 for the refused post (never 202), stops, and
  reports the failure so ``townsquare ingest webhook`` exits non-zero and the
  platform restarts it; a restarted receiver accepts small posts again;
* ``townsquare ingest replay`` exits non-zero at the refused record, its
  stored cursor covers only what the broker acknowledged, and ``--resume``
  once the limit is raised sends the rest (records sent before the refused
  one are not sent again).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from support import Isolated, Servers, canonical_post, isolated, read_topic
from typer.testing import CliRunner

from schemas.models import RawEnvelope
from streams.cli.main import app
from streams.cli.setup import run_setup
from streams.kafka_config import kafka_python_config
from streams.sources.webhook import SIGNATURE_HEADER, WebhookOptions, WebhookReceiver, sign
from streams.topic_names import RAW

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

LIMIT = 4096
SECRET = b"refusal-test-secret"


def _limit_raw_topic(iso: Isolated, max_bytes: int) -> None:
    admin = KafkaAdminClient(**kafka_python_config(iso.settings))
    try:
        resource = ConfigResource(
            ConfigResourceType.TOPIC,
            iso.settings.topic(RAW),
            configs={"max.message.bytes": str(max_bytes)},
        )
        admin.alter_configs([resource])
    finally:
        admin.close()


def _raw_ids(iso: Isolated) -> list[str]:
    envelopes = [RawEnvelope.model_validate_json(v) for _, v in read_topic(iso.settings, RAW)]
    return [str(e.payload.get("id")) for e in envelopes if isinstance(e.payload, dict)]


def _push(url: str, body: dict[str, object]) -> int:
    raw = json.dumps(body).encode()
    path = "/webhook/forum"
    headers = {SIGNATURE_HEADER: sign(SECRET, int(time.time()), path, raw)}
    try:
        return httpx.post(url + path, content=raw, headers=headers, timeout=10).status_code
    except httpx.TransportError:
        return 0  # the receiver has stopped listening: also not an acknowledgement


def _webhook_post(n: int, text: str) -> dict[str, object]:
    return {
        "platform": "forum",
        "id": f"thread-1/post-{n}",
        "conversation_id": "thread-1",
        "created_at": "2026-05-01T10:00:00Z",
        "text": text,
        "author": {"id": f"member-{n}", "handle": f"member{n}"},
    }


@pytest.fixture
def iso(servers: Servers, tmp_path: Path) -> Isolated:
    result = isolated(servers, tmp_path)
    run_setup(result.settings)
    _limit_raw_topic(result, LIMIT)
    return result


def test_the_webhook_never_answers_2xx_for_a_refused_post_and_stops(iso: Isolated) -> None:
    options = WebhookOptions(secret=SECRET, port=0, max_bytes=64 * 1024)
    with WebhookReceiver(iso.settings, options) as receiver:
        assert _push(receiver.url, _webhook_post(1, "x" * 6000)) == 503
        assert receiver.failure is not None, "a refusal for good is remembered as the failure"
        assert receiver.stopper.stopped()
        assert _push(receiver.url, _webhook_post(2, "small")) != 202
    assert _raw_ids(iso) == []

    # The platform restarts the receiver: a new producer, and small posts flow again.
    with WebhookReceiver(iso.settings, options) as restarted:
        assert _push(restarted.url, _webhook_post(3, "small again")) == 202
    assert _raw_ids(iso) == ["thread-1/post-3"]


def test_replay_stops_at_the_refused_record_and_resume_sends_the_rest_once(
    iso: Isolated, tmp_path: Path
) -> None:
    posts = [canonical_post(n, n) for n in range(6)]
    posts[3]["text"] = "y" * 6000
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")
    runner = CliRunner()

    first = runner.invoke(app, ["ingest", "replay", str(path)], env=iso.env)
    assert first.exit_code != 0, first.output
    assert "x:1003" not in _raw_ids(iso)

    _limit_raw_topic(iso, 1024 * 1024)
    second = runner.invoke(app, ["ingest", "replay", str(path), "--resume"], env=iso.env)
    assert second.exit_code == 0, second.output
    sent = Counter(_raw_ids(iso))
    assert set(sent) == {p["id"] for p in posts}, "nothing lost"
    # The stored cursor is at or before the refused record, never past it: resume sends
    # from there, so a record may go twice (at-least-once), the refused one exactly once.
    assert sent["x:1003"] == 1
    assert max(sent.values()) <= 2
    assert "MessageSizeTooLarge" in first.output, "the error names the cause"
