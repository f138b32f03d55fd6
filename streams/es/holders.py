"""Which concrete indices of a family hold given document ids: one search over the family.

Posts are written through a write alias over numbered indices that ILM rolls
over, so after a rollover a post lives in an older index than the one the alias
writes to. Anything that must act on *every* copy of a post (the index stage's
deletes and edits, erasing an author) first asks where the copies are: an
``ids`` query over the family pattern (``<alias>-*``), ``_source`` off, only
``_index`` and ``_id`` back. The pattern, not the alias, is searched because an
index can leave the alias (or never have been on it) and still be searchable by
the family's readers.

Search is near-real-time: a document indexed since the last refresh (about a
second) is not found yet. Callers must treat "held nowhere" as "not visible
yet, or gone", never as proof: the index stage still sends such a delete
through the write alias, which is where a document that new was written.

While the cluster cannot be reached the lookup waits with the bulk's capped
backoff and tries again (:func:`streams.es.bulk.until_reachable`), so the index
agent pauses instead of failing the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from elasticsearch import AsyncElasticsearch

from streams.es.bulk import BulkOptions, until_reachable

log = logging.getLogger("townsquare.index")

MAX_RESULTS = 10_000
"""Elasticsearch's default ``index.max_result_window``: the most hits one search may return."""

COPIES_PER_ID = 4
"""Hits asked for per id: the write index plus a few older copies (rollovers, old duplicates)."""


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    step = MAX_RESULTS // COPIES_PER_ID
    return [list(ids[i : i + step]) for i in range(0, len(ids), step)]


async def _search(
    es: AsyncElasticsearch, pattern: str, ids: Sequence[str], size: int
) -> tuple[list[dict[str, Any]], bool]:
    """One ``ids`` search: the hits, and whether more matched than came back."""
    resp = await es.search(
        index=pattern,
        query={"ids": {"values": list(ids)}},
        source=False,
        size=size,
        sort="_doc",
        ignore_unavailable=True,
        allow_no_indices=True,
        filter_path="hits.total,hits.hits._index,hits.hits._id",
    )
    found = resp.body.get("hits", {})
    hits: list[dict[str, Any]] = found.get("hits", [])
    total = found.get("total", {})
    more = len(hits) >= size and (
        int(total.get("value", 0)) > len(hits) or total.get("relation", "eq") != "eq"
    )
    return hits, more


async def holders_once(
    es: AsyncElasticsearch, pattern: str, ids: Sequence[str]
) -> dict[str, list[str]]:
    """:func:`holders` without the outage retry: connection errors raise."""
    held: dict[str, list[str]] = {}
    pending = [(chunk, min(MAX_RESULTS, len(chunk) * COPIES_PER_ID)) for chunk in _chunks(ids)]
    while pending:
        chunk, size = pending.pop()
        hits, more = await _search(es, pattern, chunk, size)
        if more and len(chunk) > 1:
            # Some ids have more copies than asked for: look the halves up again.
            half = len(chunk) // 2
            pending += [
                (part, min(MAX_RESULTS, len(part) * COPIES_PER_ID))
                for part in (chunk[:half], chunk[half:])
            ]
            continue
        if more and size < MAX_RESULTS:
            pending.append((chunk, MAX_RESULTS))
            continue
        if more:
            log.error(
                "more copies of one id than a search returns; acting on the first ones",
                extra={"stage": "index", "id": chunk[0], "copies": len(hits)},
            )
        for hit in hits:
            held.setdefault(hit["_id"], []).append(hit["_index"])
    return {doc_id: sorted(set(indices)) for doc_id, indices in held.items()}


async def holders(
    es: AsyncElasticsearch,
    pattern: str,
    ids: Sequence[str],
    *,
    options: BulkOptions | None = None,
    give_up_after: float | None = None,
) -> dict[str, list[str]]:
    """``{id: [concrete indices holding it]}`` for the ids found under ``pattern``.

    Ids held nowhere (or not visible yet, see the module docstring) are absent.
    One search for up to ``MAX_RESULTS // COPIES_PER_ID`` ids; more ids, or an
    id with more copies than asked for, take further searches, never a
    silently truncated answer. Blocks with backoff while the cluster is
    unreachable (``options`` gives the backoff, ``give_up_after`` as in
    :func:`streams.es.bulk.index_batch`).
    """
    unique = list(dict.fromkeys(ids))
    if not unique:
        return {}
    return await until_reachable(
        lambda: holders_once(es, pattern, unique),
        options or BulkOptions(),
        give_up_after=give_up_after,
        request="holder lookup",
    )
