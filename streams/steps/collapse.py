"""collapse: a batch of ``posts.enriched`` values -> one bulk action per post id.

Last write wins within a batch: a post and its later edit or delete collapse
to the final action, so a bulk request sees each id once and cannot apply an
older version after a newer one. Values that cannot become a document are
returned with their dead-letter reason instead of raising, so one bad message
never holds up the batch. Every action keeps the position of the value it came
from, so the index agent can dead-letter the right message when Elasticsearch
refuses a document.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from streams.es.documents import DocumentError, bulk_action
from streams.steps.outputs import Rejected


class Collapsed(NamedTuple):
    """Bulk actions in the order of their last write, and the values refused as documents.

    ``actions[i]`` is ``(position, action)``; ``rejected`` holds ``(position, why)``,
    where position indexes the input values.
    """

    actions: list[tuple[int, dict[str, Any]]]
    rejected: list[tuple[int, Rejected]]


def collapse(values: Sequence[bytes], alias: str, now: datetime) -> Collapsed:
    """One bulk action per post id (the last one in ``values``), plus the bad values."""
    latest: dict[str, tuple[int, dict[str, Any]]] = {}
    rejected: list[tuple[int, Rejected]] = []
    for position, value in enumerate(values):
        try:
            action = bulk_action(value, alias, now)
        except DocumentError as exc:
            rejected.append((position, Rejected(exc.reason, exc.detail)))
            continue
        # Re-inserting moves the id to the end: the batch keeps last-write order.
        latest.pop(action["_id"], None)
        latest[action["_id"]] = (position, action)
    return Collapsed(list(latest.values()), rejected)
