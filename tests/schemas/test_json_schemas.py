"""Published JSON Schemas must match the models they are generated from.

They are the subscribers' contract (docs/consumers.md): one file per model and
one combined file per topic (``topics/``), open to unknown properties so a
consumer pinned to an older minor version keeps validating newer messages.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest

from schemas.export import JSON_DIR, TOPIC_CONTRACTS, render_schemas
from schemas.models import (
    COMPONENT_NAMES,
    SCHEMA_VERSION,
    Alert,
    Author,
    CanonicalPost,
    ConversationView,
    DeadLetter,
    EnrichedPost,
    Joinability,
    PostDeleted,
)

_T = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("file_name", sorted(render_schemas()))
def test_committed_schema_matches_the_model(file_name: str) -> None:
    committed = JSON_DIR / file_name
    assert committed.exists(), f"{committed} missing: run `townsquare schemas export`"
    assert committed.read_text(encoding="utf-8") == render_schemas()[file_name], (
        f"{file_name} drifted from the model: run `townsquare schemas export`, bump "
        "SCHEMA_VERSION and add a line to schemas/CHANGELOG.md"
    )


def test_no_stale_schema_files() -> None:
    committed = {p.relative_to(JSON_DIR).as_posix() for p in JSON_DIR.rglob("*.json")}
    assert committed == set(render_schemas())


def test_changelog_names_the_current_version() -> None:
    changelog = (JSON_DIR.parent / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {SCHEMA_VERSION}" in changelog


def test_canonical_schema_requires_what_the_model_requires() -> None:
    schema = json.loads(render_schemas()["canonical_post.schema.json"])
    assert {"id", "platform", "created_at", "author", "conversation_id"} <= set(schema["required"])
    assert "additionalProperties" not in schema  # forward-compatible: see below
    CanonicalPost.model_validate(
        {
            "id": "x:1",
            "platform": "x",
            "created_at": "2026-01-01T00:00:00Z",
            "author": {"id": "x:a"},
            "conversation_id": "x:1",
        }
    )


def test_every_enriched_post_field_is_mapped_in_the_posts_template() -> None:
    """``dynamic: strict`` refuses unmapped fields, so the model and the mapping must agree."""
    from schemas.models import EnrichedPost
    from streams.es.indices import load_template

    props = load_template("posts")["template"]["mappings"]["properties"]
    assert set(EnrichedPost.model_fields) | {"stakeholder_labels", "indexed_at"} == set(props)
    for name in ("author", "conversation", "metrics", "sensitivity", "in_reply_to"):
        model = EnrichedPost.model_fields[name].annotation
        nested = getattr(model, "model_fields", None)
        if nested is None:  # Optional[...]: take the model inside
            nested = next(a for a in model.__args__ if hasattr(a, "model_fields")).model_fields  # type: ignore[union-attr]
        assert set(nested) == set(props[name]["properties"]), name


# --- the subscribers' contract -------------------------------------------------


def _published(path: str) -> dict[str, Any]:
    """A committed schema file (what subscribers actually download)."""
    return json.loads((JSON_DIR / path).read_text(encoding="utf-8"))


def _validator(path: str) -> jsonschema.protocols.Validator:
    schema = _published(path)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _enriched(**update: Any) -> dict[str, Any]:
    post = EnrichedPost(
        id="x:1",
        platform="x",
        created_at=_T,
        author=Author(id="x:a"),
        conversation_id="x:1",
        joinability=Joinability(
            score=0.5,
            action="reply",
            components=dict.fromkeys(COMPONENT_NAMES, 0.5),
            reasons=["A question to us: answer it. [rule: help]"],
            reason_codes=["rule.help"],
        ),
        **update,
    )
    return post.model_dump(mode="json")


def _deleted() -> dict[str, Any]:
    return PostDeleted(id="x:1", platform="x", conversation_id="x:1", deleted_at=_T).model_dump(
        mode="json"
    )


def _has_closed_object(node: Any) -> bool:
    """True when some object in ``node`` still says ``additionalProperties: false``."""
    if isinstance(node, dict):
        if node.get("additionalProperties") is False:
            return True
        return any(_has_closed_object(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_closed_object(v) for v in node)
    return False


@pytest.mark.parametrize("file_name", sorted(render_schemas()))
def test_published_schemas_allow_unknown_properties(file_name: str) -> None:
    assert not _has_closed_object(_published(file_name)), file_name


def test_the_models_stay_strict_in_our_own_code() -> None:
    with pytest.raises(ValueError):
        EnrichedPost.model_validate({**_enriched(), "surprise": 1})


def test_every_subscribed_topic_has_a_combined_schema() -> None:
    topics = {c.topic for c in TOPIC_CONTRACTS}
    assert topics == {"posts.enriched", "conversations.state", "alerts", "posts.dlq"}
    for topic in topics:
        schema = _published(f"topics/{topic}.schema.json")
        assert schema["x-schema-version"] == SCHEMA_VERSION
        assert schema["x-topic"]["name"].endswith(f"{topic}.{{TOWNSQUARE_TOPIC_VERSION}}")
        assert set(schema["x-topic"]["headers"]) == {
            "townsquare-schema-version",
            "townsquare-kind",
        }


def test_posts_enriched_is_discriminated_on_kind() -> None:
    schema = _published("topics/posts.enriched.schema.json")
    assert schema["discriminator"] == {
        "propertyName": "kind",
        "mapping": {
            "delete": "#/$defs/PostDeleted",
            "edit": "#/$defs/EnrichedPost",
            "post": "#/$defs/EnrichedPost",
        },
    }
    validator = _validator("topics/posts.enriched.schema.json")
    for value in (_enriched(), _enriched(kind="edit"), _deleted()):
        validator.validate(value)
    # exactly one branch matches each shape
    for value, branch in ((_enriched(), 0), (_deleted(), 1)):
        matches = [
            i
            for i, sub in enumerate(schema["oneOf"])
            if jsonschema.Draft202012Validator({**sub, "$defs": schema["$defs"]}).is_valid(value)
        ]
        assert matches == [branch]
    # an enriched body that calls itself a delete is neither shape
    assert not validator.is_valid({**_enriched(), "kind": "delete"})
    assert not validator.is_valid({**_deleted(), "kind": "post"})


def test_enriched_post_kind_excludes_delete() -> None:
    for path in ("enriched_post.schema.json", "topics/posts.enriched.schema.json"):
        schema = _published(path)
        model = schema["$defs"]["EnrichedPost"] if "oneOf" in schema else schema
        props = model["properties"]
        assert props["kind"]["enum"] == ["post", "edit"], path
    with pytest.raises(ValueError):
        EnrichedPost.model_validate({**_enriched(), "kind": "delete"})
    # canonical posts still carry deletes through the pipeline
    assert "delete" in _published("canonical_post.schema.json")["properties"]["kind"]["enum"]


def test_a_newer_minor_message_with_an_extra_field_validates() -> None:
    """A 1.3.0 consumer must accept what a later 1.x producer adds (the changelog's promise)."""
    newer = {**_enriched(), "schema_version": "1.3.0", "brand_new_field": {"any": "thing"}}
    newer["joinability"] = {**newer["joinability"], "another_new_one": [1, 2]}
    newer["author"] = {**newer["author"], "pronouns": "they"}
    _validator("topics/posts.enriched.schema.json").validate(newer)
    _validator("enriched_post.schema.json").validate(newer)
    tomb = {**_deleted(), "schema_version": "1.3.0", "reason": "user"}
    _validator("topics/posts.enriched.schema.json").validate(tomb)


def test_other_topics_validate_what_we_publish() -> None:
    view = ConversationView(conversation_id="x:1", platform="x", updated_at=_T)
    states = _validator("topics/conversations.state.schema.json")
    states.validate(view.model_dump(mode="json"))
    states.validate(None)  # a tombstone on the compacted topic
    alert = Alert(
        id="a1", kind="rule", rule="reply-now", severity="info", created_at=_T, summary="s"
    )
    alerts = _validator("topics/alerts.schema.json")
    alerts.validate(alert.model_dump(mode="json"))
    assert not alerts.is_valid({**alert.model_dump(mode="json"), "kind": "nonsense"})
    letter = DeadLetter(
        stage="enrich", reason="bad_json", error="e", payload="{", payload_size=1, failed_at=_T
    )
    _validator("topics/posts.dlq.schema.json").validate(letter.model_dump(mode="json"))


def test_joinability_lists_its_component_names_and_reason_codes() -> None:
    joinability = _published("enriched_post.schema.json")["$defs"]["Joinability"]
    components = joinability["properties"]["components"]
    assert components["x-component-names"] == list(COMPONENT_NAMES)
    assert set(components["properties"]) == set(COMPONENT_NAMES)
    assert joinability["properties"]["reason_codes"]["items"] == {"type": "string"}


def test_reason_codes_are_mapped_as_keywords_in_the_posts_template() -> None:
    from streams.es.indices import load_template

    props = load_template("posts")["template"]["mappings"]["properties"]
    assert props["joinability"]["properties"]["reason_codes"]["type"] == "keyword"
