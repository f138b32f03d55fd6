"""forget: an erased author leaves a conversation's stored state altogether.

``townsquare forget`` sends a delete for each stored post of the person; the
enrich stage applies it like any delete (the post leaves the state and a
tombstone goes to ``posts.enriched``). When the delete's author is under an
erasure, this step then removes everything else the state remembers of them
(:func:`processors.conversation.erase_author`: participant counts, posts
beyond the remembered window, hostility marks), so the table's compacted
changelog keeps no trace of the person once it compacts.
"""

from __future__ import annotations

from typing import Any

from processors.conversation import ConversationState, erase_author


def forget_author(stored: dict[str, Any], author_id: str) -> dict[str, Any]:
    """The table's JSON state with ``author_id`` erased from it."""
    state = ConversationState.model_validate(stored)
    return erase_author(state, author_id).model_dump(mode="json")
