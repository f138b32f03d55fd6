"""Local Kafka- and Elasticsearch-compatible servers for machines without Docker.

They come from the ``noida-db`` wheel (one binary speaking the Kafka protocol
and the Elasticsearch REST API). The wheel's console script is a Python wrapper
whose child is the server, so we start the binary inside the package directly,
in its own process group, and stop that whole group with SIGINT (the server
saves its data on SIGINT). Readiness means what clients need: a real Kafka
metadata request answered, and ``_cluster/health?wait_for_status=yellow``.

Ports come from ``TOWNSQUARE_LOCAL_KAFKA_PORT`` and ``TOWNSQUARE_LOCAL_ES_PORT``
(0: any free port), so two checkouts, or a machine whose default ports are
taken, can run their own servers side by side. ``up`` records the ports in the
data folder; with port 0 that record is how later commands of the same
checkout find the servers (and ``up`` reuses a recorded port while it is free,
so a restart keeps the address).

Nothing else in townsquare knows these servers exist: the rest of the code
reads ``Settings.kafka_servers`` / ``Settings.elasticsearch_url`` and talks to
whatever is there through the real clients.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import httpx

from streams.settings import (
    LOCAL_ES_PORT,
    LOCAL_HOST,
    LOCAL_KAFKA_PORT,
    LocalService,
    Settings,
    record_local_ports,
    recorded_local_ports,
    redact_url,
)

HOST = LOCAL_HOST
KAFKA_SETTING = "TOWNSQUARE_LOCAL_KAFKA_PORT"
ES_SETTING = "TOWNSQUARE_LOCAL_ES_PORT"
PID_FILE = "services.json"


class ServiceError(RuntimeError):
    """The local services could not be started or stopped; the message says what to do."""


@dataclass(frozen=True)
class LocalServices:
    """Where the local servers live and listen."""

    data_dir: Path
    kafka_port: int = LOCAL_KAFKA_PORT
    es_port: int = LOCAL_ES_PORT

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalServices:
        """The configured ports; for port 0, the recorded one if it is free or ours, else a new one.

        A recorded port is reused only while nothing else holds it, unless our
        own servers run (then they hold it): ``up`` must never start on a port
        another program took since.
        """
        data_dir = settings.data_dir.resolve()
        recorded = recorded_local_ports(data_dir)
        ours = running_pid_in(data_dir) is not None

        def port(configured: int, service: LocalService) -> int:
            if configured:
                return configured
            previous = recorded.get(service)
            if previous is not None and (ours or not port_open(previous)):
                return previous
            return free_port()

        return cls(
            data_dir=data_dir,
            kafka_port=port(settings.local_kafka_port, "kafka"),
            es_port=port(settings.local_es_port, "elasticsearch"),
        )

    @property
    def server_dir(self) -> Path:
        return self.data_dir / "services"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / PID_FILE

    @property
    def log_file(self) -> Path:
        return self.data_dir / "services.log"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{HOST}:{self.kafka_port}"

    @property
    def es_url(self) -> str:
        return f"http://{HOST}:{self.es_port}"


def server_binary() -> Path:
    """Path of the server binary shipped in the ``noida-db`` wheel."""
    try:
        path = Path(str(files("noida_db").joinpath("noida-db")))
    except ModuleNotFoundError as exc:
        raise ServiceError(
            "the local servers are not installed: run `pip install 'noida-db==0.2.3'` "
            "(or `make install`), or set TOWNSQUARE_KAFKA_BOOTSTRAP and TOWNSQUARE_ES_URL "
            "to use existing servers"
        ) from exc
    if not path.is_file():
        raise ServiceError(f"noida-db binary missing at {path}; reinstall the noida-db wheel")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_pid(svc: LocalServices) -> int | None:
    """PID of the server this data folder started, if it is still alive."""
    return running_pid_in(svc.data_dir)


def running_pid_in(data_dir: Path) -> int | None:
    """:func:`running_pid` by data folder, for when the ports are not known yet."""
    try:
        pid = int(json.loads((data_dir / PID_FILE).read_text())["pid"])
    except (FileNotFoundError, ValueError, KeyError, json.JSONDecodeError):
        return None
    if _pid_alive(pid):
        return pid
    return None


def kafka_ready(bootstrap: str, timeout: float = 2.0) -> bool:
    """A real metadata round trip, not just an open port."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        # bootstrap_timeout_ms bounds the first connection too; kafka-python's
        # default keeps a status call waiting 30 s on a port nobody answers.
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=int(timeout * 1000),
            bootstrap_timeout_ms=int(timeout * 1000),
        )
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def es_ready(url: str, timeout: float = 2.0) -> bool:
    try:
        resp = httpx.get(
            f"{url}/_cluster/health",
            params={"wait_for_status": "yellow", "timeout": f"{max(1, int(timeout))}s"},
            timeout=timeout + 1,
        )
    except httpx.HTTPError:
        return False
    return resp.status_code == 200 and resp.json().get("status") in {"yellow", "green"}


def external_kafka_ready(settings: Settings, timeout: float = 2.0) -> bool:
    """A metadata round trip to the configured brokers, with their security settings."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    from streams.kafka_config import kafka_python_config

    try:
        admin = KafkaAdminClient(
            **kafka_python_config(settings),
            request_timeout_ms=int(timeout * 1000),
            bootstrap_timeout_ms=int(timeout * 1000),
        )
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def external_es_ready(settings: Settings, timeout: float = 2.0) -> bool:
    """Cluster health of the configured Elasticsearch, with its credentials and CA."""
    from elasticsearch import Elasticsearch

    from streams.es.client import _client_kwargs

    kwargs = {**_client_kwargs(settings), "request_timeout": timeout, "max_retries": 0}
    try:
        with Elasticsearch(**kwargs) as client:
            health = client.cluster.health(
                wait_for_status="yellow", timeout=f"{max(1, int(timeout))}s"
            )
    except Exception:  # any failure (refused, TLS, 401, timeout) means "does not answer"
        return False
    return health.get("status") in {"yellow", "green"}


def status(svc: LocalServices, settings: Settings | None = None) -> dict[str, object]:
    """What is running, for ``townsquare services status``.

    A server named by ``TOWNSQUARE_KAFKA_BOOTSTRAP`` or ``TOWNSQUARE_ES_URL`` is
    what every other command uses, so that one is reported (as external, and
    checked with the configured security settings) instead of a local server on
    the default port, which may be somebody else's and would read as ready.
    ``settings`` defaults to the environment's, since the command passes only
    the local services.
    """
    settings = settings if settings is not None else Settings()
    info: dict[str, object] = {}
    if settings.kafka_bootstrap and settings.es_url:
        # Nothing local is used; a pid would only describe an unrelated server.
        info["local_services"] = "not used (external servers configured)"
    else:
        info["pid"] = running_pid(svc)
    if settings.kafka_bootstrap:
        info["kafka"] = settings.kafka_bootstrap
        info["kafka_external"] = True
        info["kafka_ready"] = external_kafka_ready(settings)
    else:
        info["kafka"] = svc.kafka_bootstrap
        info["kafka_external"] = False
        info["kafka_ready"] = kafka_ready(svc.kafka_bootstrap, timeout=1.0)
    if settings.es_url:
        info["elasticsearch"] = redact_url(settings.es_url)
        info["elasticsearch_external"] = True
        info["elasticsearch_ready"] = external_es_ready(settings)
    else:
        info["elasticsearch"] = svc.es_url
        info["elasticsearch_external"] = False
        info["elasticsearch_ready"] = es_ready(svc.es_url, timeout=1.0)
    if "pid" in info:
        info["data_dir"] = str(svc.data_dir)
        info["log"] = str(svc.log_file)
    return info


def up(svc: LocalServices, timeout: float = 60.0) -> bool:
    """Start the servers unless ours already run; return True if this call started them."""
    pid = running_pid(svc)
    if pid is not None:
        recorded = recorded_local_ports(svc.data_dir)
        wanted: dict[LocalService, int] = {"kafka": svc.kafka_port, "elasticsearch": svc.es_port}
        if recorded and recorded != wanted:
            raise ServiceError(
                f"the local servers of {svc.data_dir} already run on {_ports(recorded)}, not "
                f"{_ports(wanted)}: run `townsquare services down` first, or set "
                "TOWNSQUARE_LOCAL_KAFKA_PORT / TOWNSQUARE_LOCAL_ES_PORT to the ports they use"
            )
        _wait_ready(svc, timeout)
        return False
    if svc.kafka_port == svc.es_port:
        raise ServiceError(
            f"Kafka and Elasticsearch cannot share port {svc.kafka_port}: give "
            "TOWNSQUARE_LOCAL_KAFKA_PORT and TOWNSQUARE_LOCAL_ES_PORT different ports (or 0)"
        )
    for port, setting in ((svc.kafka_port, KAFKA_SETTING), (svc.es_port, ES_SETTING)):
        if port_open(port):
            raise ServiceError(
                f"port {port} on {HOST} is taken by another program: set {setting} to a free "
                "port (0 picks one), stop that program, or point TOWNSQUARE_KAFKA_BOOTSTRAP / "
                "TOWNSQUARE_ES_URL at servers that already run"
            )
    binary = server_binary()
    svc.server_dir.mkdir(parents=True, exist_ok=True)
    log = svc.log_file.open("ab")
    proc = subprocess.Popen(
        [
            str(binary),
            "start",
            "--data-dir",
            str(svc.server_dir),
            "--host",
            HOST,
            "--only",
            "elasticsearch,kafka",
            "--kafka-port",
            str(svc.kafka_port),
            "--elasticsearch-port",
            str(svc.es_port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    svc.pid_file.write_text(json.dumps({"pid": proc.pid, "pgid": proc.pid}))
    record_local_ports(svc.data_dir, {"kafka": svc.kafka_port, "elasticsearch": svc.es_port})
    try:
        _wait_ready(svc, timeout, proc)
    except ServiceError:
        down(svc)
        raise
    return True


def _ports(ports: Mapping[LocalService, int]) -> str:
    return ", ".join(f"{service} {port}" for service, port in sorted(ports.items()))


def _wait_ready(
    svc: LocalServices, timeout: float, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(
                f"the local server exited with code {proc.returncode}; see {svc.log_file}"
            )
        if es_ready(svc.es_url, 1.0) and kafka_ready(svc.kafka_bootstrap, 2.0):
            return
        time.sleep(0.3)
    raise ServiceError(f"the local servers were not ready after {timeout:.0f}s; see {svc.log_file}")


def down(svc: LocalServices, timeout: float = 20.0) -> bool:
    """Stop the servers (SIGINT to the whole process group, so data is saved).

    Returns True if something was stopped. Escalates to SIGKILL only if the
    group ignores SIGINT for ``timeout`` seconds, and checks the ports are free.
    """
    pid = running_pid(svc)
    if pid is None:
        svc.pid_file.unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _group_alive(pid):
        time.sleep(0.1)
    if _group_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        time.sleep(0.5)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    svc.pid_file.unlink(missing_ok=True)
    end = time.monotonic() + 5
    while time.monotonic() < end and (port_open(svc.kafka_port) or port_open(svc.es_port)):
        time.sleep(0.1)
    return True


def _group_alive(pgid: int) -> bool:
    """True while any process of the group lives (a zombie leader is reaped first)."""
    # The leader is our child when this process started it: reap it if it exited,
    # or killpg keeps seeing the zombie.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pgid, os.WNOHANG)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def control(svc: LocalServices, action: str, service: str) -> None:
    """``stop``, ``start`` or ``restart`` one side (``kafka`` or ``elasticsearch``), data kept.

    Restarting Kafka clears a consumer group stuck by a dead member on the local
    server; stopping Elasticsearch is how outage tests simulate a cluster down.
    """
    if action not in {"stop", "start", "restart"} or service not in {"kafka", "elasticsearch"}:
        raise ValueError(f"cannot {action} {service}")
    subprocess.run(
        [str(server_binary()), action, service, "--data-dir", str(svc.server_dir)],
        check=True,
        capture_output=True,
        timeout=60,
    )
