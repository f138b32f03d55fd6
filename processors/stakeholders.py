"""Who is talking: stakeholder labels for a post's author, each with a score and its reasons.

A comms team routes by audience (a journalist goes to the press office, a
resident to the council's service team), and one person can be several at
once (a local councillor who is also a customer), so labels are multi-label.

Evidence for a label combines as a noisy-or, ``score = 1 - prod(1 - w)``:
independent signals strengthen each other without ever passing 1, and the
strongest single signal sets the floor. Weights, strongest first:

* the organisation's own lists (handle on the partner list, ...): 0.95
* an e-mail, link or handle domain on ``employee_domains``: 0.9
* role words in the bio ("journalist", "councillor", "investor"): 0.7
  (the ambiguous "official" and "founder": 0.4)
* reach: 10k followers 0.6, 100k 0.8, 1M 0.95; verified adds 0.3 (influencer)
* from the post's reading (``processors.reading``), for the profile's
  ``served_as`` (customer for a brand, citizen for a public body): the author
  talks about their own use of what we offer in a post about us, tagged or
  not, 0.6; brings us a question or problem of their own 0.6; we already
  answered them in this thread 0.6; writes to us in the first person 0.5.
  "As a resident", "council tax" add citizen 0.6 (then 0.3 each); a gazetteer
  product or place in a first-person post adds 0.3;
* media from the reading: a headline shared with a link 0.4 (0.5 when in title
  case, how outlets post), a name with "News", "Radio", ... 0.5. A headline or
  a third party's report gives no customer evidence.

The organisation's own accounts get no label at all: they are "us".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from processors import lexicons as lx
from processors.conversation import ConversationState, is_own_post
from processors.profile import Organisation, normalize_handle
from processors.reading import TITLED, signal
from processors.text import find_links
from schemas.models import CanonicalPost, Reading, Stakeholder, StakeholderLabel

__all__ = ["label_stakeholders"]

_LIST_WEIGHT = 0.95
_DOMAIN_WEIGHT = 0.9
_BIO_WEIGHT = 0.7
_WEAK_BIO_WEIGHT = 0.4
_VERIFIED_WEIGHT = 0.3
_FIRST_CUE_WEIGHT = 0.6
_MORE_CUE_WEIGHT = 0.3
_GAZETTEER_CUE_WEIGHT = 0.3
_INFLUENCER_FOLLOWERS = 10_000
_ADDRESSED_WEIGHT = 0.5

_EMAIL = re.compile(r"[\w.+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


def _words(pattern: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{pattern})\b", flags)


# (label, pattern, weight); the match itself goes into the reason.
_BIO_CUES: list[tuple[StakeholderLabel, re.Pattern[str], float]] = [
    (
        "media",
        _words(
            r"journalist|reporter|editor|correspondent|columnist|broadcaster|news ?desk"
            r"|presenter"
        ),
        _BIO_WEIGHT,
    ),
    (
        "official",
        _words(r"councillor|councilor|mayor|minister|senator|alderman|(?:elected|public) official"),
        _BIO_WEIGHT,
    ),
    ("official", _words(r"MP|MSP|MEP|MLA", 0), _BIO_WEIGHT),
    ("official", _words(r"official"), _WEAK_BIO_WEIGHT),
    ("investor", _words(r"investors?|venture capital(?:ist)?|limited partner"), _BIO_WEIGHT),
    ("investor", _words(r"VC", 0), _BIO_WEIGHT),
    ("investor", _words(r"founder|co-founder"), _WEAK_BIO_WEIGHT),
]

_CITIZEN_CUES = _words(
    r"as a resident|residents?|our street|our road|my street|my neighbou?rhood"
    r"|our neighbou?rhood|council tax|bin collections?|our town|our area|local park"
)
_OUTLET_NAME = _words(
    r"news|times|post|daily|herald|gazette|journal|tribune|chronicle|telegraph|guardian"
    r"|radio|tv|television|magazine|press|media|reporter|bbc|cnn|reuters|bloomberg"
)
_HEADLINE_WEIGHT = 0.4
_TITLED_WEIGHT = 0.5
"""A title-case headline shared with a link is how outlets post; plain news wording is weaker."""
_OUTLET_WEIGHT = 0.5
_GAZETTEER_CUES: dict[str, StakeholderLabel] = {
    "PRODUCT": "customer",
    "LOCATION": "citizen",
    "PLACE": "citizen",
}

_LISTS: tuple[tuple[str, StakeholderLabel], ...] = (
    ("employees", "employee"),
    ("partners", "partner"),
    ("investors", "investor"),
    ("media", "media"),
    ("officials", "official"),
    ("competitors", "competitor"),
)


class _Evidence:
    """Per-label noisy-or accumulator that keeps the reasons in the order found."""

    def __init__(self) -> None:
        self.miss: dict[StakeholderLabel, float] = {}
        self.reasons: dict[StakeholderLabel, list[str]] = {}

    def add(self, label: StakeholderLabel, weight: float, reason: str) -> None:
        self.miss[label] = self.miss.get(label, 1.0) * (1.0 - weight)
        self.reasons.setdefault(label, []).append(reason)

    def result(self) -> list[Stakeholder]:
        out = [
            Stakeholder(label=label, score=round(1.0 - miss, 4), reasons=self.reasons[label])
            for label, miss in self.miss.items()
        ]
        return sorted(out, key=lambda s: (-s.score, s.label))


def _handle_forms(handle: str | None) -> set[str]:
    if not handle:
        return set()
    full = normalize_handle(handle)
    return {full, full.split("@", 1)[0]}


def _author_domains(post: CanonicalPost) -> list[tuple[str, str]]:
    """(domain, where) pairs: e-mails and links in the bio, and a handle's instance."""
    out: list[tuple[str, str]] = []
    bio = post.author.bio or ""
    out.extend((m.group(1).lower(), f"e-mail {m.group(0)}") for m in _EMAIL.finditer(bio))
    for link in find_links(bio):
        host = re.sub(r"^https?://", "", link.value, flags=re.IGNORECASE).split("/", 1)[0]
        out.append((host.lower().removeprefix("www."), f"link {link.value}"))
    handle = normalize_handle(post.author.handle or "")
    if "@" in handle:
        out.append((handle.split("@", 1)[1], f"handle @{handle}"))
    return out


def _domain_matches(domain: str, allowed: str) -> bool:
    allowed = allowed.lower().lstrip("@").removeprefix("www.")
    return domain == allowed or domain.endswith("." + allowed)


def label_stakeholders(
    post: CanonicalPost,
    org: Organisation,
    reading: Reading,
    entities: Sequence[Mapping[str, Any]] = (),
    state: ConversationState | None = None,
) -> list[Stakeholder]:
    """Stakeholder labels for the post's author, strongest first; empty for our own accounts."""
    if is_own_post(post, org):
        return []
    ev = _Evidence()
    author = post.author
    handles = _handle_forms(author.handle)
    name = (author.display_name or "").strip().lower()
    shown = f"@{author.handle.lstrip('@')}" if author.handle else author.id

    for field, label in _LISTS:
        listed = org.listed(field)
        if handles & listed:
            ev.add(label, _LIST_WEIGHT, f"handle {shown} is on the {label} list")
        elif name and name in listed:
            ev.add(label, _BIO_WEIGHT, f"name '{author.display_name}' is on the {label} list")

    for domain, where in _author_domains(post):
        for allowed in org.employee_domains:
            if _domain_matches(domain, allowed):
                ev.add("employee", _DOMAIN_WEIGHT, f"{where} is on employee domain {allowed}")
                break

    bio = author.bio or ""
    for label, pattern, weight in _BIO_CUES:
        m = pattern.search(bio)
        if m:
            ev.add(label, weight, f"bio mentions '{m.group(0)}'")

    followers = author.followers or 0
    if followers >= _INFLUENCER_FOLLOWERS:
        # 10k -> 0.6, 100k -> 0.8, 1M -> 0.95 (capped): reach grows with the log.
        weight = min(0.95, 0.6 + 0.2 * math.log10(followers / _INFLUENCER_FOLLOWERS))
        ev.add("influencer", weight, f"{followers:,} followers")
    if author.verified:
        ev.add("influencer", _VERIFIED_WEIGHT, "verified account")

    text = post.text
    first_person = (
        signal(reading, "own_use") is not None or lx.FIRST_PERSON.search(text) is not None
    )
    news = reading.kind == "news"
    if news:
        headline = signal(reading, "news")
        titled = headline is not None and headline.score >= TITLED
        ev.add(
            "media",
            _TITLED_WEIGHT if titled else _HEADLINE_WEIGHT,
            headline.evidence[0] if headline else "a headline",
        )
        outlet = _OUTLET_NAME.search(f"{author.display_name or ''} {author.handle or ''}")
        if outlet:
            ev.add("media", _OUTLET_WEIGHT, f"shares news under a name with '{outlet.group(0)}'")
    engaged = reading.addressed in ("mention", "reply", "thread")
    own_use = signal(reading, "own_use")
    if own_use is not None and reading.about_us and not news:
        ev.add(
            org.served_as,
            _FIRST_CUE_WEIGHT,
            f"talks about their own use of what we offer ({own_use.evidence[0]})",
        )
    if engaged and reading.kind in ("question", "complaint"):
        ev.add(org.served_as, _FIRST_CUE_WEIGHT, f"brings us a {reading.kind} of their own")
    if state is not None and state.we_answered(author.id):
        ev.add(org.served_as, _FIRST_CUE_WEIGHT, "we already answered them in this thread")
    if first_person and engaged:
        ev.add(org.served_as, _ADDRESSED_WEIGHT, "brings their own matter to us directly")
    for i, m in enumerate(_CITIZEN_CUES.finditer(text)):
        ev.add("citizen", _FIRST_CUE_WEIGHT if i == 0 else _MORE_CUE_WEIGHT, f"says '{m.group(0)}'")
    if first_person:
        for ent in entities:
            label_cue = _GAZETTEER_CUES.get(str(ent.get("label", "")).upper())
            if ent.get("source") == "gazetteer" and label_cue:
                ev.add(label_cue, _GAZETTEER_CUE_WEIGHT, f"talks about our '{ent.get('text')}'")
    return ev.result()
