"""The environment a benchmark runs its own local servers under, and its undoing.

Each benchmark that starts a worker starts private servers in a temporary
folder on free ports, under its own topic and index prefixes, so it neither
reuses nor stops anyone else's; the profile is named on purpose, because a
worker refuses to fall back to the sample profile silently.
"""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

__all__ = ["private_env", "set_env"]


def private_env(short: str, app_id: str, tmp: Path, **extra: str) -> dict[str, str]:
    """Settings for private servers under ``tmp``: prefixes ``short``, Faust app ``app_id``.

    ``extra`` adds or overrides variables (``TOWNSQUARE_TOPIC_PARTITIONS=...``).
    """
    from streams.sample import COUNCIL_PROFILE, sample_path

    env = {
        "TOWNSQUARE_TOPIC_PREFIX": f"{short}.",
        "TOWNSQUARE_INDEX_PREFIX": short,
        "TOWNSQUARE_APP_ID": app_id,
        "TOWNSQUARE_METRICS_PORT": "0",  # the probe server binds every interface: off
        "TOWNSQUARE_DATA_DIR": str(tmp / "data"),
        "TOWNSQUARE_LOCAL_KAFKA_PORT": "0",
        "TOWNSQUARE_LOCAL_ES_PORT": "0",
        "TOWNSQUARE_PROFILE_PATH": str(sample_path(COUNCIL_PROFILE)),
    }
    env.update(extra)
    return env


def set_env(env: dict[str, str]) -> mock._patch_dict:
    """``env`` set in ``os.environ`` now; ``.stop()`` on the result puts back what was there."""
    patcher = mock.patch.dict(os.environ, env)
    patcher.start()
    return patcher
