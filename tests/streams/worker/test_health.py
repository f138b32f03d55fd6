"""Readiness and liveness decisions, the probe endpoints, and the stop that ends ES retries.

The decisions are pure (streams.worker.health), so they are tested with plain
states; the endpoints through a real server on a free loopback port; the stop
through :func:`streams.es.bulk.until_reachable` with a call that always fails
to connect, as while Elasticsearch is down.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from elasticsearch import ConnectionError as ESConnectionError

from streams import metrics
from streams.es import bulk
from streams.worker.health import HealthState, liveness, readiness


def ready_state(**changes: object) -> HealthState:
    state = HealthState(
        needs_es=True,
        heartbeat_at=100.0,
        assigned=True,
        partitions=4,
        broker_connected=True,
        es_reachable=True,
    )
    for name, value in changes.items():
        setattr(state, name, value)
    return state


# --- readiness (pure) -----------------------------------------------------------------------


def test_ready_when_every_check_passes() -> None:
    ok, details = readiness(ready_state())
    assert ok
    assert "failed" not in details
    assert details["partitions"] == 4


@pytest.mark.parametrize(
    ("changes", "failed"),
    [
        ({"assigned": False}, ["partitions_assigned"]),
        ({"broker_connected": False}, ["broker_connected"]),
        ({"broker_connected": None}, ["broker_connected"]),  # not known yet: not ready
        ({"es_reachable": False}, ["elasticsearch"]),
        ({"es_reachable": None}, ["elasticsearch"]),  # no ping answered yet
        ({"stopping": True}, ["not_stopping"]),
        ({"assigned": False, "es_reachable": False}, ["partitions_assigned", "elasticsearch"]),
    ],
)
def test_not_ready_names_the_failed_checks(changes: dict[str, object], failed: list[str]) -> None:
    ok, details = readiness(ready_state(**changes))
    assert not ok
    assert details["failed"] == failed


def test_not_ready_while_the_index_stage_waits_out_an_outage() -> None:
    """A ping may answer while bulks still fail (a 503 cluster): the paused stage decides."""
    ok, details = readiness(ready_state(), es_outage_s=3.0)
    assert not ok and details["failed"] == ["elasticsearch"]


def test_roles_without_index_ignore_elasticsearch() -> None:
    ok, details = readiness(ready_state(needs_es=False, es_reachable=False), es_outage_s=9.0)
    assert ok, details
    assert "elasticsearch" not in details["checks"]  # type: ignore[operator]


def test_an_assignment_without_partitions_is_ready() -> None:
    """More replicas than partitions: a standby member must not stall a rolling update."""
    ok, details = readiness(ready_state(partitions=0))
    assert ok and details["partitions"] == 0


# --- liveness (pure) ------------------------------------------------------------------------


def test_live_while_the_heartbeat_is_recent_and_while_starting() -> None:
    assert liveness(ready_state(heartbeat_at=100.0), now=110.0, max_silence=30.0)[0]
    assert liveness(ready_state(heartbeat_at=None), now=1e9)[0]


def test_not_live_when_the_loop_stopped_beating() -> None:
    ok, details = liveness(ready_state(heartbeat_at=100.0), now=131.0, max_silence=30.0)
    assert not ok
    assert details == {"heartbeat_age_s": 31.0, "failed": ["event_loop"]}


# --- the endpoints --------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[str]:
    srv = metrics.start_probe_server("127.0.0.1", 0)
    host, port = srv.server_address[:2]
    try:
        yield f"http://{host!s}:{port}"
    finally:
        srv.shutdown()
        srv.server_close()
        metrics.set_probe("/live", None)
        metrics.set_probe("/ready", None)


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def test_metrics_are_served_beside_the_probes(server: str) -> None:
    status, ctype, body = get(server + "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    assert "townsquare_es_up" in body
    assert get(server + "/nothing")[0] == 404


def test_probes_answer_200_when_nothing_registered(server: str) -> None:
    """Ingest processes register no probes: running is all they promise."""
    for path in ("/live", "/ready"):
        status, ctype, body = get(server + path)
        assert (status, ctype) == (200, "application/json")
        assert json.loads(body) == {"status": "ok"}


def test_ready_answers_503_with_the_failed_checks(server: str) -> None:
    state = ready_state(es_reachable=False)
    metrics.set_probe("/ready", lambda: readiness(state))
    status, _, body = get(server + "/ready")
    assert status == 503
    answer = json.loads(body)
    assert answer["status"] == "fail" and answer["failed"] == ["elasticsearch"]
    assert answer["checks"]["partitions_assigned"] is True
    state.es_reachable = True
    status, _, body = get(server + "/ready")
    assert status == 200 and json.loads(body)["status"] == "ok"


def test_a_probe_that_raises_answers_503(server: str) -> None:
    def broken() -> tuple[bool, dict[str, object]]:
        raise RuntimeError("boom")

    metrics.set_probe("/live", broken)
    status, _, body = get(server + "/live")
    assert status == 503 and "boom" in json.loads(body)["error"]


# --- the stop that ends Elasticsearch retries -----------------------------------------------


@pytest.fixture
def clean_stop() -> Iterator[None]:
    bulk.reset_stop()
    yield
    bulk.reset_stop()


def test_a_stop_wakes_a_retry_asleep_in_its_backoff(clean_stop: None) -> None:
    calls = 0

    async def unreachable() -> None:
        nonlocal calls
        calls += 1
        raise ESConnectionError("connection refused")

    async def scenario() -> float:
        # A long backoff: without the stop this would sleep for a minute.
        options = bulk.BulkOptions(initial_backoff=60.0, max_backoff=60.0)
        task = asyncio.ensure_future(bulk.until_reachable(unreachable, options, request="bulk"))
        await asyncio.sleep(0.2)
        assert not task.done() and bulk.unreachable_for() is not None
        started = time.monotonic()
        bulk.request_stop()
        with pytest.raises(bulk.ShuttingDown):
            await asyncio.wait_for(task, 5)
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 1.0
    assert calls == 1  # no attempt after the stop


def test_after_a_stop_no_retry_starts(clean_stop: None) -> None:
    bulk.request_stop()

    async def unreachable() -> None:
        raise ESConnectionError("connection refused")

    with pytest.raises(bulk.ShuttingDown):
        asyncio.run(bulk.until_reachable(unreachable, bulk.BulkOptions(), request="bulk"))


def test_a_stop_does_not_touch_a_call_that_succeeds(clean_stop: None) -> None:
    bulk.request_stop()

    async def fine() -> str:
        return "ok"

    assert asyncio.run(bulk.until_reachable(fine, bulk.BulkOptions())) == "ok"
    assert bulk.unreachable_for() is None
