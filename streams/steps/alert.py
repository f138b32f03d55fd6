"""alert: a batch of enriched posts + each conversation's throttle state -> alerts + new state.

Every rule (:mod:`processors.rules`) is evaluated on every post, in partition
order. A rule that fires raises an :class:`~schemas.models.Alert` unless the
same rule raised one in the same conversation less than its ``throttle``
before: the throttle table (keyed by conversation id, like the topic) holds,
per rule, when it last fired there and on which post.

Time is the post's ``received_at`` (when it reached us; else ``created_at``),
never the clock, so reprocessing the same records throttles exactly as the
first pass did. The alert id is ``alert_id("rule", rule, post id)``: the same
post firing the same rule again (a redelivery after a crash, a replay, an
edit) gives the same id, which the index overwrites and a notifier delivers
once. That is also why the post a rule last fired on is never throttled: its
alert is raised again, with the same id, in case the first one was lost
with the crash that caused the redelivery.

The alerts index stage has its own small step here, :func:`alert_actions`:
alert-topic values -> one bulk action per alert id.

Pure: no Faust, Kafka or Elasticsearch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, ValidationError

from processors.adapters.common import loads_json
from processors.adapters.errors import AdapterError
from processors.alerts import alert_id, discover_url
from processors.rules import evaluate, post_view
from processors.rules_file import Rule
from schemas.models import Alert, Condition, EnrichedPost, PostDeleted
from streams.steps.collapse import Collapsed
from streams.steps.enriched_fast import fast_enriched
from streams.steps.expiry import Expired
from streams.steps.outputs import Rejected, Send
from streams.topic_names import ALERTS

__all__ = [
    "POSTS_DATA_VIEW",
    "Decoded",
    "Raised",
    "ThrottleState",
    "alert_actions",
    "alert_document",
    "decode",
    "expire_throttle",
    "raise_alerts",
    "summary",
]

POSTS_DATA_VIEW = "townsquare-posts"
"""Id of the shipped Kibana data view over posts (deploy/kibana), for the Discover link."""
SUMMARY_TEXT = 140
"""Characters of the post's text an alert's summary quotes."""


class Fired(BaseModel):
    """When a rule last fired in a conversation, and on which post."""

    model_config = ConfigDict(extra="ignore")

    at: datetime
    post_id: str


class ThrottleState(BaseModel):
    """One conversation's throttle-table value: rule name -> when it last fired."""

    model_config = ConfigDict(extra="ignore")

    fired: dict[str, Fired] = {}


def load_throttle(value: Any) -> ThrottleState:
    """A table value -> the state; a missing or unreadable value is an empty state.

    Unreadable means written by another version: forgetting a throttle costs
    at most one extra alert, while refusing the post would lose alerts.
    """
    if value is None:
        return ThrottleState()
    try:
        return ThrottleState.model_validate(value)
    except ValidationError:
        return ThrottleState()


def expire_throttle(value: Any, cutoff: datetime) -> Expired:
    """Forget the firings before ``cutoff`` (now minus the retention period).

    Without a sweep the table kept one entry per conversation ever alerted on,
    with a post id in it, for good. A firing that old throttles nothing any
    more (every rule's ``throttle`` is far shorter than a retention period),
    so forgetting it changes no alert; a redelivered old post raises its alert
    under the same id again, which the index and notifiers take once. An
    unreadable value goes too (:func:`load_throttle` reads it as empty).
    """
    state = load_throttle(value)
    kept = {rule: fired for rule, fired in state.fired.items() if fired.at >= cutoff}
    if not kept:
        return Expired(drop=True, state=None)
    if len(kept) == len(state.fired):
        return Expired(drop=False, state=None)
    return Expired(drop=False, state=ThrottleState(fired=kept).model_dump(mode="json"))


class Decoded(NamedTuple):
    """One posts.enriched value: a post, a tombstone (``post`` None), or a refusal."""

    post: EnrichedPost | None
    rejected: Rejected | None = None


def decode(value: bytes | None) -> Decoded:
    """Decode a posts.enriched value; tombstones are recognised, bad values rejected."""
    fast = fast_enriched(value)
    if fast is not None:
        return Decoded(fast)
    try:
        data = loads_json(value or b"", "posts.enriched value")
    except AdapterError as exc:  # anything a producer other than enrich could put there
        return Decoded(None, Rejected(exc.reason, str(exc)))
    if not isinstance(data, dict):
        return Decoded(None, Rejected("wrong_type", f"expected a JSON object, not {data!r:.80}"))
    try:
        if data.get("kind") == "delete":
            PostDeleted.model_validate(data)
            return Decoded(None)
        return Decoded(EnrichedPost.model_validate(data))
    except ValidationError as exc:
        return Decoded(None, Rejected("schema", str(exc)))


def seen_at(post: EnrichedPost) -> datetime:
    """When the post reached us (``received_at``), else when it was written."""
    return post.received_at or post.created_at


def summary(rule: Rule, post: EnrichedPost) -> str:
    """One line: what the rule means, who, and the start of what they wrote (never if redacted)."""
    what = " ".join((rule.description or rule.name).split())
    who = f"@{post.author.handle}" if post.author.handle else post.author.id
    if post.redacted:
        return f"{what}: {who} (text redacted)"
    text = " ".join(post.text.split())
    if len(text) > SUMMARY_TEXT:
        text = text[:SUMMARY_TEXT].rstrip() + "…"
    return f"{what}: {who}: {text}" if text else f"{what}: {who}"


def build_alert(
    rule: Rule, post: EnrichedPost, why: list[Condition], now: datetime, kibana_base_url: str | None
) -> Alert:
    """The alert ``rule`` raises on ``post``."""
    return Alert(
        id=alert_id("rule", rule.name, post.id),
        kind="rule",
        rule=rule.name,
        severity=rule.severity,
        created_at=now,
        conversation_id=post.conversation_id,
        post_id=post.id,
        platform=post.platform,
        author_handle=post.author.handle,
        summary=summary(rule, post),
        why=why,
        url=post.url,
        kibana_url=discover_url(kibana_base_url, POSTS_DATA_VIEW, post.id),
        joinability_score=post.joinability.score,
        action=post.joinability.action,
        stakeholder_labels=[s.label for s in post.stakeholders],
        awaiting_since=post.conversation.awaiting_since,
        outputs=list(rule.outputs),
    )


class Raised(NamedTuple):
    """What one batch raised, the throttle states to store, and per-post outcomes.

    ``sends`` are the alerts as records for ``alerts`` (keyed by conversation
    id), in order; ``throttle`` holds only the conversations whose state
    changed; ``rejected`` are ``(position, why)`` of posts no alert could be
    built for; ``outcomes`` counts posts by what happened: ``alerted``,
    ``throttled`` (a rule fired, every alert was held back), ``ok`` (no rule fired).
    """

    alerts: list[Alert]
    sends: list[Send]
    throttle: dict[str, dict[str, Any]]
    rejected: list[tuple[int, Rejected]]
    outcomes: Counter[str]


def _throttled(fired: Fired | None, post: EnrichedPost, at: datetime, window: timedelta) -> bool:
    if fired is None or fired.post_id == post.id:
        return False
    return abs(at - fired.at) < window


def _prune(state: ThrottleState, rules: Mapping[str, Rule], newest: datetime) -> ThrottleState:
    """Forget rules that are gone, and firings too old to throttle anything from ``newest`` on."""
    kept = {
        name: fired
        for name, fired in state.fired.items()
        if name in rules and newest - fired.at < rules[name].throttle
    }
    return ThrottleState(fired=kept)


def raise_alerts(
    posts: Sequence[EnrichedPost | None],
    stored: Mapping[str, Any],
    rules: Iterable[Rule],
    now: datetime,
    kibana_base_url: str | None = None,
) -> Raised:
    """Evaluate every rule on every post in order, against and updating the throttle states.

    ``posts`` may hold None (a tombstone or an undecodable value, positions kept
    so rejections point at the right message); ``stored`` maps conversation id
    -> the throttle table's value (missing: none). ``now`` is the alerts'
    ``created_at``; throttling never reads it.
    """
    by_name = {rule.name: rule for rule in rules}
    states: dict[str, ThrottleState] = {}
    changed: set[str] = set()
    newest: dict[str, datetime] = {}
    alerts: list[Alert] = []
    rejected: list[tuple[int, Rejected]] = []
    outcomes: Counter[str] = Counter()
    for position, post in enumerate(posts):
        if post is None:
            continue
        key = post.conversation_id
        if key not in states:
            states[key] = load_throttle(stored.get(key))
        state = states[key]
        at = seen_at(post)
        newest[key] = max(at, newest.get(key, at))
        view = post_view(post)
        fired_any = held_any = False
        raised: list[tuple[Rule, Alert]] = []
        try:
            for rule in by_name.values():
                why = evaluate(rule, view)
                if why is None:
                    continue
                previous = state.fired.get(rule.name)
                if _throttled(previous, post, at, rule.throttle):
                    held_any = True
                    continue
                raised.append((rule, build_alert(rule, post, why, now, kibana_base_url)))
        except (ValidationError, ValueError) as exc:  # policy: the post is dead-lettered
            rejected.append((position, Rejected("alert_failed", f"{type(exc).__name__}: {exc}")))
            continue
        for rule, alert in raised:
            fired_any = True
            alerts.append(alert)
            previous = state.fired.get(rule.name)
            if previous is None or (previous.post_id != post.id and at >= previous.at):
                state.fired[rule.name] = Fired(at=at, post_id=post.id)
                changed.add(key)
        outcomes["alerted" if fired_any else "throttled" if held_any else "ok"] += 1
    throttle = {
        key: _prune(states[key], by_name, newest[key]).model_dump(mode="json")
        for key in states
        if key in changed
    }
    sends = [
        Send(ALERTS, alert.conversation_id or alert.rule, alert.model_dump_json().encode())
        for alert in alerts
    ]
    return Raised(alerts, sends, throttle, rejected, outcomes)


# --- the alerts index ---------------------------------------------------------------


def alert_document(alert: Alert, now: datetime) -> dict[str, Any]:
    """The alerts-index document: the alert as published, plus when it was indexed."""
    return {**alert.model_dump(mode="json"), "indexed_at": now.isoformat()}


def alert_actions(values: Sequence[bytes], alias: str, now: datetime) -> Collapsed:
    """One bulk index action per alert id (the last one in ``values``), plus the bad values.

    ``_id`` is the alert id, so a replayed or redelivered alert overwrites its
    document. Positions index ``values``, as :func:`streams.steps.collapse.collapse`'s do.
    """
    latest: dict[str, tuple[int, dict[str, Any]]] = {}
    rejected: list[tuple[int, Rejected]] = []
    for position, value in enumerate(values):
        try:
            alert = Alert.model_validate_json(value)
        except ValidationError as exc:
            reason = "invalid_json" if _json_error(exc) else "schema"
            rejected.append((position, Rejected(reason, str(exc))))
            continue
        action = {
            "_op_type": "index",
            "_index": alias,
            "_id": alert.id,
            "_source": alert_document(alert, now),
        }
        latest.pop(alert.id, None)
        latest[alert.id] = (position, action)
    return Collapsed(list(latest.values()), rejected)


def _json_error(exc: ValidationError) -> bool:
    return any(error["type"] == "json_invalid" for error in exc.errors())
