"""Stakeholder labels: profile lists, author signals and text cues, each with reasons."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from processors.conversation import ConversationState
from processors.profile import Organisation
from processors.reading import read_post
from processors.stakeholders import label_stakeholders
from schemas.models import CanonicalPost, Stakeholder

MakePost = Callable[..., CanonicalPost]


def _stake(
    post: CanonicalPost,
    org: Organisation,
    entities: Sequence[Mapping[str, Any]] = (),
    state: ConversationState | None = None,
) -> list[Stakeholder]:
    """Labels as enrichment computes them: from the post's reading."""
    return label_stakeholders(post, org, read_post(post, state, org, entities), entities, state)


def _labels(found: list[Stakeholder]) -> dict[str, Stakeholder]:
    return {s.label: s for s in found}


def test_profile_lists_match_normalized_handles(org: Organisation, make_post: MakePost) -> None:
    found = _labels(_stake(make_post("1", "hello", handle="@GreenCo"), org))
    assert found["partner"].score >= 0.9
    assert found["partner"].reasons == ["handle @GreenCo is on the partner list"]
    media = _labels(_stake(make_post("2", "hi", handle="Reporter@Press.Example"), org))
    assert "media" in media
    assert "competitor" in _labels(_stake(make_post("3", "x", handle="rivaltown"), org))


def test_employee_domain_in_bio_email_or_handle(org: Organisation, make_post: MakePost) -> None:
    by_mail = make_post("1", "hi", handle="sam", bio="Parks team. sam@acme.gov.example")
    found = _labels(_stake(by_mail, org))
    assert found["employee"].reasons == [
        "e-mail sam@acme.gov.example is on employee domain acme.gov.example"
    ]
    by_handle = make_post("2", "hi", handle="@sam@staff.acme.gov.example")
    assert "employee" in _labels(_stake(by_handle, org))
    lookalike = make_post("3", "hi", handle="eve", bio="eve@notacme.gov.example.com")
    assert "employee" not in _labels(_stake(lookalike, org))


def test_bio_words_and_reach(org: Organisation, make_post: MakePost) -> None:
    post = make_post(
        "1", "Anyone know?", handle="kate", bio="Local news reporter", followers=250_000
    )
    found = _labels(_stake(post, org))
    assert found["media"].reasons == ["bio mentions 'reporter'"]
    assert found["influencer"].reasons == ["250,000 followers"]
    assert 0.8 < found["influencer"].score < 0.95
    official = _labels(_stake(make_post("2", "x", bio="Labour MP for Acme"), org))
    assert official["official"].score == 0.7
    weak = _labels(_stake(make_post("3", "x", bio="Mp3 collector, founder"), org))
    assert "official" not in weak and weak["investor"].score == 0.4


def test_text_cues_customer_and_citizen(org: Organisation, make_post: MakePost) -> None:
    post = make_post(
        "1",
        "As a resident, our street missed the bin collection. Also my order of a caddy never came",
    )
    found = _labels(_stake(post, org))
    assert found["citizen"].reasons[0] == "says 'As a resident'"
    assert len(found["citizen"].reasons) == 3
    assert found["citizen"].score > found["customer"].score  # three cues beat one
    assert found["customer"].reasons == ["talks about their own use of what we offer ('my order')"]


def test_gazetteer_entity_in_a_first_person_post(org: Organisation, make_post: MakePost) -> None:
    ents = [
        {
            "text": "Riverside Park",
            "label": "LOCATION",
            "start": 12,
            "end": 26,
            "source": "gazetteer",
        }
    ]
    found = _labels(_stake(make_post("1", "I walk past Riverside Park daily"), org, ents))
    assert found["citizen"].reasons == ["talks about our 'Riverside Park'"]


def test_multi_label_sorted_by_score(org: Organisation, make_post: MakePost) -> None:
    post = make_post(
        "1",
        "I bought a permit",
        handle="cllr_smith",
        bio="Councillor",
        followers=12_000,
        verified=True,
    )
    found = _stake(post, org)
    assert found[0].label == "official"
    # "I bought a permit" names nothing of ours: no evidence they are our customer
    assert {s.label for s in found} == {"official", "influencer"}
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    assert all(0 <= s.score <= 1 and s.reasons for s in found)


def test_own_accounts_get_no_label(org: Organisation, make_post: MakePost) -> None:
    assert _stake(make_post("1", "my order", handle="acmecouncil"), org) == []
    assert _stake(make_post("2", "hi", handle="acme@social.example"), org) == []
    flagged = make_post("3", "hi", handle="someone", is_org_account=True, followers=50_000)
    assert _stake(flagged, org) == []


def test_nobody_in_particular(org: Organisation, make_post: MakePost) -> None:
    assert _stake(make_post("1", "nice weather today", handle="bob"), org) == []
