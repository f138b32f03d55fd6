"""Conversation state survives a worker restart (the table is rebuilt from its changelog).

The second worker is a new process on the same data dir: it claims the same
static member id (streams.worker.membership), so it takes its predecessor's
place in the group at once, on the local servers as on Kafka.
"""

from __future__ import annotations

import json
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


def test_awaiting_reply_survives_a_worker_restart(servers: Servers, tmp_path: Path) -> None:
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

    # A new worker process: the conversation table must come back from its changelog.
    log2 = tmp_path / "worker-2.log"
    with running_worker(iso, log2) as second:
        assert wait_for(lambda: "[^Worker]: Ready" in log2.read_text(), timeout=90)
        _replay(iso, tmp_path, "b.jsonl", follow_up)
        indexed = wait_for(lambda: _doc(iso, follow_up["id"]) is not None, timeout=60)
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
