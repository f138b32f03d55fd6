"""How throughput adds up across worker processes: one worker, two, and the roles split apart.

    python bench/scaling.py [--posts N] [--texts PATH] [--configs one,two,split]
                            [--split GROUPS] [--partitions P] [--timeout S] [--poll S]

``throughput.py --pipeline`` measures one worker. Whether a second worker, or
one process per stage, buys anything is a different question, and on a small
machine the answer is often "no": the workers, their NER pools and the servers
all share the same cores. This benchmark answers it with figures, on the same
N posts (default 2,000 from the tweeteval ``*_train_text.txt`` files, the
ones ``throughput.py`` reads) for each configuration:

* ``one``: 1 worker with every role (``--role=all``), topics of ``--partitions``
  partitions (default 4);
* ``two``: 2 such workers in the same consumer group. Before the clock starts,
  the broker (DescribeGroups) must show both holding partitions of
  ``posts.raw``; the table and the JSON say how many each got;
* ``split``: one process per role group (default ``normalize+locate``,
  ``enrich``, ``index``, ``alert+notify``: every role ``all`` runs, so the
  work is the same), compared with ``one``, where ``all`` runs in one process.

Each configuration runs on its own private local servers (a temporary data
folder, free loopback ports), under its own topic and index prefix and Faust
app id, and each worker has its own static group instance id
(``TOWNSQUARE_KAFKA_GROUP_INSTANCE_ID``: two members with one id would fence
each other). A warm-up replay of other posts must be searchable before the
clock starts, so start-up, the group join and the NER model load are not
timed. Then every post is replayed at once and the clock stops when the last
one is searchable in Elasticsearch.

Per configuration: posts/s by wall clock; CPU seconds of the worker processes
with their NER pools and of the servers (from ``/proc``); posts per CPU second;
the CPU utilisation of the machine (everything measured, this process's replay
and polls included, over wall seconds over cores); each worker's peak RSS; and
whether every post became searchable. The last line is one JSON object.

A benchmark, never a test: the figures depend on the machine and on whatever
else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "bench"):  # runnable as a script from anywhere
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from throughput import (  # noqa: E402
    MAX_POSTS,
    POLL_SECONDS,
    TWEETEVAL,
    WARMUP,
    Stage,
    _cpu_seconds,
    _descendants,
    _peak_rss_mb,
    _wait_searchable,
    _write_jsonl,
    affinity,
    as_posts,
    cores_label,
    default_text_files,
    load_texts,
)

if TYPE_CHECKING:  # imports that cost seconds stay out of `--help`
    import subprocess

    from rich.console import Console

    from streams.settings import Settings

CONFIGS = ("one", "two", "split")
DEFAULT_SPLIT = "normalize+locate,enrich,index,alert+notify"
"""Every role ``all`` runs, so ``split`` does the same work as ``one``; locate is cheap and
sits with normalize, alert and notify are side roles and share their own group."""
DEFAULT_PARTITIONS = 4
DEFAULT_TIMEOUT = 300.0
WARM_POSTS = 2 * WARMUP
"""Warm-up posts: 128 posts are 26 threads, so every one of 4 partitions (and every worker's
NER pool) almost surely gets some before the clock starts."""
SPEEDUP_NOTE_BELOW = 1.5
ASSIGN_POLL = 2.0
"""Seconds between DescribeGroups calls while waiting for the group to settle."""


@dataclass(frozen=True)
class WorkerSpec:
    """One worker process of a configuration: a label and the roles it runs."""

    label: str
    roles: tuple[str, ...]


@dataclass
class WorkerResult:
    """What one worker process (with its NER pool) cost and which partitions it held."""

    label: str
    roles: tuple[str, ...]
    instance_id: str
    group: str
    cpu_s: float = 0.0
    pool_cpu_s: float = 0.0
    pool_procs: int = 0
    """Child processes: the NER pool and multiprocessing's resource tracker (which costs ~0)."""
    peak_rss_mb: float | None = None
    tree_peak_rss_mb: float | None = None
    partitions: dict[str, int] = field(default_factory=dict)
    """Topic (without prefix and version) -> partitions this member held when the clock started."""


@dataclass
class ConfigResult:
    """One configuration's run: the timed stage plus the per-worker and server split."""

    name: str
    stage: Stage
    workers: list[WorkerResult]
    servers_cpu_s: float
    bench_cpu_s: float
    cores: int
    expected: int
    rebalanced: bool = False
    error: str | None = None

    @property
    def utilisation(self) -> float:
        """Share of the allowed cores everything measured kept busy (1.0 = saturated)."""
        total = self.stage.cpu_seconds + self.bench_cpu_s
        return total / self.stage.seconds / self.cores if self.stage.seconds > 0 else 0.0


class _AnyExited:
    """``poll()`` over several workers, for :func:`throughput._wait_searchable`.

    That helper stops waiting when its one worker exits; here any worker of
    the configuration dying means the posts of its partitions never arrive.
    """

    def __init__(self, workers: Sequence[subprocess.Popen[bytes]]) -> None:
        self._workers = workers

    def poll(self) -> int | None:
        for worker in self._workers:
            code = worker.poll()
            if code is not None:
                return code
        return None


class BenchFailure(RuntimeError):
    """A configuration could not be measured (a worker died, the group never settled)."""


# --- group membership --------------------------------------------------------------------------


def describe_members(settings: Settings, groups: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Static instance id -> {"group", "state", "partitions": {topic: n}} from the broker.

    Only the configuration's own topics count (Faust also assigns its
    changelog and assignor topics, as standbys, to every member).
    """
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka_servers, client_id="townsquare-bench-scaling"
    )
    try:
        described = admin.describe_groups(list(groups))
    finally:
        admin.close()
    prefix, suffix = settings.topic_prefix, f".{settings.topic_version}"
    members: dict[str, dict[str, Any]] = {}
    for group, info in described.items():
        for member in info.get("members") or []:
            assignment = member.get("member_assignment") or {}
            counts: dict[str, int] = {}
            if isinstance(assignment, dict):
                for entry in assignment.get("assigned_partitions") or []:
                    topic = str(entry.get("topic", ""))
                    if topic.startswith(prefix) and topic.endswith(suffix):
                        name = topic[len(prefix) : -len(suffix)]
                        counts[name] = len(entry.get("partitions") or [])
            key = str(member.get("group_instance_id") or member.get("member_id"))
            members[key] = {"group": group, "state": info.get("group_state"), "partitions": counts}
    return members


def wait_assigned(
    settings: Settings,
    results: Sequence[WorkerResult],
    workers: Sequence[subprocess.Popen[bytes]],
    deadline: float,
) -> dict[str, dict[str, Any]]:
    """Until every worker is a member of a Stable group holding at least one partition.

    For ``two`` this is the proof that the partitions were split: both
    members hold some of ``posts.raw``. Bounded by ``deadline``.
    """
    groups = sorted({r.group for r in results})
    last: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        if (code := _AnyExited(workers).poll()) is not None:
            raise BenchFailure(f"a worker exited with {code} before the group settled")
        try:
            last = describe_members(settings, groups)
        except Exception as exc:  # the coordinator may not exist yet; keep asking
            last = {"error": {"state": repr(exc), "partitions": {}}}
        ready = all(
            (m := last.get(r.instance_id)) is not None
            and m["state"] == "Stable"
            and sum(m["partitions"].values()) > 0
            for r in results
        )
        if ready:
            return last
        time.sleep(ASSIGN_POLL)
    seen = {k: (v["state"], v["partitions"]) for k, v in last.items()}
    raise BenchFailure(f"the consumer groups did not settle in time; last seen: {seen}")


# --- one configuration -------------------------------------------------------------------------


def run_config(
    name: str,
    specs: Sequence[WorkerSpec],
    posts: list[dict[str, Any]],
    timeout: float,
    poll: float,
    partitions: int,
    cpus: set[int],
    console: Console,
) -> ConfigResult:
    """Private servers, setup, the workers, warm-up, then every post replayed and timed.

    Everything the configuration starts is stopped in ``finally``, also when
    it fails or runs out of time; the environment is restored.
    """
    from private_servers import private_env, set_env

    from streams.cli.run import start_worker, stop_worker
    from streams.cli.services import LocalServices, down, running_pid, up
    from streams.cli.setup import run_setup
    from streams.es.client import sync_client
    from streams.settings import Settings
    from streams.sources.replay import replay_file
    from streams.worker.roles import consumer_group, resolve

    deadline = time.monotonic() + timeout
    tag = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix=f"townsquare-scaling-{name}-") as tmp:
        env = private_env(
            f"scale{tag}",
            f"townsquare-scaling-{name}-{tag}",
            Path(tmp),
            TOWNSQUARE_TOPIC_PARTITIONS=str(partitions),
        )
        env_patch = set_env(env)
        settings = Settings()
        if not settings.uses_local_services:
            raise SystemExit(
                "scaling.py runs on private local servers only: unset TOWNSQUARE_KAFKA_BOOTSTRAP "
                "and TOWNSQUARE_ES_URL"
            )
        svc = LocalServices.from_settings(settings)
        started = False
        workers: list[subprocess.Popen[bytes]] = []
        logs: list[Path] = []
        es = None
        results = [
            WorkerResult(
                spec.label,
                spec.roles,
                instance_id=f"scale{tag}-{i}",
                group=consumer_group(settings.app_id, resolve(spec.roles)),
            )
            for i, spec in enumerate(specs)
        ]
        try:
            with console.status(f"{name}: starting local servers …"):
                started = up(svc)
            run_setup(settings)
            warm = as_posts([str(p["text"]) for p in posts[:WARM_POSTS]], first_id=9_000_000)
            warm_path, path = Path(tmp) / "warmup.jsonl", Path(tmp) / "posts.jsonl"
            _write_jsonl(warm_path, warm)
            _write_jsonl(path, posts)
            for spec, result in zip(specs, results, strict=True):
                log = Path(tmp) / f"worker-{len(workers)}.log"
                logs.append(log)
                own = {**env, "TOWNSQUARE_KAFKA_GROUP_INSTANCE_ID": result.instance_id}
                workers.append(start_worker(settings, log, own, spec.roles))
            alive = _AnyExited(workers)
            with console.status(f"{name}: {len(workers)} worker(s) joining the group …"):
                wait_assigned(settings, results, workers, deadline)
            es = sync_client(settings)
            alias = settings.index_alias("posts")
            with console.status(f"{name}: warm-up ({len(warm)} posts) …"):
                replay_file(settings, warm_path, "jsonl")
                left = max(1.0, deadline - time.monotonic())
                waiter = cast("subprocess.Popen[bytes]", alive)
                warmed = _wait_searchable(es, alias, [p["id"] for p in warm], left, waiter, poll)
            if len(warmed) < len(warm):
                raise BenchFailure(
                    f"warm-up: only {len(warmed)}/{len(warm)} searchable" + _tails(workers, logs)
                )
            # The warm-up may have been handled before a late rebalance: ask again, just before
            # the clock starts, and keep this answer as the partitions each worker held.
            members = wait_assigned(settings, results, workers, deadline)
            for result in results:
                result.partitions = dict(members[result.instance_id]["partitions"])
            server = running_pid(svc) if started else None
            servers = _descendants(server) if server else []
            ids = [str(p["id"]) for p in posts]
            with console.status(f"{name}: {len(posts)} posts end to end …"):
                trees = [_descendants(w.pid) for w in workers]
                before = _cpu_seconds([p for tree in trees for p in tree] + servers)
                cpu0, t0 = time.process_time(), time.perf_counter()
                replay_file(settings, path, "jsonl")
                left = max(1.0, deadline - time.monotonic())
                found = _wait_searchable(es, alias, ids, left, waiter, poll)
                seconds = time.perf_counter() - t0
                trees = [_descendants(w.pid) for w in workers]
                after = _cpu_seconds([p for tree in trees for p in tree] + servers)
                bench_cpu = time.process_time() - cpu0
            used = {p: after[p] - before.get(p, 0.0) for p in after}
            for worker, tree, result in zip(workers, trees, results, strict=True):
                result.cpu_s = used.get(worker.pid, 0.0)
                result.pool_cpu_s = sum(used.get(p, 0.0) for p in tree[1:])
                result.pool_procs = len(tree) - 1
                result.peak_rss_mb = _peak_rss_mb(worker.pid)
                peaks = [m for p in tree if (m := _peak_rss_mb(p)) is not None]
                result.tree_peak_rss_mb = sum(peaks) if peaks else None
            servers_cpu = sum(used.get(p, 0.0) for p in servers)
            worker_cpu = sum(r.cpu_s + r.pool_cpu_s for r in results)
            rebalanced = False
            try:
                after_members = describe_members(settings, sorted({r.group for r in results}))
                rebalanced = any(
                    after_members.get(r.instance_id, {}).get("partitions") != r.partitions
                    for r in results
                )
            except Exception:  # informational only; the run itself is measured
                rebalanced = False
            where = (
                f"{len(workers)} worker(s) + their NER pools + local servers; this process "
                f"replays and polls; {len(cpus)} cores shared ({cores_label(cpus)})"
            )
            stage = Stage(name, len(found), seconds, worker_cpu + servers_cpu, where)
            stage.complete = len(found) == len(ids)
            error = None
            if alive.poll() is not None:
                error = "a worker exited during the run" + _tails(workers, logs)
            elif not stage.complete:
                error = f"only {len(found)}/{len(ids)} searchable within the time limit"
            return ConfigResult(
                name,
                stage,
                results,
                servers_cpu,
                bench_cpu,
                len(cpus),
                len(ids),
                rebalanced,
                error,
            )
        finally:
            for worker in workers:
                stop_worker(worker)
            if es is not None:
                es.close()
            if started:
                down(svc)
            env_patch.stop()


def _tails(workers: Sequence[subprocess.Popen[bytes]], logs: Sequence[Path]) -> str:
    """The last lines of each exited worker's log, so a failure explains itself."""
    parts = []
    for worker, log in zip(workers, logs, strict=True):
        if worker.poll() is not None:
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
            parts.append(f"\nworker pid {worker.pid} exited {worker.returncode}; log ends:\n")
            parts.append("\n".join(lines))
    return "".join(parts)


def failed(name: str, specs: Sequence[WorkerSpec], cores: int, n: int, error: str) -> ConfigResult:
    """A row for a configuration that could not be measured: zero rates, the reason kept."""
    stage = Stage(name, 0, 0.0, 0.0, "not measured", complete=False)
    workers = [WorkerResult(s.label, s.roles, "", "") for s in specs]
    return ConfigResult(name, stage, workers, 0.0, 0.0, cores, n, error=error)


# --- report ------------------------------------------------------------------------------------


def _partitions_label(result: WorkerResult) -> str:
    if not result.partitions:
        return "-"
    return ", ".join(f"{topic} {n}" for topic, n in sorted(result.partitions.items()))


def report(
    results: dict[str, ConfigResult], source: str, cpus: set[int], load: float, console: Console
) -> dict[str, Any]:
    """Print the tables and the note; return the JSON summary.

    Topic names, roles and error text come from the run, not from this file,
    so every cell is a ``Text`` and never parsed as markup.
    """
    from rich.table import Table
    from rich.text import Text

    posts = next(iter(results.values())).expected if results else 0
    table = Table(
        title=f"scaling on {posts} posts from {source}; {len(cpus)} cores allowed "
        f"({cores_label(cpus)}), load average {load:.2f} at start"
    )
    table.add_column("config")
    for column in ("workers", "posts/s", "CPU s", "posts/CPU-s", "utilisation", "searchable"):
        table.add_column(column, justify="right")
    table.add_column("note")
    for name, res in results.items():
        st = res.stage
        note = f"CPU s: workers {st.cpu_seconds - res.servers_cpu_s:.1f}, servers "
        note += f"{res.servers_cpu_s:.1f}, this process {res.bench_cpu_s:.1f}"
        if res.rebalanced:
            note += "; the assignment changed during the run"
        if res.error:
            note += f"; {res.error.splitlines()[0]}"
        table.add_row(
            Text(name),
            str(len(res.workers)),
            f"{st.rate:,.1f}",
            f"{st.cpu_seconds:.1f}",
            f"{st.cpu_rate:,.1f}",
            f"{res.utilisation:.0%}",
            f"{st.posts}/{res.expected}",
            Text(note),
        )
    console.print(table)

    per_worker = Table(title="per worker (CPU over the timed run; partitions when it started)")
    per_worker.add_column("config")
    per_worker.add_column("roles")
    per_worker.add_column("instance id")
    for column in ("CPU s", "children CPU s", "peak RSS MB", "+children MB"):
        per_worker.add_column(column, justify="right")
    per_worker.add_column("partitions held")
    for name, res in results.items():
        for w in res.workers:
            per_worker.add_row(
                Text(name),
                Text("+".join(w.roles)),
                Text(w.instance_id),
                f"{w.cpu_s:.1f}",
                f"{w.pool_cpu_s:.1f} ({w.pool_procs})",
                "-" if w.peak_rss_mb is None else f"{w.peak_rss_mb:.0f}",
                "-" if w.tree_peak_rss_mb is None else f"{w.tree_peak_rss_mb:.0f}",
                Text(_partitions_label(w)),
            )
    console.print(per_worker)
    console.print(
        Text(
            "CPU s = worker processes with their NER pools, plus the servers. utilisation = all "
            "CPU measured (this process's replay and polls too) / wall seconds / cores: near "
            "100% the machine was saturated and more processes cannot add throughput. A "
            "worker's children are its NER pool and multiprocessing's resource tracker (their "
            "count in brackets); +children MB sums each process's own peak."
        )
    )
    for res in results.values():
        if res.error and "\n" in res.error:
            console.print(Text(f"{res.name}: {res.error}"))

    def rate(name: str) -> float | None:
        res = results.get(name)
        return None if res is None or not res.stage.posts else round(res.stage.rate, 1)

    one, two, split = rate("one"), rate("two"), rate("split")
    speedup = round(two / one, 3) if one and two else None
    split_ratio = round(split / one, 3) if one and split else None
    two_res = results.get("two")
    raw_split = [w.partitions.get("posts.raw", 0) for w in two_res.workers] if two_res else []
    if speedup is not None and two_res is not None and speedup < SPEEDUP_NOTE_BELOW:
        console.print(Text(speedup_note(results["one"], two_res, speedup, raw_split, len(cpus))))
    split_res = results.get("split")
    if split_ratio is not None and split_res is not None and split_ratio < 1:
        one_res = results["one"]
        console.print(
            Text(
                f"split ran at {split_ratio:.2f}x all-in-one ({split:,.1f} vs {one:,.1f} posts/s) "
                f"in {len(split_res.workers)} processes: a post cost "
                f"{1000 / max(split_res.stage.cpu_rate, 1e-9):.0f} ms of CPU against "
                f"{1000 / max(one_res.stage.cpu_rate, 1e-9):.0f} ms in one process. Every "
                "boundary between the processes is a Kafka hop (serialise, produce, fetch, "
                "deserialise) and every process runs its own Faust app, so on these cores "
                "splitting buys isolation and independent scaling, not throughput."
            )
        )

    summary: dict[str, Any] = {
        "posts": posts,
        "texts": source,
        "one_posts_per_s": one,
        "two_posts_per_s": two,
        "two_speedup": speedup,
        "split_posts_per_s": split,
        "split_ratio_to_all": split_ratio,
        "partitions_per_worker": raw_split,
        "cores": len(cpus),
    }
    for name, res in results.items():
        summary[f"{name}_cpu_s"] = round(res.stage.cpu_seconds, 1)
        summary[f"{name}_posts_per_cpu_s"] = round(res.stage.cpu_rate, 1)
        summary[f"{name}_utilisation"] = round(res.utilisation, 3)
        summary[f"{name}_all_searchable"] = res.stage.complete and res.error is None
        summary[f"{name}_peak_rss_mb"] = [
            None if w.peak_rss_mb is None else round(w.peak_rss_mb, 1) for w in res.workers
        ]
        summary[f"{name}_workers"] = ["+".join(w.roles) for w in res.workers]
        if res.error:
            summary[f"{name}_error"] = res.error.splitlines()[0]
    summary["cores_allowed"] = sorted(cpus)
    summary["loadavg_1m_at_start"] = round(load, 2)
    return summary


def speedup_note(
    one: ConfigResult, two: ConfigResult, speedup: float, raw_split: list[int], cores: int
) -> str:
    """Why two workers did not double one, with the figures that say so.

    The CPU ceiling is what the measured cost per post allows on these cores:
    cores / (CPU seconds per post, replay and polls included). When two
    workers run at that ceiling the cores were the limit, not the partitioning.
    """
    spent = two.stage.cpu_seconds + two.bench_cpu_s
    ceiling = cores * two.stage.posts / spent if spent > 0 else 0.0
    base = one.stage.rate
    head = (
        f"two workers gave {speedup:.2f}x one worker ({two.stage.rate:,.1f} vs {base:,.1f} "
        f"posts/s), below {SPEEDUP_NOTE_BELOW}x, with the {sum(raw_split)} posts.raw partitions "
        f"split {'/'.join(map(str, raw_split))}. "
    )
    figures = (
        f"One worker kept {one.utilisation:.0%} of the {cores} cores busy "
        f"({one.stage.cpu_seconds + one.bench_cpu_s:.1f} CPU s, replay and polls included, in "
        f"{one.stage.seconds:.1f} s); two "
        f"kept {two.utilisation:.0%} busy ({spent:.1f} CPU s in {two.stage.seconds:.1f} s). "
        f"Posts per CPU-second fell from {one.stage.cpu_rate:,.1f} to {two.stage.cpu_rate:,.1f}: "
        "the second worker, its NER pool and its Kafka traffic cost CPU of their own. "
        f"At that cost the {cores} cores allow at most {ceiling:,.1f} posts/s "
        f"({ceiling / base if base else 0:.2f}x one worker). "
    )
    if two.utilisation >= 0.9:
        reason = (
            "The machine was saturated: two workers, two NER pools, Kafka and Elasticsearch "
            "share the same cores, so the limit is the CPU, not the partitioning. It needs "
            "more cores to scale."
        )
    else:
        reason = (
            "The machine was not saturated, so part of the limit is elsewhere: waiting, not "
            "computing (batch waits, TOWNSQUARE_BATCH_WAIT; the --poll resolution; other "
            "programs on the machine; see the load average in the title)."
        )
    return head + figures + reason


# --- main --------------------------------------------------------------------------------------


def parse_split(value: str) -> list[tuple[str, ...]]:
    """``normalize+locate,enrich`` -> [("normalize", "locate"), ("enrich",)], roles checked."""
    from streams.worker.roles import ROLES

    groups = [tuple(r for r in group.split("+") if r) for group in value.split(",")]
    groups = [g for g in groups if g]
    unknown = sorted({r for g in groups for r in g if r not in ROLES})
    if not groups or unknown:
        raise argparse.ArgumentTypeError(
            f"unknown role(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(ROLES)}"
        )
    return groups


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        epilog="Each configuration runs on its own private local servers. The last line printed "
        "is one JSON object (one_posts_per_s, two_posts_per_s, two_speedup, split_posts_per_s, "
        "split_ratio_to_all, partitions_per_worker, cores, and per-configuration CPU, "
        "utilisation, searchable and peak RSS).",
    )
    parser.add_argument(
        "--posts",
        type=int,
        default=2000,
        metavar="N",
        help="posts replayed in each configuration, the same ones (default 2000)",
    )
    parser.add_argument(
        "--texts",
        type=Path,
        metavar="PATH",
        help="a file of texts, one per line (default: tweeteval train)",
    )
    parser.add_argument(
        "--configs",
        default=",".join(CONFIGS),
        metavar="LIST",
        help="which configurations to run, comma-separated (default one,two,split)",
    )
    parser.add_argument(
        "--split",
        default=DEFAULT_SPLIT,
        metavar="GROUPS",
        help="the split configuration's processes: role groups separated by ',', roles within "
        f"a process by '+' (default {DEFAULT_SPLIT})",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=DEFAULT_PARTITIONS,
        metavar="P",
        help=f"partitions of every topic (default {DEFAULT_PARTITIONS})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help="seconds each configuration may take, start-up and warm-up included "
        f"(default {DEFAULT_TIMEOUT:.0f})",
    )
    parser.add_argument(
        "--poll",
        type=float,
        default=POLL_SECONDS,
        metavar="S",
        help=f"seconds between searchable checks (default {POLL_SECONDS})",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.posts <= MAX_POSTS:
        parser.error(f"--posts must be between 1 and {MAX_POSTS}")
    if not 0.05 <= args.poll <= 10 or not 30 <= args.timeout <= 3600:
        parser.error("--poll must be within 0.05-10 s and --timeout within 30-3600 s")
    if not 2 <= args.partitions <= 64:
        parser.error("--partitions must be between 2 and 64 (two workers must both get some)")
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    if not configs or any(c not in CONFIGS for c in configs):
        parser.error(f"--configs takes a comma-separated subset of {', '.join(CONFIGS)}")
    try:
        split_groups = parse_split(args.split)
    except argparse.ArgumentTypeError as exc:
        parser.error(f"--split: {exc}")
    paths = [args.texts] if args.texts else default_text_files()
    missing = [p for p in paths if not p.is_file()] or ([] if paths else [TWEETEVAL])
    if missing:
        print(
            f"error: {missing[0]} not found; pass --texts PATH, one text per line", file=sys.stderr
        )
        return 2
    source = args.texts.name if args.texts else f"{TWEETEVAL.name}/*_train_text.txt"

    from rich.console import Console

    load = os.getloadavg()[0]
    cpus = affinity()
    posts = as_posts(load_texts(paths, args.posts))
    plans: dict[str, list[WorkerSpec]] = {
        "one": [WorkerSpec("all", ("all",))],
        "two": [WorkerSpec("all-a", ("all",)), WorkerSpec("all-b", ("all",))],
        "split": [WorkerSpec("+".join(g), g) for g in split_groups],
    }
    status = Console(stderr=True)
    results: dict[str, ConfigResult] = {}
    for name in configs:
        specs = plans[name]
        try:
            results[name] = run_config(
                name, specs, posts, args.timeout, args.poll, args.partitions, cpus, status
            )
        except BenchFailure as exc:
            results[name] = failed(name, specs, len(cpus), len(posts), str(exc))
    out = Console(width=None if sys.stdout.isatty() else 160)
    summary = report(results, source, cpus, load, out)
    sys.stdout.flush()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
