"""The ILM policy follows ``TOWNSQUARE_RETENTION_DAYS``: created, left alone, or updated.

The local search server has no ILM API, so the update path runs against a tiny
HTTP stub on 127.0.0.1 that answers ``GET``/``PUT /_ilm/policy/<name>`` the way
Elasticsearch does, through the real ``elasticsearch.Elasticsearch`` client.
The last test runs ``install`` against the real local server, which lacks ILM.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import ApiError, Elasticsearch
from support import Servers, isolated

from streams.es.client import sync_client
from streams.es.indices import (
    SetupReport,
    ilm_policy_name,
    install,
    load_ilm_policy,
    sync_ilm_policy,
)
from streams.settings import Settings

PREFIX = "tilm"
NAME = f"{PREFIX}-retention"


@dataclass
class IlmStub:
    """What the stub holds and was asked: stored policies, and every request as (method, path)."""

    url: str
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    ilm_status: int | None = None
    """Answer every ILM call with this status (400, 404, 405: a server without ILM; 500)."""


def _as_stored(policy: dict[str, Any]) -> dict[str, Any]:
    """A policy as Elasticsearch returns it: with the defaults it fills in."""
    stored = copy.deepcopy(policy)
    for phase in stored.get("phases", {}).values():
        phase.setdefault("min_age", "0ms")
        delete = phase.get("actions", {}).get("delete")
        if isinstance(delete, dict):
            delete.setdefault("delete_searchable_snapshot", True)
    return stored


def _handler(stub: IlmStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            # elasticsearch-py 8 refuses answers without the product header.
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> None:
            stub.requests.append((method, self.path))
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else {}
            path = self.path.split("?", 1)[0]
            if not path.startswith("/_ilm/policy/"):
                self._no_handler(method)
                return
            if stub.ilm_status is not None:
                self._error(stub.ilm_status, "stub_status", f"stub answers {stub.ilm_status}")
                return
            name = path.removeprefix("/_ilm/policy/")
            if method == "PUT":
                version = stub.policies.get(name, {}).get("version", 0) + 1
                stub.policies[name] = {"version": version, "policy": body["policy"]}
                self._answer(200, {"acknowledged": True})
            elif method == "GET" and name in stub.policies:
                held = stub.policies[name]
                self._answer(
                    200,
                    {
                        name: {
                            "version": held["version"],
                            "modified_date": "2026-05-01T10:00:00.000Z",
                            "policy": _as_stored(held["policy"]),
                            "in_use_by": {
                                "indices": [],
                                "data_streams": [],
                                "composable_templates": [],
                            },
                        }
                    },
                )
            elif method == "GET":
                reason = f"Lifecycle policy not found: {name}"
                self._error(404, "resource_not_found_exception", reason)
            else:
                self._no_handler(method)

        def _error(self, status: int, kind: str, reason: str) -> None:
            cause = {"type": kind, "reason": reason}
            self._answer(status, {"error": {"root_cause": [cause], **cause}, "status": status})

        def _no_handler(self, method: str) -> None:
            self._answer(
                400, {"error": f"no handler found for uri [{self.path}] and method [{method}]"}
            )

        def do_GET(self) -> None:
            self._route("GET")

        def do_PUT(self) -> None:
            self._route("PUT")

    return Handler


@pytest.fixture
def stub() -> Iterator[IlmStub]:
    holder = IlmStub(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(holder))
    holder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="ilm-stub", daemon=True)
    thread.start()
    try:
        yield holder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _settings(stub: IlmStub, days: int) -> Settings:
    return Settings(
        es_url=stub.url, index_prefix=PREFIX, retention_days=days, topic_retention_days=None
    )


@pytest.fixture
def es(stub: IlmStub) -> Iterator[Elasticsearch]:
    """The real client, talking to the stub."""
    client = Elasticsearch(stub.url, request_timeout=5, max_retries=0)
    try:
        yield client
    finally:
        client.close()


def _stored_age(stub: IlmStub) -> str:
    return str(stub.policies[NAME]["policy"]["phases"]["delete"]["min_age"])


def test_an_absent_policy_is_created_with_the_configured_retention(
    stub: IlmStub, es: Elasticsearch
) -> None:
    """The stub stands in for Elasticsearch's ILM API, which the local server lacks."""
    report = SetupReport()
    assert ilm_policy_name(_settings(stub, 30)) == NAME
    assert sync_ilm_policy(es, _settings(stub, 30), report) == "created"
    assert _stored_age(stub) == "30d"
    assert report.created == [f"ilm policy {NAME} (delete after 30d)"]


def test_an_equal_policy_is_left_alone(stub: IlmStub, es: Elasticsearch) -> None:
    """The stub stands in for Elasticsearch's ILM API, which the local server lacks.

    It returns the stored policy with the defaults Elasticsearch fills in
    (``min_age: 0ms``, ``delete_searchable_snapshot``), which must not count as
    a difference.
    """
    stub.policies[NAME] = {"version": 1, "policy": load_ilm_policy(30)["policy"]}
    report = SetupReport()
    assert sync_ilm_policy(es, _settings(stub, 30), report) == "exists"
    assert report.existing == [f"ilm policy {NAME}"] and report.updated == []
    assert [m for m, _ in stub.requests] == ["GET"], "nothing is written"
    assert stub.policies[NAME]["version"] == 1


def test_a_changed_retention_updates_the_existing_policy(stub: IlmStub, es: Elasticsearch) -> None:
    """The stub stands in for Elasticsearch's ILM API, which the local server lacks."""
    assert sync_ilm_policy(es, _settings(stub, 90)) == "created"
    assert _stored_age(stub) == "90d"

    report = SetupReport()
    assert sync_ilm_policy(es, _settings(stub, 30), report) == "updated"
    assert report.updated == [f"ilm policy {NAME} (delete after 30d, was 90d)"]
    assert _stored_age(stub) == "30d"
    assert stub.policies[NAME]["version"] == 2
    assert stub.policies[NAME]["policy"] == load_ilm_policy(30)["policy"]

    again = SetupReport()
    assert sync_ilm_policy(es, _settings(stub, 30), again) == "exists"
    assert again.updated == [] and stub.policies[NAME]["version"] == 2


def test_a_changed_rollover_or_a_missing_delete_phase_updates_the_policy(
    stub: IlmStub, es: Elasticsearch
) -> None:
    """The stub stands in for Elasticsearch's ILM API, which the local server lacks."""
    edited = load_ilm_policy(30)["policy"]
    edited["phases"]["hot"]["actions"]["rollover"] = {"max_age": "30d"}
    del edited["phases"]["delete"]
    stub.policies[NAME] = {"version": 4, "policy": edited}
    report = SetupReport()
    assert sync_ilm_policy(es, _settings(stub, 30), report) == "updated"
    (line,) = report.updated
    assert "delete after 30d, was never" in line
    assert "rollover max_age=7d max_primary_shard_size=25gb, was max_age=30d" in line
    assert stub.policies[NAME]["policy"] == load_ilm_policy(30)["policy"]


@pytest.mark.parametrize("status", [400, 404, 405])
def test_a_server_without_ilm_is_skipped_with_a_pointer_to_retention_apply(
    stub: IlmStub, es: Elasticsearch, status: int
) -> None:
    """The stub answers the ILM API as servers without it do."""
    stub.ilm_status = status
    report = SetupReport()
    assert sync_ilm_policy(es, _settings(stub, 30), report) == "unsupported"
    (note,) = report.unsupported
    assert note.startswith(f"ILM ({status}: the server has no ILM API")
    assert "townsquare retention apply" in note and "30 days" in note
    assert not stub.policies


def test_other_ilm_errors_are_not_taken_for_a_missing_api(stub: IlmStub, es: Elasticsearch) -> None:
    stub.ilm_status = 500
    with pytest.raises(ApiError):
        sync_ilm_policy(es, _settings(stub, 30))


@pytest.mark.integration
def test_install_on_the_local_server_skips_ilm_and_installs_the_rest(
    servers: Servers, tmp_path: Path
) -> None:
    if not servers.local:
        pytest.skip("only the local server lacks ILM")
    iso = isolated(servers, tmp_path, TOWNSQUARE_RETENTION_DAYS="30")
    client = sync_client(iso.settings)
    try:
        first = install(client, iso.settings)
        second = install(client, iso.settings)
        for report in (first, second):
            (note,) = report.unsupported
            assert note.startswith("ILM (400: the server has no ILM API")
            assert "townsquare retention apply" in note
            assert report.updated == []
        alias = iso.settings.index_alias("posts")
        assert f"write alias {alias} -> {alias}-000001" in first.created
        assert f"write alias {alias}" in second.existing
        template = client.indices.get_index_template(name=alias)["index_templates"][0]
        settings = template["index_template"]["template"].get("settings", {})
        assert "lifecycle" not in json.dumps(settings), "no ILM settings on a server without ILM"
    finally:
        client.close()
