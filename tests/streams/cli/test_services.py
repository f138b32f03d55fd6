"""Local services manager: ports from settings, taken ports refused, the lifecycle (integration)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from support import free_port

from streams.cli.services import (
    LocalServices,
    ServiceError,
    down,
    es_ready,
    kafka_ready,
    port_open,
    running_pid,
    up,
)
from streams.settings import Settings, recorded_local_ports


def _settings(monkeypatch: pytest.MonkeyPatch, data_dir: Path, kafka: int, es: int) -> Settings:
    """Settings with no named servers (so the local ones are used), as a checkout would have."""
    monkeypatch.delenv("TOWNSQUARE_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("TOWNSQUARE_ES_URL", raising=False)
    monkeypatch.setenv("TOWNSQUARE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("TOWNSQUARE_LOCAL_KAFKA_PORT", str(kafka))
    monkeypatch.setenv("TOWNSQUARE_LOCAL_ES_PORT", str(es))
    return Settings()


def test_up_refuses_clearly_when_a_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        busy = blocker.getsockname()[1]
        svc = LocalServices(data_dir=tmp_path, kafka_port=busy, es_port=free_port())
        with pytest.raises(ServiceError, match=f"{busy}.*taken.*TOWNSQUARE_LOCAL_KAFKA_PORT"):
            up(svc, timeout=5)
        es_busy = LocalServices(data_dir=tmp_path, kafka_port=free_port(), es_port=busy)
        with pytest.raises(ServiceError, match=f"{busy}.*taken.*TOWNSQUARE_LOCAL_ES_PORT"):
            up(es_busy, timeout=5)
    assert running_pid(svc) is None
    assert recorded_local_ports(tmp_path) == {}


def test_the_ports_come_from_settings_and_zero_picks_free_ones(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fixed = LocalServices.from_settings(_settings(monkeypatch, tmp_path, 29092, 29200))
    assert (fixed.kafka_bootstrap, fixed.es_url) == ("127.0.0.1:29092", "http://127.0.0.1:29200")
    picked = LocalServices.from_settings(_settings(monkeypatch, tmp_path, 0, 0))
    assert 0 not in (picked.kafka_port, picked.es_port)
    assert picked.kafka_port != picked.es_port
    assert not port_open(picked.kafka_port) and not port_open(picked.es_port)


def test_kafka_and_elasticsearch_cannot_share_a_port(tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(ServiceError, match="different ports"):
        up(LocalServices(data_dir=tmp_path, kafka_port=port, es_port=port), timeout=5)


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


@pytest.mark.integration
def test_two_checkouts_run_side_by_side_and_commands_find_their_ports(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # One checkout on ports it names, one on whatever is free (0), each with its own data.
    first = LocalServices(tmp_path / "one", kafka_port=free_port(), es_port=free_port())
    settings = _settings(monkeypatch, tmp_path / "two", 0, 0)
    second = LocalServices.from_settings(settings)
    try:
        assert up(first, timeout=60) is True
        assert up(second, timeout=60) is True
        assert running_pid(first) != running_pid(second)
        for svc in (first, second):
            assert kafka_ready(svc.kafka_bootstrap) and es_ready(svc.es_url)
        # A later command of the second checkout finds its servers through the record.
        assert recorded_local_ports(tmp_path / "two") == {
            "kafka": second.kafka_port,
            "elasticsearch": second.es_port,
        }
        assert settings.kafka_servers == second.kafka_bootstrap
        assert settings.elasticsearch_url == second.es_url
        assert LocalServices.from_settings(settings) == second  # `status`, `down`, `up` again
        assert up(LocalServices.from_settings(settings), timeout=60) is False
        elsewhere = LocalServices(second.data_dir, kafka_port=free_port(), es_port=second.es_port)
        with pytest.raises(ServiceError, match="already run on"):
            up(elsewhere, timeout=5)
    finally:
        down(first)
        down(second)
    for svc in (first, second):
        assert not port_open(svc.kafka_port) and not port_open(svc.es_port)
