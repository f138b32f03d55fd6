"""The project's own sample data: a corpus of posts and two organisation profiles.

They ship inside the package so that a fresh install can run the demo, the docs'
examples and the stream tests without any outside data. Everything in them is
fictional and written for townsquare; ``tools/make_sample_corpus.py`` writes the
corpus and a test keeps the two in step.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

CORPUS = "corpus.jsonl"
"""Four days of posts about Harbourside Borough Council on X, Mastodon and Bluesky."""
BRAND_PROFILE = "profile-brand.yaml"
"""A bakery-café chain with an app and delivery."""
COUNCIL_PROFILE = "profile-council.yaml"
"""The council the corpus is written for; the default profile when none is configured."""


def sample_path(name: str) -> Path:
    """Path of a packaged sample file; raises FileNotFoundError for an unknown name."""
    path = Path(str(files(__name__).joinpath(name)))
    if not path.is_file():
        raise FileNotFoundError(f"no sample file {name!r} in {path.parent}")
    return path
