"""Machine-readable reason codes: one per prose reason, stable for the worked examples.

Subscribers count and route on ``joinability.reason_codes`` (docs/consumers.md),
so a code that changes silently breaks them even when the prose still reads
well; these golden lists catch that. The worked examples come from
tests/processors/test_enrich.py (docs/joinability.md).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from processors.entities import EntityExtractor
from processors.joinability import _SENTENCES, PENALTIES, POSITIVE
from schemas.models import COMPONENT_NAMES, EnrichedPost


def _test_enrich() -> ModuleType:
    """tests/processors/test_enrich.py by path (tests are not a package: importlib mode)."""
    name = "_townsquare_test_enrich_examples"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).with_name("test_enrich.py")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


EXPECTED: dict[str, list[str]] = {
    "x:a1": ["rule.help", "component.invitation", "component.relevance", "component.openness"],
    "x:b4": [
        "rule.default",
        "component.relevance",
        "component.freshness",
        "component.openness",
        "low.share_of_voice",
    ],
    "x:c1": [
        "rule.help",
        "component.invitation",
        "component.relevance",
        "component.openness",
        "penalty.sensitivity.grief",
    ],
    "x:d1": ["rule.escalate", "component.invitation", "component.relevance", "component.openness"],
    "x:e1": ["rule.praise", "component.relevance", "component.invitation", "component.openness"],
    "x:f1": ["rule.help", "component.relevance", "component.invitation", "component.openness"],
    "x:g1": ["rule.news", "component.relevance", "component.openness", "component.freshness"],
    "x:h1": [
        "rule.help",
        "component.invitation",
        "component.relevance",
        "component.openness",
        "penalty.sensitivity.minors",
    ],
    "x:i1": [
        "rule.personal",
        "component.relevance",
        "component.openness",
        "component.freshness",
        "penalty.sensitivity.grief",
    ],
    "x:j1": [
        "rule.hostile",
        "component.invitation",
        "component.relevance",
        "component.openness",
        "penalty.hostility.abuse",
    ],
    "x:k1": [
        "rule.spam",
        "component.invitation",
        "component.relevance",
        "component.openness",
        "penalty.spam.spam",
    ],
    "x:l1": [
        "rule.sensitive_topic",
        "component.relevance",
        "component.openness",
        "component.freshness",
        "penalty.sensitivity.politics",
    ],
    "x:m1": ["rule.escalate", "component.invitation", "component.relevance", "component.openness"],
    "x:n1": ["rule.escalate", "component.relevance", "component.invitation", "component.openness"],
    "x:o1": ["rule.help", "component.invitation", "component.relevance", "component.openness"],
}

_CODE = re.compile(r"^(rule|component|low|penalty)\.[a-z_]+(\.[a-z_]+)?$")


@pytest.fixture(scope="module")
def examples(plain_extractor: EntityExtractor) -> dict[str, EnrichedPost]:
    return {p.id: p for p in _test_enrich().worked_examples(plain_extractor)}


def test_every_worked_example_is_covered() -> None:
    assert set(EXPECTED) == set(_test_enrich().EXAMPLES)


@pytest.mark.parametrize("pid", sorted(EXPECTED))
def test_reason_codes_are_stable_for_the_worked_examples(
    examples: dict[str, EnrichedPost], pid: str
) -> None:
    assert examples[pid].joinability.reason_codes == EXPECTED[pid]


@pytest.mark.parametrize("pid", sorted(EXPECTED))
def test_one_code_per_reason_in_the_same_order(examples: dict[str, EnrichedPost], pid: str) -> None:
    j = examples[pid].joinability
    assert len(j.reason_codes) == len(j.reasons)
    assert all(_CODE.match(code) for code in j.reason_codes), j.reason_codes
    # the first reason names the policy rule in prose; its code names the same rule
    rule = j.reason_codes[0].removeprefix("rule.")
    assert j.reasons[0].endswith(f"[rule: {rule}]")
    for code, reason in zip(j.reason_codes[1:], j.reasons[1:], strict=True):
        family, _, name = code.partition(".")
        if family == "component":
            assert reason.startswith(f"{_SENTENCES[name]} ("), (code, reason)
        if family == "low":
            assert reason.startswith(f"Low {name.replace('_', ' ')} (")


def test_component_names_in_the_schema_are_the_scored_ones() -> None:
    assert COMPONENT_NAMES == POSITIVE + PENALTIES
