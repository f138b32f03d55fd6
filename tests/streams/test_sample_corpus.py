"""The packaged sample corpus and profiles: well-formed, self-consistent, and useful for the demo.

The demo and the stream tests lean on this corpus to show every branch of the
product, so besides shape these tests check that the threads it needs are really
there (our replies, replies still owed, sensitive and hostile posts), and that
the committed file is exactly what the generator writes.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from processors.profile import Organisation, load_profile, normalise_handle
from processors.text import find_hashtags, find_links, find_mentions, unique
from schemas.models import CanonicalPost
from streams.sample import BRAND_PROFILE, CORPUS, COUNCIL_PROFILE, sample_path

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "tools" / "make_sample_corpus.py"


@cache
def lines() -> tuple[str, ...]:
    return tuple(sample_path(CORPUS).read_text(encoding="utf-8").splitlines())


@cache
def posts() -> tuple[CanonicalPost, ...]:
    return tuple(CanonicalPost.model_validate_json(line) for line in lines())


@cache
def council() -> Organisation:
    return load_profile(sample_path(COUNCIL_PROFILE))


@cache
def generator() -> ModuleType:
    """The generator script, loaded from its file: tools/ is not a package."""
    spec = importlib.util.spec_from_file_location("make_sample_corpus", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


def is_own(post: CanonicalPost, org: Organisation) -> bool:
    return normalise_handle(post.author.handle or "") in org.own_handles()


def addresses_us(post: CanonicalPost, org: Organisation, own_ids: set[str]) -> bool:
    """Mentions one of our handles or replies to one of our posts."""
    own = org.own_handles()
    if any(normalise_handle(m) in own for m in post.mentions):
        return True
    return post.in_reply_to is not None and post.in_reply_to.author_id in own_ids


def awaiting(org: Organisation) -> set[str]:
    """Conversations where someone addressed us after our last post there."""
    own_ids = {p.author.id for p in posts() if is_own(p, org)}
    state: dict[str, bool] = {}
    for post in posts():
        if post.author.id in own_ids:
            state[post.conversation_id] = False
        elif addresses_us(post, org, own_ids):
            state[post.conversation_id] = True
    return {conversation for conversation, waiting in state.items() if waiting}


def test_every_line_is_a_canonical_post_of_kind_post() -> None:
    assert 300 <= len(lines()) <= 400
    for line in lines():
        post = CanonicalPost.model_validate(json.loads(line))
        assert post.kind == "post"
        assert post.text.strip()


def test_ids_are_unique_and_carry_their_platform() -> None:
    ids = [p.id for p in posts()]
    assert len(ids) == len(set(ids))
    for post in posts():
        assert post.platform in {"x", "mastodon", "bluesky"}
        assert post.id.startswith(f"{post.platform}:")
        assert post.author.id.startswith(f"{post.platform}:")


def test_bluesky_post_uris_belong_to_their_author() -> None:
    for post in posts():
        if post.platform == "bluesky":
            did = post.author.id.removeprefix("bluesky:")
            assert post.id.startswith(f"bluesky:at://{did}/app.bsky.feed.post/")


def test_file_is_in_created_at_order() -> None:
    times = [p.created_at for p in posts()]
    assert times == sorted(times)


def test_replies_point_to_an_earlier_post_of_the_same_conversation() -> None:
    seen: dict[str, CanonicalPost] = {}
    for post in posts():
        if post.in_reply_to is None:
            assert post.conversation_id == post.id, "a root is its own conversation"
        else:
            parent = seen.get(post.in_reply_to.post_id)
            assert parent is not None, f"{post.id} replies to a post not seen before it"
            assert parent.conversation_id == post.conversation_id
            assert parent.author.id == post.in_reply_to.author_id
            assert parent.platform == post.platform
            assert parent.created_at < post.created_at
            assert post.conversation_id in seen, "the conversation id is its root post's id"
        seen[post.id] = post


def test_reply_counts_match_the_replies_in_the_corpus() -> None:
    replies = Counter(p.in_reply_to.post_id for p in posts() if p.in_reply_to is not None)
    for post in posts():
        assert post.metrics.replies == replies[post.id]


def test_mentions_hashtags_and_links_are_what_the_text_contains() -> None:
    for post in posts():
        assert post.mentions == unique([s.value for s in find_mentions(post.text)]), post.id
        assert post.hashtags == unique([s.value for s in find_hashtags(post.text)]), post.id
        assert post.links == unique([s.value for s in find_links(post.text)]), post.id


def test_mastodon_mentions_name_their_instance() -> None:
    for post in posts():
        if post.platform == "mastodon":
            assert all("@" in m for m in post.mentions), post.text


def test_links_stay_on_reserved_domains() -> None:
    for post in posts():
        for link in [*post.links, post.url or ""]:
            host = link.split("/")[2] if "://" in link else ""
            assert host == "" or host.endswith((".example", ".test")), link


def test_an_author_looks_the_same_in_every_post() -> None:
    authors: dict[str, dict[str, Any]] = {}
    for post in posts():
        shape = post.author.model_dump()
        assert authors.setdefault(post.author.id, shape) == shape


def test_three_platforms_over_several_days() -> None:
    by_platform = Counter(p.platform for p in posts())
    assert set(by_platform) == {"x", "mastodon", "bluesky"}
    assert min(by_platform.values()) >= 50
    days = {p.created_at.date() for p in posts()}
    assert len(days) >= 3
    assert all(p.created_at.year == 2026 for p in posts())


def test_sixty_to_ninety_threads() -> None:
    assert 60 <= len({p.conversation_id for p in posts()}) <= 90


@pytest.mark.parametrize("name", [COUNCIL_PROFILE, BRAND_PROFILE])
def test_profiles_load(name: str) -> None:
    org = load_profile(sample_path(name))
    assert org.accounts.keys() == {"x", "mastodon", "bluesky"}
    assert org.employees and org.partners and org.media and org.topics and org.gazetteer
    assert abs(sum(org.weights.values()) - 1.0) < 1e-9


def test_unknown_sample_name_is_an_error() -> None:
    with pytest.raises(FileNotFoundError):
        sample_path("nope.yaml")


def test_the_council_replies_in_many_threads_on_every_platform() -> None:
    org = council()
    own = [p for p in posts() if is_own(p, org)]
    assert len({p.conversation_id for p in own}) >= 25
    assert {p.platform for p in own} == {"x", "mastodon", "bluesky"}


def test_many_conversations_await_the_councils_reply() -> None:
    assert len(awaiting(council())) >= 15


def test_some_threads_have_two_unanswered_own_posts_in_a_row() -> None:
    """The share-of-voice rule (step back) needs examples."""
    org = council()
    by_conversation: dict[str, list[CanonicalPost]] = {}
    for post in posts():
        by_conversation.setdefault(post.conversation_id, []).append(post)
    step_back = [
        thread
        for thread in by_conversation.values()
        if len(thread) >= 2 and all(is_own(p, org) for p in thread[-2:])
    ]
    assert len(step_back) >= 3


def test_profile_stakeholders_take_part() -> None:
    org = council()
    handles = {normalise_handle(p.author.handle or "") for p in posts()}
    for group in (org.employees, org.partners, org.media, org.officials, org.competitors):
        assert handles & {normalise_handle(h) for h in group}


def test_the_brand_is_not_in_the_council_corpus() -> None:
    brand = load_profile(sample_path(BRAND_PROFILE))
    assert not [p for p in posts() if is_own(p, brand)]


def test_generator_labels_sensitive_abusive_and_spam_posts() -> None:
    make = generator()
    counts = make.summary(make.build())
    assert counts["posts_sensitive"] >= 5
    assert counts["posts_abusive"] >= 3
    assert counts["posts_spam"] >= 3
    assert counts["posts"] == len(lines())


def test_generator_reproduces_the_committed_file_byte_for_byte() -> None:
    assert generator().render().encode("utf-8") == Path(sample_path(CORPUS)).read_bytes()
