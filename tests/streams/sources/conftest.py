"""Fixtures of the ingest tests: the local platform servers module and isolated topics."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import Isolated, Servers, isolated

# The test layout imports with importlib (no package __init__), so make servers.py importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def iso(servers: Servers, tmp_path: Path) -> Iterator[Isolated]:
    """Isolated settings whose topics exist (the agents only produce; they never create topics)."""
    from streams.cli.kafka_topics import create_topics

    # The local platform servers listen on 127.0.0.1, which the sources refuse unless allowed.
    result = isolated(servers, tmp_path, TOWNSQUARE_INGEST_ALLOW_HOSTS="127.0.0.1")
    create_topics(result.settings)
    yield result
