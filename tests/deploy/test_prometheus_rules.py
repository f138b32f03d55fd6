"""Prometheus rules and the Grafana dashboard only use metrics the processes export.

A renamed metric silently turns an alert into one that can never fire, so every
series name in the rules and dashboard is checked against the collectors that
streams/metrics.py registers. When promtool is installed (Debian: ``prometheus``)
the rules are also checked and their unit tests (rules_test.yml) run.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from streams import metrics

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "townsquare.json"
PROMTOOL = shutil.which("promtool")

# Series Prometheus itself provides.
BUILTIN_SERIES = {"up"}
# PromQL words that look like metric names to the regex below.
PROMQL_WORDS = {
    "sum", "rate", "irate", "increase", "by", "without", "on", "ignoring", "and", "or",
    "unless", "histogram_quantile", "vector", "max", "min", "avg", "count", "round",
    "le", "bool", "offset", "group_left", "group_right", "label_values", "clamp_min",
    "abs", "absent", "topk", "bottomk",
}  # fmt: skip
_IDENT = re.compile(r"(?<![\w:$.\"'])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w\"'])")
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_BRACES = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")


def exported_series() -> set[str]:
    """Series names the registered collectors expose, suffixes included."""
    suffixes = {
        "counter": ("_total", "_created"),
        "gauge": ("",),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("", "_sum", "_count", "_created"),
    }
    names: set[str] = set()
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                names |= {family.name + suffix for suffix in suffixes[family.type]}
    return names


def series_in(expr: str) -> set[str]:
    """Metric and recording-rule names an expression reads (a small PromQL lexer)."""
    stripped = _RANGES.sub(" ", _BRACES.sub(" ", _STRINGS.sub(" ", expr)))
    # by (...) / on (...) lists hold label names, not series.
    stripped = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", stripped
    )
    found = set()
    for match in _IDENT.finditer(stripped):
        word = match.group(1)
        if word in PROMQL_WORDS or re.fullmatch(r"\d.*", word):
            continue
        found.add(word)
    return found


def rule_groups() -> list[dict[str, Any]]:
    return list(yaml.safe_load((PROM / "rules.yml").read_text())["groups"])


def rules() -> Iterator[dict[str, Any]]:
    for group in rule_groups():
        yield from group["rules"]


def recorded() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


def dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    exprs += [
        v["definition"].removeprefix("label_values(").split(",")[0]
        for v in dash["templating"]["list"]
        if v["type"] == "query"
    ]
    return exprs


def test_lexer_finds_series_not_labels_or_functions() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le, stage)"
        ' (rate(townsquare_stage_seconds_bucket{stage="x"}[5m])))'
        ' / on () townsquare:messages:rate5m > 0 and up{job=~"a|b"} == 0'
    )
    assert series_in(expr) == {
        "townsquare_stage_seconds_bucket",
        "townsquare:messages:rate5m",
        "up",
    }


def test_exported_series_follow_the_client_naming() -> None:
    names = exported_series()
    assert "townsquare_messages_total" in names
    assert "townsquare_end_to_end_seconds_bucket" in names
    assert "townsquare_es_up" in names
    assert "townsquare_messages" not in names


def test_rule_metrics_exist() -> None:
    known = exported_series() | recorded() | BUILTIN_SERIES
    used: set[str] = set()
    for rule in rules():
        names = series_in(str(rule["expr"]))
        assert names, rule
        unknown = names - known
        assert not unknown, f"{rule.get('alert') or rule.get('record')}: unknown series {unknown}"
        used |= names
    # Every exported family is watched by at least one rule.
    families = {re.sub(r"_(total|bucket|sum|count|created)$", "", n) for n in exported_series()}
    watched = {re.sub(r"_(total|bucket|sum|count|created)$", "", n) for n in used}
    assert families - watched <= {"townsquare_batch_size", "townsquare_es_failures"}


RUNBOOKS = ROOT / "docs" / "runbooks.md"
RUNBOOK_BASE = "https://github.com/townsquare/townsquare/blob/main/docs/runbooks.md#"


def runbook_anchors() -> set[str]:
    """Anchors of docs/runbooks.md's headings, as GitHub derives them (lower case, - for spaces)."""
    anchors = set()
    for line in RUNBOOKS.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_every_alert_has_a_runbook_section() -> None:
    """A paged engineer must land on what to do: every alert links an existing section."""
    anchors = runbook_anchors()
    alerts = [rule for rule in rules() if "alert" in rule]
    assert alerts
    for rule in alerts:
        url = rule["annotations"].get("runbook_url")
        assert url, f"{rule['alert']} has no runbook_url"
        base, _, anchor = str(url).partition("#")
        assert base + "#" == RUNBOOK_BASE, f"{rule['alert']}: {url} is not docs/runbooks.md"
        assert anchor == rule["alert"].lower(), f"{rule['alert']}: anchor {anchor!r}"
        assert anchor in anchors, f"{rule['alert']}: docs/runbooks.md has no section #{anchor}"


def test_runbook_anchors_follow_github_headings() -> None:
    assert "townsquaredeadletterratehigh" in runbook_anchors()
    assert "runbooks" in runbook_anchors()


def test_required_alerts_exist() -> None:
    alerts = {rule["alert"]: rule for rule in rules() if "alert" in rule}
    assert "townsquare_dead_letters_total" in alerts["TownsquareDeadLetterRateHigh"]["expr"]
    assert "townsquare_consumer_lag" in alerts["TownsquareConsumerLagHigh"]["expr"]
    assert "townsquare_es_up" in alerts["TownsquareElasticsearchSinkDown"]["expr"]
    latency = alerts["TownsquareEndToEndLatencyHigh"]["expr"]
    assert (
        "histogram_quantile(0.95" in latency and "townsquare_end_to_end_seconds_bucket" in latency
    )
    assert "townsquare_messages_total" in alerts["TownsquareNoMessagesProcessed"]["expr"]
    for rule in alerts.values():
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}
        assert rule["annotations"]["summary"]


def test_silent_source_alert_matches_the_alert_stage() -> None:
    """Per source, no increase for a while after traffic before; file replays never count.

    The same ``source`` label as the envelopes' source, which the alert stage's own
    silence alert (streams/steps/silence.py) names.
    """
    from streams.steps.silence import FINITE_SOURCES

    alerts = {rule["alert"]: rule for rule in rules() if "alert" in rule}
    silent = alerts["TownsquareSourceSilent"]
    expr = " ".join(str(silent["expr"]).split())
    assert "townsquare_ingested_total" in series_in(expr)
    assert expr.count("sum by (source) (increase(townsquare_ingested_total") == 2
    assert "== 0" in expr and "offset" in expr and "> 0" in expr
    for source in FINITE_SOURCES:
        assert expr.count(f'source!="{source}"') == 2
    assert "{{ $labels.source }}" in silent["annotations"]["summary"]


def test_dashboard_metrics_exist() -> None:
    known = exported_series() | recorded()
    exprs = dashboard_exprs()
    assert len(exprs) >= 10
    for expr in exprs:
        names = series_in(expr.replace("$__rate_interval", "5m"))
        assert names, expr
        assert not names - known, f"{expr}: unknown series {names - known}"


def test_dashboard_is_well_formed() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dash["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24
        refs = [t["refId"] for t in panel.get("targets", [])]
        assert len(refs) == len(set(refs))


def test_grafana_provisioning_points_at_the_dashboard() -> None:
    prov = ROOT / "deploy" / "grafana" / "provisioning"
    datasources = yaml.safe_load((prov / "datasources" / "prometheus.yml").read_text())
    assert datasources["datasources"][0]["type"] == "prometheus"
    providers = yaml.safe_load((prov / "dashboards" / "townsquare.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_prometheus_config_loads_the_rules() -> None:
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    roles = {group["labels"]["role"] for group in jobs["townsquare"]["static_configs"]}
    # The ES-down alert selects on role, so the index role's target must carry it.
    assert "index" in roles


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (apt-get install prometheus)")
def test_promtool_check_rules() -> None:
    assert PROMTOOL is not None
    result = subprocess.run(
        [PROMTOOL, "check", "rules", str(PROM / "rules.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (apt-get install prometheus)")
def test_promtool_rule_unit_tests() -> None:
    assert PROMTOOL is not None
    result = subprocess.run(
        [PROMTOOL, "test", "rules", str(PROM / "rules_test.yml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
