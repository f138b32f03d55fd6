"""The two Twitter export formats on hand-written rows (the real files: test_adapter_threads)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from processors.adapters import AdapterError, normalize

ROW = {
    "": "1",
    "index": "11",
    "tweet_id": "502",
    "author_id": "GlenmoorWater",
    "inbound": "False",
    "created_at": "Tue Oct 31 22:14:02 +0000 2017",
    "text": "@900001 Sorry! DM us at https://glenmoorwater.example/dm #outage",
    "response_tweet_id": "503,504",
    "in_response_to_tweet_id": "501.0",
}


def test_twcs_row(samples: Any) -> None:
    context = {"conversation_root": "500", "in_reply_to_author": "900001"}
    post = normalize(samples.envelope("twcs-csv", ROW, context))
    assert post.id == "x:502" and post.platform == "x"
    assert post.created_at == datetime(2017, 10, 31, 22, 14, 2, tzinfo=UTC)
    assert post.author.id == "x:GlenmoorWater" and post.author.handle == "GlenmoorWater"
    assert post.author.is_org_account is False, "the profile decides, not the inbound flag"
    assert post.conversation_id == "x:500"
    assert post.in_reply_to is not None
    assert (post.in_reply_to.post_id, post.in_reply_to.author_id) == ("x:501", "x:900001")
    assert post.mentions == ["900001"]
    assert post.hashtags == ["outage"]
    assert post.links == ["https://glenmoorwater.example/dm"]


def test_twcs_row_without_context_falls_back_to_parent(samples: Any) -> None:
    post = normalize(samples.envelope("twcs-csv", ROW))
    assert post.conversation_id == "x:501"
    assert post.in_reply_to is not None and post.in_reply_to.author_id is None
    root = normalize(samples.envelope("twcs-csv", ROW | {"in_response_to_tweet_id": ""}))
    assert root.conversation_id == root.id and root.in_reply_to is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"tweet_id": None}, "missing_field"),
        ({"author_id": ""}, "missing_field"),
        ({"created_at": "Oct 31"}, "invalid_timestamp"),
        ({"text": None}, "missing_field"),
    ],
)
def test_bad_twcs_rows(samples: Any, change: dict[str, Any], reason: str) -> None:
    with pytest.raises(AdapterError) as err:
        normalize(samples.envelope("twcs-csv", ROW | change))
    assert err.value.reason == reason


TURN_CONTEXT = {
    "conversation_id": "1245480000000000010",
    "company": "Greenleaf Grocers",
    "turn_index": 1,
    "in_reply_to": "1245480000000000010",
    "in_reply_to_role": "client",
    "in_reply_to_name": "Greenleaf Grocers",
}


def test_customer_care_client_turn_is_pseudonymous(samples: Any) -> None:
    turn = {
        "client1": "ravi_m",
        "datetime": "2020-04-01T18:30:00.000Z",
        "message": "@GreenleafGrocers is that every store?",
        "tweet_ID": "1245490000000000011",
    }
    post = normalize(samples.envelope("customer-care-json", turn, TURN_CONTEXT))
    assert post.id == "x:1245490000000000011"
    assert post.author.id == "x:anon-1245480000000000010-client1"
    assert post.author.handle is None
    assert "ravi_m" not in post.model_dump_json()
    assert post.conversation_id == "x:1245480000000000010"
    assert post.in_reply_to is not None
    assert post.in_reply_to.post_id == "x:1245480000000000010"
    assert post.in_reply_to.author_id == "x:anon-1245480000000000010-client"
    assert post.created_at == datetime(2020, 4, 1, 18, 30, tzinfo=UTC)


def test_customer_care_closing_agent_turn(samples: Any) -> None:
    turn = {
        "agent": "Greenleaf Grocers",
        "message": "@ravi_m yes",
        "tweet_ID": "1245500000000000020",
    }
    context = TURN_CONTEXT | {
        "in_reply_to": "1245490000000000011",
        "in_reply_to_role": "client1",
        "in_reply_to_name": "ravi_m",
    }
    post = normalize(samples.envelope("customer-care-json", turn, context))
    assert post.author.id == "x:Greenleaf_Grocers"
    assert post.author.handle == "Greenleaf_Grocers"
    snowflake_ms = (1245500000000000020 >> 22) + 1288834974657
    assert post.created_at == datetime.fromtimestamp(snowflake_ms / 1000, UTC)
    assert post.in_reply_to is not None
    assert post.in_reply_to.author_id == "x:anon-1245480000000000010-client1"


@pytest.mark.parametrize(
    ("turn", "reason"),
    [
        ({"message": "hi", "tweet_ID": "1", "datetime": "2020-04-01T18:30:00Z"}, "missing_field"),
        ({"client": "a", "agent": "b", "message": "hi", "tweet_ID": "1"}, "invalid_value"),
        ({"client": "a", "message": "hi", "tweet_ID": "12"}, "missing_field"),
        ({"client": 5, "message": "hi", "tweet_ID": "1245490000000000011"}, "wrong_type"),
        ({"agent": "!!!", "message": "hi", "tweet_ID": "1245490000000000011"}, "invalid_value"),
    ],
)
def test_bad_turns(samples: Any, turn: dict[str, Any], reason: str) -> None:
    with pytest.raises(AdapterError) as err:
        normalize(samples.envelope("customer-care-json", turn, {"company": None}))
    assert err.value.reason == reason
