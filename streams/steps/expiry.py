"""expiry: a stored conversation state after the retention period has passed over it.

The conversation table keeps who took part in a thread; the retention setting
bounds how long townsquare keeps anything about people, and the table's
compacted changelog would otherwise keep a thread that went quiet forever.
A thread whose last activity is older than the cutoff goes altogether (the
agent deletes the key: a changelog tombstone, and a null value on
``conversations.state`` so the thread's document leaves the conversations
index too); otherwise :func:`processors.conversation.expire` drops the posts
and participants older than the cutoff, and the thread's new view goes out
with it so the index forgets them as the table does. A state with no activity
at all holds only the ids of deletes that overtook their posts (no person, no
time) and stays, so that the overtaken post is still refused when it arrives.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from processors.conversation import ConversationState, conversation_view, expire


class Expired(NamedTuple):
    """What to do with one key: ``drop`` it, store ``state``, or leave it (both falsy).

    ``view`` is the trimmed thread's new view (``conversations.state`` JSON),
    published with ``state``; a dropped thread publishes a tombstone instead.
    """

    drop: bool
    state: dict[str, Any] | None
    view: bytes | None = None


def platform_of(conversation_id: str) -> str:
    """The platform of a thread, from its id (``platform:native_id``, as every post id)."""
    return conversation_id.split(":", 1)[0]


def expire_stored(stored: dict[str, Any], cutoff: datetime, now: datetime) -> Expired:
    """The table's JSON state of one thread after the cutoff; ``now`` stamps its new view."""
    state = ConversationState.model_validate(stored)
    if state.last_activity is not None and state.last_activity < cutoff:
        return Expired(drop=True, state=None)
    trimmed = expire(state, cutoff)
    after = trimmed.model_dump(mode="json")
    if after == stored:
        return Expired(drop=False, state=None)
    view = conversation_view(trimmed, platform_of(state.conversation_id), now)
    return Expired(drop=False, state=after, view=view.model_dump_json().encode())
