"""The whole topology without a broker: raw envelopes -> normalize -> locate -> enrich -> collapse.

A tiny in-memory "broker" keeps one ordered list per topic (one partition
each, which is what one conversation sees) and runs each stage over what is
waiting on its input until nothing moves, then applies the bulk actions to a
dict that stands in for the search index. The stages are the very steps the
agents call, so this checks the topology's promises in milliseconds: edits
replace, late deletes remove, a delete that overtakes its post wins, a delete
naming its thread keeps its place, tombstones reach subscribers, and the
conversations index (folded from ``conversations.state`` by the index stage's
own step) holds one document per thread, as current as the thread's last post.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from stepdata import envelope, post_data

from processors.profile import Organisation
from schemas.models import CanonicalPost, EnrichedPost, PostDeleted
from streams.es.conversations import collapse_views
from streams.steps.collapse import collapse
from streams.steps.enrich import enrich
from streams.steps.locate import decode, locate
from streams.steps.outputs import Rejected, Send
from streams.steps.route import normalize_message
from streams.topic_names import BY_ID, CONVERSATIONS, DLQ, ENRICHED, NORMALIZED, RAW

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


class Pipeline:
    """Every stage's step over in-memory topics, run to quiescence."""

    def __init__(self, org: Organisation) -> None:
        self.org = org
        self.topics: dict[str, list[tuple[str, bytes | None]]] = defaultdict(list)
        self.read: dict[str, int] = defaultdict(int)
        self.locations: dict[str, Any] = {}
        self.conversations: dict[str, Any] = {}
        self.index: dict[str, dict[str, Any]] = {}
        self.threads: dict[str, dict[str, Any]] = {}

    def _take(self, topic: str) -> list[tuple[str, bytes | None]]:
        new = self.topics[topic][self.read[topic] :]
        self.read[topic] = len(self.topics[topic])
        return new

    def _send(self, outputs: list[Send]) -> None:
        for out in outputs:
            self.topics[out.topic_name].append((out.key, out.value))

    def run(self, raw: list[bytes], *, together: bool = False) -> Pipeline:
        """Process ``raw`` one message at a time, or all arriving at once (``together``).

        Together, each stage takes everything waiting on its input before the
        next stage runs, so a message that detours through locate is overtaken
        by the messages after it: the race the real topology must be safe in.
        """
        if together:
            self.topics[RAW] += [(f"raw-{i}", value) for i, value in enumerate(raw)]
            return self._quiesce()
        for i, value in enumerate(raw):
            self.topics[RAW].append((f"raw-{i}", value))
            self._quiesce()
        return self

    def _quiesce(self) -> Pipeline:
        while True:
            moved = False
            for _, value in self._take(RAW):
                moved = True
                assert value is not None
                result = normalize_message(value, 64 * 1024)
                if isinstance(result, Rejected):
                    self.topics[DLQ].append((result.reason, value))
                else:
                    self._send(result)
            for _, value in self._take(BY_ID):
                moved = True
                assert value is not None
                message = decode(value)
                located = locate(self.locations.get(message.id), message)
                self.locations[message.id] = located.entry
                self._send(located.outputs)
            for key, value in self._take(NORMALIZED):
                moved = True
                assert value is not None
                result_e = enrich(
                    self.conversations.get(key),
                    CanonicalPost.model_validate_json(value),
                    [],
                    self.org,
                    NOW,
                )
                if result_e.state is not None:
                    self.conversations[key] = result_e.state
                self._send(result_e.outputs)
                for gone in result_e.tombstones:
                    self.topics[gone.topic_name].append((gone.key, None))
            views = self._take(CONVERSATIONS)
            if views:
                moved = True
                for _, action in collapse_views(views, "conversations", NOW).actions:
                    if action["_op_type"] == "delete":
                        self.threads.pop(action["_id"], None)
                    else:
                        self.threads[action["_id"]] = action["_source"]
            batch = [value or b"" for _, value in self._take(ENRICHED)]
            if batch:
                moved = True
                for _, action in collapse(batch, "posts", NOW).actions:
                    if action["_op_type"] == "delete":
                        self.index.pop(action["_id"], None)
                    else:
                        self.index[action["_id"]] = action["_source"]
            if not moved:
                return self

    def published(self) -> list[EnrichedPost | PostDeleted]:
        """What subscribers of posts.enriched read, in order."""
        out: list[EnrichedPost | PostDeleted] = []
        for _, value in self.topics[ENRICHED]:
            assert value is not None
            model = PostDeleted if b'"kind":"delete"' in value else EnrichedPost
            out.append(model.model_validate_json(value))
        return out


def raw(*posts: dict[str, Any]) -> list[bytes]:
    return [envelope(p) for p in posts]


def test_posts_are_indexed_with_their_thread(council: Organisation) -> None:
    run = Pipeline(council).run(raw(post_data(1, 1), post_data(2, 1, reply_to=1)))
    assert set(run.index) == {"x:1", "x:2"}
    assert run.index["x:2"]["conversation"]["posts"] == 2
    assert run.topics[DLQ] == []


def test_an_edit_replaces_the_post_and_is_not_counted_twice(council: Organisation) -> None:
    run = Pipeline(council).run(
        raw(
            post_data(1, 1),
            post_data(2, 1, reply_to=1, text="first words"),
            post_data(2, 1, reply_to=1, kind="edit", text="second thoughts"),
        )
    )
    assert run.index["x:2"]["text"] == "second thoughts"
    assert run.index["x:2"]["conversation"]["posts"] == 2


def test_a_late_delete_without_its_thread_removes_the_post_everywhere(
    council: Organisation,
) -> None:
    run = Pipeline(council).run(
        raw(post_data(1, 1), post_data(2, 1, reply_to=1), post_data(2, 2, kind="delete"))
    )
    assert set(run.index) == {"x:1"}
    state = run.conversations["x:1"]
    assert "x:2" in state["deleted_post_ids"]
    tombstones = [p for p in run.published() if isinstance(p, PostDeleted)]
    assert [(t.id, t.conversation_id) for t in tombstones] == [("x:2", "x:1")]


def test_a_delete_before_its_post_means_the_post_never_shows(council: Organisation) -> None:
    run = Pipeline(council).run(
        raw(post_data(2, 2, kind="delete"), post_data(1, 1), post_data(2, 1, reply_to=1))
    )
    assert set(run.index) == {"x:1"}
    assert "x:2" in run.conversations["x:1"]["deleted_post_ids"]
    assert run.conversations["x:1"]["post_count"] == 1


def test_a_delete_naming_its_thread_keeps_its_place_in_the_thread(
    council: Organisation,
) -> None:
    run = Pipeline(council).run(
        raw(
            post_data(1, 1),
            post_data(2, 1, reply_to=1),
            post_data(2, 1, kind="delete"),
            post_data(3, 1, reply_to=1),
        ),
        together=True,
    )
    assert set(run.index) == {"x:1", "x:3"}
    # Post 3 came after the delete, so its thread no longer counts post 2; a detour
    # through locate would have let post 3 overtake the delete.
    assert run.index["x:3"]["conversation"]["posts"] == 2
    assert [json.loads(v)["kind"] for _, v in run.topics[BY_ID]] == ["locate"] * 3


def test_tombstones_reach_subscribers_and_bad_input_reaches_the_dlq(
    council: Organisation,
) -> None:
    run = Pipeline(council).run(
        [b"\xff not utf-8", *raw(post_data(1, 1), post_data(1, 1, kind="delete"))]
    )
    assert [reason for reason, _ in run.topics[DLQ]] == ["invalid_utf8"]
    assert run.index == {}
    kinds = [type(p).__name__ for p in run.published()]
    assert kinds == ["EnrichedPost", "PostDeleted"]


def test_a_replayed_post_after_its_delete_stays_gone(council: Organisation) -> None:
    first = post_data(1, 1)
    run = Pipeline(council).run(raw(first, post_data(1, 1, kind="delete"), first))
    assert run.index == {}
    assert len([p for p in run.published() if isinstance(p, EnrichedPost)]) == 1


def test_the_conversations_index_holds_one_current_document_per_thread(
    council: Organisation,
) -> None:
    run = Pipeline(council).run(
        raw(
            post_data(1, 1),
            post_data(2, 1, reply_to=1),
            post_data(3, 3),
            post_data(3, 3, kind="delete"),
            post_data(4, 1, reply_to=2, kind="edit", text="an edit seen first counts as a post"),
        )
    )
    assert set(run.threads) == {"x:1"}, "a thread whose only post was deleted is gone"
    doc = run.threads["x:1"]
    latest = run.index["x:4"]["conversation"]
    for name in ("posts", "participants", "awaiting_org_reply", "awaiting_since", "own_posts"):
        assert doc[name] == latest[name], name
    assert doc["last_post"]["id"] == "x:4"
    assert doc["last_post"]["text"] == "an edit seen first counts as a post"
    assert doc["last_action"] == run.index["x:4"]["joinability"]["action"]
    scores = {i: run.index[i]["joinability"]["score"] for i in ("x:1", "x:2", "x:4")}
    assert doc["best_joinability"] == max(scores.values())
    assert sorted(doc["participant_ids"]) == ["x:author1", "x:author2"]
    # Every post, edit and delete of a thread published its view: one per enrich message.
    keys = [k for k, _ in run.topics[CONVERSATIONS]]
    assert keys == ["x:1", "x:1", "x:3", "x:3", "x:1"]
    assert run.topics[CONVERSATIONS][3] == ("x:3", None), "the emptied thread's tombstone"
