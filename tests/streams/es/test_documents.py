"""Enriched-topic messages become idempotent bulk actions; bad ones become readable errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from schemas.models import EnrichedPost, Joinability, PostDeleted, Stakeholder
from streams.es.documents import DocumentError, bulk_action

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def _enriched() -> EnrichedPost:
    return EnrichedPost(
        id="x:1",
        platform="x",
        created_at=NOW,
        text="Missed bin again",
        author={"id": "x:a", "handle": "a"},
        conversation_id="x:1",
        stakeholders=[Stakeholder(label="citizen", score=0.8, reasons=["says 'our street'"])],
        joinability=Joinability(score=0.7, action="reply"),
    )


def test_a_post_becomes_an_index_action_keyed_by_post_id() -> None:
    action = bulk_action(_enriched().model_dump_json().encode(), "ts-posts", NOW)
    assert action["_op_type"] == "index"
    assert action["_id"] == "x:1"
    assert action["_index"] == "ts-posts"
    assert action["_source"]["stakeholder_labels"] == ["citizen"]
    assert action["_source"]["indexed_at"] == NOW.isoformat()


def test_a_tombstone_becomes_a_delete_of_the_same_id() -> None:
    gone = PostDeleted(id="x:1", platform="x", conversation_id="x:1", deleted_at=NOW)
    action = bulk_action(gone.model_dump_json().encode(), "ts-posts")
    assert action == {"_op_type": "delete", "_index": "ts-posts", "_id": "x:1"}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xfe not json", "invalid_json"),
        (b"[1, 2]", "wrong_type"),
        (json.dumps({"id": "x:1"}).encode(), "schema"),
    ],
)
def test_bad_messages_raise_a_labelled_error(value: bytes, reason: str) -> None:
    with pytest.raises(DocumentError) as info:
        bulk_action(value, "ts-posts")
    assert info.value.reason == reason
