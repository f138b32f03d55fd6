"""Every message townsquare publishes carries the schema-version and kind headers.

Subscribers route on ``townsquare-kind`` and pick a parser by
``townsquare-schema-version`` before they read a value (docs/consumers.md), so
each producer path is checked here: the Faust topics' ``send``, dead letters,
the raw producer of the ingest sources and ``townsquare forget``'s outbox.
Producers are replaced by recorders, so no broker is needed; the integration
test in ``test_headers_integration.py`` reads real records back.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import faust
import pytest

from schemas.models import (
    KIND_HEADER,
    SCHEMA_VERSION,
    SCHEMA_VERSION_HEADER,
    Author,
    Joinability,
    PostDeleted,
    message_headers,
)
from streams import topic_names as names
from streams.settings import Settings
from streams.steps.outputs import Send
from streams.worker.dead_letters import publish_dead_letter
from streams.worker.topics import Topics

_T = datetime(2026, 1, 1, tzinfo=UTC)


class _Recorder:
    """Stands in for a Faust topic or a kafka-python producer: keeps every send's kwargs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, *args: Any, **kwargs: Any) -> Any:
        self.sent.append({"args": args, **kwargs})
        return SimpleNamespace(get=lambda timeout=None: None)

    def flush(self, timeout: float | None = None) -> None:
        return None

    def close(self, timeout: float | None = None) -> None:
        return None


class _AsyncRecorder(_Recorder):
    async def send(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return super().send(*args, **kwargs)


def _headers(sent: dict[str, Any]) -> dict[str, bytes]:
    return dict(sent["headers"])


def _enriched_value() -> bytes:
    from schemas.models import EnrichedPost

    post = EnrichedPost(
        id="x:1",
        platform="x",
        created_at=_T,
        author=Author(id="x:a"),
        conversation_id="x:1",
        joinability=Joinability(score=0.5, action="reply"),
    )
    return post.model_dump_json().encode()


def test_message_headers_name_the_version_and_the_kind() -> None:
    deleted = PostDeleted(id="x:1", platform="x", conversation_id="x:1", deleted_at=_T)
    assert message_headers(_enriched_value(), "enriched_post") == [
        (SCHEMA_VERSION_HEADER, SCHEMA_VERSION.encode()),
        (KIND_HEADER, b"post"),
    ]
    assert dict(message_headers(deleted.model_dump_json().encode(), "x"))[KIND_HEADER] == b"delete"
    assert dict(message_headers(b'{"a": 1}', "conversation_view"))[KIND_HEADER] == (
        b"conversation_view"
    )
    assert dict(message_headers(None, "conversation_view"))[KIND_HEADER] == b"tombstone"
    assert dict(message_headers(b"not json", "dead_letter"))[KIND_HEADER] == b"dead_letter"


def test_faust_topics_send_adds_the_headers() -> None:
    recorders = {name: _AsyncRecorder() for name in ("raw", "normalized", "enriched", "alerts")}
    recorders.update({name: _AsyncRecorder() for name in ("dlq", "by_id", "conversations")})
    topics = Topics(**cast(dict[str, faust.TopicT], recorders))
    asyncio.run(
        topics.send(
            [
                Send(names.ENRICHED, "x:1", _enriched_value()),
                Send(names.CONVERSATIONS, "x:1", b'{"conversation_id": "x:1"}'),
            ]
        )
    )
    (post,) = recorders["enriched"].sent
    assert _headers(post) == {
        SCHEMA_VERSION_HEADER: SCHEMA_VERSION.encode(),
        KIND_HEADER: b"post",
    }
    (view,) = recorders["conversations"].sent
    assert _headers(view)[KIND_HEADER] == b"conversation_view"


def test_dead_letters_carry_the_headers() -> None:
    dlq = _AsyncRecorder()
    message = SimpleNamespace(key=b"k", value=b"{bad", topic="t", partition=0, offset=7)
    event = SimpleNamespace(message=message)
    asyncio.run(
        publish_dead_letter(
            cast(faust.TopicT, dlq),
            cast(faust.EventT, event),
            stage="enrich",
            reason="bad_json",
            error="e",
        )
    )
    (letter,) = dlq.sent
    assert _headers(letter) == {
        SCHEMA_VERSION_HEADER: SCHEMA_VERSION.encode(),
        KIND_HEADER: b"dead_letter",
    }


def test_the_raw_producer_adds_the_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    import streams.sources.producer as producer

    monkeypatch.setattr(producer, "KafkaProducer", _Recorder)
    raw = producer.RawProducer(Settings(), "replay")
    raw.send("jsonl", {"id": 1}, "x:1")
    (record,) = cast(_Recorder, raw._producer).sent
    assert _headers(record) == {
        SCHEMA_VERSION_HEADER: SCHEMA_VERSION.encode(),
        KIND_HEADER: b"raw_envelope",
    }


def test_forget_records_carry_the_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    import streams.forget as forget

    monkeypatch.setattr(forget, "KafkaProducer", _Recorder)
    outbox = forget._Outbox(Settings())
    deleted = b'{"kind": "delete", "id": "x:1"}'
    outbox.send(names.NORMALIZED, "x:1", deleted)
    outbox.send(names.ERASURES, "*|alice", b'{"subject": "alice"}')
    delete, erasure = cast(_Recorder, outbox.producer).sent
    assert _headers(delete) == {
        SCHEMA_VERSION_HEADER: SCHEMA_VERSION.encode(),
        KIND_HEADER: b"delete",
    }
    assert _headers(erasure)[KIND_HEADER] == b"erasure"


def _parsed_kind(value: bytes, shape: str) -> bytes:
    """The kind header as a full parse of the value gives it (what the fast read must match)."""
    import json

    decoded = json.loads(value)
    kind = decoded.get("kind") if isinstance(decoded, dict) else None
    return (kind if isinstance(kind, str) else shape).encode()


@pytest.mark.parametrize(
    "value",
    [
        b'{"kind":"post","id":"x:1"}',
        b'{ "kind" : "delete" , "id": "x:1"}',
        b'{"kind":"spike"}',
        b'{"id": "x:1", "kind": "edit"}',
        b'{"kind": 3}',
        b'{"kind":"post"',
        b'{"conversation_id": "x:1"}',
    ],
)
def test_the_kind_read_off_the_first_bytes_is_the_parsed_kind(value: bytes) -> None:
    try:
        expected = _parsed_kind(value, "shape")
    except ValueError:
        expected = b"shape"  # not JSON: the shape names it
    assert dict(message_headers(value, "shape"))[KIND_HEADER] == expected


def test_every_published_models_kind_comes_first_so_the_fast_read_applies() -> None:
    deleted = PostDeleted(id="x:1", platform="x", conversation_id="x:1", deleted_at=_T)
    for value in (_enriched_value(), deleted.model_dump_json().encode()):
        assert value.startswith(b'{"kind":"')
        assert dict(message_headers(value, "x"))[KIND_HEADER] == _parsed_kind(value, "x")


def test_a_single_publish_carries_the_headers_and_returns_the_delivery_future() -> None:
    recorders = {name: _AsyncRecorder() for name in ("raw", "normalized", "enriched", "alerts")}
    recorders.update({name: _AsyncRecorder() for name in ("dlq", "by_id", "conversations")})
    topics = Topics(**cast(dict[str, faust.TopicT], recorders))
    alert = b'{"id": "a1", "rule": "overdue"}'
    future = asyncio.run(topics.publish(names.ALERTS, "thread:1", alert))
    asyncio.run(topics.publish(names.CONVERSATIONS, "x:1", None))
    assert future is not None
    (sent,) = recorders["alerts"].sent
    assert sent["value"] == alert
    assert _headers(sent) == {SCHEMA_VERSION_HEADER: SCHEMA_VERSION.encode(), KIND_HEADER: b"alert"}
    (tombstone,) = recorders["conversations"].sent
    assert tombstone["value"] is None
    assert _headers(tombstone)[KIND_HEADER] == b"tombstone"
