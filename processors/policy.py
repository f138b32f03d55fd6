"""The action policy: an explicit decision table over the reading, not score thresholds.

Scores rank; they do not decide. A high score for a political rant that names
us is still a political rant, so the action comes from what the post *is*.
The rows below are checked in order and the first that applies wins; each
carries an id (``rule``) that appears in the reasons and in
docs/joinability.md, where every row has a worked example.

Rules, in order (the first that applies wins):

- ``own``: our own post -> do_not_engage (nothing to do).
- ``self_harm``: self-harm in a post to or about us -> escalate (a person,
  never silence).
- ``hostile``: a threat, abuse aimed at someone, hate -> do_not_engage.
- ``spam``: spam, scams, follower selling, code farming -> do_not_engage.
- ``escalate``: a press request, legal or regulator matter, safety incident
  or fraud with money at stake, to or about us; or a journalist, official or
  investor asking us something -> escalate.
- ``pile_on``: more abuse in a thread where someone abused us -> do_not_engage.
- ``unrelated``: neither addresses us nor is about us -> listen_only.
- ``sensitive_topic``: a topic the profile marks sensitive (politics, ...)
  -> listen_only.
- ``personal``: grief, health, minors, not asking us for help -> listen_only.
- ``news``: a headline or a third party's report -> listen_only.
- ``help``: a question, request or problem addressed to us, or about the
  author's own use of what we offer -> reply (flagged for care when personal).
- ``thanks``: a sincere thank-you after our answer (not a give-up "thanks
  anyway") -> appreciate.
- ``closing``: a bare acknowledgement after our answer -> listen_only.
- ``praise``: praise, thanks or good news, positive and not ironic, to or
  naming us -> appreciate.
- ``default``: everything else -> listen_only.
"""

from __future__ import annotations

from dataclasses import dataclass

from processors.reading import ESCALATION_SIGNALS, HOSTILE_SIGNALS, PERSONAL_SIGNALS, signal
from schemas.models import Action, Reading

__all__ = ["Decision", "decide"]

_ENGAGED = ("mention", "reply", "thread")
_HIGH_PROFILE = {
    "media": "the press office",
    "official": "public affairs",
    "investor": "investor relations",
}


@dataclass(frozen=True)
class Decision:
    action: Action
    rule: str
    why: str
    care: bool = False
    """Reply, but carefully: the post touches a personal topic."""

    @property
    def code(self) -> str:
        """The machine-readable reason code of this decision (``rule.<rule>``).

        ``why`` is prose for a person and may be reworded; the code names the
        table row, which is stable within a major schema version, so a
        subscriber can count or route on it (``Joinability.reason_codes``).
        """
        return f"rule.{self.rule}"


_NEEDS = ("question", "complaint")
_CLEAR = 0.85
"""Untagged praise must be unmistakable (the sentiment classifier this sure) to be liked."""


def _owed_an_answer(reading: Reading) -> bool:
    """Written to us and not only thanks, news, an advert or a passing tag: it wants an answer.

    A support desk answers "@Desk PS4" (the reply to its own question) as
    surely as a complaint; what it does not answer is praise (a like is the
    answer), a closing "thanks", or a post that only tags us on the way past.
    """
    if reading.kind in _NEEDS:
        return True
    if reading.kind in ("praise", "closing", "news", "promotion"):
        return False
    if signal(reading, "passing_mention") is not None:
        return signal(reading, "speaks_to_us") is not None or reading.sentiment == "negative"
    return True


def _evidence(reading: Reading, names: tuple[str, ...]) -> tuple[str, str] | None:
    for name in names:
        s = signal(reading, name)
        if s is not None:
            return name.replace("_", " "), s.evidence[0]
    return None


def decide(
    reading: Reading,
    own: bool,
    sensitive_topics: tuple[str, ...] = (),
    stakeholders: tuple[str, ...] = (),
) -> Decision:
    """The action for a post, from its reading.

    ``sensitive_topics`` are the profile's own; ``stakeholders`` the author's
    labels with enough evidence (a journalist asking us anything goes to the
    press office, whatever words they use).
    """
    if own:
        return Decision("do_not_engage", "own", "This is our own post: nothing to do.")
    addressed = reading.addressed in _ENGAGED
    about = reading.addressed != "none"
    self_harm = signal(reading, "self_harm")
    if self_harm is not None and about:
        return Decision(
            "escalate",
            "self_harm",
            f"Self-harm ({self_harm.evidence[0]}) in a post to or about us: a person must "
            "reach out, never silence.",
        )
    hostile = _evidence(reading, HOSTILE_SIGNALS)
    if hostile:
        return Decision(
            "do_not_engage",
            "hostile",
            f"{hostile[0].capitalize()} ({hostile[1]}): do not engage; report it if needed.",
        )
    spam = signal(reading, "spam")
    if spam is not None:
        return Decision("do_not_engage", "spam", f"Spam or a scam ({spam.evidence[0]}).")
    matter = _evidence(reading, ESCALATION_SIGNALS)
    if matter and about:
        team = {
            "press": "the press office",
            "legal": "legal or the complaints team",
            "safety": "the safety team",
            "account security": "the fraud and security team",
        }[matter[0]]
        return Decision(
            "escalate", "escalate", f"A {matter[0]} matter ({matter[1]}): route to {team}."
        )
    pile_on = signal(reading, "pile_on")
    if pile_on is not None:
        return Decision(
            "do_not_engage", "pile_on", f"Joins an abusive exchange ({pile_on.evidence[0]})."
        )
    high = [s for s in _HIGH_PROFILE if s in stakeholders]
    if high and addressed and reading.kind in _NEEDS:
        return Decision(
            "escalate",
            "escalate",
            f"A {high[0]} stakeholder asks us something: route to {_HIGH_PROFILE[high[0]]}.",
        )
    if not reading.about_us:
        return Decision(
            "listen_only", "unrelated", "Neither addresses us nor is about us: listen only."
        )
    topic = _evidence(reading, sensitive_topics)
    if topic:
        return Decision(
            "listen_only",
            "sensitive_topic",
            f"Touches on {topic[0]} ({topic[1]}), a topic the profile marks sensitive.",
        )
    personal = _evidence(reading, PERSONAL_SIGNALS)
    own_use = signal(reading, "own_use") is not None
    named_need = (
        reading.addressed == "name"
        and own_use
        and (reading.kind in _NEEDS or reading.sentiment == "negative")
        and reading.kind not in ("news", "promotion")
    )
    helps = named_need or (addressed and _owed_an_answer(reading))
    asks = reading.kind in _NEEDS and (addressed or named_need)
    if personal and not asks:
        return Decision(
            "listen_only",
            "personal",
            f"A personal matter ({personal[0]}: {personal[1]}), not a request to us: "
            "listen, do not pitch.",
        )
    if reading.kind == "news":
        return Decision("listen_only", "news", "A headline or a third party's report: listen only.")
    if helps:
        what = {"complaint": "A problem", "question": "A question"}.get(
            reading.kind, "A message that waits for our answer"
        )
        how = "to us" if addressed else "about their own use of what we offer"
        why = f"{what} {how}: answer it."
        if personal:
            why += f" Take care: it touches on {personal[0]} ({personal[1]})."
        return Decision("reply", "help", why, care=personal is not None)
    ironic = signal(reading, "irony") is not None
    if reading.kind == "closing":
        grateful = signal(reading, "warm") is not None or signal(reading, "thanks") is not None
        if grateful and not ironic and signal(reading, "give_up") is None:
            return Decision(
                "appreciate", "thanks", "A warm thank-you after our answer: a like or a thanks."
            )
        return Decision(
            "listen_only", "closing", "An acknowledgement after our answer: nothing more needed."
        )
    if reading.kind == "praise" and reading.sentiment == "positive" and not ironic:
        if addressed:
            return Decision(
                "appreciate", "praise", "Positive words for us, not ironic: a thank-you is welcome."
            )
        positive = signal(reading, "sentiment_positive")
        if reading.addressed == "name" and positive is not None and positive.score >= _CLEAR:
            return Decision(
                "appreciate",
                "praise",
                f"Clearly positive about us ({positive.evidence[0]}), though not tagged: a like "
                "is welcome.",
            )
    return Decision("listen_only", "default", "Nothing asks for us here: listen only.")
