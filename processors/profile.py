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

from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from schemas.models import Author

DEFAULT_WEIGHTS: dict[str, float] = {
    "relevance": 0.25,
    "invitation": 0.30,
    "engagement": 0.15,
    "openness": 0.10,
    "freshness": 0.10,
    "share_of_voice": 0.10,
}
"""Positive components add up to 1; penalties (sensitivity, hostility, spam) multiply."""


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

    @field_validator("weights")
    @classmethod
    def _known_weights(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(DEFAULT_WEIGHTS))
        if unknown:
            raise ValueError(
                f"unknown weight(s) {unknown}; known components: {sorted(DEFAULT_WEIGHTS)}"
            )
        if any(w < 0 for w in value.values()):
            raise ValueError("weights must not be negative")
        return {**DEFAULT_WEIGHTS, **value}

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


_FRIENDLY = {
    "extra_forbidden": "unknown field; check its spelling or remove it",
    "missing": "required field is missing",
}


def parse_profile(data: Any, path: Path = Path("<profile>")) -> Organisation:
    """Validate a parsed YAML document and return the organisation."""
    try:
        return Profile.model_validate(data).organisation
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc'])}: {_FRIENDLY.get(err['type'], err['msg'])}"
            for err in exc.errors()
        ]
        raise ProfileError(path, problems) from exc


def load_profile(path: Path) -> Organisation:
    """Read and validate a profile file; errors name the field and what to fix."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProfileError(path, ["file not found"]) from exc
    except yaml.YAMLError as exc:
        raise ProfileError(path, [f"not valid YAML: {exc}"]) from exc
    return parse_profile(data, path)
