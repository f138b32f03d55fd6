"""``townsquare run``: the main job end to end on the sample corpus."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support import Servers, isolated
from typer.testing import CliRunner

from streams.cli.main import app
from streams.es.client import sync_client
from streams.sample import CORPUS, sample_path

pytestmark = pytest.mark.integration


def test_run_indexes_every_sample_post_and_prints_a_summary(
    servers: Servers, tmp_path: Path
) -> None:
    iso = isolated(servers, tmp_path)
    result = CliRunner().invoke(app, ["run", "--timeout", "180"], env=iso.env)
    assert result.exit_code == 0, result.output

    ids = {json.loads(line)["id"] for line in sample_path(CORPUS).read_text().splitlines()}
    conversations = {
        json.loads(line)["conversation_id"] for line in sample_path(CORPUS).read_text().splitlines()
    }
    summary = re.search(r"(\d+) posts indexed in (\d+) conversations", result.output)
    assert summary, result.output
    assert (int(summary.group(1)), int(summary.group(2))) == (len(ids), len(conversations))
    waiting = re.search(r"; (\d+) conversations await our reply", result.output)
    assert waiting, result.output
    raised = re.search(r"alerts raised: (\d+)", result.output)
    assert raised, result.output
    assert "top posts to act on" in result.output
    assert "actions by kind of post" in result.output

    es = sync_client(iso.settings)
    alias = iso.settings.index_alias("posts")
    es.indices.refresh(index=alias)
    assert es.count(index=alias)["count"] == len(ids)
    top = es.search(index=alias, sort=[{"joinability.score": "desc"}], size=1)["hits"]["hits"]
    # The awaiting count is the threads waiting now, read from the conversations index.
    threads = iso.settings.index_alias("conversations")
    es.indices.refresh(index=threads)
    assert es.count(index=threads)["count"] == len(conversations)
    awaiting = es.count(index=threads, query={"term": {"awaiting_org_reply": True}})["count"]
    flagged = es.count(index=alias, query={"term": {"conversation.awaiting_org_reply": True}})
    alerts = iso.settings.index_alias("alerts")
    es.indices.refresh(index=alerts)
    alert_count = es.count(index=alerts)["count"]
    es.close()
    assert int(waiting.group(1)) == awaiting < flagged["count"]
    assert int(raised.group(1)) <= alert_count, "counted what was there when the summary ran"
    assert top[0]["_source"]["joinability"]["action"] in {"reply", "escalate", "appreciate"}
    # The worker it started was stopped again.
    assert "left running" not in result.output
