"""Fixtures for the pure stage steps: the sample profile, and stepdata.py made importable."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from processors.profile import Organisation, load_profile
from streams.sample import COUNCIL_PROFILE, sample_path

# The test layout imports with importlib (no package __init__), so make stepdata.py importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def council() -> Organisation:
    return load_profile(sample_path(COUNCIL_PROFILE))
