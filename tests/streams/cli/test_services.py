"""Local services manager: ports from settings, taken ports refused, the lifecycle (integration)."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    status,
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


class _GreenHealth(BaseHTTPRequestHandler):
    """Answers ``_cluster/health`` as a green Elasticsearch would (product header included)."""

    def do_GET(self) -> None:
        body = json.dumps({"status": "green", "cluster_name": "someone-elses"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet in test output."""


@pytest.fixture
def green_es() -> Iterator[int]:
    """A stand-in Elasticsearch on a free loopback port; yields the port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _GreenHealth)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_status_reports_the_configured_servers_not_a_local_one_that_answers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, green_es: int
) -> None:
    """A server on the local port (somebody else's) must not read as ours when others are named."""
    closed_kafka, closed_es = free_port(), free_port()
    svc = LocalServices(data_dir=tmp_path, kafka_port=free_port(), es_port=green_es)
    monkeypatch.setenv("TOWNSQUARE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TOWNSQUARE_KAFKA_BOOTSTRAP", f"127.0.0.1:{closed_kafka}")
    monkeypatch.setenv("TOWNSQUARE_ES_URL", f"http://elastic:hunter2@127.0.0.1:{closed_es}")
    info = status(svc)
    assert info["kafka"] == f"127.0.0.1:{closed_kafka}"
    assert info["kafka_external"] is True and info["kafka_ready"] is False
    assert info["elasticsearch"] == f"http://***@127.0.0.1:{closed_es}"
    assert info["elasticsearch_external"] is True and info["elasticsearch_ready"] is False
    assert "pid" not in info and "not used" in str(info["local_services"])
    assert "hunter2" not in json.dumps(info)


def test_status_checks_that_an_external_elasticsearch_answers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, green_es: int
) -> None:
    """Only Elasticsearch named: it is checked and reported; Kafka stays the local one."""
    svc = LocalServices(data_dir=tmp_path, kafka_port=free_port(), es_port=free_port())
    monkeypatch.delenv("TOWNSQUARE_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.setenv("TOWNSQUARE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TOWNSQUARE_ES_URL", f"http://127.0.0.1:{green_es}")
    info = status(svc)
    assert info["elasticsearch"] == f"http://127.0.0.1:{green_es}"
    assert info["elasticsearch_external"] is True and info["elasticsearch_ready"] is True
    assert info["kafka"] == svc.kafka_bootstrap
    assert info["kafka_external"] is False and info["kafka_ready"] is False
    assert info["pid"] is None and info["data_dir"] == str(tmp_path)


def test_status_without_external_servers_reports_the_local_ones(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, green_es: int
) -> None:
    svc = LocalServices(data_dir=tmp_path, kafka_port=free_port(), es_port=green_es)
    info = status(svc, _settings(monkeypatch, tmp_path, svc.kafka_port, green_es))
    assert info["elasticsearch"] == f"http://127.0.0.1:{green_es}"
    assert info["elasticsearch_external"] is False and info["elasticsearch_ready"] is True
    assert info["kafka_external"] is False
