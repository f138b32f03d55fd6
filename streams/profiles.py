"""Which organisation profile a process uses: the configured file, else the sample council.

The profile decides what "us" means, so using the wrong one is silent and
costly: a worker scoring a bank's posts for the sample council would tell
nobody. A worker therefore refuses the sample profile unless it is asked for
(``TOWNSQUARE_ALLOW_SAMPLE_PROFILE``, set by ``townsquare run`` and
``worker --sample-profile``), and every process says which profile it uses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from processors.profile import Organisation, load_profile
from streams.settings import Settings


def default_profile_path() -> Path:
    from streams.sample import COUNCIL_PROFILE, sample_path

    return sample_path(COUNCIL_PROFILE)


def profile_path(settings: Settings) -> Path:
    """The profile file ``settings`` select (``TOWNSQUARE_PROFILE_PATH``, else the sample)."""
    return settings.profile_path or default_profile_path()


def profile_for(settings: Settings) -> Organisation:
    return load_profile(profile_path(settings))


@dataclass(frozen=True)
class LoadedProfile:
    """A profile with where it came from, so a worker can say exactly which one it scores with.

    The digest is of the file's bytes: two workers with the same digest score
    alike, whatever the path (a ConfigMap mount, a local copy).
    """

    org: Organisation
    path: Path
    sha256: str


class SampleProfileRefused(RuntimeError):
    """No profile is configured and the sample one was not asked for."""


def uses_sample_profile(settings: Settings) -> bool:
    return settings.profile_path is None


def load_profile_with_digest(settings: Settings, *, worker: bool = False) -> LoadedProfile:
    """The selected profile, its path and the sha256 of the bytes it was parsed from.

    ``worker=True`` refuses the sample profile unless settings allow it.
    """
    if worker and uses_sample_profile(settings) and not settings.allow_sample_profile:
        raise SampleProfileRefused(
            "no organisation profile configured: set TOWNSQUARE_PROFILE_PATH to your profile "
            "(check it with `townsquare profile check FILE`), or start the worker with "
            "--sample-profile to score for the sample council on purpose"
        )
    path = profile_path(settings)
    org = load_profile(path)  # first: a missing or bad file raises ProfileError with its problems
    return LoadedProfile(org=org, path=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
