"""The rules engine: load and check a rules file, and evaluate its rules on an enriched post.

A rule reads a *flat view* of an :class:`~schemas.models.EnrichedPost`: a fixed
set of named fields (:data:`FIELDS`, documented in
``processors/default_rules.yaml`` and the README), each with a type that says
which comparisons make sense. Rule authors never see the post's nesting, a
misspelt field is caught when the file is loaded (with the closest name), and
the model can change shape without breaking people's rules, as long as the
view keeps its names.

Conditions are data (:class:`processors.rules_file.Condition`) walked by
:func:`evaluate`; nothing is ever evaluated as code. Evaluation never raises:
a comparison between values of different kinds (a number against a word)
is simply false, and a field without a value (an author with no follower
count) makes every comparison on it false, which ``not`` turns into true.
String comparisons ignore case.

:func:`load_rules` reports every problem of a file at once, one line each,
with its position counted from 1 as people count (``rules[2].when.and[1].field``)
and a "did you mean" for a misspelt key, field or value, because the person
reading the error is editing YAML, not debugging Python.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ValidationError

from processors.rules_file import (
    Condition,
    DeadlineConfig,
    Rule,
    RulesFile,
    SilenceConfig,
    SpikeRule,
)
from schemas.models import (
    Action,
    Addressed,
    EnrichedPost,
    MessageKind,
    PostKind,
    Sentiment,
    StakeholderLabel,
)
from schemas.models import Condition as Why

__all__ = [
    "DEFAULT_RULES",
    "FIELDS",
    "FieldType",
    "PostView",
    "RulesError",
    "ViewField",
    "evaluate",
    "format_duration",
    "load_rules",
    "parse_rules",
    "post_view",
    "unknown_outputs",
]

DEFAULT_RULES = "default_rules.yaml"
"""The rules that ship in this package, used when ``TOWNSQUARE_RULES_PATH`` is unset."""

FieldType = Literal["number", "bool", "keyword", "text", "list"]
Value = str | int | float | bool | list[str] | None
PostView = Mapping[str, Value]
"""A post as rules see it: field name -> value (see :data:`FIELDS`)."""


@dataclass(frozen=True)
class ViewField:
    """One field a rule may read: its type decides the comparisons it allows."""

    name: str
    type: FieldType
    doc: str
    read: Callable[[EnrichedPost], Value]
    choices: tuple[str, ...] = ()
    """The values it can hold, when they are a fixed set (checked when a file is loaded)."""


def _reading(attr: str) -> Callable[[EnrichedPost], Value]:
    def read(post: EnrichedPost) -> Value:
        reading = post.reading
        value: Value = None if reading is None else getattr(reading, attr)
        return value

    return read


def _stakeholder(label: str) -> Callable[[EnrichedPost], Value]:
    def read(post: EnrichedPost) -> Value:
        return max((s.score for s in post.stakeholders if s.label == label), default=0.0)

    return read


_LABELS: tuple[str, ...] = get_args(StakeholderLabel)

FIELDS: dict[str, ViewField] = {
    f.name: f
    for f in (
        ViewField("kind", "keyword", "post or edit", lambda p: p.kind, get_args(MessageKind)[:2]),
        ViewField("platform", "keyword", "x, mastodon, bluesky, reddit, ...", lambda p: p.platform),
        ViewField("lang", "keyword", "language code, when known", lambda p: p.lang),
        ViewField("text", "text", "the post's words (contains only)", lambda p: p.text),
        ViewField("hashtags", "list", "tags, without '#'", lambda p: list(p.hashtags)),
        ViewField("mentions", "list", "handles, without '@'", lambda p: list(p.mentions)),
        ViewField("entities", "list", "entity texts found", lambda p: [e.text for e in p.entities]),
        ViewField("author.handle", "keyword", "the author's handle", lambda p: p.author.handle),
        ViewField("author.followers", "number", "follower count", lambda p: p.author.followers),
        ViewField("author.verified", "bool", "verified account", lambda p: p.author.verified),
        ViewField(
            "author.is_org_account",
            "bool",
            "one of our own accounts",
            lambda p: p.author.is_org_account,
        ),
        ViewField(
            "joinability.action",
            "keyword",
            "the recommended action",
            lambda p: p.joinability.action,
            get_args(Action),
        ),
        ViewField("joinability.score", "number", "0..1", lambda p: p.joinability.score),
        ViewField(
            "stakeholder_labels",
            "list",
            "the author's stakeholder labels",
            lambda p: [s.label for s in p.stakeholders],
            _LABELS,
        ),
        *(
            ViewField(
                f"stakeholders.{label}", "number", "label score, 0 if absent", _stakeholder(label)
            )
            for label in _LABELS
        ),
        ViewField(
            "reading.addressed",
            "keyword",
            "how the post addresses us",
            _reading("addressed"),
            get_args(Addressed),
        ),
        ViewField(
            "reading.kind", "keyword", "what the post is", _reading("kind"), get_args(PostKind)
        ),
        ViewField(
            "reading.sentiment",
            "keyword",
            "negative, neutral or positive",
            _reading("sentiment"),
            get_args(Sentiment),
        ),
        ViewField("reading.about_us", "bool", "names us or our topics", _reading("about_us")),
        ViewField("reading.emotion", "keyword", "the strongest emotion", _reading("emotion")),
        ViewField(
            "signals",
            "list",
            "names of what the reading found (press, legal, question, ...)",
            lambda p: [s.name for s in p.reading.signals] if p.reading else [],
        ),
        ViewField(
            "sensitivity.flags",
            "list",
            "personal and sensitive topics",
            lambda p: list(p.sensitivity.flags),
        ),
        ViewField("redacted", "bool", "indexed without its words", lambda p: p.redacted),
        ViewField(
            "conversation.awaiting_org_reply",
            "bool",
            "the thread waits for our reply",
            lambda p: p.conversation.awaiting_org_reply,
        ),
        ViewField(
            "conversation.posts", "number", "posts in the thread", lambda p: p.conversation.posts
        ),
        ViewField(
            "conversation.participants",
            "number",
            "people in the thread",
            lambda p: p.conversation.participants,
        ),
        ViewField(
            "conversation.own_posts",
            "number",
            "our posts in the thread",
            lambda p: p.conversation.own_posts,
        ),
        ViewField(
            "conversation.unanswered_org_posts",
            "number",
            "our posts nobody answered",
            lambda p: p.conversation.unanswered_org_posts,
        ),
        ViewField("metrics.likes", "number", "likes", lambda p: p.metrics.likes),
        ViewField("metrics.shares", "number", "shares", lambda p: p.metrics.shares),
        ViewField("metrics.replies", "number", "replies", lambda p: p.metrics.replies),
    )
}
"""Every field a rule may read, by name."""

_OPERATORS: dict[FieldType, tuple[str, ...]] = {
    "number": ("eq", "ne", "gt", "gte", "lt", "lte", "in"),
    "bool": ("eq", "ne"),
    "keyword": ("eq", "ne", "in", "contains"),
    "text": ("contains",),
    "list": ("contains", "in"),
}
_COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains")
_COMBINATORS = ("and", "or", "not")
_CONDITION_KEYS = ("field", *_COMPARISONS, *_COMBINATORS)
_ATTR = {"in": "in_", "and": "and_", "or": "or_", "not": "not_"}


def post_view(post: EnrichedPost) -> dict[str, Value]:
    """The flat view of ``post`` that rules read; build it once to evaluate many rules."""
    return {name: field.read(post) for name, field in FIELDS.items()}


# --- evaluation ------------------------------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same(left: object, right: object) -> bool:
    """Equality of like kinds only: ``True`` is not ``1`` and ``"1"`` is not ``1``."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    return False


def _order(op: str, left: object, right: object) -> bool:
    if not (_is_number(left) and _is_number(right)):
        return False
    a, b = float(left), float(right)  # type: ignore[arg-type]
    if math.isnan(a) or math.isnan(b):
        return False
    return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]


def _operator(cond: Condition) -> tuple[str, Any] | None:
    for op in _COMPARISONS:
        value = getattr(cond, _ATTR.get(op, op))
        if value is not None:
            return op, value
    return None


def _matches(op: str, held: Value, wanted: Any) -> tuple[bool, Value]:
    """Whether ``held op wanted`` holds, and the part of ``held`` that shows it."""
    if held is None:
        return False, None
    if isinstance(held, list):
        if op == "contains":
            hits = [item for item in held if _same(item, wanted)]
        elif op == "in" and isinstance(wanted, list):
            hits = [item for item in held if any(_same(item, w) for w in wanted)]
        elif op in ("eq", "ne"):  # not allowed by the loader; defined anyway
            hits = [item for item in held if _same(item, wanted)]
            return (bool(hits), hits) if op == "eq" else (not hits, held)
        else:
            return False, None
        return bool(hits), hits
    if op == "eq":
        return _same(held, wanted), held
    if op == "ne":
        return not _same(held, wanted), held
    if op in ("gt", "gte", "lt", "lte"):
        return _order(op, held, wanted), held
    if op == "in":
        return isinstance(wanted, list) and any(_same(held, w) for w in wanted), held
    if op == "contains":
        if isinstance(held, str) and isinstance(wanted, str):
            folded = held.casefold()
            start = folded.find(wanted.casefold())
            if start < 0:
                return False, None
            if len(folded) != len(held):  # casefold changed lengths (ß -> ss): no slicing
                return True, wanted
            return True, held[start : start + len(wanted)]  # as the post writes it
        return False, None
    return False, None


def _shown(value: Value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{round(value, 4):g}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "(none)"
    return str(value)


def _explain(cond: Condition, view: PostView, want: bool) -> list[Why] | None:
    """Why ``cond`` is ``want`` on ``view`` (the values that show it), or None if it is not."""
    if cond.and_ is not None or cond.or_ is not None:
        children = cond.and_ if cond.and_ is not None else cond.or_
        assert children is not None
        every = (cond.and_ is not None) == want  # and->True and or->False need every child
        found = [_explain(child, view, want) for child in children]
        if every:  # an empty "and" is true and an empty "or" false, as in logic
            if any(f is None for f in found):
                return None
            return [w for f in found if f for w in f]
        hits = [f for f in found if f is not None]
        return [w for f in hits for w in f] if hits else None
    if cond.not_ is not None:
        return _explain(cond.not_, view, not want)
    operator = _operator(cond)
    if cond.field is None or operator is None:  # not a condition the loader accepts: false
        return None if want else []
    op, wanted = operator
    held = view.get(cond.field)
    ok, shown = _matches(op, held, wanted)
    if ok != want:
        return None
    if not want:
        spec = FIELDS.get(cond.field)
        if spec is not None and spec.type == "text":
            # The words it lacks, not the whole text (which may be long, or personal).
            return [Why(field=cond.field, value=f"without {_shown(wanted)!r}")]
        shown = held
    return [Why(field=cond.field, value=_shown(shown))]


def evaluate(rule: Rule | Condition, post: EnrichedPost | PostView) -> list[Why] | None:
    """The values that made ``rule`` fire on ``post`` (for ``Alert.why``), or None if it did not.

    ``post`` may be a view from :func:`post_view`, so a batch builds each
    post's view once for all rules. Never raises, whatever the condition.
    """
    view = post_view(post) if isinstance(post, EnrichedPost) else post
    cond = rule.when if isinstance(rule, Rule) else rule
    why = _explain(cond, view, True)
    if why is None:
        return None
    return list({(w.field, w.value): w for w in why}.values())


# --- loading and checking --------------------------------------------------------


class RulesError(ValueError):
    """A rules file that cannot be used, with one readable line per problem."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = Path(path)
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"the alert rules file {path} is not valid:\n{lines}\n"
            f"Fix it (`townsquare rules check {path}` shows the same list) or unset "
            "TOWNSQUARE_RULES_PATH to use the shipped default rules."
        )


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. PyYAML reads ``on:`` (a spike key) as ``True``."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _position(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _keys(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(f.alias or name for name, f in model.model_fields.items())


class _Checker:
    """Collects problems in file order; pydantic's own messages fill in the rest."""

    def __init__(self, outputs: Collection[str] | None) -> None:
        self.problems: list[str] = []
        self.outputs = outputs
        self.condition_trouble: set[int] = set()
        """Rules (0-based) whose condition has problems already, so pydantic's are not repeated."""

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}" if where else message)

    def keys(self, data: Mapping[Any, Any], allowed: Sequence[str], where: str, what: str) -> None:
        for key in data:
            if str(key) not in allowed:
                at = f"{where}.{key}" if where else str(key)
                self.add(
                    at,
                    f"unknown key in {what}{_suggest(str(key), allowed)}; "
                    f"known keys: {', '.join(allowed)}",
                )

    def document(self, data: Any) -> None:
        if not isinstance(data, dict):
            self.add("", "the file must be a mapping with rules, spikes, reply_deadlines, silence")
            return
        self.keys(data, _keys(RulesFile), "", "the rules file")
        names: dict[str, str] = {}
        for section, model in (("rules", Rule), ("spikes", SpikeRule)):
            items = data.get(section)
            if not isinstance(items, list):
                continue
            for i, item in enumerate(items):
                where = f"{section}[{i + 1}]"
                if not isinstance(item, dict):
                    continue
                self.keys(item, _keys(model), where, f"a {section[:-1]}")
                name = item.get("name")
                if isinstance(name, str):
                    if name in names:
                        self.add(f"{where}.name", f"{name!r} is already the name of {names[name]}")
                    else:
                        names[name] = where
                if section == "rules" and "when" in item:
                    before = len(self.problems)
                    self.condition(item["when"], f"{where}.when")
                    if len(self.problems) > before:
                        self.condition_trouble.add(i)
                self.output_names(item.get("outputs"), where)
        configs: tuple[tuple[str, type[BaseModel]], ...] = (
            ("reply_deadlines", DeadlineConfig),
            ("silence", SilenceConfig),
        )
        for section, config in configs:
            part = data.get(section)
            if isinstance(part, dict):
                self.keys(part, _keys(config), section, section)
                self.output_names(part.get("outputs"), section)

    def output_names(self, outputs: Any, where: str) -> None:
        if self.outputs is None or not isinstance(outputs, list):
            return
        known = sorted(self.outputs)
        for i, name in enumerate(outputs):
            if isinstance(name, str) and name not in self.outputs:
                listed = f"known outputs: {', '.join(known)}" if known else "none is configured"
                self.add(
                    f"{where}.outputs[{i + 1}]",
                    f"no output named {name!r}{_suggest(name, known)} in "
                    f"TOWNSQUARE_ALERT_WEBHOOKS ({listed}); add it there or remove it here",
                )

    def condition(self, node: Any, where: str) -> None:
        example = "e.g. {field: joinability.action, eq: reply}"
        if not isinstance(node, dict):
            self.add(where, f"a condition is a mapping, {example}, or and/or/not of them")
            return
        self.keys(node, _CONDITION_KEYS, where, "a condition")
        ops = [k for k in _COMPARISONS if k in node]
        combos = [k for k in _COMBINATORS if k in node]
        if "field" in node and combos:
            self.add(
                where,
                f"mixes a comparison (field) with {combos[0]!r}; a condition is one or the "
                f"other: put the comparison inside the {combos[0]!r}",
            )
            return
        if len(combos) > 1:
            self.add(where, f"has both {combos[0]!r} and {combos[1]!r}; nest one inside the other")
            return
        if combos:
            self.combinator(combos[0], node[combos[0]], f"{where}.{combos[0]}")
            return
        if "field" not in node:
            if ops:
                self.add(where, f"{ops[0]!r} needs a field to compare: add field: <name>")
            elif node and all(str(k) not in _CONDITION_KEYS for k in node):
                pass  # the unknown keys are reported already
            else:
                self.add(where, f"empty condition: write a comparison ({example}) or and/or/not")
            return
        self.comparison(node, ops, where)

    def combinator(self, op: str, value: Any, where: str) -> None:
        if op == "not":
            self.condition(value, where)
            return
        if not isinstance(value, list) or not value:
            self.add(where, f"{op!r} takes a non-empty list of conditions")
            return
        for i, child in enumerate(value):
            self.condition(child, f"{where}[{i + 1}]")

    def comparison(self, node: Mapping[str, Any], ops: list[str], where: str) -> None:
        name = node["field"]
        if not isinstance(name, str) or name not in FIELDS:
            self.add(
                f"{where}.field",
                f"unknown field {name!r}{_suggest(str(name), FIELDS)}; rules read the fields "
                "listed in processors/default_rules.yaml",
            )
            return
        spec = FIELDS[name]
        allowed = _OPERATORS[spec.type]
        if not ops:
            self.add(where, f"field {name!r} has no comparison; add one of {', '.join(allowed)}")
            return
        if len(ops) > 1:
            self.add(
                where,
                f"has {len(ops)} comparisons ({', '.join(ops)}); write one per condition and "
                "combine them with and",
            )
            return
        op = ops[0]
        if op not in allowed:
            hint = {
                "text": "text can only be searched: use contains",
                "list": f"{name} is a list: use contains (one value) or in (any of several)",
                "bool": "compare true/false with eq or ne",
            }.get(spec.type, f"use one of {', '.join(allowed)}")
            self.add(
                f"{where}.{op}", f"{op!r} does not apply to {name}, a {spec.type} field; {hint}"
            )
            return
        value = node[op]
        if op == "in":
            if not isinstance(value, list) or not value:
                self.add(f"{where}.in", "'in' takes a non-empty list of values, e.g. [a, b]")
                return
            for i, item in enumerate(value):
                self.value(spec, item, f"{where}.in[{i + 1}]")
        else:
            self.value(spec, value, f"{where}.{op}")

    def value(self, spec: ViewField, value: Any, where: str) -> None:
        if spec.type == "number":
            if not _is_number(value):
                self.add(where, f"{spec.name} is a number; got {value!r}")
        elif spec.type == "bool":
            if not isinstance(value, bool):
                self.add(where, f"{spec.name} is true or false; got {value!r}")
        elif not isinstance(value, str):
            self.add(where, f"{spec.name} holds words; got {value!r} (quote it if it is a word)")
        elif spec.choices and value.casefold() not in {c.casefold() for c in spec.choices}:
            self.add(
                where,
                f"{value!r} is not a value of {spec.name}{_suggest(value, spec.choices)}; "
                f"choose from {', '.join(spec.choices)}",
            )


_FRIENDLY = {
    "missing": "required; add it",
    "string_pattern_mismatch": "use lower-case letters, digits, '-' and '_', starting with a "
    "letter or digit",
    "string_too_short": "must not be empty",
}


def _pydantic_problems(exc: ValidationError, data: Any, checker: _Checker) -> list[str]:
    problems: list[str] = []
    for error in exc.errors():
        if error["type"] == "extra_forbidden":
            continue  # reported with a suggestion already
        loc = list(error["loc"])
        in_when = len(loc) > 2 and loc[0] == "rules" and loc[2] == "when"
        if in_when and isinstance(loc[1], int) and loc[1] in checker.condition_trouble:
            continue
        # Drop what pydantic appends for union members ("eq.str", "eq.int"): not in the file.
        node, kept = data, []
        for part in loc:
            in_dict = isinstance(node, dict) and part in node
            if in_dict or (isinstance(node, list) and isinstance(part, int) and part < len(node)):
                node = node[part]
            elif error["type"] == "missing" and part == loc[-1]:
                pass
            else:
                break
            kept.append(part)
        message = _FRIENDLY.get(error["type"], error["msg"].removeprefix("Value error, "))
        line = f"{_position(kept)}: {message}" if kept else message
        if line not in problems:
            problems.append(line)
    return problems


_SECTIONS = {name: n for n, name in enumerate(_keys(RulesFile))}
_ITEM = re.compile(r"^(\w+)(?:\[(\d+)\])?")


def _file_order(problem: str) -> tuple[int, int]:
    """Problems sorted by section, then by rule: the order a person reads the file in."""
    match = _ITEM.match(problem)
    if match is None:
        return (-1, 0)
    return (_SECTIONS.get(match.group(1), -1), int(match.group(2) or 0))


def parse_rules(
    data: Any, path: Path | str = "<rules>", outputs: Collection[str] | None = None
) -> RulesFile:
    """Check a parsed YAML document and build the rules file; :class:`RulesError` lists problems.

    ``outputs``, when given, are the configured output names (the keys of
    ``TOWNSQUARE_ALERT_WEBHOOKS``); a rule naming another is then a problem.
    """
    if data is None:
        data = {}
    checker = _Checker(outputs)
    checker.document(data)
    if not isinstance(data, dict):
        raise RulesError(path, checker.problems)
    try:
        parsed = RulesFile.model_validate(data)
    except ValidationError as exc:
        problems = checker.problems + _pydantic_problems(exc, data, checker)
        raise RulesError(path, sorted(problems, key=_file_order) or [str(exc)]) from exc
    if checker.problems:
        raise RulesError(path, checker.problems)
    return parsed


def load_rules(path: Path | None, outputs: Collection[str] | None = None) -> RulesFile:
    """Read and check a rules file (None: the default rules shipped in this package)."""
    if path is None:
        text = files("processors").joinpath(DEFAULT_RULES).read_text(encoding="utf-8")
        where: Path | str = f"(default) processors/{DEFAULT_RULES}"
    else:
        where = path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise RulesError(path, ["file not found; give the path of a rules YAML file"]) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise RulesError(path, [f"cannot read it: {exc}"]) from exc
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RulesError(where, [f"not valid YAML{at}: {problem}"]) from exc
    return parse_rules(data, where, outputs)


def unknown_outputs(rules: RulesFile, configured: Collection[str]) -> list[tuple[str, str]]:
    """``(who, output)`` for every output a rule or section names that is not configured."""
    named: list[tuple[str, list[str]]] = [
        *((f"rule {r.name}", r.outputs) for r in rules.rules),
        *((f"spike {s.name}", s.outputs) for s in rules.spikes),
        ("reply_deadlines", rules.reply_deadlines.outputs),
        ("silence", rules.silence.outputs),
    ]
    return [(who, name) for who, names in named for name in names if name not in configured]


def format_duration(value: timedelta) -> str:
    """``timedelta(minutes=90)`` -> ``"1h30m"``: how a person would write it in the file."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return "0s"
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out += f"{count}{unit}"
    return out
