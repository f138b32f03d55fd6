"""Prometheus metrics shared by every townsquare process.

Names are part of the operational contract: the Prometheus rules and the
Grafana dashboard under deploy/ refer to them, so rename only with both.
Stage labels are the stage names used in logs and dead letters.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

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
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 5, 10, 30, 60, 300),
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

# Business metrics: what the pipeline found, not how it runs. Labels stay bounded
# (actions, rule names of the rules file, two deadline levels), never per post or person.
RECOMMENDED_ACTIONS = Counter(
    "townsquare_recommended_actions_total",
    "Enriched posts by the recommended action (reply, appreciate, escalate, listen_only, "
    "do_not_engage), counted by enrich once per post published.",
    ["action"],
)
ALERTS = Counter(
    "townsquare_alerts_total",
    "Alerts sent to the alerts topic, by rule (rules-file rules, reply-deadline, spike, "
    "source-silent) and severity.",
    ["rule", "severity"],
)
REPLIES_OVERDUE = Gauge(
    "townsquare_replies_overdue",
    "Threads waiting for our reply past the deadline, by level (awaiting: past "
    "reply_sla_minutes, escalated: past twice that), in the partitions this worker owns; "
    "sum over instances. Set on every reply-deadline check.",
    ["level"],
)
ERASURES_IN_FORCE = Gauge(
    "townsquare_erasures_in_force",
    "People under an erasure (townsquare forget) this worker withholds posts of, as read "
    "from the erasures topic.",
)


Probe = Callable[[], tuple[bool, dict[str, object]]]
"""A probe answers (healthy, details); details become the JSON body."""

_PROBES: dict[str, Probe] = {}


def set_probe(path: str, probe: Probe | None) -> None:
    """Answer ``path`` (``/live`` or ``/ready``) with ``probe``; None restores the default.

    The worker's health service (streams.worker.health) registers its probes
    here when it starts, so the server can be started before the app exists
    and processes without probes (ingest sources) answer 200 on both.
    """
    if probe is None:
        _PROBES.pop(path, None)
    else:
        _PROBES[path] = probe


class _Handler(BaseHTTPRequestHandler):
    """``/metrics`` (Prometheus text), ``/live`` and ``/ready`` (JSON, 200 or 503)."""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, generate_latest())
        elif path in ("/live", "/ready"):
            probe = _PROBES.get(path)
            try:
                ok, details = probe() if probe else (True, {})
            except Exception as exc:  # a broken probe must answer, not hang the kubelet
                ok, details = False, {"error": f"probe failed: {exc}"}
            body = json.dumps({"status": "ok" if ok else "fail", **details}, default=str)
            self._send(200 if ok else 503, "application/json", body.encode())
        else:
            self._send(404, "text/plain", b"not found\n")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Probes arrive every few seconds; access logs would drown the worker's own."""


def start_probe_server(host: str, port: int) -> ThreadingHTTPServer:
    """Serve /metrics, /live and /ready on ``host:port`` from a daemon thread.

    The standard library's threaded server keeps this dependency-free and
    off the event loop: a probe must answer even while the loop is busy,
    because /live is how a stuck loop is noticed. Port 0 picks a free port
    (``server.server_address``), for tests.
    """
    server = ThreadingHTTPServer((host, port), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="probe-server", daemon=True).start()
    return server


def serve_metrics(port: int) -> None:
    """Expose ``/metrics``, ``/live`` and ``/ready`` on ``port``; 0 turns it off.

    0 is for tests and one-shot commands. Binds every interface, as the
    Kubernetes probes and Prometheus reach the pod from outside.
    """
    if port:
        start_probe_server("0.0.0.0", port)
