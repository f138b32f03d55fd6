"""Dead letters: a message a stage gave up on, kept whole enough to replay.

The error policy is a decision made in one place: a stage that cannot process a
message calls :func:`dead_letter`, which counts it by stage and reason, logs it
with topic/partition/offset, and returns the record to publish. Nothing is
swallowed silently and no bad message stops a worker.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import faust

from schemas.models import DeadLetter, message_headers
from streams.metrics import DEAD_LETTERS, MESSAGES

log = logging.getLogger("townsquare.dlq")

MAX_PAYLOAD_BYTES = 64 * 1024
"""Original bytes kept in a dead letter; larger payloads are truncated (size is recorded)."""


def dead_letter(
    *,
    stage: str,
    reason: str,
    error: str,
    payload: bytes | str | None,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    key: str | None = None,
) -> DeadLetter:
    """Build, count and log a dead letter; the caller publishes it."""
    raw = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else payload or b""
    truncated = len(raw) > MAX_PAYLOAD_BYTES
    record = DeadLetter(
        stage=stage,
        reason=reason,
        error=error[:4000],
        topic=topic,
        partition=partition,
        offset=offset,
        key=key,
        payload=raw[:MAX_PAYLOAD_BYTES].decode("utf-8", "replace"),
        payload_truncated=truncated,
        payload_size=len(raw),
        failed_at=datetime.now(UTC),
    )
    DEAD_LETTERS.labels(stage=stage, reason=reason).inc()
    MESSAGES.labels(stage=stage, outcome="dead_letter").inc()
    log.warning(
        "dead letter",
        extra={
            "stage": stage,
            "reason": reason,
            "error": record.error[:500],
            "topic": topic,
            "partition": partition,
            "offset": offset,
        },
    )
    return record


def message_key(key: bytes | str | None) -> str | None:
    """A message key as text (keys are UTF-8 by contract; a bad byte must not lose the letter)."""
    if isinstance(key, bytes):
        return key.decode("utf-8", "replace")
    return key


async def publish_dead_letter(
    dlq: faust.TopicT, event: faust.EventT, *, stage: str, reason: str, error: str
) -> None:
    """Dead-letter the event's original message (with its coordinates) to ``dlq``.

    The topic is passed in (agents get it from :class:`streams.worker.topics.Topics`)
    rather than imported, so this module depends on no app.
    """
    message = event.message
    key = message_key(message.key)
    letter = dead_letter(
        stage=stage,
        reason=reason,
        error=error,
        payload=message.value,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=key,
    )
    value = letter.model_dump_json().encode()
    await dlq.send(key=key, value=value, headers=message_headers(value, "dead_letter"))
