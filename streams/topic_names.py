"""Logical topic names, kept apart from the Faust app so setup and ingest need no Faust."""

from __future__ import annotations

RAW = "posts.raw"
NORMALIZED = "posts.normalized"
ENRICHED = "posts.enriched"
ALERTS = "alerts"
DLQ = "posts.dlq"
CURSORS = "ingest.cursors"
BY_ID = "posts.by_id"
"""Internal: where each post lives (keyed by post id), so deletes can find their thread."""

TOPIC_NAMES: tuple[str, ...] = (RAW, NORMALIZED, ENRICHED, ALERTS, DLQ, CURSORS, BY_ID)
COMPACTED: frozenset[str] = frozenset({CURSORS})
"""Compacted topics keep the latest value per key (ingest cursors)."""
