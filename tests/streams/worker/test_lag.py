"""Consumer lag gauge from Faust's offset events (which only the app's monitor hears)."""

from __future__ import annotations

from faust.types import TP

from streams.metrics import CONSUMER_LAG
from streams.worker.lag import LagMonitor


def _gauge(topic: str, partition: int) -> float:
    return float(CONSUMER_LAG.labels(topic=topic, partition=str(partition))._value.get())


def test_lag_is_end_offset_minus_committed_offset_per_partition() -> None:
    sensor = LagMonitor()
    a, b = TP("lagtest.raw", 0), TP("lagtest.raw", 1)
    assert sensor.lag(a) is None
    sensor.track_tp_end_offset(a, 120)
    assert sensor.lag(a) == 120
    sensor.on_tp_commit({a: 100, b: 5})
    sensor.track_tp_end_offset(b, 5)
    assert (sensor.lag(a), sensor.lag(b)) == (20, 0)
    assert (_gauge("lagtest.raw", 0), _gauge("lagtest.raw", 1)) == (20.0, 0.0)
    sensor.on_tp_commit({a: 130})  # committed past a stale end offset: never negative
    assert sensor.lag(a) == 0


def test_the_app_reports_offsets_to_the_lag_monitor() -> None:
    """Faust calls ``app.monitor`` (not its sensors) with end offsets and commits."""
    from streams.settings import Settings
    from streams.worker.app import create_app

    app = create_app(Settings(), ["normalize"])
    assert isinstance(app.monitor, LagMonitor)


def test_end_offsets_update_the_gauge_at_most_once_a_second_and_commits_at_once() -> None:
    """Faust reports an end offset for every record: the gauge need not move that often."""
    monitor = LagMonitor()
    tp = TP("lagtest.throttle", 0)
    monitor.track_tp_end_offset(tp, 10)
    assert _gauge("lagtest.throttle", 0) == 10.0
    monitor.track_tp_end_offset(tp, 50)  # within the second: the gauge waits
    assert _gauge("lagtest.throttle", 0) == 10.0
    assert monitor.lag(tp) == 50
    monitor.on_tp_commit({tp: 45})  # a commit publishes at once, with the newest end offset
    assert _gauge("lagtest.throttle", 0) == 5.0
    monitor.PUBLISH_EVERY = 0.0
    monitor.track_tp_end_offset(tp, 60)
    assert _gauge("lagtest.throttle", 0) == 15.0
