"""Conversations as they stand now, read from the snapshots on their posts.

Every post document carries ``conversation``: the thread's state right after
that post was enriched. A thread's current state is the snapshot on the post
enriched *last* (``processed_at.enrich``; ``created_at`` breaks ties and
stands in for documents without an enrich time). Counting posts flagged
``awaiting_org_reply`` is wrong: a thread we answered an hour ago still has
its earlier posts flagged. Taking the newest post by ``created_at`` alone is
wrong for a post that arrives late (a backfilled reply): its snapshot knows
more than the newer posts' snapshots do.

Two bounded aggregations, no scroll:

1. *candidates*: the ids of conversations worth looking at (for
   ``awaiting_only``, those with at least one awaiting snapshot: a thread
   awaiting now has its latest snapshot awaiting, so none is missed), at most
   ``max_conversations`` of them;
2. *latest*: for those ids, in chunks, one ``terms`` bucket per conversation
   with two ``top_hits`` of size 1: the snapshot enriched last (its state)
   and the newest post (what an analyst reads).

Ordering (oldest wait first, or most recent activity first) happens here over
that bounded set, so no date sub-aggregation is needed to order buckets.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

log = logging.getLogger("townsquare.conversations")

MAX_CONVERSATIONS = 10_000
CHUNK = 500

STATE_SORT: list[dict[str, Any]] = [
    {"processed_at.enrich": {"order": "desc", "unmapped_type": "date", "missing": "_last"}},
    {"created_at": {"order": "desc"}},
]
STATE_FIELDS = ["id", "conversation_id", "platform", "conversation"]
LAST_POST_FIELDS = ["id", "platform", "url", "created_at", "text", "author"]


def candidates_query(awaiting_only: bool, max_conversations: int) -> dict[str, Any]:
    """Search body: ids of the conversations whose current state may be wanted."""
    query: dict[str, Any] = (
        {"term": {"conversation.awaiting_org_reply": True}} if awaiting_only else {"match_all": {}}
    )
    return {
        "size": 0,
        "query": query,
        "aggs": {
            "conversations": {"terms": {"field": "conversation_id", "size": max_conversations}}
        },
    }


def latest_query(conversation_ids: Sequence[str]) -> dict[str, Any]:
    """Search body: per conversation, the snapshot enriched last and the newest post."""
    return {
        "size": 0,
        "query": {"terms": {"conversation_id": list(conversation_ids)}},
        "aggs": {
            "conversations": {
                "terms": {"field": "conversation_id", "size": max(1, len(conversation_ids))},
                "aggs": {
                    "state": {
                        "top_hits": {
                            "size": 1,
                            "sort": STATE_SORT,
                            "_source": {"includes": STATE_FIELDS},
                        }
                    },
                    "last": {
                        "top_hits": {
                            "size": 1,
                            "sort": [{"created_at": {"order": "desc"}}],
                            "_source": {"includes": LAST_POST_FIELDS},
                        }
                    },
                },
            }
        },
    }


def parse_candidates(resp: dict[str, Any]) -> tuple[list[str], bool]:
    """Candidate ids, and whether the bound cut some off."""
    agg = resp["aggregations"]["conversations"]
    ids = [str(b["key"]) for b in agg["buckets"]]
    return ids, int(agg.get("sum_other_doc_count") or 0) > 0


def _top_source(bucket: dict[str, Any], name: str) -> dict[str, Any]:
    hits = bucket[name]["hits"]["hits"]
    return dict(hits[0]["_source"]) if hits else {}


def parse_latest(resp: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per conversation: its current state and its newest post."""
    out = []
    for bucket in resp["aggregations"]["conversations"]["buckets"]:
        state = _top_source(bucket, "state")
        last = _top_source(bucket, "last")
        out.append(
            {
                "conversation_id": str(bucket["key"]),
                "platform": state.get("platform") or last.get("platform"),
                "state_post_id": state.get("id"),
                "conversation": dict(state.get("conversation") or {}),
                "last_post": last,
            }
        )
    return out


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def awaiting_since(record: dict[str, Any]) -> datetime | None:
    return _time(record["conversation"].get("awaiting_since"))


def select(records: list[dict[str, Any]], awaiting_only: bool, limit: int) -> list[dict[str, Any]]:
    """Awaiting ones oldest wait first; otherwise most recent activity first; then the limit."""
    if awaiting_only:
        waiting = [r for r in records if r["conversation"].get("awaiting_org_reply")]
        # A flag without a time would be a producer bug; keep it visible, last.
        waiting.sort(key=lambda r: (awaiting_since(r) is None, awaiting_since(r) or datetime.max))
        return waiting[:limit]

    def activity(r: dict[str, Any]) -> str:
        return str(r["conversation"].get("last_activity") or r["last_post"].get("created_at") or "")

    return sorted(records, key=activity, reverse=True)[:limit]


@dataclass(frozen=True)
class LatestConversations:
    conversations: list[dict[str, Any]]
    truncated: bool
    """More conversations matched than ``max_conversations``; the answer covers the first ones."""


def find_latest(
    es: Elasticsearch,
    alias: str,
    awaiting_only: bool,
    limit: int,
    *,
    max_conversations: int = MAX_CONVERSATIONS,
    chunk: int = CHUNK,
) -> LatestConversations:
    """Current state of conversations (see module docstring), with a truncation flag."""
    resp = es.search(index=alias, **candidates_query(awaiting_only, max_conversations))
    ids, truncated = parse_candidates(dict(resp))
    records: list[dict[str, Any]] = []
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        records += parse_latest(dict(es.search(index=alias, **latest_query(part))))
    if truncated:
        log.warning(
            "more than %d conversations matched; only the first %d were read",
            max_conversations,
            max_conversations,
        )
    return LatestConversations(select(records, awaiting_only, limit), truncated)


def latest_conversations(
    es: Elasticsearch, alias: str, awaiting_only: bool, limit: int
) -> list[dict[str, Any]]:
    """Current state of up to ``limit`` conversations (awaiting ones: oldest wait first)."""
    return find_latest(es, alias, awaiting_only, limit).conversations


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


def conversation_record(record: dict[str, Any], now: datetime, sla_minutes: int) -> dict[str, Any]:
    """The flat, JSON-ready view the CLI prints (one line per conversation with ``--json``)."""
    conv = record["conversation"]
    last = record["last_post"]
    since = awaiting_since(record)
    status = (
        sla_status(since, now, sla_minutes) if conv.get("awaiting_org_reply") and since else None
    )
    return {
        "conversation_id": record["conversation_id"],
        "platform": record["platform"],
        "awaiting_org_reply": bool(conv.get("awaiting_org_reply")),
        "awaiting_since": conv.get("awaiting_since"),
        "waiting_seconds": int(status.waited.total_seconds()) if status else None,
        "sla_minutes": sla_minutes,
        "sla": None if status is None else ("over" if status.over else "within"),
        "over_by_seconds": int(status.margin.total_seconds()) if status and status.over else None,
        "posts": conv.get("posts"),
        "participants": conv.get("participants"),
        "own_posts": conv.get("own_posts"),
        "last_activity": conv.get("last_activity"),
        "last_post": {
            "id": last.get("id"),
            "created_at": last.get("created_at"),
            "author": (last.get("author") or {}).get("handle"),
            "text": last.get("text"),
            "url": last.get("url"),
        },
    }
