"""Reply deadlines through the real broker, with a controlled clock and a worker restart.

The deadlines agent and its timer run in process (``app.start()`` on an app
built by ``create_worker`` with only this module registered, the timer every
0.2 s, the clock a variable of the test) against the local Kafka: thread
states go onto ``conversations.state`` as enrich publishes them, alerts are
read back from the alerts topic. The restart is a second app with the same
id on the same topics: it has only what the ``deadlines`` changelog holds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaProducer
from support import Isolated, Servers, isolated, read_topic

from processors.alerts import alert_id
from processors.rules_file import RulesFile
from schemas.models import Alert, ConversationView, LastPost
from streams import topic_names as names
from streams.cli.setup import run_setup
from streams.kafka_config import kafka_python_config
from streams.profiles import load_profile_with_digest
from streams.worker.agents import alert_deadlines
from streams.worker.app import create_worker
from streams.worker.resources import Resources

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
WAITS, ANSWERED = "x:dl-1", "x:dl-2"


class Clock:
    """The timer's clock: the test sets ``now``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _view(conversation: str, awaiting: bool) -> bytes:
    post = f"{conversation}-q"
    return (
        ConversationView(
            conversation_id=conversation,
            platform="x",
            posts=1 if awaiting else 2,
            awaiting_org_reply=awaiting,
            awaiting_since=T0 if awaiting else None,
            awaiting_post_id=post if awaiting else None,
            last_post=LastPost(id=post, author_id="x:jo", handle="jo_resident", created_at=T0),
            updated_at=T0,
        )
        .model_dump_json()
        .encode()
    )


def _publish(iso: Isolated, *records: tuple[str, bytes]) -> None:
    producer = KafkaProducer(acks="all", **kafka_python_config(iso.settings))
    try:
        for key, value in records:
            producer.send(
                iso.settings.topic(names.CONVERSATIONS), key=key.encode(), value=value
            ).get(timeout=30)
    finally:
        producer.close()


def _alerts(iso: Isolated) -> list[Alert]:
    return [
        Alert.model_validate_json(value)
        for _, value in read_topic(iso.settings, names.ALERTS)
        if value and json.loads(value).get("kind") == "reply_deadline"
    ]


async def _until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def _alerts_async(iso: Isolated) -> list[Alert]:
    return await asyncio.to_thread(_alerts, iso)


async def _until_alerts(iso: Isolated, count: int, timeout: float = 60) -> list[Alert]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await _alerts_async(iso)
        if len(found) >= count or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.5)


class InProcess:
    """One deadlines worker in this process (start, then stop)."""

    def __init__(self, iso: Isolated, clock: Clock) -> None:
        settings = iso.settings
        self.resources = Resources(
            settings, profile=load_profile_with_digest(settings), rules=RulesFile()
        )
        self.worker = create_worker(settings, [], resources=self.resources)
        alert_deadlines.register(
            self.worker.app,
            self.worker.topics,
            self.worker.tables,
            self.resources,
            clock=clock,
            every=0.2,
        )
        self.table = self.worker.tables.deadlines

    async def __aenter__(self) -> InProcess:
        await self.worker.app.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.worker.app.stop()
        await self.resources.close()


def test_alert_at_the_sla_escalation_at_twice_none_after_a_reply_and_after_a_restart(
    servers: Servers, tmp_path: Path
) -> None:
    iso = isolated(servers, tmp_path)
    run_setup(iso.settings)
    iso.settings.data_dir.mkdir(parents=True, exist_ok=True)
    sla = timedelta(minutes=load_profile_with_digest(iso.settings).org.reply_sla_minutes)
    clock = Clock(T0 + sla - timedelta(minutes=1))
    _publish(iso, (WAITS, _view(WAITS, True)), (ANSWERED, _view(ANSWERED, True)))

    async def scenario() -> None:
        async with InProcess(iso, clock) as first:
            await _until(lambda: len(first.table) == 2, 90, "both threads in the table")
            await asyncio.sleep(1.0)  # several timer runs just before the SLA
            assert await _alerts_async(iso) == []

            clock.now = T0 + sla
            at_sla = await _until_alerts(iso, 2)
            assert sorted(a.conversation_id or "" for a in at_sla) == [WAITS, ANSWERED]
            assert {a.severity for a in at_sla} == {"warning"}

            # Our reply to one thread: its entry goes; the other waits on.
            _publish(iso, (ANSWERED, _view(ANSWERED, False)))
            await _until(lambda: ANSWERED not in first.table, 30, "the reply to clear it")
            assert first.table[WAITS]["level"] == 1

        clock.now = T0 + sla + timedelta(minutes=10)
        async with InProcess(iso, clock) as second:
            # Only the changelog brought the entry (and its level) back.
            await _until(lambda: WAITS in second.table, 90, "the table recovered")
            assert ANSWERED not in second.table
            assert second.table[WAITS]["level"] == 1
            await asyncio.sleep(1.0)
            assert len(await _alerts_async(iso)) == 2, "the restart alerted again"

            clock.now = T0 + 2 * sla
            escalated = await _until_alerts(iso, 3)
            await asyncio.sleep(1.0)  # more timer runs: nothing more
            assert len(await _alerts_async(iso)) == 3

        clock.now = T0 + 10 * sla
        async with InProcess(iso, clock) as third:
            await _until(lambda: WAITS in third.table, 90, "the table recovered again")
            await asyncio.sleep(1.0)
        final = await _alerts_async(iso)
        assert final == escalated, "a second restart must not alert again"
        by_id = {a.id: a for a in final}
        expected = {
            alert_id("reply_deadline", "awaiting-reply", WAITS, f"{WAITS}-q", "1"): "warning",
            alert_id("reply_deadline", "awaiting-reply", ANSWERED, f"{ANSWERED}-q", "1"): "warning",
            alert_id("reply_deadline", "awaiting-reply", WAITS, f"{WAITS}-q", "2"): "critical",
        }
        assert {i: a.severity for i, a in by_id.items()} == expected
        keys = {key for key, value in read_topic(iso.settings, names.ALERTS)}
        assert keys == {WAITS, ANSWERED}, "alerts are keyed by conversation"

    asyncio.run(scenario())
