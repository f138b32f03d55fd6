"""The conversations index without a server: the index stage's batch step (collapse,
tombstones, refusals), the reads the CLI asks, the record it prints, the SLA, the scrub."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.models import ConversationView, LastPost
from streams.es.conversations import (
    AWAITING,
    collapse_views,
    conversation_record,
    conversations_query,
    conversations_sort,
    format_span,
    scrub_document,
    sla_status,
    view_action,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ALIAS = "townsquare-conversations"


def _view(conv: str, posts: int = 1, **update: Any) -> ConversationView:
    return ConversationView.model_validate(
        {"conversation_id": conv, "platform": "x", "posts": posts, "updated_at": NOW, **update}
    )


def _bytes(view: ConversationView) -> bytes:
    return view.model_dump_json().encode()


# --- the index stage's batch step ----------------------------------------------------------


def test_a_view_becomes_an_index_action_keyed_by_its_thread() -> None:
    action = view_action("x:1", _bytes(_view("x:1", posts=3)), ALIAS, NOW)
    assert (action["_op_type"], action["_index"], action["_id"]) == ("index", ALIAS, "x:1")
    source = action["_source"]
    assert source["posts"] == 3 and source["indexed_at"] == NOW.isoformat()
    assert set(source) == set(ConversationView.model_fields) | {"indexed_at"}


def test_a_tombstone_becomes_a_delete_of_its_thread() -> None:
    assert view_action("x:1", None, ALIAS, NOW) == {
        "_op_type": "delete",
        "_index": ALIAS,
        "_id": "x:1",
    }


def test_last_write_wins_per_thread_and_the_batch_keeps_last_write_order() -> None:
    messages: list[tuple[str | None, bytes | None]] = [
        ("x:1", _bytes(_view("x:1", posts=1))),
        ("x:2", _bytes(_view("x:2", posts=1))),
        ("x:1", _bytes(_view("x:1", posts=2))),
        ("x:3", _bytes(_view("x:3"))),
        ("x:3", None),
        ("x:2", None),
        ("x:2", _bytes(_view("x:2", posts=5))),
    ]
    collapsed = collapse_views(messages, ALIAS, NOW)
    assert collapsed.rejected == []
    got = [(pos, a["_op_type"], a["_id"]) for pos, a in collapsed.actions]
    assert got == [(2, "index", "x:1"), (4, "delete", "x:3"), (6, "index", "x:2")]
    assert collapsed.actions[0][1]["_source"]["posts"] == 2
    assert collapsed.actions[2][1]["_source"]["posts"] == 5, "a thread can come back"


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("x:1", b"{not json", "invalid_json"),
        ("x:1", b"[1, 2]", "wrong_type"),
        ("x:1", b'{"conversation_id": "x:1"}', "schema"),
        ("x:2", _bytes(_view("x:1")), "key_mismatch"),
        (None, None, "missing_key"),
    ],
)
def test_bad_messages_are_refused_with_their_reason_and_the_rest_goes_on(
    key: str | None, value: bytes | None, reason: str
) -> None:
    collapsed = collapse_views([(key, value), ("x:9", _bytes(_view("x:9")))], ALIAS, NOW)
    [(position, why)] = collapsed.rejected
    assert (position, why.reason) == (0, reason)
    assert [a["_id"] for _, a in collapsed.actions] == ["x:9"]


# --- reads ------------------------------------------------------------------------------------


def test_awaiting_reads_threads_waiting_now_oldest_first() -> None:
    assert conversations_query(True) == AWAITING == {"term": {"awaiting_org_reply": True}}
    assert conversations_query(False) == {"match_all": {}}
    assert conversations_sort(True) == [
        {"awaiting_since": {"order": "asc", "missing": "_last"}},
        {"conversation_id": {"order": "asc"}},
    ]
    assert conversations_sort(False)[0] == {"last_activity": {"order": "desc", "missing": "_last"}}


def _doc(conv: str, since: str | None, last_activity: str, own: int = 0) -> dict[str, Any]:
    view = _view(
        conv,
        posts=3,
        participants=2,
        own_posts=own,
        awaiting_org_reply=since is not None,
        awaiting_since=since,
        last_activity=last_activity,
        last_post=LastPost(
            id=f"{conv}-p", author_id="x:h", handle="h", created_at=last_activity, text="hello"
        ),
    )
    return json.loads(view.model_dump_json())


def test_record_for_the_cli_carries_wait_and_sla_verdict() -> None:
    rec = conversation_record(_doc("c", "2026-05-01T07:00:00Z", "2026-05-01T07:00:00Z"), NOW, 240)
    assert rec["waiting_seconds"] == 5 * 3600
    assert rec["sla"] == "over"
    assert rec["over_by_seconds"] == 3600
    assert (rec["posts"], rec["participants"], rec["own_posts"]) == (3, 2, 0)
    assert rec["last_post"] == {
        "id": "c-p",
        "created_at": "2026-05-01T07:00:00Z",
        "author": "h",
        "text": "hello",
        "url": None,
    }
    answered = conversation_record(_doc("d", None, "2026-05-01T07:00:00Z", own=1), NOW, 240)
    assert answered["awaiting_org_reply"] is False
    assert (answered["waiting_seconds"], answered["sla"]) == (None, None)
    empty = conversation_record({"conversation_id": "e", "platform": "x"}, NOW, 240)
    assert empty["last_post"]["id"] is None, "a thread whose last post went shows none"


# --- reply SLA -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("waited_min", "sla_min", "over", "text"),
    [
        (30, 240, False, "within, left 3h 30m"),
        (240, 240, False, "within, left 0m"),
        (245, 240, True, "over by 5m"),
        (60 * 24 * 2 + 90, 240, True, "over by 1d 21h"),
    ],
)
def test_sla_arithmetic(waited_min: int, sla_min: int, over: bool, text: str) -> None:
    status = sla_status(NOW - timedelta(minutes=waited_min), NOW, sla_min)
    assert status.waited == timedelta(minutes=waited_min)
    assert status.over is over
    assert status.describe() == text


def test_a_wait_in_the_future_counts_as_zero() -> None:
    assert sla_status(NOW + timedelta(minutes=5), NOW, 10).waited == timedelta(0)


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(seconds=59), "0m"),
        (timedelta(minutes=7), "7m"),
        (timedelta(hours=2, minutes=5), "2h 05m"),
        (timedelta(days=3, hours=4, minutes=59), "3d 4h"),
    ],
)
def test_spans_read_well(span: timedelta, text: str) -> None:
    assert format_span(span) == text


# --- erasure: scrubbing a thread document ---------------------------------------------------


def test_scrubbing_takes_the_person_out_and_keeps_the_thread_for_the_others() -> None:
    doc = json.loads(
        _view(
            "x:1",
            posts=3,
            participants=3,
            participant_ids=["x:alice", "x:bob", "x:carol"],
            last_post=LastPost(
                id="x:3", author_id="x:alice", handle="Alice", created_at=NOW, text="hi"
            ),
            awaiting_post_id="x:3",
            best_post_id="x:3",
            best_joinability=0.8,
        ).model_dump_json()
    )
    clean = scrub_document(doc, {"x:alice"}, {"@ALICE"}, {"x:3"})
    assert clean is not None
    assert clean["participant_ids"] == ["x:bob", "x:carol"] and clean["participants"] == 2
    assert clean["last_post"] is None
    assert clean["awaiting_post_id"] is None
    assert (clean["best_post_id"], clean["best_joinability"]) == (None, None)
    assert "alice" not in json.dumps(clean).lower()
    assert clean["posts"] == 3 and clean["conversation_id"] == "x:1"
    assert scrub_document(clean, {"x:alice"}, {"alice"}, {"x:3"}) is None, "nothing left"
    # Found by handle alone (the subject was a handle), the last post still goes.
    by_handle = scrub_document(doc, set(), {"alice"})
    assert by_handle is not None and by_handle["last_post"] is None
    assert by_handle["participant_ids"] == doc["participant_ids"]
    assert scrub_document(doc, {"x:dave"}, {"dave"}) is None


# --- the index family ------------------------------------------------------------------------


def _paths(properties: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for name, spec in properties.items():
        out.add(prefix + name)
        out |= _paths(spec.get("properties", {}), f"{prefix}{name}.")
    return out


def test_the_template_maps_every_view_field_strictly_and_carries_no_ilm_policy() -> None:
    from streams.es.indices import FAMILIES, load_template, template_for
    from streams.es.retention import AGE_FIELDS
    from streams.settings import Settings

    assert "conversations" in FAMILIES
    mappings = load_template("conversations")["template"]["mappings"]
    assert mappings["dynamic"] == "strict"
    paths = _paths(mappings["properties"])
    wanted = set(ConversationView.model_fields) | {"indexed_at"}
    wanted |= {f"last_post.{name}" for name in LastPost.model_fields}
    assert paths == wanted
    settings = Settings(index_prefix="tq")
    body = template_for(settings, "conversations")
    assert body["index_patterns"] == ["tq-conversations-*"]
    assert "lifecycle" not in json.dumps(body), "live threads must not age out with an index"
    assert "index.lifecycle.name" in template_for(settings, "posts")["template"]["settings"]
    assert AGE_FIELDS["conversations"] == "last_activity", "threads have no created_at"
