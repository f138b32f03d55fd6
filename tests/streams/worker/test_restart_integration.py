"""Conversation state survives a worker restart (the table is rebuilt from its changelog).

On the local servers the broker is restarted too, between the two workers:
the local broker can leave a consumer group stuck when its only member leaves
and a new one joins (a known gap of the stand-in, not of Kafka), and a broker
restart is a harder case for recovery anyway. Against real servers
(``TOWNSQUARE_KAFKA_BOOTSTRAP``) only the worker restarts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import Isolated, Servers, find_doc, isolated, running_worker, wait_for

from streams.cli.setup import run_setup
from streams.sources.replay import replay_file

pytestmark = pytest.mark.integration

CONV = "x:777000"


def _post(n: int, author: str, text: str, reply_to: tuple[int, str] | None) -> dict[str, Any]:
    post: dict[str, Any] = {
        "id": f"x:{777000 + n}",
        "platform": "x",
        "created_at": f"2026-03-10T09:{n:02d}:00Z",
        "text": text,
        "author": {"id": f"x:{author}", "handle": author},
        "conversation_id": CONV,
        "mentions": ["HarboursideBC"] if "@HarboursideBC" in text else [],
    }
    if reply_to is not None:
        post["in_reply_to"] = {"post_id": f"x:{777000 + reply_to[0]}", "author_id": reply_to[1]}
    return post


def _doc(iso: Isolated, post_id: str) -> dict[str, Any] | None:
    return find_doc(iso.settings, post_id)


def _replay(iso: Isolated, tmp_path: Path, name: str, *posts: dict[str, Any]) -> None:
    path = tmp_path / name
    path.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")
    replay_file(iso.settings, path, "jsonl")


@pytest.fixture
def restart_target(request: pytest.FixtureRequest) -> tuple[Servers, Callable[[], None]]:
    """The servers to use, and how to restart the broker between workers (if local)."""
    import os

    if os.environ.get("TOWNSQUARE_KAFKA_BOOTSTRAP"):
        return request.getfixturevalue("servers"), lambda: None
    from streams.cli.services import control, kafka_ready

    svc = request.getfixturevalue("own_local_servers")

    def restart_broker() -> None:
        control(svc, "restart", "kafka")
        assert wait_for(lambda: kafka_ready(svc.kafka_bootstrap), timeout=60)

    return Servers(svc.kafka_bootstrap, svc.es_url, local=True), restart_broker


def test_awaiting_reply_survives_a_worker_restart(
    restart_target: tuple[Servers, Callable[[], None]], tmp_path: Path
) -> None:
    servers, restart_broker = restart_target
    iso = isolated(servers, tmp_path)
    run_setup(iso.settings)
    question = _post(0, "jo_resident", "@HarboursideBC when is the green bin collected?", None)
    follow_up = _post(
        1, "sam_resident", "Same question here, nothing on the website", (0, "x:jo_resident")
    )
    answer = _post(
        2, "HarboursideBC", "@jo_resident Green bins go every other Tuesday.", (0, "x:jo_resident")
    )

    with running_worker(iso, tmp_path / "worker-1.log") as first:
        _replay(iso, tmp_path, "a.jsonl", question)
        assert wait_for(lambda: _doc(iso, question["id"]) is not None, timeout=60)
        assert first.poll() is None
    doc = _doc(iso, question["id"])
    assert doc is not None and doc["conversation"]["awaiting_org_reply"] is True
    restart_broker()

    # A new worker process: the conversation table must come back from its changelog.
    log2 = tmp_path / "worker-2.log"
    with running_worker(iso, log2) as second:
        assert wait_for(lambda: "[^Worker]: Ready" in log2.read_text(), timeout=90)
        _replay(iso, tmp_path, "b.jsonl", follow_up)
        indexed = wait_for(lambda: _doc(iso, follow_up["id"]) is not None, timeout=60)
        if not indexed and servers.local:
            # The stand-in's known gap (README, Known limits): after a broker restart a
            # new group member is sometimes assigned its partitions but fetches nothing
            # until the broker restarts once more. Real Kafka never takes this branch.
            restart_broker()
            indexed = wait_for(lambda: _doc(iso, follow_up["id"]) is not None, timeout=90)
        assert indexed, log2.read_text()[-2000:]
        _replay(iso, tmp_path, "c.jsonl", answer)
        assert wait_for(lambda: _doc(iso, answer["id"]) is not None, timeout=60)
        assert second.poll() is None

    after_restart = _doc(iso, follow_up["id"])
    assert after_restart is not None
    conv = after_restart["conversation"]
    assert conv["posts"] == 2, "state from before the restart was lost"
    assert conv["participants"] == 2
    assert conv["awaiting_org_reply"] is True
    assert conv["awaiting_since"].startswith("2026-03-10T09:00:00")

    answered = _doc(iso, answer["id"])
    assert answered is not None
    assert answered["author"]["is_org_account"] is True
    assert answered["conversation"]["posts"] == 3
    assert answered["conversation"]["own_posts"] == 1
    assert answered["conversation"]["awaiting_org_reply"] is False
