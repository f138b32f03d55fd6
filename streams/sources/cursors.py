"""Ingest cursors in a compacted topic: where each source resumes after a restart.

A cursor is written only after the posts it covers were acknowledged by Kafka
(the caller flushes first), so a restart may resend a few posts but never skips
one; a resend is harmless because post ids are stable. Reading scans the
compacted topic once from the beginning to its end offsets; the last value of
a key wins.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from streams.kafka_config import kafka_python_config
from streams.settings import Settings
from streams.topic_names import CURSORS


class CursorStore:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.topic = settings.topic(CURSORS)
        self._producer: KafkaProducer | None = None

    def load_all(self, timeout: float = 10.0) -> dict[str, dict[str, Any]]:
        consumer = KafkaConsumer(
            enable_auto_commit=False,
            group_id=None,
            consumer_timeout_ms=int(timeout * 1000),
            **kafka_python_config(self._settings),
        )
        try:
            partitions = consumer.partitions_for_topic(self.topic) or set()
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            if not tps:
                return {}
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            cursors: dict[str, dict[str, Any]] = {}
            remaining = {tp for tp in tps if end[tp] > consumer.position(tp)}
            while remaining:
                batch = consumer.poll(timeout_ms=int(timeout * 1000))
                if not batch:
                    break
                for tp, records in batch.items():
                    for rec in records:
                        if rec.key is None:
                            continue
                        key = rec.key.decode("utf-8")
                        if rec.value is None:
                            cursors.pop(key, None)
                        else:
                            cursors[key] = json.loads(rec.value)
                    if consumer.position(tp) >= end[tp]:
                        remaining.discard(tp)
            return cursors
        finally:
            consumer.close()

    def get(self, key: str) -> dict[str, Any] | None:
        return self.load_all().get(key)

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store a cursor and wait for Kafka to acknowledge it."""
        if self._producer is None:
            self._producer = KafkaProducer(acks="all", **kafka_python_config(self._settings))
        record = {**value, "updated_at": datetime.now(UTC).isoformat()}
        self._producer.send(self.topic, key=key.encode(), value=json.dumps(record).encode())
        self._producer.flush(timeout=30)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=10)
            self._producer = None
