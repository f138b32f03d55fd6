"""Conversation state: what the organisation needs to remember about one thread.

The enrich agent keeps one :class:`ConversationState` per conversation id in a
changelog-backed table, stored as ``state.model_dump(mode="json")``. Every
function here is pure and returns a new state, and applying a post id twice
changes nothing, because an at-least-once pipeline replays messages after a
restart.

Rules (also in docs/joinability.md):

* **Own post**: the author's handle is one of ``org.own_handles()`` or the
  author is flagged ``is_org_account``.
* **Directed at us**: a non-own post that mentions an own handle, replies to an
  own post or own author, or arrives in a thread where we have already posted
  (once we are in a thread, what follows is addressed to us too) - unless our
  last two or more posts there went unanswered, when we step back instead.
* **Awaiting a reply**: a directed post sets ``awaiting_org_reply`` since its
  ``created_at``; a later directed post keeps the oldest time. An own post
  that replies in the thread (has ``in_reply_to``) clears it.
* **A closing acknowledgement waits for nothing** (:func:`apply_closing`): a
  directed post read as ``closing`` ("Cheers, will leave it out", "Brilliant,
  see you tomorrow") after an own reply in the thread does not set the flag,
  and settles its author's own wait; someone else's wait stands. Otherwise
  thank-yous would top the reply queue, asking us to answer a goodbye.
* **Unanswered own posts**: own posts in a row that nobody has answered since
  (answered = someone else replied to an own post or author, or mentioned an
  own handle; talking past us in the same thread is not an answer). Two or
  more means "step back".
* **Give / ask**: an own reply to someone else's post, or an own share or
  thank-you naming someone else, is *give*; every other own post (a broadcast,
  or continuing our own thread) is *ask*.
* **Edits** replace text the state does not hold, so an edit of a known post
  changes nothing; an edit of a post never seen counts as that post.

Memory is bounded: only the last ``MAX_POSTS`` (200) posts are remembered
individually (id, author, time, role), and at most ``MAX_PARTICIPANTS``
authors with their post counts. The bound is also the write cost: the whole
state goes to the table's changelog on every post of the thread, and at 200
posts it is about 30 KB (at 1000 it was 150 KB and 3 ms of (de)serialising
per post, measured). What the view needs (each post's action and score, three
posts as displayed) adds about a quarter: 42 KB became 54 KB at 200 posts with
19-digit X ids, 2 ms to load and dump, measured. Totals (``post_count``, ``own_posts``,
``give``, ``ask``) keep counting past the window. A replay of a post older
than the window would be counted again; replays come from recent offsets,
so this does not happen in practice.

Memory is also bounded in time (:func:`expire`): posts created before the
retention cutoff and participants not seen since are forgotten, so the
conversations table keeps nobody longer than ``TOWNSQUARE_RETENTION_DAYS``
allows. :func:`erase_author` forgets one person altogether (an erasure
request).

What an analyst reads of a thread (:func:`conversation_view`, published on
``conversations.state``) is kept here too, so it can be rebuilt after a
delete, an erasure or the retention sweep without the posts: each remembered
post's recommended action and joinability (:func:`remember_enriched`), and
the ``RECENT_POSTS`` newest posts as displayed (handle, text cut to
``LAST_POST_TEXT`` characters, url), so a deleted last post has a stand-in.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from processors.profile import Organisation, normalize_handle
from schemas.models import (
    Action,
    CanonicalPost,
    ConversationSummary,
    ConversationView,
    EnrichedPost,
    LastPost,
)

__all__ = [
    "LAST_POST_TEXT",
    "MAX_PARTICIPANTS",
    "MAX_POSTS",
    "RECENT_POSTS",
    "VIEW_PARTICIPANTS",
    "ConversationState",
    "PostRef",
    "apply_closing",
    "apply_delete",
    "apply_post",
    "conversation_view",
    "erase_author",
    "expire",
    "is_empty",
    "is_own_post",
    "remember_enriched",
    "summarise",
]

MAX_POSTS = 200
MAX_HOSTILE = 50
MAX_PARTICIPANTS = 1000
RECENT_POSTS = 3
"""Newest posts kept as displayed: the last post and two stand-ins should it be deleted.

Each costs up to ~0.7 KB on every changelog write of the thread, hence so few."""
LAST_POST_TEXT = 500
"""Characters of a displayed post's text that the state (and the view) keep."""
VIEW_PARTICIPANTS = 100
"""Participant ids a published view names at most (the most recently seen)."""

_APPRECIATION = re.compile(
    r"\b(?:thanks?|thank you|thx|congrat(?:s|ulations)|well done|kudos|shout-?out|love this"
    r"|great (?:work|job|idea|photo|post))\b|^RT @",
    re.IGNORECASE,
)

Role = Literal["give", "ask", "other"]


class PostRef(BaseModel):
    """What the state remembers of one post: enough to undo it on delete."""

    model_config = ConfigDict(extra="forbid")

    id: str
    author_id: str
    created_at: datetime
    own: bool = False
    role: Role = "other"
    directed: bool = Field(default=False, description="A non-own post addressed to us.")
    answers_org: bool = Field(
        default=False, description="A non-own post that replies to us or mentions us."
    )
    reply: bool = Field(default=False, description="Has in_reply_to.")
    replied_to_author: str | None = Field(
        default=None, description="Author id of the post this one replies to, when known."
    )
    action: Action | None = Field(
        default=None,
        description="Its recommended action once enriched (None in states stored before).",
    )
    score: float | None = Field(default=None, description="Its joinability score once enriched.")
    closing: bool = Field(
        default=False,
        description="A closing acknowledgement of our answer: it waits for no reply.",
    )


class ConversationState(BaseModel):
    """Everything the enrich stage keeps per conversation id; JSON-serialisable."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: str
    posts: list[PostRef] = Field(
        default_factory=list, description=f"The last {MAX_POSTS} posts, in arrival order."
    )
    post_count: int = 0
    participants: dict[str, int] = Field(
        default_factory=dict, description="author id -> posts in this thread (bounded)."
    )
    participant_last_seen: dict[str, datetime] = Field(
        default_factory=dict,
        description="author id -> created_at of their latest post here, beyond the remembered "
        "posts too, so expire() knows whom to forget. Keys are a subset of participants' "
        "(same bound). States stored before it existed load with it empty.",
    )
    own_author_ids: list[str] = Field(default_factory=list)
    own_posts: int = 0
    last_activity: datetime | None = None
    last_org_post_at: datetime | None = None
    awaiting_org_reply: bool = False
    awaiting_since: datetime | None = None
    awaiting_post_id: str | None = None
    unanswered_org_posts: int = 0
    give: int = 0
    ask: int = 0
    deleted_post_ids: list[str] = Field(
        default_factory=list,
        description="Deleted ids (bounded), so a replayed post cannot come back.",
    )
    hostile_authors: list[str] = Field(
        default_factory=list,
        description="Authors who posted abuse, threats or hate here (bounded), so a pile-on "
        "is read as one.",
    )
    recent_posts: list[LastPost] = Field(
        default_factory=list,
        description=f"The {RECENT_POSTS} newest posts by created_at as an analyst reads them, "
        "oldest first (text cut, empty when redacted). States stored before it existed load "
        "with it empty until the next post.",
    )

    @property
    def post_ids(self) -> list[str]:
        """Ids of the remembered posts, oldest first."""
        return [p.id for p in self.posts]

    def evolve(self) -> ConversationState:
        """A copy safe to change: containers are copied, the (never mutated) PostRefs shared.

        Cheaper than a deep copy, which matters with a thousand remembered posts.
        """
        return self.model_copy(
            update={
                "posts": list(self.posts),
                "participants": dict(self.participants),
                "participant_last_seen": dict(self.participant_last_seen),
                "own_author_ids": list(self.own_author_ids),
                "deleted_post_ids": list(self.deleted_post_ids),
                "hostile_authors": list(self.hostile_authors),
                "recent_posts": list(self.recent_posts),
            }
        )

    def mark_hostile(self, author_id: str) -> None:
        """Remember that ``author_id`` was hostile in this thread (call on an evolved copy)."""
        if author_id not in self.hostile_authors:
            self.hostile_authors.append(author_id)
            del self.hostile_authors[:-MAX_HOSTILE]

    def was_deleted(self, post_id: str) -> bool:
        """True for a post the platform deleted (possibly before we ever saw it)."""
        return post_id in self.deleted_post_ids

    def we_answered(self, author_id: str) -> bool:
        """True when one of our posts in this thread replied to ``author_id``."""
        return any(p.own and p.replied_to_author == author_id for p in self.posts)

    def ref(self, post_id: str) -> PostRef | None:
        return next((p for p in self.posts if p.id == post_id), None)

    @property
    def last_post(self) -> LastPost | None:
        """The newest post by ``created_at`` (None before the first, or when all kept went)."""
        return self.recent_posts[-1] if self.recent_posts else None

    @property
    def last_action(self) -> Action | None:
        """The action recommended for the last post to arrive that is still remembered.

        Arrival order, not ``created_at``: the post enriched last. A replay or an
        edit does not move a post, so re-enriching an old post changes nothing here.
        """
        return next((p.action for p in reversed(self.posts) if p.action is not None), None)

    @property
    def best(self) -> PostRef | None:
        """The remembered post of someone else with the highest joinability (first on a tie).

        Our own posts are left out: there is nothing for us to join in them.
        """
        scored = [p for p in self.posts if p.score is not None and not p.own]
        return max(scored, key=lambda p: p.score or 0.0) if scored else None


def is_own_post(post: CanonicalPost, org: Organisation) -> bool:
    """True for posts by the organisation's own accounts."""
    if post.author.is_org_account:
        return True
    return bool(post.author.handle) and normalize_handle(post.author.handle or "") in (
        org.own_handles()
    )


def mentions_us(post: CanonicalPost, org: Organisation) -> list[str]:
    """The post's mentions that address us (our handles and aliases), as written."""
    addressed = org.addressed_handles()
    return [m for m in post.mentions if normalize_handle(m) in addressed]


def replies_to_us(post: CanonicalPost, state: ConversationState | None, org: Organisation) -> bool:
    """Replies to one of our posts or accounts.

    Known from the thread (the parent is ours, or its author posted as us here),
    else from the parent author's id when it carries the handle (``x:OurDesk``).
    """
    target = post.in_reply_to
    if target is None:
        return False
    if state is not None:
        replied = state.ref(target.post_id)
        if replied is not None and replied.own:
            return True
        if target.author_id is not None and target.author_id in state.own_author_ids:
            return True
    native = (target.author_id or "").split(":", 1)[-1]
    return bool(native) and normalize_handle(native) in org.own_handles()


def _answers_org(post: CanonicalPost, state: ConversationState, org: Organisation) -> bool:
    """Replies to us, or mentions one of our handles or aliases."""
    return bool(mentions_us(post, org)) or replies_to_us(post, state, org)


def _own_role(post: CanonicalPost, state: ConversationState, org: Organisation) -> Role:
    if post.in_reply_to is not None:
        return "ask" if replies_to_us(post, state, org) else "give"
    own = org.own_handles()
    names_others = any(normalize_handle(m) not in own for m in post.mentions)
    if names_others and _APPRECIATION.search(post.text):
        return "give"
    return "ask"


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def apply_post(
    state: ConversationState | None, post: CanonicalPost, org: Organisation
) -> ConversationState:
    """The state after ``post``; the same post id twice is a no-op."""
    if state is None:
        state = ConversationState(conversation_id=post.conversation_id)
    if post.kind == "delete":
        return apply_delete(state, post.id) or state
    if post.id in state.deleted_post_ids or state.ref(post.id) is not None:
        return state.evolve()

    new = state.evolve()
    own = is_own_post(post, org)
    author = post.author.id
    ref = PostRef(
        id=post.id,
        author_id=author,
        created_at=post.created_at,
        own=own,
        reply=post.in_reply_to is not None,
        replied_to_author=post.in_reply_to.author_id if post.in_reply_to else None,
    )
    if own:
        ref.role = _own_role(post, new, org)
        new.own_posts += 1
        if ref.role == "give":
            new.give += 1
        else:
            new.ask += 1
        if author not in new.own_author_ids:
            new.own_author_ids.append(author)
        new.last_org_post_at = _later(new.last_org_post_at, post.created_at)
        new.unanswered_org_posts += 1
        if ref.reply:
            new.awaiting_org_reply = False
            new.awaiting_since = None
            new.awaiting_post_id = None
    else:
        ref.answers_org = _answers_org(post, new, org)
        # Being in the thread makes later posts ours to answer, unless we have
        # already posted twice unanswered: then we step back and stop waiting.
        in_thread = new.own_posts > 0 and new.unanswered_org_posts < 2
        ref.directed = ref.answers_org or in_thread
        if ref.answers_org:
            new.unanswered_org_posts = 0
        if ref.directed and (
            not new.awaiting_org_reply
            or new.awaiting_since is None
            or post.created_at < new.awaiting_since
        ):
            new.awaiting_org_reply = True
            new.awaiting_since = post.created_at
            new.awaiting_post_id = post.id

    new.posts.append(ref)
    del new.posts[:-MAX_POSTS]
    new.post_count += 1
    if author in new.participants or len(new.participants) < MAX_PARTICIPANTS:
        new.participants[author] = new.participants.get(author, 0) + 1
        seen = new.participant_last_seen.get(author)
        new.participant_last_seen[author] = _later(seen, post.created_at)
    new.last_activity = _later(new.last_activity, post.created_at)
    return new


def _replay_awaiting(state: ConversationState) -> None:
    """Recompute the awaiting flag and streak from the remembered posts, in order.

    A closing post never sets the flag and settles its own author's wait, as
    :func:`apply_closing` decided when it arrived.
    """
    state.awaiting_org_reply, state.awaiting_since, state.awaiting_post_id = False, None, None
    streak = 0
    waiting_author: str | None = None
    for ref in state.posts:
        if ref.own:
            streak += 1
            if ref.reply:
                state.awaiting_org_reply, state.awaiting_since = False, None
                state.awaiting_post_id = waiting_author = None
        else:
            if ref.answers_org:
                streak = 0
            if ref.closing:
                if state.awaiting_org_reply and waiting_author == ref.author_id:
                    state.awaiting_org_reply, state.awaiting_since = False, None
                    state.awaiting_post_id = waiting_author = None
            elif ref.directed and not state.awaiting_org_reply:
                state.awaiting_org_reply = True
                state.awaiting_since, state.awaiting_post_id = ref.created_at, ref.id
                waiting_author = ref.author_id
    state.unanswered_org_posts = streak


def apply_delete(state: ConversationState | None, post_id: str) -> ConversationState | None:
    """The state without ``post_id`` (``None`` only if there was no state).

    The id is remembered even when the post was never seen (a delete can
    overtake its post) or the conversation is left empty, so a replayed post
    cannot come back.

    What can be undone: counts, participants, the give/ask ledger, last
    activity and last own post time, the awaiting flag and the unanswered
    streak (recomputed from the remembered posts), and what the view shows:
    a deleted last post gives way to the newest of the other ``RECENT_POSTS``
    kept as displayed (None when none is left, until the next post), and the
    last action and best joinability are those of the remembered posts that
    remain (None when none was scored). What cannot: a post older than the
    last ``MAX_POSTS`` (only its id is recorded, so it is never re-counted),
    and the "directed at us" decision of later posts made while a now-deleted
    own post was in the thread.
    """
    if state is None:
        return None
    new = state.evolve()
    if post_id not in new.deleted_post_ids:
        new.deleted_post_ids.append(post_id)
        del new.deleted_post_ids[:-MAX_POSTS]
    new.recent_posts = [p for p in new.recent_posts if p.id != post_id]
    ref = new.ref(post_id)
    if ref is None:
        return new
    new.posts = [p for p in new.posts if p.id != post_id]
    new.post_count = max(0, new.post_count - 1)
    if ref.author_id in new.participants:
        new.participants[ref.author_id] -= 1
        if new.participants[ref.author_id] <= 0:
            del new.participants[ref.author_id]
            new.participant_last_seen.pop(ref.author_id, None)
        elif new.participant_last_seen.get(ref.author_id) == ref.created_at:
            # Their latest post went: the latest remembered one stands in (an older
            # one beyond the window is unknown, and the deleted time bounds it).
            theirs = [p.created_at for p in new.posts if p.author_id == ref.author_id]
            if theirs:
                new.participant_last_seen[ref.author_id] = max(theirs)
    if ref.own:
        new.own_posts = max(0, new.own_posts - 1)
        if ref.role == "give":
            new.give = max(0, new.give - 1)
        else:
            new.ask = max(0, new.ask - 1)
        own_times = [p.created_at for p in new.posts if p.own]
        new.last_org_post_at = max(own_times) if own_times else None
    times = [p.created_at for p in new.posts]
    new.last_activity = max(times) if times else None
    _replay_awaiting(new)
    return new


def _last_seen(state: ConversationState, author_id: str) -> datetime | None:
    """When ``author_id`` last posted here; without an entry (a state stored before
    entries existed), the thread's last activity, the latest it can have been."""
    return state.participant_last_seen.get(author_id, state.last_activity)


def expire(state: ConversationState, cutoff: datetime) -> ConversationState:
    """The state without what is older than ``cutoff`` (the retention limit).

    Goes: remembered posts created before ``cutoff``, and participants whose
    last post here is older (with their post counts and last-seen times). Then,
    as :func:`apply_delete` does, the awaiting flag and unanswered streak are
    replayed from the posts that remain, and ``last_activity`` and
    ``last_org_post_at`` are cleared when they fall before ``cutoff`` (both are
    maxima, so a time at or after it belongs to a post that stays).

    The displayed posts created before ``cutoff`` go too, so the last post is
    the newest displayed one left, or None; last action and best joinability
    are read from the remaining posts (see :func:`apply_delete`).

    Stays: the totals (``post_count``, ``own_posts``, ``give``, ``ask``), which
    are counts and name nobody; ``own_author_ids``, the organisation's own
    accounts; ``deleted_post_ids``, at most ``MAX_POSTS`` ids with no text or
    time, which must outlive the posts or a replay would bring a deleted post
    back; and ``hostile_authors``, at most ``MAX_HOSTILE`` ids kept so that a
    pile-on in a long-running thread is still read as one (an erasure request
    removes an author from it, see :func:`erase_author`).
    """
    new = state.evolve()
    new.posts = [p for p in new.posts if p.created_at >= cutoff]
    new.recent_posts = [p for p in new.recent_posts if p.created_at >= cutoff]
    for author in list(new.participants):
        seen = _last_seen(state, author)
        if seen is None or seen < cutoff:
            del new.participants[author]
    new.participant_last_seen = {
        a: t for a, t in new.participant_last_seen.items() if a in new.participants
    }
    if new.last_activity is not None and new.last_activity < cutoff:
        new.last_activity = None
    if new.last_org_post_at is not None and new.last_org_post_at < cutoff:
        new.last_org_post_at = None
    _replay_awaiting(new)
    return new


def erase_author(state: ConversationState, author_id: str) -> ConversationState:
    """The state with everything it remembers of ``author_id`` gone (an erasure request).

    Their remembered posts go (and their ids join ``deleted_post_ids``, so a
    replay cannot bring one back), with their participant count, last-seen
    time, hostility mark and own-account entry; other posts that replied to
    them keep the reply but no longer name whom. Their posts leave the totals
    too (``post_count`` by their participant count, which covers posts beyond
    the remembered window; ``own_posts`` and give/ask by their remembered own
    posts). The awaiting flag, streak, ``last_activity`` and
    ``last_org_post_at`` are recomputed as :func:`apply_delete` recomputes them,
    and so is what the view shows: their displayed posts go (a last post of
    theirs gives way to the newest displayed post of someone else, or None),
    and last action and best joinability come from the posts that remain.
    Others' posts that quote or @mention them keep their text, as the posts
    index keeps those posts.
    """
    new = state.evolve()
    new.recent_posts = [p for p in new.recent_posts if p.author_id != author_id]
    theirs = [p for p in new.posts if p.author_id == author_id]
    for ref in theirs:
        if ref.id not in new.deleted_post_ids:
            new.deleted_post_ids.append(ref.id)
    del new.deleted_post_ids[:-MAX_POSTS]
    new.posts = [
        p.model_copy(update={"replied_to_author": None}) if p.replied_to_author == author_id else p
        for p in new.posts
        if p.author_id != author_id
    ]
    counted = max(new.participants.pop(author_id, 0), len(theirs))
    new.post_count = max(0, new.post_count - counted)
    seen = new.participant_last_seen.get(author_id)
    new.participant_last_seen.pop(author_id, None)
    new.hostile_authors = [a for a in new.hostile_authors if a != author_id]
    new.own_author_ids = [a for a in new.own_author_ids if a != author_id]
    own = [p for p in theirs if p.own]
    if own:
        new.own_posts = max(0, new.own_posts - len(own))
        gave = sum(p.role == "give" for p in own)
        new.give = max(0, new.give - gave)
        new.ask = max(0, new.ask - (len(own) - gave))
        own_times = [p.created_at for p in new.posts if p.own]
        new.last_org_post_at = max(own_times) if own_times else None
    if counted and (seen is None or seen == state.last_activity):
        # Their post may have been the latest: the latest of what remains stands in.
        times = [p.created_at for p in new.posts] + list(new.participant_last_seen.values())
        if state.last_activity and any(
            a not in new.participant_last_seen for a in new.participants
        ):
            times.append(state.last_activity)  # entry-less participants: seen at most then
        new.last_activity = max(times) if times else None
    if theirs:
        _replay_awaiting(new)
    return new


def summarise(state: ConversationState) -> ConversationSummary:
    """The published view of the state (no ids, no bookkeeping)."""
    return ConversationSummary(
        posts=state.post_count,
        participants=len(state.participants),
        own_posts=state.own_posts,
        last_activity=state.last_activity,
        last_org_post_at=state.last_org_post_at,
        awaiting_org_reply=state.awaiting_org_reply,
        awaiting_since=state.awaiting_since,
        unanswered_org_posts=state.unanswered_org_posts,
        give=state.give,
        ask=state.ask,
    )


def apply_closing(
    state: ConversationState, post_id: str, before: ConversationState | None
) -> ConversationState:
    """The state once ``post_id`` is read as a closing acknowledgement addressed to us.

    ``state`` is the one :func:`apply_post` returned for the post, ``before`` the
    one it was applied to: the reading that finds a closing post needs the
    state after the post, so this step comes after it. It applies to a
    directed post of someone else that comes after an own reply in the thread
    (one created no later than it): "Cheers, will leave it out" answers our
    answer and waits for nothing, so it must not put the thread back in the
    reply queue. The post is marked ``closing`` (so replays of the awaiting
    flag after a delete agree), and the thread is left not awaiting, unless
    someone else was already waiting before it (their question still stands;
    one person's thanks does not settle another's wait). A wait whose post is
    beyond the remembered window counts as someone else's. A replay of a post
    already in ``before`` changes nothing.
    """
    ref = state.ref(post_id)
    if ref is None or ref.own or not ref.directed or ref.closing:
        return state
    if before is not None and before.ref(post_id) is not None:
        return state
    if not any(p.own and p.reply and p.created_at <= ref.created_at for p in state.posts):
        return state
    new = state.evolve()
    new.posts = [
        p.model_copy(update={"closing": True}) if p.id == post_id else p for p in new.posts
    ]
    waiting = before is not None and before.awaiting_org_reply
    if before is not None and waiting and before.awaiting_post_id is not None:
        waiter = before.ref(before.awaiting_post_id)
        waiting = waiter is None or waiter.author_id != ref.author_id
    if before is not None and waiting:
        new.awaiting_org_reply = True
        new.awaiting_since, new.awaiting_post_id = before.awaiting_since, before.awaiting_post_id
    else:
        new.awaiting_org_reply, new.awaiting_since, new.awaiting_post_id = False, None, None
    return new


def remember_enriched(state: ConversationState, post: EnrichedPost) -> ConversationState:
    """The state with what the view shows of ``post``, once it is enriched (and redacted).

    Its remembered entry keeps the recommended action and the joinability
    score (the view's last action and best post, recomputable after a
    delete), and the post joins the ``RECENT_POSTS`` newest posts as
    displayed when it is one of them by ``created_at``: a late post older than
    those kept does not displace them. An edit replaces the displayed text.
    Called with the post as published, so a redacted post is kept with an
    empty text and no url. A post the state does not hold (deleted) is not
    remembered.
    """
    if post.id in state.deleted_post_ids:
        return state
    new = state.evolve()
    action, score = post.joinability.action, post.joinability.score
    new.posts = [
        p.model_copy(update={"action": action, "score": score}) if p.id == post.id else p
        for p in new.posts
    ]
    shown = LastPost(
        id=post.id,
        author_id=post.author.id,
        handle=post.author.handle,
        created_at=post.created_at,
        text=post.text[:LAST_POST_TEXT],
        url=post.url,
        action=action,
    )
    kept = [p for p in new.recent_posts if p.id != post.id]
    if len(kept) < RECENT_POSTS or post.created_at >= kept[0].created_at:
        kept.append(shown)
        kept.sort(key=lambda p: p.created_at)  # stable: equal times keep arrival order
        del kept[:-RECENT_POSTS]
    new.recent_posts = kept
    return new


def is_empty(state: ConversationState) -> bool:
    """Nobody's post is counted any more (all deleted or erased): the thread has nothing to show.

    Its state still remembers the deleted ids, so a replay cannot bring a post
    back, but its published view is a tombstone.
    """
    return state.post_count == 0 and not state.participants and not state.posts


def _seen_order(state: ConversationState) -> list[str]:
    """Participant ids, most recently seen first (ties and unknown times by id)."""
    floor = datetime.min.replace(tzinfo=UTC)
    ids = sorted(state.participants)
    return sorted(ids, key=lambda a: _last_seen(state, a) or floor, reverse=True)


def conversation_view(state: ConversationState, platform: str, now: datetime) -> ConversationView:
    """The published current state of the thread (``conversations.state``), as of ``now``.

    Pure: what it shows is what the state holds, so after a delete, an
    erasure or the retention sweep the view names nobody the state forgot.
    ``participant_ids`` lists at most ``VIEW_PARTICIPANTS`` ids, the most
    recently seen first; ``participants`` still counts them all.
    """
    best = state.best
    return ConversationView(
        conversation_id=state.conversation_id,
        platform=platform,
        posts=state.post_count,
        participants=len(state.participants),
        participant_ids=_seen_order(state)[:VIEW_PARTICIPANTS],
        own_posts=state.own_posts,
        give=state.give,
        ask=state.ask,
        last_activity=state.last_activity,
        last_org_post_at=state.last_org_post_at,
        awaiting_org_reply=state.awaiting_org_reply,
        awaiting_since=state.awaiting_since,
        awaiting_post_id=state.awaiting_post_id,
        unanswered_org_posts=state.unanswered_org_posts,
        last_post=state.last_post,
        last_action=state.last_action,
        best_joinability=best.score if best is not None else None,
        best_post_id=best.id if best is not None else None,
        updated_at=now,
    )
