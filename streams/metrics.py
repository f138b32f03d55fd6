"""Prometheus metrics shared by every townsquare process.

Names are part of the operational contract: the Prometheus rules and the
Grafana dashboard under deploy/ refer to them, so rename only with both.
Stage labels are the stage names used in logs and dead letters.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

MESSAGES = Counter(
    "townsquare_messages_total",
    "Messages handled, by stage and outcome (ok, dead_letter, skipped; withheld_erased and "
    "withheld_opt_out: posts of people who asked, counted and never stored).",
    ["stage", "outcome"],
)
DEAD_LETTERS = Counter(
    "townsquare_dead_letters_total",
    "Messages sent to the dead-letter topic, by stage and reason.",
    ["stage", "reason"],
)
STAGE_LATENCY = Histogram(
    "townsquare_stage_seconds",
    "Time a stage spends on one batch or message.",
    ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
END_TO_END_LATENCY = Histogram(
    "townsquare_end_to_end_seconds",
    "From ingest (received_at) to the post being indexed in Elasticsearch.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
BATCH_SIZE = Histogram(
    "townsquare_batch_size",
    "Messages per batch, by stage.",
    ["stage"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
ES_BULK_LATENCY = Histogram(
    "townsquare_es_bulk_seconds",
    "Elasticsearch bulk request latency (one chunk).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ES_DOCS = Counter(
    "townsquare_es_documents_total",
    "Documents sent to Elasticsearch, by outcome (indexed, deleted, failed, retried).",
    ["outcome"],
)
ES_FAILURES = Counter(
    "townsquare_es_failures_total",
    "Per-document Elasticsearch failures, by error type.",
    ["reason"],
)
ES_UP = Gauge(
    "townsquare_es_up", "1 while the index stage can reach Elasticsearch, 0 while paused."
)
INGESTED = Counter(
    "townsquare_ingested_total", "Records put on the raw topic, by source.", ["source"]
)
INGEST_SKIPPED = Counter(
    "townsquare_ingest_skipped_total",
    "Records an ingest source dropped at the edge (not posts, unreadable pages), by reason.",
    ["source", "reason"],
)
ALERT_DELIVERIES = Counter(
    "townsquare_alert_deliveries_total",
    "Alert webhook deliveries, by output and outcome (delivered, retried, failed, refused, "
    "unknown_output: a rule names an output TOWNSQUARE_ALERT_WEBHOOKS does not configure).",
    ["output", "outcome"],
)
CONSUMER_LAG = Gauge(
    "townsquare_consumer_lag",
    "Messages behind the end of the topic, by topic and partition.",
    ["topic", "partition"],
)


def serve_metrics(port: int) -> None:
    """Expose ``/metrics`` on ``port``; 0 turns it off (tests, one-shot commands)."""
    if port:
        start_http_server(port)
