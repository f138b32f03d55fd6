"""locate: sends every delete to the conversation its post lives in.

Most platforms' delete events name only the post (Mastodon, Bluesky, X
compliance), but the conversation state is keyed by conversation. normalize
therefore publishes, for every post, a small locator (post id -> conversation
id) on ``posts.by_id``, keyed by post id, and sends deletes whose thread it
does not know there too. The locate stage keeps one :data:`Entry` per post id
(a changelog-backed table, co-partitioned with ``posts.by_id``) and:

* forwards a delete to ``posts.normalized`` under the post's real
  conversation id, where enrich removes it from the state and index from the
  search index;
* when a delete overtakes its post, forwards it at once under the post's own
  id (so every stored copy keyed by post id goes) and keeps it pending; when
  the post's locator arrives later, the delete is forwarded again under the
  real conversation, after the post itself (normalize sent the post first).

``townsquare forget`` also sends a :class:`Forget` for each post it erases:
the entry goes (the table's changelog gets a tombstone), so nothing keyed by
the person's post ids outlives the erasure.

An entry is about 100 bytes; the table's changelog is compacted, so a restart
rebuilds it. Entries keep the JSON shape the table has always stored
(``{"conversation_id": ...}`` or ``{"pending_delete": {...}}``), so existing
changelogs stay readable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple, TypedDict

from schemas.models import CanonicalPost
from streams.steps.outputs import Send
from streams.topic_names import NORMALIZED


class Entry(TypedDict, total=False):
    """What the locate table knows about one post id."""

    conversation_id: str
    pending_delete: dict[str, Any]


@dataclass(frozen=True)
class Locator:
    """normalize's note that post ``id`` lives in thread ``conversation_id``."""

    id: str
    conversation_id: str


@dataclass(frozen=True)
class Forget:
    """An erasure's note that post ``id`` must leave the table (``{"kind": "forget"}``)."""

    id: str


Message = Locator | Forget | CanonicalPost
"""A ``posts.by_id`` record: a locator, an erasure's forget, or a delete without its thread."""


def forget_record(post_id: str) -> bytes:
    """The ``posts.by_id`` value that makes locate drop ``post_id``'s entry."""
    return json.dumps({"kind": "forget", "id": post_id}).encode()


class Located(NamedTuple):
    """The entry to store for the post id, what to send, and the outcome (a metric label)."""

    entry: Entry
    outputs: list[Send]
    outcome: str | None


def decode(value: bytes) -> Message:
    """A ``posts.by_id`` value -> its message; raises ``ValueError`` on anything else."""
    data = json.loads(value)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    if data.get("kind") == "locate":
        return Locator(id=str(data["id"]), conversation_id=str(data["conversation_id"]))
    if data.get("kind") == "forget":
        return Forget(id=str(data["id"]))
    delete = CanonicalPost.model_validate(data)
    if delete.kind != "delete":
        raise ValueError(f"{delete.id}: a {delete.kind} on posts.by_id (only deletes go there)")
    return delete


def _forward(delete: CanonicalPost, conversation_id: str) -> Send:
    routed = delete.model_copy(update={"conversation_id": conversation_id})
    return Send(NORMALIZED, conversation_id, routed.model_dump_json().encode())


def locate(entry: Entry | None, message: Message) -> Located:
    """The locate stage's decision for one message about the post ``entry`` describes.

    An empty entry in the result means "drop the key" (the agent deletes it).
    """
    known: Entry = entry or {}
    if isinstance(message, Forget):
        return Located({}, [], "forgotten" if known else None)
    if isinstance(message, Locator):
        pending = known.get("pending_delete")
        new: Entry = {"conversation_id": message.conversation_id}
        if pending:
            delete = CanonicalPost.model_validate(pending)
            return Located(new, [_forward(delete, message.conversation_id)], "delete_resolved_late")
        return Located(new, [], None)
    if "conversation_id" in known:
        return Located(known, [_forward(message, known["conversation_id"])], "delete_resolved")
    pending_entry: Entry = {"pending_delete": message.model_dump(mode="json")}
    return Located(pending_entry, [_forward(message, message.id)], "delete_pending")
