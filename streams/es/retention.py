"""Delete what is older than the retention period, for servers without ILM.

Where the cluster has ILM, the policy ``setup`` installs deletes whole indices
once they are older than ``TOWNSQUARE_RETENTION_DAYS`` and this is redundant
(and harmless: it finds little or nothing to delete). Where the server has no
ILM API (the local stand-in, some managed offerings), nothing else ever deletes
a post, so ``townsquare retention apply`` runs this on a schedule.

Age is the post's ``created_at``, not when it was indexed: retention counts from
when the person posted, which is what a retention promise to them means, and a
backfilled post indexed today must not be kept a full period past its date.
ILM's index age approximates the same, since indices roll over every few days
and take posts as they happen.

The conversations family has no ``created_at``: a document is a thread's
current state. Its age is ``last_activity``, the rule the enrich stage's
retention sweep drops a thread's state by (and publishes its tombstone for,
which is how threads normally leave the index). Deleting by it here removes
what a lost tombstone, or a server restored from an old snapshot, would leave
behind; a thread with recent activity is never touched, and the participants
its document still names past retention leave with the sweep's trimmed view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from streams.es.indices import FAMILIES
from streams.settings import Settings

REQUEST_TIMEOUT = 600.0
"""Seconds to wait for one family's delete-by-query: a first run over months of posts is
slow, and the client's usual 30 s would give up while the server carries on."""


AGE_FIELDS: dict[str, str] = {"conversations": "last_activity"}
"""A family's age field where it is not ``created_at`` (see the module docstring)."""


@dataclass(frozen=True)
class FamilyRetention:
    """The outcome for one index family (``posts``, ``alerts`` or ``conversations``)."""

    family: str
    pattern: str
    older: int
    """Documents created before the cutoff (counted in a dry run, deleted otherwise)."""
    deleted: int = 0
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RetentionRun:
    days: int
    cutoff: datetime
    dry_run: bool
    families: list[FamilyRetention]

    @property
    def failed(self) -> bool:
        return any(f.failures for f in self.families)


def cutoff_for(days: int, now: datetime | None = None) -> datetime:
    """The instant before which posts are out of retention."""
    if days < 1:
        raise ValueError(f"retention must be at least 1 day, not {days}")
    return (now or datetime.now(UTC)) - timedelta(days=days)


def older_than(cutoff: datetime, field: str = "created_at") -> dict[str, Any]:
    """The query for documents whose ``field`` is before ``cutoff`` (a post's time by default)."""
    return {"range": {field: {"lt": cutoff.astimezone(UTC).isoformat()}}}


def apply_retention(
    es: Elasticsearch,
    settings: Settings,
    days: int | None = None,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
) -> RetentionRun:
    """Delete (or with ``dry_run`` count) what every family holds from before the cutoff.

    Every index of a family (``<alias>-*``), not only the write alias: the old
    posts are in the rolled-over indices. ``conflicts="proceed"`` because the
    index stage may update a post while it is being deleted; the next run
    takes what a conflict left.
    """
    days = days if days is not None else settings.retention_days
    cutoff = cutoff_for(days, now)
    client = es.options(request_timeout=REQUEST_TIMEOUT)
    results: list[FamilyRetention] = []
    for family in FAMILIES:
        query = older_than(cutoff, AGE_FIELDS.get(family, "created_at"))
        pattern = f"{settings.index_alias(family)}-*"
        where: dict[str, Any] = {
            "index": pattern,
            "allow_no_indices": True,
            "ignore_unavailable": True,
        }
        if dry_run:
            count = int(client.count(query=query, **where)["count"])
            results.append(FamilyRetention(family, pattern, older=count))
            continue
        try:
            resp = client.delete_by_query(
                query=query, refresh=True, conflicts="proceed", **where
            ).body
        except NotFoundError:
            # No index of the family at all; Elasticsearch answers 0 with
            # allow_no_indices, the local stand-in 404: either way, nothing to delete.
            results.append(FamilyRetention(family, pattern, older=0))
            continue
        deleted = int(resp.get("deleted", 0))
        failures = [_failure_text(f) for f in resp.get("failures", [])]
        results.append(
            FamilyRetention(
                family,
                pattern,
                older=int(resp.get("total", deleted)),
                deleted=deleted,
                failures=failures,
            )
        )
    return RetentionRun(days=days, cutoff=cutoff, dry_run=dry_run, families=results)


def _failure_text(failure: Any) -> str:
    """One delete-by-query failure in a line (index, id and the reason, when given)."""
    if not isinstance(failure, dict):
        return str(failure)
    cause = failure.get("cause") or failure.get("reason") or {}
    reason = cause.get("reason", cause) if isinstance(cause, dict) else cause
    where = " ".join(str(failure[k]) for k in ("index", "id") if failure.get(k))
    return f"{where}: {reason}" if where else str(reason)
