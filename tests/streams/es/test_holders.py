"""What the holder lookup makes of a multi-get's answers (pure: no server)."""

from __future__ import annotations

import logging

import pytest

from streams.es.holders import GONE, held_from


def test_found_copies_are_held_and_missing_ones_are_not() -> None:
    docs = [
        {"_index": "p-000001", "_id": "x:1", "found": True},
        {"_index": "p-000002", "_id": "x:1", "found": True},
        {"_index": "p-000001", "_id": "x:2", "found": False},
        {"_index": "p-000002", "_id": "x:2", "found": False},
        {"_index": "p-000002", "_id": "x:3", "found": True},
    ]
    assert held_from(docs) == {"x:1": ["p-000001", "p-000002"], "x:3": ["p-000002"]}


def test_an_index_deleted_since_the_listing_holds_nothing() -> None:
    docs = [
        {"_index": "p-000001", "_id": "x:1", "error": {"type": GONE, "reason": "no such index"}},
        {"_index": "p-000002", "_id": "x:1", "found": True},
    ]
    assert held_from(docs) == {"x:1": ["p-000002"]}


def test_any_other_error_counts_the_copy_as_held_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Placement then also deletes there (a 404 at worst) instead of risking a second copy."""
    docs = [
        {
            "_index": "p-000001",
            "_id": "x:1",
            "error": {"type": "no_shard_available_action_exception", "reason": "shard down"},
        },
        {"_index": "p-000002", "_id": "x:1", "found": True},
    ]
    with caplog.at_level(logging.WARNING, logger="townsquare.index"):
        assert held_from(docs) == {"x:1": ["p-000001", "p-000002"]}
    assert [r.getMessage() for r in caplog.records] == [
        "holder lookup: no answer for one copy; counting it as held"
    ]


def test_nothing_asked_nothing_held() -> None:
    assert held_from([]) == {}
