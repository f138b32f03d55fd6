"""Which organisation profile a process uses: the configured file, else the sample council."""

from __future__ import annotations

from pathlib import Path

from processors.profile import Organisation, load_profile
from streams.settings import Settings


def default_profile_path() -> Path:
    from streams.sample import COUNCIL_PROFILE, sample_path

    return sample_path(COUNCIL_PROFILE)


def profile_for(settings: Settings) -> Organisation:
    return load_profile(settings.profile_path or default_profile_path())
