"""The holder lookup for a client that may not list the family's indices: one ``ids`` search.

:mod:`streams.es.holders` lists the family's indices and multi-gets the ids,
which needs the ``view_index_metadata`` index privilege besides ``read``. An
API key without it is answered 403 on the listing; the index stage then falls
back to this lookup, which needs ``read`` only. It is near-real-time: a
document indexed since the last refresh (about a second) is not found yet, so
"held nowhere" may also mean "not visible yet"; placement sends such an action
through the write alias, where a document that new was written.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from elasticsearch import AsyncElasticsearch

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


async def searched_holders(
    es: AsyncElasticsearch, pattern: str, ids: Sequence[str]
) -> dict[str, list[str]]:
    """``{id: [indices]}`` by ``ids`` searches over ``pattern``; connection errors raise.

    One search for up to ``MAX_RESULTS // COPIES_PER_ID`` ids; more ids, or an
    id with more copies than asked for, take further searches, never a
    silently truncated answer.
    """
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
