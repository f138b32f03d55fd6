"""placement: collapsed bulk actions -> actions aimed at the indices that hold each post.

Posts are written through the write alias over numbered indices that ILM rolls
over, so after a rollover a post lives in an older index than the one the
alias writes to. An action sent to the alias then misses it (issue #11): a
delete answers 404 ``not_found`` and the post stays searchable for the whole
retention period, and an edit or a replay writes a second copy into the new
write index. Given where each id is held (``{id: [concrete indices]}``, from
:func:`streams.es.holders.holders`), this step aims every action at the copies:

* a delete becomes one delete per index holding the id. Held nowhere, it
  still goes through the write alias, where a post would have been written
  since the lookup (or by a batch in flight beside it), and a 404 there only
  means it was already gone.
* an index (a post, an edit, a replay) goes into the index that already holds
  the id, the newest one by numeric suffix, so the post keeps a single copy
  and last write wins within it; every other copy (duplicates an earlier
  version of the sink left) is deleted. Held nowhere, it goes to the alias.

Every action keeps the position of the value it came from, so a refusal of any
of them dead-letters the right message. Pure: no Elasticsearch here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Placed = tuple[int, dict[str, Any]]
"""``(position, action)``, as :func:`streams.steps.collapse.collapse` returns them."""


def _generation(index: str) -> tuple[int, str]:
    """Sort key for rollover order: the numeric suffix (``-000012``), then the name."""
    suffix = index.rsplit("-", 1)[-1]
    return (int(suffix) if suffix.isdigit() else -1, index)


def _delete(index: str, doc_id: str) -> dict[str, Any]:
    return {"_op_type": "delete", "_index": index, "_id": doc_id}


def place(actions: Sequence[Placed], holders: Mapping[str, Sequence[str]]) -> list[Placed]:
    """The actions to send, in the order of ``actions``; see the module docstring for the rules."""
    out: list[Placed] = []
    for position, action in actions:
        doc_id = action["_id"]
        held = sorted(set(holders.get(doc_id, ())), key=_generation)
        if not held:
            out.append((position, action))
        elif action["_op_type"] == "delete":
            out += [(position, _delete(index, doc_id)) for index in held]
        else:
            *older, newest = held
            out.append((position, {**action, "_index": newest}))
            out += [(position, _delete(index, doc_id)) for index in older]
    return out
