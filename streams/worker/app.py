"""Builds the Faust app for a set of roles, and does nothing else.

:func:`create_app` declares the topics (:mod:`streams.worker.topics`), the
tables the roles use (:mod:`streams.worker.tables`) and the roles' agents
(:mod:`streams.worker.roles`) on a new app configured only from
:class:`streams.settings.Settings`. Nothing happens at import: settings are
read by the caller, and the expensive parts (the organisation profile, the
spaCy process pool, the Elasticsearch client) live in
:class:`streams.worker.resources.Resources`, warmed up when the worker starts
(:meth:`WorkerApp.services`, handed to ``faust.Worker``) and closed when it
shuts down.

The app's transport is :func:`streams.worker.transport.gap_safe_transport`,
whose consumer seeks safely after recovery (a worker killed mid-run lost
records without it).

Tables use the in-memory store backed by their changelog topics: state
survives restarts by replaying the changelog, which keeps the worker image
free of RocksDB.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import faust
import mode

from processors.erasure import ErasureList
from streams.settings import Settings
from streams.worker import roles as worker_roles
from streams.worker.erasures import ErasureWatch
from streams.worker.faust_config import broker_url, faust_credentials
from streams.worker.health import HealthService
from streams.worker.lag import LagMonitor
from streams.worker.resources import Resources, ResourcesService
from streams.worker.tables import Tables
from streams.worker.topics import Topics, declare_topics
from streams.worker.transport import gap_safe_transport


def _faust_app(settings: Settings) -> faust.App:
    return faust.App(
        settings.app_id,
        broker=broker_url(settings),
        broker_credentials=faust_credentials(settings),
        store="memory://",
        datadir=str(settings.data_dir / "faust"),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_enabled=False,
        # Offsets are committed only for acked events; agents ack a batch after its
        # side effects (Kafka sends, the Elasticsearch bulk) have completed.
        broker_commit_every=500,
        broker_commit_interval=timedelta(seconds=1),
        stream_buffer_maxsize=2048,
        # Long spaCy batches run in a process pool, so the loop stays responsive;
        # this bounds how long a stuck batch may hold the partition.
        broker_max_poll_interval=300.0,
        broker_session_timeout=settings.kafka_session_timeout,
        broker_heartbeat_interval=settings.kafka_heartbeat_interval,
        broker_max_poll_records=settings.kafka_max_poll_records,
        consumer_group_instance_id=settings.kafka_group_instance_id,
        table_cleanup_interval=60.0,
        autodiscover=False,
        Monitor=LagMonitor,  # the consumer-lag gauge (see streams.worker.lag)
    )


ERASURE_ROLES = frozenset({"normalize", "enrich"})
"""Roles that see new posts and must drop those of erased people (streams.worker.erasures)."""


class WorkerApp:
    """One app with what was declared on it (tests reach agents and tables through this)."""

    def __init__(
        self,
        app: faust.App,
        topics: Topics,
        tables: Tables,
        resources: Resources,
        roles: list[str],
        erasure_watch: ErasureWatch | None = None,
    ) -> None:
        self.app = app
        self.topics = topics
        self.tables = tables
        self.resources = resources
        self.roles = roles
        self.erasure_watch = erasure_watch

    def services(self) -> list[mode.Service]:
        """Services to hand to ``faust.Worker`` beside the app (started first, stopped last).

        The erasure watch comes first: the agents must not start before the
        worker knows who asked to be forgotten. The health service (the /live
        and /ready probes, and the end of Elasticsearch retries on SIGTERM:
        streams.worker.health) comes before it, so the probes answer "not
        ready" while the rest starts.
        """
        health = HealthService(self.app, self.roles, lambda: self.resources.es.ping())
        watch: list[mode.Service] = [self.erasure_watch] if self.erasure_watch else []
        return [health, *watch, ResourcesService(self.resources, self.roles)]


def create_worker(
    settings: Settings, roles: Iterable[str] = ("all",), *, resources: Resources | None = None
) -> WorkerApp:
    """The app for ``roles`` with its topics, tables and resources (see :func:`create_app`)."""
    wanted = worker_roles.resolve(roles)
    app = _faust_app(settings)
    # Before anything asks for the transport (declaring topics does): the seek fix.
    app.transport = gap_safe_transport(app)
    topics = declare_topics(app, settings)
    tables = Tables(app, settings)
    resources = resources or Resources(settings)
    watch = None
    if ERASURE_ROLES & set(wanted):
        erasures = ErasureList()
        watch = ErasureWatch(settings, erasures)
        resources.erasures = erasures
        if resources.withhold is None:  # a test may hand in its own hook
            resources.withhold = watch.withhold
    worker_roles.register(app, topics, tables, resources, wanted)

    # Also closed here for a worker started without ResourcesService (``faust -A``);
    # closing twice is harmless.
    @app.on_before_shutdown.connect  # type: ignore[arg-type]  # mode's stub is narrower
    async def _close(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        await resources.close()

    return WorkerApp(app, topics, tables, resources, wanted, watch)


def create_app(
    settings: Settings, roles: Iterable[str] = ("all",), *, resources: Resources | None = None
) -> faust.App:
    """A Faust app running the agents of ``roles``; raises ``ValueError`` for an unknown role."""
    return create_worker(settings, roles, resources=resources).app
