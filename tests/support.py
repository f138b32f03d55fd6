"""Helpers for integration tests (importable as ``support`` from any test)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Servers:
    kafka_bootstrap: str
    es_url: str
    local: bool


@dataclass(frozen=True)
class Isolated:
    """Settings plus the same settings as environment variables (for child processes)."""

    settings: Settings
    env: dict[str, str]


def isolated(servers: Servers, tmp_path: Path, **overrides: str) -> Isolated:
    tag = uuid.uuid4().hex[:10]
    env = {
        "TOWNSQUARE_KAFKA_BOOTSTRAP": servers.kafka_bootstrap,
        "TOWNSQUARE_ES_URL": servers.es_url,
        "TOWNSQUARE_TOPIC_PREFIX": f"t{tag}.",
        "TOWNSQUARE_INDEX_PREFIX": f"t{tag}",
        "TOWNSQUARE_APP_ID": f"townsquare-test-{tag}",
        "TOWNSQUARE_DATA_DIR": str(tmp_path / "data"),
        "TOWNSQUARE_METRICS_PORT": "0",
        "TOWNSQUARE_TOPIC_PARTITIONS": "2",
        "TOWNSQUARE_BATCH_WAIT": "0.2",
        "TOWNSQUARE_LOG_FORMAT": "text",
        "TOWNSQUARE_ALLOW_SAMPLE_PROFILE": "true",
        **overrides,
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        settings = Settings()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return Isolated(settings, env)


def read_topic(
    settings: Settings, name: str, timeout: float = 10.0
) -> list[tuple[str | None, bytes]]:
    """Every record currently in a topic (all partitions, beginning to end), no consumer group."""
    return [
        (r.key.decode() if r.key else None, r.value)
        for r in topic_records(settings, settings.topic(name), timeout)
    ]


def topic_records(settings: Settings, topic: str, timeout: float = 10.0) -> list[Any]:
    """The records (with partition and offset) of a topic by its full name, e.g. a changelog."""
    from kafka import KafkaConsumer, TopicPartition

    from streams.kafka_config import kafka_python_config

    consumer = KafkaConsumer(
        enable_auto_commit=False, group_id=None, **kafka_python_config(settings)
    )
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in tps) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                out += records
        return out
    finally:
        consumer.close()


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.5) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass (bounded loop)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@contextmanager
def running_worker(iso: Isolated, log: Path, *roles: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real ``townsquare worker`` child process with the isolated settings."""
    from streams.cli.run import start_worker, stop_worker

    env = dict(iso.env)
    proc = start_worker(iso.settings, log, env, roles or ("all",))
    try:
        yield proc
    finally:
        stop_worker(proc)


def canonical_post(
    n: int,
    conversation: int,
    *,
    text: str | None = None,
    reply_to: int | None = None,
    author: str = "resident",
) -> dict[str, Any]:
    """A small valid canonical post as JSON (tests write their own, in the product's shape)."""
    post: dict[str, Any] = {
        "id": f"x:{1000 + n}",
        "platform": "x",
        "created_at": f"2026-05-01T10:{n % 60:02d}:00Z",
        "text": text or f"Post {n} about the bins on Elm Street #GreenBins",
        "author": {"id": f"x:{author}{n % 3}", "handle": f"{author}{n % 3}"},
        "conversation_id": f"x:{1000 + conversation}",
    }
    if reply_to is not None:
        post["in_reply_to"] = {"post_id": f"x:{1000 + reply_to}"}
    return post


def indexed_ids(settings: Settings) -> Counter[str]:
    """How many documents the posts alias holds per post id (after a refresh)."""
    from streams.es.client import sync_client

    es = sync_client(settings)
    try:
        alias = settings.index_alias("posts")
        es.indices.refresh(index=alias)
        resp = es.search(index=alias, query={"match_all": {}}, size=10000, source=["id"])
        return Counter(h["_source"]["id"] for h in resp["hits"]["hits"])
    finally:
        es.close()


def find_doc(settings: Settings, post_id: str) -> dict[str, Any] | None:
    """The indexed document of a post, or None (after a refresh)."""
    from streams.es.client import sync_client

    es = sync_client(settings)
    try:
        alias = settings.index_alias("posts")
        es.indices.refresh(index=alias)
        hits = es.search(index=alias, query={"term": {"id": post_id}})["hits"]["hits"]
        return hits[0]["_source"] if hits else None
    finally:
        es.close()


def crashes(log_text: str) -> list[str]:
    """The worker log's crash lines, less Faust's restart of a task cancelled by a rebalance.

    On a rebalance Faust may cancel an agent's actor or its fetcher and then
    restart it through the supervisor, logging ``Crashed reason=CancelledError()``
    on the way; that is its design, loses nothing, and happens more often on
    a loaded machine. Any other crash (a bad message raising out of an agent)
    is a bug, as is a supervisor giving up ("Restarting dead").
    """
    return [
        line
        for line in log_text.splitlines()
        if ("Crashed reason=" in line and "reason=CancelledError(" not in line)
        or "Restarting dead" in line
    ]
