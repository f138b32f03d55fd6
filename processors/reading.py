"""The reading of a post: what a careful community manager notices before deciding anything.

One pure step turns a post, its conversation state, the profile, the entities
and the classifier scores into a :class:`~schemas.models.Reading`. Stakeholder
labels and joinability are derived from it, so "does this address us?" is
answered once per post and every later reason can point at a signal here.

Where labelled data exists the judgement comes from the trained classifiers
(sentiment, irony, emotion, offensive language, hate; ``scores``). Without
them (a unit test, a worker started without models) the reading falls back to
the phrase lists alone and says so in the evidence. Phrase lists
(``processors.lexicons``) decide only what they can explain on their own.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from processors import lexicons as lx
from processors.conversation import ConversationState, mentions_us, replies_to_us
from processors.prefilter import PatternSet, Scan
from processors.profile import Organisation
from processors.text import split_hashtag
from schemas.models import Addressed, CanonicalPost, PostKind, Reading, Sentiment, Signal

__all__ = [
    "ESCALATION_SIGNALS",
    "HOSTILE_SIGNALS",
    "PERSONAL_SIGNALS",
    "Thresholds",
    "prepare",
    "profile_topics",
    "read_post",
    "signal",
]

Scores = Mapping[str, Mapping[str, float]]

PERSONAL_SIGNALS = ("self_harm", "grief", "health", "minors")
"""Built-in personal topics: respected, never pitched to."""
HOSTILE_SIGNALS = ("threat", "abuse", "hate")
"""Aimed at someone: never engaged."""
ESCALATION_SIGNALS = ("press", "legal", "safety", "account_security")
"""Matters for a person on another team (press office, legal, safety, fraud)."""


@dataclass(frozen=True)
class Thresholds:
    """Classifier probabilities at which a signal counts, chosen on the evaluation set."""

    irony: float = 0.8
    offensive: float = 0.5
    hate: float = 0.7
    hate_offensive: float = 0.5
    sentiment: float = 0.5


DEFAULT_THRESHOLDS = Thresholds()
TITLED = 0.8
"""The news signal's score for a title-case headline with a link (how outlets post)."""
_CLOSING_MAX_WORDS = 14
_SIGN_OFF = re.compile(
    r"\b(?:see you (?:tomorrow|soon|then|later|there|next week|on \w+day)|speak soon|talk soon"
    r"|take care|bye|have a (?:good|great|nice|lovely) (?:day|one|weekend|evening|night))\b",
    re.IGNORECASE,
)
"""A goodbye ("see you tomorrow", "have a good day"): in a short post after our answer, the
conversation is over for now."""
_HEADLINE_MIN_WORDS = 5


@lru_cache(maxsize=1)
def _lexicons() -> PatternSet:
    """Every fixed pattern the reading tries on a post's text, behind one prefilter.

    Built on first use, not at import; profile phrases (names, topics) are not
    in it and are searched directly.
    """
    fixed = [getattr(lx, name) for name in lx.__all__ if isinstance(getattr(lx, name), re.Pattern)]
    return PatternSet([*fixed, *lx.BUILTIN_TOPICS.values(), _SIGN_OFF])


def prepare() -> bool:
    """Build the lexicon prefilter now (about 2 s), not on the first post; True if accelerated.

    A worker calls it at start-up so the first batch is not the slow one.
    """
    return _lexicons().accelerated


@dataclass
class _Found:
    signals: dict[str, Signal] = field(default_factory=dict)

    def add(self, name: str, score: float, evidence: str) -> None:
        have = self.signals.get(name)
        if have is None:
            self.signals[name] = Signal(name=name, score=round(score, 4), evidence=[evidence])
        else:
            have.score = round(max(have.score, score), 4)
            have.evidence.append(evidence)

    def match(self, name: str, pattern: re.Pattern[str], scan: Scan, score: float = 1.0) -> bool:
        m = scan.search(pattern)
        if m:
            self.add(name, score, f"'{m.group(0).strip()}'")
        return m is not None


def _plain(text: str) -> str:
    """The text the phrase lists read: entities unescaped, curly apostrophes made straight."""
    return html.unescape(text).translate(_QUOTES)


_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def signal(reading: Reading, name: str) -> Signal | None:
    """The reading's signal called ``name``, if it was found."""
    for found in reading.signals:  # a handful per post: a loop beats building a dict
        if found.name == name:
            return found
    return None


@lru_cache(maxsize=64)
def _phrases(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """One alternation per profile (cached): names and gazetteer phrases, longest first."""
    cleaned = sorted({p.strip().lstrip("@") for p in phrases if p.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    body = "|".join(re.escape(p).replace(r"\ ", r"[\s_]+") for p in cleaned)
    return re.compile(rf"(?<![\w@])(?:{body})(?!\w)", re.IGNORECASE)


@lru_cache(maxsize=64)
def _possessive(names: str) -> re.Pattern[str]:
    """ "my iPhone", "my new Spotify": the author's own use of something of ours."""
    return re.compile(rf"\bmy\s+(?:new\s+|old\s+)?(?:{names})", re.IGNORECASE)


def _our_names(org: Organisation) -> tuple[str, ...]:
    """What people call us without tagging: the name, own handles' and aliases' local parts."""
    return org.derived("reading.our_names", _build_our_names)


def _build_our_names(org: Organisation) -> tuple[str, ...]:
    handles = [h.split("@")[0] for hs in org.accounts.values() for h in hs] + list(org.aliases)
    names = [org.name, *(h.lstrip("@").split("@")[0] for h in handles)]
    names += [g.text for g in org.gazetteer]
    return tuple(n for n in names if len(n.strip()) >= 3)


def _addressed(
    post: CanonicalPost,
    state: ConversationState | None,
    org: Organisation,
    haystack: str,
    gazetteer: Sequence[str],
    found: _Found,
) -> Addressed:
    """The strongest way the post addresses us; every way found is kept as evidence."""
    pattern = _phrases(_our_names(org))
    named = sorted({m.group(0) for m in pattern.finditer(haystack)}) if pattern else []
    named_lower = {n.lower() for n in named}
    for name in [*named, *(g for g in gazetteer if g.lower() not in named_lower)]:
        found.add("names_us", 0.7, f"names '{name}'")
    if named and pattern is not None:  # only a post that names us can say "my <us>"
        mine = _possessive(pattern.pattern).search(haystack)
        if mine:
            found.add("own_use", 1.0, f"'{mine.group(0)}'")
    mentioned = mentions_us(post, org)
    if mentioned:
        found.add("addresses_us", 1.0, f"mentions @{mentioned[0]}")
        return "mention"
    if replies_to_us(post, state, org):
        found.add("addresses_us", 1.0, "replies to our post")
        return "reply"
    if state is not None and post.in_reply_to is not None and state.we_answered(post.author.id):
        found.add("addresses_us", 0.8, "writes on in a thread where we answered them")
        return "thread"
    return "name" if named or gazetteer else "none"


_HANDLE = r"@[\w.-]*\w(?:@[\w-]+(?:\.[\w-]+)+)?"
r"""A whole mention: ``@brand``, ``@brand.bsky.social``, ``@brand@social.example`` and a
pseudonym ``@anon-<hex>``; ``@\w+`` stopped at the first dot, dash or second ``@``."""


def _passing(text: str, org: Organisation) -> bool:
    """Our handle sits inside the sentence ("watching the match with @Brand"), not leading it."""
    if re.search(rf"\b(?:via|by|from|h/t|cc)\s+{_HANDLE}", text, re.IGNORECASE):
        return True  # an attribution or a copy, not a message to us
    stripped = re.sub(rf"^(?:\s*{_HANDLE})+", "", text)
    if len(stripped) < len(text):
        return False  # a leading mention is how people write to an account
    tail = re.search(rf"(?:{_HANDLE}\s*)+$", text.strip())
    return tail is None  # a mention tagged on at the end is addressed, too


def _pile_on(
    post: CanonicalPost, state: ConversationState | None, scan: Scan, found: _Found
) -> None:
    """Joining someone's abuse, or coming back with more of it: never an opening for us."""
    if state is None or not state.hostile_authors:
        return
    hostile = set(state.hostile_authors)
    negative = found.signals.get("sentiment_negative")
    insult = scan.search(lx.INSULT)
    if post.author.id in hostile and (insult or negative):
        found.add("pile_on", 0.9, "comes back with more after abusing us in this thread")
        return
    target = post.in_reply_to.author_id if post.in_reply_to else None
    if target in hostile and (insult or negative):
        found.add("pile_on", 0.8, "joins in with someone's abuse in this thread")


def _officials_tagged(post: CanonicalPost, org: Organisation) -> list[str]:
    """Mentions of regulators and officials from the profile: a complaint copied to them."""
    listed = org.listed("officials")
    return [m for m in post.mentions if m.lower().lstrip("@") in listed]


def _on_topic(org: Organisation, haystack: str, found: _Found) -> bool:
    pattern = _phrases(tuple(org.topics))
    m = pattern.search(haystack) if pattern is not None else None
    if m:
        found.add("on_topic", 0.4, f"is about '{m.group(0)}'")
    return m is not None


def _top(scores: Mapping[str, float]) -> tuple[str, float]:
    label = max(scores, key=lambda k: scores[k])
    return label, scores[label]


def _classified(
    scores: Scores | None, t: Thresholds, found: _Found
) -> tuple[Sentiment | None, str | None]:
    """Signals from the trained classifiers; (sentiment, emotion) or (None, None) without them."""
    if not scores:
        return None, None
    sentiment: Sentiment | None = None
    if "sentiment" in scores:
        label, p = _top(scores["sentiment"])
        if label in ("negative", "neutral", "positive"):
            sentiment = label  # type: ignore[assignment]  # checked against the Literal above
            found.add(f"sentiment_{label}", p, f"sentiment classifier {label} {p:.2f}")
    irony = scores.get("irony", {}).get("irony", 0.0)
    if irony >= t.irony:
        found.add("irony", irony, f"irony classifier {irony:.2f}")
    offensive = scores.get("offensive", {}).get("offensive", 0.0)
    if offensive >= t.offensive:
        found.add("offensive", offensive, f"offensive-language classifier {offensive:.2f}")
    hate = scores.get("hate", {}).get("hate", 0.0)
    if hate >= t.hate and offensive >= t.hate_offensive:
        found.add("hate", hate, f"hate-speech classifier {hate:.2f}")
    emotion = None
    if "emotion" in scores:
        emotion, p = _top(scores["emotion"])
        found.add(f"emotion_{emotion}", p, f"emotion classifier {emotion} {p:.2f}")
    return sentiment, emotion


def _fallback_sentiment(found: _Found) -> Sentiment:
    """Without the classifier: problems read negative, praise and thanks positive."""
    has = found.signals
    if "problem" in has:
        return "negative"
    if "praise" in has or "thanks" in has:
        return "positive"
    return "neutral"


def profile_topics(org: Organisation) -> tuple[str, ...]:
    """The profile's own sensitive topics ("politics", "redundancy"), beyond the built-in ones.

    Grief, health, minors and self-harm are always read; naming them in the
    profile (or ``children``, ``bereavement``, ...) adds nothing.
    """
    return org.derived("reading.profile_topics", _build_profile_topics)


def _build_profile_topics(org: Organisation) -> tuple[str, ...]:
    names = (t.strip().lower() for t in org.sensitive_topics)
    return tuple(dict.fromkeys(n for n in names if n and n not in _BUILTIN_ALIASES))


def _personal(scan: Scan, org: Organisation, found: _Found) -> None:
    found.match("self_harm", lx.SELF_HARM, scan)
    found.match("grief", lx.GRIEF, scan)
    found.match("health", lx.HEALTH, scan)
    found.match("minors", lx.MINORS, scan)
    for name in profile_topics(org):
        pattern = lx.BUILTIN_TOPICS.get(name) or _phrases((name,))
        if pattern is not None:
            found.match(name, pattern, scan)


_BUILTIN_ALIASES = {
    "children",
    "minors",
    "kids",
    "grief",
    "bereavement",
    "health",
    "illness",
    "self_harm",
    "self-harm",
}


def _looks_like_headline(
    post: CanonicalPost, text: str, addressed: Addressed
) -> tuple[float, str] | None:
    """A shared link or a credited or cut-off title, third person, not written to us: news."""
    if addressed in ("mention", "reply", "thread"):
        return None
    shared = bool(post.links) or re.search(r"\bvia @\w+|(?:\.\.\.|\u2026)\s*$", text.strip())
    if not shared:
        return None
    prose = re.sub(r"https?://\S+|@\w+", " ", text).replace("#", "")
    words = re.findall(r"[A-Za-z][\w'\u2019-]*", prose)
    if len(words) < _HEADLINE_MIN_WORDS or lx.FIRST_PERSON.search(prose):
        return None
    capitalised = sum(1 for w in words if w[0].isupper()) / len(words)
    cue = lx.HEADLINE_WORDS.search(prose)
    if capitalised >= 0.5:  # how outlets post: the stronger sign
        return TITLED, f"a shared title in title case ({capitalised:.0%} capitalised words)"
    if cue:
        return 0.6, f"a shared link with news wording ('{cue.group(0)}'), no first person"
    return None


def _kind(
    post: CanonicalPost,
    scan: Scan,
    addressed: Addressed,
    state: ConversationState | None,
    sentiment: Sentiment | None,
    found: _Found,
) -> PostKind:
    """What the post is; ``sentiment`` is the classifier's (None without it)."""
    has = found.signals
    if "spam" in has or "promotion" in has:
        return "promotion"
    text = scan.text
    headline = _looks_like_headline(post, text, addressed)
    if headline:
        found.add("news", *headline)
        return "news"
    asks = "question" in has or "request" in has
    short = len(text.split()) <= _CLOSING_MAX_WORDS
    # A closing answers something: our post, or a thread we are part of.
    answering = post.in_reply_to is not None or (state is not None and state.own_posts > 0)
    to_us = addressed in ("mention", "reply", "thread") and answering
    resolved = scan.search(lx.RESOLVED)
    # A goodbye acknowledges as surely as a thanks: "Brilliant, see you tomorrow" after
    # our answer is closing, not praise that waits for a reply.
    acknowledges = (
        "thanks" in has or scan.search(lx.ACK) is not None or scan.search(_SIGN_OFF) is not None
    )
    gave_up = scan.search(lx.GIVE_UP)
    settled = (gave_up and not ("problem" in has and "?" in text)) or (
        resolved and "?" not in text and "request" not in has
    )
    if to_us and settled:
        what = (gave_up or resolved).group(0)  # type: ignore[union-attr]  # settled: one is set
        found.add("closing", 0.8, f"says it is settled ('{what}')")
        return "closing"
    if to_us and short and acknowledges and "problem" not in has and not asks:
        bye = scan.search(_SIGN_OFF)
        what = f"a goodbye ('{bye.group(0)}')" if bye else "a short thank-you or acknowledgement"
        found.add("closing", 0.8, what)
        return "closing"
    if "problem" in has:
        return "complaint"
    if "irony" in has and ("praise" in has or "thanks" in has) and addressed != "none":
        found.add("sarcasm", has["irony"].score, "praise words, read as ironic")
        return "complaint"
    if asks:
        return "question"
    if ("praise" in has or "thanks" in has) and sentiment != "negative":
        return "praise"
    return "chatter"


def read_post(
    post: CanonicalPost,
    state: ConversationState | None,
    org: Organisation,
    entities: Sequence[Mapping[str, Any]] = (),
    scores: Scores | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Reading:
    """Read one post; ``state`` is its conversation *after* the post was applied."""
    found = _Found()
    text = _plain(post.text)
    scan = _lexicons().scan(text)
    haystack = text + " " + " ".join(split_hashtag(t) for t in post.hashtags)
    gazetteer = sorted({str(e.get("text", "")) for e in entities if e.get("source") == "gazetteer"})
    addressed = _addressed(post, state, org, haystack, gazetteer, found)
    on_topic = _on_topic(org, haystack, found)

    sentiment, emotion = _classified(scores, thresholds, found)
    if not scores:
        found.match("offensive", lx.PROFANITY, scan, 0.5)
    found.match("threat", lx.THREAT, scan)
    if not found.match("abuse", lx.ABUSE, scan):
        insult = scan.search(lx.INSULT)
        aimed = scan.search(lx.SECOND_PERSON) or addressed in ("mention", "reply", "thread")
        if insult and aimed:
            found.add("abuse", 0.9, f"'{insult.group(0)}' aimed at someone")
    found.match("spam", lx.SPAM, scan)
    if len(post.hashtags) >= 5 or len(post.links) >= 3:
        # Stuffing alone is how some people post; it only adds to a stronger sign.
        found.add("stuffing", 0.35, f"{len(post.hashtags)} hashtags, {len(post.links)} links")
    found.match("promotion", lx.PROMOTION, scan, 0.6)
    found.match("press", lx.PRESS, scan)
    found.match("legal", lx.LEGAL, scan)
    found.match("safety", lx.SAFETY, scan)
    security = scan.search(lx.ACCOUNT_SECURITY)
    money = scan.search(lx.MONEY)
    if security and money:
        found.add(
            "account_security",
            1.0,
            f"'{security.group(0)}' with money at stake ('{money.group(0)}')",
        )
    _pile_on(post, state, scan, found)
    found.match("account_security", lx.DATA_BREACH, scan)
    found.match("account_security", lx.PHISHING, scan)
    officials = _officials_tagged(post, org)
    if officials:
        found.add("legal", 0.8, f"tags @{officials[0]}, on our officials list")
    _personal(scan, org, found)
    if scan.search(lx.QUESTION) is not None:
        found.add("question", 0.6, "asks a question")
    found.match("request", lx.REQUEST, scan)
    found.match("problem", lx.PROBLEM, scan)
    found.match("own_use", lx.USE, scan)
    found.match("speaks_to_us", lx.SECOND_PERSON, scan, 0.5)
    if addressed == "mention" and _passing(text, org):
        found.add("passing_mention", 0.6, "tags us in passing, mid-sentence")
    found.match("praise", lx.PRAISE, scan)
    found.match("thanks", lx.THANKS, scan)
    found.match("warm", lx.WARM, scan)
    found.match("give_up", lx.GIVE_UP, scan)

    kind = _kind(post, scan, addressed, state, sentiment, found)
    if sentiment is None:
        sentiment = _fallback_sentiment(found)
        found.add(f"sentiment_{sentiment}", 0.5, "read from phrases (no classifier scores)")
    return Reading(
        addressed=addressed,
        about_us=addressed != "none" or on_topic,
        kind=kind,
        sentiment=sentiment,
        emotion=emotion,
        signals=list(found.signals.values()),
    )
