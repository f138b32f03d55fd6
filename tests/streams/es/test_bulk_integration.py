"""Bulk indexing against the real search server: per-document failures and idempotency."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import Servers, isolated

from streams.es.bulk import BulkOptions, index_batch
from streams.es.client import async_client, sync_client
from streams.es.indices import install

pytestmark = pytest.mark.integration


def _doc(n: int) -> dict[str, object]:
    return {
        "id": f"x:{n}",
        "platform": "x",
        "kind": "post",
        "text": f"post {n}",
        "created_at": datetime(2026, 5, 1, tzinfo=UTC).isoformat(),
        "author": {"id": "x:a", "handle": "a"},
        "conversation_id": "x:1",
        "joinability": {"score": 0.5, "action": "listen_only", "components": {"relevance": 0.2}},
    }


async def test_a_mapping_violation_is_reported_with_the_server_reason_and_neighbours_indexed(
    servers: Servers, tmp_path: Path
) -> None:
    iso = isolated(servers, tmp_path)
    sync = sync_client(iso.settings)
    install(sync, iso.settings)
    alias = iso.settings.index_alias("posts")
    bad = {**_doc(2), "not_in_mapping": True}
    actions = [
        {"_op_type": "index", "_index": alias, "_id": "x:1", "_source": _doc(1)},
        {"_op_type": "index", "_index": alias, "_id": "x:2", "_source": bad},
        {"_op_type": "index", "_index": alias, "_id": "x:3", "_source": _doc(3)},
        {"_op_type": "delete", "_index": alias, "_id": "x:never-existed"},
    ]
    es = async_client(iso.settings)
    try:
        failures = await index_batch(es, actions, BulkOptions(max_retries=1))
        again = await index_batch(es, actions, BulkOptions(max_retries=1))
    finally:
        await es.close()
    assert [(f.index, f.reason) for f in failures] == [(1, "strict_dynamic_mapping_exception")]
    assert "not_in_mapping" in failures[0].error
    assert [f.index for f in again] == [1]
    sync.indices.refresh(index=alias)
    ids = sorted(h["_id"] for h in sync.search(index=alias, size=100)["hits"]["hits"])
    sync.close()
    assert ids == ["x:1", "x:3"]


async def test_an_unreachable_cluster_blocks_and_retries_rather_than_dropping(
    tmp_path: Path,
) -> None:
    from elasticsearch import AsyncElasticsearch
    from elasticsearch import ConnectionError as ESConnectionError

    from streams.metrics import ES_UP

    es = AsyncElasticsearch("http://127.0.0.1:9", request_timeout=0.5, max_retries=0)
    started = time.monotonic()
    try:
        with pytest.raises(ESConnectionError):
            await index_batch(
                es,
                [{"_op_type": "index", "_index": "a", "_id": "1", "_source": {}}],
                BulkOptions(initial_backoff=0.01, max_backoff=0.05),
                give_up_after=0.5,
            )
    finally:
        await es.close()
    # It kept retrying for the whole window instead of failing the batch at once.
    assert time.monotonic() - started >= 0.5
    assert ES_UP._value.get() == 0
