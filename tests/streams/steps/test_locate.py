"""locate: deletes find their thread, also when they overtake their post."""

from __future__ import annotations

import json

import pytest
from stepdata import post

from schemas.models import CanonicalPost
from streams.steps.locate import Locator, decode, locate
from streams.steps.route import locator, route
from streams.topic_names import NORMALIZED


def _forwarded(value: bytes) -> CanonicalPost:
    return CanonicalPost.model_validate_json(value)


def test_a_locator_records_the_thread_and_sends_nothing() -> None:
    located = locate(None, Locator("x:2", "x:1"))
    assert located.entry == {"conversation_id": "x:1"}
    assert located.outputs == []
    assert located.outcome is None


def test_a_late_delete_is_forwarded_to_the_thread_its_post_lives_in() -> None:
    entry = locate(None, Locator("x:2", "x:1")).entry
    delete = post(2, 2, kind="delete")
    located = locate(entry, delete)
    assert located.entry == entry, "the entry is unchanged"
    [out] = located.outputs
    assert (out.topic_name, out.key) == (NORMALIZED, "x:1")
    assert _forwarded(out.value) == delete.model_copy(update={"conversation_id": "x:1"})
    assert located.outcome == "delete_resolved"


def test_a_delete_before_its_post_goes_out_at_once_and_again_when_the_post_arrives() -> None:
    delete = post(2, 2, kind="delete")
    first = locate(None, delete)
    # At once, under the post's own id: every copy keyed by post id goes.
    [now] = first.outputs
    assert (now.topic_name, now.key) == (NORMALIZED, "x:2")
    assert first.entry == {"pending_delete": delete.model_dump(mode="json")}
    assert first.outcome == "delete_pending"
    # The post's locator arrives later: the delete follows it into its thread.
    second = locate(first.entry, Locator("x:2", "x:1"))
    [later] = second.outputs
    assert (later.topic_name, later.key) == (NORMALIZED, "x:1")
    assert _forwarded(later.value).conversation_id == "x:1"
    assert second.entry == {"conversation_id": "x:1"}
    assert second.outcome == "delete_resolved_late"


def test_decode_reads_what_normalize_writes() -> None:
    reply = post(2, 1)
    assert decode(locator(reply)) == Locator("x:2", "x:1")
    delete = post(3, 3, kind="delete")
    [sent] = route(delete)
    assert decode(sent.value) == delete


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        b"[1, 2]",
        json.dumps({"kind": "locate", "id": "x:2"}).encode(),
        json.dumps({"kind": "delete", "id": "x:2"}).encode(),
        post(2, 1).model_dump_json().encode(),  # only deletes travel on posts.by_id
    ],
)
def test_decode_refuses_anything_else(value: bytes) -> None:
    with pytest.raises((ValueError, KeyError)):
        decode(value)


def test_a_forget_drops_the_entry_and_sends_nothing() -> None:
    from streams.steps.locate import Forget, forget_record

    entry = locate(None, Locator("x:2", "x:1")).entry
    assert decode(forget_record("x:2")) == Forget("x:2")
    located = locate(entry, Forget("x:2"))
    assert located.entry == {}, "an empty entry tells the agent to delete the key"
    assert located.outputs == []
    assert located.outcome == "forgotten"
    pending = locate(None, post(3, 3, kind="delete")).entry
    assert locate(pending, Forget("x:3")).entry == {}, "a pending delete goes too"
    assert locate(None, Forget("x:4")).outcome is None, "nothing known: nothing to count"
