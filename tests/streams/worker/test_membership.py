"""Static member ids: stable across a restart of one worker, distinct for workers side by side."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.settings import Settings
from streams.worker.membership import claim


def _settings(tmp_path: Path, **update: object) -> Settings:
    return Settings().model_copy(update={"data_dir": tmp_path, "app_id": "townsquare", **update})


def test_an_explicit_id_is_used_as_it_is(tmp_path: Path) -> None:
    member = claim(_settings(tmp_path, kafka_group_instance_id="pod-7"))
    assert member.instance_id == "pod-7"
    assert member.lock is None


def test_workers_side_by_side_get_different_slots_and_a_freed_slot_is_reused(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    first = claim(settings, host="box")
    second = claim(settings, host="box")
    assert (first.instance_id, second.instance_id) == ("box-townsquare-0", "box-townsquare-1")
    first.release()
    again = claim(settings, host="box")
    assert again.instance_id == "box-townsquare-0"
    second.release()
    again.release()


def test_a_killed_worker_leaves_its_slot_to_its_successor(tmp_path: Path) -> None:
    """SIGKILL runs no cleanup; the kernel drops the lock, so the restart takes the same id."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from streams.settings import Settings\n"
        "from streams.worker.membership import claim\n"
        "s = Settings().model_copy(\n"
        "    update={'data_dir': Path(sys.argv[1]), 'app_id': 'townsquare'}\n"
        ")\n"
        "m = claim(s, host='box')\n"
        "print(m.instance_id, flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "box-townsquare-0"
        held = claim(_settings(tmp_path), host="box")
        assert held.instance_id == "box-townsquare-1"  # slot 0 is taken while the child lives
        held.release()
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    deadline = time.monotonic() + 5
    successor = claim(_settings(tmp_path), host="box")
    while successor.instance_id != "box-townsquare-0" and time.monotonic() < deadline:
        successor.release()
        time.sleep(0.05)
        successor = claim(_settings(tmp_path), host="box")
    assert successor.instance_id == "box-townsquare-0"
    successor.release()


@pytest.mark.parametrize("app_id", ["town square/prod", "a:b"])
def test_ids_hold_only_characters_kafka_tools_print_plainly(tmp_path: Path, app_id: str) -> None:
    member = claim(_settings(tmp_path, app_id=app_id), host="my host")
    assert member.instance_id.replace("-", "").replace(".", "").replace("_", "").isalnum()
    member.release()
