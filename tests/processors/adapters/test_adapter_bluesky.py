from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from processors.adapters import AdapterError, normalize

ROOT_URI = "at://did:plc:q3wzr7kqlhz5xb2mdnefvyqa/app.bsky.feed.post/3l3qo2vuowo2b"
REPLY_URI = "at://did:plc:7kd2nhz4s5gqx3fcdrj6ebpo/app.bsky.feed.post/3l3qobr2ccl2a"


def test_root_post(samples: Any) -> None:
    event = samples.jsonl("bluesky_jetstream.jsonl")[0]
    post = normalize(samples.envelope("bluesky-jetstream", event))
    assert post.id == f"bluesky:{ROOT_URI}"
    assert post.kind == "post"
    assert post.conversation_id == post.id
    assert post.in_reply_to is None
    assert post.author.id == "bluesky:did:plc:q3wzr7kqlhz5xb2mdnefvyqa"
    assert post.created_at == datetime(2024, 9, 9, 19, 46, 2, 102000, tzinfo=UTC)
    assert post.lang == "en"
    assert (
        post.url == "https://bsky.app/profile/did:plc:q3wzr7kqlhz5xb2mdnefvyqa/post/3l3qo2vuowo2b"
    )
    assert post.hashtags == ["RiverbankDay"], "no facets: tags come from the text"
    assert post.links == [], "a bare domain without scheme is not a link"


def test_reply_uses_facets_and_reply_refs(samples: Any) -> None:
    event = samples.jsonl("bluesky_jetstream.jsonl")[1]
    post = normalize(samples.envelope("bluesky-jetstream", event))
    assert post.id == f"bluesky:{REPLY_URI}"
    assert post.conversation_id == f"bluesky:{ROOT_URI}"
    assert post.in_reply_to is not None
    assert post.in_reply_to.post_id == f"bluesky:{ROOT_URI}"
    assert post.in_reply_to.author_id == "bluesky:did:plc:q3wzr7kqlhz5xb2mdnefvyqa"
    assert post.mentions == ["riverwatch.example.org"]
    assert post.links == ["https://riverwatch.example.org/map/2024-cleanup"]
    assert post.hashtags == ["RiverbankDay"]
    assert post.created_at == datetime(2024, 9, 9, 19, 51, 10, tzinfo=UTC), "converted to UTC"
    assert post.lang == "en"


def test_update_and_delete(samples: Any) -> None:
    events = samples.jsonl("bluesky_jetstream.jsonl")
    edit = normalize(samples.envelope("bluesky-jetstream", events[2]))
    assert (edit.kind, edit.id) == ("edit", f"bluesky:{REPLY_URI}")
    assert edit.mentions == ["riverwatch.example.org"], "found in the text when there are no facets"
    gone = normalize(samples.envelope("bluesky-jetstream", events[3]))
    assert (gone.kind, gone.id) == ("delete", f"bluesky:{REPLY_URI}")
    assert gone.author.id == "bluesky:did:plc:7kd2nhz4s5gqx3fcdrj6ebpo"
    assert gone.created_at == datetime.fromtimestamp(1725912600, UTC)


@pytest.mark.parametrize("index", [4, 5])
def test_likes_and_identity_events_are_not_posts(samples: Any, index: int) -> None:
    event = samples.jsonl("bluesky_jetstream.jsonl")[index]
    with pytest.raises(AdapterError) as err:
        normalize(samples.envelope("bluesky-jetstream", event))
    assert err.value.reason == "unsupported_event"


def test_facet_ranges_out_of_bounds_are_ignored(samples: Any) -> None:
    event = samples.jsonl("bluesky_jetstream.jsonl")[1]
    for facet in event["commit"]["record"]["facets"]:
        facet["index"] = {"byteStart": 10_000, "byteEnd": 10_010}
    post = normalize(samples.envelope("bluesky-jetstream", event))
    assert post.mentions == ["riverwatch.example.org"], "falls back to the text"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e.pop("did"), "missing_field"),
        (lambda e: e.update(did="plc:nope"), "invalid_value"),
        (lambda e: e.update(time_us="soon"), "wrong_type"),
        (lambda e: e["commit"]["record"].update(createdAt="2024-13-45"), "invalid_timestamp"),
        (lambda e: e["commit"]["record"]["reply"]["root"].update(uri="https://x"), "invalid_value"),
        (lambda e: e["commit"].update(operation="merge"), "invalid_value"),
    ],
)
def test_bad_events(samples: Any, mutate: Any, reason: str) -> None:
    event = samples.jsonl("bluesky_jetstream.jsonl")[1]
    mutate(event)
    with pytest.raises(AdapterError) as err:
        normalize(samples.envelope("bluesky-jetstream", event))
    assert err.value.reason == reason
