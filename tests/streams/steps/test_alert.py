"""The alert step, list in list out: each default rule, throttling, and replays that add nothing.

Posts are built in the shape enrichment publishes (tests/processors/test_rules.py
checks that real enrichment produces these shapes for realistic text).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from processors.alerts import alert_id
from processors.rules import load_rules
from processors.rules_file import Rule
from schemas.models import (
    Alert,
    Author,
    ConversationSummary,
    EnrichedPost,
    Joinability,
    PostDeleted,
    Reading,
    Sensitivity,
    Signal,
    Stakeholder,
)
from streams.steps.alert import (
    alert_actions,
    decode,
    load_throttle,
    raise_alerts,
    summary,
)
from streams.topic_names import ALERTS

ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
KIBANA = "https://kibana.example"
RULES = load_rules(None).rules


def enriched(
    n: int,
    conversation: int = 1,
    *,
    text: str = "@HarboursideBC is the tip at Old Mill open on Sundays?",
    action: str = "listen_only",
    score: float = 0.3,
    stakeholders: dict[str, float] | None = None,
    addressed: str = "mention",
    kind: str = "question",
    flags: list[str] | None = None,
    signals: list[str] | None = None,
    minutes: float = 0,
    received: bool = True,
    own: bool = False,
    redacted: bool = False,
    handle: str = "DevPatel88",
) -> EnrichedPost:
    created = T0 + timedelta(minutes=minutes)
    return EnrichedPost(
        id=f"x:{n}",
        platform="x",
        url=f"https://x.example/{handle}/status/{n}",
        created_at=created,
        received_at=created + timedelta(seconds=20) if received else None,
        text="" if redacted else text,
        author=Author(id=f"x:{handle.lower()}", handle=handle, is_org_account=own),
        conversation_id=f"x:c{conversation}",
        stakeholders=[Stakeholder(label=k, score=v) for k, v in (stakeholders or {}).items()],  # type: ignore[arg-type]
        joinability=Joinability(score=score, action=action),  # type: ignore[arg-type]
        conversation=ConversationSummary(posts=1, awaiting_org_reply=True, awaiting_since=created),
        sensitivity=Sensitivity(flags=flags or []),
        reading=Reading(
            addressed=addressed,  # type: ignore[arg-type]
            about_us=True,
            kind=kind,  # type: ignore[arg-type]
            sentiment="neutral",
            signals=[Signal(name=s, score=1.0) for s in signals or []],
        ),
        redacted=redacted,
    )


def reply_now(n: int, conversation: int = 1, **kw: Any) -> EnrichedPost:
    return enriched(
        n, conversation, action="reply", score=0.81, stakeholders={"citizen": 0.6}, **kw
    )


def press(n: int, conversation: int = 1, **kw: Any) -> EnrichedPost:
    return enriched(
        n,
        conversation,
        text="@HarboursideBC Could your press office comment on the Old Mill closure?",
        action="escalate",
        score=0.83,
        stakeholders={"media": 0.985},
        signals=["press", "question"],
        handle="KateLindenNews",
        **kw,
    )


def journalist_thanks(n: int, conversation: int = 1, **kw: Any) -> EnrichedPost:
    return enriched(
        n,
        conversation,
        text="@HarboursideBC thanks for the interview this morning",
        action="appreciate",
        score=0.77,
        stakeholders={"media": 0.985},
        kind="praise",
        handle="SamOnBayFM",
        **kw,
    )


def grief(n: int, conversation: int = 1, **kw: Any) -> EnrichedPost:
    return enriched(
        n,
        conversation,
        text="@HarboursideBC my mum died last month, how do I close her council tax account?",
        action="reply",
        score=0.49,
        stakeholders={"citizen": 0.94},
        flags=["grief"],
        signals=["grief", "question"],
        handle="lou_quay",
        **kw,
    )


def run(posts: list[EnrichedPost | None], stored: dict[str, Any] | None = None) -> Any:
    return raise_alerts(posts, stored or {}, RULES, NOW, KIBANA)


@pytest.mark.parametrize(
    ("make", "rule", "severity", "why"),
    [
        (
            reply_now,
            "reply-now",
            "warning",
            [("joinability.action", "reply"), ("joinability.score", "0.81")],
        ),
        (press, "escalate", "critical", [("joinability.action", "escalate")]),
        (
            journalist_thanks,
            "media-or-influencer",
            "warning",
            [
                ("stakeholders.media", "0.985"),
                ("reading.addressed", "mention"),
                ("author.is_org_account", "false"),
                ("joinability.action", "appreciate"),
                ("reading.kind", "praise"),
            ],
        ),
        (
            grief,
            "personal-care",
            "warning",
            [
                ("sensitivity.flags", "grief"),
                ("reading.addressed", "mention"),
                ("author.is_org_account", "false"),
                ("joinability.action", "reply"),
            ],
        ),
    ],
)
def test_each_default_rule_raises_one_complete_alert(
    make: Any, rule: str, severity: str, why: list[tuple[str, str]]
) -> None:
    post = make(7, 3)
    raised = run([post])
    assert [a.rule for a in raised.alerts] == [rule]
    alert = raised.alerts[0]
    assert alert.id == alert_id("rule", rule, post.id)
    assert (alert.kind, alert.severity) == ("rule", severity)
    assert [(w.field, w.value) for w in alert.why] == why
    assert (alert.conversation_id, alert.post_id, alert.platform) == ("x:c3", "x:7", "x")
    assert alert.author_handle == post.author.handle
    assert alert.url == post.url
    assert alert.kibana_url is not None and alert.kibana_url.startswith(KIBANA + "/app/discover")
    assert "townsquare-posts" in alert.kibana_url and "x%3A7" in alert.kibana_url
    assert alert.joinability_score == post.joinability.score
    assert alert.action == post.joinability.action
    assert alert.stakeholder_labels == [s.label for s in post.stakeholders]
    assert alert.awaiting_since == post.conversation.awaiting_since
    assert alert.created_at == NOW
    description = next(r.description for r in RULES if r.name == rule)
    assert alert.summary.startswith(f"{description}: @{post.author.handle}: ")
    assert post.text[:40] in alert.summary
    assert [(s.topic_name, s.key) for s in raised.sends] == [(ALERTS, "x:c3")]
    assert Alert.model_validate_json(raised.sends[0].value) == alert
    assert raised.outcomes == {"alerted": 1}


def test_posts_no_rule_matches_raise_nothing_and_store_nothing() -> None:
    quiet = [
        enriched(1, addressed="none", kind="chatter"),  # listen only, nobody asked
        enriched(2, action="do_not_engage", score=0.0, stakeholders={"influencer": 0.9}),  # spam
        enriched(3, action="reply", score=0.6),  # a reply, not ranked high enough
        enriched(4, action="do_not_engage", score=0.0, own=True, stakeholders={"media": 0.9}),
        enriched(5, flags=["grief"], addressed="name", kind="chatter"),  # not addressed to us
        None,  # a tombstone
    ]
    raised = run(quiet)
    assert raised.alerts == [] and raised.sends == [] and raised.throttle == {}
    assert raised.outcomes == {"ok": 5}


def test_a_second_trigger_in_the_same_conversation_within_the_window_is_held() -> None:
    first, second = press(1, 1, minutes=0), press(2, 1, minutes=10)  # escalate throttles 15m
    raised = run([first, second])
    assert [a.post_id for a in raised.alerts] == ["x:1"]
    assert raised.outcomes == {"alerted": 1, "throttled": 1}
    state = load_throttle(raised.throttle["x:c1"])
    assert state.fired["escalate"].post_id == "x:1"
    assert state.fired["escalate"].at == first.received_at

    later = press(3, 1, minutes=16)  # past the window: raised, even in a later batch
    again = run([later], raised.throttle)
    assert [a.post_id for a in again.alerts] == ["x:3"]
    assert load_throttle(again.throttle["x:c1"]).fired["escalate"].post_id == "x:3"


def test_throttles_are_per_conversation_and_per_rule() -> None:
    raised = run([press(1, 1), press(2, 2, minutes=1), reply_now(3, 1, minutes=2)])
    assert [(a.rule, a.conversation_id) for a in raised.alerts] == [
        ("escalate", "x:c1"),
        ("escalate", "x:c2"),
        ("reply-now", "x:c1"),
    ]
    assert set(load_throttle(raised.throttle["x:c1"]).fired) == {"escalate", "reply-now"}


def test_throttling_reads_when_posts_reached_us_not_the_clock() -> None:
    posts = [reply_now(1, minutes=0), reply_now(2, minutes=29), reply_now(3, minutes=31)]
    at_noon = raise_alerts(posts, {}, RULES, NOW)
    next_day = raise_alerts(posts, {}, RULES, NOW + timedelta(days=1))
    assert [a.post_id for a in at_noon.alerts] == [a.post_id for a in next_day.alerts]
    assert [a.post_id for a in at_noon.alerts] == ["x:1", "x:3"]  # reply-now throttles 30m
    # Without received_at, created_at measures: 29 minutes apart is still within 30m.
    unstamped = [reply_now(4, received=False), reply_now(5, minutes=29, received=False)]
    assert [a.post_id for a in run(unstamped).alerts] == ["x:4"]


def test_a_replay_raises_the_same_ids_and_no_new_ones() -> None:
    stream = [press(1, 1), press(2, 1, minutes=5), grief(3, 2, minutes=6), reply_now(4, 3)]
    first = run(stream)
    first_ids = [a.id for a in first.alerts]
    assert len(first_ids) == 3, "the second press request is throttled"
    # The same records again (a redelivery after a crash, a replay), on the stored state.
    stored = dict(first.throttle)
    second = run(stream, stored)
    assert [a.id for a in second.alerts] == first_ids, "re-raised with the same ids, no new ids"
    assert second.throttle == {}, "nothing new to remember"
    # An edit of an alerted post raises its alert again under the same id (the index
    # overwrites it); the throttled post stays throttled.
    edit = press(1, 1, minutes=0).model_copy(update={"kind": "edit", "text": "Edited request"})
    third = run([edit, press(2, 1, minutes=5)], stored)
    assert [a.id for a in third.alerts] == [first_ids[0]]
    assert "Edited request" in third.alerts[0].summary


def test_a_replay_stamped_later_is_throttled_by_the_first_pass() -> None:
    first = run([reply_now(1, minutes=0), reply_now(2, minutes=10)])
    assert [a.post_id for a in first.alerts] == ["x:1"]
    # `ingest replay` of the same file ten minutes later: new received_at, same ids.
    replayed = [
        reply_now(1, minutes=0).model_copy(update={"received_at": T0 + timedelta(minutes=20)}),
        reply_now(2, minutes=10).model_copy(update={"received_at": T0 + timedelta(minutes=21)}),
    ]
    again = run(replayed, dict(first.throttle))
    assert {a.id for a in again.alerts} <= {a.id for a in first.alerts}


def test_old_firings_and_removed_rules_are_forgotten() -> None:
    stored = {
        "x:c1": {
            "fired": {
                "escalate": {"at": (T0 - timedelta(days=2)).isoformat(), "post_id": "x:0"},
                "retired-rule": {"at": T0.isoformat(), "post_id": "x:0"},
            }
        }
    }
    raised = run([reply_now(1)], stored)
    assert set(load_throttle(raised.throttle["x:c1"]).fired) == {"reply-now"}


def test_an_unreadable_stored_state_counts_as_none() -> None:
    assert load_throttle({"fired": {"escalate": {"at": "not a time"}}}).fired == {}
    assert load_throttle("garbage").fired == {}
    raised = run([press(1)], {"x:c1": {"fired": "nonsense"}})
    assert [a.rule for a in raised.alerts] == ["escalate"]


def test_the_summary_is_one_line_quotes_at_most_140_characters_and_never_redacted_words() -> None:
    rule = Rule.model_validate(
        {"name": "r", "description": "Look at\nthis", "when": {"field": "platform", "eq": "x"}}
    )
    long = enriched(1, text="word " * 60 + "\nsecond line")
    line = summary(rule, long)
    assert "\n" not in line
    quoted = line.split(": ", 2)[2]
    assert quoted.endswith("…") and len(quoted) <= 141
    assert line.startswith("Look at this: @DevPatel88: word word")
    hidden = grief(2, redacted=True)
    assert summary(rule, hidden) == "Look at this: @lou_quay (text redacted)"
    raised = run([grief(3, redacted=True)])
    assert [a.rule for a in raised.alerts] == ["personal-care"]
    assert "mum" not in raised.alerts[0].summary


def test_decode_recognises_tombstones_and_rejects_what_is_not_a_post() -> None:
    post = press(1)
    assert decode(post.model_dump_json().encode()).post == post
    gone = PostDeleted(id="x:1", platform="x", conversation_id="x:c1", deleted_at=T0)
    assert decode(gone.model_dump_json().encode()) == (None, None)
    bad_json = decode(b"{nope")
    assert bad_json.post is None and bad_json.rejected is not None
    assert bad_json.rejected.reason == "invalid_json"
    assert decode(b"[1]").rejected is not None
    schema = decode(json.dumps({"id": "x:1"}).encode()).rejected
    assert schema is not None and schema.reason == "schema"


# --- the alerts index step ------------------------------------------------------------


def _template_fields() -> set[str]:
    template = json.loads((ROOT / "schemas/elasticsearch/alerts.template.json").read_text())
    return set(template["template"]["mappings"]["properties"])


def test_alert_actions_keep_one_action_per_alert_id_and_reject_bad_values() -> None:
    raised = run([press(1), grief(2, 2)])
    a, b = (s.value for s in raised.sends)
    edited = Alert.model_validate_json(a).model_copy(update={"summary": "newer"})
    values = [a, b"{broken", b, edited.model_dump_json().encode(), b'{"id": "x"}']
    collapsed = alert_actions(values, "townsquare-alerts", NOW)
    assert [(p, act["_id"]) for p, act in collapsed.actions] == [
        (2, raised.alerts[1].id),
        (3, raised.alerts[0].id),
    ]
    assert [(p, r.reason) for p, r in collapsed.rejected] == [(1, "invalid_json"), (4, "schema")]
    _, action = collapsed.actions[1]
    assert action["_op_type"] == "index" and action["_index"] == "townsquare-alerts"
    assert action["_source"]["summary"] == "newer"
    assert action["_source"]["indexed_at"] == NOW.isoformat()
    # dynamic: strict refuses any field the template does not map.
    assert set(action["_source"]) <= _template_fields()
    assert set(Alert.model_fields) | {"indexed_at"} == _template_fields()


def test_decode_refuses_a_depth_bomb_instead_of_raising() -> None:
    from streams.steps.alert import decode

    decoded = decode(b"[" * 100_000 + b"]" * 100_000)
    assert decoded.rejected is not None and decoded.rejected.reason == "too_deep"
