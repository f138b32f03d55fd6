"""Published JSON Schemas must match the models they are generated from."""

from __future__ import annotations

import json

import pytest

from schemas.export import JSON_DIR, render_schemas
from schemas.models import SCHEMA_VERSION, CanonicalPost


@pytest.mark.parametrize("file_name", sorted(render_schemas()))
def test_committed_schema_matches_the_model(file_name: str) -> None:
    committed = JSON_DIR / file_name
    assert committed.exists(), f"{committed} missing: run `townsquare schemas export`"
    assert committed.read_text(encoding="utf-8") == render_schemas()[file_name], (
        f"{file_name} drifted from the model: run `townsquare schemas export`, bump "
        "SCHEMA_VERSION and add a line to schemas/CHANGELOG.md"
    )


def test_no_stale_schema_files() -> None:
    assert {p.name for p in JSON_DIR.glob("*.json")} == set(render_schemas())


def test_changelog_names_the_current_version() -> None:
    changelog = (JSON_DIR.parent / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {SCHEMA_VERSION}" in changelog


def test_canonical_schema_requires_what_the_model_requires() -> None:
    schema = json.loads(render_schemas()["canonical_post.schema.json"])
    assert {"id", "platform", "created_at", "author", "conversation_id"} <= set(schema["required"])
    assert schema["additionalProperties"] is False
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
