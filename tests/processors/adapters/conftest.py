"""Recorded payloads and envelopes around them, for the adapter tests (``samples`` fixture)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.models import RawEnvelope

PAYLOADS = Path(__file__).resolve().parents[2] / "fixtures" / "payloads"


class Samples:
    """Fixture files and envelope construction; one object so tests need one fixture."""

    payloads = PAYLOADS
    received = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

    def envelope(
        self, fmt: str, payload: Any, context: dict[str, Any] | None = None
    ) -> RawEnvelope:
        return RawEnvelope(
            ingest_id="ingest-1",
            source="test",
            format=fmt,
            received_at=self.received,
            payload=payload,
            context=context or {},
        )

    def json(self, name: str) -> Any:
        return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))

    def jsonl(self, name: str) -> list[Any]:
        lines = (PAYLOADS / name).read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture
def samples() -> Samples:
    return Samples()
