"""Lexicons for what should damp or stop an organisation's reply: personal topics, hostility, spam.

Word lists are deliberately short and precise: a false "grief" flag only
means a person reads the post before anyone replies, but a flood of false
flags teaches a team to ignore them. Each detector returns a *severity* in
0..1 (the joinability score is multiplied by ``1 - severity``) and the
readable reasons.

Built-in personal-topic lexicons always apply: ``grief``, ``health``,
``minors`` and ``self_harm``. ``org.sensitive_topics`` entries naming one of
them (or the aliases ``children``, ``bereavement``, ``illness``) add nothing;
any other entry ("redundancy", "divorce") is matched as a phrase and flagged
under its own name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from schemas.models import CanonicalPost

__all__ = [
    "ABUSE_THRESHOLD",
    "SPAM_THRESHOLD",
    "Finding",
    "hostility",
    "sensitivity",
    "spam",
]

ABUSE_THRESHOLD = 0.8
"""Hostility at or above this is abuse or a threat: do not engage."""
SPAM_THRESHOLD = 0.6
"""Spam at or above this (one strong signal, or two weak ones): do not engage."""


@dataclass
class Finding:
    severity: float = 0.0
    flags: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def _rx(pattern: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w)(?:{pattern})(?!\w)", flags)


_KIN = (
    r"(?:mum|mom|mother|dad|father|husband|wife|partner|son|daughter|baby|brother|sister"
    r"|friend|nan|nana|gran|grandma|grandad|grandpa|grandmother|grandfather|dog|cat|aunt|uncle)"
)

_PERSONAL: dict[str, tuple[float, re.Pattern[str]]] = {
    "self_harm": (
        0.9,
        _rx(
            r"suicid(?:e|al)|self[- ]harm(?:ing)?|kill myself|end it all|want(?:ed)? to die"
            r"|overdos(?:e|ed)|cutting myself"
        ),
    ),
    "grief": (
        0.8,
        _rx(
            r"passed away|passed on|died|funeral|bereave(?:d|ment)|griev(?:e|ing)|grief"
            r"|condolences|rest in peace|in memory of|memorial service"
            rf"|lost (?:my|our) {_KIN}|{_KIN} (?:died|passed)"
        ),
    ),
    "minors": (
        0.7,
        _rx(
            r"my (?:son|daughter|kids?|children|child|baby|toddler|boy|girl|twins)"
            r"|our (?:son|daughter|kids?|children|child|baby|toddler)"
            r"|(?:1[0-7]|[1-9])[- ]?(?:yo|y/o|years?[- ]old|month[- ]old)"
            r"|school run|teenager|pupils?"
        ),
    ),
    "health": (
        0.6,
        _rx(
            r"cancer|chemo(?:therapy)?|diagnos(?:is|ed)|hospital|surgery"
            r"|illness|chronic(?:ally)? ill|depression|anxiety|mental health|disabilit(?:y|ies)"
            r"|disabled|pregnan(?:t|cy)|miscarriage|therapy|ICU|A&E|symptoms|seizures?"
        ),
    ),
}
_ALIASES = {
    "children": "minors",
    "minors": "minors",
    "kids": "minors",
    "grief": "grief",
    "bereavement": "grief",
    "health": "health",
    "illness": "health",
    "self_harm": "self_harm",
    "self-harm": "self_harm",
}
_CUSTOM_SEVERITY = 0.6

_THREAT = _rx(
    r"i(?:'ll| will) (?:kill|hurt|find|get) you|watch your back|i know where you live"
    r"|burn (?:it|you) down|(?:bomb|shoot) (?:the|your|you)|you(?:'re| are) dead"
)
_ABUSE = _rx(
    r"(?:you|u)(?: are| r|'re)? (?:an? )?(?:fucking )?(?:idiots?|morons?|scum|cunts?|twats?"
    r"|pathetic|useless pricks?|wankers?|retards?)|fuck (?:you|u|off)|f\*ck (?:you|off)"
    r"|go to hell|kill yourself|kys|piece of shit|shut (?:the fuck )?up"
)
_PROFANITY = _rx(r"fuck\w*|shit\w*|crap|bullshit|bloody|damn|wtf|arse|ass(?:hole)?|bastards?")

_FOLLOW_BACK = _rx(r"follow ?back|f4f|follow for follow|followback|gain followers")
_CRYPTO = _rx(r"btc|bitcoin|eth|ethereum|crypto|nft|usdt|airdrop|token")
_GIVEAWAY = _rx(r"giveaway|free|win|double your|claim")
_BAIT = _rx(
    r"dm (?:me|us) (?:for|to)|click (?:the|my) link|link in (?:my )?bio|earn \$?\d+"
    r"|make money|100% free|limited offer|promo code|check my profile"
)
_REPEATS = re.compile(r"(.)\1{5,}|\b(\w+)\b(?:\W+\2\b){3,}", re.IGNORECASE)


def sensitivity(text: str, topics: Sequence[str]) -> Finding:
    """Personal topics: flagged, heavily damped, and never pitched to."""
    found = Finding()
    for flag, (severity, pattern) in _PERSONAL.items():
        m = pattern.search(text)
        if m:
            found.flags.append(flag)
            found.severity = max(found.severity, severity)
            found.reasons.append(
                f"Touches on {flag.replace('_', '-')} ('{m.group(0)}'): listen, do not pitch."
            )
    for topic in topics:
        name = topic.strip()
        if not name or name.lower() in _ALIASES:
            continue
        m = _rx(re.escape(name)).search(text)
        if m and name not in found.flags:
            found.flags.append(name)
            found.severity = max(found.severity, _CUSTOM_SEVERITY)
            found.reasons.append(f"Touches on '{name}', a topic the profile marks sensitive.")
    return found


def hostility(text: str) -> Finding:
    """Threats and abuse stop engagement; plain swearing only damps it."""
    found = Finding()
    for flag, severity, pattern, what in (
        ("threat", 1.0, _THREAT, "Contains a threat"),
        ("abuse", 0.9, _ABUSE, "Contains abuse"),
        ("profanity", 0.3, _PROFANITY, "Contains swearing"),
    ):
        m = pattern.search(text)
        if m:
            found.flags.append(flag)
            found.severity = max(found.severity, severity)
            found.reasons.append(f"{what} ('{m.group(0)}').")
    return found


def spam(post: CanonicalPost) -> Finding:
    """Spam signals combine as a noisy-or: strong ones alone suffice, weak ones need company."""
    text = post.text
    signals: list[tuple[float, str]] = []
    if len(post.links) >= 3:
        signals.append((0.35, f"{len(post.links)} links"))
    if len(post.hashtags) >= 5:
        signals.append((0.35, f"{len(post.hashtags)} hashtags"))
    m = _FOLLOW_BACK.search(text)
    if m:
        signals.append((0.8, f"asks for follows ('{m.group(0)}')"))
    crypto, giveaway = _CRYPTO.search(text), _GIVEAWAY.search(text)
    if crypto and giveaway:
        signals.append((0.9, f"crypto giveaway ('{giveaway.group(0)}' + '{crypto.group(0)}')"))
    m = _BAIT.search(text)
    if m:
        signals.append((0.35, f"click bait ('{m.group(0)}')"))
    if _REPEATS.search(text):
        signals.append((0.35, "repeated characters or words"))
    found = Finding()
    miss = 1.0
    for weight, _ in signals:
        miss *= 1.0 - weight
    found.severity = round(1.0 - miss, 4)
    if signals:
        found.flags.append("spam")
        found.reasons.append("Looks like spam: " + ", ".join(what for _, what in signals) + ".")
    return found
