"""The Go consumer example reads only what the published posts.enriched schema promises.

Go is not installed where the tests run, so the example is parsed, not built:
every ``json:"..."`` tag of its structs must name a property of the matching
definition in schemas/json/topics/posts.enriched.schema.json (following
nested structs to their own definitions), and the kinds and headers it
switches on must be the schema's. A renamed or removed field then fails here
before a subscriber finds out.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "consumer-go" / "main.go"
SCHEMA = ROOT / "schemas" / "json" / "topics" / "posts.enriched.schema.json"

_STRUCT = re.compile(r"^type (\w+) struct \{\n(.*?)^\}", re.M | re.S)
_FIELD = re.compile(r"^\s*(\w+)\s+([\w\[\]*.]+(?:\[\w+\]\w+)?)\s+`json:\"([^\",]+)[^`]*`", re.M)
_ROOTS = {"EnrichedPost": "EnrichedPost", "PostDeleted": "PostDeleted"}


def structs(source: str) -> dict[str, dict[str, str]]:
    """Go struct name -> {json name: Go type} for every top-level struct of the file."""
    out: dict[str, dict[str, str]] = {}
    for match in _STRUCT.finditer(source):
        out[match.group(1)] = {tag: typ for _, typ, tag in _FIELD.findall(match.group(2))}
    return out


def _ref(prop: dict[str, Any]) -> str | None:
    """The ``$defs`` name a property points to (directly or through ``anyOf`` with null)."""
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    for option in prop.get("anyOf", []):
        if "$ref" in option:
            return str(option["$ref"]).rsplit("/", 1)[-1]
    return None


def missing(
    go: dict[str, dict[str, str]], defs: dict[str, Any], struct: str, definition: str
) -> list[str]:
    """Tags of ``struct`` (and the structs it nests) that ``definition`` does not have."""
    problems = []
    properties = defs[definition]["properties"]
    for tag, typ in go[struct].items():
        if tag not in properties:
            problems.append(f"{struct}.{tag} not in {definition}")
            continue
        nested = typ.lstrip("*")
        if nested in go:
            target = _ref(properties[tag])
            if target is None:
                problems.append(f"{struct}.{tag} is an object in Go but not in the schema")
            else:
                problems.extend(missing(go, defs, nested, target))
    return problems


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def source() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


def test_the_parser_finds_the_examples_structs(source: str) -> None:
    go = structs(source)
    assert {"EnrichedPost", "PostDeleted", "Joinability", "Author"} <= set(go)
    assert go["Joinability"]["reason_codes"] == "[]string"
    assert go["EnrichedPost"]["joinability"] == "Joinability"


def test_every_json_tag_is_a_published_field(source: str, schema: dict[str, Any]) -> None:
    go = structs(source)
    problems = [p for s, d in _ROOTS.items() for p in missing(go, schema["$defs"], s, d)]
    assert problems == []


def test_a_renamed_field_would_fail(schema: dict[str, Any]) -> None:
    go = {"EnrichedPost": {"kind": "string", "joinabilty": "string"}}
    assert missing(go, schema["$defs"], "EnrichedPost", "EnrichedPost") == [
        "EnrichedPost.joinabilty not in EnrichedPost"
    ]


def test_the_kinds_and_headers_it_switches_on_are_the_schemas(
    source: str, schema: dict[str, Any]
) -> None:
    groups = re.findall(r"case ([^:]+):", source)
    cases = {kind for group in groups for kind in re.findall(r'"(\w+)"', group)}
    assert cases == set(schema["x-kinds"])
    headers = set(re.findall(r'header\(m, "([\w-]+)"\)', source))
    assert headers == set(schema["x-topic"]["headers"])


def test_it_ignores_unknown_fields(source: str) -> None:
    """encoding/json ignores unknown fields unless told otherwise: keep it that way."""
    assert "DisallowUnknownFields" not in source
