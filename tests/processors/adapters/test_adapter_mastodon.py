from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from processors.adapters import AdapterError, normalize


def test_status_maps_fields_and_strips_html(samples: Any) -> None:
    post = normalize(samples.envelope("mastodon", samples.json("mastodon_status.json")))
    assert post.id == "mastodon:112233445566778899"
    assert post.kind == "post"
    assert post.platform == "mastodon"
    assert post.url == "https://harbour.social/@mira_lindqvist/112233445566778899"
    assert post.created_at == datetime(2024, 5, 14, 6, 15, 30, tzinfo=UTC)
    assert post.lang == "en"
    assert post.text == (
        "@northvale_council the footbridge on Quay Road is closed again & nobody put up a sign."
        "\n\nPhotos here: https://pics.example.org/albums/quay-road-bridge-2024\n"
        "Is there a date for the repair? #Northvale #AccessibleCity"
    )
    assert post.author.id == "mastodon:40417"
    assert post.author.handle == "mira_lindqvist"
    assert post.author.display_name == "Mira Lindqvist"
    assert post.author.bio == "Wheelchair user, cyclist, resident of Northvale.\nOpinions my own."
    assert (post.author.followers, post.author.following) == (412, 230)
    assert post.in_reply_to is not None
    assert post.in_reply_to.post_id == "mastodon:112233445566770000"
    assert post.in_reply_to.author_id == "mastodon:90001"
    assert post.conversation_id == "mastodon:112233445566770000"
    assert post.mentions == ["northvale_council@civic.example"]
    assert post.hashtags == ["northvale", "accessiblecity"]
    assert post.links == ["https://pics.example.org/albums/quay-road-bridge-2024"]
    assert (post.metrics.likes, post.metrics.shares, post.metrics.replies) == (11, 2, 3)
    assert post.ingest_id == "ingest-1"
    assert post.received_at == samples.received


def test_context_conversation_root_wins(samples: Any) -> None:
    status = samples.json("mastodon_status.json")
    post = normalize(samples.envelope("mastodon", status, {"conversation_root": "1000"}))
    assert post.conversation_id == "mastodon:1000"


def test_streaming_events(samples: Any) -> None:
    root, reply, edit, delete, boost, notification = samples.jsonl("mastodon_stream.jsonl")

    first = normalize(samples.envelope("mastodon", root))
    assert first.kind == "post"
    assert first.conversation_id == first.id == "mastodon:112233445566770000"
    assert first.in_reply_to is None
    assert first.text == "Our winter gritting routes for 2024 are now online."

    answer = normalize(samples.envelope("mastodon", reply))
    assert answer.conversation_id == first.id

    changed = normalize(samples.envelope("mastodon", edit))
    assert changed.kind == "edit"
    assert changed.id == answer.id
    assert changed.created_at == answer.created_at
    assert "third time this month" in changed.text

    gone = normalize(samples.envelope("mastodon", delete))
    assert gone.kind == "delete"
    assert gone.id == answer.id
    assert gone.created_at == samples.received

    shared = normalize(samples.envelope("mastodon", boost))
    assert shared.id == answer.id, "a boost is normalized as the boosted status"
    assert shared.author.id == "mastodon:40417"

    with pytest.raises(AdapterError) as err:
        normalize(samples.envelope("mastodon", notification))
    assert err.value.reason == "unsupported_event"


def test_streaming_payload_as_object_equals_payload_as_string(samples: Any) -> None:
    status = samples.json("mastodon_status.json")
    as_object = normalize(samples.envelope("mastodon", {"event": "update", "payload": status}))
    event = json.dumps({"event": "update", "payload": json.dumps(status)})
    as_string = normalize(samples.envelope("mastodon", event))
    assert as_object == as_string


def test_content_warning_leads_the_text(samples: Any) -> None:
    status = samples.json("mastodon_status.json") | {"spoiler_text": "grief, bereavement"}
    post = normalize(samples.envelope("mastodon", status))
    assert post.text.startswith("grief, bereavement\n\n@northvale_council")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": None}, "missing_field"),
        ({"created_at": "yesterday"}, "invalid_timestamp"),
        ({"account": "mira"}, "wrong_type"),
        ({"content": 42}, "wrong_type"),
        ({"content": "<p>" + "a" * 20_001 + "</p>"}, "too_large"),
        ({"favourites_count": "many"}, "wrong_type"),
    ],
)
def test_bad_status(samples: Any, change: dict[str, Any], reason: str) -> None:
    with pytest.raises(AdapterError) as err:
        normalize(samples.envelope("mastodon", samples.json("mastodon_status.json") | change))
    assert err.value.reason == reason
