"""``retention apply`` over the conversations family: a thread's age is its last activity.

The family has no ``created_at`` (a document is a thread's current state). A
thread quiet for longer than the retention goes, as the enrich stage's sweep
drops its state; a thread with recent activity stays whatever its first post's
age.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import Servers, isolated

from schemas.models import ConversationView
from streams.es.client import sync_client
from streams.es.conversations import view_document
from streams.es.indices import install
from streams.es.retention import apply_retention

pytestmark = pytest.mark.integration


def test_threads_quiet_past_the_retention_are_deleted_live_ones_kept(
    servers: Servers, tmp_path: Path
) -> None:
    iso = isolated(servers, tmp_path, TOWNSQUARE_RETENTION_DAYS="30")
    now = datetime.now(UTC)
    es = sync_client(iso.settings)
    try:
        install(es, iso.settings)
        alias = iso.settings.index_alias("conversations")
        for conv, quiet_days in (("x:quiet", 45), ("x:live", 1)):
            at = now - timedelta(days=quiet_days)
            view = ConversationView(
                conversation_id=conv,
                platform="x",
                posts=2,
                participants=1,
                participant_ids=["x:someone"],
                awaiting_since=now - timedelta(days=60),
                last_activity=at,
                updated_at=at,
            )
            es.index(index=alias, id=conv, document=view_document(view, at), refresh=True)

        dry = apply_retention(es, iso.settings, dry_run=True)
        assert {f.family: f.older for f in dry.families}["conversations"] == 1
        run = apply_retention(es, iso.settings)
        assert {f.family: f.deleted for f in run.families}["conversations"] == 1
        es.indices.refresh(index=alias)
        left = es.search(index=alias, query={"match_all": {}})["hits"]["hits"]
        assert [h["_id"] for h in left] == ["x:live"]
    finally:
        es.close()
