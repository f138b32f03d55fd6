"""`townsquare kibana import` against a fake Kibana on 127.0.0.1 that checks what it is sent.

The fake answers like Kibana's saved objects import API: it insists on POST,
the import path (optionally under /s/<space>), ``overwrite=true``, the
``kbn-xsrf`` header, the configured credentials and a multipart body with a
``file`` part of NDJSON; it returns ``success``/``successCount``/``errors`` in
Kibana's shape, including an error case.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from streams.cli.main import app
from streams.es.kibana import (
    KibanaSettings,
    default_objects_file,
    import_saved_objects,
    rewrite_index_prefix,
)
from streams.settings import get_settings


@dataclass
class FakeKibana:
    url: str
    expected_auth: str | None = None
    expected_space: str | None = None
    fail_ids: set[str] = field(default_factory=set)
    received: list[list[dict[str, Any]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _handler(fake: FakeKibana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            fake.problems.append(f"GET {self.path}")
            self._send(405, {"statusCode": 405, "error": "Method Not Allowed"})

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            prefix = f"/s/{fake.expected_space}" if fake.expected_space else ""
            if parts.path != f"{prefix}/api/saved_objects/_import":
                fake.problems.append(f"path {parts.path}")
                self._send(404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"})
                return
            if parse_qs(parts.query) != {"overwrite": ["true"]}:
                fake.problems.append(f"query {parts.query}")
            if self.headers.get("kbn-xsrf") != "true":
                self._send(400, {"statusCode": 400, "message": "Request must contain a kbn-xsrf"})
                return
            if fake.expected_auth and self.headers.get("Authorization") != fake.expected_auth:
                self._send(401, {"statusCode": 401, "error": "Unauthorized"})
                return
            ctype = self.headers.get("Content-Type", "")
            if not ctype.startswith("multipart/form-data"):
                fake.problems.append(f"content type {ctype}")
            message = BytesParser(policy=HTTP).parsebytes(
                b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body
            )
            files = [
                p
                for p in message.iter_parts()
                if p.get_param("name", header="content-disposition") == "file"
            ]
            if len(files) != 1 or not str(files[0].get_filename()).endswith(".ndjson"):
                self._send(400, {"statusCode": 400, "message": "[request body.file]: expected"})
                return
            payload = files[0].get_payload(decode=True)
            assert isinstance(payload, bytes)
            objects = [json.loads(line) for line in payload.decode().splitlines() if line.strip()]
            fake.received.append(objects)
            errors = [
                {
                    "id": o["id"],
                    "type": o["type"],
                    "title": o["attributes"].get("title"),
                    "meta": {"title": o["attributes"].get("title"), "icon": "app"},
                    "error": {
                        "type": "missing_references",
                        "references": [{"type": "index-pattern", "id": "nowhere"}],
                    },
                }
                for o in objects
                if o["id"] in fake.fail_ids
            ]
            ok = [o for o in objects if o["id"] not in fake.fail_ids]
            self._send(
                200,
                {
                    "success": not errors,
                    "successCount": len(ok),
                    "successResults": [
                        {"type": o["type"], "id": o["id"], "meta": {"title": "", "icon": ""}}
                        for o in ok
                    ],
                    **({"errors": errors} if errors else {}),
                },
            )

    return Handler


@pytest.fixture
def kibana() -> Iterator[FakeKibana]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(FakeKibana("")))
    fake = FakeKibana(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (
        "TOWNSQUARE_INDEX_PREFIX",
        "TOWNSQUARE_KIBANA_URL",
        "TOWNSQUARE_KIBANA_API_KEY",
        "TOWNSQUARE_KIBANA_USERNAME",
        "TOWNSQUARE_KIBANA_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _shipped() -> list[dict[str, Any]]:
    text = default_objects_file().read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _views(objects: list[dict[str, Any]]) -> dict[str, str]:
    return {o["id"]: o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}


def _vega_indices(objects: list[dict[str, Any]]) -> list[str]:
    out = []
    for o in objects:
        if o["type"] == "visualization":
            state = json.loads(o["attributes"]["visState"])
            if state["type"] == "vega":
                out.append(json.loads(state["params"]["spec"])["data"]["url"]["index"])
    return out


def test_default_prefix_leaves_the_file_as_shipped() -> None:
    text = default_objects_file().read_text(encoding="utf-8")
    assert rewrite_index_prefix(text, "townsquare") == text


def test_another_prefix_rewrites_data_views_and_vega_indices_only() -> None:
    text = default_objects_file().read_text(encoding="utf-8")
    rewritten = [json.loads(line) for line in rewrite_index_prefix(text, "acme").splitlines()]
    shipped = _shipped()
    assert _views(rewritten) == {
        "townsquare-posts": "acme-posts*",
        "townsquare-alerts": "acme-alerts*",
        "townsquare-conversations": "acme-conversations*",
    }
    assert _vega_indices(shipped) and set(_vega_indices(rewritten)) == {"acme-posts*"}
    # Everything else (ids, references, saved searches, the dashboard) is unchanged.
    assert [(o["type"], o["id"], o["references"]) for o in rewritten] == [
        (o["type"], o["id"], o["references"]) for o in shipped
    ]
    for before, after in zip(shipped, rewritten, strict=True):
        if before["type"] in {"search", "dashboard"}:
            assert before == after


def test_import_with_an_api_key_into_a_space(kibana: FakeKibana) -> None:
    kibana.expected_auth = "ApiKey c2VjcmV0"
    kibana.expected_space = "council"
    result = import_saved_objects(
        kibana.url,
        default_objects_file().read_text(encoding="utf-8"),
        KibanaSettings(api_key="c2VjcmV0"),
        space="council",
    )
    assert kibana.problems == []
    assert result.success is True
    assert result.success_count == len(_shipped())
    assert result.errors == []
    assert kibana.received == [_shipped()]


def test_cli_rewrites_the_prefix_uses_basic_auth_and_reports_success(
    kibana: FakeKibana, clean_env: None
) -> None:
    kibana.expected_auth = "Basic " + base64.b64encode(b"analyst:pa55").decode()
    env = {
        "TOWNSQUARE_INDEX_PREFIX": "acme",
        "TOWNSQUARE_KIBANA_USERNAME": "analyst",
        "TOWNSQUARE_KIBANA_PASSWORD": "pa55",
    }
    result = CliRunner().invoke(app, ["kibana", "import", "--url", kibana.url], env=env)
    assert result.exit_code == 0, result.output
    assert kibana.problems == []
    assert f"imported {len(_shipped())} saved objects" in result.output
    assert "success" in result.output
    [objects] = kibana.received
    assert _views(objects) == {
        "townsquare-posts": "acme-posts*",
        "townsquare-alerts": "acme-alerts*",
        "townsquare-conversations": "acme-conversations*",
    }
    assert "pa55" not in result.output


def test_cli_lists_object_errors_and_exits_non_zero(
    kibana: FakeKibana, clean_env: None, tmp_path: Path
) -> None:
    kibana.fail_ids = {"townsquare-joinable-now"}
    result = CliRunner().invoke(
        app, ["kibana", "import"], env={"TOWNSQUARE_KIBANA_URL": kibana.url}
    )
    assert result.exit_code == 1
    assert f"imported {len(_shipped()) - 1} saved objects" in result.output
    assert "failed" in result.output
    assert "townsquare-joinable-now" in result.output
    # The error console wraps long lines; compare words, not layout.
    words = " ".join(result.output.split())
    assert "search townsquare-joinable-now 'Joinable now': missing_references: " in words
    assert "missing index-pattern/nowhere" in words
    assert kibana.problems == []


def test_cli_says_what_to_do_on_bad_credentials_and_missing_url(
    kibana: FakeKibana, clean_env: None
) -> None:
    kibana.expected_auth = "ApiKey right"
    result = CliRunner().invoke(
        app,
        ["kibana", "import", "--url", kibana.url],
        env={"TOWNSQUARE_KIBANA_API_KEY": "wrong"},
    )
    assert result.exit_code == 1
    assert "TOWNSQUARE_KIBANA_API_KEY" in result.output
    assert "wrong" not in result.output
    missing = CliRunner().invoke(app, ["kibana", "import"])
    assert missing.exit_code == 1
    assert "--url" in missing.output


def test_cli_rejects_a_file_that_is_not_ndjson(
    kibana: FakeKibana, clean_env: None, tmp_path: Path
) -> None:
    bad = tmp_path / "objects.ndjson"
    bad.write_text("{not json\n", encoding="utf-8")
    result = CliRunner().invoke(
        app,
        ["kibana", "import", "--url", kibana.url, "--file", str(bad)],
        env={"TOWNSQUARE_INDEX_PREFIX": "acme"},
    )
    assert result.exit_code == 1
    assert "not a saved objects NDJSON" in result.output
    assert kibana.received == []


def test_unreachable_kibana_is_a_readable_error(clean_env: None) -> None:
    from support import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["kibana", "import", "--url", url])
    assert result.exit_code == 1
    # The one line every command gives when a server cannot be reached (streams.cli.console).
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"error: cannot connect to {url}/api/saved_objects/_import")
    assert "connection refused" in line and "Check the URL" in line
    assert "Traceback" not in result.output
