"""Enriched-topic messages -> Elasticsearch bulk actions.

``_id`` is the post id, so a replay, a retry or a redelivery after a crash
overwrites the same document instead of adding one. A delete message becomes
a bulk ``delete`` of that id (a 404 there is success: already gone).
Both name the write alias; the index stage then aims them at the indices that
hold the post (:mod:`streams.steps.placement`), since after a rollover the
alias no longer writes where an older post lives.
Two derived fields make Kibana's common questions cheap: ``stakeholder_labels``
(flat keywords, no nested query needed) and ``indexed_at``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from schemas.models import EnrichedPost, PostDeleted
from streams.steps.enriched_fast import fast_enriched


class DocumentError(ValueError):
    """The message cannot become a document; ``reason`` labels the dead letter."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def post_document(post: EnrichedPost, now: datetime | None = None) -> dict[str, Any]:
    doc = post.model_dump(mode="json")
    doc["stakeholder_labels"] = [s.label for s in post.stakeholders]
    doc["indexed_at"] = (now or datetime.now(UTC)).isoformat()
    return doc


def bulk_action(value: bytes, alias: str, now: datetime | None = None) -> dict[str, Any]:
    """One enriched-topic value -> one bulk action (index or delete)."""
    post = fast_enriched(value)
    if post is None:
        try:
            data = json.loads(value)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DocumentError("invalid_json", str(exc)) from exc
        if not isinstance(data, dict):
            raise DocumentError("wrong_type", f"expected a JSON object, got {type(data).__name__}")
        try:
            if data.get("kind") == "delete":
                gone = PostDeleted.model_validate(data)
                return {"_op_type": "delete", "_index": alias, "_id": gone.id}
            post = EnrichedPost.model_validate(data)
        except ValidationError as exc:
            raise DocumentError("schema", str(exc)) from exc
    return {
        "_op_type": "index",
        "_index": alias,
        "_id": post.id,
        "_source": post_document(post, now),
    }
