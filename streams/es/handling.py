"""What the analyst's inbox reads and writes in Elasticsearch.

Handling records (``townsquare handle``) live in a plain index of their own,
``<prefix>-handling``, beside the conversations index: one document per
conversation id (its ``_id``), holding the latest decision (state, by, at,
until, assignee, note, handled_after). It is a plain index, not a family with
an alias and rollover: it holds one small document per conversation anyone
worked on, updated in place, and Kibana can show it through a data view on
``<prefix>-handling`` without any saved object of ours. The command creates
it on first use from ``schemas/elasticsearch/handling.mapping.json``; every
reader treats a missing index as "nothing handled yet".

The conversations index stays the pipeline's alone: the worker never reads
handling records and the CLI never writes thread documents, so a replay or a
rebuilt conversations index cannot lose what analysts decided, and a
decision cannot corrupt a thread's state. Which records hide which threads
is decided in :mod:`streams.cli.views` (pure), from what these reads return.

Every read is bounded: the queue pages through the waiting threads oldest
first (``search_after``) and stops at :data:`MAX_CONVERSATIONS`; the posts of
a page come in one search; a thread's posts are capped by the caller.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from importlib.resources import files
from typing import Any

from elasticsearch import Elasticsearch

from streams.es.conversations import AWAITING, MAX_CONVERSATIONS, conversations_sort
from streams.settings import Settings

POST_FIELDS: tuple[str, ...] = (
    "id",
    "conversation_id",
    "created_at",
    "url",
    "text",
    "redacted",
    "author.handle",
    "author.is_org_account",
    "stakeholder_labels",
    "stakeholders.label",
    "joinability.action",
    "joinability.reasons",
)
"""What the views show of a post: reading whole documents (entities, reading, evidence)
for a page of 20 would move a hundred times more than they print."""


def handling_index(settings: Settings) -> str:
    """``<prefix>-handling``: a plain index (no alias, no rollover, no ILM)."""
    return settings.index_alias("handling")


def handling_mapping() -> dict[str, Any]:
    text = files("schemas").joinpath("elasticsearch", "handling.mapping.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def ensure_handling_index(es: Elasticsearch, name: str) -> bool:
    """Create the index from its mapping file unless it exists; True when this call created it.

    A 400 from a concurrent creation (two analysts handling their first
    conversation at once) is the other call's success, not an error.
    """
    if es.indices.exists(index=name):
        return False
    resp = es.options(ignore_status=400).indices.create(index=name, **handling_mapping())
    return bool(resp.body.get("acknowledged"))


def read_handling(es: Elasticsearch, name: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The handling documents of these conversations, by id (absent ones left out).

    One ``mget``; a missing index answers every id with an error, read as "none".
    """
    if not ids:
        return {}
    resp = es.mget(index=name, ids=list(dict.fromkeys(ids)))
    return {
        str(doc["_id"]): dict(doc["_source"])
        for doc in resp.body.get("docs", [])
        if doc.get("found") and "_source" in doc
    }


def write_handling(es: Elasticsearch, name: str, document: dict[str, Any]) -> None:
    """Store a conversation's decision (``_id`` = its id: the latest decision wins).

    ``refresh="wait_for"``: the next ``townsquare inbox`` must already see it.
    """
    es.index(index=name, id=document["conversation_id"], document=document, refresh="wait_for")


def find_conversation(es: Elasticsearch, alias: str, conversation_id: str) -> dict[str, Any] | None:
    """The thread's document in the conversations index, or None when it has none.

    A search, not a get: the alias may span indices after a rollover.
    """
    resp = es.search(index=alias, query={"term": {"conversation_id": conversation_id}}, size=1)
    hits = resp["hits"]["hits"]
    return dict(hits[0]["_source"]) if hits else None


def awaiting_pages(
    es: Elasticsearch, alias: str, page_size: int, bound: int = MAX_CONVERSATIONS
) -> Iterator[list[dict[str, Any]]]:
    """The threads waiting for our reply, oldest wait first, a page at a time.

    The caller stops when its page is full; the scan itself stops after
    ``bound`` threads, so a queue that is mostly handled cannot read without end.
    """
    after: list[Any] | None = None
    read = 0
    while read < bound:
        size = min(page_size, bound - read)
        extra: dict[str, Any] = {"search_after": after} if after is not None else {}
        resp = es.search(
            index=alias, query=AWAITING, sort=conversations_sort(True), size=size, **extra
        )
        hits = resp["hits"]["hits"]
        if not hits:
            return
        read += len(hits)
        yield [dict(h["_source"]) for h in hits]
        if len(hits) < size:
            return
        after = list(hits[-1]["sort"])


def read_posts(es: Elasticsearch, alias: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """These posts' documents (the fields the views show), by id, in one search."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    resp = es.search(
        index=alias,
        query={"terms": {"id": wanted}},
        size=len(wanted) * 2,  # a copy left in an older index after a rollover must not crowd out
        source_includes=list(POST_FIELDS),
    )
    return {str(h["_source"]["id"]): dict(h["_source"]) for h in resp["hits"]["hits"]}


def read_thread_posts(
    es: Elasticsearch, alias: str, conversation_id: str, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """The thread's latest ``limit`` posts, oldest first, and how many the index holds."""
    resp = es.search(
        index=alias,
        query={"term": {"conversation_id": conversation_id}},
        sort=[{"created_at": {"order": "desc"}}, {"id": {"order": "desc"}}],
        size=limit,
        source_includes=list(POST_FIELDS),
        track_total_hits=True,
    )
    hits = resp["hits"]
    seen: dict[str, dict[str, Any]] = {}
    for hit in hits["hits"]:
        seen.setdefault(str(hit["_source"]["id"]), dict(hit["_source"]))
    total = int(hits.get("total", {}).get("value", len(seen)))
    return list(reversed(seen.values())), max(total, len(seen))
