"""expiry: a stored conversation state after the retention period has passed over it.

The conversation table keeps who took part in a thread; the retention setting
bounds how long townsquare keeps anything about people, and the table's
compacted changelog would otherwise keep a thread that went quiet forever.
A thread whose last activity is older than the cutoff goes altogether (the
agent deletes the key: a changelog tombstone); otherwise
:func:`processors.conversation.expire` drops the posts and participants older
than the cutoff. A state with no activity at all holds only the ids of
deletes that overtook their posts (no person, no time) and stays, so that the
overtaken post is still refused when it arrives.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from processors.conversation import ConversationState, expire


class Expired(NamedTuple):
    """What to do with one key: ``drop`` it, store ``state``, or leave it (both falsy)."""

    drop: bool
    state: dict[str, Any] | None


def expire_stored(stored: dict[str, Any], cutoff: datetime) -> Expired:
    """The table's JSON state of one thread after the cutoff."""
    state = ConversationState.model_validate(stored)
    if state.last_activity is not None and state.last_activity < cutoff:
        return Expired(drop=True, state=None)
    after = expire(state, cutoff).model_dump(mode="json")
    return Expired(drop=False, state=after if after != stored else None)
