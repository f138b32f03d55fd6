"""The shipped Kibana saved objects import cleanly and only use fields the index templates map.

Kibana accepts a broken saved object at import time and fails only when an analyst
opens it, so everything that can break is checked here: the NDJSON shape, the
JSON-in-string attributes, every KQL query, every reference, every field.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deploy.kibana_kql import KqlSyntaxError, parse_kql
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
NDJSON = ROOT / "deploy" / "kibana" / "townsquare.ndjson"
TEMPLATES = ROOT / "schemas" / "elasticsearch"

# Attributes Kibana stores as JSON strings.
STRINGIFIED = {
    "visState",
    "uiStateJSON",
    "panelsJSON",
    "optionsJSON",
    "fieldFormatMap",
    "fieldAttrs",
}
REQUIRED_SEARCHES = {
    "Joinable now",
    "Awaiting our reply",
    "Waiting for us",
    "Media and influencers",
    "Sensitive — listen only",
}


def load_objects() -> list[dict[str, Any]]:
    lines = NDJSON.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def flatten_mapping(properties: dict[str, Any], prefix: str = "") -> set[str]:
    """Every field path of a mapping, multi-fields (``text.std``) and object paths included."""
    paths: set[str] = set()
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        paths.add(path)
        for sub in spec.get("fields", {}):
            paths.add(f"{path}.{sub}")
        if "properties" in spec:
            paths |= flatten_mapping(spec["properties"], f"{path}.")
    return paths


def template_fields(name: str) -> tuple[set[str], list[str]]:
    """Mapped paths and dynamic path patterns (``joinability.components.*``) of a template."""
    mappings = json.loads((TEMPLATES / f"{name}.template.json").read_text())["template"]["mappings"]
    patterns = [
        spec["path_match"]
        for template in mappings.get("dynamic_templates", [])
        for spec in template.values()
    ]
    return flatten_mapping(mappings["properties"]), patterns


def index_fields() -> dict[str, tuple[set[str], list[str]]]:
    return {
        "townsquare-posts": template_fields("posts"),
        "townsquare-alerts": template_fields("alerts"),
        "townsquare-conversations": template_fields("conversations"),
    }


def field_exists(name: str, mapped: set[str], patterns: list[str]) -> bool:
    return name in mapped or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def parsed(obj: dict[str, Any], attribute: str) -> Any:
    return json.loads(obj["attributes"][attribute])


def search_source(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["attributes"].get("kibanaSavedObjectMeta", {})
    return json.loads(meta["searchSourceJSON"]) if "searchSourceJSON" in meta else {}


def data_view_of(obj: dict[str, Any]) -> str | None:
    for ref in obj["references"]:
        if ref["type"] == "index-pattern":
            return str(ref["id"])
    return None


def kql_queries(obj: dict[str, Any]) -> Iterator[str]:
    """Every KQL string of an object: its search source and any filters aggregation."""
    query = search_source(obj).get("query")
    if query is not None:
        assert query["language"] == "kuery", obj["id"]
        yield query["query"]
    if obj["type"] == "visualization":
        for agg in parsed(obj, "visState").get("aggs", []):
            for item in agg.get("params", {}).get("filters", []):
                assert item["input"]["language"] == "kuery", obj["id"]
                yield item["input"]["query"]


def find_key(value: Any, key: str) -> Iterator[Any]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key:
                yield v
            yield from find_key(v, key)
    elif isinstance(value, list):
        for item in value:
            yield from find_key(item, key)


def used_fields(obj: dict[str, Any]) -> set[str]:
    """Field names an object refers to outside KQL: columns, sort, aggregations, Vega bodies."""
    attrs = obj["attributes"]
    names: set[str] = set()
    if obj["type"] == "index-pattern":
        if "timeFieldName" in attrs:
            names.add(attrs["timeFieldName"])
        names |= set(parsed(obj, "fieldFormatMap")) if "fieldFormatMap" in attrs else set()
        names |= set(parsed(obj, "fieldAttrs")) if "fieldAttrs" in attrs else set()
    if obj["type"] == "search":
        names |= set(attrs["columns"])
        names |= {column for column, _direction in attrs["sort"]}
    if obj["type"] == "visualization":
        state = parsed(obj, "visState")
        for agg in state.get("aggs", []):
            if "field" in agg.get("params", {}):
                names.add(agg["params"]["field"])
        if state["type"] == "vega":
            spec = json.loads(state["params"]["spec"])
            url = spec["data"]["url"]
            names.add(url["%timefield%"])
            names |= set(find_key(url["body"], "field"))
            names |= set(find_key(url["body"], "path"))
    return names


def vega_index(obj: dict[str, Any]) -> str | None:
    if obj["type"] != "visualization":
        return None
    state = parsed(obj, "visState")
    if state["type"] != "vega":
        return None
    return str(json.loads(state["params"]["spec"])["data"]["url"]["index"])


# --- tests -----------------------------------------------------------------------------


def test_every_line_is_a_saved_object() -> None:
    objects = load_objects()
    assert objects, "no saved objects"
    for obj in objects:
        assert {"type", "id", "attributes", "references"} <= obj.keys()
        assert isinstance(obj["attributes"], dict)
        assert obj["attributes"].get("title"), obj["id"]
    ids = [(o["type"], o["id"]) for o in objects]
    assert len(ids) == len(set(ids)), "duplicate saved object ids"


def test_stringified_json_attributes_parse() -> None:
    for obj in load_objects():
        for name in STRINGIFIED & obj["attributes"].keys():
            assert isinstance(obj["attributes"][name], str), (obj["id"], name)
            json.loads(obj["attributes"][name])
        search_source(obj)
        if obj["type"] == "visualization" and parsed(obj, "visState")["type"] == "vega":
            json.loads(parsed(obj, "visState")["params"]["spec"])


def test_data_views() -> None:
    views = {o["id"]: o["attributes"] for o in load_objects() if o["type"] == "index-pattern"}
    assert views["townsquare-posts"]["title"] == "townsquare-posts*"
    assert views["townsquare-alerts"]["title"] == "townsquare-alerts*"
    assert views["townsquare-conversations"]["title"] == "townsquare-conversations*"
    for name in ("townsquare-posts", "townsquare-alerts"):
        assert views[name]["timeFieldName"] == "created_at"
    # A thread's document is its state now, not an event: a time field would let the
    # dashboard's time picker hide the threads that have waited longest.
    assert "timeFieldName" not in views["townsquare-conversations"]
    # The data view patterns must match the indices behind the write aliases.
    for view_id, view in views.items():
        assert fnmatch.fnmatchcase(f"{view_id}-000001", view["title"])


def test_required_saved_searches_exist_with_their_queries() -> None:
    searches = {
        o["attributes"]["title"]: search_source(o)["query"]["query"]
        for o in load_objects()
        if o["type"] == "search"
    }
    assert set(searches) >= REQUIRED_SEARCHES
    assert "joinability.action" in parse_kql(searches["Joinable now"])
    assert "joinability.score" in parse_kql(searches["Joinable now"])
    assert parse_kql(searches["Awaiting our reply"]) == {"awaiting_org_reply"}
    assert parse_kql(searches["Waiting for us"]) == {"awaiting_org_reply"}
    assert parse_kql(searches["Media and influencers"]) == {"stakeholder_labels"}
    assert parse_kql(searches["Sensitive — listen only"]) == {
        "sensitivity.flags",
        "joinability.action",
    }


def _object(object_id: str) -> dict[str, Any]:
    return next(o for o in load_objects() if o["id"] == object_id)


def test_waiting_for_us_lists_threads_oldest_wait_first_with_its_columns() -> None:
    waiting = _object("townsquare-waiting-for-us")
    attrs = waiting["attributes"]
    assert attrs["title"] == "Waiting for us"
    assert search_source(waiting)["query"]["query"] == "awaiting_org_reply:true"
    assert attrs["sort"] == [["awaiting_since", "asc"]]
    assert attrs["columns"] == [
        "last_post.handle",
        "last_post.text",
        "awaiting_since",
        "posts",
        "last_action",
    ]
    assert data_view_of(waiting) == "townsquare-conversations"
    [dashboard] = [o for o in load_objects() if o["type"] == "dashboard"]
    assert {"type": "search", "id": "townsquare-waiting-for-us"} in [
        {"type": r["type"], "id": r["id"]} for r in dashboard["references"]
    ]


def test_awaiting_our_reply_everywhere_reads_the_current_state_of_threads() -> None:
    """One meaning of "awaiting": threads waiting now, never posts flagged when they arrived."""
    for object_id in (
        "townsquare-awaiting-reply",
        "townsquare-waiting-for-us",
        "townsquare-vis-awaiting-age",
    ):
        assert data_view_of(_object(object_id)) == "townsquare-conversations", object_id
    for obj in load_objects():
        fields = used_fields(obj) | {f for q in kql_queries(obj) for f in parse_kql(q)}
        assert not {f for f in fields if f.startswith("conversation.awaiting")}, obj["id"]


def test_every_kql_query_parses() -> None:
    count = 0
    for obj in load_objects():
        for query in kql_queries(obj):
            parse_kql(query)
            count += 1
    assert count >= 6


def test_references_resolve() -> None:
    objects = load_objects()
    known = {(o["type"], o["id"]) for o in objects}
    for obj in objects:
        names = [ref["name"] for ref in obj["references"]]
        assert len(names) == len(set(names)), obj["id"]
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in known, (obj["id"], ref)
        source = search_source(obj)
        if "indexRefName" in source:
            assert source["indexRefName"] in names, obj["id"]
        if obj["type"] == "dashboard":
            panels = parsed(obj, "panelsJSON")
            assert panels
            assert {p["panelRefName"] for p in panels} == set(names)
            assert len({p["panelIndex"] for p in panels}) == len(panels)


def test_dashboard_shows_every_visualisation() -> None:
    objects = load_objects()
    dashboards = [o for o in objects if o["type"] == "dashboard"]
    assert len(dashboards) == 1
    shown = {ref["id"] for ref in dashboards[0]["references"]}
    visualisations = {o["id"] for o in objects if o["type"] == "visualization"}
    assert len(visualisations) >= 6
    assert visualisations <= shown


def test_every_field_exists_in_the_index_template() -> None:
    mappings = index_fields()
    checked = 0
    for obj in load_objects():
        view = (
            data_view_of(obj)
            or vega_index(obj)
            or (obj["id"] if obj["type"] == "index-pattern" else None)
        )
        names = used_fields(obj) | {f for q in kql_queries(obj) for f in parse_kql(q)}
        if not names:
            continue
        assert view is not None, f"{obj['id']} uses fields but names no data view"
        mapped, patterns = mappings[view.rstrip("*")]
        for name in names:
            assert field_exists(name, mapped, patterns), f"{obj['id']}: {name} not in {view}"
            checked += 1
    assert checked >= 20


def test_field_check_knows_nested_and_dynamic_fields() -> None:
    mapped, patterns = index_fields()["townsquare-posts"]
    for name in ("entities.text.raw", "stakeholders.label", "stakeholder_labels", "indexed_at"):
        assert field_exists(name, mapped, patterns)
    assert field_exists("joinability.components.invitation", mapped, patterns)
    assert not field_exists("joinability.nonsense", mapped, patterns)
    assert not field_exists("conversation.org_posts", mapped, patterns)


# --- the KQL parser itself -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("", set()),
        ("conversation.awaiting_org_reply:true", {"conversation.awaiting_org_reply"}),
        ("stakeholder_labels:(media or influencer)", {"stakeholder_labels"}),
        (
            "sensitivity.flags:* or joinability.action:listen_only",
            {"sensitivity.flags", "joinability.action"},
        ),
        ('text:"my order" and not lang:en', {"text", "lang"}),
        ("joinability.score >= 0.7 and created_at < now-1d", {"joinability.score", "created_at"}),
        ("entities:{ label:ORG and text.raw:Acme* }", {"entities.label", "entities.text.raw"}),
        ("(a:1 or b:2) and not (c:3)", {"a", "b", "c"}),
        ("refund", set()),
        ("author.handle:acme\\:support", {"author.handle"}),
    ],
)
def test_kql_accepts(query: str, fields: set[str]) -> None:
    found = parse_kql(query)
    assert {f for f in found if f != "entities"} == fields


@pytest.mark.parametrize(
    "query",
    [
        "a:(b or",
        "a:1 and",
        "(a:1",
        "a:1)",
        "a >= ",
        'a:"unterminated',
        "or a:1",
        "a:{ b:1",
        "a:1 b:2 c:",
    ],
)
def test_kql_rejects(query: str) -> None:
    with pytest.raises(KqlSyntaxError):
        parse_kql(query)


_KEYWORDS = {"and", "or", "not"}
# A bare keyword is not a field name in KQL (Kibana refuses `or:0` too).
_FIELD = st.from_regex(
    re.compile(r"[a-z][a-z_]{0,8}(\.[a-z][a-z_]{0,8}){0,2}"), fullmatch=True
).filter(lambda f: f not in _KEYWORDS)
_VALUE = st.one_of(
    st.from_regex(re.compile(r"[A-Za-z0-9_*@#-]{1,10}"), fullmatch=True).filter(
        lambda v: v.lower() not in _KEYWORDS
    ),
    st.text(st.characters(exclude_characters='"\\', codec="utf-8"), max_size=12).map(
        lambda s: f'"{s}"'
    ),
)


@st.composite
def _queries(draw: st.DrawFn, depth: int = 0) -> tuple[str, set[str]]:
    kind = draw(
        st.sampled_from(
            ["term", "range", "group", "bool", "not"] if depth < 3 else ["term", "range"]
        )
    )
    if kind == "term":
        name = draw(_FIELD)
        values = draw(st.lists(_VALUE, min_size=1, max_size=3))
        value = values[0] if len(values) == 1 else "(" + " or ".join(values) + ")"
        return f"{name}:{value}", {name}
    if kind == "range":
        name = draw(_FIELD)
        op = draw(st.sampled_from(["<", "<=", ">", ">="]))
        return f"{name} {op} {draw(_VALUE)}", {name}
    if kind == "not":
        inner, names = draw(_queries(depth + 1))
        return f"not ({inner})", names
    if kind == "group":
        inner, names = draw(_queries(depth + 1))
        return f"({inner})", names
    left, lnames = draw(_queries(depth + 1))
    right, rnames = draw(_queries(depth + 1))
    op = draw(st.sampled_from(["and", "or", "AND", "Or"]))
    return f"{left} {op} {right}", lnames | rnames


@given(_queries())
def test_kql_parses_generated_queries_and_finds_their_fields(case: tuple[str, set[str]]) -> None:
    query, names = case
    assert parse_kql(query) == names


@given(_queries())
def test_kql_rejects_generated_queries_with_a_dropped_closing_paren(
    case: tuple[str, set[str]],
) -> None:
    query, _names = case
    with pytest.raises(KqlSyntaxError):
        parse_kql(f"({query}")
