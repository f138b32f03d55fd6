"""The action policy, row by row (docs/joinability.md "The decision table").

Each test builds a reading by hand, so a row is tested on its own, without
the phrase lists or the classifiers that normally fill the reading in.
"""

from __future__ import annotations

import pytest

from processors.policy import decide
from schemas.models import Addressed, PostKind, Reading, Sentiment, Signal


def _reading(
    *signals: str,
    addressed: Addressed = "mention",
    kind: PostKind = "chatter",
    sentiment: Sentiment = "neutral",
    about_us: bool | None = None,
) -> Reading:
    return Reading(
        addressed=addressed,
        about_us=addressed != "none" if about_us is None else about_us,
        kind=kind,
        sentiment=sentiment,
        signals=[Signal(name=s, score=1.0, evidence=[f"'{s} words'"]) for s in signals],
    )


def test_own_posts_need_nothing() -> None:
    d = decide(_reading("abuse", kind="question"), own=True)
    assert (d.action, d.rule) == ("do_not_engage", "own")


def test_self_harm_to_us_goes_to_a_person_even_when_abusive() -> None:
    d = decide(_reading("self_harm", "abuse"), own=False)
    assert (d.action, d.rule) == ("escalate", "self_harm")
    unrelated = decide(_reading("self_harm", addressed="none"), own=False)
    assert unrelated.action == "listen_only"  # not to us: respect it, do not barge in


@pytest.mark.parametrize("name", ["abuse", "threat", "hate"])
def test_hostility_is_never_engaged(name: str) -> None:
    d = decide(_reading(name, kind="complaint"), own=False)
    assert (d.action, d.rule) == ("do_not_engage", "hostile")


def test_spam_is_never_engaged() -> None:
    d = decide(_reading("spam", kind="promotion"), own=False)
    assert (d.action, d.rule) == ("do_not_engage", "spam")


@pytest.mark.parametrize(
    ("name", "team"),
    [
        ("press", "press office"),
        ("legal", "legal"),
        ("safety", "safety team"),
        ("account_security", "fraud"),
    ],
)
def test_matters_for_another_team_are_escalated(name: str, team: str) -> None:
    d = decide(_reading(name, kind="complaint"), own=False)
    assert (d.action, d.rule) == ("escalate", "escalate") and team in d.why
    named = decide(_reading(name, addressed="name"), own=False)
    assert named.action == "escalate"  # naming us is enough: "a regulator should look at X"
    elsewhere = decide(_reading(name, addressed="none"), own=False)
    assert elsewhere.action == "listen_only"  # someone else's incident


def test_a_journalist_asking_us_anything_goes_to_the_press_office() -> None:
    d = decide(_reading(kind="question"), own=False, stakeholders=("media",))
    assert d.action == "escalate" and "press office" in d.why
    chatter = decide(_reading(kind="chatter"), own=False, stakeholders=("media",))
    assert chatter.action == "reply"


def test_a_pile_on_is_never_an_opening_but_a_legal_threat_still_reaches_legal() -> None:
    d = decide(_reading("pile_on", kind="complaint"), own=False)
    assert (d.action, d.rule) == ("do_not_engage", "pile_on")
    legal = decide(_reading("pile_on", "legal", kind="complaint"), own=False)
    assert legal.action == "escalate"


def test_unrelated_posts_are_listened_to_whatever_they_say() -> None:
    for kind in ("question", "complaint", "praise"):
        d = decide(_reading(addressed="none", kind=kind, sentiment="positive"), own=False)
        assert (d.action, d.rule) == ("listen_only", "unrelated")


def test_a_sensitive_profile_topic_is_listened_to() -> None:
    d = decide(_reading("politics", kind="question"), own=False, sensitive_topics=("politics",))
    assert (d.action, d.rule) == ("listen_only", "sensitive_topic")
    other_profile = decide(_reading("politics", kind="question"), own=False)
    assert other_profile.action == "reply"


@pytest.mark.parametrize("name", ["grief", "health", "minors"])
def test_personal_topics_not_asking_for_help_are_listened_to(name: str) -> None:
    d = decide(_reading(name, kind="chatter", addressed="name"), own=False)
    assert (d.action, d.rule) == ("listen_only", "personal")


def test_a_support_request_that_mentions_a_child_is_answered_with_care() -> None:
    d = decide(_reading("minors", kind="question"), own=False)
    assert (d.action, d.rule, d.care) == ("reply", "help", True)
    assert "Take care" in d.why


def test_news_is_listened_to() -> None:
    d = decide(_reading("news", addressed="name", kind="news"), own=False)
    assert (d.action, d.rule) == ("listen_only", "news")


@pytest.mark.parametrize("kind", ["question", "complaint"])
def test_questions_and_problems_to_us_get_a_reply(kind: PostKind) -> None:
    d = decide(_reading(kind=kind, sentiment="negative"), own=False)
    assert (d.action, d.rule, d.care) == ("reply", "help", False)


def test_a_message_to_us_that_waits_for_an_answer_gets_a_reply() -> None:
    # "@Desk PS4": the answer to our own question
    d = decide(_reading(addressed="reply", kind="chatter"), own=False)
    assert (d.action, d.rule) == ("reply", "help")


def test_a_passing_tag_is_not_an_invitation() -> None:
    d = decide(_reading("passing_mention", kind="chatter"), own=False)
    assert d.action == "listen_only"
    spoken_to = decide(_reading("passing_mention", "speaks_to_us", kind="chatter"), own=False)
    assert spoken_to.action == "reply"


def test_naming_us_is_not_an_invitation_unless_it_is_their_own_problem() -> None:
    plain = decide(_reading(addressed="name", kind="complaint"), own=False)
    assert plain.action == "listen_only"
    own = decide(_reading("own_use", addressed="name", kind="complaint"), own=False)
    assert (own.action, own.rule) == ("reply", "help")
    assert "own use" in own.why


def test_a_warm_thank_you_after_our_answer_is_appreciated() -> None:
    d = decide(_reading("warm", "closing", addressed="reply", kind="closing"), own=False)
    assert (d.action, d.rule) == ("appreciate", "thanks")
    bare = decide(_reading("closing", addressed="reply", kind="closing"), own=False)
    assert (bare.action, bare.rule) == ("listen_only", "closing")
    ironic = decide(_reading("warm", "irony", addressed="reply", kind="closing"), own=False)
    assert ironic.action == "listen_only"


def test_praise_is_appreciated_only_when_positive_and_not_ironic() -> None:
    d = decide(_reading(kind="praise", sentiment="positive"), own=False)
    assert (d.action, d.rule) == ("appreciate", "praise")
    sure = _reading("sentiment_positive", addressed="name", kind="praise", sentiment="positive")
    assert decide(sure, own=False).action == "appreciate"
    unsure = sure.model_copy(
        update={"signals": [Signal(name="sentiment_positive", score=0.6, evidence=["0.60"])]}
    )
    assert decide(unsure, own=False).action == "listen_only"  # untagged: must be unmistakable
    assert decide(_reading("irony", kind="praise", sentiment="positive"), own=False).action == (
        "listen_only"
    )
    assert decide(_reading(kind="praise", sentiment="negative"), own=False).action == (
        "listen_only"
    )


def test_everything_else_is_listened_to() -> None:
    d = decide(_reading(addressed="name", kind="chatter"), own=False)
    assert (d.action, d.rule) == ("listen_only", "default")
