"""Headers read back from the real broker after a small pipeline run.

The unit tests (``test_headers.py``) check each producer path with a recorder;
this one replays a post, a reply, a delete and a broken record through a real
worker and reads the records subscribers would see, headers included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import isolated, running_worker, topic_records, wait_for

from schemas.models import KIND_HEADER, SCHEMA_VERSION, SCHEMA_VERSION_HEADER
from streams.cli.setup import run_setup
from streams.sources.replay import replay_file
from streams.topic_names import CONVERSATIONS, DLQ, ENRICHED, RAW

pytestmark = pytest.mark.integration


def _post(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"x:{7000 + n}",
        "platform": "x",
        "created_at": f"2026-05-01T11:{n:02d}:00Z",
        "text": f"Post {n}: @RivertonCouncil are the bins on Elm Street collected today?",
        "author": {"id": f"x:author-{n}", "handle": f"author{n}"},
        "conversation_id": "x:7000",
        **extra,
    }


def _headers(record: Any) -> dict[str, bytes]:
    return {k: v for k, v in record.headers}


def test_every_record_a_subscriber_reads_has_the_headers(servers: object, tmp_path: Path) -> None:
    iso = isolated(servers, tmp_path)  # type: ignore[arg-type]
    run_setup(iso.settings)
    lines = [
        _post(0),
        _post(1, in_reply_to={"post_id": "x:7000", "author_id": "x:author-0"}),
        _post(0, kind="delete"),
        {"id": "x:broken"},  # normalize cannot use it: a dead letter
    ]
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    with running_worker(iso, tmp_path / "worker.log") as proc:
        assert replay_file(iso.settings, path, "jsonl").sent == len(lines)

        def enriched() -> list[Any]:
            return topic_records(iso.settings, iso.settings.topic(ENRICHED), timeout=5)

        assert wait_for(lambda: len(enriched()) >= 3, timeout=180), (
            tmp_path / "worker.log"
        ).read_text()[-3000:]
        assert wait_for(
            lambda: bool(topic_records(iso.settings, iso.settings.topic(DLQ), timeout=5)),
            timeout=60,
        )
        assert proc.poll() is None
    version = SCHEMA_VERSION.encode()
    posts = enriched()
    kinds = {json.loads(r.value)["kind"]: _headers(r) for r in posts}
    assert set(kinds) == {"post", "delete"}
    for kind, headers in kinds.items():
        assert headers == {SCHEMA_VERSION_HEADER: version, KIND_HEADER: kind.encode()}
    for topic, shape in ((RAW, b"raw_envelope"), (DLQ, b"dead_letter")):
        records = topic_records(iso.settings, iso.settings.topic(topic))
        assert records, topic
        expected = {SCHEMA_VERSION_HEADER: version, KIND_HEADER: shape}
        assert all(_headers(r) == expected for r in records), topic
    views = [r for r in topic_records(iso.settings, iso.settings.topic(CONVERSATIONS)) if r.value]
    assert views
    assert all(_headers(r)[KIND_HEADER] == b"conversation_view" for r in views)
