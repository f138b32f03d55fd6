"""Conversation state: idempotent, awaiting flag, unanswered streak, give/ask ledger, deletes,
retention (expire) and erasure of one author; closing acknowledgements; the published view."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from processors.conversation import (
    LAST_POST_TEXT,
    MAX_POSTS,
    RECENT_POSTS,
    VIEW_PARTICIPANTS,
    ConversationState,
    apply_closing,
    apply_delete,
    apply_post,
    conversation_view,
    erase_author,
    expire,
    is_empty,
    is_own_post,
    remember_enriched,
    summarise,
)
from processors.profile import Organisation
from schemas.models import Action, Author, CanonicalPost, EnrichedPost, Joinability, ReplyTarget

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
        state = remember_enriched(
            apply_post(state, post, _ORG), _enriched(post, (n % 10) / 10, "reply")
        )
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


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(_step, max_size=40), victim=st.integers(0, len(_AUTHORS) - 1))
def test_the_view_after_erase_author_names_them_nowhere_and_points_at_kept_posts(
    steps: list[tuple[int, int, int | None, bool, str]], victim: int
) -> None:
    author_id = _AUTHORS[victim]
    erased = erase_author(_hypothetical_posts(steps), author_id)
    view = conversation_view(erased, "x", _T0)
    assert author_id not in view.model_dump_json()
    kept = set(erased.post_ids)
    assert view.best_post_id is None or view.best_post_id in kept
    assert view.last_post is None or view.last_post.id in {p.id for p in erased.recent_posts}
    shown = [p.created_at for p in erased.recent_posts]
    assert shown == sorted(shown) and len(shown) <= RECENT_POSTS


# --- what the view shows: last post, last action, best joinability -----------------------


def _enriched(post: CanonicalPost, score: float, action: Action) -> EnrichedPost:
    """The post as enrich publishes it, with only the parts the state keeps filled in."""
    return EnrichedPost.model_validate(
        {**post.model_dump(), "joinability": Joinability(score=score, action=action)}
    )


def _remembered(
    org: Organisation, posts: list[tuple[CanonicalPost, float, Action]]
) -> ConversationState:
    state: ConversationState | None = None
    for post, score, action in posts:
        state = remember_enriched(apply_post(state, post, org), _enriched(post, score, action))
    assert state is not None
    return state


def test_states_stored_before_the_view_fields_load_with_them_empty(
    org: Organisation, make_post: MakePost
) -> None:
    stored = json.loads(_run(org, _thread(make_post)).model_dump_json())
    del stored["recent_posts"]
    for ref in stored["posts"]:
        for name in ("action", "score", "closing"):
            del ref[name]
    state = ConversationState.model_validate(stored)
    assert state.recent_posts == [] and state.last_post is None
    assert state.last_action is None and state.best is None
    view = conversation_view(state, "x", T_VIEW)
    assert (view.last_post, view.last_action, view.best_joinability) == (None, None, None)


T_VIEW = datetime(2024, 6, 2, 12, 0, tzinfo=UTC)


def test_the_state_keeps_the_newest_posts_as_shown_and_each_posts_judgement(
    org: Organisation, make_post: MakePost
) -> None:
    long_text = "@AcmeCouncil " + "the bins again " * 60
    posts: list[tuple[CanonicalPost, float, Action]] = [
        (make_post("1", "@AcmeCouncil bins missed", handle="bob", minutes=0), 0.9, "reply"),
        (
            make_post("2", "same here", handle="carol", minutes=5, reply_to=("1", "x:bob")),
            0.4,
            "listen_only",
        ),
        (
            make_post("3", "On it, Bob", handle="AcmeCouncil", minutes=10, reply_to=("1", "x:bob")),
            0.0,
            "do_not_engage",
        ),
        (make_post("4", long_text, handle="dee", minutes=20), 0.7, "reply"),
    ]
    state = _remembered(org, posts)
    assert [p.id for p in state.recent_posts] == ["x:2", "x:3", "x:4"]
    last = state.last_post
    assert last is not None and last.id == "x:4" and last.handle == "dee"
    assert len(last.text) == LAST_POST_TEXT and long_text.startswith(last.text)
    assert last.action == "reply" and last.author_id == "x:dee"
    assert state.last_action == "reply"
    best = state.best
    assert best is not None and (best.id, best.score) == ("x:1", 0.9)

    # A late post (written before the others, enriched last) is the last action,
    # not the last post, and does not push the newest ones out.
    late = make_post("0", "@AcmeCouncil still?", handle="eve", minutes=-5)
    state = remember_enriched(apply_post(state, late, org), _enriched(late, 0.95, "escalate"))
    assert [p.id for p in state.recent_posts] == ["x:2", "x:3", "x:4"]
    assert state.last_action == "escalate"
    assert state.best is not None and state.best.id == "x:0"
    # A replay changes nothing; an edit replaces the text shown.
    again = remember_enriched(apply_post(state, late, org), _enriched(late, 0.95, "escalate"))
    assert again == state
    edited = make_post(
        "4", "@AcmeCouncil edited: bins on Elm St", handle="dee", minutes=20, kind="edit"
    )
    state = remember_enriched(apply_post(state, edited, org), _enriched(edited, 0.6, "reply"))
    assert state.last_post is not None and state.last_post.text.startswith("@AcmeCouncil edited")
    assert state.ref("x:4") is not None and state.ref("x:4").score == 0.6  # type: ignore[union-attr]


def test_own_posts_are_never_the_best_post(org: Organisation, make_post: MakePost) -> None:
    ours = make_post("1", "Bins are on time today", handle="AcmeCouncil")
    state = _remembered(org, [(ours, 0.8, "do_not_engage")])
    assert state.best is None and state.last_action == "do_not_engage"
    assert state.last_post is not None and state.last_post.id == "x:1"


def test_a_redacted_post_is_shown_without_its_words(org: Organisation, make_post: MakePost) -> None:
    post = make_post("1", "@AcmeCouncil my dad passed away, cancel his bins")
    published = _enriched(post, 0.5, "reply").model_copy(update={"text": "", "url": None})
    state = remember_enriched(apply_post(None, post, org), published)
    assert (
        state.last_post is not None and state.last_post.text == "" and state.last_post.url is None
    )


def test_deleting_the_last_or_best_post_recomputes_from_what_remains(
    org: Organisation, make_post: MakePost
) -> None:
    state = _remembered(
        org,
        [
            (make_post("1", "@AcmeCouncil one", handle="bob", minutes=0), 0.9, "reply"),
            (make_post("2", "two", handle="carol", minutes=5), 0.3, "listen_only"),
            (make_post("3", "@AcmeCouncil three", handle="dee", minutes=10), 0.5, "appreciate"),
        ],
    )
    after = apply_delete(state, "x:3")
    assert after is not None
    assert after.last_post is not None and after.last_post.id == "x:2"
    assert after.last_action == "listen_only"
    after = apply_delete(after, "x:1")
    assert after is not None and after.best is not None and after.best.id == "x:2"
    after = apply_delete(after, "x:2")
    assert after is not None
    assert (after.last_post, after.last_action, after.best) == (None, None, None)
    assert is_empty(after), "nothing left to show: the view is a tombstone"
    assert not is_empty(state)


def test_the_last_post_has_no_stand_in_beyond_the_posts_kept_as_shown(
    org: Organisation, make_post: MakePost
) -> None:
    posts = [
        (make_post(str(i), f"post {i}", handle=f"p{i}", minutes=i), 0.1, "listen_only")
        for i in range(RECENT_POSTS + 2)
    ]
    state = _remembered(org, posts)  # type: ignore[arg-type]
    for post, _, _ in reversed(posts[2:]):
        state = apply_delete(state, post.id)  # type: ignore[assignment]
    assert state.last_post is None, "older posts were never kept as shown: None until the next"
    assert state.last_action == "listen_only" and state.post_count == 2


def test_erase_author_takes_their_shown_posts_and_expire_the_old_ones(
    org: Organisation, make_post: MakePost
) -> None:
    state = _remembered(
        org,
        [
            (make_post("1", "@AcmeCouncil one", handle="bob", minutes=0), 0.9, "reply"),
            (make_post("2", "@bob two", handle="carol", minutes=5), 0.3, "listen_only"),
            (make_post("3", "@AcmeCouncil three", handle="bob", minutes=10), 0.5, "reply"),
        ],
    )
    erased = erase_author(state, "x:bob")
    assert [p.id for p in erased.recent_posts] == ["x:2"]
    assert erased.last_action == "listen_only" and erased.best is not None
    assert erased.best.id == "x:2"
    view = conversation_view(erased, "x", T_VIEW)
    assert "x:bob" not in view.model_dump_json()
    assert view.last_post is not None and view.last_post.text == "@bob two", "others' words stay"

    kept = expire(state, _minutes(make_post, 4))
    assert [p.id for p in kept.recent_posts] == ["x:2", "x:3"]
    assert kept.best is not None and kept.best.id == "x:3"


def test_conversation_view_is_the_state_as_published(
    org: Organisation, make_post: MakePost
) -> None:
    thread = _thread(make_post)
    state = _remembered(org, [(p, (i + 1) / 5, "reply") for i, p in enumerate(thread)])
    view = conversation_view(state, "x", T_VIEW)
    summary = summarise(state)
    assert view.conversation_id == "x:c1" and view.platform == "x"
    assert view.updated_at == T_VIEW
    for name in (
        "posts",
        "participants",
        "own_posts",
        "give",
        "ask",
        "last_activity",
        "last_org_post_at",
        "awaiting_org_reply",
        "awaiting_since",
        "unanswered_org_posts",
    ):
        assert getattr(view, name) == getattr(summary, name), name
    assert view.awaiting_post_id == state.awaiting_post_id
    assert view.participant_ids == ["x:bob", "x:AcmeCouncil"], "most recently seen first"
    assert view.last_post is not None and view.last_post.id == "x:3"
    assert view.last_action == "reply"
    assert (view.best_post_id, view.best_joinability) == ("x:3", 3 / 5)
    assert view.model_validate_json(view.model_dump_json()) == view


def test_the_view_names_a_bounded_number_of_participants(
    org: Organisation, make_post: MakePost
) -> None:
    posts = [make_post(str(i), "hi", handle=f"p{i:03d}", minutes=i) for i in range(150)]
    view = conversation_view(_run(org, posts), "x", T_VIEW)
    assert view.participants == 150
    assert len(view.participant_ids) == VIEW_PARTICIPANTS
    assert view.participant_ids[0] == "x:p149", "the most recently seen first"


# --- a closing acknowledgement closes the thread -------------------------------------------


def _answered(make_post: MakePost) -> list[CanonicalPost]:
    return [
        make_post("1", "@AcmeCouncil is the tip open on Sunday?", handle="bob", minutes=0),
        make_post("2", "Yes, 9 to 4", handle="AcmeCouncil", minutes=10, reply_to=("1", "x:bob")),
    ]


def _close(
    org: Organisation, state: ConversationState | None, post: CanonicalPost
) -> ConversationState:
    """What enrich does for a post read as closing: apply it, then settle it."""
    return apply_closing(apply_post(state, post, org), post.id, state)


def test_a_thank_you_after_our_reply_leaves_the_thread_not_awaiting(
    org: Organisation, make_post: MakePost
) -> None:
    answered = _run(org, _answered(make_post))
    thanks = make_post(
        "3", "Cheers, will leave it out 👍", handle="bob", minutes=20, reply_to=("2", US)
    )
    applied = apply_post(answered, thanks, org)
    assert applied.awaiting_org_reply, "without the reading, a reply to us awaits"
    closed = apply_closing(applied, thanks.id, answered)
    assert not closed.awaiting_org_reply and closed.awaiting_since is None
    ref = closed.ref("x:3")
    assert ref is not None and ref.closing
    assert closed.unanswered_org_posts == 0, "they answered us"
    assert apply_closing(closed, thanks.id, closed) == closed, "a replay changes nothing"
    # A later delete replays the flag from the posts: the closing post still waits for nothing.
    other = make_post("4", "chat", handle="carol", minutes=25)
    replayed = apply_delete(apply_post(closed, other, org), other.id)
    assert replayed is not None and not replayed.awaiting_org_reply


def test_a_closing_post_settles_its_authors_wait_but_not_someone_elses(
    org: Organisation, make_post: MakePost
) -> None:
    answered = _run(org, _answered(make_post))
    carol = make_post("3", "@AcmeCouncil and the library?", handle="carol", minutes=15)
    waiting = apply_post(answered, carol, org)
    assert waiting.awaiting_post_id == "x:3"
    thanks = make_post(
        "4", "Brilliant, see you tomorrow", handle="bob", minutes=20, reply_to=("2", US)
    )
    closed = _close(org, waiting, thanks)
    assert closed.awaiting_org_reply and closed.awaiting_post_id == "x:3", "Carol still waits"
    replayed = apply_delete(
        apply_post(closed, make_post("5", "x", handle="z", minutes=30), org), "x:5"
    )
    assert replayed is not None and replayed.awaiting_post_id == "x:3"

    bob_again = make_post(
        "3", "@AcmeCouncil and on Monday?", handle="bob", minutes=15, reply_to=("2", US)
    )
    own_wait = apply_post(answered, bob_again, org)
    assert own_wait.awaiting_post_id == "x:3"
    assert not _close(org, own_wait, thanks).awaiting_org_reply, "his thanks settles his own wait"


def test_a_closing_post_without_our_reply_before_it_still_awaits(
    org: Organisation, make_post: MakePost
) -> None:
    ours = make_post("1", "Bins on time this week", handle="AcmeCouncil", minutes=0)
    broadcast = _run(org, [ours])
    thanks = make_post("2", "thanks!", handle="bob", minutes=5, reply_to=("1", US))
    assert _close(org, broadcast, thanks).awaiting_org_reply, "no answer of ours to close"
    # Our reply written after the post (arriving first) is not an answer it acknowledges.
    first = make_post("1", "@AcmeCouncil bins?", handle="bob", minutes=0)
    late_reply = make_post("3", "Yes", handle="AcmeCouncil", minutes=30, reply_to=("1", "x:bob"))
    early = make_post("2", "@AcmeCouncil thanks", handle="bob", minutes=10)
    state = _run(org, [first, late_reply])
    assert _close(org, state, early).awaiting_org_reply
