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
  post id. :func:`until_reachable` is that loop on its own, so every request the
  index stage makes before its bulk (the holder lookup,
  :func:`streams.es.holders.holders`) pauses the same way instead of raising.
* A shutdown ends that wait: :func:`request_stop` (called by the worker's
  health service when the worker starts stopping, on SIGTERM) makes every
  :func:`until_reachable` raise :class:`ShuttingDown` between attempts and
  wakes those asleep in their backoff. The batch is then simply not acked, so
  no offset passes it and it is redelivered after the restart; without this,
  Faust's shutdown waits for the agent's unacked batch, which waits for
  Elasticsearch, and Kubernetes kills the pod before it leaves the group.
* An action names either the write alias or a concrete index (a delete or an
  edit placed where the post lives, :mod:`streams.steps.placement`), and one
  post id may have several actions in a batch (a delete per copy). Results are
  therefore matched by (operation, concrete index, id); a result that matches
  none answers an alias write, whose response names the concrete write index
  instead of the alias, and is matched by (operation, id), which is unique
  among alias writes. A 404 on a delete is success either way: through the
  alias the post was already gone, and on a concrete index the lookup just
  named the copy or the whole index (retention) vanished in between.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from elasticsearch import ApiError, AsyncElasticsearch, TransportError
from elasticsearch import ConnectionError as ESConnectionError
from elasticsearch import ConnectionTimeout as ESConnectionTimeout
from elasticsearch.helpers import async_streaming_bulk

from streams.backoff import RETRY_STATUSES, Backoff, retryable_status
from streams.metrics import ES_BULK_LATENCY, ES_DOCS, ES_FAILURES, ES_UP

log = logging.getLogger("townsquare.index")

T = TypeVar("T")


class ShuttingDown(Exception):
    """Raised instead of retrying once the process is stopping: the batch stays unacked."""


class _Stop:
    """The process-wide "stop retrying" flag, with one event per loop to wake backoff sleeps.

    An ``asyncio.Event`` belongs to the loop that first waits on it, and one
    process may run several loops in turn (a test suite, a CLI that calls
    ``asyncio.run`` twice), so each loop gets its own event; a loop that is
    gone drops out of the weak map by itself.
    """

    def __init__(self) -> None:
        self.requested = False
        self._events: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Event] = (
            weakref.WeakKeyDictionary()
        )

    def event(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        found = self._events.get(loop)
        if found is None:
            found = self._events[loop] = asyncio.Event()
            if self.requested:
                found.set()
        return found

    def wake_all(self) -> None:
        """Set every loop's event, from whichever thread asked for the stop."""
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for loop, event in list(self._events.items()):
            if loop is current:
                event.set()
            elif not loop.is_closed():
                loop.call_soon_threadsafe(event.set)


_STOP = _Stop()


def request_stop() -> None:
    """Stop every Elasticsearch wait now and from now on (the worker is shutting down)."""
    _STOP.requested = True
    _STOP.wake_all()


def reset_stop() -> None:
    """Forget a stop request (tests that run several workers in one process)."""
    _STOP.requested = False
    _STOP._events.clear()


def stop_requested() -> bool:
    """True once :func:`request_stop` was called (and not reset)."""
    return _STOP.requested


_unreachable_since: float | None = None


def unreachable_for() -> float | None:
    """Seconds :func:`until_reachable` has been waiting out an outage; None while it is not.

    Readiness reads it (streams.worker.health): a worker whose index stage is
    paused must not report ready.
    """
    if _unreachable_since is None:
        return None
    return time.monotonic() - _unreachable_since


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
    # them back by what the response names: the concrete index and the id.
    exact = {(a["_op_type"], a["_index"], a["_id"]): i for i, a in enumerate(actions)}
    # An alias write is answered with the concrete write index, so it matches
    # nothing above; (operation, id) finds it (placement sends one per id).
    by_id: dict[tuple[str, str], int] = {}
    for i, a in enumerate(actions):
        by_id.setdefault((a["_op_type"], a["_id"]), i)
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
        failures.append(BulkFailure(_position(exact, by_id, op_type, result), reason, error))
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
    return await until_reachable(
        lambda: _bulk_once(es, actions, options),
        options,
        give_up_after=give_up_after,
        request="bulk",
    )


async def until_reachable(
    call: Callable[[], Awaitable[T]],
    options: BulkOptions,
    *,
    give_up_after: float | None = None,
    request: str = "request",
) -> T:
    """Await ``call()`` until the cluster answers it, waiting with capped backoff in between.

    Connection errors and retryable answers (429, 5xx, no status) are waited
    out, with ``ES_UP`` at 0 meanwhile, so the caller (and the agent awaiting
    it) simply pauses through an outage; any other error is the request's
    fault and raises at once. ``give_up_after`` (seconds) re-raises the last
    error after that long, for one-shot commands and tests; the worker passes
    None. ``request`` names the call in the log. After :func:`request_stop`
    it raises :class:`ShuttingDown` instead of waiting (also mid-sleep), so a
    worker stopping during an outage exits within its grace period.
    """
    global _unreachable_since
    backoff = Backoff(base=options.initial_backoff, cap=options.max_backoff)
    started = time.monotonic()
    while True:
        try:
            result = await call()
        except (ESConnectionError, ESConnectionTimeout, TransportError, ApiError) as exc:
            if not _retryable_error(exc):
                raise
            ES_UP.set(0)
            if _unreachable_since is None:
                _unreachable_since = time.monotonic()
            if give_up_after is not None and time.monotonic() - started > give_up_after:
                raise
            if _STOP.requested:
                raise ShuttingDown(f"stopping; {request} not retried") from exc
            delay = backoff.jittered()
            log.warning(
                "elasticsearch unavailable; consumption paused",
                extra={
                    "stage": "index",
                    "request": request,
                    "attempt": backoff.attempt,
                    "retry_in_s": round(delay, 2),
                    "error": str(exc)[:300],
                },
            )
            stop = _STOP.event()
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except TimeoutError:
                continue
            raise ShuttingDown(f"stopping; {request} not retried") from exc
        ES_UP.set(1)
        _unreachable_since = None
        return result


def _position(
    exact: dict[tuple[str, str, str], int],
    by_id: dict[tuple[str, str], int],
    op_type: str,
    result: dict[str, Any],
) -> int:
    """The batch index of the action a bulk result answers; -1 if it answers none."""
    found = exact.get((op_type, result.get("_index", ""), result.get("_id", "")))
    if found is not None:
        return found
    return by_id.get((op_type, result.get("_id", "")), -1)


def _retryable_error(exc: Exception) -> bool:
    """Connection trouble, or an answer with no status or a retryable one (429, 5xx)."""
    if isinstance(exc, (ESConnectionError, ESConnectionTimeout)):
        return True
    status = getattr(getattr(exc, "meta", None), "status", None)
    return status is None or retryable_status(status)
