"""Joinability: would stepping into this conversation now be welcome, and what should we do?

The formula (see docs/joinability.md for worked examples)::

    positive = sum(w[c] * components[c] for c in POSITIVE) / sum(w[c] for c in POSITIVE)
    score    = positive * prod(1 - components[p] for p in PENALTIES)

with ``w = org.weights`` and every component in 0..1, rounded to 4 decimals
before the score is computed, so the published components reproduce the
published score exactly. Positive components measure the *other side* and
the thread; penalties multiply, so a grieving post cannot be rescued by being
fresh and relevant.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache

from processors.conversation import ConversationState, is_own_post, mentions_us, replies_to_us
from processors.profile import Organisation
from processors.sensitivity import (
    ABUSE_THRESHOLD,
    SPAM_THRESHOLD,
    Finding,
    hostility,
    sensitivity,
    spam,
)
from processors.text import split_hashtag
from schemas.models import Action, CanonicalPost, Joinability, Sensitivity, Stakeholder

__all__ = ["PENALTIES", "POSITIVE", "combine", "score_joinability"]

POSITIVE = ("relevance", "invitation", "engagement", "openness", "freshness", "share_of_voice")
PENALTIES = ("sensitivity", "hostility", "spam", "own_post")

_HIGH_PROFILE = {"media", "official", "investor"}
_STAKEHOLDER_MIN = 0.5

_QUESTION = re.compile(
    r"\?|^\s*(?:@\S+\s+)*(?:who|what|when|where|why|how|which|can|could|would|will|is|are|do"
    r"|does|did|should|any(?:one|body))\b|\b(?:can|could|would) (?:you|u|someone|anyone)\b"
    r"|\bplease (?:help|advise|explain|confirm)\b",
    re.IGNORECASE,
)
_PRESS_REQUEST = re.compile(
    r"\b(?:for (?:a |an )?comment|statement|interview|on the record|press office|spokes(?:person"
    r"|man|woman)|for a story|for an article|deadline)\b",
    re.IGNORECASE,
)
_LEGAL_SAFETY = re.compile(
    r"\b(?:lawyers?|solicitors?|legal action|sue|suing|court|ombudsman|trading standards"
    r"|data breach|gdpr|unsafe|dangerous|injur(?:ed|y|ies)|fire hazard|gas leak"
    r"|food poisoning|recall|hazard)\b",
    re.IGNORECASE,
)

_SENTENCES: dict[str, str] = {
    "relevance": "Relevant to us",
    "invitation": "Invites us in",
    "engagement": "The other side is engaged",
    "openness": "The thread is open",
    "freshness": "Fresh",
    "share_of_voice": "We have room to speak",
}


@lru_cache(maxsize=64)
def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """One alternation per profile (cached): topic and gazetteer phrases, longest first."""
    cleaned = sorted({p.strip() for p in phrases if p.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    body = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in cleaned)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


def _noisy_or(weights: Sequence[float]) -> float:
    miss = 1.0
    for w in weights:
        miss *= 1.0 - w
    return 1.0 - miss


def _relevance(
    post: CanonicalPost,
    entities: Sequence[Mapping[str, object]],
    org: Organisation,
    mentions_us: list[str],
    replies_to_us: bool,
) -> tuple[float, list[str]]:
    signals: list[tuple[float, str]] = []
    if mentions_us:
        signals.append((0.6, f"mentions @{mentions_us[0]}"))
    elif replies_to_us:
        signals.append((0.5, "replies to us"))
    haystack = post.text + " " + " ".join(split_hashtag(t) for t in post.hashtags)
    if org.name.strip() and re.search(
        rf"(?<!\w){re.escape(org.name.strip())}(?!\w)", haystack, re.I
    ):
        signals.append((0.6, f"names {org.name}"))
    gazetteer = {str(e.get("text", "")).lower() for e in entities if e.get("source") == "gazetteer"}
    pattern = _phrase_pattern(tuple(g.text for g in org.gazetteer))
    if pattern is not None:
        gazetteer |= {m.group(0).lower() for m in pattern.finditer(haystack)}
    signals.extend((0.5, f"names '{g}'") for g in sorted(gazetteer))
    pattern = _phrase_pattern(tuple(org.topics))
    if pattern is not None:
        topics = sorted({m.group(0).lower() for m in pattern.finditer(haystack)})
        signals.extend((0.4, f"is about '{t}'") for t in topics)
    return _noisy_or([w for w, _ in signals]), [what for _, what in signals]


def _invitation(
    post: CanonicalPost, mentions_us: list[str], replies_to_us: bool, asks: bool
) -> tuple[float, list[str]]:
    signals: list[tuple[float, str]] = []
    if replies_to_us:
        signals.append((0.8, "replies to our post"))
    if mentions_us:
        signals.append((0.6, f"mentions @{mentions_us[0]}"))
    if asks:
        signals.append((0.4, "asks a question"))
    return _noisy_or([w for w, _ in signals]), [what for _, what in signals]


def _engagement(
    post: CanonicalPost, state: ConversationState, mentions_us: list[str], replies_to_us: bool
) -> tuple[float, list[str]]:
    signals: list[tuple[float, str]] = []
    if replies_to_us:
        signals.append((0.6, "they replied to us"))
    elif mentions_us:
        signals.append((0.3, "they mention us"))
    own_count = state.participants.get(post.author.id, 0)
    if own_count >= 2:
        signals.append((0.5, f"they have posted {own_count} times in this thread"))
    elif post.in_reply_to is not None:
        signals.append((0.3, "they are replying in a thread"))
    m = post.metrics
    reactions = m.likes + m.shares + 2 * m.replies
    if reactions:
        signals.append((min(0.5, math.log10(1 + reactions) / 4), f"{reactions} reactions"))
    return _noisy_or([w for w, _ in signals]), [what for _, what in signals]


def _minutes(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds() / 60.0)


def _openness(
    state: ConversationState, org: Organisation, now: datetime
) -> tuple[float, list[str]]:
    reasons = ["public thread"]
    recency = 0.0
    if state.last_activity is not None:
        recency = 0.5 ** (_minutes(now, state.last_activity) / org.reply_sla_minutes)
        if recency >= 0.5:
            reasons.append("active within the reply window")
    others = [n for a, n in state.participants.items() if a not in state.own_author_ids]
    dominance = 0.0
    if state.post_count >= 4 and others:
        dominance = max(others) / state.post_count
        if dominance > 0.6:
            reasons.append(f"one voice has {dominance:.0%} of the posts")
        else:
            reasons.append(f"{len(state.participants)} voices, none dominating")
    return 0.5 + 0.25 * recency + 0.25 * (1.0 - dominance), reasons


def _freshness(post: CanonicalPost, org: Organisation, now: datetime) -> tuple[float, list[str]]:
    """Halves every half reply-SLA: a post is worth half as much when half our window is gone."""
    age = _minutes(now, post.created_at)
    half_life = org.reply_sla_minutes / 2
    return 0.5 ** (age / half_life), [f"{age:.0f} min old (half-life {half_life:.0f} min)"]


def _share_of_voice(state: ConversationState) -> tuple[float, list[str]]:
    if state.own_posts == 0:
        return 1.0, ["we have not spoken in this thread"]
    if state.unanswered_org_posts >= 2:
        return 0.0, [f"we posted {state.unanswered_org_posts} times unanswered: step back"]
    others = 1.0 - state.own_posts / max(state.post_count, 1)
    if state.unanswered_org_posts == 1:
        return others * 0.5, ["our last post is still unanswered"]
    return others, [f"we wrote {state.own_posts} of {state.post_count} posts"]


def combine(components: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """The published formula: weighted mean of positives, times ``1 - p`` per penalty ``p``."""
    total = sum(weights[c] for c in POSITIVE)
    positive = sum(weights[c] * components[c] for c in POSITIVE) / total if total else 0.0
    factor = 1.0
    for p in PENALTIES:
        factor *= 1.0 - components[p]
    return round(min(1.0, max(0.0, positive * factor)), 4)


def _escalation(
    post: CanonicalPost,
    stakeholders: Sequence[Stakeholder],
    asks: bool,
    addressed: bool,
) -> str | None:
    """Why a person (press office, legal, public affairs) must see this, or ``None``."""
    strong = {s.label for s in stakeholders if s.score >= _STAKEHOLDER_MIN}
    press = _PRESS_REQUEST.search(post.text)
    if "media" in strong and press:
        return f"A journalist's request ('{press.group(0)}'): route to the press office."
    high = sorted(strong & _HIGH_PROFILE)
    if high and asks and addressed:
        return f"A {high[0]} stakeholder is asking us something: route to the right team."
    legal = _LEGAL_SAFETY.search(post.text)
    if legal and addressed:
        return f"A complaint with legal or safety words ('{legal.group(0)}'): escalate."
    return None


def _decide(
    own: bool,
    found: dict[str, Finding],
    escalation: str | None,
    score: float,
    org: Organisation,
) -> tuple[Action, str]:
    t = org.thresholds
    if own:
        return "do_not_engage", "This is our own post."
    if found["hostility"].severity >= ABUSE_THRESHOLD:
        return "do_not_engage", "Abuse or threats: do not engage (report if needed)."
    if found["spam"].severity >= SPAM_THRESHOLD:
        return "do_not_engage", "Spam: do not engage."
    if escalation:
        return "escalate", escalation
    if found["sensitivity"].flags:
        return "listen_only", "A personal topic: listen only, never pitch."
    if score >= t.reply:
        return "reply", f"Score {score:.2f} reaches the reply threshold {t.reply:.2f}."
    if score >= t.appreciate:
        return (
            "appreciate",
            f"Score {score:.2f} reaches the appreciate threshold {t.appreciate:.2f}.",
        )
    return "listen_only", f"Score {score:.2f} is below the appreciate threshold {t.appreciate:.2f}."


def score_joinability(
    post: CanonicalPost,
    entities: Sequence[Mapping[str, object]],
    stakeholders: Sequence[Stakeholder],
    state: ConversationState,
    org: Organisation,
    now: datetime,
) -> tuple[Joinability, Sensitivity]:
    """Score one post; ``state`` is the conversation *after* this post was applied."""
    own = is_own_post(post, org)
    mentioned = mentions_us(post, org)
    replied = replies_to_us(post, state, org)
    asks = _QUESTION.search(post.text) is not None

    parts: dict[str, tuple[float, list[str]]] = {
        "relevance": _relevance(post, entities, org, mentioned, replied),
        "invitation": _invitation(post, mentioned, replied, asks),
        "engagement": _engagement(post, state, mentioned, replied),
        "openness": _openness(state, org, now),
        "freshness": _freshness(post, org, now),
        "share_of_voice": _share_of_voice(state),
    }
    found = {
        "sensitivity": sensitivity(post.text, org.sensitive_topics),
        "hostility": hostility(post.text),
        "spam": spam(post),
    }
    components = {name: round(value, 4) for name, (value, _) in parts.items()}
    components.update({name: round(f.severity, 4) for name, f in found.items()})
    components["own_post"] = 1.0 if own else 0.0
    score = combine(components, org.weights)

    addressed = bool(mentioned or replied or components["relevance"] > 0)
    escalation = _escalation(post, stakeholders, asks, addressed)
    action, why = _decide(own, found, escalation, score, org)

    reasons = [why]
    ranked = sorted(POSITIVE, key=lambda c: org.weights[c] * components[c], reverse=True)
    for name in ranked[:3]:
        value, details = parts[name]
        if value > 0:
            reasons.append(f"{_SENTENCES[name]} ({components[name]:.2f}): {'; '.join(details)}.")
    for name in ("share_of_voice", "freshness"):
        if name not in ranked[:3] and components[name] < 0.25:
            reasons.append(
                f"Low {name.replace('_', ' ')} ({components[name]:.2f}): "
                f"{'; '.join(parts[name][1])}."
            )
    for f in found.values():
        reasons.extend(f.reasons)
    joinability = Joinability(score=score, action=action, components=components, reasons=reasons)
    return joinability, Sensitivity(flags=found["sensitivity"].flags)
