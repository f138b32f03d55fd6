"""Conversation state: idempotent, awaiting flag, unanswered streak, give/ask ledger, deletes,
retention (expire) and erasure of one author."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from processors.conversation import (
    MAX_POSTS,
    ConversationState,
    apply_delete,
    apply_post,
    erase_author,
    expire,
    is_own_post,
    summarise,
)
from processors.profile import Organisation
from schemas.models import Author, CanonicalPost, ReplyTarget

MakePost = Callable[..., CanonicalPost]
US = "x:acmecouncil"


def _run(org: Organisation, posts: list[CanonicalPost]) -> ConversationState:
    state: ConversationState | None = None
    for p in posts:
        state = apply_post(state, p, org)
    assert state is not None
    return state


def _thread(make_post: MakePost) -> list[CanonicalPost]:
    return [
        make_post("1", "@AcmeCouncil my bin was missed again", handle="bob", minutes=0),
        make_post(
            "2",
            "Sorry Bob, we'll send a crew",
            handle="AcmeCouncil",
            minutes=30,
            reply_to=("1", "x:bob"),
        ),
        make_post(
            "3", "Thanks, still waiting though", handle="bob", minutes=90, reply_to=("2", US)
        ),
    ]


def test_is_own_post(org: Organisation, make_post: MakePost) -> None:
    assert is_own_post(make_post("1", handle="@ACMECOUNCIL"), org)
    assert is_own_post(make_post("2", handle="acme@social.example"), org)
    assert is_own_post(make_post("3", handle="x", is_org_account=True), org)
    assert not is_own_post(make_post("4", handle="acme@elsewhere.example"), org)


def test_applying_a_post_twice_changes_nothing(org: Organisation, make_post: MakePost) -> None:
    posts = _thread(make_post)
    once = _run(org, posts)
    twice = _run(org, posts + posts)
    assert twice == once
    assert summarise(once).posts == 3


def test_awaiting_is_set_by_a_mention_and_cleared_by_our_reply(
    org: Organisation, make_post: MakePost
) -> None:
    first, reply, again = _thread(make_post)
    s1 = apply_post(None, first, org)
    assert s1.awaiting_org_reply and s1.awaiting_since == first.created_at
    assert s1.awaiting_post_id == first.id
    s2 = apply_post(s1, reply, org)
    assert not s2.awaiting_org_reply and s2.awaiting_since is None
    assert s2.last_org_post_at == reply.created_at
    s3 = apply_post(s2, again, org)  # replies to us: awaiting again, since the new post
    assert s3.awaiting_org_reply and s3.awaiting_since == again.created_at
    assert s1.awaiting_org_reply, "apply_post must not mutate its input"


def test_awaiting_keeps_the_oldest_time(org: Organisation, make_post: MakePost) -> None:
    state = _run(
        org,
        [
            make_post("1", "@AcmeCouncil hello?", minutes=10),
            make_post("2", "@AcmeCouncil anyone there?", minutes=20),
            make_post("0", "@AcmeCouncil late arrival", minutes=5),  # out of order
        ],
    )
    assert state.awaiting_since == make_post("0", minutes=5).created_at
    assert state.awaiting_post_id == "x:0"


def test_chatter_not_directed_at_us_does_not_await(org: Organisation, make_post: MakePost) -> None:
    state = _run(
        org,
        [
            make_post("1", "lovely day"),
            make_post("2", "it is", handle="bob", reply_to=("1", "x:alice")),
        ],
    )
    assert not state.awaiting_org_reply
    summary = summarise(state)
    assert (summary.posts, summary.participants, summary.own_posts) == (2, 2, 0)


def test_once_we_are_in_a_thread_later_posts_are_directed(
    org: Organisation, make_post: MakePost
) -> None:
    state = _run(
        org,
        [
            make_post("1", "Road closed on High St"),
            make_post(
                "2", "Diversion via Mill Lane", handle="AcmeCouncil", reply_to=("1", "x:alice")
            ),
            make_post("3", "how long for?", handle="carol"),
        ],
    )
    assert state.awaiting_org_reply and state.awaiting_post_id == "x:3"


def test_unanswered_streak_and_step_back(org: Organisation, make_post: MakePost) -> None:
    state = _run(
        org,
        [
            make_post("1", "Bins are late"),
            make_post(
                "2", "Sorry, crews are on the way", handle="AcmeCouncil", reply_to=("1", "x:alice")
            ),
            make_post("3", "Update: all collected", handle="AcmeCouncil", reply_to=("2", US)),
            make_post("4", "anyway, football tonight?", handle="dave", reply_to=("1", "x:alice")),
        ],
    )
    assert state.unanswered_org_posts == 2, "talking past us is not an answer"
    assert not state.awaiting_org_reply, "after two unanswered posts we step back"
    answered = apply_post(state, make_post("5", "thanks!", handle="alice", reply_to=("3", US)), org)
    assert answered.unanswered_org_posts == 0


def test_give_ask_ledger(org: Organisation, make_post: MakePost) -> None:
    state = _run(
        org,
        [
            make_post("1", "New recycling rules from Monday", handle="AcmeCouncil"),  # ask
            make_post("2", "Will glass go in the green bin?", reply_to=("1", US)),
            make_post(
                "3", "Yes, rinsed please", handle="AcmeCouncil", reply_to=("2", "x:alice")
            ),  # give
            make_post(
                "4", "More details on our site", handle="AcmeCouncil", reply_to=("3", US)
            ),  # ask
            make_post("5", "Thanks @greenco for the new bins!", handle="AcmeCouncil"),  # give
        ],
    )
    assert (state.give, state.ask, state.own_posts) == (2, 2, 4)
    assert summarise(state).give == 2


def test_edits_do_not_recount(org: Organisation, make_post: MakePost) -> None:
    state = _run(
        org,
        [
            make_post("1", "@AcmeCouncil helo"),
            make_post("1", "@AcmeCouncil hello", kind="edit", minutes=2),
        ],
    )
    assert state.post_count == 1 and state.participants == {"x:alice": 1}
    unseen = apply_post(None, make_post("9", "edited first", kind="edit"), org)
    assert unseen.post_count == 1


def test_state_round_trips_through_json(org: Organisation, make_post: MakePost) -> None:
    state = _run(org, _thread(make_post))
    dumped = state.model_dump(mode="json")
    import json

    again = ConversationState.model_validate(json.loads(json.dumps(dumped)))
    assert again == state
    assert again.post_ids == ["x:1", "x:2", "x:3"]


def test_delete_undoes_counts_and_recomputes_awaiting(
    org: Organisation, make_post: MakePost
) -> None:
    state = _run(org, _thread(make_post))
    no_reply = apply_delete(state, "x:2")
    assert no_reply is not None
    assert no_reply.own_posts == 0 and no_reply.give == 0 and no_reply.last_org_post_at is None
    assert no_reply.awaiting_org_reply and no_reply.awaiting_post_id == "x:1"
    gone = apply_delete(apply_delete(no_reply, "x:1"), "x:3")
    assert gone is not None and gone.post_count == 0 and gone.participants == {}
    assert gone.last_activity is None and not gone.awaiting_org_reply
    assert apply_delete(None, "x:1") is None


def test_a_deleted_post_cannot_come_back_on_replay(org: Organisation, make_post: MakePost) -> None:
    post = make_post("1", "@AcmeCouncil oops")
    early = apply_delete(ConversationState(conversation_id="x:c1"), post.id)  # delete overtakes
    assert early is not None
    assert apply_post(early, post, org).post_count == 0
    deleted = apply_post(apply_post(None, post, org), make_post("1", kind="delete"), org)
    assert deleted.post_count == 0 and apply_post(deleted, post, org).post_count == 0


def test_memory_is_bounded(org: Organisation, make_post: MakePost) -> None:
    state: ConversationState | None = None
    for i in range(MAX_POSTS + 5):
        state = apply_post(state, make_post(str(i), "hi", handle=f"u{i % 3}", minutes=i), org)
    assert state is not None
    assert len(state.posts) == MAX_POSTS and state.post_count == MAX_POSTS + 5
    assert state.post_ids[0] == "x:5"


# --- retention: expire ------------------------------------------------------------


def _minutes(make_post: MakePost, minutes: float) -> datetime:
    return make_post("t", minutes=minutes).created_at


def test_last_seen_follows_each_participants_latest_post(
    org: Organisation, make_post: MakePost
) -> None:
    state = _run(
        org,
        [
            make_post("1", "hi", handle="bob", minutes=50),
            make_post("2", "late arrival", handle="bob", minutes=10),  # out of order
            make_post("3", "hello", handle="carol", minutes=20),
        ],
    )
    assert state.participant_last_seen == {
        "x:bob": _minutes(make_post, 50),
        "x:carol": _minutes(make_post, 20),
    }
    gone = apply_delete(state, "x:3")
    assert gone is not None and "x:carol" not in gone.participant_last_seen
    latest_gone = apply_delete(state, "x:1")
    assert latest_gone is not None
    assert latest_gone.participant_last_seen["x:bob"] == _minutes(make_post, 10)


def test_expire_forgets_old_posts_and_participants_and_recomputes(
    org: Organisation, make_post: MakePost
) -> None:
    state = _run(
        org,
        [
            make_post("1", "@AcmeCouncil my bin was missed", handle="bob", minutes=0),
            make_post(
                "2",
                "Sorry, a crew is coming",
                handle="AcmeCouncil",
                minutes=10,
                reply_to=("1", "x:bob"),
            ),
            make_post("3", "same here @AcmeCouncil", handle="carol", minutes=100),
            make_post("4", "and me", handle="dave", minutes=120),
        ],
    )
    assert state.awaiting_post_id == "x:3"
    cutoff = _minutes(make_post, 60)

    kept = expire(state, cutoff)
    assert kept.post_ids == ["x:3", "x:4"]
    assert set(kept.participants) == {"x:carol", "x:dave"}
    assert set(kept.participant_last_seen) == {"x:carol", "x:dave"}
    assert kept.last_org_post_at is None, "our only post here is out of retention"
    assert kept.last_activity == _minutes(make_post, 120)
    assert kept.awaiting_org_reply and kept.awaiting_post_id == "x:3"
    assert (kept.post_count, kept.own_posts, kept.give) == (4, 1, 1), "totals stay"
    assert summarise(kept).participants == 2
    assert state.post_ids == ["x:1", "x:2", "x:3", "x:4"], "expire must not mutate its input"
    assert expire(kept, cutoff) == kept

    everything = expire(state, _minutes(make_post, 500))
    assert everything.posts == [] and everything.participants == {}
    assert everything.last_activity is None and not everything.awaiting_org_reply
    assert everything.participant_last_seen == {}


def test_expire_keeps_a_participant_seen_recently_beyond_the_window(
    org: Organisation, make_post: MakePost
) -> None:
    posts = [
        make_post("early", "hi", handle="old_timer", minutes=0),
        make_post("recent", "still here", handle="regular", minutes=1000),
    ]
    posts += [
        make_post(str(i), "chat", handle="chatty", minutes=1001 + i) for i in range(MAX_POSTS)
    ]
    state = _run(org, posts)
    assert "x:recent" not in state.post_ids, "out of the remembered window"

    kept = expire(state, _minutes(make_post, 900))
    assert set(kept.participants) == {"x:regular", "x:chatty"}
    assert kept.participants["x:regular"] == 1
    assert len(kept.posts) == MAX_POSTS


def test_expire_on_a_state_stored_before_last_seen_existed(
    org: Organisation, make_post: MakePost
) -> None:
    """Old states lack the field: they load, and participants count as seen at last activity."""
    state = _run(org, _thread(make_post))
    stored = state.model_dump(mode="json")
    del stored["participant_last_seen"]
    old = ConversationState.model_validate(json.loads(json.dumps(stored)))
    assert old.participant_last_seen == {}

    last = old.last_activity
    assert last is not None
    recent = expire(old, last - timedelta(minutes=1))
    assert set(recent.participants) == set(old.participants), "last activity is recent enough"
    assert recent.post_ids == ["x:3"]
    stale = expire(old, last + timedelta(minutes=1))
    assert stale.participants == {} and stale.posts == []


def test_expire_keeps_deleted_ids_and_hostile_marks(org: Organisation, make_post: MakePost) -> None:
    deleted = apply_delete(_run(org, _thread(make_post)), "x:2")
    assert deleted is not None
    state = deleted.evolve()
    state.mark_hostile("x:bob")
    old = expire(state, _minutes(make_post, 10_000))
    assert old.deleted_post_ids == ["x:2"] and old.hostile_authors == ["x:bob"]
    assert apply_post(old, _thread(make_post)[1], org).post_ids == [], "no replay after expiry"


# --- erasure: erase_author ----------------------------------------------------------


def test_erase_author_forgets_everything_of_one_person(
    org: Organisation, make_post: MakePost
) -> None:
    thread = [
        make_post("1", "@AcmeCouncil you are useless", handle="bob", minutes=0),
        make_post("3", "leave them alone", handle="carol", minutes=3, reply_to=("1", "x:bob")),
        make_post(
            "2",
            "Sorry to hear that, Bob",
            handle="AcmeCouncil",
            minutes=5,
            reply_to=("1", "x:bob"),
        ),
        make_post("4", "@AcmeCouncil answer me", handle="bob", minutes=9, reply_to=("2", US)),
    ]
    state = _run(org, thread).evolve()
    state.mark_hostile("x:bob")
    state.mark_hostile("x:eve")
    assert state.awaiting_post_id == "x:4"

    erased = erase_author(state, "x:bob")
    assert "x:bob" not in erased.model_dump_json()
    assert erased.post_ids == ["x:3", "x:2"]
    assert {"x:1", "x:4"} <= set(erased.deleted_post_ids)
    assert all(p.replied_to_author is None for p in erased.posts)
    assert erased.participants == {"x:AcmeCouncil": 1, "x:carol": 1}
    assert erased.hostile_authors == ["x:eve"]
    assert erased.post_count == 2
    assert erased.last_activity == _minutes(make_post, 5)
    assert not erased.awaiting_org_reply, "the post awaiting our reply was theirs"
    assert (erased.own_posts, erased.give) == (1, 1)
    ours = state.ref("x:2")
    assert ours is not None and ours.replied_to_author == "x:bob", "erase_author must not mutate"
    for post in thread:
        erased = apply_post(erased, post, org)
    assert "x:bob" not in erased.model_dump_json(), "a replay cannot bring them back"
    assert erase_author(erased, "x:bob") == erased
    assert erase_author(state, "x:nobody") == state, "an author never seen changes nothing"


def test_erase_author_beyond_the_window_takes_their_whole_count(
    org: Organisation, make_post: MakePost
) -> None:
    posts = [make_post(f"b{i}", "hi", handle="bob", minutes=i) for i in range(3)]
    posts += [make_post(str(i), "chat", handle="carol", minutes=10 + i) for i in range(MAX_POSTS)]
    state = _run(org, posts)
    assert state.participants["x:bob"] == 3 and not any(p.author_id == "x:bob" for p in state.posts)
    erased = erase_author(state, "x:bob")
    assert erased.post_count == MAX_POSTS and "x:bob" not in erased.participants
    assert "x:bob" not in erased.model_dump_json()


# Ids of fixed width, so no author id is part of another id (``x:person-1`` in ``x:person-12``).
_AUTHORS = [f"x:person-{n}" for n in range(5)]
_ORG = Organisation(name="Acme Council", accounts={"x": ["AcmeCouncil"]})
_T0 = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)

_step = st.tuples(
    st.integers(0, len(_AUTHORS)),  # author; len(_AUTHORS) is our own account
    st.integers(0, 600),  # minutes after T0, arriving in any order
    st.one_of(st.none(), st.integers(0, 40)),  # replies to the n-th earlier post
    st.booleans(),  # mentions us
    st.sampled_from(["post", "post", "post", "delete", "hostile"]),
)


def _hypothetical_posts(steps: list[tuple[int, int, int | None, bool, str]]) -> ConversationState:
    state: ConversationState | None = None
    made: list[CanonicalPost] = []
    for n, (who, minutes, reply, mention, kind) in enumerate(steps):
        own = who == len(_AUTHORS)
        author_id = "x:acme-desk" if own else _AUTHORS[who]
        if kind == "delete" and made:
            state = apply_delete(state, made[(reply or 0) % len(made)].id)
            continue
        if kind == "hostile" and state is not None:
            state = state.evolve()
            state.mark_hostile(author_id)
            continue
        parent = made[reply % len(made)] if made and reply is not None else None
        post = CanonicalPost(
            id=f"x:post{n}",
            platform="x",
            created_at=_T0 + timedelta(minutes=minutes),
            text="@AcmeCouncil hello" if mention else "hello",
            author=Author(id=author_id, handle="AcmeCouncil" if own else f"h{who}"),
            conversation_id="x:thread",
            in_reply_to=ReplyTarget(post_id=parent.id, author_id=parent.author.id)
            if parent
            else None,
            mentions=["AcmeCouncil"] if mention else [],
        )
        made.append(post)
        state = apply_post(state, post, _ORG)
    return state or ConversationState(conversation_id="x:thread")


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(_step, max_size=40), victim=st.integers(0, len(_AUTHORS) - 1))
def test_after_erase_author_the_id_appears_nowhere(
    steps: list[tuple[int, int, int | None, bool, str]], victim: int
) -> None:
    state = _hypothetical_posts(steps)
    author_id = _AUTHORS[victim]
    erased = erase_author(state, author_id)
    assert author_id not in erased.model_dump_json()
    assert set(erased.participant_last_seen) <= set(erased.participants)
    assert ConversationState.model_validate_json(erased.model_dump_json()) == erased
    others = [a for a in _AUTHORS if a != author_id]
    for other in others:
        assert erased.participants.get(other) == state.participants.get(other)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(_step, max_size=40), cutoff_minutes=st.integers(0, 700))
def test_after_expire_nothing_older_than_the_cutoff_remains(
    steps: list[tuple[int, int, int | None, bool, str]], cutoff_minutes: int
) -> None:
    state = _hypothetical_posts(steps)
    cutoff = _T0 + timedelta(minutes=cutoff_minutes)
    kept = expire(state, cutoff)
    assert all(p.created_at >= cutoff for p in kept.posts)
    assert all(t >= cutoff for t in kept.participant_last_seen.values())
    assert set(kept.participant_last_seen) <= set(kept.participants)
    for when in (kept.last_activity, kept.last_org_post_at, kept.awaiting_since):
        assert when is None or when >= cutoff
    assert expire(kept, cutoff) == kept
