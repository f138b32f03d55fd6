"""The reading, signal by signal, on the kinds of posts a careful reader told us we got wrong."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.conversation import ConversationState, apply_post
from processors.profile import Organisation
from processors.reading import Thresholds, read_post, signal
from schemas.models import CanonicalPost, Reading

MakePost = Callable[..., CanonicalPost]


def _read(
    org: Organisation,
    post: CanonicalPost,
    scores: dict[str, dict[str, float]] | None = None,
    before: Sequence[CanonicalPost] = (),
) -> Reading:
    state: ConversationState | None = None
    for p in [*before, post]:
        state = apply_post(state, p, org)
    return read_post(post, state, org, [], scores)


def _names(reading: Reading) -> set[str]:
    return {s.name for s in reading.signals}


# --- addressing --------------------------------------------------------------------------


def test_addressing_mention_reply_thread_name_none(org: Organisation, make_post: MakePost) -> None:
    assert _read(org, make_post("1", "@AcmeCouncil hi")).addressed == "mention"
    ours = make_post("1", "We have answered you", handle="AcmeCouncil")
    reply = make_post("2", "ok but when?", reply_to=("1", "x:acmecouncil"))
    assert _read(org, reply, before=[ours]).addressed == "reply"
    asked = make_post("1", "@AcmeCouncil bins?", handle="bob")
    answered = make_post(
        "2", "@bob Monday", handle="AcmeCouncil", reply_to=("1", "x:bob"), minutes=1
    )
    aside = make_post("3", "and the recycling?", handle="bob", reply_to=("9", "x:eve"), minutes=2)
    assert _read(org, aside, before=[asked, answered]).addressed == "thread"
    assert _read(org, make_post("1", "Acme Council did well today")).addressed == "name"
    assert _read(org, make_post("1", "lovely sunset")).addressed == "none"


def test_a_topic_alone_is_about_us_but_does_not_address_us(
    org: Organisation, make_post: MakePost
) -> None:
    r = _read(org, make_post("1", "parking near the station is a nightmare"))
    assert r.addressed == "none" and r.about_us
    assert "on_topic" in _names(r)


# --- personal topics ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("RIP grandad, heartbroken tonight", "grief"),
        ("my dad passed away last month", "grief"),
        ("lost my mum in March", "grief"),
        ("my daughter is in hospital again", "health"),
        ("just been diagnosed with cancer", "health"),
        ("my son is 7 years old", "minors"),
        ("I want to end it all", "self_harm"),
    ],
)
def test_personal_topics_are_found_in_context(
    org: Organisation, make_post: MakePost, text: str, flag: str
) -> None:
    assert flag in _names(_read(org, make_post("1", text)))


@pytest.mark.parametrize(
    "text",
    [
        "My trackpad just died",
        "my laptop died mid call",
        "this playlist is killing me lol",
        "RIP my phone battery",
        "sick of waiting for the bus",
        "@AcmeCouncil comments are disabled on your page",
    ],
)
def test_one_ambiguous_word_never_decides_a_personal_topic(
    org: Organisation, make_post: MakePost, text: str
) -> None:
    found = _names(_read(org, make_post("1", text)))
    assert not found & {"grief", "health", "minors", "self_harm"}, found


def test_a_profile_topic_with_a_built_in_lexicon(make_post: MakePost, org: Organisation) -> None:
    political = org.model_copy(update={"sensitive_topics": ["politics"]})
    rant = make_post("1", "Acme Council is run by useless Tories, vote them out at the election")
    assert "politics" in _names(_read(political, rant))
    assert "politics" not in _names(_read(org, rant))  # only when the profile asks for it


# --- hostility, spam ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "@AcmeCouncil you lot are useless idiots, absolute scum",
        "@AcmeCouncil your staff are lazy idiots, do your damn jobs",
        "@AcmeCouncil fuck off",
        "@AcmeCouncil are you retarded?",
    ],
)
def test_abuse_aimed_at_someone(org: Organisation, make_post: MakePost, text: str) -> None:
    assert "abuse" in _names(_read(org, make_post("1", text)))


def test_swearing_is_not_abuse(org: Organisation, make_post: MakePost) -> None:
    r = _read(org, make_post("1", "@AcmeCouncil the bloody bins are late again, sort it out"))
    assert "abuse" not in _names(r)
    assert "offensive" in _names(r)  # read from phrases without the classifier
    assert r.kind == "complaint"


def test_a_threat(org: Organisation, make_post: MakePost) -> None:
    assert "threat" in _names(_read(org, make_post("1", "@AcmeCouncil i know where you live")))


@pytest.mark.parametrize(
    "text",
    [
        "DM me for 10k followers!!! cheap!!!",
        "use my referral code ACME20 for a free month",
        "follow back f4f",
        "check out my new single on all platforms",
    ],
)
def test_spam_and_code_farming(org: Organisation, make_post: MakePost, text: str) -> None:
    r = _read(org, make_post("1", text))
    assert "spam" in _names(r) and r.kind == "promotion"


def test_many_tags_alone_are_not_spam(org: Organisation, make_post: MakePost) -> None:
    r = _read(org, make_post("1", "#a #b #c #d #e #f"))
    assert "spam" not in _names(r) and "stuffing" in _names(r)


# --- escalation signals ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("@AcmeCouncil your driver sped down the alley and almost hit me", "safety"),
        ("@AcmeCouncil the ombudsman should investigate you", "legal"),
        ("@AcmeCouncil I am reporting you to the FCA", "legal"),
        ("@AcmeCouncil my lawyer will be in touch", "legal"),
        ("@AcmeCouncil could I ask for a comment on the bin strike?", "press"),
        ("@AcmeCouncil my account was hacked and they charged my card", "account_security"),
        (
            "Careful, a phishing email pretending to be Acme Council is going round",
            "account_security",
        ),
    ],
)
def test_matters_for_another_team(
    org: Organisation, make_post: MakePost, text: str, name: str
) -> None:
    assert name in _names(_read(org, make_post("1", text)))


def test_an_app_crash_is_not_a_safety_matter(org: Organisation, make_post: MakePost) -> None:
    r = _read(org, make_post("1", "@AcmeCouncil the parking app crashes every time"))
    assert "safety" not in _names(r) and r.kind == "complaint"


def test_hacked_without_money_is_not_a_fraud_case(org: Organisation, make_post: MakePost) -> None:
    r = _read(org, make_post("1", "@AcmeCouncil my account was hacked, how do I get it back?"))
    assert "account_security" not in _names(r) and r.kind == "complaint"


# --- what the post is --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("@AcmeCouncil when is the bin collection?", "question"),
        ("@AcmeCouncil can you help me with my permit", "question"),
        ("@AcmeCouncil my bin was missed again, unacceptable", "complaint"),
        ("@AcmeCouncil Acme just lost me as a customer", "complaint"),
        ("@AcmeCouncil thank you, the new park is wonderful", "praise"),
        ("@AcmeCouncil lovely weather today", "chatter"),
    ],
)
def test_kinds(org: Organisation, make_post: MakePost, text: str, kind: str) -> None:
    assert _read(org, make_post("1", text)).kind == kind


def test_a_headline_with_a_link_is_news(org: Organisation, make_post: MakePost) -> None:
    post = make_post(
        "1",
        "Is Acme Council Cannibalising Its Own Parking Revenue? https://news.example/a",
        links=["https://news.example/a"],
    )
    r = _read(org, post)
    assert r.kind == "news" and "news" in _names(r)


def test_ironic_praise_to_us_is_a_complaint(org: Organisation, make_post: MakePost) -> None:
    post = make_post("1", "@AcmeCouncil thanks for another fantastic day of no bin collection")
    r = _read(org, post, _scores("positive", irony=0.9))
    assert r.kind == "complaint" and "sarcasm" in _names(r)


def test_a_pile_on_in_an_abusive_thread(org: Organisation, make_post: MakePost) -> None:
    from processors.enrich import enrich_post

    abuse = make_post("1", "@AcmeCouncil you lot are useless idiots", handle="angry")
    _, state = enrich_post(abuse, [], None, org, abuse.created_at)
    assert state.hostile_authors == ["x:angry"]
    joins = make_post("2", "they are a joke", handle="mate", reply_to=("1", "x:angry"), minutes=1)
    joined, state = enrich_post(joins, [], state, org, joins.created_at, _scores("negative"))
    assert joined.joinability.action == "do_not_engage"
    assert joined.reading is not None and "pile_on" in _names(joined.reading)
    defends = make_post(
        "3", "the crews work hard, leave them be", handle="rosie", reply_to=("1", "x:angry")
    )
    defended, _ = enrich_post(defends, [], state, org, defends.created_at, _scores("positive"))
    assert defended.joinability.action != "do_not_engage"


def test_thanks_but_still_broken_is_a_complaint(org: Organisation, make_post: MakePost) -> None:
    r = _read(org, make_post("1", "@AcmeCouncil thanks, but it still doesn't work"))
    assert r.kind == "complaint"


def test_a_short_thank_you_after_our_answer_closes(org: Organisation, make_post: MakePost) -> None:
    asked = make_post("1", "@AcmeCouncil bins?", handle="bob")
    answered = make_post(
        "2", "@bob Monday", handle="AcmeCouncil", reply_to=("1", "x:bob"), minutes=1
    )
    thanks = make_post(
        "3", "Brilliant, thank you so much!", handle="bob", reply_to=("2", "x:acmecouncil")
    )
    r = _read(org, thanks, before=[asked, answered])
    assert r.kind == "closing" and "warm" in _names(r)
    ok = make_post("3", "@AcmeCouncil ok will do", handle="bob")
    assert _read(org, ok, before=[asked, answered]).kind == "closing"
    settled = make_post("3", "@AcmeCouncil sorted now, never mind", handle="bob")
    assert _read(org, settled, before=[asked, answered]).kind == "closing"


def test_a_goodbye_after_our_answer_closes_but_not_out_of_the_blue(
    org: Organisation, make_post: MakePost
) -> None:
    asked = make_post("1", "@AcmeCouncil is the tip open Sunday?", handle="bob")
    answered = make_post(
        "2", "@bob yes, 9 to 4", handle="AcmeCouncil", reply_to=("1", "x:bob"), minutes=1
    )
    bye = make_post(
        "3", "Brilliant, see you tomorrow", handle="bob", reply_to=("2", "x:acmecouncil")
    )
    r = _read(org, bye, before=[asked, answered])
    assert r.kind == "closing"
    closing = signal(r, "closing")
    assert closing is not None and "see you tomorrow" in closing.evidence[0]
    # Not addressed to us, and not after an answer of ours: praise as before.
    assert _read(org, make_post("4", "Brilliant, see you tomorrow", handle="eve")).kind == "praise"
    # A goodbye with a new question is still a question.
    asks = make_post(
        "5", "Thanks, see you tomorrow - is it open Monday?", handle="bob", reply_to=("2", None)
    )
    assert _read(org, asks, before=[asked, answered]).kind == "question"


# --- classifiers -------------------------------------------------------------------------


def _scores(
    sentiment: str = "neutral",
    irony: float = 0.1,
    offensive: float = 0.1,
    hate: float = 0.05,
    emotion: str = "joy",
) -> dict[str, dict[str, float]]:
    others = [s for s in ("negative", "neutral", "positive") if s != sentiment]
    return {
        "sentiment": {sentiment: 0.8, others[0]: 0.1, others[1]: 0.1},
        "irony": {"irony": irony, "non-irony": 1 - irony},
        "offensive": {"offensive": offensive, "not-offensive": 1 - offensive},
        "hate": {"hate": hate, "not-hate": 1 - hate},
        "emotion": {emotion: 0.7, "anger": 0.1, "optimism": 0.1, "sadness": 0.1}
        if emotion != "anger"
        else {"anger": 0.7, "joy": 0.1, "optimism": 0.1, "sadness": 0.1},
    }


def test_classifier_scores_become_signals_with_evidence(
    org: Organisation, make_post: MakePost
) -> None:
    post = make_post("1", "@AcmeCouncil great job on the park")
    r = _read(org, post, _scores("positive", irony=0.8, offensive=0.7, hate=0.9))
    assert r.sentiment == "positive" and r.emotion == "joy"
    irony = signal(r, "irony")
    assert irony is not None and irony.evidence == ["irony classifier 0.80"]
    assert {"offensive", "hate"} <= _names(r)


def test_thresholds_decide_when_a_score_counts(org: Organisation, make_post: MakePost) -> None:
    post = make_post("1", "@AcmeCouncil great job")
    scores = _scores("positive", irony=0.5)
    assert "irony" not in _names(_read(org, post, scores))
    strict = read_post(post, apply_post(None, post, org), org, [], scores, Thresholds(irony=0.4))
    assert "irony" in _names(strict)


def test_hate_needs_offensive_language_too(org: Organisation, make_post: MakePost) -> None:
    post = make_post("1", "immigration policy debate tonight")
    assert "hate" not in _names(_read(org, post, _scores(hate=0.9, offensive=0.2)))


def test_without_classifiers_sentiment_comes_from_phrases(
    org: Organisation, make_post: MakePost
) -> None:
    assert _read(org, make_post("1", "@AcmeCouncil brilliant, thanks")).sentiment == "positive"
    assert _read(org, make_post("1", "@AcmeCouncil still broken")).sentiment == "negative"
    r = _read(org, make_post("1", "@AcmeCouncil hello"))
    neutral = signal(r, "sentiment_neutral")
    assert neutral is not None and "no classifier" in neutral.evidence[0]


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=400))
def test_any_text_reads_without_error(text: str) -> None:
    from datetime import UTC, datetime

    from schemas.models import Author

    org = Organisation(name="Acme", accounts={"x": ["Acme"]}, sensitive_topics=["politics"])
    post = CanonicalPost(
        id="x:1",
        platform="x",
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
        text=text,
        author=Author(id="x:a"),
        conversation_id="x:1",
    )
    r = read_post(post, apply_post(None, post, org), org)
    assert r.kind in {"question", "complaint", "praise", "news", "promotion", "closing", "chatter"}
    assert all(0.0 <= s.score <= 1.0 and s.evidence for s in r.signals)
