"""``townsquare ingest replay``: limit, rate and resume from the stored file position."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from support import Isolated, canonical_post, read_topic
from typer.testing import CliRunner

from schemas.models import RawEnvelope
from streams.cli.main import app
from streams.sources.replay import replay_file
from streams.topic_names import RAW

pytestmark = pytest.mark.integration


def _file(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps(canonical_post(i, conversation=i)) + "\n" for i in range(n)))
    return path


def _sent_ids(iso: Isolated) -> list[str]:
    envelopes = [RawEnvelope.model_validate_json(v) for _, v in read_topic(iso.settings, RAW)]
    return [e.payload["id"] for e in envelopes]


def test_limit_then_resume_sends_every_record_once(iso: Isolated, tmp_path: Path) -> None:
    path = _file(tmp_path, 12)
    runner = CliRunner()
    first = runner.invoke(app, ["ingest", "replay", str(path), "--limit", "5"], env=iso.env)
    assert first.exit_code == 0, first.output
    assert "sent 5 records" in first.output
    second = runner.invoke(app, ["ingest", "replay", str(path), "--resume"], env=iso.env)
    assert second.exit_code == 0, second.output
    assert "sent 7 records" in second.output
    assert sorted(_sent_ids(iso)) == sorted(f"x:{1000 + i}" for i in range(12))
    third = runner.invoke(app, ["ingest", "replay", str(path), "--resume"], env=iso.env)
    assert "sent 0 records" in third.output


def test_rate_paces_the_replay(iso: Isolated, tmp_path: Path) -> None:
    path = _file(tmp_path, 10)
    started = time.monotonic()
    report = replay_file(iso.settings, path, "jsonl", rate=20.0)
    assert report.sent == 10
    assert time.monotonic() - started >= 9 / 20.0


def test_unknown_format_is_refused_with_the_choices(iso: Isolated, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["ingest", "replay", str(_file(tmp_path, 1)), "--format", "docx"], env=iso.env
    )
    assert result.exit_code == 1
    assert "unknown format 'docx'" in result.output and "twcs-csv" in result.output
