"""``townsquare run``: the main job end to end on whatever servers the settings name.

Starts the local servers if no external ones are configured, runs setup,
starts the worker as a child process, replays the corpus, waits until every
post id is searchable and every thread's document in the conversations index
is as current as its posts, prints a summary, and stops what it started
(unless ``--keep-running``). A second run is harmless: ids are stable, so the same
documents are overwritten and conversation state ignores posts it has seen.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from streams.cli.console import plain
from streams.cli.setup import run_setup
from streams.es.client import sync_client
from streams.settings import Settings
from streams.sources.replay import replay_file


def corpus_ids(path: Path) -> list[str]:
    ids = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                ids.append(json.loads(line)["id"])
    return list(dict.fromkeys(ids))


def start_worker(
    settings: Settings,
    log_path: Path,
    env: dict[str, str] | None = None,
    roles: tuple[str, ...] = ("all",),
) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli.main", "worker", *(f"--role={r}" for r in roles)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )


def stop_worker(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """SIGTERM lets Faust leave the consumer group and flush; SIGKILL only as a last resort."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    return proc.returncode


def count_indexed(es: Elasticsearch, alias: str, ids: list[str]) -> int:
    es.indices.refresh(index=alias)
    resp = es.count(index=alias, query={"terms": {"id": ids}})
    return int(resp["count"])


def wait_until_indexed(
    es: Elasticsearch,
    alias: str,
    ids: list[str],
    timeout: float,
    worker: subprocess.Popen[bytes] | None = None,
    on_progress: Any = None,
) -> int:
    """Poll until every id is searchable; returns how many are (stops early if the worker died)."""
    deadline = time.monotonic() + timeout
    found = 0
    while time.monotonic() < deadline:
        found = count_indexed(es, alias, ids)
        if on_progress is not None:
            on_progress(found)
        if found >= len(ids):
            return found
        if worker is not None and worker.poll() is not None:
            return found
        time.sleep(1.0)
    return found


def stale_conversations(
    es: Elasticsearch, posts_alias: str, conversations_alias: str, ids: list[str]
) -> list[str]:
    """Threads of ``ids`` whose conversations document is older than their last enriched post.

    The enrich stage publishes a thread's view with the same time stamp as the
    post it just enriched (``updated_at`` = ``processed_at.enrich``), and the
    index stage writes posts and views from two topics, so a view may lag its
    post by a batch. A thread is current once its document's ``updated_at``
    has caught up with the newest ``processed_at.enrich`` among its posts.
    """
    es.indices.refresh(index=posts_alias)
    resp = es.search(
        index=posts_alias,
        query={"terms": {"id": ids}},
        size=len(ids),
        source_includes=["conversation_id", "processed_at"],
    )
    wanted: dict[str, float] = {}
    for hit in resp["hits"]["hits"]:
        src = hit["_source"]
        stamp = _ts(str((src.get("processed_at") or {}).get("enrich") or ""))
        conv = str(src["conversation_id"])
        wanted[conv] = max(wanted.get(conv, 0.0), stamp)
    try:
        es.indices.refresh(index=conversations_alias)
        found = es.search(
            index=conversations_alias,
            query={"ids": {"values": list(wanted)}},
            size=max(1, len(wanted)),
            source_includes=["conversation_id", "updated_at"],
        )["hits"]["hits"]
    except NotFoundError:
        return sorted(wanted)
    have = {h["_source"]["conversation_id"]: h["_source"]["updated_at"] for h in found}
    return sorted(c for c, stamp in wanted.items() if c not in have or _ts(have[c]) < stamp)


def _ts(value: str) -> float:
    """An ISO time as seconds (0 for none), so spellings and precisions compare alike."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else 0.0


def wait_until_current(
    es: Elasticsearch,
    posts_alias: str,
    conversations_alias: str,
    ids: list[str],
    timeout: float,
) -> list[str]:
    """Poll until every thread of ``ids`` is current in the conversations index; the stale ones."""
    deadline = time.monotonic() + timeout
    stale = stale_conversations(es, posts_alias, conversations_alias, ids)
    while stale and time.monotonic() < deadline:
        time.sleep(1.0)
        stale = stale_conversations(es, posts_alias, conversations_alias, ids)
    return stale


def alerts_by_rule(es: Elasticsearch, alias: str) -> dict[str, int]:
    """Alerts in the alerts index by rule, most first; none when the alias is not there."""
    try:
        resp = es.search(
            index=alias, size=0, aggs={"rules": {"terms": {"field": "rule", "size": 100}}}
        )
    except NotFoundError:
        return {}
    buckets = resp.get("aggregations", {}).get("rules", {}).get("buckets", [])
    return {str(b["key"]): int(b["doc_count"]) for b in buckets}


ENGAGE = ("reply", "escalate", "appreciate")
"""Actions that ask a person to do something; the demo's top list shows only these."""


def summary(es: Elasticsearch, settings: Settings, ids: list[str], console: Console) -> None:
    """What the run produced: posts, threads waiting now, alerts, actions, posts to act on.

    Threads awaiting our reply are counted in the conversations index (one
    document per thread, its current state), the same answer as `townsquare
    conversations --awaiting-reply` and Kibana's "Waiting for us".
    """
    alias = settings.index_alias("posts")
    resp = es.search(
        index=alias,
        query={"terms": {"id": ids}},
        size=0,
        aggs={
            "conversations": {"cardinality": {"field": "conversation_id"}},
            "actions": {"terms": {"field": "joinability.action", "size": 10}},
            "others": {  # our own posts need nothing; the table shows everyone else's
                "filter": {"term": {"author.is_org_account": False}},
                "aggs": {
                    "kinds": {
                        "terms": {"field": "reading.kind", "size": 10},
                        "aggs": {"actions": {"terms": {"field": "joinability.action", "size": 10}}},
                    }
                },
            },
        },
    )
    aggs = resp["aggregations"]
    from streams.es.conversations import count_awaiting

    conversations = settings.index_alias("conversations")
    es.indices.refresh(index=conversations, ignore_unavailable=True)
    awaiting = count_awaiting(es, conversations)
    console.print(
        Text.assemble(
            "\n",
            (f"{resp['hits']['total']['value']} posts indexed", "bold"),
            f" in {aggs['conversations']['value']} conversations; "
            f"{awaiting} conversations await our reply",
        )
    )
    alerts = settings.index_alias("alerts")
    es.indices.refresh(index=alerts, ignore_unavailable=True)  # count alerts indexed just now
    raised = alerts_by_rule(es, alerts)
    by_rule = ", ".join(f"{rule} {n}" for rule, n in raised.items())
    console.print(
        plain(f"alerts raised: {sum(raised.values())}" + (f" ({by_rule})" if by_rule else ""))
    )
    console.print(
        plain(
            "actions: "
            + ", ".join(f"{b['key']} {b['doc_count']}" for b in aggs["actions"]["buckets"])
        )
    )
    others = aggs["others"]
    console.print(
        f"{resp['hits']['total']['value'] - others['doc_count']} of them are our own posts; "
        "everyone else's, by what they are and what to do:",
        markup=False,
        highlight=False,
    )
    console.print(actions_by_kind(others["kinds"]["buckets"]))
    top = es.search(
        index=alias,
        query={
            "bool": {
                "filter": [
                    {"terms": {"id": ids}},
                    {"terms": {"joinability.action": list(ENGAGE)}},
                ]
            }
        },
        size=5,
        sort=[{"joinability.score": "desc"}],
    )
    from streams.cli.analyst import posts_table

    console.print(posts_table([h["_source"] for h in top["hits"]["hits"]], "top posts to act on"))


def actions_by_kind(buckets: list[dict[str, Any]]) -> Table:
    """What the posts were read as (rows) against the action recommended (columns).

    The bucket keys are stored field values, so they are plain text, never markup.
    """
    actions = ("reply", "escalate", "appreciate", "listen_only", "do_not_engage")
    table = Table(title="actions by kind of post", title_justify="left")
    table.add_column("kind")
    for action in actions:
        table.add_column(action, justify="right")
    table.add_column("all", justify="right")
    for bucket in buckets:
        counts = {b["key"]: b["doc_count"] for b in bucket["actions"]["buckets"]}
        table.add_row(
            plain(bucket["key"]),
            *(str(counts.get(a, 0) or "") for a in actions),
            str(bucket["doc_count"]),
        )
    return table


def run_end_to_end(
    settings: Settings,
    *,
    corpus: Path | None,
    keep_running: bool,
    timeout: float,
    console: Console,
) -> int:
    from streams.cli.services import LocalServices, ServiceError, down, up
    from streams.sample import CORPUS, sample_path

    corpus = corpus or sample_path(CORPUS)
    svc = LocalServices.from_settings(settings)
    started_services = False
    worker: subprocess.Popen[bytes] | None = None
    try:
        if settings.uses_local_services:
            console.print("starting local services …")
            try:
                started_services = up(svc)
            except ServiceError as exc:
                console.print(Text.assemble(("error:", "red"), " ", plain(exc)))
                return 1
        report = run_setup(settings)
        console.print(
            plain(
                f"setup: {len(report.created)} created, {len(report.existing)} already there"
                + (f", skipped: {'; '.join(report.unsupported)}" if report.unsupported else "")
            )
        )
        log_path = settings.data_dir / "worker.log"
        # The demo scores for the sample council unless a profile is configured.
        worker = start_worker(settings, log_path, {"TOWNSQUARE_ALLOW_SAMPLE_PROFILE": "true"})
        console.print(plain(f"worker started (pid {worker.pid}, log {log_path})"))
        ids = corpus_ids(corpus)
        sent = replay_file(settings, corpus, "jsonl")
        console.print(plain(f"replayed {sent.sent} posts from {corpus.name}"))
        es = sync_client(settings)
        alias = settings.index_alias("posts")
        with console.status("waiting until every post is searchable …") as status:
            found = wait_until_indexed(
                es,
                alias,
                ids,
                timeout,
                worker,
                on_progress=lambda n: status.update(f"searchable: {n}/{len(ids)}"),
            )
        if found < len(ids):
            state = "the worker exited" if worker.poll() is not None else f"after {timeout:.0f}s"
            console.print(
                plain(
                    f"only {found}/{len(ids)} posts searchable ({state}); see {log_path}",
                    style="red",
                )
            )
            return 1
        with console.status("waiting until every conversation is current …"):
            stale = wait_until_current(
                es, alias, settings.index_alias("conversations"), ids, min(timeout, 60.0)
            )
        if stale:
            console.print(
                plain(
                    f"{len(stale)} conversations not current in the conversations index yet; "
                    f"the awaiting count may be behind (see {log_path})",
                    style="yellow",
                )
            )
        summary(es, settings, ids, console)
        es.close()
        return 0
    finally:
        if worker is not None and not keep_running:
            stop_worker(worker)
        if started_services and not keep_running:
            down(svc)
        if keep_running:
            console.print(
                "left running: stop with `townsquare services down` and kill the worker "
                f"(pid {worker.pid if worker else '?'})",
                markup=False,
            )
