"""Queries analysts and the CLI ask of the posts index, built as plain dicts.

"Awaiting our reply" is a thread's current state, which the conversations
index holds (:mod:`streams.es.conversations`), not the snapshot each post
carries: a thread answered an hour ago still has its earlier posts flagged.
So a search for posts awaiting a reply first looks up the threads waiting now
and then filters posts by those ids (:attr:`PostFilter.conversation_ids`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """``90m``, ``24h``, ``7d`` -> timedelta; anything else is a readable error."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise ValueError(f"{text!r} is not a duration; use a number and a unit, e.g. 30m, 24h, 7d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@dataclass
class PostFilter:
    text: str | None = None
    min_joinability: float | None = None
    actions: list[str] = field(default_factory=list)
    stakeholders: list[str] = field(default_factory=list)
    since: timedelta | None = None
    platforms: list[str] = field(default_factory=list)
    conversation_ids: list[str] | None = None
    """Only posts of these threads (e.g. those awaiting our reply now); an empty list
    matches nothing, None does not filter."""


def posts_query(flt: PostFilter) -> dict[str, Any]:
    must: list[dict[str, Any]] = []
    filters: list[dict[str, Any]] = []
    if flt.text:
        must.append(
            {
                "multi_match": {
                    "query": flt.text,
                    "fields": ["text^2", "text.std", "author.handle", "hashtags"],
                }
            }
        )
    if flt.min_joinability is not None:
        filters.append({"range": {"joinability.score": {"gte": flt.min_joinability}}})
    if flt.actions:
        filters.append({"terms": {"joinability.action": flt.actions}})
    if flt.stakeholders:
        filters.append({"terms": {"stakeholder_labels": flt.stakeholders}})
    if flt.conversation_ids is not None:
        filters.append({"terms": {"conversation_id": list(flt.conversation_ids)}})
    if flt.since is not None:
        seconds = int(flt.since.total_seconds())
        filters.append({"range": {"created_at": {"gte": f"now-{seconds}s"}}})
    if flt.platforms:
        filters.append({"terms": {"platform": flt.platforms}})
    if not must and not filters:
        return {"match_all": {}}
    return {"bool": {"must": must, "filter": filters}}


def posts_sort(flt: PostFilter) -> list[dict[str, Any]]:
    if flt.text:
        return [{"_score": "desc"}, {"joinability.score": "desc"}]
    return [{"joinability.score": "desc"}, {"created_at": "desc"}]
