"""The erasure list: who is forgotten, matched by id or handle, scoped by platform."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.erasure import ErasureList
from schemas.models import Author, Erasure

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _erasure(subject: str, platform: str | None = None) -> Erasure:
    return Erasure(subject=subject, platform=platform, requested_at=NOW, requested_by="dpo")


def test_an_empty_list_matches_nobody() -> None:
    assert not ErasureList().matches(Author(id="x:1", handle="alice"), "x")


def test_a_handle_matches_whatever_its_case_or_at_sign() -> None:
    erasures = ErasureList()
    erasures.add(_erasure("@Alice@Social.Example"))
    assert erasures.matches(Author(id="mastodon:9", handle="alice@social.example"), "mastodon")
    assert erasures.matches(Author(id="mastodon:9", handle="ALICE@social.example"), "mastodon")
    assert not erasures.matches(Author(id="mastodon:9", handle="alice"), "mastodon"), (
        "a bare local part is another person on another server"
    )


def test_an_author_id_matches_exactly() -> None:
    erasures = ErasureList()
    erasures.add(_erasure("x:42"))
    assert erasures.matches(Author(id="x:42", handle="someone"), "x")
    assert not erasures.matches(Author(id="x:420", handle="someone"), "x")


def test_a_platform_scope_leaves_other_platforms_alone() -> None:
    erasures = ErasureList()
    erasures.add(_erasure("alice", platform="bluesky"))
    assert erasures.matches(Author(id="bluesky:did:1", handle="alice"), "bluesky")
    assert not erasures.matches(Author(id="x:1", handle="alice"), "x")


def test_a_tombstone_lifts_an_erasure_and_a_bad_value_is_refused() -> None:
    erasures = ErasureList()
    record = _erasure("alice")
    erasures.apply(record.key(), record.model_dump_json().encode())
    assert len(erasures) == 1
    assert erasures.matches(Author(id="x:1", handle="alice"), "x")
    erasures.apply(record.key(), None)
    assert len(erasures) == 0
    assert not erasures.matches(Author(id="x:1", handle="alice"), "x")
    with pytest.raises(ValueError, match="not an erasure"):
        erasures.apply("k", b'{"subject": 1}')
    with pytest.raises(ValueError, match="not an erasure"):
        erasures.apply("k", b"\xff")


@given(
    erased=st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=20),
    other=st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=20),
)
def test_only_the_erased_handle_matches(erased: str, other: str) -> None:
    erasures = ErasureList()
    erasures.add(_erasure(erased))
    assert erasures.matches(Author(id="x:0", handle=erased.upper()), "x")
    assert erasures.matches(Author(id="x:0", handle=erased), "x")
    if other.lower() != erased.lower():
        assert not erasures.matches(Author(id="x:0", handle=other), "x")
