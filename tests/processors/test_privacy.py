"""Pseudonyms, opt-out and redaction (processors/privacy.py, processors/profile.py).

The property tests generate handles, ids, display names and texts that name
them, and check the promise the way an auditor would: the original value is
nowhere in the serialised post, in any case.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.conversation import is_own_post, mentions_us
from processors.enrich import enrich_post
from processors.privacy import (
    ANON_PREFIX,
    STAKEHOLDER_REASON,
    Pseudonymiser,
    pseudonymise_organisation,
    redact,
    touches_personal,
)
from processors.profile import Organisation
from processors.reading import read_post
from processors.stakeholders import label_stakeholders
from processors.text import find_links, find_mentions
from schemas.models import Author, CanonicalPost, EnrichedPost, ReplyTarget

MakePost = Callable[..., CanonicalPost]
KEY = b"a test key of 32 bytes, not real"
P = Pseudonymiser(KEY)
PROPERTIES = settings(
    max_examples=150, database=None, deadline=None, suppress_health_check=list(HealthCheck)
)


def _expected(value: str) -> str:
    """The pseudonym computed independently of the module: HMAC-SHA256, 32 hex characters."""
    return ANON_PREFIX + hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()[:32]


# --- pseudonyms -------------------------------------------------------------------------


def test_pseudonyms_are_the_keyed_hash_and_keep_the_platform() -> None:
    assert P.author_id("mastodon:1234") == "mastodon:" + _expected("1234")
    assert P.author_id("bluesky:did:plc:abc") == "bluesky:" + _expected("did:plc:abc")
    assert P.handle("Alice@Social.Example") == _expected("alice@social.example")
    assert len(P.handle("alice")) == len(ANON_PREFIX) + 32


def test_a_handle_gets_one_pseudonym_whatever_its_case_or_at_sign() -> None:
    forms = ["alice@social.example", "@Alice@Social.Example", " ALICE@social.example "]
    assert len({P.handle(f) for f in forms}) == 1
    assert P.handle("alice") != P.handle("alice@social.example")


def test_ids_are_not_case_folded() -> None:
    # Some platforms' ids are case-sensitive: two ids must stay two people.
    assert P.author_id("x:AbC") != P.author_id("x:abc")


def test_pseudonyms_are_stable_across_instances_and_differ_across_keys() -> None:
    again = Pseudonymiser(bytes(KEY))
    assert again.handle("alice") == P.handle("alice")
    assert again.author_id("x:1") == P.author_id("x:1")
    other = Pseudonymiser(b"another key, also 32 bytes long!")
    assert other.handle("alice") != P.handle("alice")
    assert other.author_id("x:1") != P.author_id("x:1")


def test_the_key_never_shows() -> None:
    assert "test key" not in repr(P)
    with pytest.raises(ValueError):
        Pseudonymiser(b"")


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
@PROPERTIES
def test_pseudonyms_are_a_function_of_the_normalized_handle(a: str, b: str) -> None:
    from processors.profile import normalize_handle

    same = normalize_handle(a) == normalize_handle(b)
    assert (P.handle(a) == P.handle(b)) == same


# --- pseudonymise_post -------------------------------------------------------------------


def _post(text: str, handle: str | None = "Alice@Social.Example", **extra: object) -> CanonicalPost:
    return CanonicalPost.model_validate(
        {
            "id": "mastodon:9001",
            "platform": "mastodon",
            "url": "https://social.example/@alice/9001",
            "created_at": "2026-05-01T10:00:00Z",
            "text": text,
            "author": {
                "id": "mastodon:77123",
                "handle": handle,
                "display_name": "Alice Wonder",
                "bio": "Gardener, writes as alice",
                "followers": 12,
            },
            "conversation_id": "mastodon:9000",
            "mentions": [s.value for s in find_mentions(text)],
            "links": [s.value for s in find_links(text)],
            **extra,
        }
    )


def test_a_pseudonymised_post_names_nobody() -> None:
    post = _post(
        "@council@social.example thanks to @Bob and @alice, photos at "
        "https://social.example/@alice/42 and https://parks.example/elm",
        in_reply_to={"post_id": "mastodon:8999", "author_id": "mastodon:5550"},
    )
    out = P.pseudonymise_post(post)
    assert out.author.id == "mastodon:" + _expected("77123")
    assert out.author.handle == _expected("alice@social.example")
    assert out.author.display_name is None and out.author.bio is None
    assert out.author.followers == 12, "what identifies nobody is kept"
    assert out.url is None
    assert out.in_reply_to == ReplyTarget(
        post_id="mastodon:8999", author_id="mastodon:" + _expected("5550")
    )
    assert out.mentions == [P.handle("council@social.example"), P.handle("bob"), P.handle("alice")]
    assert out.links == ["https://parks.example/elm"]
    assert out.text == (
        f"@{P.handle('council@social.example')} thanks to @{P.handle('bob')} and "
        f"@{P.handle('alice')}, photos at [link] and https://parks.example/elm"
    )
    # Ids of posts and threads are not people: they stay, so threads still link.
    assert (out.id, out.conversation_id) == (post.id, post.conversation_id)
    dumped = out.model_dump_json().lower()
    for secret in ("alice", "bob", "77123", "5550", "wonder", "gardener"):
        assert secret not in dumped


def test_a_delete_is_pseudonymised_for_its_author_too() -> None:
    delete = _post("", kind="delete")
    out = P.pseudonymise_post(delete)
    assert out.kind == "delete"
    assert out.author.id == P.author_id("mastodon:77123")
    assert "alice" not in out.model_dump_json().lower()


def test_a_post_without_a_handle_keeps_none() -> None:
    out = P.pseudonymise_post(_post("hello", handle=None))
    assert out.author.handle is None
    assert out.author.id.startswith("mastodon:" + ANON_PREFIX)


def test_at_handles_find_mentions_does_not_see_are_replaced_when_they_are_the_posts() -> None:
    post = _post("see social.example/@alice and @@alice, not alice_smith or @alice_smith")
    text = P.pseudonymise_post(post).text
    assert "@alice" not in text.lower().replace("@alice_smith", "")
    assert "alice_smith" in text, "a longer handle is somebody else, left alone"
    assert "@alice_smith" not in text, "but as an @mention it is hashed like any other"


def test_an_email_address_is_not_a_mention() -> None:
    # Documented limit: "alice@mail.example" is an address, not a mention.
    out = P.pseudonymise_post(_post("write to bob@mail.example", handle="carol"))
    assert out.text == "write to bob@mail.example"


_LOCAL = st.from_regex(r"zq[a-z0-9_]{3,10}", fullmatch=True)
_DOMAIN = st.sampled_from([None, "social.example", "mstdn.example.org"])
_CASE: st.SearchStrategy[Callable[[str], str]] = st.sampled_from(
    [str.lower, str.upper, str.title, str.swapcase]
)


@st.composite
def _named_posts(draw: st.DrawFn) -> tuple[CanonicalPost, list[str]]:
    """A post whose author (and a mentioned person) are named in many ways; and the names."""
    local = draw(_LOCAL)
    domain = draw(_DOMAIN)
    handle = f"{local}@{domain}" if domain else local
    friend = draw(_LOCAL.filter(lambda f: f != local and local not in f and f not in local))
    native = draw(st.from_regex(r"zv[g-z]{5,10}", fullmatch=True))
    display = draw(st.from_regex(r"Dn[g-z]{5,10}", fullmatch=True))
    case = draw(_CASE)
    pieces = [
        f"@{case(handle)}",
        f"@{case(local)}",
        f"(@{case(handle)}).",
        f"thanks @{friend}!",
        f"@{friend}@social.example",
        f"https://social.example/@{case(local)}/123",
        f"https://example.org/u/{local}?ref=1",
        f"social.example/@{local}",
        "the bins on Elm Street",
        "https://council.example/bins",
    ]
    chosen = draw(st.lists(st.sampled_from(pieces), min_size=1, max_size=6))
    text = " ".join(chosen)
    post = CanonicalPost(
        id="mastodon:1",
        platform="mastodon",
        url=f"https://social.example/@{local}/1",
        created_at="2026-05-01T10:00:00Z",
        text=text,
        author=Author(
            id=f"mastodon:{native}", handle=case(handle), display_name=display, bio=f"I am {local}"
        ),
        conversation_id="mastodon:1",
        in_reply_to=ReplyTarget(post_id="mastodon:0", author_id=f"mastodon:{native}"),
        mentions=[*(s.value for s in find_mentions(text)), friend],
        links=[s.value for s in find_links(text)],
    )
    return post, [handle, local, friend, native, display]


@given(_named_posts())
@PROPERTIES
def test_no_generated_name_survives_pseudonymisation(case: tuple[CanonicalPost, list[str]]) -> None:
    post, names = case
    dumped = P.pseudonymise_post(post).model_dump_json().lower()
    for name in names:
        assert name.lower() not in dumped, (name, dumped)


@given(_named_posts())
@PROPERTIES
def test_the_same_person_gets_the_same_pseudonym_in_every_post(
    case: tuple[CanonicalPost, list[str]],
) -> None:
    post, _ = case
    a = P.pseudonymise_post(post)
    b = Pseudonymiser(KEY).pseudonymise_post(post.model_copy(update={"id": "mastodon:2"}))
    assert a.author == b.author and a.mentions == b.mentions


# --- the organisation, pseudonymised --------------------------------------------------------


@pytest.fixture
def hashed_org(org: Organisation) -> Organisation:
    return pseudonymise_organisation(org, P)


def test_the_pseudonymised_profile_holds_no_handle(org: Organisation) -> None:
    with_opt_out = Organisation.model_validate({**org.model_dump(), "opt_out": ["jo", "x:55"]})
    hashed = pseudonymise_organisation(with_opt_out, P)
    dumped = hashed.model_dump_json().lower()
    for handle in ("acmecouncil", "acme@", "jo_staff", "greenco", "reporter", "cllr_smith", "x:55"):
        assert handle not in dumped
    assert hashed.accounts["mastodon"] == [P.handle("acme@social.example"), P.handle("acme")]
    assert hashed.opt_out == [P.handle("jo"), P.author_id("x:55")]
    assert hashed.name == org.name and hashed.gazetteer == org.gazetteer


@pytest.mark.parametrize("handle", ["AcmeCouncil", "acme@social.example", "@Acme"])
def test_own_accounts_still_match_pseudonymised(
    org: Organisation, hashed_org: Organisation, make_post: MakePost, handle: str
) -> None:
    post = make_post("1", "Bins are on time today", handle=handle)
    assert is_own_post(post, org)
    assert is_own_post(P.pseudonymise_post(post), hashed_org)
    stranger = P.pseudonymise_post(make_post("2", "hello", handle="acme@elsewhere.example"))
    assert not is_own_post(stranger, hashed_org)


def test_mentions_of_us_still_match_pseudonymised(
    org: Organisation, hashed_org: Organisation, make_post: MakePost
) -> None:
    post = make_post("1", "@acme@social.example and @AcmeCouncil: my bin was missed, cc @bob")
    assert len(mentions_us(post, org)) == 2
    hashed = P.pseudonymise_post(post)
    assert mentions_us(hashed, hashed_org) == [
        P.handle("acme@social.example"),
        P.handle("AcmeCouncil"),
    ]
    reading = read_post(hashed, None, hashed_org)
    assert reading.addressed == "mention"


def test_people_lists_still_label_pseudonymised(
    org: Organisation, hashed_org: Organisation, make_post: MakePost
) -> None:
    post = make_post("1", "Lovely day for the @AcmeCouncil fete", handle="reporter@press.example")
    hashed = P.pseudonymise_post(post)
    reading = read_post(hashed, None, hashed_org)
    labels = {s.label for s in label_stakeholders(hashed, hashed_org, reading)}
    assert "media" in labels
    # The entry's local part matches too, as own accounts always did.
    bare = P.pseudonymise_post(make_post("2", "hi", handle="reporter"))
    assert "media" in {
        s.label for s in label_stakeholders(bare, hashed_org, read_post(bare, None, hashed_org))
    }


# --- opt-out ---------------------------------------------------------------------------


OPT_OUT = Organisation(name="Acme", opt_out=["@Jo@Social.Example", "x:12345", "  "])


@pytest.mark.parametrize(
    ("author", "out"),
    [
        (Author(id="x:12345"), True),
        (Author(id="x:123456"), False),
        (Author(id="mastodon:9", handle="jo"), True),
        (Author(id="mastodon:9", handle="@JO@social.example"), True),
        (Author(id="mastodon:9", handle="jo@other.example"), False),
        (Author(id="mastodon:9", handle="joe"), False),
        (Author(id="mastodon:9"), False),
    ],
)
def test_opted_out_by_id_or_handle(author: Author, out: bool) -> None:
    assert OPT_OUT.opted_out(author) is out
    hashed_org = pseudonymise_organisation(OPT_OUT, P)
    hashed = P.pseudonymise_post(
        _post("hi", handle=author.handle).model_copy(update={"author": author})
    )
    assert hashed_org.opted_out(hashed.author) is out
    assert not OPT_OUT.opted_out(hashed.author), "a pseudonym never matches a plain profile"


# --- redaction ---------------------------------------------------------------------------

GRIEF = "@AcmeCouncil RIP grandad Zebulon, heartbroken. Funeral at Quillfield chapel #Quillfield"
"""A grief post (the phrase lists flag 'RIP' and 'heartbroken') with words to look for."""


def _enriched(org: Organisation, make_post: MakePost, text: str = GRIEF) -> EnrichedPost:
    post = make_post(
        "1",
        text,
        handle="dee_w",
        display_name="Dee Waverley",
        bio="Journalist at the Quillfield Gazette",
        links=["https://quillfield.example/funeral"],
    )
    start = text.find("Quillfield")
    entities = [
        {"text": "Quillfield", "label": "GPE", "start": start, "end": start + 10, "source": "model"}
    ]
    entities = entities if start >= 0 else []
    enriched, _ = enrich_post(post, entities, None, org, post.created_at + timedelta(minutes=5))
    return enriched


def test_redact_keeps_the_decision_and_removes_the_words(
    org: Organisation, make_post: MakePost
) -> None:
    plain = _enriched(org, make_post)
    assert "grief" in plain.sensitivity.flags and touches_personal(plain)
    red = redact(plain)
    assert red.redacted and not plain.redacted
    assert (red.text, red.links, red.mentions, red.hashtags, red.entities, red.url) == (
        "",
        [],
        [],
        [],
        [],
        None,
    )
    assert red.author.display_name is None and red.author.bio is None
    assert (red.author.id, red.author.handle) == (plain.author.id, plain.author.handle)
    assert red.sensitivity == plain.sensitivity
    assert red.joinability.score == plain.joinability.score
    assert red.joinability.components == plain.joinability.components
    assert red.joinability.action == plain.joinability.action
    assert [(s.label, s.score) for s in red.stakeholders] == [
        (s.label, s.score) for s in plain.stakeholders
    ]
    assert all(s.reasons == [STAKEHOLDER_REASON] for s in red.stakeholders)
    assert red.conversation == plain.conversation
    assert red.conversation_id == plain.conversation_id
    assert plain.reading is not None and red.reading is not None
    assert [(s.name, s.score) for s in red.reading.signals] == [
        (s.name, s.score) for s in plain.reading.signals
    ]
    assert all(not s.evidence for s in red.reading.signals)
    assert red.reading.kind == plain.reading.kind
    assert "Touches on grief (redacted)." in red.joinability.reasons
    assert "[rule: " in red.joinability.reasons[0]
    dumped = red.model_dump_json().lower()
    for word in ("zebulon", "quillfield", "heartbroken", "funeral", "grandad", "waverley", "rip "):
        assert word not in dumped, word
    assert EnrichedPost.model_validate_json(red.model_dump_json()) == red


_WORD = st.from_regex(r"[g-z]{2}[qxjv][g-z]{4,8}", fullmatch=True)


@given(st.lists(_WORD, min_size=1, max_size=5))
@settings(max_examples=40, database=None, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_word_of_a_redacted_post_survives(words: list[str]) -> None:
    from processors.profile import GazetteerEntry

    org = Organisation(
        name="Acme Council",
        accounts={"x": ["AcmeCouncil"]},
        gazetteer=[GazetteerEntry(text=words[0], label="PLACE")],
        topics=[words[-1]],
    )
    text = f"@AcmeCouncil my mum passed away, {' '.join(words)} #{words[0]} https://{words[-1]}.example"
    post = CanonicalPost(
        id="x:1",
        platform="x",
        created_at="2026-05-01T10:00:00Z",
        text=text,
        author=Author(id="x:dee", handle="dee", display_name=words[-1], bio=" ".join(words)),
        conversation_id="x:1",
        mentions=[s.value for s in find_mentions(text)],
        hashtags=[words[0]],
        links=[s.value for s in find_links(text)],
    )
    enriched, _ = enrich_post(post, [], None, org, post.created_at)
    assert touches_personal(enriched)
    dumped = redact(enriched).model_dump_json().lower()
    for word in words:
        assert word not in dumped, (word, dumped)


def test_only_personal_flags_redact(org: Organisation, make_post: MakePost) -> None:
    political = _enriched(org, make_post, "@AcmeCouncil the redundancy plan is a disgrace")
    assert political.sensitivity.flags == ["redundancy"]
    assert not touches_personal(political)
