"""Generated bad messages through a running worker: each refusal becomes exactly one dead letter.

The wiring, not the rules: a small sample of generated raw messages (the same
strategies as ``tests/streams/steps/test_route_properties.py``, which covers
thousands of them at the step level) plus a few valid posts go onto the raw
topic through the real broker. The worker must turn each message the adapters
reject into exactly one dead letter with its reason, topic, partition and
offset, pass the valid posts on, and never crash or restart an agent.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
from generated_input import MAX_BYTES, bad_message, raw_envelope, rejected_reason
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from kafka import KafkaProducer
from support import (
    Servers,
    canonical_post,
    crashes,
    isolated,
    read_topic,
    running_worker,
    wait_for,
)

from streams.cli.setup import run_setup
from streams.kafka_config import kafka_python_config
from streams.topic_names import DLQ, NORMALIZED, RAW

pytestmark = pytest.mark.integration

BAD = 200
VALID = 10


def _generate() -> list[bytes]:
    """``BAD`` generated messages (fixed seed: the sample is the same on every run)."""
    out: list[bytes] = []

    @seed(20260501)
    @settings(
        max_examples=BAD // 20,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(bad_message, min_size=20, max_size=20))
    def collect(batch: list[bytes]) -> None:
        out.extend(batch)

    collect()
    return out[:BAD]


def test_every_rejected_message_becomes_one_dead_letter_and_the_worker_goes_on(
    servers: Servers, tmp_path: Path
) -> None:
    messages = _generate()
    valid = [raw_envelope("canonical", canonical_post(n, n)) for n in range(VALID)]
    # Valid posts among the bad ones: the worker must still be processing after each refusal.
    mixed = messages + valid
    random.Random(7).shuffle(mixed)
    expected = {f"fuzz-{i}": rejected_reason(m) for i, m in enumerate(mixed)}
    bad = {k for k, reason in expected.items() if reason is not None}
    assert len(bad) >= BAD * 0.95

    iso = isolated(servers, tmp_path, TOWNSQUARE_MAX_MESSAGE_BYTES=str(MAX_BYTES))
    run_setup(iso.settings)
    log = tmp_path / "worker.log"
    with running_worker(iso, log, "normalize") as worker:
        producer = KafkaProducer(acks="all", linger_ms=20, **kafka_python_config(iso.settings))
        for i, message in enumerate(mixed):
            producer.send(iso.settings.topic(RAW), key=f"fuzz-{i}".encode(), value=message)
        producer.flush(timeout=60)
        producer.close()

        def letters() -> list[tuple[str | None, bytes]]:
            return read_topic(iso.settings, DLQ, timeout=30)

        def passed() -> list[tuple[str | None, bytes]]:
            return read_topic(iso.settings, NORMALIZED, timeout=30)

        assert wait_for(
            lambda: len(letters()) >= len(bad) and len(passed()) >= len(mixed) - len(bad),
            timeout=120,
            interval=1,
        ), log.read_text()[-3000:]
        assert worker.poll() is None, "the worker died"

    dead = [json.loads(v) for _, v in letters()]
    keys = Counter(d["key"] for d in dead)
    assert set(keys) == bad, "every rejected message, and only those, is dead-lettered"
    assert max(keys.values()) == 1, "each exactly once"
    coordinates = set()
    for letter in dead:
        assert letter["stage"] == "normalize"
        assert letter["reason"] == expected[letter["key"]]
        assert letter["topic"] == iso.settings.topic(RAW)
        assert isinstance(letter["partition"], int) and isinstance(letter["offset"], int)
        coordinates.add((letter["partition"], letter["offset"]))
        original = mixed[int(letter["key"].removeprefix("fuzz-"))]
        assert letter["payload_size"] == len(original)
        assert letter["payload_truncated"] == (len(original) > 64 * 1024)
    assert len(coordinates) == len(dead), "each letter names its own message"
    assert len(passed()) == len(mixed) - len(bad)
    text = log.read_text()
    assert crashes(text) == []
