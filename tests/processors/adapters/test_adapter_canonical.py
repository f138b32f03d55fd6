from __future__ import annotations

import json
from typing import Any

import pytest

from processors.adapters import AdapterError, normalize
from schemas.models import CanonicalPost

POST = {
    "id": "mastodon:1002",
    "platform": "mastodon",
    "created_at": "2024-05-01T12:05:00+02:00",
    "text": "@wren welcome!",
    "author": {"id": "mastodon:8", "handle": "ilse"},
    "conversation_id": "mastodon:1001",
    "in_reply_to": {"post_id": "mastodon:1001", "author_id": "mastodon:7"},
    "mentions": ["wren"],
    "ingest_id": "old-ingest",
}


def test_object_and_json_string_give_the_same_post(samples: Any) -> None:
    from_object = normalize(samples.envelope("canonical", POST))
    from_string = normalize(samples.envelope("canonical", json.dumps(POST)))
    assert from_object == from_string
    assert from_object.created_at.utcoffset() is not None
    assert from_object.created_at.isoformat() == "2024-05-01T10:05:00+00:00"
    assert from_object.ingest_id == "ingest-1", "a replay is a new ingest event"
    assert from_object.received_at == samples.received
    expected = CanonicalPost.model_validate(POST).model_copy(
        update={"ingest_id": "ingest-1", "received_at": samples.received}
    )
    assert from_object == expected


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ('{"id": "x:1", "platform": "x", "created_at": "2024-05-01T1', "invalid_json"),
        ("[1, 2]", "wrong_type"),
        (42, "wrong_type"),
        (POST | {"id": None}, "missing_field"),
        (POST | {"author": "ilse"}, "wrong_type"),
        (POST | {"created_at": "not a time"}, "invalid_timestamp"),
        (POST | {"kind": "boost"}, "invalid_value"),
        (POST | {"colour": "red"}, "invalid_value"),
        (POST | {"text": "x" * 20_001}, "too_large"),
        (POST | {"id": "x:" + "1" * 600}, "too_large"),
        ("[" * 5000 + "]" * 5000, "too_deep"),
        ('{"a":' * 70 + "1" + "}" * 70, "too_deep"),
        ('{"n": NaN}', "invalid_json"),
        ('{"n": ' + "9" * 5000 + "}", "invalid_json"),
    ],
)
def test_bad_payloads(samples: Any, payload: Any, reason: str) -> None:
    with pytest.raises(AdapterError) as err:
        normalize(samples.envelope("canonical", payload))
    assert err.value.reason == reason


def test_unknown_format(samples: Any) -> None:
    with pytest.raises(AdapterError) as err:
        normalize(samples.envelope("myspace", POST))
    assert err.value.reason == "unknown_format"
    assert "myspace" in str(err.value)
