"""Conversation state: idempotent, awaiting flag, unanswered streak, give/ask ledger, deletes."""

from __future__ import annotations

from collections.abc import Callable

from processors.conversation import (
    MAX_POSTS,
    ConversationState,
    apply_delete,
    apply_post,
    is_own_post,
    summarise,
)
from processors.profile import Organisation
from schemas.models import CanonicalPost

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
