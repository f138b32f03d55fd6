"""Index templates, the ILM policy and write aliases, installed idempotently.

Templates are JSON files under ``schemas/elasticsearch`` (data, not code). Their
index patterns are rewritten for the configured prefix. Posts and alerts are
written through write aliases (``<prefix>-posts``) over numbered indices
(``<prefix>-posts-000001``), which ILM rolls over where the server supports it.

The conversations family (one document per thread, its current state, from
``conversations.state``) has a write alias the same way but no ILM policy:
its documents are updated in place for as long as a thread lives, so an index
deleted for its age would take live threads with it. A thread's document
leaves when the thread does (the enrich stage's retention sweep publishes its
tombstone, the index stage deletes it); ``retention apply`` covers servers
and mishaps the same way, by ``last_activity``.
A server without the ILM API (the local stand-in, some managed offerings) gets
everything else and a plain note saying ILM was skipped and pointing to
``townsquare retention apply``; the code never asks which server it is talking to.

The policy is kept in step with the settings, not only created: a policy that
exists with another delete age or rollover than ``TOWNSQUARE_RETENTION_DAYS``
and the shipped policy file ask for is replaced, because a retention shortened
in the settings must shorten it on the cluster too (posts kept longer than
promised are the failure that matters here).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any, Literal

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from streams.settings import Settings

FAMILIES: tuple[str, ...] = ("posts", "alerts", "conversations")
UNMANAGED: frozenset[str] = frozenset({"conversations"})
"""Families without an ILM policy: current state, not a log (see the module docstring)."""


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
    """The family's template with this deployment's prefix and ILM policy (none if UNMANAGED)."""
    body = load_template(family)
    body["index_patterns"] = [f"{settings.index_alias(family)}-*"]
    index_settings = body["template"].setdefault("settings", {})
    if family not in UNMANAGED:
        index_settings["index.lifecycle.name"] = ilm_policy_name(settings)
        index_settings["index.lifecycle.rollover_alias"] = settings.index_alias(family)
    return body


def ilm_policy_name(settings: Settings) -> str:
    return f"{settings.index_prefix}-retention"


IlmOutcome = Literal["created", "updated", "exists", "unsupported"]

_NO_ILM_STATUSES = (400, 404, 405)
"""What a server without the ILM API answers on ``/_ilm/policy``: the local stand-in
says 400 "no handler found", others 404 or 405."""


@dataclass
class SetupReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)


def _delete_age(policy: dict[str, Any]) -> str | None:
    age = policy.get("phases", {}).get("delete", {}).get("min_age")
    return str(age) if age is not None else None


def _rollover(policy: dict[str, Any]) -> dict[str, Any] | None:
    rollover = policy.get("phases", {}).get("hot", {}).get("actions", {}).get("rollover")
    return dict(rollover) if isinstance(rollover, dict) else None


def _differences(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """What of ``wanted`` the stored policy lacks, in words, e.g. ``delete after 30d, was 90d``.

    Only the parts townsquare decides are compared (the delete phase's age and
    the rollover action): Elasticsearch returns a stored policy with defaults
    filled in (a hot phase's ``min_age: 0ms``, say), so comparing whole
    documents would rewrite an unchanged policy on every ``setup``.
    """
    out: list[str] = []
    want_age, have_age = _delete_age(wanted), _delete_age(stored)
    if want_age != have_age:
        out.append(f"delete after {want_age}, was {have_age or 'never'}")
    want_roll, have_roll = _rollover(wanted), _rollover(stored)
    if want_roll != have_roll:
        out.append(f"rollover {_words(want_roll)}, was {_words(have_roll)}")
    return out


def _words(rollover: dict[str, Any] | None) -> str:
    if not rollover:
        return "none"
    return " ".join(f"{key}={value}" for key, value in sorted(rollover.items()))


def sync_ilm_policy(
    es: Elasticsearch, settings: Settings, report: SetupReport | None = None
) -> IlmOutcome:
    """Create the retention policy, or bring an existing one in line with the settings.

    Returns what happened and, given a ``report``, adds the line that says so.
    ``unsupported`` means the server has no ILM API: nothing deletes old posts
    there unless ``townsquare retention apply`` runs on a schedule, which the
    note says.
    """
    report = report if report is not None else SetupReport()
    name = ilm_policy_name(settings)
    wanted = load_ilm_policy(settings.retention_days)
    try:
        try:
            stored = es.ilm.get_lifecycle(name=name).body.get(name, {}).get("policy", {})
        except NotFoundError:
            es.ilm.put_lifecycle(name=name, **wanted)
            report.created.append(
                f"ilm policy {name} (delete after {_delete_age(wanted['policy'])})"
            )
            return "created"
        changes = _differences(stored, wanted["policy"])
        if not changes:
            report.existing.append(f"ilm policy {name}")
            return "exists"
        es.ilm.put_lifecycle(name=name, **wanted)
        report.updated.append(f"ilm policy {name} ({'; '.join(changes)})")
        return "updated"
    except ApiError as exc:
        if exc.meta.status not in _NO_ILM_STATUSES:
            raise
        report.unsupported.append(
            f"ILM ({exc.meta.status}: the server has no ILM API; run `townsquare retention "
            f"apply` daily to delete posts older than {settings.retention_days} days)"
        )
        return "unsupported"


def install(es: Elasticsearch, settings: Settings) -> SetupReport:
    """Install or update the ILM policy, templates and first write indices; safe to run again."""
    report = SetupReport()
    ilm = sync_ilm_policy(es, settings, report)
    for family in FAMILIES:
        name = settings.index_alias(family)
        body = template_for(settings, family)
        if ilm == "unsupported":
            body["template"]["settings"].pop("index.lifecycle.name", None)
            body["template"]["settings"].pop("index.lifecycle.rollover_alias", None)
        exists = es.indices.exists_index_template(name=name)
        es.indices.put_index_template(name=name, **body)
        (report.existing if exists else report.created).append(f"index template {name}")
        if es.indices.exists_alias(name=name):
            report.existing.append(f"write alias {name}")
            _sync_mappings(es, name, body, report)
        else:
            es.indices.create(index=f"{name}-000001", aliases={name: {"is_write_index": True}})
            report.created.append(f"write alias {name} -> {name}-000001")
    return report


def _sync_mappings(
    es: Elasticsearch, alias: str, body: dict[str, Any], report: SetupReport
) -> None:
    """Give the family's existing indices the fields a newer template adds.

    A template applies only to indices created after it, and the mappings are
    ``dynamic: strict``, so without this an upgrade that adds a field (a new
    schema version) would have every new document refused by the indices that
    already exist. Adding fields is always allowed; changing a field's type is
    not, and is reported (reindex into a new index, then move the alias).
    """
    mappings = body["template"].get("mappings", {})
    properties = mappings.get("properties")
    if not properties:
        return
    wanted = dict(properties)
    current = es.indices.get_mapping(index=f"{alias}-*", allow_no_indices=True)
    _report_type_changes(alias, wanted, dict(current), report)
    paths = _field_paths(wanted)
    missing = sorted(
        {
            path
            for index in current.values()
            for path in paths - _field_paths(index.get("mappings", {}).get("properties", {}))
        }
    )
    if not missing:
        return
    try:
        es.indices.put_mapping(index=f"{alias}-*", properties=wanted)
    except ApiError as exc:
        if exc.meta.status != 400:
            raise
            report.unsupported.append(
                f"mapping of {alias}: {exc.message or exc} (a field changed type: reindex into a "
                "new index and move the alias)"
            )
        return
    report.updated.append(f"mapping of {alias}: added {', '.join(missing)}")


def _report_type_changes(
    alias: str, wanted: dict[str, Any], current: dict[str, Any], report: SetupReport
) -> None:
    """Name each field whose type in an existing index differs from the template's.

    Elasticsearch cannot change a field's type in place, so ``put_mapping``
    is not even tried for these; the template still applies to the next index.
    """
    want = _field_types(wanted)
    changed = sorted(
        {
            f"{path} is {have} in {index}, the template says {want[path]}"
            for index, body in current.items()
            for path, have in _field_types(body.get("mappings", {}).get("properties", {})).items()
            if path in want and want[path] != have
        }
    )
    if changed:
        report.unsupported.append(
            f"mapping of {alias}: a field changed type ({'; '.join(changed)}): new documents "
            f"get it after a rollover (POST {alias}/_rollover); reindex older indices to "
            "change theirs (docs/upgrading.md)"
        )


def _field_types(properties: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Dotted path -> mapped type of every field that has one (objects have none)."""
    types: dict[str, str] = {}
    for name, spec in properties.items():
        if not isinstance(spec, dict):
            continue
        path = f"{prefix}{name}"
        if isinstance(spec.get("type"), str):
            types[path] = spec["type"]
        if isinstance(spec.get("properties"), dict):
            types |= _field_types(spec["properties"], f"{path}.")
    return types


def _field_paths(properties: dict[str, Any], prefix: str = "") -> set[str]:
    """Every field of a mapping as a dotted path (``joinability.reason_codes``), objects too.

    A new field inside an existing object (a minor schema version adds one)
    counts as missing as much as a new top-level field does.
    """
    paths: set[str] = set()
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        paths.add(path)
        if isinstance(spec, dict) and isinstance(spec.get("properties"), dict):
            paths |= _field_paths(spec["properties"], f"{path}.")
    return paths
