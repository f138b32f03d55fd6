"""Logical topic names, kept apart from the Faust app so setup and ingest need no Faust."""

from __future__ import annotations

RAW = "posts.raw"
NORMALIZED = "posts.normalized"
ENRICHED = "posts.enriched"
ALERTS = "alerts"
DLQ = "posts.dlq"
CURSORS = "ingest.cursors"

TOPIC_NAMES: tuple[str, ...] = (RAW, NORMALIZED, ENRICHED, ALERTS, DLQ, CURSORS)
COMPACTED: frozenset[str] = frozenset({CURSORS})
"""Compacted topics keep the latest value per key (ingest cursors)."""
