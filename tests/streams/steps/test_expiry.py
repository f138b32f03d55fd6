"""The retention sweep of conversation states: quiet threads go, old participants leave,
and the conversations index hears of both (a tombstone, a trimmed view)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from processors.conversation import ConversationState, PostRef
from schemas.models import ConversationView
from streams.steps.alert import Fired, ThrottleState, expire_throttle
from streams.steps.expiry import Expired, expire_stored, platform_of
from streams.worker.expiry import sweep, sweep_throttle
from streams.worker.table_walk import key_partition

NOW = datetime(2026, 12, 1, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=30)


def _state(conversation: str, *posts: tuple[str, str, datetime]) -> dict[str, Any]:
    refs = [PostRef(id=i, author_id=a, created_at=t) for i, a, t in posts]
    state = ConversationState(
        conversation_id=conversation,
        posts=refs,
        post_count=len(refs),
        participants={a: sum(1 for r in refs if r.author_id == a) for _, a, _ in posts},
        participant_last_seen={
            a: max(r.created_at for r in refs if r.author_id == a)
            for r in refs
            for a in [r.author_id]
        },
        last_activity=max(r.created_at for r in refs) if refs else None,
    )
    return state.model_dump(mode="json")


OLD = NOW - timedelta(days=60)
RECENT = NOW - timedelta(days=1)


def test_a_thread_quiet_past_the_cutoff_is_dropped() -> None:
    result = expire_stored(_state("x:1", ("x:1", "x:ann", OLD)), CUTOFF, NOW)
    assert result.drop and result.state is None and result.view is None


def test_old_participants_leave_a_live_thread() -> None:
    stored = _state("x:2", ("x:2", "x:ann", OLD), ("x:3", "x:bob", RECENT))
    result = expire_stored(stored, CUTOFF, NOW)
    assert not result.drop and result.state is not None
    assert "x:ann" not in str(result.state)
    assert result.state["participants"] == {"x:bob": 1}
    assert result.view is not None, "the trimmed thread's view goes out with it"
    view = ConversationView.model_validate_json(result.view)
    assert (view.conversation_id, view.platform, view.updated_at) == ("x:2", "x", NOW)
    assert view.participant_ids == ["x:bob"] and "x:ann" not in result.view.decode()


def test_a_fresh_thread_is_left_alone_and_so_is_one_with_only_early_deletes() -> None:
    assert expire_stored(_state("x:4", ("x:4", "x:bob", RECENT)), CUTOFF, NOW) == (
        False,
        None,
        None,
    )
    deletes_only = ConversationState(conversation_id="x:5", deleted_post_ids=["x:5"])
    assert expire_stored(deletes_only.model_dump(mode="json"), CUTOFF, NOW) == (False, None, None)


def test_the_sweep_touches_only_the_partitions_it_owns() -> None:
    table = {f"x:{n}": _state(f"x:{n}", (f"x:{n}", "x:ann", OLD)) for n in range(40)}
    owned = {0}
    mine = {k for k in table if key_partition(k, 4) in owned}
    assert mine and len(mine) < len(table)
    outcomes = asyncio.run(sweep(table, owned, 4, CUTOFF))
    assert outcomes["dropped"] == len(mine)
    assert set(table) == {k for k in [f"x:{n}" for n in range(40)] if k not in mine}


def test_the_sweep_publishes_a_tombstone_per_dropped_thread_and_a_view_per_trimmed_one() -> None:
    table = {
        "x:gone": _state("x:gone", ("x:gone", "x:ann", OLD)),
        "x:trim": _state("x:trim", ("x:trim", "x:ann", OLD), ("x:t2", "x:bob", RECENT)),
        "x:same": _state("x:same", ("x:same", "x:bob", RECENT)),
    }
    sent: list[tuple[str, bytes | None]] = []

    async def publish(key: str, value: bytes | None) -> None:
        assert key not in table or value is not None, "the table is written first"
        sent.append((key, value))

    outcomes = asyncio.run(sweep(table, range(4), 4, CUTOFF, now=NOW, publish=publish))
    assert outcomes == {"dropped": 1, "trimmed": 1}
    assert dict(sent).keys() == {"x:gone", "x:trim"}, "an unchanged thread publishes nothing"
    assert dict(sent)["x:gone"] is None
    trimmed = dict(sent)["x:trim"]
    assert trimmed is not None
    view = ConversationView.model_validate_json(trimmed)
    assert view.participant_ids == ["x:bob"] and view.updated_at == NOW


def test_a_threads_platform_is_the_prefix_of_its_id() -> None:
    assert platform_of("x:1") == "x"
    assert platform_of("bluesky:at://did:plc:abc/app.bsky.feed.post/1") == "bluesky"


def test_key_partition_is_the_kafka_default_partitioner() -> None:
    """Both producers that key posts.normalized (Faust's aiokafka, kafka-python) agree with it."""
    from aiokafka.partitioner import DefaultPartitioner
    from kafka.partitioner.default import murmur2

    for key in ("x:1", "mastodon:109283", "bluesky:at://did:plc:abc/app.bsky.feed.post/1"):
        expected = DefaultPartitioner()(key.encode(), list(range(6)), list(range(6)))
        assert key_partition(key, 6) == expected
        assert key_partition(key, 6) == (murmur2(key.encode()) & 0x7FFFFFFF) % 6


def _throttle(**fired_days_ago: int) -> dict[str, Any]:
    """A throttle-table value as the alert stage stores it: rule -> fired that many days ago."""
    return ThrottleState(
        fired={
            rule: Fired(at=NOW - timedelta(days=days), post_id=f"x:{rule}")
            for rule, days in fired_days_ago.items()
        }
    ).model_dump(mode="json")


def test_a_throttle_entry_with_only_old_firings_is_dropped() -> None:
    assert expire_throttle(_throttle(complaint=40, press=31), CUTOFF) == Expired(True, None)


def test_a_throttle_entry_keeps_its_recent_firings_and_forgets_the_old() -> None:
    expired = expire_throttle(_throttle(complaint=40, press=1), CUTOFF)
    assert not expired.drop and expired.state is not None
    assert list(expired.state["fired"]) == ["press"]
    assert ThrottleState.model_validate(expired.state).fired["press"].post_id == "x:press"
    assert expire_throttle(_throttle(press=1), CUTOFF) == Expired(False, None)  # nothing to do


def test_an_unreadable_throttle_entry_is_dropped() -> None:
    assert expire_throttle({"fired": "not a mapping"}, CUTOFF).drop


def test_the_throttle_sweep_forgets_old_firings_in_owned_partitions_only() -> None:
    keys = [f"mastodon:t{n}" for n in range(40)]
    table: dict[str, Any] = {
        key: _throttle(complaint=40, press=n % 2) for n, key in enumerate(keys)
    }
    table["mastodon:stale"] = _throttle(complaint=90)
    owned = {0, 1}
    mine = [k for k in table if key_partition(k, 4) in owned]
    outcomes = asyncio.run(sweep_throttle(table, owned, 4, CUTOFF))
    assert outcomes["trimmed"] == sum(1 for k in mine if k != "mastodon:stale")
    assert outcomes["dropped"] == (1 if "mastodon:stale" in mine else 0)
    for key in mine:
        if key != "mastodon:stale":
            assert list(table[key]["fired"]) == ["press"]
    for key in set(table) - set(mine):
        assert "complaint" in table[key]["fired"], "a partition it does not own was touched"
    assert ("mastodon:stale" in table) == ("mastodon:stale" not in mine)
