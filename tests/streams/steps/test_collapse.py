"""collapse: last write wins per post id within a batch; bad documents become reasons."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from stepdata import post

from processors.profile import load_profile
from schemas.models import PostDeleted
from streams.sample import COUNCIL_PROFILE, sample_path
from streams.steps.collapse import collapse
from streams.steps.enrich import enrich
from streams.steps.outputs import Rejected
from streams.topic_names import ENRICHED

ALIAS = "townsquare-posts"
NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
COUNCIL = load_profile(sample_path(COUNCIL_PROFILE))


def enriched(n: int, text: str = "hello") -> bytes:
    """A posts.enriched value, made by the real enrich step (no NER: no entities)."""
    result = enrich(None, post(n, 1, text=text or " "), [], COUNCIL, NOW)
    [out] = [o for o in result.outputs if o.topic_name == ENRICHED]
    return out.value


def tombstone(n: int) -> bytes:
    return (
        PostDeleted(id=f"x:{n}", platform="x", conversation_id="x:1", deleted_at=NOW)
        .model_dump_json()
        .encode()
    )


def _ops(values: list[bytes]) -> list[tuple[int, str, str, Any]]:
    return [
        (pos, a["_op_type"], a["_id"], (a.get("_source") or {}).get("text"))
        for pos, a in collapse(values, ALIAS, NOW).actions
    ]


def test_an_edit_in_the_same_batch_replaces_the_post() -> None:
    assert _ops([enriched(1, "first"), enriched(2), enriched(1, "edited")]) == [
        (1, "index", "x:2", "hello"),
        (2, "index", "x:1", "edited"),
    ]


def test_a_tombstone_becomes_a_bulk_delete_and_wins_over_the_post_before_it() -> None:
    assert _ops([enriched(1), tombstone(1)]) == [(1, "delete", "x:1", None)]


def test_a_post_after_its_tombstone_is_indexed_again() -> None:
    # Enrich never re-publishes a deleted post, so this only happens on a real re-post.
    assert _ops([tombstone(1), enriched(1)]) == [(1, "index", "x:1", "hello")]


def test_documents_carry_the_alias_and_the_index_time() -> None:
    [(_, action)] = collapse([enriched(1)], ALIAS, NOW).actions
    assert action["_index"] == ALIAS
    assert action["_source"]["indexed_at"] == NOW.isoformat()
    assert action["_source"]["stakeholder_labels"] == []


def test_bad_documents_come_back_as_reasons_and_the_rest_is_indexed() -> None:
    result = collapse([b"\xff", b"[]", enriched(1), b'{"id": 3}'], ALIAS, NOW)
    assert [pos for pos, _ in result.actions] == [2]
    assert [(pos, why.reason) for pos, why in result.rejected] == [
        (0, "invalid_json"),
        (1, "wrong_type"),
        (3, "schema"),
    ]
    assert all(isinstance(why, Rejected) and why.error for _, why in result.rejected)


@given(st.lists(st.tuples(st.integers(0, 5), st.booleans(), st.text(max_size=5)), max_size=30))
def test_exactly_the_last_action_per_id_survives_in_last_write_order(
    writes: list[tuple[int, bool, str]],
) -> None:
    values = [tombstone(n) if gone else enriched(n, text) for n, gone, text in writes]
    actions = collapse(values, ALIAS, NOW).actions
    last = {f"x:{n}": pos for pos, (n, _, _) in enumerate(writes)}
    assert [pos for pos, _ in actions] == sorted(last.values())
    for pos, action in actions:
        n, gone, text = writes[pos]
        assert action["_id"] == f"x:{n}"
        assert action["_op_type"] == ("delete" if gone else "index")
        if not gone:
            assert action["_source"]["text"] == (text or " ")
