"""forget: an erased author leaves a conversation's stored state altogether.

``townsquare forget`` sends a delete for each stored post of the person; the
enrich stage applies it like any delete (the post leaves the state and a
tombstone goes to ``posts.enriched``). When the delete's author is under an
erasure, the enrich step (:func:`streams.steps.enrich.enrich` with
``erase_author``) then removes everything else the state remembers of them
(:func:`processors.conversation.erase_author`: participant counts, posts
beyond the remembered window, hostility marks, their displayed posts) before
it builds the thread's view, so neither the table's compacted changelog nor
the latest value on ``conversations.state`` keeps a trace of the person.
"""

from __future__ import annotations

from processors.conversation import ConversationState, erase_author


def forget_author(state: ConversationState, author_id: str) -> ConversationState:
    """The thread's state with ``author_id`` erased from it."""
    return erase_author(state, author_id)
