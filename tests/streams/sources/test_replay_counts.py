"""``ingest replay`` says what happened: posts, records normalize will dead-letter, skips.

And Ctrl-C stores the exact position: ``--resume`` sends each record once,
whether the interrupt is a ``KeyboardInterrupt`` out of a hook or a SIGINT to
a child process. Through the real local Kafka.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from support import ROOT, Isolated, canonical_post, read_topic, wait_for
from typer.testing import CliRunner

from schemas.models import RawEnvelope
from streams.cli.main import app
from streams.sources.replay import replay_file
from streams.steps.outputs import Rejected
from streams.steps.route import normalize_message
from streams.topic_names import RAW

pytestmark = pytest.mark.integration

TOWNSQUARE = str(Path(sys.executable).with_name("townsquare"))


def _posts(tmp_path: Path, n: int, name: str = "posts.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(canonical_post(i, conversation=i)) + "\n" for i in range(n)))
    return path


def _mixed(tmp_path: Path) -> Path:
    """Three posts, two records the adapters refuse, one too large for the producer."""
    good = [json.dumps(canonical_post(i, conversation=i)) for i in range(3)]
    huge = json.dumps(canonical_post(9, conversation=9, text="bins " * 240_000))  # > 1 MiB
    lines = [good[0], json.dumps({"text": "no id"}), good[1], "not json at all", huge, good[2]]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _sent_ids(iso: Isolated) -> Counter[str]:
    envelopes = [RawEnvelope.model_validate_json(v) for _, v in read_topic(iso.settings, RAW)]
    return Counter(e.payload["id"] for e in envelopes)


def test_counts_posts_dead_letters_and_skips_apart(iso: Isolated, tmp_path: Path) -> None:
    report = replay_file(iso.settings, _mixed(tmp_path), "jsonl")
    assert (report.valid, report.will_dead_letter, report.skipped) == (3, 2, 1)
    assert report.sent == 5  # what Kafka took: the refused records travel too
    assert report.dead_lettered == Counter({"missing_field": 1, "invalid_json": 1})
    assert report.first_refusals["missing_field"].position == 1
    assert report.first_refusals["invalid_json"].position == 3
    assert report.end == 6


def test_the_prediction_is_what_normalize_does_with_the_bytes_sent(
    iso: Isolated, tmp_path: Path
) -> None:
    replay_file(iso.settings, _mixed(tmp_path), "jsonl")
    verdicts = [
        normalize_message(value, iso.settings.max_message_bytes)
        for _, value in read_topic(iso.settings, RAW)
    ]
    reasons = Counter(v.reason for v in verdicts if isinstance(v, Rejected))
    assert len(verdicts) == 5
    assert reasons == Counter({"missing_field": 1, "invalid_json": 1})


def test_the_command_reports_the_three_counts_and_the_reasons(
    iso: Isolated, tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["ingest", "replay", str(_mixed(tmp_path))], env=iso.env)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "sent 3 records, 2 to be dead-lettered, 1 skipped, from mixed.jsonl" in text
    assert "missing_field 1, first at position 1" in text
    assert "invalid_json 1, first at position 3" in text
    assert f"puts them on {iso.settings.topic('posts.dlq')}" in text


def test_nothing_valid_sent_exits_non_zero(iso: Isolated, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "no id"}\n{"text": "nor here"}\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", "replay", str(bad)], env=iso.env)
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "sent 0 records, 2 to be dead-lettered, 0 skipped" in text
    assert f"error: nothing valid was sent from {bad}: missing_field 2" in text


def test_a_resume_with_nothing_left_is_no_failure(iso: Isolated, tmp_path: Path) -> None:
    path = _posts(tmp_path, 2)
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", "replay", str(path)], env=iso.env).exit_code == 0
    again = runner.invoke(app, ["ingest", "replay", str(path), "--resume"], env=iso.env)
    assert again.exit_code == 0, again.output
    assert "sent 0 records, 0 to be dead-lettered, 0 skipped" in " ".join(again.output.split())


def test_an_interrupt_from_a_hook_stores_the_exact_position(iso: Isolated, tmp_path: Path) -> None:
    path = _posts(tmp_path, 20)
    seen = 0

    def interrupt_after_seven(n: int) -> None:
        nonlocal seen
        seen += n
        if seen == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        # checkpoint_every far above 7: only the interrupt can store position 7
        replay_file(iso.settings, path, "jsonl", on_progress=interrupt_after_seven)
    resumed = replay_file(iso.settings, path, "jsonl", resume=True)
    assert (resumed.start, resumed.sent, resumed.end) == (7, 13, 20)
    assert _sent_ids(iso) == Counter({f"x:{1000 + i}": 1 for i in range(20)})


def test_sigint_to_a_replay_then_resume_sends_each_record_exactly_once(
    iso: Isolated, tmp_path: Path
) -> None:
    path = _posts(tmp_path, 300)
    env = {**os.environ, **iso.env}
    child = subprocess.Popen(
        [TOWNSQUARE, "ingest", "replay", str(path), "--rate", "40"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: len(read_topic(iso.settings, RAW, timeout=3)) >= 10, 60, 0.2)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 130, (out, err)
    assert "interrupted: the position (" in " ".join(err.split())
    stopped_at = int(" ".join(err.split()).split("the position (", 1)[1].split(")", 1)[0])
    assert 10 <= stopped_at < 300
    assert f"(positions 0..{stopped_at})" in out
    started = time.monotonic()
    resumed = CliRunner().invoke(app, ["ingest", "replay", str(path), "--resume"], env=iso.env)
    assert resumed.exit_code == 0, resumed.output
    assert f"(positions {stopped_at}..300)" in resumed.output
    assert time.monotonic() - started < 60
    assert _sent_ids(iso) == Counter({f"x:{1000 + i}": 1 for i in range(300)})
