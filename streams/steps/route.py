"""route: where normalize sends one canonical post (the normalize stage's decision).

A post goes to ``posts.normalized`` keyed by its conversation id, so every post
of a thread reaches one partition and the conversation table needs no
repartition; it also leaves a small locator (post id -> conversation id) on
``posts.by_id`` so that a later delete that names only the post can find its
thread (see :mod:`streams.steps.locate`).

Adapters give a delete its own id as conversation when the platform did not
name the thread: such a delete goes to ``posts.by_id`` alone, where locate
finds its thread. A delete that names its thread goes straight to it, keeping
its place in the thread's order (a detour through locate could overtake later
posts of the thread).

Before routing, :func:`normalize_message` may pseudonymise the post (a
:class:`~processors.privacy.Pseudonymiser`, ``TOWNSQUARE_PSEUDONYMISE``) and
then ask a ``withhold`` hook whether it must be dropped (an erased author):
the hook sees the post as it would be published, pseudonyms included, and a
withheld post is counted, never published or dead-lettered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import overload

from processors.adapters import decode_envelope, normalize_encoded
from processors.adapters.errors import AdapterError
from processors.privacy import Pseudonymiser
from schemas.models import CanonicalPost
from streams.steps.outputs import Rejected, Send, Withheld
from streams.topic_names import BY_ID, NORMALIZED

UNEXPECTED = "unexpected_error"
"""Dead-letter reason for an exception no adapter foresaw (the stage still goes on)."""

Withhold = Callable[[CanonicalPost], str | None]
"""A hook that names why a post must not be published (a metric-label reason), or None."""


def locator(post: CanonicalPost) -> bytes:
    """The ``posts.by_id`` record that tells locate which thread ``post`` lives in."""
    return json.dumps(
        {"kind": "locate", "id": post.id, "conversation_id": post.conversation_id}
    ).encode()


def route(post: CanonicalPost, encoded: str | None = None) -> list[Send]:
    """The records normalize publishes for ``post`` (``encoded``: its JSON, if made), in order."""
    value = (encoded if encoded is not None else post.model_dump_json()).encode()
    if post.kind == "delete" and post.conversation_id == post.id:
        return [Send(BY_ID, post.id, value)]
    out = [Send(NORMALIZED, post.conversation_id, value)]
    if post.kind != "delete":
        # After the post itself: a delete waiting in locate is forwarded only once
        # this locator arrives, so it can never overtake the post it removes.
        out.append(Send(BY_ID, post.id, locator(post)))
    return out


@overload
def normalize_message(
    data: bytes,
    max_bytes: int,
    pseudonymiser: Pseudonymiser | None = None,
    withhold: None = None,
) -> list[Send] | Rejected: ...


@overload
def normalize_message(
    data: bytes,
    max_bytes: int,
    pseudonymiser: Pseudonymiser | None,
    withhold: Withhold | None,
) -> list[Send] | Rejected | Withheld: ...


def normalize_message(
    data: bytes,
    max_bytes: int,
    pseudonymiser: Pseudonymiser | None = None,
    withhold: Withhold | None = None,
) -> list[Send] | Rejected | Withheld:
    """One raw-topic value -> what to publish, why it is dead-lettered, or why it is withheld.

    The error policy of the normalize stage: an adapter's refusal keeps its
    reason (the DLQ metric label); anything else an adapter lets slip is
    ``unexpected_error``. Either way the message becomes one dead letter and
    the stage goes on.

    With a ``pseudonymiser`` the post is pseudonymised right after the adapter
    and serialised once more (the adapter's JSON names the author); without
    one, the adapter's JSON is published as it is. ``withhold`` runs last, on
    the post as it would be published; an exception in it is not caught: a
    broken hook must stop the stage rather than dead-letter (store) a post it
    may have been meant to drop.
    """
    try:
        # Adapters stamp the envelope's ingest id and receive time on the post.
        post, encoded = normalize_encoded(decode_envelope(data, max_bytes))
        if pseudonymiser is not None:
            post = pseudonymiser.pseudonymise_post(post)
            encoded = post.model_dump_json()
    except AdapterError as exc:
        return Rejected(exc.reason, f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # policy: bad input never stops the stage
        return Rejected(UNEXPECTED, f"{type(exc).__name__}: {exc}")
    if withhold is not None:
        reason = withhold(post)
        if reason is not None:
            return Withheld(reason)
    return route(post, encoded)
