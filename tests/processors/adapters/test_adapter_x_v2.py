from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from processors.adapters import AdapterError, normalize


def test_lookup_response_with_includes(samples: Any) -> None:
    post = normalize(samples.envelope("x-v2", samples.json("x_v2_tweet.json")))
    assert post.id == "x:1790012345678901248"
    assert post.platform == "x"
    assert post.created_at == datetime(2024, 5, 13, 6, 20, 31, tzinfo=UTC)
    assert post.conversation_id == "x:1790011111111111111"
    assert post.in_reply_to is not None
    assert post.in_reply_to.post_id == "x:1790011111111111111"
    assert post.in_reply_to.author_id == "x:1500000001"
    assert post.author.id == "x:2244668800"
    assert post.author.handle == "priya_commutes"
    assert post.author.display_name == "Priya Anand"
    assert post.author.bio == "Daily commuter. Tea first."
    assert (post.author.followers, post.author.following, post.author.verified) == (318, 402, False)
    assert post.mentions == ["FernhillRail"]
    assert post.hashtags == ["commute"]
    assert post.links == ["https://status.fernhillrail.example/disruptions/0712"]
    assert (post.metrics.likes, post.metrics.shares, post.metrics.replies) == (17, 5, 2)
    assert post.url == "https://twitter.com/priya_commutes/status/1790012345678901248"
    assert post.lang == "en"


def test_stream_messages_and_compliance_deletes(samples: Any) -> None:
    root, reply, delete_v2, delete_v1 = (
        normalize(samples.envelope("x-v2", m)) for m in samples.jsonl("x_v2_stream.jsonl")
    )
    assert root.conversation_id == root.id == "x:1790011111111111111"
    assert root.author.verified and root.author.followers == 88000
    assert root.links == ["https://fernhillrail.example/engineering-works"]

    assert reply.author.id == "x:3355779911" and reply.author.handle is None
    assert reply.mentions == ["priya_commutes", "FernhillRail"], "from the text: no entities"
    assert reply.in_reply_to is not None
    assert reply.in_reply_to.post_id == "x:1790012345678901248"
    expected = datetime.fromtimestamp(((1790019999999999999 >> 22) + 1288834974657) / 1000, UTC)
    assert reply.created_at == expected, "no created_at: time from the snowflake id"

    assert (delete_v2.kind, delete_v2.id) == ("delete", "x:1790019999999999999")
    assert delete_v2.author.id == "x:3355779911"
    assert delete_v2.created_at == datetime(2024, 5, 13, 9, 10, 11, 123000, tzinfo=UTC)
    assert (delete_v1.kind, delete_v1.id) == ("delete", "x:1790012345678901248")
    assert delete_v1.created_at == datetime.fromtimestamp(1715591411, UTC)


def test_bare_tweet_object(samples: Any) -> None:
    tweet = samples.json("x_v2_tweet.json")["data"]
    post = normalize(samples.envelope("x-v2", tweet))
    assert post.id == "x:1790012345678901248"
    assert post.author.handle is None


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda m: m["data"].pop("author_id"), "missing_field"),
        (lambda m: m["data"].update(text=["x"]), "wrong_type"),
        (lambda m: m["data"].update(id=True), "wrong_type"),
        (lambda m: m["data"].update(created_at="31/12/2024"), "invalid_timestamp"),
        (lambda m: m["data"]["public_metrics"].update(like_count="17"), "wrong_type"),
        (lambda m: m.update(data=[]), "wrong_type"),
        (lambda m: m["data"].update(text="x" * 20_001), "too_large"),
        (lambda m: m["data"].update(id="9" * 600), "too_large"),
    ],
)
def test_bad_tweets(samples: Any, mutate: Any, reason: str) -> None:
    message = samples.json("x_v2_tweet.json")
    mutate(message)
    with pytest.raises(AdapterError) as err:
        normalize(samples.envelope("x-v2", message))
    assert err.value.reason == reason
