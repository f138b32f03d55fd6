"""enrich: one normalized post against its conversation state -> the new state and what to send.

The decision itself is :func:`processors.enrich.apply`, shared with
``townsquare enrich`` (so an offline run reproduces what the stream publishes).
This step adds only the stream's side of it: the table's JSON form of the
state, the ``posts.enriched`` record keyed by conversation id (an enriched
post, or the tombstone of a delete for subscribers), and the outcome label:
``ok``, ``deleted``, ``skipped`` (the platform deleted the post already) or
``withheld_opt_out`` (its author asked not to be monitored; nothing is stored
or sent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from processors.conversation import ConversationState
from processors.enrich import Scores, WithheldReason, apply
from processors.profile import Organisation
from schemas.models import CanonicalPost, PostDeleted
from streams.steps.outputs import Send
from streams.topic_names import ENRICHED


class Enriched(NamedTuple):
    """The state to store (None: leave the table as it is), what to send, the outcome label."""

    state: dict[str, Any] | None
    outputs: list[Send]
    outcome: str


def load_state(value: Any) -> ConversationState | None:
    """A conversation-table value -> the state (None for a thread not seen yet)."""
    return None if value is None else ConversationState.model_validate(value)


def enrich(
    stored: Any,
    post: CanonicalPost,
    entities: Sequence[Mapping[str, Any]],
    org: Organisation,
    now: datetime,
    scores: Scores | None = None,
) -> Enriched:
    """Apply ``post`` to the stored state of its conversation (the table's JSON value)."""
    state, output = apply(load_state(stored), post, entities, org, now, scores)
    if isinstance(output, WithheldReason):
        return Enriched(None, [], output.value)
    if output is None:
        # The platform deleted this post already; it must not reappear anywhere.
        return Enriched(None, [], "skipped")
    assert state is not None  # apply returns a state whenever it publishes
    send = Send(ENRICHED, post.conversation_id, output.model_dump_json().encode())
    outcome = "deleted" if isinstance(output, PostDeleted) else "ok"
    return Enriched(state.model_dump(mode="json"), [send], outcome)
