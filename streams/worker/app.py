"""Builds the Faust app and does nothing else (topics, tables and agents live beside it).

The app is configured only from :class:`streams.settings.Settings`. Tables use
the in-memory store backed by their changelog topics: state survives restarts
by replaying the changelog, which keeps the worker image free of RocksDB.
"""

from __future__ import annotations

from datetime import timedelta

import faust

from streams.kafka_config import broker_url, faust_credentials
from streams.settings import get_settings

settings = get_settings()

app = faust.App(
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
    table_cleanup_interval=60.0,
    autodiscover=False,
)

# Imported after the app exists: the sensor module needs nothing from it but
# belongs to every worker that uses it.
from streams.worker.lag import LagSensor  # noqa: E402

app.sensors.add(LagSensor())
