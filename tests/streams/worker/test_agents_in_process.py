"""The agents in-process: Faust's ``agent.test_context()`` with the memory store, no broker.

Each test builds the app with :func:`streams.worker.app.create_worker` for the
roles under test, records what the agents send (the topics' ``send`` is
replaced by a recorder), puts raw values on the agent's input and checks the
agent decoded them, ran its step and sent exactly what the step returned, or
dead-lettered the message with its coordinates. The steps' rules themselves
are covered list in, list out in ``tests/streams/steps``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from schemas.models import CanonicalPost, EnrichedPost, PostDeleted
from streams import topic_names as names
from streams.profiles import load_profile_with_digest
from streams.settings import Settings
from streams.steps.route import locator
from streams.worker.app import WorkerApp, create_worker
from streams.worker.ner import EntityMap
from streams.worker.resources import Resources


@dataclass
class Sent:
    topic: str
    key: str | None
    value: bytes


@dataclass
class Recorder:
    """Stands in for the producer: every ``send`` on the app's topics, in order."""

    sent: list[Sent] = field(default_factory=list)

    def install(self, worker: WorkerApp, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in (names.NORMALIZED, names.ENRICHED, names.DLQ, names.BY_ID, names.CONVERSATIONS):
            topic = worker.topics.named(name)

            async def send(
                *, key: str | None = None, value: bytes = b"", _name: str = name, **kw: Any
            ) -> None:
                self.sent.append(Sent(_name, key, value))

            monkeypatch.setattr(topic, "send", send)

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Sent]:
        """The first ``count`` sends (the agent runs as its own task after ``put``)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.sent) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"expected {count} sends, got {self.sent}")
            await asyncio.sleep(0.005)
        return self.sent


class FakeNer:
    """Entities without spaCy: one PLACE per post that says 'Elm Street'."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[str, str]]] = []

    async def extract(self, records: Sequence[tuple[str, str]]) -> EntityMap:
        self.batches.append(list(records))
        return {
            post_id: [
                {"text": "Elm Street", "label": "PLACE", "start": 0, "end": 10, "source": "model"}
            ]
            for post_id, text in records
            if text.startswith("Elm Street")
        }

    def close(self) -> None:
        pass


def _settings(tmp_path: Path) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return Settings(
        app_id=f"townsquare-inproc-{tag}",
        data_dir=tmp_path,
        topic_prefix=f"t{tag}.",
        metrics_port=0,
        batch_wait=0.05,
        batch_size=8,
    )


@pytest.fixture
async def worker(tmp_path: Path) -> AsyncIterator[WorkerApp]:
    """The app of the stages under test, with a fixed profile and NER that needs no spaCy."""
    settings = _settings(tmp_path)
    resources = Resources(settings, profile=load_profile_with_digest(settings), ner=FakeNer())
    yield create_worker(settings, ["normalize", "locate", "enrich"], resources=resources)
    await resources.close()


@pytest.fixture
def sent(worker: WorkerApp, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    recorder.install(worker, monkeypatch)
    return recorder


def _post(n: int, conversation: int, kind: str = "post", text: str = "") -> dict[str, Any]:
    return {
        "kind": kind,
        "id": f"x:{n}",
        "platform": "x",
        "created_at": "2026-05-01T10:00:00Z",
        "text": text or ("" if kind == "delete" else f"post {n}"),
        "author": {"id": "x:resident", "handle": "resident"},
        "conversation_id": f"x:{conversation}",
    }


def _envelope(payload: Any, fmt: str = "canonical") -> bytes:
    return json.dumps(
        {
            "ingest_id": "inproc",
            "source": "test",
            "format": fmt,
            "received_at": "2026-05-01T12:00:00Z",
            "payload": payload,
        }
    ).encode()


# --- normalize --------------------------------------------------------------------------


async def test_normalize_sends_the_post_to_its_thread_then_a_locator(
    worker: WorkerApp, sent: Recorder
) -> None:
    agent = worker.app.agents["townsquare.normalize"]
    async with agent.test_context() as test_agent:
        await test_agent.put(_envelope(_post(2, 1)), key="raw-1")
        out = await sent.wait_for(2)
    assert [(s.topic, s.key) for s in out] == [
        (names.NORMALIZED, "x:1"),
        (names.BY_ID, "x:2"),
    ]
    post = CanonicalPost.model_validate_json(out[0].value)
    assert (post.id, post.ingest_id) == ("x:2", "inproc")
    assert out[1].value == locator(post)


async def test_normalize_dead_letters_a_bad_message_with_its_coordinates_and_goes_on(
    worker: WorkerApp, sent: Recorder
) -> None:
    agent = worker.app.agents["townsquare.normalize"]
    async with agent.test_context() as test_agent:
        await test_agent.put(b"\xff\xfe not utf-8", key="raw-bad", partition=1)
        await test_agent.put(_envelope(_post(3, 3, kind="delete")), key="raw-ok")
        out = await sent.wait_for(2)
    letter = json.loads(out[0].value)
    assert out[0].topic == names.DLQ and out[0].key == "raw-bad"
    assert letter["stage"] == "normalize"
    assert letter["reason"] == "invalid_utf8"
    assert (letter["partition"], letter["offset"]) == (1, 0)
    assert letter["topic"] == worker.topics.raw.get_topic_name()
    assert letter["payload_size"] == len(b"\xff\xfe not utf-8")
    # The worker went on: the next message, a delete naming no thread, went to locate.
    assert [(s.topic, s.key) for s in out[1:]] == [(names.BY_ID, "x:3")]


# --- locate ---------------------------------------------------------------------------


async def test_locate_forwards_a_late_delete_to_the_thread_of_its_post(
    worker: WorkerApp, sent: Recorder
) -> None:
    agent = worker.app.agents["townsquare.locate"]
    reply = CanonicalPost.model_validate(_post(2, 1))
    delete = _post(2, 2, kind="delete")
    async with agent.test_context() as test_agent:
        await test_agent.put(locator(reply), key="x:2")
        await test_agent.put(json.dumps(delete).encode(), key="x:2")
        out = await sent.wait_for(1)
    [forward] = out
    assert (forward.topic, forward.key) == (names.NORMALIZED, "x:1")
    assert CanonicalPost.model_validate_json(forward.value).conversation_id == "x:1"
    assert worker.tables.locations["x:2"] == {"conversation_id": "x:1"}


async def test_locate_holds_a_delete_that_overtook_its_post_until_the_locator_comes(
    worker: WorkerApp, sent: Recorder
) -> None:
    agent = worker.app.agents["townsquare.locate"]
    reply = CanonicalPost.model_validate(_post(2, 1))
    async with agent.test_context() as test_agent:
        await test_agent.put(json.dumps(_post(2, 2, kind="delete")).encode(), key="x:2")
        await sent.wait_for(1)
        assert "pending_delete" in worker.tables.locations["x:2"]
        await test_agent.put(locator(reply), key="x:2")
        out = await sent.wait_for(2)
    assert [(s.topic, s.key) for s in out] == [
        (names.NORMALIZED, "x:2"),
        (names.NORMALIZED, "x:1"),
    ]
    assert worker.tables.locations["x:2"] == {"conversation_id": "x:1"}


async def test_locate_dead_letters_what_it_cannot_read(worker: WorkerApp, sent: Recorder) -> None:
    agent = worker.app.agents["townsquare.locate"]
    reply = CanonicalPost.model_validate(_post(4, 1))
    async with agent.test_context() as test_agent:
        await test_agent.put(b'{"kind": "locate"}', key="x:9", partition=1)
        await test_agent.put(locator(reply), key="x:4")
        await sent.wait_for(1)
        await asyncio.sleep(0.05)
    [letter_sent] = sent.sent
    letter = json.loads(letter_sent.value)
    assert (letter_sent.topic, letter["stage"], letter["reason"]) == (
        names.DLQ,
        "locate",
        "locate_failed",
    )
    assert (letter["partition"], letter["offset"], letter["key"]) == (1, 0, "x:9")
    assert worker.tables.locations["x:4"] == {"conversation_id": "x:1"}, "it went on"


# --- enrich ---------------------------------------------------------------------------


async def test_enrich_publishes_posts_and_tombstones_and_keeps_the_thread_state(
    worker: WorkerApp, sent: Recorder
) -> None:
    from streams.metrics import MESSAGES

    def count(outcome: str) -> float:
        return MESSAGES.labels(stage="enrich", outcome=outcome)._value.get()

    before = {o: count(o) for o in ("ok", "deleted")}
    agent = worker.app.agents["townsquare.enrich"]
    posts = [
        _post(1, 1, text="Elm Street bins were missed again"),
        _post(2, 1, text="same here"),
        _post(2, 1, kind="delete"),
        {"not": "a post"},
    ]
    async with agent.test_context() as test_agent:
        for data in posts:
            await test_agent.put(json.dumps(data).encode(), key="x:1", wait=False)
            await asyncio.sleep(0)
        out = await sent.wait_for(7)
    enriched = [s for s in out if s.topic == names.ENRICHED]
    assert [s.key for s in enriched] == ["x:1", "x:1", "x:1"]
    # After each of them, the thread's view for the conversations index.
    views = [s for s in out if s.topic == names.CONVERSATIONS]
    assert [(s.key, json.loads(s.value)["posts"]) for s in views] == [
        ("x:1", 1),
        ("x:1", 2),
        ("x:1", 1),
    ]
    first = EnrichedPost.model_validate_json(enriched[0].value)
    assert [e.text for e in first.entities] == ["Elm Street"], "the NER batch reached the step"
    assert PostDeleted.model_validate_json(enriched[2].value).id == "x:2"
    state = worker.tables.conversations["x:1"]
    assert state["post_count"] == 1 and "x:2" in state["deleted_post_ids"]
    [letter] = [json.loads(s.value) for s in out if s.topic == names.DLQ]
    assert (letter["stage"], letter["reason"], letter["offset"]) == ("enrich", "schema", 3)
    # outcomes are counted once per batch, and add up to what was sent
    assert (count("ok") - before["ok"], count("deleted") - before["deleted"]) == (2, 1)
