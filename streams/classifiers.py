"""Which trained text classifiers a process uses, and a clear error when they are missing.

The classifiers are part of the product (``models/``, with its model card):
every worker, the Docker image and ``townsquare enrich`` score with them, so
a missing or unreadable models folder stops the process with what to do,
instead of quietly judging posts from phrase lists alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from streams.settings import Settings

if TYPE_CHECKING:  # numpy and the hashing vectorizer load only when the models do
    from processors.classifiers import TextClassifiers


class ClassifiersMissing(RuntimeError):
    """The models folder is absent or unreadable; the message says how to fix it."""


def models_dir(settings: Settings) -> Path:
    """``TOWNSQUARE_MODELS_DIR``, else the ``models/`` folder that ships with the code."""
    from processors.classifiers import default_models_dir

    return settings.models_dir or default_models_dir()


def load_classifiers(settings: Settings) -> TextClassifiers:
    """The five text classifiers from the configured folder (read once per process)."""
    from processors.classifiers import TextClassifiers

    where = models_dir(settings)
    try:
        return TextClassifiers.load(where)
    except (OSError, ValueError, KeyError) as exc:
        raise ClassifiersMissing(
            f"cannot load the text classifiers from {where} ({type(exc).__name__}: {exc}). "
            "Point TOWNSQUARE_MODELS_DIR at the models/ folder of a townsquare checkout, or "
            "rebuild them with `townsquare models train` (needs the TweetEval data)."
        ) from exc
