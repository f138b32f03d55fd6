"""deadlines: a post that has waited too long for our reply raises an alert, once per level.

"Close the loop" is the first alert a team wants: someone who addressed us is
still waiting. The alert stage follows each thread's current state on
``conversations.state`` (:class:`schemas.models.ConversationView`) and keeps,
per conversation that awaits our reply, one small :class:`Waiting` entry in
the changelog-backed ``deadlines`` table: since when, which post, whose, and
the level already alerted. A timer then asks :func:`check` of every entry:

* level 1 ("awaiting reply", :attr:`DeadlineConfig.severity`) once the post
  has waited the profile's ``reply_sla_minutes``;
* level 2 (escalated, :attr:`DeadlineConfig.escalated_severity`) at twice
  the SLA.

The level lives in the table, not in memory, so a worker that restarts (or a
partition that moves to another worker) neither alerts again nor forgets to
escalate. An entry first seen past twice the SLA (the alert role was down, a
fresh deployment replays the topic) gets the escalated alert only: two alerts
at once for one wait would be noise.

An own reply clears the entry (:func:`track`: the view no longer awaits), and a
different waiting post starts a new one at level 0, so its alerts get new ids.
Alert ids are ``alert_id("reply_deadline", "awaiting-reply", conversation,
waiting post, level)``: the same wait at the same level always gives the same
id, so a replay or a timer that fires twice after a crash is one alert
downstream.

Plain records in and out, with ``now`` passed in: the tests run the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict

from processors.alerts import alert_id, discover_url
from processors.rules_file import DeadlineConfig
from schemas.models import Alert, Condition, ConversationView
from streams.steps.outputs import Send
from streams.topic_names import ALERTS

KIND = "reply_deadline"
RULE = "awaiting-reply"
POSTS_DATA_VIEW = "townsquare-posts"
"""The shipped Kibana data view of posts (deploy/kibana), for the alert's Discover link."""


class Waiting(BaseModel):
    """One conversation's wait for our reply, as the ``deadlines`` table stores it (JSON)."""

    model_config = ConfigDict(extra="ignore")

    conversation_id: str
    post_id: str | None = None
    since: datetime
    platform: str
    handle: str | None = None
    url: str | None = None
    level: int = 0
    """0: nothing alerted yet; 1: "awaiting reply" sent; 2: the escalated one sent."""


def track(stored: Mapping[str, Any] | None, view: ConversationView | None) -> dict[str, Any] | None:
    """The table entry after a new state of the thread (``None``: no entry, nothing waits).

    ``view`` is None for a tombstone (the thread is gone). A thread waiting on
    the same post keeps its entry and level; a different waiting post starts
    at level 0. A waiting thread without ``awaiting_since`` cannot be timed
    and is not tracked.
    """
    if view is None or not view.awaiting_org_reply or view.awaiting_since is None:
        return None
    known = Waiting.model_validate(stored) if stored is not None else None
    last = view.last_post
    shown = last if last is not None and last.id == view.awaiting_post_id else None
    same = known is not None and (
        known.post_id == view.awaiting_post_id
        if view.awaiting_post_id is not None
        else known.post_id is None and known.since == view.awaiting_since
    )
    entry = Waiting(
        conversation_id=view.conversation_id,
        post_id=view.awaiting_post_id,
        since=view.awaiting_since,
        platform=view.platform,
        handle=shown.handle if shown else (known.handle if same and known else None),
        url=shown.url if shown else (known.url if same and known else None),
        level=known.level if same and known else 0,
    )
    return entry.model_dump(mode="json")


def due_level(waited: timedelta, sla: timedelta) -> int:
    """0 before the SLA, 1 from the SLA on, 2 from twice the SLA on."""
    if waited >= 2 * sla:
        return 2
    if waited >= sla:
        return 1
    return 0


class Checked(NamedTuple):
    """What the timer does for one entry: send ``alert`` and store ``stored`` (None: nothing)."""

    alert: Alert | None
    stored: dict[str, Any] | None


def check(
    stored: Mapping[str, Any],
    now: datetime,
    sla_minutes: int,
    config: DeadlineConfig,
    kibana_base_url: str | None = None,
) -> Checked:
    """The alert an entry is due at ``now``, and the entry with its new level.

    Nothing when the level due is not above the level already alerted, or
    when reply deadlines are switched off in the rules file.
    """
    waiting = Waiting.model_validate(stored)
    sla = timedelta(minutes=sla_minutes)
    waited = now - waiting.since
    level = due_level(waited, sla)
    if not config.enabled or level <= waiting.level:
        return Checked(None, None)
    alert = _alert(waiting, level, waited, sla, now, config, kibana_base_url)
    return Checked(alert, waiting.model_copy(update={"level": level}).model_dump(mode="json"))


def sweep(
    table: Mapping[str, Mapping[str, Any]],
    now: datetime,
    sla_minutes: int,
    config: DeadlineConfig,
    kibana_base_url: str | None = None,
    keys: Iterable[str] | None = None,
) -> tuple[list[Alert], dict[str, dict[str, Any]]]:
    """:func:`check` over ``keys`` (default: every key): the alerts and the entries to store."""
    alerts: list[Alert] = []
    updates: dict[str, dict[str, Any]] = {}
    for key in list(table) if keys is None else keys:
        stored = table.get(key)
        if stored is None:
            continue
        checked = check(stored, now, sla_minutes, config, kibana_base_url)
        if checked.alert is not None:
            alerts.append(checked.alert)
        if checked.stored is not None:
            updates[key] = checked.stored
    return alerts, updates


def to_send(alert: Alert) -> Send:
    """The alert on the alerts topic, keyed by its conversation."""
    return Send(ALERTS, alert.conversation_id or "", alert.model_dump_json().encode("utf-8"))


def _alert(
    waiting: Waiting,
    level: int,
    waited: timedelta,
    sla: timedelta,
    now: datetime,
    config: DeadlineConfig,
    kibana_base_url: str | None,
) -> Alert:
    who = f"@{waiting.handle}" if waiting.handle else "Someone"
    if level == 2:
        summary = (
            f"{who} has waited {_span(waited)} for our reply, more than twice the "
            f"reply SLA of {_span(sla)}"
        )
    else:
        summary = f"{who} has waited {_span(waited)} for our reply (reply SLA {_span(sla)})"
    return Alert(
        id=alert_id(KIND, RULE, waiting.conversation_id, waiting.post_id or "", str(level)),
        kind=KIND,
        rule=RULE,
        severity=config.escalated_severity if level == 2 else config.severity,
        created_at=now,
        conversation_id=waiting.conversation_id,
        post_id=waiting.post_id,
        platform=waiting.platform,
        author_handle=waiting.handle,
        summary=summary,
        why=[
            Condition(field="awaiting_since", value=waiting.since.isoformat()),
            Condition(field="waited_minutes", value=str(int(waited.total_seconds() // 60))),
            Condition(field="reply_sla_minutes", value=str(int(sla.total_seconds() // 60))),
            Condition(field="level", value="escalated" if level == 2 else "awaiting reply"),
        ],
        url=waiting.url,
        kibana_url=discover_url(kibana_base_url, POSTS_DATA_VIEW, waiting.post_id),
        awaiting_since=waiting.since,
        outputs=list(config.outputs),
    )


def _span(delta: timedelta) -> str:
    """``1d 2h``, ``4h 10m``, ``35m``: how long, for a person."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {mins}m" if mins else f"{hours}h"
    return f"{mins}m"
