"""The conversations index: one document per thread, holding its current state.

The enrich stage publishes each thread's view (:class:`schemas.models.ConversationView`)
on the compacted ``conversations.state`` topic after every post, edit or
delete of the thread, and a null value when the thread is gone (retention,
erasure, every post deleted). The index stage upserts the latest view per
thread with ``_id`` = conversation id, so the index holds exactly what the
topic's latest values say, and every reader below (``townsquare
conversations``, ``search --awaiting-reply``, ``make run``'s summary and
Kibana's "Waiting for us") reads one meaning of "awaiting our reply": the
thread waits *now*.

Before this index a thread's state had to be rebuilt from the snapshots on
its posts with two aggregations; counting posts flagged awaiting counted a
thread we answered an hour ago once per post that arrived while it waited.

Two halves, both plain functions:

* **documents** (the index stage): a batch of ``(key, value)`` messages ->
  one bulk action per thread, last write wins, tombstones as deletes, bad
  values returned with their dead-letter reason (:func:`collapse_views`);
* **reads** (the CLI): the threads waiting for us oldest first, or the most
  recently active, and the record ``townsquare conversations`` prints.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from elasticsearch import Elasticsearch, NotFoundError
from pydantic import ValidationError

from processors.profile import normalize_handle
from schemas.models import ConversationView
from streams.es.documents import DocumentError
from streams.steps.outputs import Rejected

log = logging.getLogger("townsquare.conversations")

MAX_CONVERSATIONS = 10_000
"""Elasticsearch's default ``index.max_result_window``: the most threads one read returns."""

AWAITING: dict[str, Any] = {"term": {"awaiting_org_reply": True}}
"""Threads waiting for our reply now (Kibana's "Waiting for us" is the same, in KQL)."""


# --- documents: conversations.state -> bulk actions -----------------------------------


def view_document(view: ConversationView, now: datetime) -> dict[str, Any]:
    """The indexed document of a view: the view itself, plus when it was indexed."""
    doc = view.model_dump(mode="json")
    doc["indexed_at"] = now.astimezone(UTC).isoformat()
    return doc


def view_action(key: str | None, value: bytes | None, alias: str, now: datetime) -> dict[str, Any]:
    """One ``conversations.state`` message -> an index action, or a delete for a tombstone.

    The key is the conversation id. A view whose ``conversation_id`` is not its
    key is refused (``key_mismatch``): upserting it would leave one thread
    with two documents, or overwrite another thread's.
    """
    if value is None:
        if not key:
            raise DocumentError("missing_key", "a tombstone without a key names no thread")
        return {"_op_type": "delete", "_index": alias, "_id": key}
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DocumentError("invalid_json", str(exc)) from exc
    if not isinstance(data, dict):
        raise DocumentError("wrong_type", f"expected a JSON object, got {type(data).__name__}")
    try:
        view = ConversationView.model_validate(data)
    except ValidationError as exc:
        raise DocumentError("schema", str(exc)) from exc
    if key is not None and key != view.conversation_id:
        raise DocumentError(
            "key_mismatch", f"key {key!r} carries the view of {view.conversation_id!r}"
        )
    return {
        "_op_type": "index",
        "_index": alias,
        "_id": view.conversation_id,
        "_source": view_document(view, now),
    }


class CollapsedViews(NamedTuple):
    """One action per thread in the order of its last write, and the messages refused.

    ``actions[i]`` is ``(position, action)`` and ``rejected`` ``(position, why)``,
    where position indexes the input messages (to dead-letter the right one).
    """

    actions: list[tuple[int, dict[str, Any]]]
    rejected: list[tuple[int, Rejected]]


def collapse_views(
    messages: Sequence[tuple[str | None, bytes | None]], alias: str, now: datetime
) -> CollapsedViews:
    """The batch's latest view per thread (a tombstone is a delete), plus the bad messages.

    Last write wins within a batch, as compaction would keep it: a thread
    updated three times and then dropped ends as one delete, and a bulk never
    sees a thread twice, so it cannot apply an older state after a newer one.
    """
    latest: dict[str, tuple[int, dict[str, Any]]] = {}
    rejected: list[tuple[int, Rejected]] = []
    for position, (key, value) in enumerate(messages):
        try:
            action = view_action(key, value, alias, now)
        except DocumentError as exc:
            rejected.append((position, Rejected(exc.reason, exc.detail)))
            continue
        latest.pop(action["_id"], None)  # re-inserting keeps last-write order
        latest[action["_id"]] = (position, action)
    return CollapsedViews(list(latest.values()), rejected)


# --- reads: what the CLI asks ------------------------------------------------------------


def conversations_query(
    awaiting_only: bool, platforms: Sequence[str] = (), actions: Sequence[str] = ()
) -> dict[str, Any]:
    """The threads waiting for us now, or every thread, narrowed by platform and action.

    ``actions`` match the action recommended on the thread's newest post
    (``last_post.action``), the post ``townsquare conversations`` shows.
    """
    filters: list[dict[str, Any]] = []
    if platforms:
        filters.append({"terms": {"platform": list(platforms)}})
    if actions:
        filters.append({"terms": {"last_post.action": list(actions)}})
    if not filters:
        return dict(AWAITING) if awaiting_only else {"match_all": {}}
    if awaiting_only:
        filters.insert(0, dict(AWAITING))
    return {"bool": {"filter": filters}}


def conversations_sort(awaiting_only: bool) -> list[dict[str, Any]]:
    """Oldest wait first (a flag without a time, a producer bug, last), else latest activity."""
    first = (
        {"awaiting_since": {"order": "asc", "missing": "_last"}}
        if awaiting_only
        else {"last_activity": {"order": "desc", "missing": "_last"}}
    )
    return [first, {"conversation_id": {"order": "asc"}}]


def find_conversations(
    es: Elasticsearch,
    alias: str,
    awaiting_only: bool,
    limit: int,
    *,
    platforms: Sequence[str] = (),
    actions: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Up to ``limit`` thread documents (awaiting ones: oldest wait first)."""
    resp = es.search(
        index=alias,
        query=conversations_query(awaiting_only, platforms, actions),
        sort=conversations_sort(awaiting_only),
        size=min(limit, MAX_CONVERSATIONS),
    )
    return [dict(h["_source"]) for h in resp["hits"]["hits"]]


def count_awaiting(es: Elasticsearch, alias: str) -> int:
    """How many threads wait for our reply now (0 when the index is not there yet)."""
    try:
        return int(es.count(index=alias, query=AWAITING)["count"])
    except NotFoundError:
        return 0


@dataclass(frozen=True)
class AwaitingIds:
    ids: list[str]
    truncated: bool
    """More threads wait than one read returns; ``ids`` holds the oldest waits."""


def awaiting_ids(es: Elasticsearch, alias: str, limit: int = MAX_CONVERSATIONS) -> AwaitingIds:
    """Ids of the threads waiting now, oldest wait first, for filtering their posts."""
    resp = es.search(
        index=alias,
        query=AWAITING,
        sort=conversations_sort(True),
        size=limit,
        source_includes=["conversation_id"],
        track_total_hits=True,
    )
    hits = resp["hits"]
    ids = [str(h["_source"]["conversation_id"]) for h in hits["hits"]]
    total = hits.get("total", {})
    truncated = int(total.get("value", len(ids))) > len(ids) or total.get("relation") == "gte"
    if truncated:
        log.warning("more than %d threads await our reply; only the oldest were read", limit)
    return AwaitingIds(ids, truncated)


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


# --- reply SLA -------------------------------------------------------------------------


@dataclass(frozen=True)
class SlaStatus:
    waited: timedelta
    sla: timedelta

    @property
    def over(self) -> bool:
        return self.waited > self.sla

    @property
    def margin(self) -> timedelta:
        """Time past the SLA when over, time left when within."""
        return abs(self.waited - self.sla)

    def describe(self) -> str:
        word = "over by" if self.over else "within, left"
        return f"{word} {format_span(self.margin)}"


def sla_status(since: datetime, now: datetime, sla_minutes: int) -> SlaStatus:
    return SlaStatus(waited=max(timedelta(0), now - since), sla=timedelta(minutes=sla_minutes))


def format_span(span: timedelta) -> str:
    """``3d 4h``, ``2h 05m``, ``7m``: coarse enough to read in a table."""
    minutes = int(span.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins:02d}m"
    return f"{mins}m"


def conversation_record(doc: dict[str, Any], now: datetime, sla_minutes: int) -> dict[str, Any]:
    """The flat, JSON-ready view the CLI prints (one line per conversation with ``--json``).

    ``doc`` is a conversations-index document; the shape is the one the
    command printed when it rebuilt threads from their posts, so scripts
    reading ``--json`` see no change.
    """
    last = doc.get("last_post") or {}
    since = _time(doc.get("awaiting_since"))
    awaiting = bool(doc.get("awaiting_org_reply"))
    status = sla_status(since, now, sla_minutes) if awaiting and since else None
    return {
        "conversation_id": doc["conversation_id"],
        "platform": doc.get("platform"),
        "awaiting_org_reply": awaiting,
        "awaiting_since": doc.get("awaiting_since"),
        "waiting_seconds": int(status.waited.total_seconds()) if status else None,
        "sla_minutes": sla_minutes,
        "sla": None if status is None else ("over" if status.over else "within"),
        "over_by_seconds": int(status.margin.total_seconds()) if status and status.over else None,
        "posts": doc.get("posts"),
        "participants": doc.get("participants"),
        "own_posts": doc.get("own_posts"),
        "last_activity": doc.get("last_activity"),
        "last_post": {
            "id": last.get("id"),
            "created_at": last.get("created_at"),
            "author": last.get("handle"),
            "text": last.get("text"),
            "url": last.get("url"),
        },
    }


# --- erasure ----------------------------------------------------------------------------


def names_person(
    doc: dict[str, Any],
    author_ids: Collection[str],
    handles: Collection[str],
    post_ids: Collection[str] = (),
) -> bool:
    """True when a thread document names the person (or points at one of their posts)."""
    return scrub_document(doc, author_ids, handles, post_ids) is not None


def scrub_document(
    doc: dict[str, Any],
    author_ids: Collection[str],
    handles: Collection[str],
    post_ids: Collection[str] = (),
) -> dict[str, Any] | None:
    """The thread document without the person, or None when it does not name them.

    ``townsquare forget`` uses it to clean a document at once, before the
    pipeline's erased view arrives: their id leaves ``participant_ids`` (and
    the count), a last post of theirs goes (the pipeline's view brings the
    stand-in), and ``awaiting_post_id`` / ``best_post_id`` (with its score)
    are cleared when they point at one of their posts. Handles compare
    normalized (``@Alice`` is ``alice``).
    """
    ids, posts = set(author_ids), set(post_ids)
    names = {normalize_handle(h) for h in handles if h}
    out = dict(doc)
    changed = False
    participants = list(doc.get("participant_ids") or [])
    kept = [a for a in participants if a not in ids]
    if len(kept) != len(participants):
        out["participant_ids"] = kept
        gone = len(participants) - len(kept)
        out["participants"] = max(0, int(doc.get("participants") or 0) - gone)
        changed = True
    last = doc.get("last_post") or None
    if last is not None and (
        last.get("author_id") in ids
        or normalize_handle(str(last.get("handle") or "")) in names
        or last.get("id") in posts
    ):
        out["last_post"] = None
        changed = True
    if doc.get("awaiting_post_id") in posts:
        out["awaiting_post_id"] = None
        changed = True
    if doc.get("best_post_id") in posts:
        out["best_post_id"], out["best_joinability"] = None, None
        changed = True
    return out if changed else None
