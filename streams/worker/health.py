"""Liveness and readiness of a worker, for the Kubernetes probes on the metrics port.

``/metrics`` alone said nothing: it answered 200 while ``townsquare_es_up`` was
0 and consumption was paused. So the worker keeps a small :class:`HealthState`,
updated from its own event loop, and two pure functions decide:

* **live** (:func:`liveness`): the event loop ran the heartbeat task within
  ``max_silence`` seconds. A loop blocked by a stuck call is restarted by the
  kubelet; an outage (Kafka or Elasticsearch down) does not make a worker
  unlive, because restarting it would not help.
* **ready** (:func:`readiness`): the worker holds its share of the work:
  the first partition assignment arrived (and no revocation is pending), the
  broker connection is up, and, for workers with the ``index`` role,
  Elasticsearch is reachable (its last ping answered and no bulk is waiting
  out an outage, :func:`streams.es.bulk.unreachable_for`). A member that a
  completed assignment left without partitions (more replicas than
  partitions) *is* ready: it is a legitimate standby and must not stall a
  rolling update; the body reports ``partitions: 0``. Not ready answers 503
  with the failed checks in the JSON body.

:class:`HealthService` is the ``mode.Service`` the worker app hands to
``faust.Worker`` (:meth:`streams.worker.app.WorkerApp.services`): it runs the
heartbeat and the Elasticsearch ping, registers the probes with the metrics
server (:func:`streams.metrics.set_probe`), and, when the worker starts to stop
(SIGTERM), tells the index stage to stop retrying
(:func:`streams.es.bulk.request_stop`) so the worker leaves the group within
its grace period. For workers with the index role (or during an outage) it
also stops Faust from waiting for unacked batches and from counting acks made
after the stop: a batch abandoned mid-outage is then neither waited for nor
committed, and the next worker indexes it again (``_id`` is the post id, so a
batch finished during the stop and redelivered costs only a rewrite).
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import faust
import mode

from streams.es import bulk
from streams.metrics import set_probe

log = logging.getLogger("townsquare.health")

ES_ROLES = frozenset({"index"})
"""Roles whose readiness includes Elasticsearch (they write to it)."""

LIVE_MAX_SILENCE = 30.0
"""Seconds without a heartbeat before /live fails (the heartbeat runs every second)."""

ES_PING_EVERY = 5.0
"""Seconds between Elasticsearch pings of an index worker."""


@dataclass
class HealthState:
    """What the probes read; written only from the worker's event loop."""

    needs_es: bool = False
    heartbeat_at: float | None = None
    assigned: bool = False
    partitions: int = 0
    broker_connected: bool | None = None
    es_reachable: bool | None = None
    stopping: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def liveness(
    state: HealthState, now: float, max_silence: float = LIVE_MAX_SILENCE
) -> tuple[bool, dict[str, object]]:
    """Live while the heartbeat is recent; also live before the first beat (still starting)."""
    if state.heartbeat_at is None:
        return True, {"heartbeat_age_s": None}
    age = now - state.heartbeat_at
    ok = age <= max_silence
    details: dict[str, object] = {"heartbeat_age_s": round(age, 1)}
    if not ok:
        details["failed"] = ["event_loop"]
    return ok, details


def readiness(
    state: HealthState, es_outage_s: float | None = None
) -> tuple[bool, dict[str, object]]:
    """Ready only when every check passes; the details name each check and the failed ones.

    ``es_outage_s`` is how long the index stage has been waiting out an
    Elasticsearch outage (None when it is not), from
    :func:`streams.es.bulk.unreachable_for`.
    """
    checks: dict[str, bool] = {
        "not_stopping": not state.stopping,
        "partitions_assigned": state.assigned,
        "broker_connected": state.broker_connected is True,
    }
    if state.needs_es:
        checks["elasticsearch"] = state.es_reachable is True and es_outage_s is None
    failed = [name for name, ok in checks.items() if not ok]
    details: dict[str, object] = {"checks": checks, "partitions": state.partitions}
    if failed:
        details["failed"] = failed
    return not failed, details


def broker_connected(app: faust.App) -> bool | None:
    """Whether the consumer's Kafka client has a live connection; None when it cannot tell.

    Faust does not expose this, so it reads aiokafka's connection table
    through the consumer thread (read-only, from another thread: a momentary
    stale answer is fine for a probe).
    """
    try:
        client = app.consumer._thread._consumer._client  # type: ignore[attr-defined]
        conns = list(client._conns.values())
    except AttributeError:
        return None
    return any(conn.connected() for conn in conns)


def _refuse_ack(message: Any) -> bool:
    """The consumer's ``ack`` once stopping: nothing more becomes committable."""
    return False


class HealthService(mode.Service):
    """Heartbeat, Elasticsearch ping and probe registration for one worker."""

    def __init__(
        self,
        app: faust.App,
        roles: Sequence[str],
        es_ping: Callable[[], Any] | None = None,
        *,
        health: HealthState | None = None,
        **kwargs: Any,
    ) -> None:
        """``es_ping`` returns an awaitable of bool (``AsyncElasticsearch.ping``)."""
        super().__init__(**kwargs)
        self.app = app
        self.health = health or HealthState(needs_es=bool(ES_ROLES & set(roles)))
        self._es_ping = es_ping
        app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]
        app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]

    async def _on_assigned(self, sender: Any, assigned: set[Any], **kwargs: Any) -> None:
        self.health.assigned = True
        self.health.partitions = len(assigned)

    async def _on_revoked(self, sender: Any, revoked: set[Any], **kwargs: Any) -> None:
        self.health.assigned = False

    def live(self) -> tuple[bool, dict[str, object]]:
        return liveness(self.health, time.monotonic())

    def ready(self) -> tuple[bool, dict[str, object]]:
        return readiness(self.health, bulk.unreachable_for())

    async def on_start(self) -> None:
        bulk.reset_stop()
        set_probe("/live", self.live)
        set_probe("/ready", self.ready)
        # Stops the index stage's retries as soon as the app starts stopping,
        # whichever of the app and this service the worker stops first.
        self.add_future(self._stop_when_app_stops())

    async def on_stop(self) -> None:
        self._stopping()

    def _stopping(self) -> None:
        if self.health.stopping:
            return
        self.health.stopping = True
        bulk.request_stop()
        if self.health.needs_es or bulk.unreachable_for() is not None:
            # Faust's shutdown waits for every event an agent took to be acked
            # (stream_wait_empty). An index batch that stopped retrying is never
            # acked, and the crashed agent's traceback keeps its events alive, so
            # that wait would never end. Not waiting is safe: only acked offsets
            # are committed, and the batch is redelivered (the ``_id`` is the post
            # id). Workers without an index role and no outage still wait, so
            # their in-flight batches finish.  Acks are refused for the same
            # reason (below), so nothing acked after this point is committed.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "reconfiguring late": meant, read at stop
                self.app.conf.stream_wait_empty = False
            # Faust's ``take_events`` acks a batch in a ``finally``, also when the
            # agent raised (ShuttingDown): that ack would commit the unindexed
            # batch past. From here on acks count for nothing, so the commit at
            # stop covers exactly what was done before the stop.
            self.app.consumer.ack = _refuse_ack  # type: ignore[method-assign]
        log.info("stopping: Elasticsearch retries end now; unacked batches are redelivered")

    async def _stop_when_app_stops(self) -> None:
        await self.app.wait_until_stopped()
        self._stopping()

    @mode.Service.task
    async def _heartbeat(self) -> None:
        while not self.should_stop:
            self.health.heartbeat_at = time.monotonic()
            self.health.broker_connected = broker_connected(self.app)
            await self.sleep(1.0)

    @mode.Service.task
    async def _ping_es(self) -> None:
        if not self.health.needs_es or self._es_ping is None:
            return
        while not self.should_stop:
            try:
                self.health.es_reachable = bool(await asyncio.wait_for(self._es_ping(), 5.0))
            except Exception:  # any failure means "not reachable now"; retried next round
                self.health.es_reachable = False
            await self.sleep(ES_PING_EVERY)
