"""SIGTERM while Elasticsearch is down: the worker exits in time and loses nothing.

Before, the index stage retried its bulk forever and Faust's shutdown waited
for that unacked batch, so a sink ignored SIGTERM for minutes and Kubernetes
killed it hard. Now (streams.es.bulk.request_stop, streams.worker.health) a
SIGTERM ends the retries: the worker must exit within ``EXIT_BOUND`` seconds
(well inside the chart's 60 s grace period), without committing past what
was indexed, so a worker started after Elasticsearch is back indexes every
post exactly once. On the way it checks /ready end to end: 200 once the worker
runs, 503 naming ``elasticsearch`` while the index stage is paused.

Starts its own local servers, because it stops Elasticsearch.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from support import Servers, canonical_post, free_port, indexed_ids, isolated, wait_for

from streams.cli.run import start_worker, stop_worker
from streams.cli.setup import run_setup
from streams.sources.replay import replay_file

pytestmark = [pytest.mark.integration, pytest.mark.timeout(360)]

WARMUP = 10
DURING = 40
EXIT_BOUND = 20.0


def _ready(port: int) -> tuple[int, dict[str, object]] | None:
    try:
        resp = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2)
    except httpx.HTTPError:
        return None
    return resp.status_code, resp.json()


def _es_up(port: int) -> str | None:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith("townsquare_es_up "):
            return line.split()[1]
    return None


def _write(path: Path, first: int, count: int) -> set[str]:
    posts = [canonical_post(n, conversation=n - n % 5) for n in range(first, first + count)]
    path.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")
    return {p["id"] for p in posts}


def _kill_leftovers(proc: subprocess.Popen[bytes]) -> None:
    """The worker's own children (the NER pool) share its process group; end any left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def test_sigterm_with_elasticsearch_down_exits_in_time_and_loses_nothing(
    own_local_servers: object, tmp_path: Path
) -> None:
    from streams.cli.services import LocalServices, control, es_ready

    assert isinstance(own_local_servers, LocalServices)
    svc = own_local_servers
    metrics_port = free_port()
    iso = isolated(
        Servers(svc.kafka_bootstrap, svc.es_url, local=True),
        tmp_path,
        TOWNSQUARE_METRICS_PORT=str(metrics_port),
        TOWNSQUARE_ES_MAX_BACKOFF="2",
    )
    run_setup(iso.settings)
    warm_ids = _write(tmp_path / "warmup.jsonl", 0, WARMUP)
    during_ids = _write(tmp_path / "during.jsonl", WARMUP, DURING)
    log = tmp_path / "worker.log"

    def tail() -> str:
        lines = log.read_text(errors="replace").splitlines()
        return "\n".join(line for line in lines if "mode.timers" not in line)[-4000:]

    proc = start_worker(iso.settings, log, dict(iso.env), ("all",))
    try:
        replay_file(iso.settings, tmp_path / "warmup.jsonl", "jsonl")
        assert wait_for(lambda: warm_ids <= set(indexed_ids(iso.settings)), timeout=120), tail()
        assert wait_for(lambda: (_ready(metrics_port) or (0, {}))[0] == 200, timeout=30), (
            _ready(metrics_port),
            tail(),
        )

        control(svc, "stop", "elasticsearch")
        assert not es_ready(svc.es_url, timeout=1.0)
        replay_file(iso.settings, tmp_path / "during.jsonl", "jsonl")
        # The index stage is now retrying a batch it cannot index, and says so.
        assert wait_for(lambda: _es_up(metrics_port) == "0.0", timeout=60, interval=0.2), tail()
        answer = _ready(metrics_port)
        assert answer is not None and answer[0] == 503, answer
        assert "elasticsearch" in answer[1]["failed"], answer  # type: ignore[operator]
        time.sleep(3)  # let it sleep in its backoff, as a pod would be when the node drains

        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(EXIT_BOUND)
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker still running {EXIT_BOUND} s after SIGTERM:\n{tail()}")
        took = time.monotonic() - t0
        print(f"\nworker exited {took:.1f} s after SIGTERM (code {proc.returncode})")
    finally:
        stop_worker(proc)
        _kill_leftovers(proc)

    control(svc, "start", "elasticsearch")
    assert wait_for(lambda: es_ready(svc.es_url, timeout=1.0), timeout=60)
    restarted = start_worker(iso.settings, log, dict(iso.env), ("all",))
    try:
        wanted = warm_ids | during_ids
        assert wait_for(lambda: wanted <= set(indexed_ids(iso.settings)), timeout=180), (
            f"missing {sorted(wanted - set(indexed_ids(iso.settings)))[:20]}\n{tail()}"
        )
        time.sleep(2)
        counts = indexed_ids(iso.settings)
    finally:
        stop_worker(restarted)
        _kill_leftovers(restarted)
    assert dict(counts) == dict.fromkeys(wanted, 1)
