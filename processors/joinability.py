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
from collections.abc import Mapping, Sequence
from datetime import datetime

from processors.conversation import ConversationState
from processors.policy import Decision, decide
from processors.profile import Organisation
from processors.reading import HOSTILE_SIGNALS, PERSONAL_SIGNALS, profile_topics, signal
from schemas.models import CanonicalPost, Joinability, Reading, Sensitivity, Stakeholder

__all__ = ["PENALTIES", "POSITIVE", "combine", "score_joinability"]

POSITIVE = ("relevance", "invitation", "engagement", "openness", "freshness", "share_of_voice")
PENALTIES = ("sensitivity", "hostility", "spam", "own_post")

_HIGH_PROFILE = ("media", "official", "investor")
_STAKEHOLDER_MIN = 0.5
_PERSONAL_SEVERITY = {"self_harm": 0.9, "grief": 0.8, "minors": 0.7, "health": 0.6}
_TOPIC_SEVERITY = 0.6
_HOSTILE_SEVERITY = {"threat": 1.0, "abuse": 0.9, "hate": 0.9, "pile_on": 0.8}
_SWEARING_SEVERITY = 0.3

_INVITED = {
    "reply": (0.8, "replies to our post"),
    "mention": (0.6, "mentions us"),
    "thread": (0.5, "writes on in a thread we answered"),
}

_SENTENCES: dict[str, str] = {
    "relevance": "Relevant to us",
    "invitation": "Invites us in",
    "engagement": "The other side is engaged",
    "openness": "The thread is open",
    "freshness": "Fresh",
    "share_of_voice": "We have room to speak",
}


def _noisy_or(weights: Sequence[float]) -> float:
    miss = 1.0
    for w in weights:
        miss *= 1.0 - w
    return 1.0 - miss


def _relevance(reading: Reading) -> tuple[float, list[str]]:
    signals: list[tuple[float, str]] = []
    weight = {"mention": 0.6, "reply": 0.5, "thread": 0.5}.get(reading.addressed)
    addressed = signal(reading, "addresses_us")
    if weight and addressed:
        signals.append((weight, addressed.evidence[0]))
    named = signal(reading, "names_us")
    if named:
        signals.extend((0.6, e) for e in named.evidence)
    topic = signal(reading, "on_topic")
    if topic:
        signals.extend((0.4, e) for e in topic.evidence)
    return _noisy_or([w for w, _ in signals]), [what for _, what in signals]


def _invitation(reading: Reading) -> tuple[float, list[str]]:
    signals: list[tuple[float, str]] = []
    weight, why = _INVITED.get(reading.addressed, (0.0, ""))
    if weight:
        signals.append((weight, why))
    if reading.kind in ("question", "complaint"):
        signals.append((0.4, f"a {reading.kind}"))
    return _noisy_or([w for w, _ in signals]), [what for _, what in signals]


def _engagement(
    post: CanonicalPost, state: ConversationState, reading: Reading
) -> tuple[float, list[str]]:
    signals: list[tuple[float, str]] = []
    if reading.addressed in ("reply", "thread"):
        signals.append((0.6, "they replied to us"))
    elif reading.addressed == "mention":
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


def _age(minutes: float) -> str:
    """A readable age: minutes, hours, days or years, so an old replay never reads '0 min'."""
    for unit, size in (("year", 525_600), ("day", 1_440), ("hour", 60)):
        if minutes >= size:
            n = minutes / size
            return f"{n:.0f} {unit}{'' if round(n) == 1 else 's'}"
    return f"{minutes:.0f} min"


def _freshness(post: CanonicalPost, org: Organisation, now: datetime) -> tuple[float, list[str]]:
    """Halves every half reply-SLA: a post is worth half as much when half our window is gone.

    The age is measured when the post reached us, not when a worker got to it,
    so a backlog or an offline run scores the same post the same way.
    """
    age = _minutes(now, post.created_at)
    half_life = org.reply_sla_minutes / 2
    return 0.5 ** (age / half_life), [
        f"{_age(age)} old when it reached us (half-life {half_life:.0f} min)"
    ]


def _share_of_voice(state: ConversationState) -> tuple[float, list[str]]:
    if state.own_posts == 0:
        return 1.0, ["we have not spoken in this thread"]
    if state.unanswered_org_posts >= 2:
        return 0.0, [f"we posted {state.unanswered_org_posts} times unanswered: step back"]
    others = 1.0 - state.own_posts / max(state.post_count, 1)
    if state.unanswered_org_posts == 1:
        return others * 0.5, ["our last post is still unanswered"]
    return others, [f"we wrote {state.own_posts} of {state.post_count} posts"]


def _penalties(
    reading: Reading, decision: Decision, sensitive_topics: Sequence[str]
) -> tuple[dict[str, float], list[str], list[tuple[str, str]]]:
    """Penalty severities, the sensitivity flags, and a (code, reason) per penalty found."""
    flags: list[str] = []
    reasons: list[tuple[str, str]] = []
    sensitivity = 0.0
    for name in dict.fromkeys((*PERSONAL_SIGNALS, *sensitive_topics)):
        s = signal(reading, name)
        if s is None:
            continue
        flags.append(name)
        severity = _PERSONAL_SEVERITY.get(name, _TOPIC_SEVERITY)
        if decision.care:
            severity /= 2  # a support request that mentions it: answer it, carefully
        sensitivity = max(sensitivity, severity)
        reasons.append(
            (
                f"penalty.sensitivity.{name}",
                f"Touches on {name.replace('_', '-')} ({s.evidence[0]}).",
            )
        )
    hostility = 0.0
    for name in (*HOSTILE_SIGNALS, "pile_on"):
        s = signal(reading, name)
        if s is not None:
            hostility = max(hostility, _HOSTILE_SEVERITY[name])
            reasons.append((f"penalty.hostility.{name}", f"Contains {name} ({s.evidence[0]})."))
    offensive = signal(reading, "offensive")
    if offensive is not None and hostility == 0.0:
        hostility = _SWEARING_SEVERITY
        reasons.append(
            (
                "penalty.hostility.offensive",
                f"Offensive language ({offensive.evidence[0]}): damps, does not silence.",
            )
        )
    spam = signal(reading, "spam")
    stuffing = signal(reading, "stuffing")
    spam_severity = 0.0
    if spam:
        spam_severity = 1.0 - (1.0 - spam.score) * (1.0 - (stuffing.score if stuffing else 0.0))
        reasons.append(("penalty.spam.spam", f"Looks like spam ({'; '.join(spam.evidence)})."))
    elif stuffing:
        spam_severity = stuffing.score
        reasons.append(("penalty.spam.stuffing", f"Many tags or links ({stuffing.evidence[0]})."))
    penalties = {
        "sensitivity": sensitivity,
        "hostility": hostility,
        "spam": spam_severity,
        "own_post": 1.0 if decision.rule == "own" else 0.0,
    }
    return penalties, flags, reasons


def combine(components: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """The published formula: weighted mean of positives, times ``1 - p`` per penalty ``p``."""
    total = sum(weights[c] for c in POSITIVE)
    positive = sum(weights[c] * components[c] for c in POSITIVE) / total if total else 0.0
    factor = 1.0
    for p in PENALTIES:
        factor *= 1.0 - components[p]
    return round(min(1.0, max(0.0, positive * factor)), 4)


def score_joinability(
    post: CanonicalPost,
    reading: Reading,
    stakeholders: Sequence[Stakeholder],
    state: ConversationState,
    org: Organisation,
    own: bool,
    now: datetime,
) -> tuple[Joinability, Sensitivity]:
    """Decide and score one post; ``state`` is the conversation *after* this post was applied.

    ``now`` is the reference time for freshness and openness: the time the post
    reached us (its ``received_at``), so the live stream, a replay and an
    offline run of the same post agree.
    """
    strong = tuple(s.label for s in stakeholders if s.score >= _STAKEHOLDER_MIN)
    topics = profile_topics(org)
    decision = decide(reading, own, topics, strong)
    parts: dict[str, tuple[float, list[str]]] = {
        "relevance": _relevance(reading),
        "invitation": _invitation(reading),
        "engagement": _engagement(post, state, reading),
        "openness": _openness(state, org, now),
        "freshness": _freshness(post, org, now),
        "share_of_voice": _share_of_voice(state),
    }
    severity, flags, penalty_reasons = _penalties(reading, decision, topics)
    components = {name: round(value, 4) for name, (value, _) in parts.items()}
    components.update({name: round(v, 4) for name, v in severity.items()})
    score = combine(components, org.weights)

    # (code, sentence) pairs: the code is for machines (stable within a major
    # schema version), the sentence for people (free to be reworded).
    explained = [(decision.code, f"{decision.why} [rule: {decision.rule}]")]
    ranked = sorted(POSITIVE, key=lambda c: org.weights[c] * components[c], reverse=True)
    for name in ranked[:3]:
        value, details = parts[name]
        if value > 0:
            explained.append(
                (
                    f"component.{name}",
                    f"{_SENTENCES[name]} ({components[name]:.2f}): {'; '.join(details)}.",
                )
            )
    for name in ("share_of_voice", "freshness"):
        if name not in ranked[:3] and components[name] < 0.25:
            explained.append(
                (
                    f"low.{name}",
                    f"Low {name.replace('_', ' ')} ({components[name]:.2f}): "
                    f"{'; '.join(parts[name][1])}.",
                )
            )
    explained.extend(penalty_reasons)
    joinability = Joinability(
        score=score,
        action=decision.action,
        components=components,
        reasons=[sentence for _, sentence in explained],
        reason_codes=[code for code, _ in explained],
    )
    return joinability, Sensitivity(flags=flags)
