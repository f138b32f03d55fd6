"""Ten thousand generated bad messages through a running worker: every one is dead-lettered.

Hypothesis generates the raw messages (invalid UTF-8, JSON that is not an
envelope, unknown formats, platform payloads with wrong types or missing
fields, deep nesting, oversized bodies). They go onto the raw topic through the
real broker; the worker must turn each one the adapters reject into exactly one
dead letter with a reason, pass the rest on, and never crash or restart an agent.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka import KafkaProducer
from support import Servers, isolated, read_topic, running_worker, wait_for

from processors.adapters import FORMATS, decode_envelope, normalize
from processors.adapters.errors import AdapterError
from streams.cli.setup import run_setup
from streams.kafka_config import kafka_python_config
from streams.topic_names import DLQ, NORMALIZED, RAW

pytestmark = pytest.mark.integration

MESSAGES = 10_000
MAX_BYTES = 16 * 1024

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
# Keys the adapters look for, so generated payloads get past the first checks.
likely_keys = st.sampled_from(
    [
        "id",
        "text",
        "created_at",
        "author",
        "account",
        "content",
        "data",
        "commit",
        "did",
        "kind",
        "tweet_id",
        "author_id",
        "dialogContent",
        "in_reply_to_id",
        "event",
        "payload",
    ]
)
platform_payload = st.dictionaries(likely_keys, json_value, max_size=8)


def _envelope(fmt: str, payload: Any) -> bytes:
    return json.dumps(
        {
            "ingest_id": "fuzz",
            "source": "fuzz",
            "format": fmt,
            "received_at": "2026-03-10T09:00:00Z",
            "payload": payload,
        }
    ).encode()


bad_message = st.one_of(
    st.binary(max_size=200),
    json_value.map(lambda v: json.dumps(v).encode()),
    st.builds(_envelope, st.text(max_size=20), platform_payload),
    st.builds(_envelope, st.sampled_from(sorted(FORMATS)), platform_payload),
    st.builds(_envelope, st.sampled_from(sorted(FORMATS)), json_value),
    st.integers(min_value=100, max_value=2000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=MAX_BYTES + 1, max_value=2 * MAX_BYTES).map(
        lambda n: _envelope("canonical", "x" * n)
    ),
)


def _generate() -> list[bytes]:
    """10,000 messages, drawn 50 per example (a third faster than one per example)."""
    out: list[bytes] = []

    @settings(
        max_examples=MESSAGES // 50,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(bad_message, min_size=50, max_size=50))
    def collect(batch: list[bytes]) -> None:
        out.extend(batch)

    collect()
    return out


def _rejected(message: bytes) -> str | None:
    """The reason the adapters give for refusing ``message`` (None if it is a valid post)."""
    try:
        normalize(decode_envelope(message, MAX_BYTES))
    except AdapterError as exc:
        return exc.reason
    return None


def test_every_generated_bad_message_lands_in_the_dead_letter_topic(
    servers: Servers, tmp_path: Path
) -> None:
    messages = _generate()
    assert len(messages) >= MESSAGES
    expected = {f"fuzz-{i}": _rejected(m) for i, m in enumerate(messages)}
    bad = {k for k, reason in expected.items() if reason is not None}
    assert len(bad) >= MESSAGES * 0.99

    iso = isolated(servers, tmp_path, TOWNSQUARE_MAX_MESSAGE_BYTES=str(MAX_BYTES))
    run_setup(iso.settings)
    log = tmp_path / "worker.log"
    with running_worker(iso, log, "normalize") as worker:
        producer = KafkaProducer(acks="all", linger_ms=20, **kafka_python_config(iso.settings))
        for i, message in enumerate(messages):
            producer.send(iso.settings.topic(RAW), key=f"fuzz-{i}".encode(), value=message)
        producer.flush(timeout=60)
        producer.close()

        def letters() -> list[tuple[str | None, bytes]]:
            return read_topic(iso.settings, DLQ, timeout=30)

        assert wait_for(lambda: len(letters()) >= len(bad), timeout=240, interval=3), (
            log.read_text()[-3000:]
        )
        assert worker.poll() is None, "the worker died"

    dead = [json.loads(v) for _, v in letters()]
    keys = Counter(d["key"] for d in dead)
    assert set(keys) == bad, "every rejected message, and only those, is dead-lettered"
    assert max(keys.values()) == 1, "each exactly once"
    for letter in dead:
        assert letter["stage"] == "normalize"
        assert letter["reason"] == expected[letter["key"]]
        assert letter["topic"] == iso.settings.topic(RAW)
        assert isinstance(letter["offset"], int)
        original = messages[int(letter["key"].removeprefix("fuzz-"))]
        assert letter["payload_size"] == len(original)
        assert letter["payload_truncated"] == (len(original) > 64 * 1024)
    reasons = Counter(d["reason"] for d in dead)
    assert {"invalid_utf8", "invalid_json", "too_large", "unknown_format"} <= set(reasons), reasons
    passed = read_topic(iso.settings, NORMALIZED)
    assert len(passed) == len(messages) - len(bad)
    text = log.read_text()
    assert "Crashed" not in text and "Restarting dead" not in text
