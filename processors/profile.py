"""The organisation profile: who "we" are, whom we know, and how we weigh a conversation.

It is a YAML file (``TOWNSQUARE_PROFILE_PATH``) so that a communications team
can change it without touching code; ``townsquare profile check FILE`` runs
:func:`load_profile` and prints its errors.

Handles are compared case-insensitively and without a leading ``@``; a handle
may carry a platform-specific domain (``@council@social.example``) and is then
matched on its full form and on its local part.

Two switches serve people rather than the organisation: ``opt_out`` lists
those who asked not to be monitored (their posts are never enriched, stored
or indexed), and ``redact_personal_topics`` publishes posts about grief,
health, children or self-harm without their words (see
:func:`processors.privacy.redact`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Final, Literal, TypeVar, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from processors.adapters import bluesky, mastodon, reddit, rss, x_v2
from processors.adapters.common import PLATFORM_NAME
from schemas.models import Author

_T = TypeVar("_T")

DEFAULT_WEIGHTS: dict[str, float] = {
    "relevance": 0.25,
    "invitation": 0.30,
    "engagement": 0.15,
    "openness": 0.10,
    "freshness": 0.10,
    "share_of_voice": 0.10,
}
"""Positive components add up to 1; penalties (sensitivity, hostility, spam) multiply."""

WEIGHT_TOLERANCE: Final = 0.01
"""How far from 1 the weights may add up: YAML decimals like 0.35 are not exact in binary."""

PLATFORMS: Final[tuple[str, ...]] = tuple(
    sorted({m.PLATFORM for m in (bluesky, mastodon, reddit, rss, x_v2)})
)
"""The platforms townsquare's own adapters stamp on posts (twcs and customer care are ``x``).

Other names in ``accounts`` are allowed (posts pushed through the webhook name
their own platform), but one that is a near miss of these is a typo.
"""

_SUGGEST_CUTOFF: Final = 0.6
"""difflib similarity above which an unknown name is offered as a "did you mean"."""


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word`` (case-insensitive), if it is close enough."""
    options = {c.lower(): c for c in choices}
    found = difflib.get_close_matches(word.lower(), list(options), n=1, cutoff=_SUGGEST_CUTOFF)
    return options[found[0]] if found else None


def _suggestion(word: str, choices: Iterable[str]) -> str:
    match = did_you_mean(word, choices)
    return f"; did you mean {match!r}?" if match else ""


def normalize_handle(handle: str) -> str:
    """``@Council@Social.Example`` -> ``council@social.example``."""
    return handle.strip().lstrip("@").lower()


class GazetteerEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    label: str = Field(min_length=1, description="PRODUCT, PLACE, PERSON, PROGRAMME, ORG ...")


class Thresholds(BaseModel):
    """Score cut-offs for the recommended action."""

    model_config = ConfigDict(extra="forbid")

    reply: float = Field(default=0.55, ge=0, le=1)
    appreciate: float = Field(default=0.35, ge=0, le=1)

    @model_validator(mode="after")
    def _reply_at_least_appreciate(self) -> Thresholds:
        """A post good enough to reply to is good enough to appreciate: reply >= appreciate."""
        if self.reply < self.appreciate:
            defaults = [n for n in ("reply", "appreciate") if n not in self.model_fields_set]
            note = f" ({' and '.join(defaults)}: the default)" if defaults else ""
            raise ValueError(
                f"reply ({self.reply:g}) is below appreciate ({self.appreciate:g}){note}; "
                "reply must be at least appreciate"
            )
        return self


LISTS = ("employees", "partners", "investors", "media", "officials", "competitors")
"""The people lists of a profile, each matched against authors' handles and names."""


class Organisation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(cached_property,))

    name: str = Field(min_length=1)
    accounts: dict[str, list[str]] = Field(
        default_factory=dict, description="platform -> the organisation's own handles"
    )
    aliases: list[str] = Field(
        default_factory=list,
        description="Other handles that address us without being ours to post from: the "
        "brand account a care team answers for, a campaign handle. Mentions count as "
        "addressing us; posts by them are not ours.",
    )
    employees: list[str] = Field(default_factory=list)
    employee_domains: list[str] = Field(default_factory=list)
    partners: list[str] = Field(default_factory=list)
    investors: list[str] = Field(default_factory=list)
    media: list[str] = Field(default_factory=list)
    officials: list[str] = Field(default_factory=list)
    competitors: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    gazetteer: list[GazetteerEntry] = Field(default_factory=list)
    sensitive_topics: list[str] = Field(default_factory=lambda: ["grief", "health", "children"])
    reply_sla_minutes: int = Field(default=240, ge=1)
    served_as: Literal["customer", "citizen"] = Field(
        default="customer",
        description="What people who bring us their own matter are: a brand's customers, "
        "a public body's citizens. Labels authors who address us about their own affairs.",
    )
    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    thresholds: Thresholds = Field(default_factory=Thresholds)
    opt_out: list[str] = Field(
        default_factory=list,
        description="People who asked not to be monitored: author ids (platform:native id, "
        "with a ':') or handles. Their posts are dropped at enrich (counted as "
        "withheld_opt_out): no conversation state, no enriched post, no document. Their "
        "deletes still pass, so an earlier copy can be removed. Write a Mastodon handle with "
        "its instance (name@instance): 'name' alone does not match name@instance posts.",
    )
    redact_personal_topics: bool = Field(
        default=False,
        description="Publish posts flagged grief, health, minors or self-harm redacted: no "
        "text, links, mentions, hashtags, entities, evidence or display fields; scores, "
        "flags, the action and the conversation link stay.",
    )

    @field_validator("accounts")
    @classmethod
    def _known_platforms(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        """Refuse a near miss of a platform we read (``blusky``): its handles would be
        filed under a name no post carries. Other plain names are webhook platforms."""
        problems = []
        for platform in value:
            if platform in PLATFORMS:
                continue
            match = did_you_mean(platform, PLATFORMS)
            if match is not None:
                problems.append(f"unknown platform {platform!r}: did you mean {match!r}?")
            elif not PLATFORM_NAME.match(platform):
                problems.append(
                    f"{platform!r} is not a platform name (lower-case letters, digits, - and _)"
                )
        if problems:
            raise ValueError(
                "; ".join(problems) + f" (townsquare reads {', '.join(PLATFORMS)}; other "
                "lower-case names are taken as platforms that push through the webhook)"
            )
        return value

    @field_validator("weights")
    @classmethod
    def _known_weights(cls, value: dict[str, float]) -> dict[str, float]:
        """Known components, none negative, and with the defaults filled in, a sum of 1.

        The score divides by the sum anyway, but weights that do not add up to 1
        mean the author thought of shares that are not the ones in effect.
        """
        unknown = [name for name in value if name not in DEFAULT_WEIGHTS]
        if unknown:
            raise ValueError(
                "; ".join(
                    f"unknown weight {name!r}{_suggestion(name, DEFAULT_WEIGHTS)}"
                    for name in unknown
                )
                + f" (known components: {', '.join(DEFAULT_WEIGHTS)})"
            )
        negative = [name for name, w in value.items() if w < 0]
        if negative:
            raise ValueError(f"weights must not be negative: {', '.join(negative)}")
        merged = {**DEFAULT_WEIGHTS, **value}
        total = sum(merged.values())
        if abs(total - 1) > WEIGHT_TOLERANCE:
            yours = ", ".join(f"{n} {w:g}" for n, w in value.items())
            rest = ", ".join(f"{n} {w:g}" for n, w in merged.items() if n not in value)
            raise ValueError(
                f"the weights add up to {total:.2f}; they must add up to 1 "
                f"(within {WEIGHT_TOLERANCE}): yours {yours or '(none)'}"
                + (f"; defaults for the rest {rest}" if rest else "")
            )
        return merged

    # Profile-derived sets are read for every post, so they are built once per
    # profile (the model is frozen, so they cannot go stale).
    @cached_property
    def _own(self) -> frozenset[str]:
        return _handle_set(h for handles in self.accounts.values() for h in handles)

    @cached_property
    def _addressed(self) -> frozenset[str]:
        return self._own | _handle_set(self.aliases)

    @cached_property
    def _lists(self) -> dict[str, frozenset[str]]:
        return {
            name: frozenset(normalize_handle(v) for v in getattr(self, name) if v.strip())
            for name in LISTS
        }

    @cached_property
    def _opt_out(self) -> tuple[frozenset[str], frozenset[str]]:
        entries = [e.strip() for e in self.opt_out if e.strip()]
        return frozenset(entries), _handle_set(entries)

    def opted_out(self, author: Author) -> bool:
        """True when ``author`` asked not to be monitored: by id exactly, or by handle.

        The handle is compared normalized against each entry's full and
        local-part forms, as own handles are (``@jo@social.example`` in the
        list matches ``jo@social.example`` and ``jo``).
        """
        ids, handles = self._opt_out
        if author.id in ids:
            return True
        return bool(author.handle) and normalize_handle(author.handle or "") in handles

    @cached_property
    def _derived(self) -> dict[str, Any]:
        return {}

    def derived(self, key: str, build: Callable[[Organisation], _T]) -> _T:
        """``build(self)``, computed once per profile and kept under ``key``.

        For what the processors derive from the profile on every post (the
        names people call us by, the sensitive-topic patterns): the model is
        frozen, so a derived value cannot go stale.
        """
        cache = self._derived
        if key not in cache:
            cache[key] = build(self)
        return cache[key]

    def own_handles(self) -> frozenset[str]:
        """Every own handle, normalized, across platforms (full and local-part forms)."""
        return self._own

    def addressed_handles(self) -> frozenset[str]:
        """Handles whose mention addresses us: our own plus the aliases (normalized)."""
        return self._addressed

    def listed(self, name: str) -> frozenset[str]:
        """A people list (``partners``, ``media``, ...) as normalized handles and names."""
        return self._lists[name]


def _handle_set(handles: Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    for handle in handles:
        h = normalize_handle(handle)
        out.add(h)
        out.add(h.split("@", 1)[0])
    return frozenset(out)


class Profile(BaseModel):
    """Top level of the YAML file (``organisation:``)."""

    model_config = ConfigDict(extra="forbid")

    organisation: Organisation


class ProfileError(ValueError):
    """A profile file that cannot be used, with one readable line per problem."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


MINIMAL_EXAMPLE: Final = "organisation: {name: Acme Council, accounts: {x: [AcmeCouncil]}}"
"""The smallest useful profile, in YAML flow style so that it fits on the error's line."""

_EXPECTED: Final = {
    "model_type": "expected a mapping (key: value lines)",
    "dict_type": "expected a mapping (key: value lines)",
    "list_type": "expected a list ([a, b] or lines starting with '- ')",
    "string_type": "expected text",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
}
"""Pydantic error types whose messages would name a Python type or an internal class."""


def _position(loc: Sequence[int | str]) -> str:
    """``organisation.accounts.x[2]``: list positions counted from 1, as people count lines."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _describe(value: Any) -> str:
    """What a YAML value is, in the file's terms rather than Python's."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"the number {value:g}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "something else"


def _model_at(loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model whose fields live at ``loc`` (walking list items), for "did you mean"."""
    model: type[BaseModel] | None = Profile
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        candidates = [annotation, *get_args(annotation)]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
    return model


def _unknown_field(loc: Sequence[int | str]) -> str:
    name = str(loc[-1])
    if len(loc) == 1 and name in Organisation.model_fields:
        return f"belongs under `organisation:`; indent it there ({MINIMAL_EXAMPLE})"
    model = _model_at(loc[:-1])
    hint = _suggestion(name, model.model_fields) if model is not None else ""
    return f"unknown field{hint or '; check its spelling or remove it'}"


def _problem(error: ErrorDetails) -> str:
    """One line for one validation error: where (counted from 1) and what to do."""
    loc = error["loc"]
    kind = error["type"]
    if kind == "extra_forbidden":
        message = _unknown_field(loc)
    elif kind == "missing":
        message = "required field is missing"
    elif kind in _EXPECTED:
        message = f"{_EXPECTED[kind]}, got {_describe(error.get('input'))}"
    elif kind == "value_error":
        message = error["msg"].removeprefix("Value error, ")
    else:
        message = error["msg"]
    return f"{_position(loc)}: {message}" if loc else message


def _no_organisation(data: Any) -> str:
    """The one problem of a file that does not start with ``organisation:``."""
    if data is None:
        why = " (it is empty)"
    elif not isinstance(data, dict):
        why = f" (it holds {_describe(data)})"
    else:
        misspelt = next((str(k) for k in data if did_you_mean(str(k), ["organisation"])), None)
        fields = [str(k) for k in data if k in Organisation.model_fields]
        if misspelt is not None:
            why = f" (found `{misspelt}:`)"
        elif fields:
            why = f" (found {', '.join(fields)} at the top level)"
        else:
            why = ""
    return (
        f"the file must start with `organisation:`{why}, with the organisation's fields "
        f"indented under it, e.g. {MINIMAL_EXAMPLE}"
    )


def parse_profile(data: Any, path: Path = Path("<profile>")) -> Organisation:
    """Validate a parsed YAML document and return the organisation.

    Every problem is one line that names the field as written in the file
    (positions from 1) and says what to do; none names a Python class.
    """
    if not isinstance(data, dict) or "organisation" not in data:
        raise ProfileError(path, [_no_organisation(data)])
    try:
        return Profile.model_validate(data).organisation
    except ValidationError as exc:
        raise ProfileError(path, [_problem(err) for err in exc.errors()]) from exc


def load_profile(path: Path) -> Organisation:
    """Read and validate a profile file; errors name the field and what to fix."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProfileError(path, ["file not found"]) from exc
    except yaml.YAMLError as exc:
        raise ProfileError(path, [f"not valid YAML: {exc}"]) from exc
    return parse_profile(data, path)


def summary(org: Organisation) -> list[tuple[str, str]]:
    """What ``profile check`` shows on success: the values in effect, defaults filled in.

    Why: a profile that validates can still score differently from what its
    author meant (a weight left out keeps its default), so the check shows
    the numbers the worker will use.
    """
    own = {platform: len(handles) for platform, handles in org.accounts.items()}
    accounts = ", ".join(
        f"{platform} {n}" + ("" if platform in PLATFORMS else " (webhook)")
        for platform, n in own.items()
    )
    weights = ", ".join(f"{name} {w:.2f}" for name, w in org.weights.items())
    weights_from = "" if "weights" in org.model_fields_set else ", the defaults"
    thresholds_from = "" if "thresholds" in org.model_fields_set else "the defaults; "
    return [
        ("accounts", accounts or "none: no post counts as ours"),
        ("weights", f"{weights} (sum {sum(org.weights.values()):.2f}{weights_from})"),
        (
            "thresholds",
            f"reply {org.thresholds.reply:.2f}, appreciate {org.thresholds.appreciate:.2f} "
            f"({thresholds_from}kept for older profiles: the action comes from the policy "
            "table, docs/joinability.md)",
        ),
        (
            "reply SLA",
            f"{org.reply_sla_minutes} minutes; people who write to us are {org.served_as}s",
        ),
    ]
