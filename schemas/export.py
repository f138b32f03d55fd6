"""JSON Schema files generated from the models, for services that do not run Python.

``townsquare schemas export`` writes them; a test regenerates them in memory
and fails on any difference, so the committed files never drift from the code.
"""

from __future__ import annotations

import json
from pathlib import Path

from schemas.models import PUBLISHED_MODELS, SCHEMA_VERSION

JSON_DIR = Path(__file__).resolve().parent / "json"


def render_schemas() -> dict[str, str]:
    """File name -> file text, deterministic (sorted keys, trailing newline)."""
    out = {}
    for name, model in PUBLISHED_MODELS.items():
        schema = model.model_json_schema(mode="serialization")
        schema["$id"] = f"urn:townsquare:schema:{name}:{SCHEMA_VERSION}"
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["x-schema-version"] = SCHEMA_VERSION
        out[f"{name}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def write_schemas(directory: Path = JSON_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in render_schemas().items():
        path = directory / file_name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
