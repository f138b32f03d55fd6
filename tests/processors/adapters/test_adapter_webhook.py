from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from processors.adapters import AdapterError, normalize


def test_documented_shape(samples: Any) -> None:
    post = normalize(samples.envelope("webhook", samples.json("webhook.json")))
    assert post.id == "forum:thread-88/post-3"
    assert post.platform == "forum"
    assert post.created_at == datetime(2024, 6, 1, 16, 45, tzinfo=UTC)
    assert post.author.id == "forum:member-5521"
    assert post.author.handle == "quietreader" and post.author.followers == 14
    assert post.conversation_id == "forum:thread-88/post-1"
    assert post.in_reply_to is not None
    assert post.in_reply_to.post_id == "forum:thread-88/post-2"
    assert post.in_reply_to.author_id == "forum:member-17"
    assert post.mentions == ["hollowbrook_library"]
    assert post.hashtags == ["ReadMore"]
    assert post.links == ["https://hollowbrook.example/hours"]
    assert post.metrics.likes == 4


def test_minimal_push_and_prefixed_ids(samples: Any) -> None:
    payload = {
        "platform": "forum",
        "id": "forum:9",
        "text": "hi",
        "created_at": 1717250000,
        "author": {"id": 77},
        "in_reply_to": "8",
        "kind": "edit",
    }
    post = normalize(samples.envelope("webhook", payload))
    assert (post.id, post.kind, post.conversation_id) == ("forum:9", "edit", "forum:9")
    assert post.author.id == "forum:77"
    assert post.in_reply_to is not None and post.in_reply_to.post_id == "forum:8"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"platform": "Not A Platform"}, "invalid_value"),
        ({"platform": None}, "missing_field"),
        ({"kind": "boost"}, "invalid_value"),
        ({"author": {"handle": "x"}}, "missing_field"),
        ({"author": {"id": "a", "followers": "lots"}}, "wrong_type"),
        ({"author": {"id": "a", "verified": "yes"}}, "wrong_type"),
        ({"mentions": "alice"}, "wrong_type"),
        ({"created_at": True}, "wrong_type"),
        ({"id": "with space"}, "invalid_value"),
    ],
)
def test_bad_pushes(samples: Any, change: dict[str, Any], reason: str) -> None:
    with pytest.raises(AdapterError) as err:
        normalize(samples.envelope("webhook", samples.json("webhook.json") | change))
    assert err.value.reason == reason
