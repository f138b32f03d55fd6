"""Queries analysts and the CLI ask of the posts index, and the values their filters accept.

"Awaiting our reply" is a thread's current state, which the conversations
index holds (:mod:`streams.es.conversations`), not the snapshot each post
carries: a thread answered an hour ago still has its earlier posts flagged.
So a search for posts awaiting a reply first looks up the threads waiting now
and then filters posts by those ids (:attr:`PostFilter.conversation_ids`).

A filter on a keyword field matches exactly, so a typo (``replyy``,
``twitter``) matches nothing and looks like an empty result. Every value with
a known vocabulary is therefore checked before the query is sent
(:func:`check_choices`): the error names the allowed values and the nearest
one.

Three halves: the vocabularies and their check, the query and sort as plain
dicts (:func:`posts_query`, :func:`posts_sort`), and a few small reads the
CLI needs around a search (the newest match, the platforms in the index, posts
by id).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, get_args

from schemas.models import Action, StakeholderLabel

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


# --- vocabularies ------------------------------------------------------------------------

ACTIONS: tuple[str, ...] = get_args(Action)
"""The recommended actions (``schemas.models.Action``), in the model's order."""
STAKEHOLDER_LABELS: tuple[str, ...] = get_args(StakeholderLabel)
"""The stakeholder labels (``schemas.models.StakeholderLabel``), in the model's order."""
SORTS: tuple[str, ...] = ("joinability", "time", "relevance")
"""Orders of ``townsquare search``; the first is the default."""

STAKEHOLDER_SYNONYMS: Mapping[str, str] = {
    "journalist": "media",
    "journalists": "media",
    "reporter": "media",
    "press": "media",
    "news": "media",
    "resident": "citizen",
    "residents": "citizen",
    "client": "customer",
    "staff": "employee",
    "shareholder": "investor",
    "councillor": "official",
    "regulator": "official",
    "politician": "official",
    "rival": "competitor",
}
"""Words people reach for that are spelled differently here: a suggestion, never accepted."""
PLATFORM_SYNONYMS: Mapping[str, str] = {
    "twitter": "x",
    "tweets": "x",
    "bsky": "bluesky",
    "fediverse": "mastodon",
    "feed": "rss",
    "atom": "rss",
}
"""Old or informal platform names: a suggestion, never accepted."""


def adapter_platforms() -> tuple[str, ...]:
    """The platforms the format adapters stamp on posts (each adapter's ``PLATFORM``).

    Read from the adapters themselves so that a new adapter extends the list.
    The ``webhook`` and ``canonical`` formats carry any platform name their
    sender chose; those are found in the index instead (:func:`index_platforms`).
    """
    from processors.adapters import bluesky, customer_care, mastodon, reddit, rss, twcs_csv, x_v2

    modules = (bluesky, customer_care, mastodon, reddit, rss, twcs_csv, x_v2)
    return tuple(sorted({m.PLATFORM for m in modules}))


class BadChoice(ValueError):
    """An option value outside its vocabulary; the message lists the vocabulary."""

    def __init__(
        self, option: str, value: str, allowed: Sequence[str], suggestion: str | None, what: str
    ) -> None:
        self.option = option
        self.value = value
        self.allowed = list(allowed)
        self.suggestion = suggestion
        hint = f"; did you mean {suggestion!r}?" if suggestion else "."
        choices = ", ".join(allowed) if allowed else "(none)"
        super().__init__(f"{option} {value!r} is not {what}{hint} Choose from: {choices}")


def _key(value: str) -> str:
    return value.strip().lower().replace("-", "_").replace(" ", "_")


def suggest(
    value: str, allowed: Sequence[str], synonyms: Mapping[str, str] | None = None
) -> str | None:
    """The allowed value closest to ``value``, reading a known synonym as what it means.

    A misspelt synonym counts too (``twiter`` is near ``twitter``, which is ``x``).
    """
    by_key = {_key(a): a for a in allowed}
    for word, meant in (synonyms or {}).items():
        if meant in allowed:
            by_key.setdefault(_key(word), meant)
    close = difflib.get_close_matches(_key(value), list(by_key), n=1, cutoff=0.6)
    return by_key[close[0]] if close else None


def check_choices(
    option: str,
    values: Iterable[str],
    allowed: Sequence[str],
    what: str,
    synonyms: Mapping[str, str] | None = None,
) -> list[str]:
    """``values`` spelled as ``allowed`` spells them, or :class:`BadChoice` for the first stray.

    Case, hyphens and spaces are forgiven (``Listen-Only`` is ``listen_only``)
    because they cannot mean anything else; anything further is refused with a
    suggestion, since guessing would filter on something the analyst did not ask for.
    """
    by_key = {_key(a): a for a in allowed}
    out: list[str] = []
    for value in values:
        found = by_key.get(_key(value))
        if found is None:
            raise BadChoice(option, value, allowed, suggest(value, allowed, synonyms), what)
        if found not in out:
            out.append(found)
    return out


# --- windows -----------------------------------------------------------------------------


def parse_duration(text: str) -> timedelta:
    """``90m``, ``24h``, ``7d`` -> timedelta; anything else is a readable error."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise ValueError(f"{text!r} is not a duration; use a number and a unit, e.g. 30m, 24h, 7d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_instant(text: str, *, end_of_day: bool = False) -> datetime:
    """An ISO 8601 date or time as an aware UTC datetime; a time without a zone is UTC.

    A date alone is the start of that day, or with ``end_of_day`` the start of
    the next one: ``--until 2026-03-14`` reads as "up to and including the 14th",
    which is what people mean by a date as an end.
    """
    value = text.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        start = datetime.combine(day, time(0), tzinfo=UTC)
        return start + timedelta(days=1) if end_of_day else start
    try:
        moment = datetime.fromisoformat(value[:-1] + "Z" if value.endswith("z") else value)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 date or time, e.g. 2026-03-14, 2026-03-14T09:30 "
            "(UTC) or 2026-03-14T09:30+01:00"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- the query ---------------------------------------------------------------------------


@dataclass
class PostFilter:
    """What ``townsquare search`` asks for; values within one field are alternatives (OR)."""

    text: str | None = None
    min_joinability: float | None = None
    actions: list[str] = field(default_factory=list)
    stakeholders: list[str] = field(default_factory=list)
    start: datetime | None = None
    """Only posts created at or after this time."""
    end: datetime | None = None
    """Only posts created before this time."""
    platforms: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    """Profile topics, as the reading found them (its ``on_topic`` signal)."""
    entities: list[str] = field(default_factory=list)
    """Entity names, matched whole and case-insensitively."""
    conversation_ids: list[str] | None = None
    """Only posts of these threads (e.g. those awaiting our reply now); an empty list
    matches nothing, None does not filter."""

    def without_window(self) -> PostFilter:
        """The same filter at any time: to tell an empty window from an empty match."""
        return replace(self, start=None, end=None)


def topic_query(topic: str) -> dict[str, Any]:
    """Posts the reading found on ``topic``.

    The reading records a profile topic as the ``on_topic`` signal, whose
    evidence quotes the words it matched (``is about 'garden waste'``; a hashtag
    is split first, so ``#GardenWaste`` reads the same). The phrase is matched
    in that evidence, which the index analyses case-insensitively.
    """
    return {
        "nested": {
            "path": "reading.signals",
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"reading.signals.name": "on_topic"}},
                        {"match_phrase": {"reading.signals.evidence": topic}},
                    ]
                }
            },
        }
    }


def entity_query(name: str) -> dict[str, Any]:
    """Posts with an entity called ``name`` (the whole name, any case: ``elm street``)."""
    return {
        "nested": {
            "path": "entities",
            "query": {
                "term": {"entities.text.raw": {"value": name.strip(), "case_insensitive": True}}
            },
        }
    }


def _any_of(queries: list[dict[str, Any]]) -> dict[str, Any]:
    return (
        queries[0]
        if len(queries) == 1
        else {"bool": {"should": queries, "minimum_should_match": 1}}
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


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
    window: dict[str, str] = {}
    if flt.start is not None:
        window["gte"] = _iso(flt.start)
    if flt.end is not None:
        window["lt"] = _iso(flt.end)
    if window:
        filters.append({"range": {"created_at": window}})
    if flt.platforms:
        filters.append({"terms": {"platform": flt.platforms}})
    if flt.topics:
        filters.append(_any_of([topic_query(t) for t in flt.topics]))
    if flt.entities:
        filters.append(_any_of([entity_query(e) for e in flt.entities]))
    if not must and not filters:
        return {"match_all": {}}
    return {"bool": {"must": must, "filter": filters}}


SORT_DESCRIPTIONS: Mapping[str, str] = {
    "joinability": "best joinability first, then newest",
    "time": "newest first",
    "relevance": "best text match first, then best joinability",
}


def posts_sort(order: str = "joinability") -> list[dict[str, Any]]:
    """The sort of an order in :data:`SORTS`; the post id breaks ties, so pages are stable.

    The order is the analyst's choice, never implied by a query: "best
    joinability first" holds with words too, and text relevance applies only
    when asked for.
    """
    score = {"joinability.score": {"order": "desc"}}
    newest = {"created_at": {"order": "desc"}}
    first: dict[str, list[dict[str, Any]]] = {
        "joinability": [score, newest],
        "time": [newest, score],
        "relevance": [{"_score": {"order": "desc"}}, score, newest],
    }
    if order not in first:
        raise BadChoice("--sort", order, SORTS, suggest(order, SORTS), "an order")
    return [*first[order], {"id": {"order": "asc"}}]


# --- reads around a search -------------------------------------------------------------


def newest_created_at(es: Elasticsearch, alias: str, flt: PostFilter) -> datetime | None:
    """When the newest post matching ``flt`` was created, or None when none matches.

    A sort rather than a ``max`` aggregation: the local search server answers
    a date ``max`` with null.
    """
    resp = es.search(
        index=alias,
        query=posts_query(flt),
        sort=[{"created_at": {"order": "desc"}}],
        size=1,
        source_includes=["created_at"],
    )
    hits = resp["hits"]["hits"]
    if not hits or not hits[0]["_source"].get("created_at"):
        return None
    return parse_instant(str(hits[0]["_source"]["created_at"]))


def index_platforms(es: Elasticsearch, alias: str) -> list[str]:
    """Every platform name in the posts index (webhook senders choose their own)."""
    from elasticsearch import NotFoundError

    try:
        resp = es.search(
            index=alias, size=0, aggs={"platforms": {"terms": {"field": "platform", "size": 500}}}
        )
    except NotFoundError:
        return []
    return sorted(str(b["key"]) for b in resp["aggregations"]["platforms"]["buckets"])


def posts_by_id(
    es: Elasticsearch, alias: str, ids: Sequence[str], fields: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The stored ``fields`` of the posts with these ids (absent ones are left out)."""
    from elasticsearch import NotFoundError

    wanted = sorted(set(ids))
    if not wanted:
        return {}
    try:
        resp = es.search(
            index=alias,
            query={"terms": {"id": wanted}},
            size=len(wanted),
            source_includes=["id", *fields],
        )
    except NotFoundError:
        return {}
    return {str(h["_source"]["id"]): h["_source"] for h in resp["hits"]["hits"]}
