"""Elasticsearch goes down for 20 s in the middle of a replay and comes back.

Afterwards the index holds exactly one document per valid post id, the
dead-letter topic holds exactly the posts that were broken on purpose (and
nothing else: an outage is not a reason to dead-letter anything), the worker
never exited, and ``townsquare_es_up`` went to 0 during the outage and back to
1 after it, and the consumer lag of the index stage drained back to 0. This
test starts its own local servers, because it stops
Elasticsearch, which would break every other test sharing the session's.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from support import (
    Isolated,
    Servers,
    canonical_post,
    free_port,
    isolated,
    read_topic,
    running_worker,
    wait_for,
)

from streams.cli.setup import run_setup
from streams.es.client import sync_client
from streams.sources.replay import ReplayReport, replay_file
from streams.topic_names import DLQ

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

TOTAL = 200
WARMUP = 10
STOP_AFTER = 50
OUTAGE_SECONDS = 20.0
_ES_UP = re.compile(r"^townsquare_es_up(?:\{[^}]*\})? (\S+)$", re.MULTILINE)
_LAG = re.compile(r"^townsquare_consumer_lag\{([^}]*)\} (\S+)$", re.MULTILINE)


def _lines() -> tuple[list[str], set[str], dict[str, str]]:
    """All lines of the file, the valid ids, and marker -> line for the broken ones."""
    lines: list[str] = []
    valid: set[str] = set()
    broken: dict[str, str] = {}
    for n in range(TOTAL):
        if n >= WARMUP and n % 25 == 7:
            marker = f"x:bad-json-{n:03d}"
            lines.append('{"id": "' + marker + '", "text": "unterminated')
            broken[marker] = lines[-1]
        elif n >= WARMUP and n % 25 == 19:
            post = canonical_post(n, conversation=n - n % 5)
            marker = f"x:bad-field-{n:03d}"
            post["id"] = marker
            del post["author" if n % 2 else "created_at"]
            lines.append(json.dumps(post))
            broken[marker] = lines[-1]
        else:
            post = canonical_post(n, conversation=n - n % 5, reply_to=None if n % 5 == 0 else n - 1)
            lines.append(json.dumps(post))
            valid.add(post["id"])
    return lines, valid, broken


def _indexed(iso: Isolated) -> Counter[str]:
    es = sync_client(iso.settings)
    try:
        alias = iso.settings.index_alias("posts")
        es.indices.refresh(index=alias)
        hits = es.search(index=alias, query={"match_all": {}}, size=10000, source=["id"])
        return Counter(h["_source"]["id"] for h in hits["hits"]["hits"])
    except Exception:
        return Counter()  # down, or coming back
    finally:
        es.close()


def _es_up(port: int) -> float | None:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    match = _ES_UP.search(text)
    return float(match.group(1)) if match else None


def _lags(port: int) -> dict[str, float]:
    """``townsquare_consumer_lag`` per topic partition, as the worker exports it."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return {}
    return {labels: float(value) for labels, value in _LAG.findall(text)}


def test_an_elasticsearch_outage_loses_nothing_and_duplicates_nothing(
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
    lines, valid, broken = _lines()
    warmup = tmp_path / "warmup.jsonl"
    warmup.write_text("\n".join(lines[:WARMUP]) + "\n", encoding="utf-8")
    main = tmp_path / "main.jsonl"
    main.write_text("\n".join(lines[WARMUP:]) + "\n", encoding="utf-8")
    log = tmp_path / "worker.log"
    timings: dict[str, float] = {}

    with running_worker(iso, log) as proc:
        started = time.monotonic()
        replay_file(iso.settings, warmup, "jsonl")
        warm_ids = {json.loads(line)["id"] for line in lines[:WARMUP]}
        assert wait_for(lambda: warm_ids <= set(_indexed(iso)), timeout=120), log.read_text()[
            -3000:
        ]
        timings["worker ready and warm-up indexed"] = time.monotonic() - started

        # The rest arrives at a steady rate, so the outage hits a running replay.
        report: list[ReplayReport] = []
        replay = threading.Thread(
            target=lambda: report.append(replay_file(iso.settings, main, "jsonl", rate=20)),
            daemon=True,
        )
        replay.start()
        assert wait_for(lambda: len(_indexed(iso)) >= STOP_AFTER, timeout=60, interval=0.2)
        before = len(_indexed(iso))
        t0 = time.monotonic()
        control(svc, "stop", "elasticsearch")
        timings["stop elasticsearch"] = time.monotonic() - t0
        outage_started = time.monotonic()
        assert not es_ready(svc.es_url, timeout=1.0), "elasticsearch still answers after stop"

        # While it is down the index stage pauses and says so; the worker stays up.
        assert wait_for(lambda: _es_up(metrics_port) == 0.0, timeout=30, interval=0.2), (
            log.read_text()[-3000:]
        )
        timings["es_up reads 0 after"] = time.monotonic() - outage_started
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_started)))
        assert proc.poll() is None, log.read_text()[-3000:]
        t0 = time.monotonic()
        control(svc, "start", "elasticsearch")
        timings["start elasticsearch"] = time.monotonic() - t0
        timings["outage"] = time.monotonic() - outage_started
        back = time.monotonic()

        replay.join(timeout=60)
        assert not replay.is_alive()
        assert report and report[0].sent == TOTAL - WARMUP
        assert wait_for(lambda: valid <= set(_indexed(iso)), timeout=120), (
            f"missing {sorted(valid - set(_indexed(iso)))[:20]}; " + log.read_text()[-3000:]
        )
        timings["all indexed after restart"] = time.monotonic() - back
        assert wait_for(lambda: _es_up(metrics_port) == 1.0, timeout=30, interval=0.2)
        # The backlog the outage built up drains: every partition's lag goes back to 0.
        enriched = f'topic="{iso.settings.topic("posts.enriched")}"'
        assert wait_for(
            lambda: (
                bool(lags := {k: v for k, v in _lags(metrics_port).items() if enriched in k})
                and max(lags.values()) == 0
            ),
            timeout=60,
            interval=0.5,
        ), _lags(metrics_port)
        timings["lag drained after restart"] = time.monotonic() - back

        def letters() -> list[dict[str, object]]:
            return [json.loads(v) for _, v in read_topic(iso.settings, DLQ)]

        assert wait_for(
            lambda: (
                {m for m in broken if any(m in str(d["payload"]) for d in letters())} == set(broken)
            ),
            timeout=60,
        )
        # Let anything still in flight land before counting exactly.
        time.sleep(3)
        counts = _indexed(iso)
        dead = letters()
        assert proc.poll() is None, log.read_text()[-3000:]

    print(f"\noutage timings (s), {before} of {len(valid)} indexed at the stop:")
    for name, seconds in timings.items():
        print(f"  {name:36} {seconds:6.2f}")

    assert before < len(valid)
    assert dict(counts) == dict.fromkeys(valid, 1)
    matched = Counter(m for d in dead for m in broken if m in str(d["payload"]))
    assert matched == Counter(dict.fromkeys(broken, 1)), matched
    assert len(dead) == len(broken), [(d["stage"], d["reason"]) for d in dead]
    assert {d["stage"] for d in dead} == {"normalize"}
    reasons = Counter(str(d["reason"]) for d in dead)
    assert reasons["invalid_json"] == sum(1 for m in broken if "bad-json" in m)
