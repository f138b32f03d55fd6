"""A fixed poison corpus through the whole pipeline: 1,000 bad inputs among 1,000 good posts.

Unlike the generated sample at the step level, this corpus is written out by
hand, kind by kind (every way a raw message has been seen to go wrong: bytes
that are not UTF-8, JSON that is not an object, nesting 100,000 deep, records
above the size cap, envelopes of unknown formats, payloads of the wrong
shape, posts with impossible fields), cycled with varying content to 1,000
messages, and interleaved one for one with 1,000 valid posts. The worker runs
every stage. Every bad message must land on the dead-letter topic exactly
once, with the reason the adapters give for it, and every good post must be
searchable; the worker must never crash or restart an agent.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from generated_input import MAX_BYTES, raw_envelope, rejected_reason
from kafka import KafkaProducer
from support import (
    Servers,
    canonical_post,
    crashes,
    indexed_ids,
    isolated,
    read_topic,
    running_worker,
    wait_for,
)

from streams.cli.setup import run_setup
from streams.kafka_config import kafka_python_config
from streams.topic_names import DLQ, RAW

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

COUNT = 1000


def _post(n: int, **change: Any) -> dict[str, Any]:
    return {**canonical_post(100_000 + n, 100_000 + n), **change}


POISON: list[Callable[[int], bytes]] = [
    lambda n: b"",
    lambda n: f"not json {n}".encode(),
    lambda n: raw_envelope("canonical", _post(n))[: 40 + n % 50],
    lambda n: b"\xff\xfe\x00" + str(n).encode(),
    lambda n: json.dumps([n, "an array, not an object"]).encode(),
    lambda n: json.dumps(f"a string {n}").encode(),
    lambda n: b"[" * 100_000 + b"]" * 100_000,
    lambda n: b'{"a":' * (200 + n % 100) + b"1" + b"}" * (200 + n % 100),
    lambda n: raw_envelope("canonical", "x" * (MAX_BYTES + n)),
    lambda n: raw_envelope(f"no-such-format-{n}", _post(n)),
    lambda n: raw_envelope("canonical", f"a string payload {n}"),
    lambda n: raw_envelope("canonical", {k: v for k, v in _post(n).items() if k != "id"}),
    lambda n: raw_envelope("canonical", _post(n, created_at=f"yesterday-{n}")),
    lambda n: raw_envelope("canonical", _post(n, id=f"x:bad\u0007id{n}")),
    lambda n: raw_envelope("canonical", _post(n, platform=f"myspace{n}")),
    lambda n: raw_envelope("canonical", _post(n, author=f"author-{n}")),
    lambda n: raw_envelope("mastodon", [n]),
    lambda n: raw_envelope("bluesky", {"kind": "commit", "did": n}),
    lambda n: raw_envelope("x", {"data": f"not a tweet {n}"}),
    lambda n: b'{"ingest_id": "p", "format": "canonical", "payload": NaN, "n": %d}' % n,
]
"""One maker per kind of bad input; ``n`` varies the content so no two messages are equal."""


def test_every_poison_message_is_dead_lettered_and_every_good_post_is_indexed(
    servers: Servers, tmp_path: Path
) -> None:
    bad = [POISON[i % len(POISON)](i) for i in range(COUNT)]
    reasons = {f"bad-{i}": rejected_reason(message) for i, message in enumerate(bad)}
    assert None not in reasons.values(), "every input of the corpus is one the adapters refuse"
    good = [canonical_post(n, n) for n in range(COUNT)]

    iso = isolated(servers, tmp_path, TOWNSQUARE_MAX_MESSAGE_BYTES=str(MAX_BYTES))
    run_setup(iso.settings)
    log = tmp_path / "worker.log"
    with running_worker(iso, log) as worker:
        producer = KafkaProducer(
            acks="all",
            linger_ms=20,
            max_request_size=4 * 1024 * 1024,
            **kafka_python_config(iso.settings),
        )
        for i in range(COUNT):
            producer.send(iso.settings.topic(RAW), key=f"bad-{i}".encode(), value=bad[i])
            post = good[i]
            producer.send(
                iso.settings.topic(RAW),
                key=post["conversation_id"].encode(),
                value=raw_envelope("canonical", post),
            )
        producer.flush(timeout=60)
        producer.close()

        def letters() -> list[tuple[str | None, bytes]]:
            return read_topic(iso.settings, DLQ, timeout=30)

        indexed = wait_for(lambda: len(indexed_ids(iso.settings)) >= COUNT, 300, 2)
        lettered = wait_for(lambda: len(letters()) >= COUNT, 60, 1)
        assert indexed and lettered, log.read_text()[-3000:]
        assert worker.poll() is None, "the worker died"

    dead = [json.loads(v) for _, v in letters()]
    keys = Counter(letter["key"] for letter in dead)
    assert set(keys) == set(reasons), "every bad message, and only those, is dead-lettered"
    assert max(keys.values()) == 1, "each exactly once"
    for letter in dead:
        assert letter["stage"] == "normalize"
        assert letter["reason"] == reasons[letter["key"]], letter["key"]
    counts = indexed_ids(iso.settings)
    assert set(counts) == {p["id"] for p in good}
    assert max(counts.values()) == 1
    text = log.read_text()
    assert crashes(text) == []
    print(f"\n  dead-letter reasons: {dict(Counter(reasons.values()))}")
