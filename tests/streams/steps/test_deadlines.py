"""Reply deadlines, list in and list out, against a controlled clock.

:class:`Worker` plays the alert role the way the agent and its timer do: it
follows conversation views into a table, ticks at given times and records
every table write as its changelog would hold it. A *restart* is a new
worker whose table is rebuilt from that changelog alone (the last value per
key, a ``None`` deleting it), which is all a restarted Faust worker has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from processors.alerts import alert_id
from processors.rules_file import DeadlineConfig
from schemas.models import Alert, ConversationView, LastPost
from streams.steps.deadlines import RULE, check, due_level, sweep, to_send, track
from streams.topic_names import ALERTS

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
SLA = 60  # minutes
CONFIG = DeadlineConfig()
CONV = "x:100"


def view(
    awaiting: bool = True,
    post_id: str | None = "x:101",
    since: datetime = T0,
    conversation: str = CONV,
) -> ConversationView:
    return ConversationView(
        conversation_id=conversation,
        platform="x",
        posts=2,
        awaiting_org_reply=awaiting,
        awaiting_since=since if awaiting else None,
        awaiting_post_id=post_id if awaiting else None,
        last_post=LastPost(
            id=post_id or "x:999",
            author_id="x:jo",
            handle="jo_resident",
            created_at=since,
            url=f"https://x.example/{post_id}",
        ),
        updated_at=since,
    )


@dataclass
class Worker:
    """The agent and its timer over a dict, writing a changelog as the table would."""

    changelog: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)
    table: dict[str, dict[str, Any]] = field(default_factory=dict)
    sent: list[Alert] = field(default_factory=list)

    @classmethod
    def restarted(cls, changelog: list[tuple[str, dict[str, Any] | None]]) -> Worker:
        table: dict[str, dict[str, Any]] = {}
        for key, value in changelog:
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
        return cls(changelog=list(changelog), table=table)

    def follow(self, v: ConversationView | None, key: str = CONV) -> None:
        known = self.table.get(key)
        entry = track(known, v)
        if entry is None and known is not None:
            del self.table[key]
            self.changelog.append((key, None))
        elif entry is not None and entry != known:
            self.table[key] = entry
            self.changelog.append((key, entry))

    def tick(self, minutes: float, sla: int = SLA, config: DeadlineConfig = CONFIG) -> list[Alert]:
        alerts, updates = sweep(self.table, T0 + timedelta(minutes=minutes), sla, config)
        for key, value in updates.items():
            self.table[key] = value
            self.changelog.append((key, value))
        self.sent += alerts
        return alerts


def levels(alerts: list[Alert]) -> list[tuple[str, str]]:
    return [(a.severity, a.why[-1].value) for a in alerts]


def test_due_level_counts_from_the_sla_and_from_twice_the_sla() -> None:
    sla = timedelta(minutes=SLA)
    assert [due_level(sla * f, sla) for f in (0, 0.99, 1, 1.5, 1.999, 2, 9)] == [
        0,
        0,
        1,
        1,
        1,
        2,
        2,
    ]


def test_an_alert_at_the_sla_and_an_escalated_one_at_twice_the_sla() -> None:
    worker = Worker()
    worker.follow(view())
    assert worker.tick(59) == []
    [first] = worker.tick(60)
    assert worker.tick(61) == [] and worker.tick(119) == []
    [second] = worker.tick(120)
    assert worker.tick(121) == [] and worker.tick(600) == []

    assert (first.severity, second.severity) == ("warning", "critical")
    assert first.id == alert_id("reply_deadline", RULE, CONV, "x:101", "1")
    assert second.id == alert_id("reply_deadline", RULE, CONV, "x:101", "2")
    assert first.kind == second.kind == "reply_deadline"
    assert (first.conversation_id, first.post_id, first.author_handle) == (
        CONV,
        "x:101",
        "jo_resident",
    )
    assert first.url == "https://x.example/x:101"
    assert first.awaiting_since == T0
    assert first.summary == "@jo_resident has waited 1h for our reply (reply SLA 1h)"
    assert "more than twice" in second.summary
    assert {c.field: c.value for c in first.why}["waited_minutes"] == "60"
    send = to_send(first)
    assert (send.topic_name, send.key) == (ALERTS, CONV)
    assert Alert.model_validate_json(send.value) == first


def test_an_own_reply_clears_the_deadline() -> None:
    worker = Worker()
    worker.follow(view())
    assert len(worker.tick(60)) == 1
    worker.follow(view(awaiting=False))  # our reply: the thread no longer waits
    assert worker.table == {}
    assert worker.tick(120) == [] and worker.tick(1000) == []


def test_an_own_reply_before_the_sla_means_no_alert_at_all() -> None:
    worker = Worker()
    worker.follow(view())
    assert worker.tick(30) == []
    worker.follow(view(awaiting=False))
    assert worker.tick(60) == [] and worker.tick(120) == []


def test_a_restart_neither_repeats_nor_forgets_the_escalation() -> None:
    first = Worker()
    first.follow(view())
    assert levels(first.tick(60)) == [("warning", "awaiting reply")]

    # A new worker with only the changelog: the level came back with it.
    second = Worker.restarted(first.changelog)
    assert second.table == first.table
    assert second.tick(61) == [] and second.tick(119) == []
    assert levels(second.tick(120)) == [("critical", "escalated")]

    third = Worker.restarted(second.changelog)
    assert third.tick(121) == [] and third.tick(10_000) == []
    ids = [a.id for a in first.sent + second.sent]
    assert len(ids) == len(set(ids)) == 2


def test_a_restart_after_the_own_reply_raises_nothing() -> None:
    first = Worker()
    first.follow(view())
    first.tick(60)
    first.follow(view(awaiting=False))
    second = Worker.restarted(first.changelog)
    assert second.table == {}
    assert second.tick(120) == [] and second.tick(240) == []


def test_a_restart_before_the_sla_still_alerts_once_at_the_sla() -> None:
    first = Worker()
    first.follow(view())
    assert first.tick(30) == []
    second = Worker.restarted(first.changelog)
    assert len(second.tick(60)) == 1
    assert second.tick(61) == []


def test_a_redelivered_state_keeps_the_level() -> None:
    worker = Worker()
    worker.follow(view())
    worker.tick(60)
    writes = len(worker.changelog)
    worker.follow(view())  # the same view again (a replay of the compacted topic)
    assert len(worker.changelog) == writes, "nothing changed, nothing written"
    assert worker.tick(61) == []


def test_a_different_waiting_post_starts_a_new_wait() -> None:
    worker = Worker()
    worker.follow(view())
    [old] = worker.tick(60)
    # We answered, then someone else asked: a new waiting post, a new clock.
    worker.follow(view(post_id="x:105", since=T0 + timedelta(minutes=90)))
    assert worker.tick(120) == []
    [new] = worker.tick(150)
    assert new.post_id == "x:105" and new.id != old.id
    assert new.id == alert_id("reply_deadline", RULE, CONV, "x:105", "1")


def test_first_seen_past_twice_the_sla_raises_only_the_escalated_alert() -> None:
    worker = Worker()
    worker.follow(view())
    assert levels(worker.tick(500)) == [("critical", "escalated")]
    assert worker.tick(501) == []


def test_a_tombstone_or_an_untimed_wait_tracks_nothing() -> None:
    assert track(None, None) is None
    assert track(track(None, view()), None) is None
    untimed = view().model_copy(update={"awaiting_since": None})
    assert track(None, untimed) is None


def test_disabled_deadlines_raise_nothing() -> None:
    worker = Worker()
    worker.follow(view())
    assert worker.tick(500, config=DeadlineConfig(enabled=False)) == []


def test_sweep_is_list_in_list_out_over_many_threads() -> None:
    table = {
        f"x:{n}": track(None, view(conversation=f"x:{n}", post_id=f"x:{n}1", since=since))
        for n, since in enumerate([T0, T0 + timedelta(minutes=30), T0 + timedelta(minutes=61)])
    }
    alerts, updates = sweep(
        {k: v for k, v in table.items() if v}, T0 + timedelta(minutes=120), SLA, CONFIG
    )
    assert [(a.conversation_id, a.severity) for a in alerts] == [
        ("x:0", "critical"),
        ("x:1", "warning"),
    ]
    assert {k: v["level"] for k, v in updates.items()} == {"x:0": 2, "x:1": 1}


def test_the_alert_links_to_kibana_and_names_the_outputs() -> None:
    entry = track(None, view())
    assert entry is not None
    config = DeadlineConfig(outputs=["care-team"], severity="info")
    checked = check(entry, T0 + timedelta(hours=1), SLA, config, "https://kibana.example/")
    assert checked.alert is not None
    assert checked.alert.outputs == ["care-team"] and checked.alert.severity == "info"
    assert checked.alert.kibana_url is not None
    assert checked.alert.kibana_url.startswith("https://kibana.example/app/discover#/")
    assert checked.stored is not None and checked.stored["level"] == 1
