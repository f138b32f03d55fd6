"""JSON Schema files generated from the models, for services that do not run Python.

``townsquare schemas export`` writes them; a test regenerates them in memory
and fails on any difference, so the committed files never drift from the code.

Two kinds of file:

- ``<model>.schema.json``: one message model each;
- ``topics/<topic>.schema.json``: everything a subscribed topic may carry, as
  one schema (``oneOf`` over its shapes, discriminated on ``kind``; see
  docs/consumers.md). A consumer validates a value against its topic's file
  without knowing which model it is first.

Published schemas are *open*: ``additionalProperties: false`` is removed, so a
consumer validating against 1.3.0 still accepts a 1.4.0 message with a new
optional field. The pydantic models stay strict (``extra="forbid"``) because
inside the pipeline a field we do not know is a bug, not a newer producer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from schemas.models import (
    KIND_HEADER,
    PUBLISHED_MODELS,
    SCHEMA_VERSION,
    SCHEMA_VERSION_HEADER,
    Alert,
    ConversationView,
    DeadLetter,
    EnrichedPost,
    PostDeleted,
)

JSON_DIR = Path(__file__).resolve().parent / "json"
TOPICS_DIR = "topics"
"""Sub-folder of :data:`JSON_DIR` holding the per-topic combined schemas."""

_DRAFT = "https://json-schema.org/draft/2020-12/schema"


class TopicContract:
    """What one subscribed topic carries: its shapes by ``kind``, and how it is keyed.

    ``kinds`` maps each value of the ``townsquare-kind`` header (equal to the
    value's ``kind`` field where the shape has one) to its model, ``None``
    meaning a null value (a tombstone on a compacted topic).
    """

    def __init__(
        self,
        topic: str,
        description: str,
        key: str,
        kinds: dict[str, type[BaseModel] | None],
        *,
        kind_in_value: bool,
        compacted: bool = False,
    ) -> None:
        self.topic = topic
        self.description = description
        self.key = key
        self.kinds = kinds
        self.kind_in_value = kind_in_value
        self.compacted = compacted


TOPIC_CONTRACTS: tuple[TopicContract, ...] = (
    TopicContract(
        "posts.enriched",
        "Enriched posts and edits (enriched_post) and delete tombstones (post_deleted).",
        "The conversation id, UTF-8.",
        {"post": EnrichedPost, "edit": EnrichedPost, "delete": PostDeleted},
        kind_in_value=True,
    ),
    TopicContract(
        "alerts",
        "Alerts raised by rules, reply deadlines, spikes and silent sources.",
        "The conversation id (rule and deadline alerts), else the rule or spike/source key, UTF-8.",
        {"rule": Alert, "reply_deadline": Alert, "spike": Alert, "silence": Alert},
        kind_in_value=True,
    ),
    TopicContract(
        "conversations.state",
        "Each thread's current state (compacted); a null value: the thread is gone.",
        "The conversation id, UTF-8.",
        {"conversation_view": ConversationView, "tombstone": None},
        kind_in_value=False,
        compacted=True,
    ),
    TopicContract(
        "posts.dlq",
        "Messages a stage gave up on, with the original bytes and their coordinates.",
        "The original message's key, UTF-8 (may be absent).",
        {"dead_letter": DeadLetter},
        kind_in_value=False,
    ),
)


def open_schema(node: Any) -> Any:
    """``node`` without any ``additionalProperties: false`` (the forward-compatible policy).

    Only the literal ``False`` goes: a dict's value schema
    (``additionalProperties: {"type": "number"}``) is a real constraint and stays.
    """
    if isinstance(node, dict):
        return {
            k: open_schema(v)
            for k, v in node.items()
            if not (k == "additionalProperties" and v is False)
        }
    if isinstance(node, list):
        return [open_schema(v) for v in node]
    return node


def _dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def _model_schema(name: str, model: type[BaseModel]) -> dict[str, Any]:
    schema = open_schema(model.model_json_schema(mode="serialization"))
    schema["$id"] = f"urn:townsquare:schema:{name}:{SCHEMA_VERSION}"
    schema["$schema"] = _DRAFT
    schema["x-schema-version"] = SCHEMA_VERSION
    return schema


def topic_schema(contract: TopicContract) -> dict[str, Any]:
    """The combined schema of one topic: ``oneOf`` its shapes, keyed on ``kind``.

    Each branch requires ``kind`` and pins its values, so exactly one branch
    matches a published value even though the schemas are open; the
    ``discriminator`` (OpenAPI style, an annotation for code generators) and
    ``x-kinds`` (the ``townsquare-kind`` header values) name the branch per kind.
    """
    models = list(dict.fromkeys(m for m in contract.kinds.values() if m is not None))
    refs, defs = models_json_schema(
        [(m, "serialization") for m in models], ref_template="#/$defs/{model}"
    )
    ref_of = {m: refs[(m, "serialization")]["$ref"] for m in models}
    branches: list[dict[str, Any]] = []
    for model in models:
        kinds = sorted(k for k, m in contract.kinds.items() if m is model)
        branch: dict[str, Any] = {"$ref": ref_of[model]}
        if contract.kind_in_value:
            branch["required"] = ["kind"]
            branch["properties"] = {"kind": {"enum": kinds}}
        branches.append(branch)
    x_kinds: dict[str, Any] = {}
    for kind, shape in sorted(contract.kinds.items()):
        x_kinds[kind] = {"type": "null"} if shape is None else {"$ref": ref_of[shape]}
    if any(m is None for m in contract.kinds.values()):
        branches.append({"type": "null"})
    schema: dict[str, Any] = {
        "$id": f"urn:townsquare:topic:{contract.topic}:{SCHEMA_VERSION}",
        "$schema": _DRAFT,
        "title": contract.topic,
        "description": contract.description + " See docs/consumers.md.",
        "x-schema-version": SCHEMA_VERSION,
        "x-topic": {
            "name": "{TOWNSQUARE_TOPIC_PREFIX}" + contract.topic + ".{TOWNSQUARE_TOPIC_VERSION}",
            "key": contract.key,
            "compacted": contract.compacted,
            "headers": {
                SCHEMA_VERSION_HEADER: "The SCHEMA_VERSION the value was written with.",
                KIND_HEADER: "One of the x-kinds keys.",
            },
        },
        "x-kinds": x_kinds,
        "oneOf": branches,
        "$defs": open_schema(defs.get("$defs", {})),
    }
    if contract.kind_in_value:
        schema["discriminator"] = {
            "propertyName": "kind",
            "mapping": {k: ref_of[m] for k, m in sorted(contract.kinds.items()) if m},
        }
    return schema


def render_schemas() -> dict[str, str]:
    """Path relative to :data:`JSON_DIR` -> file text, deterministic (sorted keys, newline)."""
    out = {}
    for name, model in PUBLISHED_MODELS.items():
        out[f"{name}.schema.json"] = _dump(_model_schema(name, model))
    for contract in TOPIC_CONTRACTS:
        out[f"{TOPICS_DIR}/{contract.topic}.schema.json"] = _dump(topic_schema(contract))
    return out


def write_schemas(directory: Path = JSON_DIR) -> list[Path]:
    """Write every schema file under ``directory`` (the CLI's ``schemas export``)."""
    written = []
    for file_name, text in render_schemas().items():
        path = directory / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
