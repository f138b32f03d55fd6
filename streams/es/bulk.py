"""Bulk indexing by outcome: every action ends indexed, deleted, or as a dead letter.

* ``async_streaming_bulk`` with bounded chunk size and bytes; per-document
  429/5xx are retried by the helper with capped exponential backoff.
* Per-document failures that retrying cannot fix (mapping errors, a document
  that breaks ``dynamic: strict``) are returned for the dead-letter topic with
  the server's reason; the rest of the batch is indexed.
* When the cluster cannot be reached at all, :func:`index_batch` does not
  return: it waits with capped backoff (the same :class:`~streams.backoff.Backoff`
  the ingest sources use) and tries the same batch again. The
  agent awaiting it therefore stops consuming, and Faust commits no offset past
  what Elasticsearch acknowledged. Replays are harmless because ``_id`` is the
  post id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch, TransportError
from elasticsearch import ConnectionError as ESConnectionError
from elasticsearch import ConnectionTimeout as ESConnectionTimeout
from elasticsearch.helpers import async_streaming_bulk

from streams.backoff import RETRY_STATUSES, Backoff, retryable_status
from streams.metrics import ES_BULK_LATENCY, ES_DOCS, ES_FAILURES, ES_UP

log = logging.getLogger("townsquare.index")


@dataclass(frozen=True)
class BulkFailure:
    """One action Elasticsearch refused for good; ``index`` points into the batch."""

    index: int
    reason: str
    error: str


@dataclass(frozen=True)
class BulkOptions:
    chunk_size: int = 500
    max_chunk_bytes: int = 5 * 1024 * 1024
    max_retries: int = 5
    initial_backoff: float = 0.5
    max_backoff: float = 30.0


def _failure_reason(item: dict[str, Any]) -> tuple[str, str]:
    op = next(iter(item.values()))
    error = op.get("error")
    if isinstance(error, dict):
        return str(error.get("type", "es_error")), str(error.get("reason", error))
    return f"status_{op.get('status')}", str(error or op)


async def _bulk_once(
    es: AsyncElasticsearch, actions: Sequence[dict[str, Any]], options: BulkOptions
) -> list[BulkFailure]:
    failures: list[BulkFailure] = []
    # Results come back per chunk and retried documents come back late, so map
    # them to the batch by (operation, id), which is unique within a batch.
    position = {(a["_op_type"], a["_id"]): i for i, a in enumerate(actions)}
    started = time.perf_counter()
    async for ok, item in async_streaming_bulk(
        es,
        actions,
        chunk_size=options.chunk_size,
        max_chunk_bytes=options.max_chunk_bytes,
        raise_on_error=False,
        raise_on_exception=True,
        max_retries=options.max_retries,
        initial_backoff=options.initial_backoff,
        max_backoff=options.max_backoff,
        retry_on_status=RETRY_STATUSES,
        ignore_status=(404,),
    ):
        op_type, result = next(iter(item.items()))
        status = result.get("status")
        if ok or (op_type == "delete" and status == 404):
            ES_DOCS.labels(outcome="deleted" if op_type == "delete" else "indexed").inc()
            continue
        reason, error = _failure_reason(item)
        ES_DOCS.labels(outcome="failed").inc()
        ES_FAILURES.labels(reason=reason).inc()
        failures.append(BulkFailure(position.get((op_type, result.get("_id")), -1), reason, error))
    ES_BULK_LATENCY.observe(time.perf_counter() - started)
    return failures


async def index_batch(
    es: AsyncElasticsearch,
    actions: Sequence[dict[str, Any]],
    options: BulkOptions,
    *,
    give_up_after: float | None = None,
) -> list[BulkFailure]:
    """Index a batch, blocking (with backoff) while the cluster is unreachable.

    ``give_up_after`` (seconds) exists for one-shot commands and tests; the
    worker passes None and waits for as long as the outage lasts.
    """
    if not actions:
        return []
    backoff = Backoff(base=options.initial_backoff, cap=options.max_backoff)
    started = time.monotonic()
    while True:
        try:
            failures = await _bulk_once(es, actions, options)
        except (ESConnectionError, ESConnectionTimeout, TransportError, ApiError) as exc:
            if not _retryable_error(exc):
                raise
            ES_UP.set(0)
            if give_up_after is not None and time.monotonic() - started > give_up_after:
                raise
            delay = backoff.jittered()
            log.warning(
                "elasticsearch unavailable; consumption paused",
                extra={
                    "stage": "index",
                    "attempt": backoff.attempt,
                    "retry_in_s": round(delay, 2),
                    "error": str(exc)[:300],
                },
            )
            await asyncio.sleep(delay)
            continue
        ES_UP.set(1)
        return failures


def _retryable_error(exc: Exception) -> bool:
    """Connection trouble, or an answer with no status or a retryable one (429, 5xx)."""
    if isinstance(exc, (ESConnectionError, ESConnectionTimeout)):
        return True
    status = getattr(getattr(exc, "meta", None), "status", None)
    return status is None or retryable_status(status)
