"""Consumer lag as a Prometheus gauge, from Faust's own offset events.

Lag (end offset minus committed offset, per topic partition) is what the Helm
chart's autoscaler and the "consumer lag high" alert watch. Faust already
learns both numbers (it tracks end offsets while fetching and reports every
commit to its sensors), so a sensor turns them into the gauge without extra
requests to the brokers.
"""

from __future__ import annotations

from collections.abc import Mapping

import faust
from faust.types import TP

from streams.metrics import CONSUMER_LAG


class LagSensor(faust.Sensor):
    def __init__(self) -> None:
        super().__init__()
        self.committed: dict[TP, int] = {}
        self.end: dict[TP, int] = {}

    def on_tp_commit(self, tp_offsets: Mapping[TP, int]) -> None:
        for tp, offset in tp_offsets.items():
            self.committed[tp] = offset
            self._publish(tp)

    def track_tp_end_offset(self, tp: TP, offset: int) -> None:
        self.end[tp] = offset
        self._publish(tp)

    def lag(self, tp: TP) -> int | None:
        if tp not in self.end:
            return None
        return max(0, self.end[tp] - self.committed.get(tp, 0))

    def _publish(self, tp: TP) -> None:
        lag = self.lag(tp)
        if lag is not None:
            CONSUMER_LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(lag)
