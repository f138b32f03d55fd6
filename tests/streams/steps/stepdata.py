"""Posts and raw envelopes for the step tests (JSON in the product's shapes)."""

from __future__ import annotations

import json
from typing import Any

from schemas.models import CanonicalPost


def post_data(
    n: int,
    conversation: int,
    *,
    kind: str = "post",
    text: str | None = None,
    reply_to: int | None = None,
) -> dict[str, Any]:
    """A canonical post as JSON; ``conversation=n`` on a delete means "thread not named"."""
    data: dict[str, Any] = {
        "kind": kind,
        "id": f"x:{n}",
        "platform": "x",
        "created_at": f"2026-05-01T10:{n % 60:02d}:00Z",
        "text": "" if kind == "delete" else (text or f"post {n} about the bins"),
        "author": {"id": f"x:author{n % 3}", "handle": f"author{n % 3}"},
        "conversation_id": f"x:{conversation}",
    }
    if reply_to is not None:
        data["in_reply_to"] = {"post_id": f"x:{reply_to}"}
    return data


def post(n: int, conversation: int, **kwargs: Any) -> CanonicalPost:
    return CanonicalPost.model_validate(post_data(n, conversation, **kwargs))


def envelope(data: dict[str, Any] | str, fmt: str = "canonical") -> bytes:
    """A raw-topic value, as the replay source writes it."""
    return json.dumps(
        {
            "ingest_id": "test",
            "source": "test",
            "format": fmt,
            "received_at": "2026-05-01T12:00:00Z",
            "payload": data,
        }
    ).encode()
