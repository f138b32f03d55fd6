"""End to end with TOWNSQUARE_PSEUDONYMISE on: replay -> worker -> Elasticsearch, and nobody named.

Posts whose authors' handles, ids and display names are known (and written in
mixed case, with mentions of each other in the text) go through a real worker.
Once they are indexed, the test looks for those names the way an auditor
would: term queries on the fields that held them, then every stored document's
``_source`` as JSON, searched case-insensitively (a query over all fields of
the local search server does not look into keyword values, so it cannot be
the only check), and the records on the topics after ``posts.raw``. It also
shows what must survive: one person keeps one pseudonym, so their posts still
link into one conversation, and a person on the profile's opt-out list never
reaches the index.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from support import Isolated, indexed_ids, isolated, read_topic, running_worker, wait_for

from processors.privacy import Pseudonymiser
from processors.text import find_links, find_mentions
from streams.cli.setup import run_setup
from streams.es.client import sync_client
from streams.sample import COUNCIL_PROFILE, sample_path
from streams.sources.replay import replay_file

pytestmark = pytest.mark.integration

KEY = "integration pseudonym key, not a real one"
ALICE = {"id": "x:ZqAlice7781", "handle": "Zq_Secret_Alice", "display_name": "Alice Zqwerty"}
BOB = {"id": "x:ZqBob5512", "handle": "zq_secret_bob", "display_name": "Bob Zqvander"}
CAROL = {"id": "x:ZqCarol3390", "handle": "Zq_OptOut_Carol", "display_name": "Carol Zqmoss"}
NAMES = [
    *(v for person in (ALICE, BOB, CAROL) for v in person.values()),
    "zqalice7781",  # the native ids, wherever they might turn up
    "zqbob5512",
    "zqcarol3390",
    "zqwerty",
    "zqvander",
    "zqmoss",
]


@pytest.fixture(scope="module")
def pipeline(servers: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Isolated]:
    tmp = tmp_path_factory.mktemp("pseudonymised")
    profile = yaml.safe_load(sample_path(COUNCIL_PROFILE).read_text(encoding="utf-8"))
    profile["organisation"]["opt_out"] = [f"@{CAROL['handle']}"]
    profile_path = tmp / "profile.yaml"
    profile_path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    iso = isolated(
        servers,  # type: ignore[arg-type]
        tmp,
        TOWNSQUARE_PSEUDONYMISE="true",
        TOWNSQUARE_PSEUDONYM_KEY=KEY,
        TOWNSQUARE_PROFILE_PATH=str(profile_path),
    )
    run_setup(iso.settings)
    with running_worker(iso, tmp / "worker.log") as proc:
        yield iso
        assert proc.poll() is None, (tmp / "worker.log").read_text()[-3000:]


def _post(
    n: int, author: dict[str, str], text: str, reply_to: tuple[int, dict[str, str]] | None = None
) -> dict[str, Any]:
    """A canonical post as an export carries it: mentions and links listed beside the text."""
    post: dict[str, Any] = {
        "id": f"x:{7000 + n}",
        "platform": "x",
        "url": f"https://twitter.com/{author['handle']}/status/{7000 + n}",
        "created_at": f"2026-05-01T11:{n:02d}:00Z",
        "text": text,
        "author": {**author, "bio": f"I am {author['handle']} on every site"},
        "conversation_id": "x:7000",
        "mentions": [s.value for s in find_mentions(text)],
        "links": [s.value for s in find_links(text)],
    }
    if reply_to is not None:
        parent, parent_author = reply_to
        post["in_reply_to"] = {"post_id": f"x:{7000 + parent}", "author_id": parent_author["id"]}
    return post


POSTS = [
    _post(0, ALICE, "@HarboursideBC the bins on Quay Street were missed again, cc @zq_secret_bob"),
    _post(
        1,
        BOB,
        "@Zq_Secret_Alice same here! https://twitter.com/Zq_Secret_Alice/status/7000",
        (0, ALICE),
    ),
    _post(2, CAROL, "@HarboursideBC @zq_secret_alice ours too, please do not quote me", (0, ALICE)),
    _post(
        3,
        ALICE,
        "@HarboursideBC still nothing today. Thanks @ZQ_SECRET_BOB for checking",
        (1, BOB),
    ),
]
KEPT = [p["id"] for p in POSTS if p["author"]["id"] != CAROL["id"]]


@pytest.fixture(scope="module")
def indexed(pipeline: Isolated, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Replay the posts once and return every stored document of the test's index."""
    path = tmp_path_factory.mktemp("replay") / "named.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in POSTS) + "\n", encoding="utf-8")
    assert replay_file(pipeline.settings, path, "jsonl").sent == len(POSTS)
    assert wait_for(lambda: set(KEPT) <= set(indexed_ids(pipeline.settings)), timeout=120), (
        f"indexed: {sorted(indexed_ids(pipeline.settings))}"
    )
    es = sync_client(pipeline.settings)
    try:
        alias = pipeline.settings.index_alias("posts")
        es.indices.refresh(index=alias)
        hits = es.search(index=alias, query={"match_all": {}}, size=1000)["hits"]["hits"]
    finally:
        es.close()
    return [h["_source"] for h in hits]


def _count(iso: Isolated, query: dict[str, Any]) -> int:
    es = sync_client(iso.settings)
    try:
        return int(es.count(index=iso.settings.index_alias("posts"), query=query)["count"])
    finally:
        es.close()


def test_no_indexed_field_names_the_authors(
    pipeline: Isolated, indexed: list[dict[str, Any]]
) -> None:
    assert sorted(d["id"] for d in indexed) == sorted(KEPT)
    for person in (ALICE, BOB, CAROL):
        for value in (person["handle"], person["handle"].lower()):
            assert _count(pipeline, {"term": {"author.handle": value}}) == 0
            assert _count(pipeline, {"term": {"mentions": value}}) == 0
        assert _count(pipeline, {"term": {"author.id": person["id"]}}) == 0
    # The check itself can find a value: the pseudonym is there, under the same field.
    p = Pseudonymiser(KEY.encode())
    assert _count(pipeline, {"term": {"author.handle": p.handle(ALICE["handle"])}}) == 2
    assert _count(pipeline, {"term": {"mentions": p.handle(BOB["handle"])}}) == 2
    # And every stored document, whole: no name in any field, in any case.
    for doc in indexed:
        dumped = json.dumps(doc).lower()
        for name in NAMES:
            assert name.lower() not in dumped, (name, doc["id"])
        assert doc["author"].get("display_name") is None and doc["author"].get("bio") is None
        assert doc.get("url") is None


def test_nothing_after_the_raw_topic_names_them(
    pipeline: Isolated, indexed: list[dict[str, Any]]
) -> None:
    raw = b"".join(v for _, v in read_topic(pipeline.settings, "posts.raw")).lower()
    assert ALICE["handle"].lower().encode() in raw, "the raw topic holds what was ingested"
    for topic in ("posts.normalized", "posts.by_id", "posts.enriched"):
        records = b"".join(v or b"" for _, v in read_topic(pipeline.settings, topic)).lower()
        assert records, topic
        for name in NAMES:
            assert name.lower().encode() not in records, (topic, name)


def test_one_person_keeps_one_pseudonym_and_the_thread_still_links(
    indexed: list[dict[str, Any]],
) -> None:
    by_id = {d["id"]: d for d in indexed}
    first, reply, last = by_id["x:7000"], by_id["x:7001"], by_id["x:7003"]
    p = Pseudonymiser(KEY.encode())
    assert first["author"]["id"] == last["author"]["id"] == p.author_id(ALICE["id"])
    assert first["author"]["handle"] == last["author"]["handle"]
    assert reply["in_reply_to"]["author_id"] == first["author"]["id"]
    assert last["in_reply_to"]["author_id"] == reply["author"]["id"] == p.author_id(BOB["id"])
    assert p.handle(ALICE["handle"]) in reply["mentions"]
    assert {d["conversation_id"] for d in indexed} == {"x:7000"}
    # Alice's two posts and Bob's reply are one conversation of two people; Carol
    # (opted out) was never counted in it.
    assert last["conversation"]["posts"] == 3
    assert last["conversation"]["participants"] == 2
    # The council's handle is hashed on both sides, so "addressed to us" still works.
    assert first["reading"]["addressed"] == "mention"
    assert last["reading"]["addressed"] == "mention"
