"""The enrich step's side of the conversations index: a view after every message, a tombstone
when nothing of the thread is left, and an erasure applied before the view is built."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from stepdata import post, post_data

from processors.profile import Organisation
from schemas.models import CanonicalPost, ConversationView
from streams.steps.enrich import Enriched, Tombstone, enrich
from streams.topic_names import CONVERSATIONS, ENRICHED

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def _by(n: int, conversation: int, who: str, **kwargs: Any) -> CanonicalPost:
    data = post_data(n, conversation, **kwargs)
    data["author"] = {"id": f"x:{who}", "handle": who.capitalize()}
    return CanonicalPost.model_validate(data)


def _run(org: Organisation, *posts: CanonicalPost, erased: str | None = None) -> list[Enriched]:
    stored: Any = None
    results = []
    for p in posts:
        result = enrich(stored, p, [], org, NOW, erase_author=p.author.id == erased)
        stored = result.state if result.state is not None else stored
        results.append(result)
    return results


def _view(result: Enriched) -> ConversationView:
    [send] = [s for s in result.outputs if s.topic_name == CONVERSATIONS]
    assert send.key == ConversationView.model_validate_json(send.value).conversation_id
    return ConversationView.model_validate_json(send.value)


def test_every_post_sends_the_enriched_record_then_the_threads_view(
    council: Organisation,
) -> None:
    first, second = _run(council, post(1, 1), post(2, 1, reply_to=1))
    assert [s.topic_name for s in second.outputs] == [ENRICHED, CONVERSATIONS]
    assert {s.key for s in second.outputs} == {"x:1"}
    view = _view(second)
    assert (view.posts, view.participants, view.updated_at) == (2, 2, NOW)
    assert view.last_post is not None and view.last_post.id == "x:2"
    assert view.last_post.text == "post 2 about the bins"
    assert second.state is not None
    assert view.awaiting_org_reply == second.state["awaiting_org_reply"]
    assert first.tombstones == second.tombstones == ()


def test_a_delete_republishes_the_view_and_an_empty_thread_is_a_tombstone(
    council: Organisation,
) -> None:
    *_, deleted = _run(council, post(1, 1), post(2, 1, reply_to=1), post(2, 1, kind="delete"))
    assert deleted.outcome == "deleted"
    view = _view(deleted)
    assert view.posts == 1 and view.last_post is not None and view.last_post.id == "x:1"

    *_, emptied = _run(council, post(3, 3), post(3, 3, kind="delete"))
    assert [s.topic_name for s in emptied.outputs] == [ENRICHED], "no view of an empty thread"
    assert emptied.tombstones == (Tombstone(CONVERSATIONS, "x:3"),)
    # A delete that overtakes its post: the state remembers it, the view is a tombstone.
    [early] = _run(council, post(9, 9, kind="delete"))
    assert early.tombstones == (Tombstone(CONVERSATIONS, "x:9"),)


def test_withheld_and_skipped_posts_publish_no_view(council: Organisation) -> None:
    *_, skipped = _run(council, post(1, 1, kind="delete"), post(1, 1))
    assert skipped == (None, [], "skipped", ())


def test_an_erased_authors_delete_leaves_a_view_that_never_names_them(
    council: Organisation,
) -> None:
    thread = [
        _by(1, 1, "alice"),
        _by(2, 1, "bob", reply_to=1),
        _by(3, 1, "alice", reply_to=2),
    ]
    forget_one = _by(3, 1, "alice", kind="delete")
    plain = _run(council, *thread, forget_one)[-1]
    assert "x:alice" in _view(plain).participant_ids, "a plain delete keeps her other post"

    erased = _run(council, *thread, forget_one, erased="x:alice")[-1]
    view = _view(erased)
    assert "alice" not in erased.outputs[-1].value.decode().lower()
    assert view.participant_ids == ["x:bob"] and view.participants == 1
    assert view.last_post is not None and view.last_post.author_id == "x:bob"
    assert erased.state is not None and "alice" not in str(erased.state).lower()


def test_a_tombstone_names_a_known_topic() -> None:
    with pytest.raises(ValueError, match="unknown topic"):
        Tombstone("conversations", "x:1")
