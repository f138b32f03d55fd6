"""Recovery time: how long a restarted worker takes to rebuild its tables from their changelogs.

    .venv/bin/python bench/recovery.py [--posts 1000,4000] [--timeout 300]

The workers keep their state in memory (``store="memory://"``), so every start
reads each owned table's changelog from the beginning before it processes
anything (docs/operations.md, "Recovery time"). For each size in ``--posts``,
on private local servers:

1. set up, start a worker with every role, replay that many posts (threads of
   five, as ``bench/throughput.py`` builds them) and wait until all are
   searchable;
2. count the records in the app's changelog topics (end offsets minus
   beginnings, so what a recovery must read);
3. stop the worker with SIGTERM and start it again with the same static
   member id, so it keeps its partitions as a rolling restart would;
4. read the new worker's log for Faust's "Restoring state from changelog
   topics", "Done reading from changelog topics" and "Worker ready".

The figures: changelog records, the restore time (the first two log lines),
the start-to-ready time, records per second restored, and the cold start of
the first worker (no state) to compare. Several sizes in one run show whether
the time grows with the changelog, as the formula in docs/operations.md says.
The last line is one JSON object.

A benchmark, never a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "bench"):  # runnable as a script from anywhere
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

RESTORING = "Restoring state from changelog topics"
RESTORED = "Done reading from changelog topics"
READY = "Worker ready"


def _log_times(log: Path, after: float) -> dict[str, float]:
    """Epoch seconds of the first RESTORING, RESTORED and READY lines logged after ``after``."""
    found: dict[str, float] = {}
    if not log.is_file():
        return found
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or "ts" not in record:
            continue
        at = datetime.fromisoformat(str(record["ts"])).timestamp()
        if at < after:
            continue
        message = str(record.get("msg", ""))
        for key in (RESTORING, RESTORED, READY):
            if key in message and key not in found:
                found[key] = at
    return found


def _wait_log(log: Path, after: float, key: str, timeout: float) -> dict[str, float]:
    """Poll the log until ``key`` appears after ``after`` (bounded by ``timeout``)."""
    deadline = time.monotonic() + timeout
    times = _log_times(log, after)
    while key not in times and time.monotonic() < deadline:
        time.sleep(0.2)
        times = _log_times(log, after)
    return times


def _changelog_records(settings: Any) -> tuple[int, dict[str, int]]:
    """Records a recovery reads: per changelog topic of the app, end minus beginning offsets."""
    from kafka import KafkaConsumer, TopicPartition

    from streams.kafka_config import kafka_python_config

    consumer = KafkaConsumer(group_id=None, **kafka_python_config(settings))
    try:
        prefix = f"{settings.app_id}-"
        topics = [t for t in consumer.topics() if t.startswith(prefix) and t.endswith("-changelog")]
        per_topic: dict[str, int] = {}
        for topic in sorted(topics):
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            ends = consumer.end_offsets(parts)
            starts = consumer.beginning_offsets(parts)
            per_topic[topic.removeprefix(prefix)] = sum(ends[tp] - starts[tp] for tp in parts)
        return sum(per_topic.values()), per_topic
    finally:
        consumer.close()


def measure(posts: int, timeout: float) -> dict[str, Any]:
    """One size: fill the tables with ``posts`` posts, restart the worker, time the recovery."""
    import throughput as tb
    from private_servers import private_env, set_env

    from streams.cli.run import start_worker, stop_worker
    from streams.cli.services import LocalServices, down, up
    from streams.cli.setup import run_setup
    from streams.es.client import sync_client
    from streams.settings import Settings
    from streams.sources.replay import replay_file

    tag = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="townsquare-recovery-") as tmp:
        env = private_env(
            f"rec{tag}",
            f"townsquare-rec-{tag}",
            Path(tmp),
            TOWNSQUARE_KAFKA_GROUP_INSTANCE_ID=f"rec{tag}-0",
        )
        env_patch = set_env(env)
        settings = Settings()
        svc = LocalServices.from_settings(settings)
        started = up(svc) if settings.uses_local_services else False
        worker = None
        try:
            run_setup(settings)
            texts = tb.load_texts(tb.default_text_files(), posts)
            batch = tb.as_posts(texts)
            path = Path(tmp) / "posts.jsonl"
            tb._write_jsonl(path, batch)
            log = Path(tmp) / "worker.log"
            cold_at = time.time()
            worker = start_worker(settings, log, env)
            cold = _wait_log(log, cold_at, READY, timeout)
            replay_file(settings, path, "jsonl")
            es = sync_client(settings)
            try:
                found = tb._wait_searchable(
                    es, settings.index_alias("posts"), [p["id"] for p in batch], timeout, worker
                )
            finally:
                es.close()
            if len(found) < len(batch):
                raise SystemExit(f"only {len(found)}/{len(batch)} posts searchable; see {log}")
            stop_worker(worker)
            worker = None
            records, per_topic = _changelog_records(settings)
            warm_at = time.time()
            worker = start_worker(settings, log, env)
            warm = _wait_log(log, warm_at, READY, timeout)
            restore = (
                warm[RESTORED] - warm[RESTORING] if RESTORED in warm and RESTORING in warm else None
            )
            return {
                "posts": posts,
                "changelog_records": records,
                "changelog_records_by_table": per_topic,
                "cold_start_to_ready_s": _since(cold, cold_at),
                "restart_to_ready_s": _since(warm, warm_at),
                "restore_s": round(restore, 2) if restore is not None else None,
                "records_per_s": round(records / restore) if restore else None,
            }
        finally:
            if worker is not None:
                stop_worker(worker)
            if started:
                down(svc)
            env_patch.stop()


def _since(times: dict[str, float], start: float) -> float | None:
    return round(times[READY] - start, 2) if READY in times else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time a restarted worker's table recovery from the changelogs, per size."
    )
    parser.add_argument(
        "--posts",
        default="1000,4000",
        help="comma-separated numbers of posts to fill the tables with (default 1000,4000)",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds each wait may take (default 300)"
    )
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in str(args.posts).split(",") if s.strip()]
    except ValueError:
        parser.error("--posts takes whole numbers separated by commas, e.g. 1000,4000")
    if not sizes or min(sizes) < 1:
        parser.error("--posts needs at least one positive number")

    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    rows = []
    for size in sizes:
        with console.status(f"recovery: {size} posts …"):
            rows.append(measure(size, args.timeout))
    table = Table(title="recovery of a restarted worker (every role, in-memory tables)")
    for column in ("posts", "changelog records", "restore s", "records/s", "restart->ready s"):
        table.add_column(column, justify="right")
    table.add_column("cold start->ready s", justify="right")
    for row in rows:
        table.add_row(
            *(
                str(row[k]) if row[k] is not None else "-"
                for k in (
                    "posts",
                    "changelog_records",
                    "restore_s",
                    "records_per_s",
                    "restart_to_ready_s",
                    "cold_start_to_ready_s",
                )
            )
        )
    Console().print(table)
    print(json.dumps({"sizes": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
