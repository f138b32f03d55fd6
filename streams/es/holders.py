"""Which concrete indices of a family hold given document ids: a listing and one multi-get.

Posts are written through a write alias over numbered indices that ILM rolls
over, so after a rollover a post lives in an older index than the one the alias
writes to. Anything that must act on *every* copy of a post (the index stage's
deletes and edits, erasing an author) first asks where the copies are.

How: list the family's open concrete indices (``<alias>-*``, resolved now, not
cached, so an index a rollover just created is asked too), then one ``_mget``
of every (index, id) pair with ``_source`` off. The pattern, not the alias, is
listed because an index can leave the alias (or never have been on it) and
still be searchable by the family's readers.

Why a multi-get and not an ``ids`` search (what this did before):

* a get is real-time: it finds a document indexed a moment ago, before any
  refresh, where a search only sees what the last refresh (about a second)
  made visible. "Held nowhere" is then a fact, not "not visible yet".
* a get goes to the one shard that holds the id; a search fans out to every
  shard of every index in the family. On the local stand-in server every
  search scanned the whole index: 200-500 ms a batch with 3,500 posts indexed,
  which was most of the index stage's latency at half load; the multi-get of
  40 ids took 2 ms.

The cost grows with indices x ids, which ILM keeps small (a handful of live
indices); one request asks for at most :data:`MAX_GETS` pairs and more take
further requests.

An index deleted between the listing and the get (ILM's delete phase) holds
nothing, so its ``index_not_found`` answers are dropped. Any other per-document
error (a shard not available, say) counts the id as held there: placement then
aims a delete at that copy too, which costs at most a harmless 404 and never
leaves a second copy behind; and a write aimed at an unavailable shard is
retried by the bulk like any other 503.

Listing needs the ``view_index_metadata`` index privilege besides ``read``.
A client refused it (403) falls back, for the rest of the process, to the
``ids`` search of :mod:`streams.es.holders_search` and says so once in the log.

While the cluster cannot be reached the lookup waits with the bulk's capped
backoff and tries again (:func:`streams.es.bulk.until_reachable`), so the index
agent pauses instead of failing the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from elasticsearch import AsyncElasticsearch, AuthorizationException

from streams.es.bulk import BulkOptions, until_reachable
from streams.es.holders_search import searched_holders

log = logging.getLogger("townsquare.index")

MAX_GETS = 10_000
"""The most (index, id) pairs one ``_mget`` request asks for."""

GONE = "index_not_found_exception"
"""The per-document error of an index deleted since it was listed: it holds nothing."""

_UNLISTABLE: set[str] = set()
"""Patterns this process may not list (403): looked up by search from then on."""


async def family_indices(es: AsyncElasticsearch, pattern: str) -> list[str]:
    """The open concrete indices ``pattern`` matches now (none: an empty list, not an error)."""
    resp = await es.indices.resolve_index(name=pattern, expand_wildcards="open")
    return sorted(str(index["name"]) for index in resp.body.get("indices", []))


def held_from(docs: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """``{id: [indices]}`` from ``_mget``'s ``docs``: found ones, and those answered by an error.

    See the module docstring for why an error other than :data:`GONE` counts as held.
    """
    held: dict[str, set[str]] = {}
    for doc in docs:
        error = doc.get("error")
        if error is not None:
            kind = error.get("type") if isinstance(error, Mapping) else str(error)
            if kind == GONE:
                continue
            log.warning(
                "holder lookup: no answer for one copy; counting it as held",
                extra={
                    "stage": "index",
                    "id": doc.get("_id"),
                    "index": doc.get("_index"),
                    "error": str(kind)[:200],
                },
            )
        elif not doc.get("found"):
            continue
        held.setdefault(str(doc["_id"]), set()).add(str(doc["_index"]))
    return {doc_id: sorted(indices) for doc_id, indices in held.items()}


async def holders_once(
    es: AsyncElasticsearch, pattern: str, ids: Sequence[str]
) -> dict[str, list[str]]:
    """:func:`holders` without the outage retry: connection errors raise."""
    if pattern in _UNLISTABLE:
        return await searched_holders(es, pattern, ids)
    try:
        indices = await family_indices(es, pattern)
    except AuthorizationException as exc:
        _UNLISTABLE.add(pattern)
        log.warning(
            "may not list the indices of %s; finding where posts are held by search, which "
            "misses documents indexed in the last second. Grant the view_index_metadata "
            "index privilege on it and restart the worker for real-time lookups",
            pattern,
            extra={"stage": "index", "error": str(exc)[:300]},
        )
        return await searched_holders(es, pattern, ids)
    pairs = [{"_index": index, "_id": doc_id} for index in indices for doc_id in ids]
    docs: list[dict[str, Any]] = []
    for start in range(0, len(pairs), MAX_GETS):
        resp = await es.mget(docs=pairs[start : start + MAX_GETS], source=False)
        docs += resp.body.get("docs", [])
    return held_from(docs)


async def holders(
    es: AsyncElasticsearch,
    pattern: str,
    ids: Sequence[str],
    *,
    options: BulkOptions | None = None,
    give_up_after: float | None = None,
) -> dict[str, list[str]]:
    """``{id: [concrete indices holding it]}`` for the ids found under ``pattern``.

    Ids held nowhere are absent. Blocks with backoff while the cluster is
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
