"""``townsquare retention apply`` against the real local search server.

The local server has no ILM, which is exactly where the command is needed: old
posts sit in rolled-over indices as well as the write index, and only a delete
by ``created_at`` across every index of the family removes them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import Isolated, Servers, free_port, isolated
from typer.testing import CliRunner

from streams.cli.main import app
from streams.cli.setup import run_setup
from streams.es.client import sync_client
from streams.es.retention import apply_retention

pytestmark = pytest.mark.integration

runner = CliRunner()
NOW = datetime.now(UTC)


def _at(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


def _post(post_id: str, days_ago: float) -> dict[str, Any]:
    return {
        "kind": "post",
        "id": post_id,
        "platform": "x",
        "created_at": _at(days_ago),
        "text": f"post {post_id} about the bins",
    }


def _alert(alert_id: str, days_ago: float) -> dict[str, Any]:
    return {"id": alert_id, "rule": "escalate", "post_id": alert_id, "created_at": _at(days_ago)}


@pytest.fixture
def seeded(servers: Servers, tmp_path: Path) -> Isolated:
    """Posts: one 60 days old in the first index; after a rollover one 45 days old and one
    2 days old in the second. Alerts: one 40 days old, one 1 day old. Retention: 30 days."""
    iso = isolated(servers, tmp_path, TOWNSQUARE_RETENTION_DAYS="30")
    run_setup(iso.settings)
    posts, alerts = iso.settings.index_alias("posts"), iso.settings.index_alias("alerts")
    es = sync_client(iso.settings)
    try:
        es.index(index=posts, id="x:old1", document=_post("x:old1", 60), refresh=True)
        rolled = es.indices.rollover(alias=posts)
        assert rolled["new_index"] == f"{posts}-000002"
        es.index(index=posts, id="x:old2", document=_post("x:old2", 45), refresh=True)
        es.index(index=posts, id="x:new", document=_post("x:new", 2), refresh=True)
        es.index(index=alerts, id="a:old", document=_alert("a:old", 40), refresh=True)
        es.index(index=alerts, id="a:new", document=_alert("a:new", 1), refresh=True)
    finally:
        es.close()
    return iso


def _where(iso: Isolated, family: str) -> dict[str, str]:
    """Document id -> the index holding it, over every index of the family."""
    es = sync_client(iso.settings)
    try:
        pattern = f"{iso.settings.index_alias(family)}-*"
        es.indices.refresh(index=pattern)
        hits = es.search(index=pattern, query={"match_all": {}}, size=100)["hits"]["hits"]
        return {h["_id"]: h["_index"] for h in hits}
    finally:
        es.close()


def _output(result: Any) -> str:
    return " ".join(result.output.split())  # rich may wrap long lines


def test_a_dry_run_counts_and_deletes_nothing(seeded: Isolated) -> None:
    posts_before, alerts_before = _where(seeded, "posts"), _where(seeded, "alerts")
    result = runner.invoke(app, ["retention", "apply", "--dry-run"], env=seeded.env)
    assert result.exit_code == 0, result.output
    out = _output(result)
    assert "dry run: nothing deleted; retention 30 days" in out
    assert "posts 2 older, would be deleted" in out
    assert "alerts 1 older, would be deleted" in out
    assert _where(seeded, "posts") == posts_before and len(posts_before) == 3
    assert _where(seeded, "alerts") == alerts_before and len(alerts_before) == 2


def test_apply_deletes_what_is_older_than_the_retention_in_every_index(seeded: Isolated) -> None:
    posts = seeded.settings.index_alias("posts")
    assert set(_where(seeded, "posts").values()) == {f"{posts}-000001", f"{posts}-000002"}

    result = runner.invoke(app, ["retention", "apply"], env=seeded.env)
    assert result.exit_code == 0, result.output
    out = _output(result)
    assert "posts 2 deleted" in out and "alerts 1 deleted" in out
    assert _where(seeded, "posts") == {"x:new": f"{posts}-000002"}
    assert set(_where(seeded, "alerts")) == {"a:new"}

    es = sync_client(seeded.settings)
    try:
        assert es.indices.exists(index=f"{posts}-000001"), "indices stay; only documents go"
        assert es.indices.get_alias(name=posts)[f"{posts}-000002"]["aliases"][posts] == {
            "is_write_index": True
        }
    finally:
        es.close()

    again = runner.invoke(app, ["retention", "apply"], env=seeded.env)
    assert again.exit_code == 0, again.output
    assert "posts 0 deleted" in _output(again) and "alerts 0 deleted" in _output(again)


def test_days_overrides_the_setting(seeded: Isolated) -> None:
    es = sync_client(seeded.settings)
    try:
        run = apply_retention(es, seeded.settings, 50)
    finally:
        es.close()
    assert run.days == 50 and not run.failed
    assert {f.family: f.deleted for f in run.families} == {
        "posts": 1,
        "alerts": 0,
        "conversations": 0,
    }
    assert set(_where(seeded, "posts")) == {"x:old2", "x:new"}

    result = runner.invoke(app, ["retention", "apply", "--days", "1"], env=seeded.env)
    assert result.exit_code == 0, result.output
    assert "retention 1 days" in _output(result)
    assert _where(seeded, "posts") == {} and _where(seeded, "alerts") == {}


def test_days_below_one_is_refused(seeded: Isolated) -> None:
    result = runner.invoke(app, ["retention", "apply", "--days", "0"], env=seeded.env)
    assert result.exit_code == 2
    assert len(_where(seeded, "posts")) == 3


def test_a_family_without_indices_counts_zero(servers: Servers, tmp_path: Path) -> None:
    iso = isolated(servers, tmp_path)  # no setup: no index of either family exists
    for args in (["retention", "apply"], ["retention", "apply", "--dry-run"]):
        result = runner.invoke(app, args, env=iso.env)
        assert result.exit_code == 0, result.output
        assert "posts 0" in _output(result) and "alerts 0" in _output(result)


def test_an_unreachable_server_is_one_clear_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    env = {"TOWNSQUARE_ES_URL": url, "TOWNSQUARE_DATA_DIR": str(tmp_path)}
    result = runner.invoke(app, ["retention", "apply"], env=env)
    assert result.exit_code == 1
    out = _output(result)
    assert out.startswith(f"error: cannot reach Elasticsearch at {url}: connection refused")
    assert "Check TOWNSQUARE_ES_URL" in out and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1
