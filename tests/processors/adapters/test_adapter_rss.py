"""RSS/Atom entries exactly as the feed ingest produces them: feedparser, then JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import feedparser
import pytest

from processors.adapters import AdapterError, normalize

RSS_URL = "https://kestrelbayfoodbank.example/blog/feed"
ATOM_URL = "https://lanternlane.example/comments.atom"


def _entries(samples: Any, name: str) -> list[dict[str, Any]]:
    parsed = feedparser.parse(str(samples.payloads / name))
    assert not parsed.bozo, parsed.get("bozo_exception")
    # struct_time serialises as a list, as it does on the wire.
    return [json.loads(json.dumps(entry, default=list)) for entry in parsed.entries]


def test_rss_post_and_comment_feed(samples: Any) -> None:
    article, comment = _entries(samples, "rss_feed.xml")
    context = {"feed_url": RSS_URL, "feed_title": "Kestrel Bay Food Bank blog"}
    post = normalize(samples.envelope("rss", article, context))
    assert post.id == "rss:https://kestrelbayfoodbank.example/?p=412"
    assert post.platform == "rss"
    assert post.url == "https://kestrelbayfoodbank.example/blog/summer-appeal"
    assert post.created_at == datetime(2024, 6, 3, 8, 30, tzinfo=UTC)
    assert post.text == (
        "Summer appeal: what we need most\n\n"
        "Tinned fish, UHT milk and nappies are running low.\n\n"
        "Drop-off points are listed on our map. Thanks to @harbourgrocers for the van! #KestrelBay"
    )
    assert post.author.id == f"rss:{RSS_URL}#Joanna Whitby"
    assert post.author.display_name == "Joanna Whitby"
    assert post.conversation_id == post.id and post.in_reply_to is None
    assert post.links == ["https://kestrelbayfoodbank.example/drop-off"]
    assert post.mentions == ["harbourgrocers"]
    assert post.hashtags == ["appeals", "KestrelBay"]

    reply = normalize(
        samples.envelope(
            "rss", comment, context | {"comments_for": "https://kestrelbayfoodbank.example/?p=412"}
        )
    )
    assert reply.conversation_id == post.id
    assert reply.in_reply_to is not None and reply.in_reply_to.post_id == post.id
    assert reply.created_at == datetime(2024, 6, 4, 18, 5, 12, tzinfo=UTC)


def test_atom_thread_extension(samples: Any) -> None:
    article, comment = _entries(samples, "atom_comments.xml")
    context = {"feed_url": ATOM_URL}
    root = normalize(samples.envelope("rss", article, context))
    assert root.id == "rss:tag:lanternlane.example,2024:post-31"
    assert root.text == (
        "Accessible performances this spring\n\nCaptioned and relaxed performances return.\n"
        "Booking: online"
    )
    assert root.links == ["https://lanternlane.example/book"]
    assert root.created_at == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    reply = normalize(samples.envelope("rss", comment, context))
    assert reply.in_reply_to is not None and reply.in_reply_to.post_id == root.id
    assert reply.conversation_id == root.id
    assert reply.text.endswith("Will there be a hearing loop in the studio space too?")


def test_entry_without_date_takes_receive_time(samples: Any) -> None:
    entry = {"id": "urn:x:1", "title": "Hello", "link": "https://a.example/1"}
    post = normalize(samples.envelope("rss", entry, {"feed_url": RSS_URL}))
    assert post.created_at == samples.received
    assert post.author.id == f"rss:{RSS_URL}"


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"title": "no id or link"}, "missing_field"),
        ({"id": "a", "published": "the other day"}, "invalid_timestamp"),
        ({"id": "a", "published_parsed": [2024, 13, 1, 0, 0, 0, 0, 0, 0]}, "invalid_timestamp"),
        ({"id": "a", "content": "not a list"}, "wrong_type"),
        ({"id": "a", "summary": "<p>" + "x" * 100_001}, "too_large"),
    ],
)
def test_bad_entries(samples: Any, entry: dict[str, Any], reason: str) -> None:
    with pytest.raises(AdapterError) as err:
        normalize(samples.envelope("rss", entry, {"feed_url": RSS_URL}))
    assert err.value.reason == reason
