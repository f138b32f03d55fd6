"""The timers' shared walk: owned keys only, each with its partition, deleted ones skipped."""

from __future__ import annotations

import asyncio

import pytest

from streams.worker import table_walk
from streams.worker.table_walk import key_partition, owned_entries


def _walk(table: dict[str, int], owned: set[int], partitions: int) -> list[tuple[str, int, int]]:
    async def run() -> list[tuple[str, int, int]]:
        return [entry async for entry in owned_entries(table, owned, partitions)]

    return asyncio.run(run())


def test_only_owned_partitions_are_walked_each_with_its_partition() -> None:
    table = {f"x:{n}": n for n in range(200)}
    walked = _walk(table, {0, 2}, 4)
    assert walked == [
        (key, key_partition(key, 4), value)
        for key, value in table.items()
        if key_partition(key, 4) in {0, 2}
    ]
    assert 0 < len(walked) < len(table)
    assert _walk(table, set(), 4) == []


def test_an_entry_removed_during_the_walk_is_skipped() -> None:
    table = {f"x:{n}": n for n in range(10)}

    async def run() -> list[str]:
        seen = []
        async for key, _part, _value in owned_entries(table, {0}, 1):
            seen.append(key)
            table.pop("x:9", None)  # an agent deletes an entry the walk has listed
        return seen

    seen = asyncio.run(run())
    assert "x:9" not in seen and len(seen) == 9


def test_the_walk_yields_to_the_event_loop_every_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(table_walk, "CHUNK", 3)
    ticks: list[int] = []

    async def run() -> None:
        async def other() -> None:
            for _ in range(20):
                ticks.append(len(walked))
                await asyncio.sleep(0)

        walked: list[str] = []
        task = asyncio.create_task(other())
        async for key, _part, _value in owned_entries({f"k{n}": n for n in range(9)}, {0}, 1):
            walked.append(key)
        task.cancel()

    asyncio.run(run())
    assert any(0 < t < 9 for t in ticks), "another task ran in the middle of the walk"
