"""The business metrics are counted where the work happens (streams/metrics.py names them).

Each test drives one counting point and reads the collector through
prometheus_client's registry, before and after, since the collectors are
process-wide and other tests count too.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import REGISTRY

from processors.erasure import ErasureList
from processors.rules_file import DeadlineConfig
from schemas.models import KIND_HEADER, EnrichedPost, Erasure
from streams import topic_names as names
from streams.profiles import load_profile_with_digest
from streams.settings import Settings
from streams.steps.deadlines import RULE
from streams.steps.enrich import Enriched
from streams.steps.outputs import Send
from streams.worker.agents.alert_deadlines import DeadlineWatch
from streams.worker.agents.enrich import recommended_action
from streams.worker.app import WorkerApp, create_worker
from streams.worker.erasures import ErasureWatch
from streams.worker.ner import EntityMap
from streams.worker.resources import Resources
from streams.worker.topics import Topics

SEVERITIES = ("warning", "critical")


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class NoNer:
    """Entities without spaCy: none, so the step's scoring alone decides the action."""

    async def extract(self, records: Sequence[tuple[str, str]]) -> EntityMap:
        return {}

    def close(self) -> None:
        pass


@pytest.fixture
async def worker(tmp_path: Path) -> AsyncIterator[WorkerApp]:
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        app_id=f"townsquare-bm-{tag}",
        data_dir=tmp_path,
        topic_prefix=f"t{tag}.",
        metrics_port=0,
        batch_wait=0.05,
        batch_size=8,
    )
    resources = Resources(settings, profile=load_profile_with_digest(settings), ner=NoNer())
    yield create_worker(settings, ["enrich"], resources=resources)
    await resources.close()


async def test_enrich_counts_the_recommended_action_of_every_post_it_publishes(
    worker: WorkerApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, bytes]] = []
    for name in (names.ENRICHED, names.CONVERSATIONS, names.DLQ):

        async def send(*, key: Any = None, value: bytes = b"", _n: str = name, **kw: Any) -> None:
            sent.append((_n, value))

        monkeypatch.setattr(worker.topics.named(name), "send", send)
    actions = ("reply", "appreciate", "escalate", "listen_only", "do_not_engage")
    before = {a: sample("townsquare_recommended_actions_total", action=a) for a in actions}
    posts = [
        {
            "kind": kind,
            "id": f"x:{n}",
            "platform": "x",
            "created_at": "2026-05-01T10:00:00Z",
            "text": "" if kind == "delete" else text,
            "author": {"id": "x:resident", "handle": "resident"},
            "conversation_id": "x:1",
        }
        for n, kind, text in (
            (1, "post", "@HarbourCouncil the bins on Elm Street were missed again, when?"),
            (2, "post", "Thank you @HarbourCouncil, the library staff were wonderful"),
            (2, "delete", ""),
        )
    ]
    agent = worker.app.agents["townsquare.enrich"]
    async with agent.test_context() as test_agent:
        for data in posts:
            await test_agent.put(json.dumps(data).encode(), key="x:1", wait=False)
            await asyncio.sleep(0)
        deadline = asyncio.get_running_loop().time() + 5
        while sum(1 for t, _ in sent if t == names.ENRICHED) < 3:
            assert asyncio.get_running_loop().time() < deadline, sent
            await asyncio.sleep(0.01)
    published = [
        EnrichedPost.model_validate_json(v).joinability.action
        for t, v in sent
        if t == names.ENRICHED and json.loads(v).get("kind") != "delete"
    ]
    assert len(published) == 2
    counted = {
        a: sample("townsquare_recommended_actions_total", action=a) - before[a] for a in actions
    }
    # The delete counts nothing.
    expected = {a: float(sum(1 for p in published if p == a)) for a in actions}
    assert counted == expected


def test_recommended_action_reads_the_post_sent_and_ignores_deletes() -> None:
    post = Send(names.ENRICHED, "x:1", json.dumps({"joinability": {"action": "reply"}}).encode())
    view = Send(names.CONVERSATIONS, "x:1", b"{}")
    gone = Send(names.ENRICHED, "x:1", json.dumps({"kind": "delete", "id": "x:1"}).encode())
    assert recommended_action(Enriched(None, [post, view], "ok")) == "reply"
    assert recommended_action(Enriched(None, [gone, view], "deleted")) is None
    assert recommended_action(Enriched(None, [], "skipped")) is None


class _Topic:
    def __init__(self, name: str = "t.topic.v1") -> None:
        self.sent: list[bytes] = []
        self.headers: list[dict[str, bytes]] = []
        self.name = name

    def get_topic_name(self) -> str:
        return self.name

    async def send(
        self, *, key: str, value: bytes, headers: list[tuple[str, bytes]] | None = None
    ) -> asyncio.Future[None]:
        self.sent.append(value)
        self.headers.append(dict(headers or []))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_the_deadline_timer_counts_alerts_by_rule_and_sets_replies_overdue() -> None:
    """Two threads past twice the SLA, one past the SLA, one not yet: 2 escalated, 1 awaiting."""
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    sla = 60

    def waiting(n: int, minutes: int, level: int = 0) -> dict[str, Any]:
        since = (now - timedelta(minutes=minutes)).isoformat()
        return {"conversation_id": f"x:{n}", "post_id": f"x:p{n}", "since": since,
                "platform": "x", "handle": "resident", "level": level}  # fmt: skip

    table = {
        "x:1": waiting(1, 130),
        "x:2": waiting(2, 125, level=2),  # alerted before: counted, not sent again
        "x:3": waiting(3, 70),
        "x:4": waiting(4, 10),
    }
    alerts = _Topic("t.alerts.v1")
    others = ("raw", "normalized", "enriched", "dlq", "by_id")
    topics = Topics(
        **{name: _Topic() for name in others},  # type: ignore[arg-type]
        alerts=alerts,  # type: ignore[arg-type]
        conversations=_Topic("t.conversations.state.v1"),  # type: ignore[arg-type]
    )
    app = SimpleNamespace(
        consumer=SimpleNamespace(topic_partitions=lambda topic: 1),
        conf=SimpleNamespace(topic_partitions=1),
    )
    resources = SimpleNamespace(
        rules=SimpleNamespace(reply_deadlines=DeadlineConfig()),
        org=SimpleNamespace(reply_sla_minutes=sla),
        settings=SimpleNamespace(kibana_base_url=None),
    )
    watch = DeadlineWatch(app, topics, table, resources, lambda: now)  # type: ignore[arg-type]
    before = {sev: sample("townsquare_alerts_total", rule=RULE, severity=sev) for sev in SEVERITIES}
    assert await watch.tick(owned=[0]) == 2
    raised = sorted((a["rule"], a["severity"]) for a in map(json.loads, alerts.sent))
    assert raised == [(RULE, "critical"), (RULE, "warning")]
    # The timer's sends carry the headers, the kind being the alert's own.
    assert {h[KIND_HEADER] for h in alerts.headers} == {b"reply_deadline"}
    after = {sev: sample("townsquare_alerts_total", rule=RULE, severity=sev) for sev in SEVERITIES}
    assert {sev: after[sev] - before[sev] for sev in SEVERITIES} == {"warning": 1, "critical": 1}
    assert sample("townsquare_replies_overdue", level="escalated") == 2
    assert sample("townsquare_replies_overdue", level="awaiting") == 1
    # A second tick sends nothing more, counts nothing more, and keeps the same picture.
    assert await watch.tick(owned=[0]) == 0
    assert sample("townsquare_replies_overdue", level="escalated") == 2
    assert sample("townsquare_alerts_total", rule=RULE, severity="critical") == after["critical"]
    # Our reply clears a thread (the table entry goes): the gauge follows on the next tick.
    del table["x:1"]
    await watch.tick(owned=[0])
    assert sample("townsquare_replies_overdue", level="escalated") == 1


def test_the_erasure_watch_sets_erasures_in_force_as_records_come_and_go() -> None:
    watch = ErasureWatch(Settings(metrics_port=0), ErasureList())
    records = [
        Erasure(subject=s, requested_at=datetime(2026, 5, 1, tzinfo=UTC), requested_by="test")
        for s in ("x:alice", "x:bob")
    ]
    for record in records:
        watch._take(record.key().encode(), record.model_dump_json().encode())
    assert sample("townsquare_erasures_in_force") == 2
    watch._take(records[0].key().encode(), None)  # a tombstone lifts one
    assert sample("townsquare_erasures_in_force") == 1
    watch._take(b"*|x:carol", b"not json")  # ignored, and the gauge still says 1
    assert sample("townsquare_erasures_in_force") == 1
