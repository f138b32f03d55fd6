"""The pure half of the judgement benchmark: labels, tweeteval posts and the figures.

``bench/judgement.py`` runs the product over the labelled posts and prints the
comparison; everything here is free of spaCy, the classifiers and the data
readers, so the tests can check it in milliseconds and the definitions of the
figures live in one place (the label guide, ``bench/judgement/GUIDE.md``, says
what each one means; this module is the arithmetic).

A figure whose denominator is empty (a set with no post that needs a reply has
no ignore rate) is ``None`` rather than 0: "never happened" and "not
measurable" must not look the same on a dashboard.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, get_args

from processors.adapters.common import (
    author,
    build_post,
    post_id,
    text_hashtags,
    text_links,
    text_mentions,
)
from schemas.models import Action, CanonicalPost, PostKind, RawEnvelope, StakeholderLabel

ACTIONS: Final[tuple[str, ...]] = get_args(Action)
"""The five actions, in the guide's order (rows and columns of the confusion matrix)."""

NEEDS_REPLY: Final = frozenset({"reply", "escalate"})
"""Labels whose posts must get an answer: missing them is the ignore rate."""
UNWELCOME: Final = frozenset({"listen_only", "do_not_engage"})
"""Labels where stepping in is unwelcome: speaking up there is the barge-in rate."""
SPEAKING: Final = frozenset({"reply", "appreciate"})
"""Actions that put our voice in the conversation (a barge-in when unwelcome)."""

STAKEHOLDERS: Final[tuple[str, ...]] = get_args(StakeholderLabel)
KINDS: Final = frozenset(get_args(PostKind)) | {"abuse", "spam", "personal"}
"""The reading's kinds, plus three the guide names for posts the policy needs no kind for."""
SETS: Final[dict[str, tuple[str, str] | None]] = {
    "customer-care": ("customer-care/dev.json", "customer-care-json"),
    "twcs-spotify": ("twcs/spotify_support_requests.csv", "twcs-csv"),
    "tweeteval": None,
}
"""Set name -> (data file under the data folder, reader format); tweeteval refs name their file."""

STAKEHOLDER_MIN_SCORE: Final = 0.5
"""A product stakeholder counts as predicted from this score on."""

TWEETEVAL_TIME: Final = datetime(2020, 1, 1, tzinfo=UTC)
"""Tweeteval lines carry no time; a fixed one keeps runs reproducible."""

_FIELDS: Final = ("set", "ref", "profile", "action", "stakeholders", "kind", "note")
_X_REF: Final = re.compile(r"^x:\d+$")
_TWEETEVAL_REF: Final = re.compile(
    r"^tweeteval/(?P<task>[a-z]+)/(?P<split>[a-z]+)_text\.txt:(?P<line>[1-9]\d*)$"
)
_PROFILE_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


# --- labels -------------------------------------------------------------------------


class LabelError(ValueError):
    """A label record that does not follow the guide; the message names file and line."""


@dataclass(frozen=True)
class Label:
    """One hand label: what a careful person would do with one post for one profile."""

    set: str
    ref: str
    profile: str
    action: str
    stakeholders: frozenset[str]
    kind: str
    note: str
    where: str = field(default="", compare=False)
    """``file:line`` of the record, for error messages."""

    @property
    def key(self) -> tuple[str, str, str]:
        """What must be unique across all label files: one answer per post and profile."""
        return (self.set, self.ref, self.profile)


def parse_label(record: Any, where: str = "<label>") -> Label:
    """A validated :class:`Label`; every problem is reported at once so a labeller fixes all."""
    if not isinstance(record, dict):
        raise LabelError(f"{where}: expected a JSON object")
    problems = [f"missing {name!r}" for name in _FIELDS if name not in record]
    problems += [f"unknown field {name!r}" for name in record if name not in _FIELDS]
    if problems:
        raise LabelError(f"{where}: {'; '.join(problems)}")
    for name in ("set", "ref", "profile", "action", "kind", "note"):
        if not isinstance(record[name], str):
            problems.append(f"{name!r} must be a string")
    stakeholders = record["stakeholders"]
    if not isinstance(stakeholders, list) or not all(isinstance(s, str) for s in stakeholders):
        problems.append("'stakeholders' must be a list of strings")
        stakeholders = []
    if problems:
        raise LabelError(f"{where}: {'; '.join(problems)}")
    set_name, ref = record["set"], record["ref"]
    if set_name not in SETS:
        problems.append(f"set {set_name!r} is not one of {', '.join(SETS)}")
    elif set_name == "tweeteval" and not _TWEETEVAL_REF.match(ref):
        problems.append(f"ref {ref!r} is not tweeteval/<task>/<split>_text.txt:<line>")
    elif set_name != "tweeteval" and not _X_REF.match(ref):
        problems.append(f"ref {ref!r} is not x:<tweet id>")
    if not _PROFILE_NAME.match(record["profile"]):
        problems.append(f"profile {record['profile']!r} is not a profile file name")
    if record["action"] not in ACTIONS:
        problems.append(f"action {record['action']!r} is not one of {', '.join(ACTIONS)}")
    if record["kind"] not in KINDS:
        problems.append(f"kind {record['kind']!r} is not one of {', '.join(sorted(KINDS))}")
    unknown = sorted(set(stakeholders) - set(STAKEHOLDERS))
    if unknown:
        problems.append(f"unknown stakeholders {unknown}")
    if len(set(stakeholders)) != len(stakeholders):
        problems.append("stakeholders repeat")
    if problems:
        raise LabelError(f"{where}: {'; '.join(problems)}")
    return Label(
        set=set_name,
        ref=ref,
        profile=record["profile"],
        action=record["action"],
        stakeholders=frozenset(stakeholders),
        kind=record["kind"],
        note=record["note"],
        where=where,
    )


def load_labels(paths: Iterable[Path]) -> list[Label]:
    """Every label of every file, in file order; bad or duplicate records raise LabelError.

    A duplicate (same set, ref and profile) is an error even when both agree,
    because it would silently count one post twice.
    """
    labels: list[Label] = []
    seen: dict[tuple[str, str, str], str] = {}
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"{path.name}:{number}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise LabelError(f"{where}: not JSON ({exc.msg})") from exc
                label = parse_label(record, where)
                if label.key in seen:
                    raise LabelError(f"{where}: duplicate of {seen[label.key]} {label.key}")
                seen[label.key] = where
                labels.append(label)
    return labels


# --- tweeteval posts --------------------------------------------------------------------


@dataclass(frozen=True)
class TweetevalRef:
    """``tweeteval/<task>/<split>_text.txt:<line>``, taken apart."""

    file: str
    task: str
    split: str
    line: int

    @property
    def suffix(self) -> str:
        """The native part of the post id, unique per line: ``tweeteval-<task>-<split>-<line>``."""
        return f"tweeteval-{self.task}-{self.split}-{self.line}"


def parse_tweeteval_ref(ref: str) -> TweetevalRef:
    match = _TWEETEVAL_REF.match(ref)
    if not match:
        raise LabelError(f"ref {ref!r} is not tweeteval/<task>/<split>_text.txt:<line>")
    return TweetevalRef(
        file=ref.rpartition(":")[0],
        task=match["task"],
        split=match["split"],
        line=int(match["line"]),
    )


def read_lines(path: Path) -> list[str]:
    """The file's lines without their newline, split on ``\\n`` only.

    ``str.splitlines`` would also split on U+2028 and friends, which tweets can
    contain, and then every later line number would be off.
    """
    text = path.read_bytes().decode("utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def tweeteval_post(ref: TweetevalRef, text: str) -> CanonicalPost:
    """The canonical post the product would see for one tweeteval line.

    Built with the adapters' own helpers (``build_post``, ``text_mentions``...)
    so mentions, tags and links are found exactly as for a live X post. The
    author is anonymous, as the data set is, and each line is its own thread.
    """
    native = ref.suffix
    envelope = RawEnvelope(
        ingest_id=f"bench-{native}",
        source="replay",
        format="tweeteval",
        received_at=TWEETEVAL_TIME,
        payload=text,
    )
    pid = post_id("x", native)
    return build_post(
        envelope,
        id=pid,
        platform="x",
        created_at=TWEETEVAL_TIME,
        text=text,
        author=author(id=post_id("x", f"anon-{native}")),
        conversation_id=pid,
        mentions=text_mentions(text),
        hashtags=text_hashtags(text),
        links=text_links(text),
    )


def tweeteval_posts(data_dir: Path, refs: Iterable[str]) -> dict[str, CanonicalPost]:
    """ref -> post for each tweeteval ref (each file read once); a missing line raises."""
    files: dict[str, list[str]] = {}
    out: dict[str, CanonicalPost] = {}
    for ref in refs:
        parsed = parse_tweeteval_ref(ref)
        if parsed.file not in files:
            files[parsed.file] = read_lines(data_dir / parsed.file)
        lines = files[parsed.file]
        if parsed.line > len(lines):
            raise LabelError(f"{ref}: {parsed.file} has only {len(lines)} lines")
        out[ref] = tweeteval_post(parsed, lines[parsed.line - 1])
    return out


# --- figures -----------------------------------------------------------------------------


def ratio(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator``, or None when nothing was there to count."""
    return numerator / denominator if denominator else None


def accuracy(expected: Sequence[str], got: Sequence[str]) -> float | None:
    _same_length(expected, got)
    return ratio(sum(e == g for e, g in zip(expected, got, strict=True)), len(expected))


def macro_f1(expected: Sequence[str], got: Sequence[str]) -> float | None:
    """Unweighted mean F1 over the actions that occur in ``expected`` or ``got``.

    This is sklearn's ``f1_score(average="macro")`` default: an action nobody
    labelled and the product never chose has no F1 and is left out, rather than
    scored 0 (which would punish a set for lacking, say, escalations) or 1.
    """
    _same_length(expected, got)
    present = sorted(set(expected) | set(got))
    if not present:
        return None
    scores = []
    for action in present:
        tp = sum(e == action and g == action for e, g in zip(expected, got, strict=True))
        fp = sum(e != action and g == action for e, g in zip(expected, got, strict=True))
        fn = sum(e == action and g != action for e, g in zip(expected, got, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores)


def barge_in_rate(expected: Sequence[str], got: Sequence[str]) -> float | None:
    """Share of posts where stepping in is unwelcome that the product would speak on."""
    _same_length(expected, got)
    pairs = [(e, g) for e, g in zip(expected, got, strict=True) if e in UNWELCOME]
    return ratio(sum(g in SPEAKING for _, g in pairs), len(pairs))


def ignore_rate(expected: Sequence[str], got: Sequence[str]) -> float | None:
    """Share of posts needing a reply (reply or escalate) that the product would stay out of."""
    _same_length(expected, got)
    pairs = [(e, g) for e, g in zip(expected, got, strict=True) if e in NEEDS_REPLY]
    return ratio(sum(g in UNWELCOME for _, g in pairs), len(pairs))


def confusion(expected: Sequence[str], got: Sequence[str]) -> dict[str, dict[str, int]]:
    """expected action -> product action -> count, over all five actions (zeros included)."""
    _same_length(expected, got)
    counts = Counter(zip(expected, got, strict=True))
    return {e: {g: counts[(e, g)] for g in ACTIONS} for e in ACTIONS}


@dataclass(frozen=True)
class PR:
    """Micro counts and the precision and recall they give (None when undefined)."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float | None:
        return ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        return ratio(self.tp, self.tp + self.fn)


def stakeholder_scores(
    pairs: Iterable[tuple[Iterable[str], Iterable[str]]],
) -> tuple[PR, dict[str, PR]]:
    """Micro precision/recall over (expected labels, predicted labels) per post, and per label.

    A label counts as a hit when it is in both sets of the same post. The
    caller leaves out our own posts: the guide gives them no stakeholders.
    """
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for expected_labels, predicted_labels in pairs:
        expected, predicted = set(expected_labels), set(predicted_labels)
        tp.update(expected & predicted)
        fp.update(predicted - expected)
        fn.update(expected - predicted)
    per_label = {
        name: PR(tp[name], fp[name], fn[name])
        for name in STAKEHOLDERS
        if tp[name] or fp[name] or fn[name]
    }
    overall = PR(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    return overall, per_label


@dataclass(frozen=True)
class Outcome:
    """One labelled post and what the product made of it."""

    label: Label
    action: str
    stakeholders: frozenset[str]
    own: bool
    """The product took the author for one of our own accounts."""
    reason: str
    """The product's first joinability reason, for the error listing."""
    text: str


def figures(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The headline figures for a group of outcomes, as printed in the final JSON line."""
    expected = [o.label.action for o in outcomes]
    got = [o.action for o in outcomes]
    overall, _ = stakeholder_scores(
        (o.label.stakeholders, o.stakeholders) for o in outcomes if not o.own
    )
    return {
        "n": len(outcomes),
        "action_accuracy": accuracy(expected, got),
        "macro_f1": macro_f1(expected, got),
        "barge_in_rate": barge_in_rate(expected, got),
        "ignore_rate": ignore_rate(expected, got),
        "stakeholder_precision": overall.precision,
        "stakeholder_recall": overall.recall,
    }


def rounded(values: Mapping[str, Any], digits: int = 3) -> dict[str, Any]:
    """Floats rounded for the JSON line; counts and None stay as they are."""
    return {k: round(v, digits) if isinstance(v, float) else v for k, v in values.items()}


def _same_length(expected: Sequence[str], got: Sequence[str]) -> None:
    if len(expected) != len(got):
        raise ValueError(f"{len(expected)} expected actions but {len(got)} predictions")
