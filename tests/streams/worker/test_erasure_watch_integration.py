"""The erasure watch reads the whole erasure topic before a worker starts, then follows it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaProducer
from support import isolated, wait_for

from processors.erasure import ErasureList
from schemas.models import Author, CanonicalPost, Erasure
from streams.cli.setup import run_setup
from streams.kafka_config import kafka_python_config
from streams.settings import Settings
from streams.topic_names import ERASURES
from streams.worker.erasures import ErasureWatch

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _send(settings: Settings, key: str, value: bytes | None) -> None:
    producer = KafkaProducer(acks="all", **kafka_python_config(settings))
    try:
        producer.send(settings.topic(ERASURES), key=key.encode(), value=value).get(timeout=30)
    finally:
        producer.close()


def _post(handle: str, kind: str = "post") -> CanonicalPost:
    return CanonicalPost.model_validate(
        {
            "kind": kind,
            "id": "x:1",
            "platform": "x",
            "created_at": NOW,
            "author": {"id": f"x:{handle}-id", "handle": handle},
            "conversation_id": "x:1",
        }
    )


def test_the_watch_is_ready_only_with_every_record_and_follows_lifts(
    servers: object, tmp_path: Path
) -> None:
    iso = isolated(servers, tmp_path)  # type: ignore[arg-type]
    run_setup(iso.settings)
    records = [
        Erasure(subject=f"person{n}", requested_at=NOW, requested_by="dpo") for n in range(50)
    ]
    for record in records:
        _send(iso.settings, record.key(), record.model_dump_json().encode())
    _send(iso.settings, "not-json", b"{")  # a bad record is logged and skipped

    async def scenario() -> None:
        erasures = ErasureList()
        watch = ErasureWatch(iso.settings, erasures)
        await watch.start()
        try:
            assert len(erasures) == 50, "started only after the whole topic was read"
            assert watch.withhold(_post("Person7")) == "erased"
            assert watch.withhold(_post("person7", kind="delete")) is None, "deletes pass"
            assert watch.withhold(_post("someone")) is None
            _send(iso.settings, records[7].key(), None)  # a tombstone lifts the erasure
            lifted = await asyncio.to_thread(
                wait_for, lambda: not erasures.matches(Author(id="x:p", handle="person7"), "x"), 20
            )
            assert lifted
            assert len(erasures) == 49
        finally:
            await watch.stop()

    asyncio.run(scenario())


def test_a_missing_topic_means_no_erasures_and_is_picked_up_once_created(
    servers: object, tmp_path: Path
) -> None:
    iso = isolated(servers, tmp_path)  # type: ignore[arg-type]

    async def scenario() -> None:
        erasures = ErasureList()
        watch = ErasureWatch(iso.settings, erasures)
        await watch.start()
        try:
            assert len(erasures) == 0
            run_setup(iso.settings)
            record = Erasure(subject="late", requested_at=NOW, requested_by="dpo")
            _send(iso.settings, record.key(), record.model_dump_json().encode())
            found = await asyncio.to_thread(wait_for, lambda: len(erasures) == 1, 30)
            assert found
        finally:
            await watch.stop()

    asyncio.run(scenario())
