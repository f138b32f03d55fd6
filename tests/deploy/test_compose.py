"""The laptop docker-compose stack is wired the way the services expect (no Docker needed).

Compose only complains when someone runs it; these checks catch an unpinned image,
a worker pointed at the wrong broker, or an environment variable no setting reads.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
ROLES = {"normalize", "locate", "enrich", "index"}


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def townsquare_services() -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in services().items() if name.startswith("townsquare-")}


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def allowed_env_names() -> set[str]:
    names = {f"TOWNSQUARE_{name.upper()}" for name in Settings.model_fields}
    secret_fields = [
        name for name, info in Settings.model_fields.items() if "SecretStr" in str(info.annotation)
    ]
    return names | {f"TOWNSQUARE_{name.upper()}_FILE" for name in secret_fields}


def test_expected_services() -> None:
    names = set(services())
    assert {"kafka", "elasticsearch", "kibana", "prometheus", "grafana"} <= names
    assert "townsquare-setup" in names
    assert {f"townsquare-{role}" for role in ROLES} <= names


def test_every_image_is_pinned_to_a_version() -> None:
    for name, svc in services().items():
        image = svc["image"]
        assert ":" in image.rsplit("/", 1)[-1], f"{name}: {image} has no tag"
        tag = image.rsplit(":", 1)[1]
        assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: {image} is not pinned"


def test_kafka_is_apache_kafka_in_kraft_mode() -> None:
    kafka = services()["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = env_of(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert "ZOOKEEPER" not in " ".join(env)


def test_elasticsearch_is_8x_single_node() -> None:
    es = services()["elasticsearch"]
    assert re.search(r"elasticsearch:8\.\d+\.\d+$", es["image"])
    assert env_of(es)["discovery.type"] == "single-node"
    kibana = services()["kibana"]
    assert kibana["image"].rsplit(":", 1)[1] == es["image"].rsplit(":", 1)[1]


def test_townsquare_services_point_at_the_compose_servers() -> None:
    names = set(services())
    for name, svc in townsquare_services().items():
        env = env_of(svc)
        for address in env["TOWNSQUARE_KAFKA_BOOTSTRAP"].split(","):
            host, _port = address.rsplit(":", 1)
            assert host == "kafka" and host in names, name
        assert re.fullmatch(r"http://elasticsearch:9200", env["TOWNSQUARE_ES_URL"]), name


def test_townsquare_env_names_are_real_settings() -> None:
    allowed = allowed_env_names()
    for name, svc in townsquare_services().items():
        env = env_of(svc)
        assert env
        for key in env:
            assert key in allowed, f"{name}: {key} is not a setting"
        # Values must also be valid for the settings object.
        Settings.model_validate(
            {key.removeprefix("TOWNSQUARE_").lower(): v for key, v in env.items()}
        )


def test_roles_and_setup_ordering() -> None:
    ts = townsquare_services()
    assert ts["townsquare-setup"]["command"] == ["setup"]
    assert ts["townsquare-setup"]["restart"] == "no"
    for role in ROLES:
        svc = ts[f"townsquare-{role}"]
        assert svc["command"] == ["worker", "--role", role]
        dep = svc["depends_on"]["townsquare-setup"]
        assert dep["condition"] == "service_completed_successfully"
        assert svc["read_only"] is True and "/tmp" in svc["tmpfs"]
        assert svc["build"]["dockerfile"] == "deploy/Dockerfile"
    setup_deps = ts["townsquare-setup"]["depends_on"]
    assert setup_deps["kafka"]["condition"] == "service_healthy"
    assert setup_deps["elasticsearch"]["condition"] == "service_healthy"


def test_mounted_files_exist() -> None:
    for name, svc in services().items():
        for volume in svc.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), f"{name}: {source} missing"


def test_prometheus_scrapes_every_worker_role() -> None:
    prom = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target
        for job in prom["scrape_configs"]
        for group in job["static_configs"]
        for target in group["targets"]
    }
    port = env_of(townsquare_services()["townsquare-normalize"])["TOWNSQUARE_METRICS_PORT"]
    for role in ROLES:
        assert f"townsquare-{role}:{port}" in targets


# --- exposure and secrets ---------------------------------------------------------------

REQUIRED_VAR = re.compile(r"\$\{(?P<name>[A-Z][A-Z0-9_]*):\?[^}]+\}")
"""``${NAME:?message}``: compose refuses to start when NAME is unset or empty."""


def published_ports() -> list[tuple[str, Any]]:
    return [(name, port) for name, svc in services().items() for port in svc.get("ports", [])]


def test_every_port_is_published_on_loopback_only() -> None:
    ports = published_ports()
    assert len(ports) >= 9
    for name, port in ports:
        if isinstance(port, dict):  # long syntax
            assert port.get("host_ip") == "127.0.0.1", f"{name}: {port}"
        else:
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is on all interfaces"
            assert str(port).count(":") == 2, f"{name}: {port} has no host port"


def test_passwords_have_no_default() -> None:
    """Every password in the file is a required variable, never a literal or a default."""
    found = 0
    for name, svc in services().items():
        for key, value in env_of(svc).items():
            if "PASSWORD" in key.upper():
                found += 1
                assert REQUIRED_VAR.fullmatch(value), f"{name}: {key} is not ${{VAR:?...}}"
    assert found >= 5
    text = COMPOSE.read_text()
    assert not re.search(r"admin\s*/\s*admin", text)
    assert not re.search(r"\$\{[A-Z_]*PASSWORD[A-Z_]*:?-", text), "a password with a default"


def test_grafana_admin_password_comes_from_the_environment() -> None:
    env = env_of(services()["grafana"])
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert env["GF_SECURITY_ADMIN_PASSWORD"] != "admin"


def test_elasticsearch_security_is_on_and_everyone_logs_in() -> None:
    text = COMPOSE.read_text()
    assert not re.search(r"xpack\.security\.enabled\s*[:=]\s*['\"]?false", text)
    es = services()["elasticsearch"]
    env = env_of(es)
    assert env["xpack.security.enabled"] == "true"
    assert REQUIRED_VAR.fullmatch(env["ELASTIC_PASSWORD"])
    assert "elastic:$${ELASTIC_PASSWORD}" in " ".join(es["healthcheck"]["test"])
    for name, svc in townsquare_services().items():
        ts_env = env_of(svc)
        assert ts_env["TOWNSQUARE_ES_USERNAME"] == "elastic", name
        assert ts_env["TOWNSQUARE_ES_PASSWORD"] == env["ELASTIC_PASSWORD"], name
    kibana = services()["kibana"]
    kibana_env = env_of(kibana)
    assert kibana_env["ELASTICSEARCH_USERNAME"] == "kibana_system"
    password = REQUIRED_VAR.fullmatch(kibana_env["ELASTICSEARCH_PASSWORD"])
    assert password and password["name"] == "KIBANA_SYSTEM_PASSWORD"


def test_kibana_system_password_is_set_before_kibana_starts() -> None:
    job = services()["kibana-system-password"]
    assert job["restart"] == "no"
    assert job["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    script = " ".join(job["command"])
    assert "/_security/user/kibana_system/_password" in script
    assert "$${KIBANA_SYSTEM_PASSWORD}" in script and "elastic:$${ELASTIC_PASSWORD}" in script
    assert (
        env_of(job)["KIBANA_SYSTEM_PASSWORD"]
        == env_of(services()["kibana"])["ELASTICSEARCH_PASSWORD"]
    )
    dep = services()["kibana"]["depends_on"]["kibana-system-password"]
    assert dep["condition"] == "service_completed_successfully"


def test_the_image_build_takes_the_digest_pinned_base_from_the_environment() -> None:
    for name, svc in townsquare_services().items():
        assert "PYTHON_IMAGE" in svc["build"].get("args", []), name


def test_the_header_says_what_to_set() -> None:
    header = COMPOSE.read_text().split("\nname:", 1)[0]
    for needed in (
        "GRAFANA_ADMIN_PASSWORD",
        "ELASTIC_PASSWORD",
        "KIBANA_SYSTEM_PASSWORD",
        "PYTHON_IMAGE",
        "127.0.0.1",
    ):
        assert needed in header, needed
