"""Consumer lag as a Prometheus gauge, from Faust's own offset events.

Lag (end offset minus committed offset, per topic partition) is what the Helm
chart's autoscaler and the "consumer lag high" alert watch. Faust already
learns both numbers (it tracks end offsets while fetching and reports every
commit), so no extra requests to the brokers are needed. Faust reports them
to the app's *monitor* only (``app.monitor.track_tp_end_offset``), not to
every sensor, so this is the app's monitor class (``faust.App(Monitor=...)``)
rather than an added sensor; a sensor would never hear of them.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any

from faust.sensors import Monitor
from faust.types import TP

from streams.metrics import CONSUMER_LAG


class LagMonitor(Monitor):
    """Faust's monitor, also publishing ``townsquare_consumer_lag`` as offsets move."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._published_at: dict[TP, float] = {}

    def on_tp_commit(self, tp_offsets: MutableMapping[TP, int]) -> None:
        super().on_tp_commit(tp_offsets)
        for tp in tp_offsets:
            self._publish(tp)

    PUBLISH_EVERY = 1.0
    """Seconds between gauge updates from end offsets, which Faust reports for every record."""

    def track_tp_end_offset(self, tp: TP, offset: int) -> None:
        super().track_tp_end_offset(tp, offset)
        now = time.monotonic()
        published = self._published_at.get(tp)
        if published is None or now - published >= self.PUBLISH_EVERY:
            self._published_at[tp] = now
            self._publish(tp)

    def lag(self, tp: TP) -> int | None:
        if tp not in self.tp_end_offsets:
            return None
        return max(0, self.tp_end_offsets[tp] - self.tp_committed_offsets.get(tp, 0))

    def _publish(self, tp: TP) -> None:
        lag = self.lag(tp)
        if lag is not None:
            CONSUMER_LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(lag)
