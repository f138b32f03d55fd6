"""Local services manager: refusal on taken ports, and the lifecycle (integration)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from support import free_port

from streams.cli.services import LocalServices, ServiceError, down, port_open, running_pid, up


def test_up_refuses_clearly_when_a_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        busy = blocker.getsockname()[1]
        svc = LocalServices(data_dir=tmp_path, kafka_port=busy, es_port=free_port())
        with pytest.raises(ServiceError, match=f"{busy}.*taken"):
            up(svc, timeout=5)
    assert running_pid(svc) is None


def test_down_without_servers_is_a_no_op(tmp_path: Path) -> None:
    assert down(LocalServices(data_dir=tmp_path)) is False


@pytest.mark.integration
def test_up_twice_starts_one_copy_and_down_leaves_nothing(tmp_path: Path) -> None:
    svc = LocalServices(data_dir=tmp_path, kafka_port=free_port(), es_port=free_port())
    try:
        assert up(svc, timeout=60) is True
        pid = running_pid(svc)
        assert pid is not None
        assert up(svc, timeout=60) is False
        assert running_pid(svc) == pid
        procs = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True).stdout
        assert len(procs.split()) == 1, f"expected one server process, got {procs!r}"
    finally:
        assert down(svc) is True
    assert not port_open(svc.kafka_port)
    assert not port_open(svc.es_port)
    left = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True).stdout
    assert left.strip() == ""
    assert running_pid(svc) is None
