"""The raw-topic producer every ingest source uses (kafka-python, acks=all, idempotent ids).

Keys keep order where order matters: a source passes the conversation hint it
knows (thread root) or its stream name, so posts of one conversation land on
one partition of ``posts.raw`` and reach normalize in the order they were read.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaProducer

from schemas.models import RawEnvelope, message_headers
from streams.kafka_config import kafka_python_config
from streams.metrics import INGESTED
from streams.settings import Settings
from streams.topic_names import RAW

log = logging.getLogger("townsquare.ingest")

MAX_REQUEST_BYTES = 1024 * 1024
"""The raw producer's ``max_request_size``: it refuses larger records, so sources cap below it."""


class RawProducer:
    def __init__(self, settings: Settings, source: str) -> None:
        self.source = source
        self.topic = settings.topic(RAW)
        self._producer = KafkaProducer(
            client_id=f"townsquare-ingest-{source}",
            acks="all",
            linger_ms=20,
            retries=10,
            max_in_flight_requests_per_connection=1,
            max_request_size=MAX_REQUEST_BYTES,
            **kafka_python_config(settings),
        )

    def send(
        self, fmt: str, payload: Any, key: str | None, context: dict[str, Any] | None = None
    ) -> Any:
        """Wrap ``payload`` in a raw envelope and hand it to the producer (async).

        Returns the send's future: the :class:`~streams.sources.base.Outbox`
        checks it before it stores a cursor, since ``flush`` alone does not
        say whether a batch failed.
        """
        envelope = RawEnvelope(
            ingest_id=uuid.uuid4().hex,
            source=self.source,
            format=fmt,
            received_at=datetime.now(UTC),
            payload=payload,
            context=context or {},
        )
        value = envelope.model_dump_json().encode("utf-8")
        future = self._producer.send(
            self.topic,
            key=key.encode("utf-8") if key is not None else None,
            value=value,
            headers=message_headers(value, "raw_envelope"),  # docs/consumers.md
        )
        INGESTED.labels(source=self.source).inc()
        return future

    def flush(self, timeout: float | None = 60.0) -> None:
        """Block until every send so far is done (or raise on timeout); a failed one only logs."""
        self._producer.flush(timeout=timeout)

    def close(self) -> None:
        """Flush what is pending, then close; a flush that fails does not keep it open.

        Whether records were acknowledged is the outbox's business (it checks
        every send before a cursor moves); here a failed flush after a fatal
        producer error is only logged, so the error that caused it surfaces.
        """
        try:
            self._producer.flush(timeout=30)
        except Exception as exc:  # kafka-python: "Future not done" after a fatal error
            log.warning("the raw producer could not flush before closing: %s", exc)
        self._producer.close(timeout=10)
