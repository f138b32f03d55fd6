"""Index templates, the ILM policy and write aliases, installed idempotently.

Templates are JSON files under ``schemas/elasticsearch`` (data, not code). Their
index patterns are rewritten for the configured prefix. Posts and alerts are
written through write aliases (``<prefix>-posts``) over numbered indices
(``<prefix>-posts-000001``), which ILM rolls over where the server supports it.
A server without the ILM API (the local stand-in, some managed offerings) gets
everything else and a plain note saying ILM was skipped; the code never asks
which server it is talking to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from streams.settings import Settings

FAMILIES: tuple[str, ...] = ("posts", "alerts")


def load_template(family: str) -> dict[str, Any]:
    text = files("schemas").joinpath("elasticsearch", f"{family}.template.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def load_ilm_policy(retention_days: int) -> dict[str, Any]:
    text = files("schemas").joinpath("elasticsearch", "ilm.policy.json").read_text()
    policy: dict[str, Any] = json.loads(text)
    policy["policy"]["phases"]["delete"]["min_age"] = f"{retention_days}d"
    return policy


def template_for(settings: Settings, family: str) -> dict[str, Any]:
    """The family's template with this deployment's prefix and ILM policy."""
    body = load_template(family)
    body["index_patterns"] = [f"{settings.index_alias(family)}-*"]
    index_settings = body["template"].setdefault("settings", {})
    index_settings["index.lifecycle.name"] = ilm_policy_name(settings)
    index_settings["index.lifecycle.rollover_alias"] = settings.index_alias(family)
    return body


def ilm_policy_name(settings: Settings) -> str:
    return f"{settings.index_prefix}-retention"


@dataclass
class SetupReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)


def install(es: Elasticsearch, settings: Settings) -> SetupReport:
    """Install ILM policy, templates and first write indices; safe to run again."""
    report = SetupReport()
    policy_name = ilm_policy_name(settings)
    try:
        try:
            es.ilm.get_lifecycle(name=policy_name)
            report.existing.append(f"ilm policy {policy_name}")
        except NotFoundError:
            es.ilm.put_lifecycle(name=policy_name, **load_ilm_policy(settings.retention_days))
            report.created.append(f"ilm policy {policy_name}")
    except ApiError as exc:
        if exc.meta.status not in (400, 404, 405):
            raise
        report.unsupported.append(
            f"ILM ({exc.meta.status}: the server has no ILM API; set retention on the cluster)"
        )
    for family in FAMILIES:
        name = settings.index_alias(family)
        body = template_for(settings, family)
        if any(u.startswith("ILM") for u in report.unsupported):
            body["template"]["settings"].pop("index.lifecycle.name", None)
            body["template"]["settings"].pop("index.lifecycle.rollover_alias", None)
        exists = es.indices.exists_index_template(name=name)
        es.indices.put_index_template(name=name, **body)
        (report.existing if exists else report.created).append(f"index template {name}")
        if es.indices.exists_alias(name=name):
            report.existing.append(f"write alias {name}")
        else:
            es.indices.create(index=f"{name}-000001", aliases={name: {"is_write_index": True}})
            report.created.append(f"write alias {name} -> {name}-000001")
    return report
