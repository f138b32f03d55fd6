"""enrich: one normalized post against its conversation state -> the new state and what to send.

The decision itself is :func:`processors.enrich.apply`, shared with
``townsquare enrich`` (so an offline run reproduces what the stream publishes).
This step adds only the stream's side of it: the table's JSON form of the
state, the ``posts.enriched`` record keyed by conversation id (an enriched
post, or the tombstone of a delete for subscribers), the thread's new view on
``conversations.state`` after it (or a null value when nothing of the thread
is left to show), and the outcome label: ``ok``, ``deleted``, ``skipped``
(the platform deleted the post already) or ``withheld_opt_out`` (its author
asked not to be monitored; nothing is stored or sent).

An erasure is applied here too (``erase_author``): ``townsquare forget``
sends a delete per stored post of the person, and when the delete's author is
under an erasure the rest of what the state remembers of them goes before the
view is built (:mod:`streams.steps.forget`), so the published view never names
the erased person, not even for the moment between two messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from processors.conversation import ConversationState, conversation_view, is_empty
from processors.enrich import Scores, WithheldReason, apply
from processors.profile import Organisation
from schemas.models import CanonicalPost, PostDeleted
from streams.steps.forget import forget_author
from streams.steps.outputs import Send
from streams.topic_names import CONVERSATIONS, ENRICHED, TOPIC_NAMES


@dataclass(frozen=True)
class Tombstone:
    """Publish a null value under ``key`` on ``topic_name``: a compacted topic forgets the key.

    :class:`~streams.steps.outputs.Send` carries bytes, and a null value is not
    bytes: a subscriber (and compaction) must see "gone", not an empty record.
    """

    topic_name: str
    key: str

    def __post_init__(self) -> None:
        if self.topic_name not in TOPIC_NAMES:
            raise ValueError(f"unknown topic name {self.topic_name!r}")


class Enriched(NamedTuple):
    """The state to store (None: leave the table as it is), what to send, the outcome label.

    ``tombstones`` are sent after ``outputs``: the thread's null view when
    nothing of it is left to show.
    """

    state: dict[str, Any] | None
    outputs: list[Send]
    outcome: str
    tombstones: tuple[Tombstone, ...] = ()


def load_state(value: Any) -> ConversationState | None:
    """A conversation-table value -> the state (None for a thread not seen yet)."""
    return None if value is None else ConversationState.model_validate(value)


def view_outputs(
    state: ConversationState, platform: str, now: datetime
) -> tuple[list[Send], tuple[Tombstone, ...]]:
    """The thread's view on ``conversations.state``, or its tombstone when it shows nobody."""
    key = state.conversation_id
    if is_empty(state):
        return [], (Tombstone(CONVERSATIONS, key),)
    view = conversation_view(state, platform, now)
    return [Send(CONVERSATIONS, key, view.model_dump_json().encode())], ()


def enrich(
    stored: Any,
    post: CanonicalPost,
    entities: Sequence[Mapping[str, Any]],
    org: Organisation,
    now: datetime,
    scores: Scores | None = None,
    *,
    erase_author: bool = False,
) -> Enriched:
    """Apply ``post`` to the stored state of its conversation (the table's JSON value).

    ``erase_author``: the post's author is under an erasure. Only a delete of
    theirs reaches this step then (the agent drops their posts), and after it
    the state forgets them altogether.
    """
    state, output = apply(load_state(stored), post, entities, org, now, scores)
    if isinstance(output, WithheldReason):
        return Enriched(None, [], output.value)
    if output is None:
        # The platform deleted this post already; it must not reappear anywhere.
        return Enriched(None, [], "skipped")
    assert state is not None  # apply returns a state whenever it publishes
    if erase_author and isinstance(output, PostDeleted):
        state = forget_author(state, post.author.id)
    sends = [Send(ENRICHED, post.conversation_id, output.model_dump_json().encode())]
    views, tombstones = view_outputs(state, post.platform, now)
    outcome = "deleted" if isinstance(output, PostDeleted) else "ok"
    return Enriched(state.model_dump(mode="json"), sends + views, outcome, tombstones)
