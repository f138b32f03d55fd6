"""Deletes, edits and replays after a rollover, through the index stage and the real search server.

Issue #11: posts are written through the write alias, and after ILM rolls the
index over a post lives in an older index. The stage used to send every action
to the alias, so a delete answered 404 ``not_found`` (and the post stayed
searchable) and an edit or a replay wrote a second copy. Here each batch goes
through :class:`streams.worker.agents.index.IndexBatches` (collapse, holder
lookup, placement, bulk), the index is rolled over between batches, and what
the family holds afterwards is read back through the alias and the pattern.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import faust
import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import AsyncElasticsearch, AuthorizationException, Elasticsearch
from support import Servers, isolated

from schemas.models import EnrichedPost, Joinability, PostDeleted
from streams.cli.setup import run_setup
from streams.es import holders as holders_module
from streams.es import holders_search
from streams.es.bulk import BulkOptions, index_batch
from streams.es.client import async_client, sync_client
from streams.es.documents import bulk_action
from streams.es.holders import holders
from streams.steps.collapse import collapse
from streams.worker.agents.index import IndexBatches
from streams.worker.app import create_worker
from streams.worker.resources import Resources

pytestmark = pytest.mark.integration

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def post(n: int, text: str = "Missed bin again on Elm Street") -> bytes:
    """A posts.enriched value for post ``x:n``."""
    return (
        EnrichedPost(
            id=f"x:{n}",
            platform="x",
            created_at=NOW,
            text=text,
            author={"id": "x:a", "handle": "a"},
            conversation_id="x:1",
            joinability=Joinability(score=0.5, action="listen_only"),
        )
        .model_dump_json()
        .encode()
    )


def tombstone(n: int) -> bytes:
    return (
        PostDeleted(id=f"x:{n}", platform="x", conversation_id="x:1", deleted_at=NOW)
        .model_dump_json()
        .encode()
    )


def events(*values: bytes) -> list[faust.EventT]:
    """Stand-ins for the events ``take_events`` hands the agent (only ``message.value`` is read)."""
    return [
        cast(faust.EventT, SimpleNamespace(message=SimpleNamespace(value=v, offset=i)))
        for i, v in enumerate(values)
    ]


@dataclass
class Stage:
    """The index stage of an isolated deployment, and a sync client to look at the result."""

    batches: IndexBatches
    es: AsyncElasticsearch
    sync: Elasticsearch
    alias: str
    bulk_items: list[dict[str, Any]]

    @property
    def family(self) -> str:
        return f"{self.alias}-*"

    def index_name(self, generation: int) -> str:
        return f"{self.alias}-{generation:06d}"

    async def run(self, *values: bytes) -> None:
        await self.batches.handle(events(*values))

    def rollover(self) -> None:
        # Searches are near-real-time: make what is indexed visible, as days would.
        self.sync.indices.refresh(index=self.family)
        assert self.sync.indices.rollover(alias=self.alias)["rolled_over"]

    def index_everywhere(self, ids: Sequence[str], generations: Sequence[int] = (1, 2)) -> None:
        """A bare copy of each id in each generation's index (no refresh)."""
        for generation in generations:
            for doc_id in ids:
                self.sync.index(
                    index=self.index_name(generation), id=doc_id, document={"id": doc_id}
                )

    def copies(self, post_id: str, index: str | None = None) -> list[tuple[str, str]]:
        """(concrete index, text) of each copy of a post under ``index`` (default: the family)."""
        self.sync.indices.refresh(index=self.family)
        hits = self.sync.search(
            index=index or self.family, query={"ids": {"values": [post_id]}}, size=100
        )["hits"]["hits"]
        return sorted((h["_index"], h["_source"]["text"]) for h in hits)


@pytest.fixture
async def stage(
    servers: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Stage]:
    iso = isolated(servers, tmp_path)
    run_setup(iso.settings)
    es = async_client(iso.settings)
    resources = Resources(iso.settings, es=es)
    worker = create_worker(iso.settings, ["index"], resources=resources)
    items: list[dict[str, Any]] = []
    original = AsyncElasticsearch.bulk

    async def recording_bulk(self: AsyncElasticsearch, *args: Any, **kwargs: Any) -> Any:
        resp = await original(self, *args, **kwargs)
        # Copied: the helper pops each item apart as it reads it.
        items.extend(copy.deepcopy(resp.body.get("items", [])))
        return resp

    # Records what the bulk answered per action (the helper clones the client, so
    # the method is wrapped on the class, for this test only).
    monkeypatch.setattr(AsyncElasticsearch, "bulk", recording_bulk)
    sync = sync_client(iso.settings)
    try:
        yield Stage(
            IndexBatches(worker.topics, resources),
            es,
            sync,
            iso.settings.index_alias("posts"),
            items,
        )
    finally:
        sync.close()
        await resources.close()


def deletes(items: Sequence[dict[str, Any]]) -> list[tuple[str, str, str, int]]:
    return [
        (d["_index"], d["_id"], d.get("result", d.get("error", {}).get("type", "")), d["status"])
        for d in (item["delete"] for item in items if "delete" in item)
    ]


async def test_a_delete_after_a_rollover_removes_the_post_from_the_older_index(
    stage: Stage,
) -> None:
    await stage.run(post(1))
    stage.rollover()
    stage.bulk_items.clear()
    await stage.run(tombstone(1))
    # A real deletion in the index holding the post, not the alias's 404 ``not_found``.
    assert deletes(stage.bulk_items) == [(stage.index_name(1), "x:1", "deleted", 200)]
    assert stage.copies("x:1", stage.alias) == []
    assert stage.copies("x:1") == []


async def test_an_edit_after_a_rollover_leaves_one_copy_with_the_new_text(stage: Stage) -> None:
    await stage.run(post(1, "first words"))
    stage.rollover()
    await stage.run(post(1, "edited words"))
    assert stage.copies("x:1") == [(stage.index_name(1), "edited words")]
    assert stage.copies("x:1", stage.alias) == [(stage.index_name(1), "edited words")]


async def test_a_replay_of_the_original_post_after_a_rollover_leaves_one_copy(
    stage: Stage,
) -> None:
    await stage.run(post(1), post(2))
    stage.rollover()
    await stage.run(post(1), post(2), post(3))
    assert stage.copies("x:1") == [(stage.index_name(1), "Missed bin again on Elm Street")]
    assert stage.copies("x:2") == [(stage.index_name(1), "Missed bin again on Elm Street")]
    assert stage.copies("x:3") == [(stage.index_name(2), "Missed bin again on Elm Street")]


async def test_duplicates_an_earlier_sink_left_collapse_to_the_newest_copy_then_delete(
    stage: Stage,
) -> None:
    await stage.run(post(1, "original"))
    stage.rollover()
    # The earlier sink wrote an edit through the alias: a second copy in the new index.
    stage.sync.index(
        index=stage.alias,
        id="x:1",
        document=stage.sync.get(index=stage.index_name(1), id="x:1")["_source"]
        | {"text": "old duplicate"},
    )
    stage.rollover()
    await stage.run(post(1, "edited again"))
    assert stage.copies("x:1") == [(stage.index_name(2), "edited again")]
    stage.bulk_items.clear()
    await stage.run(tombstone(1))
    assert deletes(stage.bulk_items) == [(stage.index_name(2), "x:1", "deleted", 200)]
    assert stage.copies("x:1") == []


async def test_a_delete_right_after_its_post_removes_it_although_search_cannot_see_it_yet(
    stage: Stage,
) -> None:
    # No refresh in between: the lookup finds nothing, and the delete must still
    # reach the write index through the alias.
    await stage.run(post(1))
    await stage.run(tombstone(1))
    assert stage.copies("x:1") == []


async def test_without_placement_the_rollover_reproduces_issue_11(stage: Stage) -> None:
    """The scenario above really is the bug: the alias delete answers not_found, the post stays."""
    await stage.run(post(1))
    stage.rollover()
    stage.bulk_items.clear()
    alias_actions = [a for _, a in collapse([tombstone(1)], stage.alias, NOW).actions]
    assert await index_batch(stage.es, alias_actions, BulkOptions(max_retries=1)) == []
    assert deletes(stage.bulk_items) == [(stage.index_name(2), "x:1", "not_found", 404)]
    assert stage.copies("x:1") == [(stage.index_name(1), "Missed bin again on Elm Street")]


async def test_bulk_results_map_back_by_concrete_index_when_an_id_has_several_actions(
    stage: Stage,
) -> None:
    stage.rollover()
    old, new = stage.index_name(1), stage.index_name(2)

    def write(n: int, index: str, *, bad: bool = False) -> dict[str, Any]:
        source = bulk_action(post(n), stage.alias, NOW)["_source"]
        if bad:
            source["not_in_mapping"] = True  # refused: the template is ``dynamic: strict``
        return {"_op_type": "index", "_index": index, "_id": f"x:{n}", "_source": source}

    actions = [
        write(1, old, bad=True),
        write(1, new),
        write(4, old),
        write(4, new, bad=True),
        {"_op_type": "delete", "_index": old, "_id": "x:2"},  # not there: 404, fine
        write(3, stage.alias, bad=True),  # answered with the write index's name
    ]
    failures = await index_batch(stage.es, actions, BulkOptions(max_retries=1))
    assert sorted((f.index, f.reason) for f in failures) == [
        (0, "strict_dynamic_mapping_exception"),
        (3, "strict_dynamic_mapping_exception"),
        (5, "strict_dynamic_mapping_exception"),
    ]


async def test_the_holder_lookup_takes_further_requests_rather_than_truncating(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More (index, id) pairs than one multi-get may ask for take further requests, never a gap."""
    ids = [f"x:{n}" for n in range(6)]
    stage.index_everywhere(ids)
    asked: list[int] = []
    mget = stage.es.mget

    async def counted(**kwargs: Any) -> Any:
        asked.append(len(kwargs["docs"]))
        return await mget(**kwargs)

    monkeypatch.setattr(holders_module, "MAX_GETS", 5)
    monkeypatch.setattr(stage.es, "mget", counted)
    held = await holders(stage.es, stage.family, [*ids, "x:absent"])
    assert held == {i: [stage.index_name(1), stage.index_name(2)] for i in ids}
    assert asked == [5, 5, 4], "2 indices x 7 ids in requests of at most 5 pairs"


async def test_the_holder_lookup_finds_a_copy_indexed_a_moment_ago_without_a_refresh(
    stage: Stage,
) -> None:
    """A get is real-time: an edit right after a rollover still finds the copy just written."""
    stage.sync.index(index=stage.index_name(1), id="x:1", document={"id": "x:1"}, refresh=False)
    stage.sync.index(index=stage.index_name(2), id="x:2", document={"id": "x:2"}, refresh=False)
    held = await holders(stage.es, stage.family, ["x:1", "x:2"])
    assert held == {"x:1": [stage.index_name(1)], "x:2": [stage.index_name(2)]}


async def test_the_search_lookup_splits_rather_than_truncates(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More ids, or more copies, than one search may return take further searches, never a gap."""
    ids = [f"x:{n}" for n in range(6)]
    stage.index_everywhere(ids)
    stage.sync.indices.refresh(index=stage.family)
    monkeypatch.setattr(holders_search, "MAX_RESULTS", 4)
    monkeypatch.setattr(holders_search, "COPIES_PER_ID", 1)
    held = await holders_search.searched_holders(stage.es, stage.family, [*ids, "x:absent"])
    assert held == {i: [stage.index_name(1), stage.index_name(2)] for i in ids}


async def test_a_client_that_may_not_list_indices_finds_holders_by_search(
    stage: Stage, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An API key without view_index_metadata is refused the listing (403): search, say it once."""
    for generation in (1, 2):
        stage.sync.index(index=stage.index_name(generation), id="x:1", document={"id": "x:1"})
    stage.sync.indices.refresh(index=stage.family)
    listings: list[str] = []

    async def forbidden(**kwargs: Any) -> Any:
        listings.append(kwargs["name"])
        meta = ApiResponseMeta(403, "1.1", HttpHeaders(), 0.0, NodeConfig("http", "127.0.0.1", 9))
        raise AuthorizationException(
            "action [indices:admin/resolve/index] is unauthorized", meta, {}
        )

    monkeypatch.setattr(holders_module, "_UNLISTABLE", set())
    monkeypatch.setattr(stage.es.indices, "resolve_index", forbidden)
    with caplog.at_level(logging.WARNING, logger="townsquare.index"):
        for _ in range(2):
            held = await holders(stage.es, stage.family, ["x:1", "x:absent"])
            assert held == {"x:1": [stage.index_name(1), stage.index_name(2)]}
    assert listings == [stage.family], "asked once, then searched without asking again"
    warned = [r.getMessage() for r in caplog.records if "view_index_metadata" in r.getMessage()]
    assert len(warned) == 1


async def test_the_holder_lookup_of_no_ids_or_an_empty_family_finds_nothing(stage: Stage) -> None:
    assert await holders(stage.es, stage.family, []) == {}
    assert await holders(stage.es, f"{stage.alias}-nothing-*", ["x:1"]) == {}


async def test_the_holder_lookup_blocks_and_retries_while_the_cluster_is_unreachable() -> None:
    from elasticsearch import ConnectionError as ESConnectionError

    from streams.metrics import ES_UP

    es = AsyncElasticsearch("http://127.0.0.1:9", request_timeout=0.5, max_retries=0)
    started = time.monotonic()
    try:
        with pytest.raises(ESConnectionError):
            await holders(
                es,
                "ts-posts-*",
                ["x:1"],
                options=BulkOptions(initial_backoff=0.01, max_backoff=0.05),
                give_up_after=0.5,
            )
    finally:
        await es.close()
    # It kept retrying for the whole window instead of failing the batch at once.
    assert time.monotonic() - started >= 0.5
    assert ES_UP._value.get() == 0
