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
CONVERSATIONS = "conversations.state"
"""Each thread's current state (keyed by conversation id, compacted), for the index and alerts."""
SPIKE_KEYS = "posts.by_spike_key"
"""Internal: one record per post and spike key (entity, hashtag, topic), keyed by the spike
key and stamped with the post's event time, so the spike table counts each key in one place."""
ERASURES = "privacy.erasures"
"""Erasure requests in force, keyed by subject (``townsquare forget``); read whole by workers."""

TOPIC_NAMES: tuple[str, ...] = (
    RAW,
    NORMALIZED,
    ENRICHED,
    ALERTS,
    DLQ,
    CURSORS,
    BY_ID,
    ERASURES,
    CONVERSATIONS,
    SPIKE_KEYS,
)
COMPACTED: frozenset[str] = frozenset({CURSORS, ERASURES, CONVERSATIONS})
"""Compacted topics keep the latest value per key (cursors, erasures, threads' states)."""
HOLD_POSTS: frozenset[str] = frozenset({RAW, NORMALIZED, ENRICHED, ALERTS, DLQ, BY_ID, SPIKE_KEYS})
"""Topics that hold people's posts (or the original bytes of one): ``setup`` bounds their
``retention.ms`` by the retention setting."""
