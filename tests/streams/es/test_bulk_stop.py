"""The "stop retrying" flag must work across event loops and from other threads."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from streams.es.bulk import (
    _STOP,
    BulkOptions,
    ShuttingDown,
    request_stop,
    reset_stop,
    until_reachable,
)


@pytest.fixture(autouse=True)
def _fresh_flag() -> object:
    reset_stop()
    yield None
    reset_stop()


async def _wait_on_stop(timeout: float) -> bool:
    try:
        await asyncio.wait_for(_STOP.event().wait(), timeout=timeout)
    except TimeoutError:
        return False
    return True


def test_each_loop_gets_its_own_event_so_a_second_loop_can_wait() -> None:
    # The first loop binds its event; before, the second loop raised
    # "bound to a different event loop" on the shared one.
    assert asyncio.run(_wait_on_stop(0.01)) is False
    assert asyncio.run(_wait_on_stop(0.01)) is False


def test_a_stop_from_another_thread_wakes_a_waiting_loop() -> None:
    async def main() -> float:
        started = time.monotonic()
        threading.Timer(0.05, request_stop).start()
        assert await _wait_on_stop(5.0) is True
        return time.monotonic() - started

    assert asyncio.run(main()) < 2.0


def test_a_stop_requested_before_the_loop_exists_is_seen_at_once() -> None:
    request_stop()
    assert asyncio.run(_wait_on_stop(0.01)) is True


def test_backoff_gives_up_with_shutting_down_once_stop_is_requested() -> None:
    from elasticsearch import ConnectionError as ESConnectionError

    calls = 0

    async def never_reachable() -> None:
        nonlocal calls
        calls += 1
        raise ESConnectionError("down")

    async def main() -> None:
        asyncio.get_running_loop().call_later(0.05, request_stop)
        await until_reachable(
            never_reachable, BulkOptions(initial_backoff=1.0, max_backoff=1.0), request="bulk"
        )

    started = time.monotonic()
    with pytest.raises(ShuttingDown):
        asyncio.run(main())
    assert time.monotonic() - started < 0.9
    assert calls >= 1
