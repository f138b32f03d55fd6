from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from processors.adapters import AdapterError, normalize


def _children(samples: Any) -> list[Any]:
    return list(samples.json("reddit_listing.json")["data"]["children"])


def test_submissions_are_roots(samples: Any) -> None:
    self_post, link_post, *_ = _children(samples)
    post = normalize(samples.envelope("reddit", self_post))
    assert post.id == post.conversation_id == "reddit:t3_1cq7xk2"
    assert post.in_reply_to is None
    assert post.text.startswith(
        "Bin collection missed on Elm Terrace for two weeks\n\nAnyone else?"
    )
    assert post.author.id == "reddit:t2_8f3k2m1q"
    assert post.author.handle == "elm_terrace_resident"
    assert post.created_at == datetime.fromtimestamp(1715590800, UTC)
    assert post.mentions == ["NorthvaleCouncil"], "u/name is a mention"
    assert post.hashtags == ["bins"]
    assert (post.metrics.likes, post.metrics.replies) == (57, 3)
    assert post.url == (
        "https://www.reddit.com/r/northvale/comments/1cq7xk2/bin_collection_missed_on_elm_terrace/"
    )
    link = normalize(samples.envelope("reddit", link_post))
    assert link.links == ["https://news.northvale.example/recycling-guide-2024"]
    assert link.text == "Council publishes new recycling guide"


def test_comments_thread_under_their_submission(samples: Any) -> None:
    _, _, top, nested, _ = _children(samples)
    first = normalize(samples.envelope("reddit", top))
    assert first.id == "reddit:t1_l3vq9ab"
    assert first.conversation_id == "reddit:t3_1cq7xk2"
    assert first.in_reply_to is not None and first.in_reply_to.post_id == "reddit:t3_1cq7xk2"
    assert first.mentions == ["northvale_council"]
    assert first.metrics.likes == 0, "negative scores floor at zero"
    second = normalize(samples.envelope("reddit", nested))
    assert second.in_reply_to is not None and second.in_reply_to.post_id == first.id
    assert second.conversation_id == "reddit:t3_1cq7xk2"
    assert second.author.id == "reddit:unknown", "deleted author"
    assert second.links == ["https://northvale.example/report-missed-bin"]


def test_more_children_are_not_posts(samples: Any) -> None:
    with pytest.raises(AdapterError) as err:
        normalize(samples.envelope("reddit", _children(samples)[4]))
    assert err.value.reason == "unsupported_event"


@pytest.mark.parametrize(
    ("index", "change", "reason"),
    [
        (2, {"link_id": None}, "missing_field"),
        (2, {"parent_id": "l3vq9ab"}, "invalid_value"),
        (2, {"created_utc": 1e30}, "invalid_timestamp"),
        (0, {"title": 5}, "wrong_type"),
        (0, {"name": "t1_1cq7xk2"}, "invalid_value"),
    ],
)
def test_bad_children(samples: Any, index: int, change: dict[str, Any], reason: str) -> None:
    child = _children(samples)[index]
    child = {"kind": child["kind"], "data": child["data"] | change}
    with pytest.raises(AdapterError) as err:
        normalize(samples.envelope("reddit", child))
    assert err.value.reason == reason
