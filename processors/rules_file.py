"""The alert rules file: its shape, shared by every part of the alert stage.

A YAML file (``TOWNSQUARE_RULES_PATH``; unset means the default rules that
ship in ``processors/default_rules.yaml``) with four sections::

    rules:              # conditions over an enriched post and its reading
      - name: reply-now
        when: {and: [{field: joinability.action, eq: reply},
                     {field: joinability.score, gte: 0.7}]}
        severity: warning
        throttle: 30m     # at most one alert per conversation per window
        outputs: [oncall] # names in TOWNSQUARE_ALERT_WEBHOOKS
    spikes:             # posts about an entity, hashtag or topic well above their baseline
      - name: spike
        on: [entity, hashtag, topic]
        window: 1h
        baseline: 12h
        min_count: 10
        factor: 3.0
        cooldown: 6h
    reply_deadlines:    # posts waiting for our reply past the profile's reply_sla_minutes
      severity: warning
      escalated_severity: critical
    silence:            # a source that delivered nothing for longer than its usual gap
      factor: 3.0
      min_gap: 30m

Conditions are data, never code: a comparison (``eq``, ``ne``, ``gt``,
``gte``, ``lt``, ``lte``), ``in`` (the field's value is one of a list),
``contains`` (the field, a list or a string, contains the value), combined
with ``and``, ``or`` (lists) and ``not`` (one condition). This module holds
the shapes and duration parsing; evaluation lives with the rules engine.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from schemas.models import Severity

__all__ = [
    "Condition",
    "DeadlineConfig",
    "Duration",
    "Rule",
    "RulesFile",
    "SilenceConfig",
    "SpikeRule",
    "parse_duration",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(value: Any) -> timedelta:
    """``"30m"``, ``"1h"``, ``"7d"``, ``"45s"`` (or seconds as a number) -> a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=float(value))
    match = _DURATION.match(str(value))
    if match is None:
        raise ValueError(f"{value!r} is not a duration; write e.g. 45s, 30m, 1h or 7d")
    return timedelta(**{_UNIT[match.group(2)]: float(match.group(1))})


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda d: f"{int(d.total_seconds())}s", return_type=str),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Scalar = str | int | float | bool


class Condition(_Strict):
    """One node of a condition: exactly one of a comparison on ``field`` or a combinator."""

    field: str | None = None
    eq: Scalar | None = None
    ne: Scalar | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    contains: Scalar | None = None
    and_: list[Condition] | None = Field(default=None, alias="and")
    or_: list[Condition] | None = Field(default=None, alias="or")
    not_: Condition | None = Field(default=None, alias="not")


class Rule(_Strict):
    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    when: Condition
    severity: Severity = "warning"
    throttle: Duration = timedelta(minutes=30)
    outputs: list[str] = Field(default_factory=list)
    description: str = ""


SpikeKey = Literal["entity", "hashtag", "topic"]
SPIKE_KEYS: tuple[SpikeKey, ...] = ("entity", "hashtag", "topic")


class SpikeRule(_Strict):
    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    on: list[SpikeKey] = Field(default_factory=lambda: list(SPIKE_KEYS))
    window: Duration = timedelta(hours=1)
    baseline: Duration = timedelta(hours=12)
    min_count: int = Field(default=10, ge=1)
    factor: float = Field(default=3.0, gt=1.0)
    cooldown: Duration = timedelta(hours=6)
    severity: Severity = "warning"
    outputs: list[str] = Field(default_factory=list)


class DeadlineConfig(_Strict):
    enabled: bool = True
    severity: Severity = "warning"
    escalated_severity: Severity = "critical"
    outputs: list[str] = Field(default_factory=list)


class SilenceConfig(_Strict):
    enabled: bool = True
    factor: float = Field(default=3.0, gt=1.0)
    min_gap: Duration = timedelta(minutes=30)
    severity: Severity = "warning"
    outputs: list[str] = Field(default_factory=list)


class RulesFile(_Strict):
    rules: list[Rule] = Field(default_factory=list)
    spikes: list[SpikeRule] = Field(default_factory=list)
    reply_deadlines: DeadlineConfig = Field(default_factory=DeadlineConfig)
    silence: SilenceConfig = Field(default_factory=SilenceConfig)
