"""Joinability, drawn from the design's "Why": answer direct questions, step back, respect grief."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from processors.conversation import ConversationState, apply_post, is_own_post
from processors.joinability import PENALTIES, POSITIVE, combine, score_joinability
from processors.profile import Organisation
from processors.reading import read_post
from processors.stakeholders import label_stakeholders
from schemas.models import CanonicalPost, Joinability, Metrics, Sensitivity

MakePost = Callable[..., CanonicalPost]
US = "x:acmecouncil"


def _score(
    org: Organisation, thread: list[CanonicalPost], *, later: float = 0
) -> tuple[Joinability, Sensitivity]:
    """Score the last post of ``thread`` after applying all of it, ``later`` minutes on."""
    state: ConversationState | None = None
    for p in thread:
        state = apply_post(state, p, org)
    assert state is not None
    post = thread[-1]
    now = post.created_at + timedelta(minutes=later)
    reading = read_post(post, state, org)
    stakeholders = label_stakeholders(post, org, reading, [], state)
    return score_joinability(post, reading, stakeholders, state, org, is_own_post(post, org), now)


def _check_formula(j: Joinability, org: Organisation) -> None:
    assert set(j.components) == set(POSITIVE) | set(PENALTIES)
    assert all(0.0 <= v <= 1.0 for v in j.components.values())
    positive = sum(org.weights[c] * j.components[c] for c in POSITIVE) / sum(
        org.weights[c] for c in POSITIVE
    )
    penalty = 1.0
    for p in PENALTIES:
        penalty *= 1 - j.components[p]
    assert j.score == pytest.approx(positive * penalty, abs=5e-5)
    assert j.score == combine(j.components, org.weights)
    assert j.reasons, "every score is explained"


def test_a_direct_question_beats_chatter(org: Organisation, make_post: MakePost) -> None:
    direct, _ = _score(
        org, [make_post("1", "@AcmeCouncil when is the bin collection on our road?")]
    )
    chatter, _ = _score(
        org, [make_post("2", "lovely sunset over the hills tonight", conversation="x:c2")]
    )
    _check_formula(direct, org)
    _check_formula(chatter, org)
    assert direct.score > chatter.score
    assert direct.action == "reply" and chatter.action == "listen_only"
    assert direct.components["invitation"] > 0.7
    assert any("mentions @AcmeCouncil" in r for r in direct.reasons)


def test_a_fresh_complaint_beats_a_thread_where_we_spoke_twice_unanswered(
    org: Organisation, make_post: MakePost
) -> None:
    complaint, _ = _score(
        org,
        [
            make_post(
                "9", "@AcmeCouncil recycling not collected again, third week", conversation="x:c9"
            )
        ],
    )
    ignored, _ = _score(
        org,
        [
            make_post("1", "recycling not collected again"),
            make_post(
                "2",
                "Sorry, we'll look into it",
                handle="AcmeCouncil",
                minutes=5,
                reply_to=("1", "x:alice"),
            ),
            make_post(
                "3", "Crews are out now", handle="AcmeCouncil", minutes=10, reply_to=("2", US)
            ),
            make_post(
                "4",
                "recycling day is such a faff",
                handle="dave",
                minutes=12,
                reply_to=("1", "x:alice"),
            ),
        ],
    )
    _check_formula(ignored, org)
    assert ignored.components["share_of_voice"] == 0.0
    assert complaint.components["share_of_voice"] == 1.0
    assert complaint.score > ignored.score
    assert any("step back" in r for r in ignored.reasons)


def test_grief_is_respected_and_a_request_in_grief_answered_with_care(
    org: Organisation, make_post: MakePost
) -> None:
    j, sens = _score(
        org, [make_post("1", "@AcmeCouncil my mum passed away last week, miss her so much")]
    )
    _check_formula(j, org)
    assert "grief" in sens.flags
    assert j.action == "listen_only"
    assert j.components["sensitivity"] >= 0.8
    assert any("grief" in r for r in j.reasons)
    asks, sens = _score(
        org,
        [
            make_post(
                "2",
                "@AcmeCouncil my mum passed away last week, can you stop the green bins letters?",
                conversation="x:c2",
            )
        ],
    )
    assert "grief" in sens.flags and asks.action == "reply"
    assert asks.components["sensitivity"] == 0.4  # halved: answer it, carefully
    assert "Take care" in asks.reasons[0]


def test_health_minors_and_custom_topics_are_flagged(
    org: Organisation, make_post: MakePost
) -> None:
    _, s1 = _score(org, [make_post("1", "my daughter has been in hospital all week")])
    assert sorted(s1.flags) == ["health", "minors"]
    _, s2 = _score(
        org, [make_post("2", "facing redundancy, can't pay council tax", conversation="x:c2")]
    )
    assert s2.flags == ["redundancy"]
    j, s3 = _score(org, [make_post("3", "I just want to die, end it all", conversation="x:c3")])
    assert s3.flags == ["self_harm"] and j.action == "listen_only"


def test_abuse_is_do_not_engage(org: Organisation, make_post: MakePost) -> None:
    j, _ = _score(org, [make_post("1", "@AcmeCouncil you are useless pricks, fuck you")])
    _check_formula(j, org)
    assert j.action == "do_not_engage"
    assert j.components["hostility"] >= 0.8
    swearing, _ = _score(
        org, [make_post("2", "@AcmeCouncil the bloody bins are late again?", conversation="x:c2")]
    )
    assert swearing.action != "do_not_engage" and swearing.components["hostility"] == 0.3


def test_spam_is_do_not_engage(org: Organisation, make_post: MakePost) -> None:
    j, _ = _score(
        org,
        [
            make_post(
                "1", "@AcmeCouncil FREE BTC giveaway!!!!!! follow back", links=["https://a.example"]
            )
        ],
    )
    _check_formula(j, org)
    assert j.action == "do_not_engage" and j.components["spam"] >= 0.6
    tags, _ = _score(org, [make_post("2", "#a #b #c #d #e #f", conversation="x:c2")])
    assert tags.components["spam"] == 0.35 and tags.action != "do_not_engage"


def test_a_journalists_request_is_escalated(org: Organisation, make_post: MakePost) -> None:
    post = make_post(
        "1",
        "@AcmeCouncil could you give me a statement on the parking fines?",
        handle="kate",
        bio="Reporter at the Gazette",
    )
    j, _ = _score(org, [post])
    _check_formula(j, org)
    assert j.action == "escalate"
    assert "press office" in j.reasons[0]


def test_an_official_asking_us_is_escalated(org: Organisation, make_post: MakePost) -> None:
    j, _ = _score(
        org, [make_post("1", "@AcmeCouncil why was the park closed?", handle="cllr_smith")]
    )
    assert j.action == "escalate"


def test_a_complaint_with_legal_words_is_escalated(org: Organisation, make_post: MakePost) -> None:
    j, _ = _score(
        org,
        [
            make_post(
                "1", "@AcmeCouncil a loose paving slab in Riverside Park, my husband was injured"
            )
        ],
    )
    assert j.action == "escalate"


def test_own_posts_get_do_not_engage_and_zero(org: Organisation, make_post: MakePost) -> None:
    post = make_post("1", "Green Bins start Monday! Questions?", handle="AcmeCouncil")
    j, _ = _score(org, [post])
    _check_formula(j, org)
    assert j.action == "do_not_engage" and j.score == 0.0 and j.components["own_post"] == 1.0
    assert label_stakeholders(post, org, read_post(post, None, org)) == []


def test_freshness_halves_every_half_sla(org: Organisation, make_post: MakePost) -> None:
    thread = [make_post("1", "@AcmeCouncil is the tip open?")]
    now, _ = _score(org, thread)
    later, _ = _score(org, thread, later=org.reply_sla_minutes / 2)
    assert now.components["freshness"] == 1.0
    assert later.components["freshness"] == 0.5
    assert later.score < now.score


def test_relevance_from_topics_gazetteer_and_hashtags(
    org: Organisation, make_post: MakePost
) -> None:
    j, _ = _score(org, [make_post("1", "Loving the #GreenBins and the parking is better")])
    # names a gazetteer term (0.6, found by splitting the tag) and a topic (0.4)
    assert j.components["relevance"] == pytest.approx(1 - 0.4 * 0.6, abs=1e-4)
    assert any("names 'green bins'" in r.lower() for r in j.reasons)


def test_engagement_measures_the_other_side(org: Organisation, make_post: MakePost) -> None:
    first = make_post("1", "Is the tip open today?")
    ours = make_post(
        "2", "Yes until 6pm", handle="AcmeCouncil", minutes=2, reply_to=("1", "x:alice")
    )
    back = make_post(
        "3",
        "Brilliant, thanks! One more: do you take paint?",
        minutes=5,
        reply_to=("2", US),
        metrics=Metrics(likes=3, replies=1),
    )
    j, _ = _score(org, [first, ours, back])
    cold, _ = _score(org, [make_post("9", "Is the tip open today?", conversation="x:c9")])
    assert j.components["engagement"] > 0.8 > cold.components["engagement"]
    assert j.action == "reply"


def test_weights_come_from_the_profile(org: Organisation, make_post: MakePost) -> None:
    only_fresh = org.model_copy(
        update={"weights": {c: (1.0 if c == "freshness" else 0.0) for c in POSITIVE}}
    )
    j, _ = _score(only_fresh, [make_post("1", "nothing to see")])
    _check_formula(j, only_fresh)
    assert j.score == 1.0
