"""Import the shipped Kibana saved objects through Kibana's saved objects API.

The NDJSON under ``deploy/kibana`` names the default index prefix
(``townsquare-posts*``); a deployment with another ``TOWNSQUARE_INDEX_PREFIX``
gets the data views (and the Vega visualisation that names its index) rewritten
before upload, so the dashboards read the indices this deployment writes.
Object ids are left alone: references between objects keep resolving, and a
second import overwrites the first (use a Kibana space per deployment).

Kibana credentials are not part of the pipeline's settings (the worker never
talks to Kibana), so they live in a small settings class of their own, read
from ``TOWNSQUARE_KIBANA_*`` variables; secrets may come from mounted files.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PREFIX = "townsquare"
IMPORT_PATH = "/api/saved_objects/_import"
_SECRET_FIELDS = ("api_key", "password")


class KibanaSettings(BaseSettings):
    """Where Kibana is and how to authenticate to it."""

    model_config = SettingsConfigDict(env_prefix="TOWNSQUARE_KIBANA_", frozen=True, extra="ignore")

    url: str | None = Field(
        default=None,
        description="TOWNSQUARE_KIBANA_URL: Kibana base URL (the --url option wins).",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="TOWNSQUARE_KIBANA_API_KEY: encoded API key, sent as "
        "`Authorization: ApiKey ...` (or a file via TOWNSQUARE_KIBANA_API_KEY_FILE).",
    )
    username: str | None = Field(
        default=None, description="TOWNSQUARE_KIBANA_USERNAME: basic-auth user (no API key set)."
    )
    password: SecretStr | None = Field(
        default=None,
        description="TOWNSQUARE_KIBANA_PASSWORD: basic-auth password "
        "(or a file via TOWNSQUARE_KIBANA_PASSWORD_FILE).",
    )
    ca_file: Path | None = Field(
        default=None, description="TOWNSQUARE_KIBANA_CA_FILE: CA bundle for Kibana's TLS."
    )
    timeout: float = Field(
        default=60.0, gt=0, description="TOWNSQUARE_KIBANA_TIMEOUT: seconds per request."
    )

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, values: dict[str, object]) -> dict[str, object]:
        for name in _SECRET_FIELDS:
            path = os.environ.get(f"TOWNSQUARE_KIBANA_{name.upper()}_FILE")
            if path and not values.get(name):
                values[name] = Path(path).read_text(encoding="utf-8").strip()
        return values


class KibanaError(RuntimeError):
    """Kibana could not be reached or refused the request; the message says what to do."""


@dataclass(frozen=True)
class ObjectError:
    type: str
    id: str
    title: str
    reason: str


@dataclass(frozen=True)
class ImportResult:
    success: bool
    success_count: int
    errors: list[ObjectError] = field(default_factory=list)


def default_objects_file() -> Path:
    """The saved objects in a source checkout, else where the container image puts them."""
    checkout = Path(__file__).resolve().parents[2] / "deploy" / "kibana" / "townsquare.ndjson"
    if checkout.is_file():
        return checkout
    return Path(sys.prefix) / "share" / "townsquare" / "kibana" / "townsquare.ndjson"


def _reprefix(pattern: str, prefix: str) -> str:
    head = f"{DEFAULT_PREFIX}-"
    return f"{prefix}-{pattern[len(head) :]}" if pattern.startswith(head) else pattern


def rewrite_index_prefix(ndjson: str, prefix: str) -> str:
    """Point data views (and Vega specs naming an index) at ``prefix``'s indices."""
    if prefix == DEFAULT_PREFIX:
        return ndjson
    lines = []
    for line in ndjson.splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        attrs = obj.get("attributes", {})
        if obj.get("type") == "index-pattern":
            for key in ("title", "pattern"):
                if isinstance(attrs.get(key), str):
                    attrs[key] = _reprefix(attrs[key], prefix)
        elif obj.get("type") == "visualization" and isinstance(attrs.get("visState"), str):
            state = json.loads(attrs["visState"])
            if state.get("type") == "vega":
                spec = json.loads(state["params"]["spec"])
                url = spec.get("data", {}).get("url", {})
                if isinstance(url.get("index"), str):
                    url["index"] = _reprefix(url["index"], prefix)
                    state["params"]["spec"] = json.dumps(spec, indent=2, ensure_ascii=False)
                    attrs["visState"] = json.dumps(state, ensure_ascii=False)
        lines.append(json.dumps(obj, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def import_url(base_url: str, space: str | None) -> str:
    base = base_url.rstrip("/")
    return f"{base}/s/{space}{IMPORT_PATH}" if space else f"{base}{IMPORT_PATH}"


def _auth(settings: KibanaSettings) -> tuple[dict[str, str], httpx.BasicAuth | None]:
    if settings.api_key is not None:
        return {"Authorization": f"ApiKey {settings.api_key.get_secret_value()}"}, None
    if settings.username and settings.password is not None:
        return {}, httpx.BasicAuth(settings.username, settings.password.get_secret_value())
    return {}, None


def parse_response(data: dict[str, Any]) -> ImportResult:
    errors = []
    for item in data.get("errors") or []:
        error = item.get("error") or {}
        reason = str(error.get("type", "unknown"))
        detail = error.get("message") or error.get("reason")
        if error.get("references"):
            missing = ", ".join(f"{r.get('type')}/{r.get('id')}" for r in error["references"])
            detail = f"missing {missing}"
        errors.append(
            ObjectError(
                type=str(item.get("type", "?")),
                id=str(item.get("id", "?")),
                title=str(item.get("title") or (item.get("meta") or {}).get("title") or ""),
                reason=f"{reason}: {detail}" if detail else reason,
            )
        )
    return ImportResult(
        success=bool(data.get("success")),
        success_count=int(data.get("successCount") or 0),
        errors=errors,
    )


def import_saved_objects(
    base_url: str,
    ndjson: str,
    settings: KibanaSettings,
    *,
    space: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> ImportResult:
    """POST the NDJSON to the import API (overwriting); raise KibanaError if Kibana says no."""
    headers, auth = _auth(settings)
    headers["kbn-xsrf"] = "true"
    url = import_url(base_url, space)
    verify: str | bool = str(settings.ca_file) if settings.ca_file else True
    try:
        with httpx.Client(
            timeout=settings.timeout, verify=verify, transport=transport, auth=auth
        ) as client:
            resp = client.post(
                url,
                params={"overwrite": "true"},
                headers=headers,
                files={"file": ("townsquare.ndjson", ndjson.encode("utf-8"), "application/ndjson")},
            )
    except httpx.HTTPError as exc:
        raise KibanaError(f"cannot reach Kibana at {base_url}: {exc}") from exc
    if resp.status_code in (401, 403):
        raise KibanaError(
            f"Kibana refused the credentials ({resp.status_code}); set TOWNSQUARE_KIBANA_API_KEY "
            "or TOWNSQUARE_KIBANA_USERNAME and TOWNSQUARE_KIBANA_PASSWORD"
        )
    try:
        data = resp.json()
    except ValueError:
        data = None
    if resp.status_code != 200 or not isinstance(data, dict):
        detail = data.get("message") if isinstance(data, dict) else resp.text[:300]
        raise KibanaError(f"Kibana answered {resp.status_code} on {url}: {detail}")
    return parse_response(data)
