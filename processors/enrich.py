"""One post through every enrichment processor, live (one at a time) or offline (a whole file).

:func:`apply` is the enrich stage's whole decision for one message: a delete
updates the state and leaves a tombstone, a post the platform already deleted
is skipped, a post by someone on the profile's ``opt_out`` list is withheld
(:data:`OPTED_OUT`: nothing stored, nothing published), anything else is
enriched, and redacted when the profile's ``redact_personal_topics`` asks for
it (:func:`processors.privacy.redact`, after the conversation state is
computed, so redaction changes what is shown, never how a thread is counted).
The enrich agent calls it per message with the entities its NER pool found;
``townsquare enrich`` and the tests call :func:`enrich_offline`, which runs
the very same step over an iterable, so an offline run reproduces what the
stream would have published.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from enum import Enum
from itertools import islice
from typing import Any, Protocol

from processors.conversation import (
    ConversationState,
    apply_closing,
    apply_delete,
    apply_post,
    is_own_post,
    remember_enriched,
    summarise,
)
from processors.entities import EntityExtractor
from processors.joinability import score_joinability
from processors.privacy import redact, touches_personal
from processors.profile import Organisation
from processors.reading import HOSTILE_SIGNALS, read_post
from processors.stakeholders import label_stakeholders
from schemas.models import CanonicalPost, EnrichedPost, Entity, PostDeleted

__all__ = [
    "OPTED_OUT",
    "Output",
    "WithheldReason",
    "apply",
    "enrich_offline",
    "enrich_post",
    "forget_post",
]


class WithheldReason(Enum):
    """Why :func:`apply` published nothing on purpose (its value is the outcome label)."""

    OPT_OUT = "withheld_opt_out"


OPTED_OUT = WithheldReason.OPT_OUT
"""The author is on the profile's ``opt_out`` list."""

Output = EnrichedPost | PostDeleted | WithheldReason | None
"""What the enrich stage publishes for one message: a post, a tombstone, or nothing.

``None`` is a post the platform deleted already; a :class:`WithheldReason` is one
that must not be kept for its author's sake. Both publish nothing and leave
the state as it was; the stream counts them apart.
"""

Scores = Mapping[str, Mapping[str, float]]
"""One post's classifier output: task -> label -> probability (see processors.classifiers)."""


class Classifier(Protocol):
    """What enrichment needs of the text classifiers: a batch of texts in, scores out."""

    def predict(self, texts: Sequence[str]) -> list[dict[str, dict[str, float]]]: ...


STAGE = "enrich"
_ADDRESSED = ("mention", "reply", "thread")
"""The reading's ways of addressing us that make a closing post an answer to our answer."""


def enrich_post(
    post: CanonicalPost,
    entities: Sequence[Mapping[str, Any]],
    state: ConversationState | None,
    org: Organisation,
    now: datetime,
    scores: Scores | None = None,
) -> tuple[EnrichedPost, ConversationState]:
    """The enriched post and the conversation state after it; deletes go to ``apply_delete``.

    With the profile's ``redact_personal_topics`` on, a post flagged with a
    personal topic is returned redacted; the state is computed from the whole
    post either way, but what it keeps for display (the thread's last post)
    is the post as published, so a redacted post shows no text there either.

    The reading needs the state after the post, so a post read as
    ``closing`` and addressed to us is settled afterwards
    (:func:`processors.conversation.apply_closing`): a thank-you after our
    answer leaves the thread out of the reply queue, in the state and in the
    snapshot this post carries.
    """
    if post.kind == "delete":
        raise ValueError(f"{post.id}: a delete is not enriched; use apply_delete()")
    if not post.author.is_org_account and is_own_post(post, org):
        post = post.model_copy(
            update={"author": post.author.model_copy(update={"is_org_account": True})}
        )
    new_state = apply_post(state, post, org)
    reading = read_post(post, new_state, org, entities, scores)
    if reading.kind == "closing" and reading.addressed in _ADDRESSED:
        new_state = apply_closing(new_state, post.id, state)
    if not post.author.is_org_account and any(s.name in HOSTILE_SIGNALS for s in reading.signals):
        new_state.mark_hostile(post.author.id)
    stakeholders = label_stakeholders(post, org, reading, entities, new_state)
    seen = post.received_at or now
    joinability, sensitivity = score_joinability(
        post, reading, stakeholders, new_state, org, post.author.is_org_account, seen
    )
    # The post's fields as they are (already validated), not dumped and parsed again:
    # nested models are taken as instances, so only the new fields are checked.
    enriched = EnrichedPost.model_validate(
        {
            **dict(post),
            "entities": [Entity.model_validate(dict(e)) for e in entities],
            "stakeholders": stakeholders,
            "joinability": joinability,
            "conversation": summarise(new_state),
            "sensitivity": sensitivity,
            "reading": reading,
            "processed_at": {STAGE: now},
        }
    )
    if org.redact_personal_topics and touches_personal(enriched):
        enriched = redact(enriched)
    return enriched, remember_enriched(new_state, enriched)


def forget_post(state: ConversationState | None, delete: CanonicalPost) -> ConversationState:
    """The state after a platform delete; a delete that overtakes its post is remembered."""
    base = state or ConversationState(conversation_id=delete.conversation_id)
    after = apply_delete(base, delete.id)
    assert after is not None  # apply_delete returns None only for a None state
    return after


def apply(
    state: ConversationState | None,
    post: CanonicalPost,
    entities: Sequence[Mapping[str, Any]],
    org: Organisation,
    now: datetime,
    scores: Scores | None = None,
) -> tuple[ConversationState | None, Output]:
    """The conversation state after ``post`` and what to publish for it.

    A post the platform deleted before (or after) we saw it must not come back
    anywhere, so it is skipped and the state is returned unchanged. A post by
    someone who opted out is withheld the same way (:data:`OPTED_OUT`): it
    never enters the conversation state. Their deletes are applied like any
    other, so a copy stored before they opted out is still removed.
    """
    if post.kind == "delete":
        tombstone = PostDeleted(
            id=post.id, platform=post.platform, conversation_id=post.conversation_id, deleted_at=now
        )
        return forget_post(state, post), tombstone
    if org.opted_out(post.author):
        return state, OPTED_OUT
    if state is not None and state.was_deleted(post.id):
        return state, None
    enriched, new_state = enrich_post(post, entities, state, org, now, scores)
    return new_state, enriched


def enrich_offline(
    posts: Iterable[CanonicalPost],
    extractor: EntityExtractor,
    org: Organisation,
    now: datetime | None = None,
    batch_size: int = 64,
    classifiers: Classifier | None = None,
) -> Iterator[EnrichedPost]:
    """Enrich posts in input order, entities extracted per batch; deletes update state only.

    Freshness is measured when each post reached us (``received_at``, stamped
    by whoever read the file), exactly as in the live stream. ``now`` replaces
    that moment for every post: "score these as if they had just arrived at
    ``now``"; without ``received_at`` or ``now`` a post counts as seen when it
    was written.
    """
    states: dict[str, ConversationState] = {}
    iterator = iter(posts)
    while batch := list(islice(iterator, batch_size)):
        records = [
            (str(i), p.text)
            for i, p in enumerate(batch)
            if p.kind != "delete" and not org.opted_out(p.author)  # their words are not read
        ]
        found = extractor.extract(records)
        scored = (
            dict(
                zip(
                    (k for k, _ in records),
                    classifiers.predict([t for _, t in records]),
                    strict=True,
                )
            )
            if classifiers
            else {}
        )
        for i, post in enumerate(batch):
            if now is not None and post.kind != "delete":
                post = post.model_copy(update={"received_at": now})
            state, output = apply(
                states.get(post.conversation_id),
                post,
                found.get(str(i), []),
                org,
                post.received_at or post.created_at,
                scored.get(str(i)),
            )
            if state is not None:
                states[post.conversation_id] = state
            if isinstance(output, EnrichedPost):
                yield output
