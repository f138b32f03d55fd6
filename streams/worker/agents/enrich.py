"""enrich: posts.normalized -> posts.enriched, in batches, with conversation state.

The agent body stays thin: decode, NER for the whole batch off the loop, then
for each post in partition order the pure ``processors.enrich`` step against
the conversation table, and send. A batch is acked (and its offsets become
committable) only after every send has been handed to the producer, which
Faust flushes before it commits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import faust
from pydantic import ValidationError

from processors.conversation import ConversationState
from processors.enrich import enrich_post, forget_post
from schemas.models import CanonicalPost, PostDeleted
from streams.metrics import BATCH_SIZE, MESSAGES, STAGE_LATENCY
from streams.profiles import profile_for
from streams.worker.app import app, settings
from streams.worker.dead_letters import publish_dead_letter
from streams.worker.ner import NerRunner
from streams.worker.tables import conversations, source_partition
from streams.worker.topics import enriched_topic, normalized_topic

STAGE = "enrich"
log = logging.getLogger("townsquare.enrich")

org = profile_for(settings)
ner = NerRunner(settings.spacy_model, org, settings.ner_processes)


async def _dead_letter(event: faust.EventT, reason: str, error: str) -> None:
    await publish_dead_letter(event, stage=STAGE, reason=reason, error=error)


def _load_state(value: Any) -> ConversationState | None:
    return None if value is None else ConversationState.model_validate(value)


async def enrich_events(events: Sequence[faust.EventT]) -> None:
    """Enrich one batch of normalized-topic events, in order."""
    started = time.perf_counter()
    BATCH_SIZE.labels(stage=STAGE).observe(len(events))
    posts: list[tuple[faust.EventT, CanonicalPost]] = []
    for event in events:
        try:
            posts.append((event, CanonicalPost.model_validate_json(event.message.value or b"")))
        except (ValidationError, ValueError, TypeError) as exc:
            await _dead_letter(event, "schema", str(exc))
    records = [(p.id, p.text) for _, p in posts if p.kind != "delete"]
    ner_started = time.perf_counter()
    try:
        found = await ner.extract(records)
    except Exception as exc:
        for event, _ in posts:
            await _dead_letter(event, "ner_failed", f"{type(exc).__name__}: {exc}")
        return
    ner_seconds = time.perf_counter() - ner_started
    for event, post in posts:
        try:
            with source_partition(event.message.partition):
                outcome = await _enrich_one(post, found.get(post.id, []))
        except Exception as exc:
            await _dead_letter(event, "unexpected_error", f"{type(exc).__name__}: {exc}")
            continue
        MESSAGES.labels(stage=STAGE, outcome=outcome).inc()
    seconds = time.perf_counter() - started
    STAGE_LATENCY.labels(stage=STAGE).observe(seconds)
    log.info(
        "enrich batch: %d posts, NER %.2fs, total %.2fs",
        len(posts),
        ner_seconds,
        seconds,
        extra={"stage": STAGE, "posts": len(posts), "ner_seconds": round(ner_seconds, 3)},
    )


async def _enrich_one(post: CanonicalPost, entities: list[dict[str, Any]]) -> str:
    """Apply one post to its conversation and publish the result; returns the outcome."""
    now = datetime.now(UTC)
    key = post.conversation_id
    state = _load_state(conversations.get(key))
    if post.kind == "delete":
        conversations[key] = forget_post(state, post).model_dump(mode="json")
        tombstone = PostDeleted(
            id=post.id, platform=post.platform, conversation_id=key, deleted_at=now
        )
        await enriched_topic.send(key=key, value=tombstone.model_dump_json().encode())
        return "deleted"
    if state is not None and state.was_deleted(post.id):
        return "skipped"  # the platform deleted it already; it must not reappear anywhere
    enriched, new_state = enrich_post(post, entities, state, org, now)
    conversations[key] = new_state.model_dump(mode="json")
    await enriched_topic.send(key=key, value=enriched.model_dump_json().encode())
    return "ok"


@app.agent(normalized_topic, name="townsquare.enrich")
async def enrich_agent(stream: faust.StreamT) -> None:
    async for events in cast(faust.Stream, stream).take_events(
        settings.batch_size, within=settings.batch_wait
    ):
        await enrich_events(events)


@app.on_before_shutdown.connect  # type: ignore[arg-type]  # mode's stub is narrower than its runtime
async def _close_ner(
    sender: Any, *args: Any, signal: Any = None, **kwargs: Any
) -> None:  # pragma: no cover - shutdown
    ner.close()
