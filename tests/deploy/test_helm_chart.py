"""The Helm chart renders valid manifests that configure townsquare only through real settings.

Helm values reach the service only as TOWNSQUARE_* environment variables, so a typo
in the chart is a setting silently ignored in production. The pure-Python checks
(values against values.schema.json, env names against Settings) always run. Rendering
and linting need Helm: the ``helm`` binary when it is on PATH, otherwise Helm's Go SDK
through the ``helm-python-sdk`` wheel; without either they are skipped.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "townsquare"
HELM = shutil.which("helm")
helm_python: Any
try:
    import helm_python
except ImportError:  # pragma: no cover - depends on the machine
    helm_python = None

HAVE_HELM = HELM is not None or helm_python is not None
needs_helm = pytest.mark.skipif(
    not HAVE_HELM, reason="no helm binary on PATH and helm-python-sdk not installed"
)
RELEASE, NAMESPACE = "ts", "prod"
ROLES = ("normalize", "locate", "enrich", "index", "alert")
ROLE_INPUT = {
    "normalize": "posts.raw",
    "locate": "posts.by_id",
    "enrich": "posts.normalized",
    "index": "posts.enriched",
    "alert": "posts.enriched",
}
ENV_CONFIGMAP = f"{RELEASE}-townsquare-env"


def default_values() -> dict[str, Any]:
    return dict(yaml.safe_load((CHART / "values.yaml").read_text()))


def schema() -> dict[str, Any]:
    return dict(json.loads((CHART / "values.schema.json").read_text()))


def merged(overrides: dict[str, Any]) -> dict[str, Any]:
    """Defaults deep-merged with overrides, as Helm does."""

    def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(base)
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = value
        return out

    return merge(default_values(), overrides)


def secret_fields() -> list[str]:
    return [n for n, info in Settings.model_fields.items() if "SecretStr" in str(info.annotation)]


def allowed_env_names() -> set[str]:
    """Settings fields, their secret-file twins and the ingest agents' credentials."""
    from streams.sources.credentials import IngestCredentials

    names = {f"TOWNSQUARE_{name.upper()}" for name in Settings.model_fields}
    names |= {f"TOWNSQUARE_{name.upper()}" for name in IngestCredentials.model_fields}
    return names | {f"TOWNSQUARE_{name.upper()}_FILE" for name in secret_fields()}


EVERYTHING_ON: dict[str, Any] = {
    "kafka": {
        "bootstrap": "b-1.kafka:9096,b-2.kafka:9096",
        "securityProtocol": "SASL_SSL",
        "saslMechanism": "SCRAM-SHA-512",
        "saslUsername": "townsquare",
        "existingSecret": "townsquare-kafka",
        "caSecret": "kafka-ca",
        "ports": [9096],
    },
    "elasticsearch": {
        "url": "https://es.example.internal:9200",
        "existingSecret": "townsquare-es",
        "apiKeyKey": "api-key",
        "caSecret": "es-ca",
    },
    "enrichment": {"spacyModel": "en_core_web_sm"},
    "profile": {"existingConfigMap": "org-profile"},
    "extraEnv": {"TOWNSQUARE_LOG_LEVEL": "DEBUG"},
    "roles": {
        "normalize": {"autoscaling": {"enabled": True, "metricType": "Pods"}},
        "enrich": {"autoscaling": {"enabled": True}},
        "index": {"extraEnv": {"TOWNSQUARE_ES_BULK_CHUNK": "200"}},
    },
    "ingest": {
        "sources": [
            {
                "name": "mastodon-social",
                "source": "mastodon",
                "args": ["--instance", "https://mastodon.social"],
            },
            {"name": "city-rss", "source": "rss", "args": ["https://example.org/feed.xml"]},
        ]
    },
    "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    "networkPolicy": {
        "kafkaPeers": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kafka"}}}
        ],
        "metricsFrom": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
        ],
    },
}


# --- rendering --------------------------------------------------------------------------


def render(overrides: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rendered manifests (hooks included), through the helm binary or Helm's Go SDK."""
    overrides = overrides or {}
    if HELM is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            yaml.safe_dump(overrides, f)
            f.flush()
            result = subprocess.run(
                [HELM, "template", RELEASE, str(CHART), "-n", NAMESPACE, "-f", f.name],
                capture_output=True,
                text=True,
                timeout=60,
            )
        if result.returncode != 0:
            raise RuntimeError(result.stderr)
        text = result.stdout
    else:
        assert helm_python is not None
        with helm_python.Chart.load(str(CHART)) as chart:
            out = chart.render(overrides, name=RELEASE, namespace=NAMESPACE)
        text = "\n---\n".join(v for k, v in sorted(out.items()) if k.endswith(".yaml"))
    return [doc for doc in yaml.safe_load_all(text) if doc]


def lint_problems() -> list[str]:
    if HELM is not None:
        result = subprocess.run(
            [HELM, "lint", "--strict", str(CHART)], capture_output=True, text=True, timeout=60
        )
        return [] if result.returncode == 0 else [result.stdout + result.stderr]
    assert helm_python is not None
    report = helm_python.lint(str(CHART), strict=True)
    problems = [str(m) for m in report["messages"] if m["severity"] >= 2]
    return problems + [str(e) for e in report["errors"]]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in {"Deployment", "Job"}:
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def containers(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, spec in pod_specs(docs):
        for container in spec["containers"]:
            yield name, container


def env_names(docs: list[dict[str, Any]]) -> set[str]:
    """Every env name a pod gets: its own env and the settings ConfigMap (not the rules map)."""
    names = {e["name"] for _n, c in containers(docs) for e in c.get("env") or []}
    return names | set(by_kind(docs, "ConfigMap")[ENV_CONFIGMAP]["data"])


# --- always: values and schema ------------------------------------------------------------


def test_values_match_the_schema() -> None:
    jsonschema.Draft7Validator.check_schema(schema())
    jsonschema.validate(default_values(), schema())
    jsonschema.validate(merged(EVERYTHING_ON), schema())


@pytest.mark.parametrize(
    "overrides",
    [
        {"kafka": {"bootstrap": "kafka"}},
        {"kafka": {"securityProtocol": "TLS"}},
        {"kafka": {"saslMechanism": "GSSAPI"}},
        {"kafka": {"saslMechanism": "oauthbearer"}},
        {"kafka": {"clientCertSecret": 1}},
        {"kafka": {"clientKeyKey": ""}},
        {"kafka": {"oauth": {"tokenUrl": "idp.example/token"}}},
        {"kafka": {"oauth": {"clientSecret": "in the values file"}}},
        {"kafka": {"oauth": {"clientSecretKey": ""}}},
        {"networkPolicy": {"oauthTokenPeers": "anywhere"}},
        {"secretsAs": "vault"},
        {"elasticsearch": {"url": "elasticsearch:9200"}},
        {"extraEnv": {"LOG_LEVEL": "DEBUG"}},
        {"roles": {"enrich": {"autoscaling": {"metricType": "Object"}}}},
        {"roles": {"ingest": {"enabled": True}}},
        {"metrics": {"port": 0}},
        {"topics": {"partitions": 0}},
        {"topics": {"partitions": 2.5}},
        {"roles": {"enrich": {"replicas": 0}}},
        {"roles": {"notify": {"replicas": 0}}},
        {"roles": {"enrich": {"autoscaling": {"minReplicas": 0}}}},
        {"roles": {"enrich": {"autoscaling": {"maxReplicas": 0}}}},
        {"ingest": {"sources": [{"name": "Bad_Name", "source": "rss"}]}},
        {"logLevel": "TRACE"},
        {"unknownTopLevel": 1},
    ],
)
def test_schema_rejects_bad_values(overrides: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(merged(overrides), schema())


def test_every_env_name_in_the_chart_is_a_setting() -> None:
    """Scans the templates and values text, so it holds even where Helm is not installed."""
    allowed = allowed_env_names()
    found: set[str] = set()
    for path in [*sorted((CHART / "templates").iterdir()), CHART / "values.yaml"]:
        found |= set(re.findall(r"\bTOWNSQUARE_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    assert len(found) >= 20
    unknown = found - allowed
    assert not unknown, f"not settings: {sorted(unknown)}"


def test_helm_values_cover_the_operational_settings() -> None:
    """Settings a platform team must be able to change are reachable from values.yaml."""
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    for name in (
        "kafka_bootstrap",
        "kafka_security_protocol",
        "kafka_sasl_password",
        "kafka_ssl_certfile",
        "kafka_ssl_keyfile",
        "kafka_ssl_key_password",
        "kafka_oauth_token_url",
        "kafka_oauth_client_id",
        "kafka_oauth_client_secret",
        "kafka_oauth_scope",
        "es_url",
        "es_api_key",
        "topic_prefix",
        "index_prefix",
        "metrics_port",
        "data_dir",
        "profile_path",
        "rules_path",
        "kibana_base_url",
    ):
        assert f"TOWNSQUARE_{name.upper()}" in helpers, name


# --- with Helm: rendered manifests --------------------------------------------------------


@needs_helm
def test_lint_is_clean() -> None:
    assert lint_problems() == []


@needs_helm
def test_default_render() -> None:
    docs = render()
    deployments = by_kind(docs, "Deployment")
    assert set(deployments) == {f"{RELEASE}-townsquare-{role}" for role in ROLES}
    for role in ROLES:
        container = deployments[f"{RELEASE}-townsquare-{role}"]["spec"]["template"]["spec"][
            "containers"
        ][0]
        assert container["args"] == ["worker", "--role", role]
    assert set(by_kind(docs, "PodDisruptionBudget")) == set(deployments)
    # No HPA by default: one needs prometheus-adapter or KEDA for the lag metric.
    assert set(by_kind(docs, "HorizontalPodAutoscaler")) == set()
    assert by_kind(docs, "Service")
    assert not by_kind(docs, "ServiceMonitor")
    assert by_kind(docs, "NetworkPolicy")


@needs_helm
@pytest.mark.parametrize("overrides", [{}, EVERYTHING_ON, {"secretsAs": "env", **EVERYTHING_ON}])
def test_rendered_env_is_made_of_real_settings(overrides: dict[str, Any]) -> None:
    docs = render(overrides)
    names = env_names(docs)
    assert not names - allowed_env_names(), sorted(names - allowed_env_names())
    (configmap,) = by_kind(docs, "ConfigMap").values()
    settings = Settings.model_validate(
        {k.removeprefix("TOWNSQUARE_").lower(): v for k, v in configmap["data"].items()}
    )
    values = merged(overrides)
    assert settings.kafka_bootstrap == values["kafka"]["bootstrap"]
    assert settings.es_url == values["elasticsearch"]["url"]
    assert settings.metrics_port == values["metrics"]["port"]
    assert str(settings.data_dir) == "/data"


@needs_helm
def test_setup_job_is_a_pre_install_hook_with_the_same_settings() -> None:
    docs = render(EVERYTHING_ON)
    (job,) = by_kind(docs, "Job").values()
    hooks = set(job["metadata"]["annotations"]["helm.sh/hook"].split(","))
    assert hooks == {"pre-install", "pre-upgrade"}
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["setup"]
    job_env = {e["name"]: e.get("value") for e in container["env"]}
    (configmap,) = by_kind(docs, "ConfigMap").values()
    # The hook runs before the ConfigMap exists, so it carries the same values inline.
    for key, value in configmap["data"].items():
        assert job_env[key] == value


@needs_helm
@pytest.mark.parametrize("overrides", [{}, EVERYTHING_ON])
def test_pods_are_locked_down_and_probe_metrics(overrides: dict[str, Any]) -> None:
    docs = render(overrides)
    port = merged(overrides)["metrics"]["port"]
    for name, spec in pod_specs(docs):
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["automountServiceAccountToken"] is False
        empty_dirs = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts["/tmp"] in empty_dirs and mounts["/data"] in empty_dirs, name
            assert container["resources"]["limits"]["memory"], name
            if name.endswith("-setup"):
                continue
            assert container["ports"][0]["containerPort"] == port
            assert container["livenessProbe"]["httpGet"] == {"path": "/live", "port": "metrics"}
            assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "metrics"}


@needs_helm
def test_secrets_as_files_or_secret_refs() -> None:
    as_files = render(EVERYTHING_ON)
    for name, container in containers(as_files):
        env = {e["name"]: e for e in container["env"]}
        assert "TOWNSQUARE_KAFKA_SASL_PASSWORD" not in env, name
        path = env["TOWNSQUARE_KAFKA_SASL_PASSWORD_FILE"]["value"]
        mounts = [m["mountPath"] for m in container["volumeMounts"]]
        assert any(path.startswith(m + "/") for m in mounts), name
        assert env["TOWNSQUARE_ES_API_KEY_FILE"]["value"].endswith("/api-key")
    as_env = render({**EVERYTHING_ON, "secretsAs": "env"})
    for name, container in containers(as_env):
        env = {e["name"]: e for e in container["env"]}
        ref = env["TOWNSQUARE_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "townsquare-kafka", "key": "password"}, name
        assert "TOWNSQUARE_KAFKA_SASL_PASSWORD_FILE" not in env
    # No secret value ever lands in the ConfigMap.
    for docs in (as_files, as_env):
        (configmap,) = by_kind(docs, "ConfigMap").values()
        assert not {k for k in configmap["data"] if "PASSWORD" in k or "API_KEY" in k}


@needs_helm
def test_hpa_scales_each_role_on_its_input_topic_lag() -> None:
    docs = render(EVERYTHING_ON)
    settings = Settings(topic_prefix="townsquare.", topic_version="v1")
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    assert set(hpas) == {f"{RELEASE}-townsquare-normalize", f"{RELEASE}-townsquare-enrich"}
    for name, hpa in hpas.items():
        role = name.rsplit("-", 1)[1]
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"]["name"] == name
        (metric,) = hpa["spec"]["metrics"]
        source = metric["pods"] if metric["type"] == "Pods" else metric["external"]
        assert source["metric"]["name"] == "townsquare_consumer_lag"
        topic = source["metric"]["selector"]["matchLabels"]["topic"]
        assert topic == settings.topic(ROLE_INPUT[role])
    assert hpas[f"{RELEASE}-townsquare-normalize"]["spec"]["metrics"][0]["type"] == "Pods"
    # A role under an HPA leaves replicas to it.
    deployment = by_kind(docs, "Deployment")[f"{RELEASE}-townsquare-enrich"]
    assert "replicas" not in deployment["spec"]


def _partition_error(key: str, value: int, partitions: int = 4) -> str:
    """The start of the render failure for ``key`` exceeding topics.partitions."""
    head = re.escape(f"{key} ({value}) exceeds the partitions of its input topic ")
    return head + r"townsquare\.\S+" + re.escape(f" ({partitions}, topics.partitions)")


@needs_helm
def test_replicas_up_to_the_partition_count_render() -> None:
    """Every replica can own a partition: as many replicas as partitions is fine."""
    docs = render(
        {
            "topics": {"partitions": 6},
            "roles": {
                "enrich": {"replicas": 6},
                "index": {"autoscaling": {"enabled": True, "minReplicas": 6, "maxReplicas": 6}},
            },
        }
    )
    assert by_kind(docs, "Deployment")[f"{RELEASE}-townsquare-enrich"]["spec"]["replicas"] == 6
    hpa = by_kind(docs, "HorizontalPodAutoscaler")[f"{RELEASE}-townsquare-index"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (6, 6)


@needs_helm
@pytest.mark.parametrize("role", ROLES)
def test_more_replicas_than_partitions_fail_the_render(role: str) -> None:
    with pytest.raises(Exception, match=_partition_error(f"roles.{role}.replicas", 5)) as err:
        render({"roles": {role: {"replicas": 5}}})
    topic = Settings(topic_prefix="townsquare.", topic_version="v1").topic(ROLE_INPUT[role])
    assert f"input topic {topic} (4, topics.partitions)" in str(err.value)
    assert "Raise topics.partitions" in str(err.value)
    assert f"lower roles.{role}.replicas." in str(err.value)


@needs_helm
def test_notify_replicas_are_checked_against_the_alerts_topic_when_deployed() -> None:
    alerting = {
        "alerts": {
            "webhooks": json.dumps({"desk": {"url": "https://hooks.example/t"}}),
            "webhookSecret": {"name": "townsquare-webhook-key"},
        },
    }
    error = _partition_error("roles.notify.replicas", 5)
    with pytest.raises(Exception, match=error) as err:
        render({**alerting, "roles": {"notify": {"replicas": 5}}})
    assert "townsquare.alerts.v1" in str(err.value)
    # Without webhooks notify is not deployed, so its count does not matter.
    render({"roles": {"notify": {"replicas": 5}}})


@needs_helm
def test_an_hpa_max_beyond_the_partitions_fails_the_render() -> None:
    overrides = {"roles": {"enrich": {"autoscaling": {"enabled": True, "maxReplicas": 8}}}}
    error = _partition_error("roles.enrich.autoscaling.maxReplicas", 8, partitions=6)
    with pytest.raises(Exception, match=error) as err:
        render({"topics": {"partitions": 6}, **overrides})
    assert "lower roles.enrich.autoscaling.maxReplicas." in str(err.value)
    # More partitions make room for it.
    render({"topics": {"partitions": 8}, **overrides})


@needs_helm
def test_an_hpa_min_above_its_max_fails_the_render() -> None:
    autoscaling = {"enabled": True, "minReplicas": 4, "maxReplicas": 3}
    with pytest.raises(
        Exception,
        match=re.escape(
            "roles.locate.autoscaling.minReplicas (4) exceeds "
            "roles.locate.autoscaling.maxReplicas (3)"
        ),
    ):
        render({"roles": {"locate": {"autoscaling": autoscaling}}})


@needs_helm
def test_an_autoscaled_role_leaves_replicas_unchecked() -> None:
    """Under an HPA the Deployment has no replicas: only the HPA bounds count."""
    docs = render({"roles": {"enrich": {"replicas": 9, "autoscaling": {"enabled": True}}}})
    assert "replicas" not in by_kind(docs, "Deployment")[f"{RELEASE}-townsquare-enrich"]["spec"]


@needs_helm
def test_a_disabled_role_is_not_checked() -> None:
    docs = render(
        {
            "roles": {
                "enrich": {
                    "enabled": False,
                    "replicas": 50,
                    "autoscaling": {"enabled": True, "minReplicas": 9, "maxReplicas": 50},
                }
            }
        }
    )
    assert f"{RELEASE}-townsquare-enrich" not in by_kind(docs, "Deployment")


@needs_helm
def test_ingest_agents_one_deployment_per_source() -> None:
    docs = render(EVERYTHING_ON)
    ingest = {n: d for n, d in by_kind(docs, "Deployment").items() if "-ingest-" in n}
    assert set(ingest) == {
        f"{RELEASE}-townsquare-ingest-mastodon-social",
        f"{RELEASE}-townsquare-ingest-city-rss",
    }
    args = ingest[f"{RELEASE}-townsquare-ingest-city-rss"]["spec"]["template"]["spec"][
        "containers"
    ][0]["args"]
    assert args == ["ingest", "rss", "https://example.org/feed.xml"]
    for deployment in ingest.values():
        assert deployment["spec"]["strategy"]["type"] == "Recreate"
        assert deployment["spec"]["replicas"] == 1


@needs_helm
def test_network_policy_limits_egress_to_dns_kafka_and_elasticsearch() -> None:
    docs = render(EVERYTHING_ON)
    policies = by_kind(docs, "NetworkPolicy")
    workers = policies[f"{RELEASE}-townsquare-workers"]["spec"]
    ports = {(p["protocol"], p["port"]) for rule in workers["egress"] for p in rule["ports"]}
    assert ports == {("UDP", 53), ("TCP", 53), ("TCP", 9096), ("TCP", 9200)}
    assert {p["port"] for rule in workers["ingress"] for p in rule["ports"]} == {9464}
    assert workers["ingress"][0]["from"] == EVERYTHING_ON["networkPolicy"]["metricsFrom"]
    components = workers["podSelector"]["matchExpressions"][0]["values"]
    assert set(components) == {*ROLES, "setup"}
    ingest = policies[f"{RELEASE}-townsquare-ingest"]["spec"]
    assert ("TCP", 443) in {
        (p["protocol"], p["port"]) for r in ingest["egress"] for p in r["ports"]
    }


PRIVATE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8"]


def _ingest_blocks(overrides: dict[str, Any]) -> list[dict[str, Any]]:
    policies = by_kind(render(overrides), "NetworkPolicy")
    egress = policies[f"{RELEASE}-townsquare-ingest"]["spec"]["egress"]
    return [peer["ipBlock"] for rule in egress for peer in rule.get("to", []) if "ipBlock" in peer]


@needs_helm
def test_ingest_egress_to_the_internet_excludes_private_and_metadata_ranges() -> None:
    [block] = _ingest_blocks(EVERYTHING_ON)
    assert block["cidr"] == "0.0.0.0/0"
    assert set(PRIVATE) | {"100.64.0.0/10"} <= set(block["except"])
    # The knob: a custom list replaces it, an empty one turns it off, and a rule that names
    # its own except (or a narrower cidr, where ours would be invalid) is left as written.
    ingest = EVERYTHING_ON["ingest"]
    [custom] = _ingest_blocks({**EVERYTHING_ON, "ingest": {**ingest, "egressExcept": PRIVATE}})
    assert custom["except"] == PRIVATE
    [bare] = _ingest_blocks({**EVERYTHING_ON, "ingest": {**ingest, "egressExcept": []}})
    assert "except" not in bare
    own = [
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.1.0.0/16"]}}]},
        {"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}], "ports": [{"port": 443}]},
    ]
    kept = _ingest_blocks({**EVERYTHING_ON, "ingest": {**ingest, "egress": own}})
    assert kept == [own[0]["to"][0]["ipBlock"], own[1]["to"][0]["ipBlock"]]


@needs_helm
def test_service_monitor_labels_role_for_the_alert_rules() -> None:
    docs = render(EVERYTHING_ON)
    (monitor,) = by_kind(docs, "ServiceMonitor").values()
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
    assert {r["targetLabel"] for r in endpoint["relabelings"]} >= {"role"}
    (service,) = by_kind(docs, "Service").values()
    for key, value in monitor["spec"]["selector"]["matchLabels"].items():
        assert service["metadata"]["labels"][key] == value
    # Every long-running pod is behind the metrics Service.
    selector = service["spec"]["selector"]
    for doc in by_kind(docs, "Deployment").values():
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert all(labels.get(k) == v for k, v in selector.items())


@needs_helm
def test_schema_is_enforced_at_render_time() -> None:
    with pytest.raises(Exception, match=r"(?i)schema|secretsAs|enum|value"):
        render({"secretsAs": "vault"})


# --- privacy: pseudonymisation and its key ------------------------------------------------

KEY_SECRET = {"name": "townsquare-pseudonym", "key": "hmac-key"}
PSEUDONYMISED: dict[str, Any] = {
    **EVERYTHING_ON,
    "privacy": {"pseudonymise": True, "pseudonymKeySecret": KEY_SECRET},
}


def test_schema_requires_a_key_secret_to_pseudonymise() -> None:
    jsonschema.validate(merged(PSEUDONYMISED), schema())
    for bad in (
        {"privacy": {"pseudonymise": True}},
        {"privacy": {"pseudonymise": "yes"}},
        {"privacy": {"pseudonymise": True, "pseudonymKeySecret": {"name": "s", "key": ""}}},
        {"privacy": {"pseudonymKey": "in the values file"}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(merged(bad), schema())


@needs_helm
def test_pseudonymisation_is_off_by_default_and_names_no_key() -> None:
    docs = render()
    (configmap,) = by_kind(docs, "ConfigMap").values()
    assert configmap["data"]["TOWNSQUARE_PSEUDONYMISE"] == "false"
    assert not {n for n in env_names(docs) if "PSEUDONYM_KEY" in n}


@needs_helm
def test_pseudonymisation_reaches_every_pod_with_its_key_as_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = render(PSEUDONYMISED)
    assert not env_names(docs) - allowed_env_names()
    (configmap,) = by_kind(docs, "ConfigMap").values()
    assert configmap["data"]["TOWNSQUARE_PSEUDONYMISE"] == "true"
    assert not {k for k in configmap["data"] if "PSEUDONYM_KEY" in k}, "no key in a ConfigMap"
    specs = dict(pod_specs(docs))
    assert len(specs) == len(ROLES) + 2 + 1, "every role, both ingest sources and the setup job"
    for name, container in containers(docs):
        env = {e["name"]: e for e in container["env"]}
        assert "TOWNSQUARE_PSEUDONYM_KEY" not in env, name
        path = env["TOWNSQUARE_PSEUDONYM_KEY_FILE"]["value"]
        assert path.endswith("/hmac-key"), name
        (mount,) = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
        assert mount["readOnly"] is True
        (volume,) = [v for v in specs[name]["volumes"] if v["name"] == mount["name"]]
        assert volume["secret"]["secretName"] == "townsquare-pseudonym", name
        assert volume["secret"]["items"] == [{"key": "hmac-key", "path": "hmac-key"}]
    # What the pods get is what Settings reads: the flag from the ConfigMap, the key from
    # the mounted file (here a local stand-in for the mount).
    key_file = tmp_path / "hmac-key"
    key_file.write_text("a long random pseudonym key\n", encoding="utf-8")
    monkeypatch.setenv("TOWNSQUARE_PSEUDONYM_KEY_FILE", str(key_file))
    settings = Settings.model_validate(
        {k.removeprefix("TOWNSQUARE_").lower(): v for k, v in configmap["data"].items()}
    )
    assert settings.pseudonymise is True
    assert settings.pseudonym_key is not None
    assert settings.pseudonym_key.get_secret_value() == "a long random pseudonym key"


@needs_helm
def test_pseudonym_key_as_a_secret_ref() -> None:
    docs = render({**PSEUDONYMISED, "secretsAs": "env"})
    seen = 0
    for name, container in containers(docs):
        env = {e["name"]: e for e in container["env"]}
        assert "TOWNSQUARE_PSEUDONYM_KEY_FILE" not in env, name
        ref = env["TOWNSQUARE_PSEUDONYM_KEY"]["valueFrom"]["secretKeyRef"]
        assert ref == KEY_SECRET, name
        assert not any(m["name"] == "pseudonym-key" for m in container["volumeMounts"])
        seen += 1
    assert seen == len(ROLES) + 2 + 1


# --- alert webhooks: the notify role ------------------------------------------------------

WEBHOOKS = {
    "press-desk": {"url": "https://hooks.example/press", "format": "json"},
    "ops": {"url": "https://hooks.example/services/T0/B0/tok3n", "format": "slack"},
}
SIGNING_KEY = {"name": "townsquare-alerts", "key": "signing-key"}
ALERTING: dict[str, Any] = {
    **EVERYTHING_ON,
    "alerts": {"webhooks": json.dumps(WEBHOOKS), "webhookSecret": SIGNING_KEY, "webhookRetries": 3},
}
NOTIFY = f"{RELEASE}-townsquare-notify"


def _notify_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = by_kind(docs, "Deployment")[NOTIFY]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def test_schema_requires_a_signing_key_for_alert_webhooks() -> None:
    jsonschema.validate(merged(ALERTING), schema())
    from_secret = {"alerts": {"webhooksSecret": {"name": "hooks"}, "webhookSecret": SIGNING_KEY}}
    jsonschema.validate(merged(from_secret), schema())
    for bad in (
        {"alerts": {"webhooks": json.dumps(WEBHOOKS)}},
        {"alerts": {"webhooksSecret": {"name": "hooks"}}},
        {
            "alerts": {
                "webhooks": json.dumps(WEBHOOKS),
                "webhooksSecret": {"name": "hooks"},
                "webhookSecret": SIGNING_KEY,
            }
        },
        {"alerts": {"webhooks": "https://hooks.example/press", "webhookSecret": SIGNING_KEY}},
        {"alerts": {"webhookRetries": -1}},
        {"alerts": {"webhookSecret": {"name": "s", "key": ""}}},
        {"alerts": {"webhookSecretValue": "in the values file"}},
        {"roles": {"notify": {"concurrency": 4}}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(merged(bad), schema())


@needs_helm
def test_notify_is_deployed_only_when_alert_webhooks_are_configured() -> None:
    plain = render(EVERYTHING_ON)
    assert NOTIFY not in by_kind(plain, "Deployment")
    assert NOTIFY not in by_kind(plain, "PodDisruptionBudget")
    assert NOTIFY not in by_kind(plain, "NetworkPolicy")
    assert not {n for n in env_names(plain) if "ALERT_WEBHOOK" in n}
    docs = render(ALERTING)
    assert _notify_container(docs)["args"] == ["worker", "--role", "notify"]
    assert NOTIFY in by_kind(docs, "PodDisruptionBudget")
    off = render({**ALERTING, "roles": {"notify": {"enabled": False}}})
    assert NOTIFY not in by_kind(off, "Deployment")


@needs_helm
def test_alert_webhooks_and_their_key_reach_only_the_notify_pods(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = render(ALERTING)
    assert not env_names(docs) - allowed_env_names()
    (configmap,) = by_kind(docs, "ConfigMap").values()
    assert not {k for k in configmap["data"] if "ALERT" in k}, "no webhook or key in a ConfigMap"
    for name, container in containers(docs):
        names = {e["name"] for e in container.get("env") or []}
        if name != NOTIFY:
            assert not {n for n in names if "ALERT" in n}, name
            assert not any(m["name"] == "alert-webhook-secret" for m in container["volumeMounts"])
    container = _notify_container(docs)
    env = {e["name"]: e for e in container["env"]}
    assert "TOWNSQUARE_ALERT_WEBHOOK_SECRET" not in env
    path = env["TOWNSQUARE_ALERT_WEBHOOK_SECRET_FILE"]["value"]
    assert path.endswith("/signing-key")
    (mount,) = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
    assert mount["readOnly"] is True
    spec = by_kind(docs, "Deployment")[NOTIFY]["spec"]["template"]["spec"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == "townsquare-alerts"
    assert volume["secret"]["items"] == [{"key": "signing-key", "path": "signing-key"}]
    # What the notify pod gets is what Settings reads: the ConfigMap, its own env, and the
    # key from the mounted file (a local stand-in for the mount).
    key_file = tmp_path / "signing-key"
    key_file.write_text("the signing key\n", encoding="utf-8")
    own = {k: e["value"] for k, e in env.items() if "ALERT" in k}
    for key, value in {**configmap["data"], **own}.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.setenv("TOWNSQUARE_ALERT_WEBHOOK_SECRET_FILE", str(key_file))
    settings = Settings()
    assert {n: (o.url, o.format) for n, o in settings.alert_webhooks.items()} == {
        n: (o["url"], o["format"]) for n, o in WEBHOOKS.items()
    }
    assert settings.alert_webhook_retries == 3
    assert settings.alert_webhook_secret is not None
    assert settings.alert_webhook_secret.get_secret_value() == "the signing key"


@needs_helm
def test_alert_webhooks_from_a_secret_and_the_key_as_a_secret_ref() -> None:
    docs = render(
        {
            **EVERYTHING_ON,
            "secretsAs": "env",
            "alerts": {"webhooksSecret": {"name": "hooks"}, "webhookSecret": SIGNING_KEY},
        }
    )
    env = {e["name"]: e for e in _notify_container(docs)["env"]}
    hooks = env["TOWNSQUARE_ALERT_WEBHOOKS"]["valueFrom"]["secretKeyRef"]
    assert hooks == {"name": "hooks", "key": "webhooks.json"}
    key = env["TOWNSQUARE_ALERT_WEBHOOK_SECRET"]["valueFrom"]["secretKeyRef"]
    assert key == SIGNING_KEY
    assert "TOWNSQUARE_ALERT_WEBHOOK_SECRET_FILE" not in env
    assert "tok3n" not in json.dumps(docs)
    assert not any(
        m["name"] == "alert-webhook-secret" for m in _notify_container(docs)["volumeMounts"]
    )


@needs_helm
@pytest.mark.parametrize(
    "webhooks", ['{"ops": {"url": "https://x"}', '{"ops": {"format": "json"}}', '{"ops": "x"}']
)
def test_webhooks_that_are_not_named_outputs_with_a_url_fail_the_render(webhooks: str) -> None:
    with pytest.raises(Exception, match=r"alerts\.webhooks"):
        render({"alerts": {"webhooks": webhooks, "webhookSecret": SIGNING_KEY}})


@needs_helm
def test_only_the_notifier_may_reach_the_webhook_receivers() -> None:
    policies = by_kind(render(ALERTING), "NetworkPolicy")
    workers = policies[f"{RELEASE}-townsquare-workers"]["spec"]
    assert "notify" not in workers["podSelector"]["matchExpressions"][0]["values"]
    notify = policies[NOTIFY]["spec"]
    assert notify["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "notify"
    ports = {(p["protocol"], p["port"]) for rule in notify["egress"] for p in rule["ports"]}
    assert ports == {("UDP", 53), ("TCP", 53), ("TCP", 9096), ("TCP", 9200), ("TCP", 443)}
    [block] = [p["ipBlock"] for r in notify["egress"] for p in r.get("to", []) if "ipBlock" in p]
    assert block["cidr"] == "0.0.0.0/0"
    assert set(PRIVATE) | {"100.64.0.0/10"} <= set(block["except"])


# --- alert rules: the alert role --------------------------------------------------------

ALERT = f"{RELEASE}-townsquare-alert"
RULES_MAP = f"{RELEASE}-townsquare-rules"
RULES = """\
rules:
  - name: reply-now
    description: A post we should answer
    when: {and: [{field: joinability.action, eq: reply}, {field: joinability.score, gte: 0.7}]}
    severity: warning
    throttle: 30m
    outputs: [press-desk]
reply_deadlines:
  severity: warning
  escalated_severity: critical
"""


def _pod(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return dict(by_kind(docs, "Deployment")[name]["spec"]["template"])


def _alert_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = _pod(docs, ALERT)["spec"]["containers"]
    return dict(container)


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in container.get("env") or []}


def test_schema_takes_the_rules_from_the_values_or_a_configmap_not_both() -> None:
    for good in (
        {"alerts": {"rules": RULES}},
        {"alerts": {"rulesConfigMap": "org-rules", "rulesKey": "alerting.yaml"}},
        {"alerts": {"kibanaBaseUrl": "https://kibana.example/s/press"}},
        {"roles": {"alert": {"enabled": False}}},
    ):
        jsonschema.validate(merged(good), schema())
    for bad in (
        {"alerts": {"rules": RULES, "rulesConfigMap": "org-rules"}},
        {"alerts": {"rules": ["not", "a", "string"]}},
        {"alerts": {"rulesKey": ""}},
        {"alerts": {"rulesKey": "rules/alerts.yaml"}},
        {"alerts": {"kibanaBaseUrl": "kibana.example"}},
        {"roles": {"alert": {"concurrency": 4}}},
        {"roles": {"alert": {"autoscaling": {"metricType": "Object"}}}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(merged(bad), schema())


@needs_helm
def test_alert_role_runs_by_default_with_the_shipped_rules_and_the_profile_of_enrich() -> None:
    docs = render()
    container = _alert_container(docs)
    assert container["args"] == ["worker", "--role", "alert"]
    assert "TOWNSQUARE_RULES_PATH" not in _env(container), "unset: the shipped defaults"
    assert RULES_MAP not in by_kind(docs, "ConfigMap")
    assert "checksum/rules" not in _pod(docs, ALERT)["metadata"]["annotations"]
    assert ALERT in by_kind(docs, "PodDisruptionBudget")
    assert ALERT not in by_kind(docs, "HorizontalPodAutoscaler")
    # The profile (for the reply SLA) reaches the alert pods exactly as it reaches enrich:
    # the same settings ConfigMap, the same volume and the same mount.
    docs = render({"profile": {"existingConfigMap": "org-profile", "key": "council.yaml"}})
    path = by_kind(docs, "ConfigMap")[ENV_CONFIGMAP]["data"]["TOWNSQUARE_PROFILE_PATH"]
    assert path == "/etc/townsquare/profile/council.yaml"
    enrich = _pod(docs, f"{RELEASE}-townsquare-enrich")["spec"]
    alert = _pod(docs, ALERT)["spec"]
    for spec in (enrich, alert):
        (container,) = spec["containers"]
        assert container["envFrom"] == [{"configMapRef": {"name": ENV_CONFIGMAP}}]
        (mount,) = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
        assert mount == {
            "name": "profile",
            "mountPath": "/etc/townsquare/profile",
            "readOnly": True,
        }
        (volume,) = [v for v in spec["volumes"] if v["name"] == "profile"]
        assert volume == {"name": "profile", "configMap": {"name": "org-profile"}}
    off = render({"roles": {"alert": {"enabled": False}}, "alerts": {"rules": RULES}})
    assert ALERT not in by_kind(off, "Deployment")
    assert ALERT not in by_kind(off, "PodDisruptionBudget")
    assert RULES_MAP not in by_kind(off, "ConfigMap")


@needs_helm
def test_custom_rules_are_mounted_into_the_alert_pods_only(tmp_path: Path) -> None:
    docs = render({**EVERYTHING_ON, "alerts": {"rules": RULES}})
    assert not env_names(docs) - allowed_env_names()
    rules_map = by_kind(docs, "ConfigMap")[RULES_MAP]
    assert rules_map["data"] == {"rules.yaml": RULES}
    container = _alert_container(docs)
    path = _env(container)["TOWNSQUARE_RULES_PATH"]["value"]
    assert path == "/etc/townsquare/rules/rules.yaml"
    (mount,) = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
    assert mount["readOnly"] is True
    (volume,) = [v for v in _pod(docs, ALERT)["spec"]["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"] == {
        "name": RULES_MAP,
        "items": [{"key": "rules.yaml", "path": "rules.yaml"}],
    }
    for name, other in containers(docs):
        if name != ALERT:
            assert "TOWNSQUARE_RULES_PATH" not in _env(other), name
            assert not any(m["name"] == "alert-rules" for m in other["volumeMounts"]), name
    # What the alert pod mounts is a rules file the worker accepts (a local stand-in).
    from processors.rules import load_rules

    mounted = tmp_path / "rules.yaml"
    mounted.write_text(rules_map["data"]["rules.yaml"], encoding="utf-8")
    loaded = load_rules(mounted)
    assert [r.name for r in loaded.rules] == ["reply-now"]
    assert loaded.reply_deadlines.escalated_severity == "critical"


@needs_helm
def test_a_rules_change_rolls_the_alert_pods_and_only_them() -> None:
    def annotations(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
        return {n: _pod(docs, n)["metadata"]["annotations"] for n in by_kind(docs, "Deployment")}

    before = annotations(render({"alerts": {"rules": RULES}}))
    after = annotations(render({"alerts": {"rules": RULES.replace("30m", "45m")}}))
    assert before[ALERT]["checksum/rules"] != after[ALERT]["checksum/rules"]
    assert before[ALERT]["checksum/env"] == after[ALERT]["checksum/env"]
    for name, pod in before.items():
        if name != ALERT:
            assert "checksum/rules" not in pod, name
            assert pod == after[name], name


@needs_helm
def test_rules_from_an_existing_configmap() -> None:
    docs = render({"alerts": {"rulesConfigMap": "org-rules", "rulesKey": "alerting.yaml"}})
    assert RULES_MAP not in by_kind(docs, "ConfigMap"), "the existing map, not one of ours"
    container = _alert_container(docs)
    path = _env(container)["TOWNSQUARE_RULES_PATH"]["value"]
    assert path == "/etc/townsquare/rules/alerting.yaml"
    (mount,) = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
    (volume,) = [v for v in _pod(docs, ALERT)["spec"]["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"] == {
        "name": "org-rules",
        "items": [{"key": "alerting.yaml", "path": "alerting.yaml"}],
    }
    # The chart cannot see that map's content, so it does not pretend to checksum it.
    assert "checksum/rules" not in _pod(docs, ALERT)["metadata"]["annotations"]


@needs_helm
@pytest.mark.parametrize(
    ("alerts", "error"),
    [
        ({"rules": RULES, "rulesConfigMap": "org-rules"}, r"(?i)schema|rulesConfigMap|not"),
        ({"rules": "rules: [\n"}, r"alerts\.rules"),
        ({"rules": "- name: a list, not a mapping\n"}, r"alerts\.rules"),
        ({"rules": "rulez: []\n"}, r"alerts\.rules.*rulez"),
    ],
)
def test_bad_rules_fail_the_render(alerts: dict[str, Any], error: str) -> None:
    with pytest.raises(Exception, match=error):
        render({"alerts": alerts})


@needs_helm
def test_kibana_base_url_reaches_the_configmap() -> None:
    (configmap,) = by_kind(render(), "ConfigMap").values()
    assert "TOWNSQUARE_KIBANA_BASE_URL" not in configmap["data"]
    docs = render({"alerts": {"kibanaBaseUrl": "https://kibana.example/s/press"}})
    data = by_kind(docs, "ConfigMap")[ENV_CONFIGMAP]["data"]
    assert data["TOWNSQUARE_KIBANA_BASE_URL"] == "https://kibana.example/s/press"
    settings = Settings.model_validate(
        {k.removeprefix("TOWNSQUARE_").lower(): v for k, v in data.items()}
    )
    assert settings.kibana_base_url == "https://kibana.example/s/press"
    assert _alert_container(docs)["envFrom"] == [{"configMapRef": {"name": ENV_CONFIGMAP}}]


@needs_helm
def test_alert_role_autoscales_on_the_enriched_topic_and_is_fenced_like_the_workers() -> None:
    docs = render({**EVERYTHING_ON, "roles": {"alert": {"autoscaling": {"enabled": True}}}})
    hpa = by_kind(docs, "HorizontalPodAutoscaler")[ALERT]
    assert hpa["spec"]["scaleTargetRef"]["name"] == ALERT
    (metric,) = hpa["spec"]["metrics"]
    topic = metric["external"]["metric"]["selector"]["matchLabels"]["topic"]
    assert topic == Settings(topic_prefix="townsquare.", topic_version="v1").topic("posts.enriched")
    assert "replicas" not in by_kind(docs, "Deployment")[ALERT]["spec"]
    workers = by_kind(docs, "NetworkPolicy")[f"{RELEASE}-townsquare-workers"]["spec"]
    assert "alert" in workers["podSelector"]["matchExpressions"][0]["values"]


# --- lifecycle: probes, shutdown, profile, webhook ------------------------------------------


def _worker_pods(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: d["spec"]["template"]
        for name, d in by_kind(docs, "Deployment").items()
        if name.removeprefix(f"{RELEASE}-townsquare-") in ROLES
    }


@needs_helm
def test_workers_probe_live_and_ready_and_stop_gracefully() -> None:
    pods = _worker_pods(render(EVERYTHING_ON))
    assert set(pods) == {f"{RELEASE}-townsquare-{r}" for r in ROLES}
    for name, pod in pods.items():
        assert pod["spec"]["terminationGracePeriodSeconds"] == 60, name
        (container,) = pod["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/live", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready", name
        assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"], name
    # The sleep must fit well inside the grace period, which is configurable.
    pods = _worker_pods(render({"terminationGracePeriodSeconds": 90, "preStopSleepSeconds": 0}))
    for pod in pods.values():
        assert pod["spec"]["terminationGracePeriodSeconds"] == 90
        assert "lifecycle" not in pod["spec"]["containers"][0]


def test_schema_bounds_the_shutdown_values() -> None:
    for bad in ({"terminationGracePeriodSeconds": 0}, {"preStopSleepSeconds": 120}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(merged(bad), schema())


PROFILE = "name: Example Council\naccounts:\n  x: [examplecouncil]\n"


@needs_helm
def test_an_inline_profile_is_rendered_checked_and_rolls_the_workers() -> None:
    docs = render({"profile": {"inline": PROFILE}})
    configmap = by_kind(docs, "ConfigMap")[f"{RELEASE}-townsquare-profile"]
    assert configmap["data"] == {"profile.yaml": PROFILE}
    # A hook before the setup Job (weight 0), so the Job can check it before anything rolls.
    assert configmap["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(configmap["metadata"]["annotations"]["helm.sh/hook-weight"]) < 0
    sums = {
        name: pod["metadata"]["annotations"]["checksum/profile"]
        for name, pod in _worker_pods(docs).items()
    }
    assert len(set(sums.values())) == 1 and len(sums) == len(ROLES)
    for pod in _worker_pods(docs).values():
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        assert volumes["profile"]["configMap"]["name"] == f"{RELEASE}-townsquare-profile"
    env = by_kind(docs, "ConfigMap")[ENV_CONFIGMAP]["data"]
    assert env["TOWNSQUARE_PROFILE_PATH"] == "/etc/townsquare/profile/profile.yaml"
    # Another profile, another checksum: the pods roll.
    edited = render({"profile": {"inline": PROFILE + "aliases: [the council]\n"}})
    for name, pod in _worker_pods(edited).items():
        assert pod["metadata"]["annotations"]["checksum/profile"] != sums[name]


@needs_helm
def test_an_existing_profile_configmap_has_no_checksum_without_a_cluster() -> None:
    """``lookup`` answers nothing under ``helm template``: no annotation rather than a wrong one."""
    docs = render({"profile": {"existingConfigMap": "org-profile"}})
    for pod in _worker_pods(docs).values():
        assert "checksum/profile" not in pod["metadata"]["annotations"]
    assert f"{RELEASE}-townsquare-profile" not in by_kind(docs, "ConfigMap")
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    assert 'lookup "v1" "ConfigMap" .Release.Namespace .Values.profile.existingConfigMap' in (
        helpers
    )


def test_schema_refuses_an_inline_profile_and_an_existing_one_together() -> None:
    both = merged({"profile": {"existingConfigMap": "org-profile", "inline": PROFILE}})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(both, schema())
    jsonschema.validate(merged({"profile": {"inline": PROFILE}}), schema())


@needs_helm
@pytest.mark.parametrize(
    ("profile", "configmap"),
    [({"existingConfigMap": "org-profile"}, "org-profile"), ({"inline": PROFILE}, None)],
)
def test_the_setup_hook_checks_the_profile_before_setup(
    profile: dict[str, str], configmap: str | None
) -> None:
    docs = render({"profile": profile})
    job = by_kind(docs, "Job")[f"{RELEASE}-townsquare-setup"]["spec"]["template"]["spec"]
    (check,) = job["initContainers"]
    assert check["args"] == ["profile", "check", "/etc/townsquare/profile/profile.yaml"]
    assert {"name": "profile", "mountPath": "/etc/townsquare/profile", "readOnly": True} in check[
        "volumeMounts"
    ]
    volumes = {v["name"]: v for v in job["volumes"]}
    assert volumes["profile"]["configMap"]["name"] == (configmap or f"{RELEASE}-townsquare-profile")
    assert job["containers"][0]["args"] == ["setup"]
    assert check["securityContext"]["readOnlyRootFilesystem"] is True
    # No profile configured (the sample, for demos): nothing to check.
    plain = render()
    job = by_kind(plain, "Job")[f"{RELEASE}-townsquare-setup"]["spec"]["template"]["spec"]
    assert "initContainers" not in job


WEBHOOK: dict[str, Any] = {
    "ingest": {
        "webhook": {
            "enabled": True,
            "args": ["--max-bytes", "65536"],
            "secretEnv": {
                "TOWNSQUARE_WEBHOOK_SECRET": {"secretName": "townsquare-webhook", "key": "secret"}
            },
            "from": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
                    }
                }
            ],
        }
    }
}


@needs_helm
def test_the_webhook_receiver_is_exposed_by_a_service_and_its_network_policy() -> None:
    docs = render(WEBHOOK)
    deployment = by_kind(docs, "Deployment")[f"{RELEASE}-townsquare-ingest-webhook"]
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    args = container["args"]
    assert args[:2] == ["ingest", "webhook"]
    assert args[args.index("--host") + 1] == "0.0.0.0"  # not its 127.0.0.1 default
    assert args[args.index("--port") + 1] == "8088"
    assert args[-2:] == ["--max-bytes", "65536"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": 9464, "webhook": 8088}
    secret = {e["name"]: e for e in container["env"]}["TOWNSQUARE_WEBHOOK_SECRET"]
    assert secret["valueFrom"]["secretKeyRef"] == {"name": "townsquare-webhook", "key": "secret"}

    service = by_kind(docs, "Service")[f"{RELEASE}-townsquare-webhook"]["spec"]
    assert service["ports"] == [
        {"name": "webhook", "port": 80, "targetPort": "webhook", "protocol": "TCP"}
    ]
    labels = pod["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in service["selector"].items())

    policies = by_kind(docs, "NetworkPolicy")
    hook = policies[f"{RELEASE}-townsquare-webhook"]["spec"]
    assert all(labels.get(k) == v for k, v in hook["podSelector"]["matchLabels"].items())
    (rule,) = hook["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8088}]
    assert rule["from"] == WEBHOOK["ingest"]["webhook"]["from"]
    # Its egress (Kafka, DNS) is the ingest policy's, which also selects it.
    ingest = policies[f"{RELEASE}-townsquare-ingest"]["spec"]
    assert all(labels.get(k) == v for k, v in ingest["podSelector"]["matchLabels"].items())


@needs_helm
def test_no_webhook_service_or_policy_unless_enabled() -> None:
    docs = render()
    assert f"{RELEASE}-townsquare-webhook" not in by_kind(docs, "Service")
    assert f"{RELEASE}-townsquare-webhook" not in by_kind(docs, "NetworkPolicy")
    assert not [n for n in by_kind(docs, "Deployment") if "-ingest-" in n]


def test_schema_takes_the_webhook_values() -> None:
    jsonschema.validate(merged(WEBHOOK), schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(merged({"ingest": {"webhook": {"port": 80}}}), schema())


# --- the README's install, as written -------------------------------------------------------


def _set_values(assignments: list[str]) -> dict[str, Any]:
    r"""Helm's ``--set`` for what a README uses: dotted keys, ``\,`` escapes, ``{a,b}`` lists.

    Like Helm, an unescaped comma starts a new ``key=value``; a part without
    ``=`` is the error Helm prints (``key "..." has no value``).
    """
    out: dict[str, Any] = {}
    for assignment in assignments:
        parts: list[str] = []
        current, depth, i = "", 0, 0
        while i < len(assignment):
            ch = assignment[i]
            if ch == "\\" and i + 1 < len(assignment):
                current += assignment[i + 1]
                i += 2
                continue
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                parts.append(current)
                current = ""
            else:
                current += ch
            i += 1
        parts.append(current)
        for part in parts:
            if "=" not in part:
                raise ValueError(f'key "{part}" has no value')
            key, value = part.split("=", 1)
            parsed: Any = value
            if value.startswith("{") and value.endswith("}"):
                parsed = [yaml.safe_load(v) for v in value[1:-1].split(",")]
            elif re.fullmatch(r"-?\d+", value):
                parsed = int(value)
            elif value in ("true", "false"):
                parsed = value == "true"
            node = out
            *path, last = key.split(".")
            for name in path:
                node = node.setdefault(name, {})
            node[last] = parsed
    return out


def _readme_install() -> tuple[dict[str, Any], list[str], list[str]]:
    """The values file, the ``helm install`` arguments, and the ``--set`` alternatives."""
    import shlex

    text = (ROOT / "README.md").read_text()
    deploy = text[text.index("## Deploy") :]
    deploy = deploy[: deploy.index("\n## ", 4)]
    (values_block,) = re.findall(r"```yaml\n# townsquare-values\.yaml\n(.*?)```", deploy, re.S)
    commands = re.findall(r"```(?:sh|bash)\n(.*?)```", deploy, re.S)
    install = [
        line
        for block in commands
        for line in block.replace("\\\n", " ").splitlines()
        if line.strip().startswith("helm install")
    ]
    assert len(install) == 1, install
    alternatives = re.findall(r"`(--set [^`]+)`", deploy)
    return yaml.safe_load(values_block), shlex.split(install[0]), alternatives


def test_set_parsing_fails_like_helm_on_an_unescaped_comma() -> None:
    with pytest.raises(ValueError, match=re.escape('key "b-2.kafka:9096" has no value')):
        _set_values(["kafka.bootstrap=b-1.kafka:9096,b-2.kafka:9096"])
    assert _set_values([r"kafka.bootstrap=b-1.kafka:9096\,b-2.kafka:9096", "kafka.ports={9096}"])[
        "kafka"
    ] == {"bootstrap": "b-1.kafka:9096,b-2.kafka:9096", "ports": [9096]}


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Helm's order: the values file first, then each ``--set`` over it."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


@needs_helm
def test_the_readme_install_renders_as_written() -> None:
    import shlex

    values, argv, alternatives = _readme_install()
    assert argv[:4] == ["helm", "install", "townsquare", "helm/townsquare"]
    files = [argv[i + 1] for i, a in enumerate(argv) if a in ("-f", "--values")]
    assert files == ["townsquare-values.yaml"]
    sets = _set_values([argv[i + 1] for i, a in enumerate(argv) if a == "--set"])
    combined = _deep_merge(values, sets)
    jsonschema.validate(merged(combined), schema())
    env = by_kind(render(combined), "ConfigMap")[ENV_CONFIGMAP]["data"]
    assert env["TOWNSQUARE_KAFKA_BOOTSTRAP"].count(",") == 1  # both brokers, one value
    assert env["TOWNSQUARE_PROFILE_PATH"].startswith("/etc/townsquare/profile/")
    # Every --set alternative the section shows parses (its comma escaped) and renders.
    assert alternatives
    for alternative in alternatives:
        _flag, assignment = shlex.split(alternative)
        alt = _deep_merge(combined, _set_values([assignment]))
        jsonschema.validate(merged(alt), schema())
        env = by_kind(render(alt), "ConfigMap")[ENV_CONFIGMAP]["data"]
        assert env["TOWNSQUARE_KAFKA_BOOTSTRAP"].count(",") == 1


# --- Kafka security: mutual TLS and OAUTHBEARER -------------------------------------------

KAFKA_CLIENT_DIR = "/etc/townsquare/kafka-client"
MTLS: dict[str, Any] = {
    **EVERYTHING_ON,
    "kafka": {
        **EVERYTHING_ON["kafka"],
        "securityProtocol": "SSL",
        "saslMechanism": "",
        "saslUsername": "",
        "existingSecret": "",
        "clientCertSecret": "townsquare-kafka-client",
    },
}
OAUTH_VALUES = {
    "tokenUrl": "https://idp.example/oauth2/token",
    "clientId": "townsquare",
    "scope": "kafka.read kafka.write",
    "existingSecret": "townsquare-kafka-oauth",
}
OAUTH: dict[str, Any] = {
    **EVERYTHING_ON,
    "kafka": {
        **EVERYTHING_ON["kafka"],
        "saslMechanism": "OAUTHBEARER",
        "saslUsername": "",
        "existingSecret": "",
        "oauth": OAUTH_VALUES,
    },
}
KAFKA_SECURITY_ENV = {
    "TOWNSQUARE_KAFKA_SSL_CERTFILE",
    "TOWNSQUARE_KAFKA_SSL_KEYFILE",
    "TOWNSQUARE_KAFKA_SSL_KEY_PASSWORD",
    "TOWNSQUARE_KAFKA_SSL_KEY_PASSWORD_FILE",
    "TOWNSQUARE_KAFKA_OAUTH_TOKEN_URL",
    "TOWNSQUARE_KAFKA_OAUTH_CLIENT_ID",
    "TOWNSQUARE_KAFKA_OAUTH_CLIENT_SECRET",
    "TOWNSQUARE_KAFKA_OAUTH_CLIENT_SECRET_FILE",
    "TOWNSQUARE_KAFKA_OAUTH_SCOPE",
}
KAFKA_SECURITY_VOLUMES = {"kafka-client", "kafka-client-key-password", "kafka-oauth-secret"}


def _kafka(overrides: dict[str, Any]) -> dict[str, Any]:
    return {"kafka": {**EVERYTHING_ON["kafka"], **overrides}}


def _settings_from(docs: list[dict[str, Any]]) -> Settings:
    (configmap,) = [
        d for d in by_kind(docs, "ConfigMap").values() if d["metadata"]["name"] == ENV_CONFIGMAP
    ]
    return Settings.model_validate(
        {k.removeprefix("TOWNSQUARE_").lower(): v for k, v in configmap["data"].items()}
    )


def test_schema_takes_the_kafka_security_values() -> None:
    for overrides in (
        MTLS,
        OAUTH,
        {**MTLS, "kafka": {**MTLS["kafka"], "clientKeyPasswordKey": "k"}},
    ):
        jsonschema.validate(merged(overrides), schema())
    defaults = default_values()["kafka"]
    assert defaults["clientCertSecret"] == "" and defaults["clientKeyPasswordKey"] == ""
    assert (defaults["clientCertKey"], defaults["clientKeyKey"]) == ("tls.crt", "tls.key")
    assert defaults["oauth"] == {
        "tokenUrl": "",
        "clientId": "",
        "scope": "",
        "existingSecret": "",
        "clientSecretKey": "client-secret",
    }


@needs_helm
@pytest.mark.parametrize("overrides", [{}, EVERYTHING_ON, {"secretsAs": "env", **EVERYTHING_ON}])
def test_no_client_certificate_or_oauth_unless_configured(overrides: dict[str, Any]) -> None:
    docs = render(overrides)
    assert not env_names(docs) & KAFKA_SECURITY_ENV
    for name, spec in pod_specs(docs):
        assert not {v["name"] for v in spec["volumes"]} & KAFKA_SECURITY_VOLUMES, name
    for name, container in containers(docs):
        assert not {m["name"] for m in container["volumeMounts"]} & KAFKA_SECURITY_VOLUMES, name
        assert not any(m["mountPath"] == KAFKA_CLIENT_DIR for m in container["volumeMounts"])
    policy = by_kind(docs, "NetworkPolicy")[f"{RELEASE}-townsquare-workers"]
    assert len(policy["spec"]["egress"]) == 3, "DNS, Kafka and Elasticsearch only"


@needs_helm
@pytest.mark.parametrize("secrets_as", ["file", "env"])
def test_a_client_certificate_is_mounted_into_every_kafka_pod(secrets_as: str) -> None:
    docs = render({**MTLS, "secretsAs": secrets_as})
    settings = _settings_from(docs)
    assert str(settings.kafka_ssl_certfile) == f"{KAFKA_CLIENT_DIR}/tls.crt"
    assert str(settings.kafka_ssl_keyfile) == f"{KAFKA_CLIENT_DIR}/tls.key"
    assert not env_names(docs) & {n for n in KAFKA_SECURITY_ENV if "PASSWORD" in n}
    specs = dict(pod_specs(docs))
    assert len(specs) == len(ROLES) + 2 + 1, "every role, both ingest sources and the setup job"
    for name, container in containers(docs):
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == KAFKA_CLIENT_DIR]
        assert mount["readOnly"] is True, name
        (volume,) = [v for v in specs[name]["volumes"] if v["name"] == mount["name"]]
        assert volume["secret"]["secretName"] == "townsquare-kafka-client", name
        assert volume["secret"]["items"] == [
            {"key": "tls.crt", "path": "tls.crt"},
            {"key": "tls.key", "path": "tls.key"},
        ]
    (job,) = by_kind(docs, "Job").values()
    job_env = {
        e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert job_env["TOWNSQUARE_KAFKA_SSL_KEYFILE"] == f"{KAFKA_CLIENT_DIR}/tls.key"


@needs_helm
def test_an_encrypted_client_key_takes_its_passphrase_as_secrets_as_says() -> None:
    kafka = {**MTLS["kafka"], "clientCertKey": "cert.pem", "clientKeyKey": "key.pem"}
    kafka["clientKeyPasswordKey"] = "passphrase"
    as_files = render({**MTLS, "kafka": kafka})
    specs = dict(pod_specs(as_files))
    seen = 0
    for name, container in containers(as_files):
        env = {e["name"]: e for e in container["env"]}
        assert "TOWNSQUARE_KAFKA_SSL_KEY_PASSWORD" not in env, name
        path = env["TOWNSQUARE_KAFKA_SSL_KEY_PASSWORD_FILE"]["value"]
        assert path.endswith("/passphrase") and not path.startswith(KAFKA_CLIENT_DIR), name
        (mount,) = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
        assert mount["readOnly"] is True, name
        (volume,) = [v for v in specs[name]["volumes"] if v["name"] == mount["name"]]
        assert volume["secret"]["secretName"] == "townsquare-kafka-client", name
        assert volume["secret"]["items"] == [{"key": "passphrase", "path": "passphrase"}]
        # The certificate mount holds the certificate and key only.
        (client,) = [v for v in specs[name]["volumes"] if v["name"] == "kafka-client"]
        assert [i["key"] for i in client["secret"]["items"]] == ["cert.pem", "key.pem"]
        seen += 1
    assert seen == len(ROLES) + 2 + 1
    as_env = render({**MTLS, "kafka": kafka, "secretsAs": "env"})
    for name, container in containers(as_env):
        env = {e["name"]: e for e in container["env"]}
        assert "TOWNSQUARE_KAFKA_SSL_KEY_PASSWORD_FILE" not in env, name
        ref = env["TOWNSQUARE_KAFKA_SSL_KEY_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "townsquare-kafka-client", "key": "passphrase"}, name
        assert not any(m["name"] == "kafka-client-key-password" for m in container["volumeMounts"])
    for docs in (as_files, as_env):
        (configmap,) = [
            d for d in by_kind(docs, "ConfigMap").values() if d["metadata"]["name"] == ENV_CONFIGMAP
        ]
        assert not {k for k in configmap["data"] if "PASSWORD" in k}


@needs_helm
def test_oauthbearer_reaches_every_kafka_pod_with_its_client_secret_as_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = render(OAUTH)
    assert not env_names(docs) - allowed_env_names()
    specs = dict(pod_specs(docs))
    seen = 0
    for name, container in containers(docs):
        env = {e["name"]: e for e in container["env"]}
        assert "TOWNSQUARE_KAFKA_OAUTH_CLIENT_SECRET" not in env, name
        path = env["TOWNSQUARE_KAFKA_OAUTH_CLIENT_SECRET_FILE"]["value"]
        assert path.endswith("/client-secret"), name
        (mount,) = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
        assert mount["readOnly"] is True, name
        (volume,) = [v for v in specs[name]["volumes"] if v["name"] == mount["name"]]
        assert volume["secret"]["secretName"] == "townsquare-kafka-oauth", name
        assert volume["secret"]["items"] == [{"key": "client-secret", "path": "client-secret"}]
        seen += 1
    assert seen == len(ROLES) + 2 + 1
    (job,) = by_kind(docs, "Job").values()
    job_env = {
        e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert job_env["TOWNSQUARE_KAFKA_OAUTH_TOKEN_URL"] == OAUTH_VALUES["tokenUrl"]
    # What the pods get is what Settings accepts: plain values from the ConfigMap, the
    # client secret from the mounted file (here a local stand-in for the mount).
    secret_file = tmp_path / "client-secret"
    secret_file.write_text("s3cret\n", encoding="utf-8")
    monkeypatch.setenv("TOWNSQUARE_KAFKA_OAUTH_CLIENT_SECRET_FILE", str(secret_file))
    settings = _settings_from(docs)
    assert settings.kafka_sasl_mechanism == "OAUTHBEARER"
    assert settings.kafka_oauth_token_url == OAUTH_VALUES["tokenUrl"]
    assert settings.kafka_oauth_client_id == "townsquare"
    assert settings.kafka_oauth_scope == "kafka.read kafka.write"
    assert settings.kafka_oauth_client_secret is not None
    assert settings.kafka_oauth_client_secret.get_secret_value() == "s3cret"


@needs_helm
def test_oauthbearer_client_secret_as_a_secret_ref() -> None:
    docs = render({**OAUTH, "secretsAs": "env"})
    seen = 0
    for name, container in containers(docs):
        env = {e["name"]: e for e in container["env"]}
        assert "TOWNSQUARE_KAFKA_OAUTH_CLIENT_SECRET_FILE" not in env, name
        ref = env["TOWNSQUARE_KAFKA_OAUTH_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "townsquare-kafka-oauth", "key": "client-secret"}, name
        assert not any(m["name"] == "kafka-oauth-secret" for m in container["volumeMounts"])
        seen += 1
    assert seen == len(ROLES) + 2 + 1
    (configmap,) = [
        d for d in by_kind(docs, "ConfigMap").values() if d["metadata"]["name"] == ENV_CONFIGMAP
    ]
    assert "TOWNSQUARE_KAFKA_OAUTH_CLIENT_SECRET" not in configmap["data"]
    assert configmap["data"]["TOWNSQUARE_KAFKA_OAUTH_CLIENT_ID"] == "townsquare"


@needs_helm
@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("https://idp.example/oauth2/token", 443),
        ("http://idp.internal/token", 80),
        ("https://idp.example:8443/token", 8443),
    ],
)
def test_the_network_policies_let_oauthbearer_reach_the_token_endpoint(url: str, port: int) -> None:
    peers = [{"ipBlock": {"cidr": "203.0.113.10/32"}}]
    docs = render(
        {
            **OAUTH,
            "kafka": {**OAUTH["kafka"], "oauth": {**OAUTH_VALUES, "tokenUrl": url}},
            "networkPolicy": {**EVERYTHING_ON["networkPolicy"], "oauthTokenPeers": peers},
        }
    )
    policies = by_kind(docs, "NetworkPolicy")
    for name in (f"{RELEASE}-townsquare-workers", f"{RELEASE}-townsquare-ingest"):
        rules = policies[name]["spec"]["egress"]
        assert {"to": peers, "ports": [{"protocol": "TCP", "port": port}]} in rules, name


def _security_error(overrides: dict[str, Any]) -> str:
    with pytest.raises(Exception) as raised:  # the helm binary or the Go SDK
        render(overrides)
    return " ".join(str(raised.value).split())


@needs_helm
@pytest.mark.parametrize(
    ("kafka", "message"),
    [
        (
            {"securityProtocol": "PLAINTEXT", "saslMechanism": "", "clientCertSecret": "c"},
            "kafka.clientCertSecret is set but kafka.securityProtocol is PLAINTEXT, which does "
            "not use TLS: set kafka.securityProtocol to SSL or SASL_SSL",
        ),
        (
            {"securityProtocol": "SASL_PLAINTEXT", "clientCertSecret": "c"},
            "kafka.clientCertSecret is set but kafka.securityProtocol is SASL_PLAINTEXT",
        ),
        (
            {"clientKeyPasswordKey": "passphrase"},
            "kafka.clientKeyPasswordKey is set but kafka.clientCertSecret is not",
        ),
        (
            {"securityProtocol": "SSL", "saslMechanism": "OAUTHBEARER", "oauth": OAUTH_VALUES},
            "kafka.saslMechanism OAUTHBEARER is a SASL mechanism but kafka.securityProtocol is "
            "SSL: set it to SASL_SSL",
        ),
        (
            {"saslMechanism": "OAUTHBEARER"},
            "but kafka.oauth.tokenUrl, kafka.oauth.clientId, kafka.oauth.existingSecret are "
            "empty: set them",
        ),
        (
            {"saslMechanism": "OAUTHBEARER", "oauth": {**OAUTH_VALUES, "tokenUrl": ""}},
            "but kafka.oauth.tokenUrl is empty: set it",
        ),
        (
            {"saslMechanism": "OAUTHBEARER", "oauth": {**OAUTH_VALUES, "clientId": ""}},
            "but kafka.oauth.clientId is empty: set it",
        ),
        (
            {"saslMechanism": "OAUTHBEARER", "oauth": {**OAUTH_VALUES, "existingSecret": ""}},
            "but kafka.oauth.existingSecret is empty: set it",
        ),
    ],
)
def test_kafka_security_the_service_refuses_fails_the_render(
    kafka: dict[str, Any], message: str
) -> None:
    assert message in _security_error(_kafka(kafka))


@needs_helm
def test_schema_refuses_an_unknown_sasl_mechanism_at_render_time() -> None:
    with pytest.raises(Exception, match=r"(?i)saslMechanism|enum|schema"):
        render(_kafka({"saslMechanism": "GSSAPI"}))
