"""sink: posts.enriched -> Elasticsearch, offsets committed only after the bulk ack.

Events are taken in batches; the batch is acked when ``take_events`` resumes,
which is after :func:`streams.es.bulk.index_batch` returned, i.e. after
Elasticsearch acknowledged every document or each refusal went to the
dead-letter topic. While Elasticsearch is down ``index_batch`` keeps retrying,
so this agent stops pulling and nothing is committed past what is indexed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import faust

from streams.es.bulk import SinkOptions, index_batch
from streams.es.client import async_client
from streams.es.documents import DocumentError, bulk_action
from streams.metrics import BATCH_SIZE, END_TO_END_LATENCY, MESSAGES, STAGE_LATENCY
from streams.worker.app import app, settings
from streams.worker.dead_letters import publish_dead_letter
from streams.worker.topics import enriched_topic

STAGE = "sink"
log = logging.getLogger("townsquare.sink")

es = async_client(settings)
options = SinkOptions(
    chunk_size=settings.es_bulk_chunk,
    max_chunk_bytes=settings.es_bulk_max_bytes,
    max_retries=settings.es_max_retries,
    max_backoff=settings.es_max_backoff,
)
posts_alias = settings.index_alias("posts")


async def _dead_letter(event: faust.EventT, reason: str, error: str) -> None:
    await publish_dead_letter(event, stage=STAGE, reason=reason, error=error)


async def sink_events(events: Sequence[faust.EventT]) -> None:
    """Index one batch; bad documents become dead letters, the rest is indexed."""
    started = time.perf_counter()
    BATCH_SIZE.labels(stage=STAGE).observe(len(events))
    now = datetime.now(UTC)
    # Last write wins within a batch: a post and its later edit or delete
    # collapse to the final action, and bulk sees each id once.
    latest: dict[str, tuple[faust.EventT, dict[str, Any]]] = {}
    for event in events:
        try:
            action = bulk_action(event.message.value or b"", posts_alias, now)
        except DocumentError as exc:
            await _dead_letter(event, exc.reason, exc.detail)
            continue
        latest.pop(action["_id"], None)
        latest[action["_id"]] = (event, action)
    batch = list(latest.values())
    failures = await index_batch(es, [a for _, a in batch], options)
    failed = {f.index for f in failures}
    for failure in failures:
        if failure.index < 0:
            # Elasticsearch answered for an id we did not send: nothing to dead-letter.
            log.error(
                "bulk result for an unknown document",
                extra={"stage": STAGE, "reason": failure.reason, "error": failure.error[:500]},
            )
            continue
        await _dead_letter(batch[failure.index][0], failure.reason, failure.error)
    done = datetime.now(UTC)
    for i, (_, action) in enumerate(batch):
        if i in failed:
            continue
        MESSAGES.labels(stage=STAGE, outcome="ok").inc()
        received = (action.get("_source") or {}).get("received_at")
        if received:
            END_TO_END_LATENCY.observe((done - datetime.fromisoformat(received)).total_seconds())
    STAGE_LATENCY.labels(stage=STAGE).observe(time.perf_counter() - started)


@app.agent(enriched_topic, name="townsquare.sink")
async def sink_agent(stream: faust.StreamT) -> None:
    async for events in cast(faust.Stream, stream).take_events(
        settings.es_bulk_chunk, within=settings.batch_wait
    ):
        await sink_events(events)


@app.on_before_shutdown.connect  # type: ignore[arg-type]  # mode's stub is narrower than its runtime
async def _close_es(
    sender: Any, *args: Any, signal: Any = None, **kwargs: Any
) -> None:  # pragma: no cover - shutdown
    await es.close()
