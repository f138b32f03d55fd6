"""Replay of canonical posts (our own JSONL export): validate, restamp, pass on.

Beyond the model, ids must read ``<platform>:<native id>`` (that is the
idempotency contract every store relies on) and fit an Elasticsearch ``_id``.

The payload is a CanonicalPost as a JSON object, or as the raw JSONL line when
the reader could not parse it (that line then fails here, as ``invalid_json``,
and is dead-lettered by the normalize stage). The ingest id and receive time
are this envelope's: a replay is a new ingest event of an old post.
"""

from __future__ import annotations

from pydantic import ValidationError

from processors.adapters.common import (
    PLATFORM_NAME,
    as_dict,
    check_id,
    check_text,
    clean_post_fields,
    from_validation_error,
    maybe_json,
)
from processors.adapters.errors import INVALID_VALUE, AdapterError
from schemas.models import CanonicalPost, RawEnvelope


def normalize_canonical(envelope: RawEnvelope) -> CanonicalPost:
    data = as_dict(maybe_json(envelope.payload, "payload"), "payload")
    data = {**data, "ingest_id": envelope.ingest_id, "received_at": envelope.received_at}
    data = clean_post_fields(data)  # a replayed export may predate cleaning, or be hand-made
    try:
        post = CanonicalPost.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, "payload") from exc
    check_text(post.text)
    if not PLATFORM_NAME.match(post.platform):
        raise AdapterError(INVALID_VALUE, f"payload.platform: {post.platform[:40]!r}")
    prefix = f"{post.platform}:"
    for name, value in (("id", post.id), ("conversation_id", post.conversation_id)):
        check_id(value, f"payload.{name}")
        if not value.startswith(prefix) or len(value) == len(prefix):
            raise AdapterError(INVALID_VALUE, f"payload.{name}: not of the form {prefix}<id>")
    check_id(post.author.id, "payload.author.id")
    if post.in_reply_to is not None:
        if not post.in_reply_to.post_id.strip():
            raise AdapterError(INVALID_VALUE, "payload.in_reply_to.post_id: empty")
        check_id(post.in_reply_to.post_id, "payload.in_reply_to.post_id")
    return post
