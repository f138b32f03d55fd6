"""The broker restarts while a source is sending and the worker is consuming: both carry on.

A paced replay (the same producer and outbox every source uses) is part-way
through 600 posts when the broker stops for five seconds and starts again,
data kept. The source's
producer must ride out the outage (it retries within its delivery timeout)
and finish without error; the worker must reconnect without a restart of its
own; and every post must end up indexed exactly once. This test starts its
own local servers, because it restarts the broker.

The recovery after the broker comes back used to hang in Faust's
``Consumer.wait_empty``, waiting for a ``posts.enriched`` record that the
revocation had cleared from the other agents' queues
(:class:`streams.worker.transport.ClearingFlowControl`).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support import Servers, canonical_post, indexed_ids, isolated, running_worker, wait_for

from streams.cli.setup import run_setup
from streams.sources.replay import ReplayReport, replay_file

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

POSTS = 600
RATE = 60.0
OUTAGE = 5.0
"""Seconds the broker stays down: several producer retries, well inside its delivery timeout."""


def test_a_source_and_the_worker_ride_out_a_broker_restart(
    own_local_servers: Any, tmp_path: Path
) -> None:
    from streams.cli.services import control, kafka_ready

    svc = own_local_servers
    iso = isolated(Servers(svc.kafka_bootstrap, svc.es_url, local=True), tmp_path)
    run_setup(iso.settings)
    posts = [canonical_post(n, n // 3) for n in range(POSTS)]
    corpus = tmp_path / "posts.jsonl"
    corpus.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")

    log = tmp_path / "worker.log"
    with running_worker(iso, log) as worker:
        assert wait_for(lambda: "[^Worker]: Ready" in log.read_text(), timeout=120)
        outcome: dict[str, ReplayReport | BaseException] = {}

        def replay() -> None:
            try:
                outcome["report"] = replay_file(iso.settings, corpus, "jsonl", rate=RATE)
            except BaseException as exc:  # the assertion below reports it
                outcome["error"] = exc

        source = threading.Thread(target=replay, name="replay")
        source.start()
        assert wait_for(lambda: len(indexed_ids(iso.settings)) >= 60, timeout=120), log.read_text()[
            -2000:
        ]
        restarted_at = time.monotonic()
        control(svc, "stop", "kafka")
        time.sleep(OUTAGE)
        control(svc, "start", "kafka")
        assert wait_for(lambda: kafka_ready(svc.kafka_bootstrap), timeout=60)
        restart_seconds = time.monotonic() - restarted_at
        source.join(timeout=POSTS / RATE + 120)
        assert not source.is_alive(), "the source never finished"
        assert "error" not in outcome, f"the source failed: {outcome.get('error')!r}"
        report = outcome["report"]
        assert isinstance(report, ReplayReport) and report.sent == POSTS

        done = wait_for(lambda: len(indexed_ids(iso.settings)) >= POSTS, timeout=180, interval=1)
        counts = indexed_ids(iso.settings)
        assert done, f"{len(counts)} of {POSTS} indexed; " + log.read_text()[-2000:]
        assert worker.poll() is None, "the worker exited"

    assert set(counts) == {p["id"] for p in posts}
    assert max(counts.values()) == 1
    print(f"\n  broker down and back in {restart_seconds:.1f}s")
