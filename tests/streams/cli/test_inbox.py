"""The analyst's inbox without a server: ages against the SLA, the reopen rule, the views.

The views are rendered the way a terminal of 80 and of 160 columns would show
them, and each must still hold what an analyst works from: the text, the age,
the reason and the whole link (never cut with "…", never folded across lines).
"""

from __future__ import annotations

import csv
import io
import re
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from streams.cli.main import app
from streams.cli.views import (
    Handling,
    InboxItem,
    QueueSummary,
    Standing,
    Thread,
    format_age,
    format_sla,
    format_span,
    handled_mark,
    inbox_csv,
    inbox_item,
    inbox_lines,
    new_handling,
    newest_other_post_at,
    parse_until,
    past_sla,
    render_text,
    reopened,
    show,
    standing,
    thread_lines,
    thread_post,
)

NOW = datetime(2026, 3, 12, 18, 0, tzinfo=UTC)
OWN = frozenset({"harboursidebc"})
SLA = 240
LONG_URL = "https://bsky.example/profile/tomreyes.harbourside.gov.example/post/3mgmwya3aaljq" + (
    "?ref=" + "x" * 40
)
LONG_ID = "bluesky:at://did:plc:3xapepkcc7etpdfkmqjygyoc/app.bsky.feed.post/3mgnp4vyii673"
TEXT = (
    "@HarboursideBC bins on Marsh Lane weren't collected this morning, lorry drove "
    "straight past. Is it coming back today? #MarshEnd"
)
REASON = "A question to us: answer it. [rule: help]"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _conversation(
    cid: str = "x:501",
    *,
    waiting_since: datetime | None = NOW - timedelta(hours=3, minutes=10),
    last_at: datetime | None = None,
    last_handle: str = "DevPatel88",
    last_text: str = TEXT,
    last_url: str = "https://x.example/DevPatel88/status/501",
    last_org_post_at: datetime | None = None,
    awaiting_post_id: str | None = "x:501",
    last_id: str = "x:501",
) -> dict[str, Any]:
    last_at = last_at or waiting_since or NOW
    return {
        "conversation_id": cid,
        "platform": cid.split(":")[0],
        "posts": 2,
        "participants": 2,
        "own_posts": 0 if last_org_post_at is None else 1,
        "last_activity": _iso(max(t for t in (last_at, last_org_post_at) if t is not None)),
        "last_org_post_at": None if last_org_post_at is None else _iso(last_org_post_at),
        "awaiting_org_reply": waiting_since is not None,
        "awaiting_since": None if waiting_since is None else _iso(waiting_since),
        "awaiting_post_id": awaiting_post_id if waiting_since is not None else None,
        "last_post": {
            "id": last_id,
            "author_id": f"x:{last_handle.lower()}",
            "handle": last_handle,
            "created_at": _iso(last_at),
            "text": last_text,
            "url": last_url,
            "action": "reply",
        },
        "last_action": "reply",
    }


def _post_doc(
    pid: str,
    handle: str,
    at: datetime,
    text: str = TEXT,
    *,
    labels: tuple[str, ...] = ("citizen",),
    reason: str = REASON,
    action: str = "reply",
    url: str | None = None,
    cid: str = "x:501",
    org: bool = False,
) -> dict[str, Any]:
    return {
        "id": pid,
        "conversation_id": cid,
        "created_at": _iso(at),
        "url": url or f"https://x.example/{handle}/status/{pid.split(':')[-1]}",
        "text": text,
        "author": {"handle": handle, "is_org_account": org},
        "stakeholder_labels": list(labels),
        "joinability": {"action": action, "reasons": [reason, "a second reason"]},
    }


def _handled(conversation: dict[str, Any], **kwargs: Any) -> Handling:
    return new_handling(None, conversation, now=NOW, by="ana", **kwargs)


# --- age against the SLA ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "sla", "expected", "past"),
    [
        (190, 240, "3h 10m / 4h SLA", False),
        (240, 240, "4h 00m / 4h SLA", False),  # at the SLA is not past it
        (241, 240, "4h 01m / 4h SLA", True),
        (7, 30, "7m / 30m SLA", False),
        (26 * 60 + 5, 90, "1d 2h / 1h 30m SLA", True),
        (0, 2880, "0m / 2d SLA", False),
    ],
)
def test_age_against_the_sla(minutes: int, sla: int, expected: str, past: bool) -> None:
    waited = timedelta(minutes=minutes)
    assert format_age(waited, sla) == expected
    assert format_age(waited + timedelta(seconds=59), sla) == expected  # never rounded up
    assert past_sla(waited, sla) is past
    assert past_sla(waited + timedelta(seconds=1), sla) is (minutes >= sla)


def test_age_without_a_start_and_the_span_and_sla_words() -> None:
    assert format_age(None, 240) == "? / 4h SLA"
    assert not past_sla(None, 240)
    assert format_span(timedelta(days=3, hours=4, minutes=59)) == "3d 4h"
    assert format_span(timedelta(hours=2, minutes=5)) == "2h 05m"
    assert format_span(timedelta(seconds=-30)) == "0m"
    assert [format_sla(m) for m in (45, 60, 90, 1440, 1500)] == [
        "45m",
        "1h",
        "1h 30m",
        "1d",
        "1d 1h",
    ]


# --- the reopen rule --------------------------------------------------------------------------


def test_handled_after_is_the_threads_last_activity_when_it_was_handled() -> None:
    conv = _conversation(last_at=NOW - timedelta(hours=1))
    record = _handled(conv)
    assert record.state == "handled"
    assert record.handled_after == NOW - timedelta(hours=1)
    assert handled_mark({"awaiting_since": _iso(NOW)}) == NOW  # no last_activity: the wait


def test_a_newer_post_from_the_other_side_reopens_a_handled_thread() -> None:
    before = _conversation(last_at=NOW - timedelta(hours=2))
    record = _handled(before)
    assert standing(record, before, NOW, OWN).hidden
    assert not reopened(record, before, OWN)

    later = _conversation(last_at=NOW - timedelta(minutes=5), last_handle="mags_on_marsh")
    assert reopened(record, later, OWN)
    state = standing(record, later, NOW, OWN)
    assert (state.state, state.hidden) == ("reopened", False)
    assert "reopened by a newer post" in state.detail


def test_a_post_at_the_same_time_does_not_reopen() -> None:
    conv = _conversation(last_at=NOW - timedelta(hours=2))
    record = _handled(conv)
    same = dict(conv, last_activity=conv["last_activity"])  # a redelivery of the same state
    assert not reopened(record, same, OWN)


def test_our_own_posts_never_reopen_a_handled_thread() -> None:
    conv = _conversation(last_at=NOW - timedelta(hours=2))
    record = _handled(conv)
    ours_by_handle = _conversation(last_at=NOW - timedelta(minutes=1), last_handle="HarboursideBC")
    ours_by_time = _conversation(
        last_at=NOW - timedelta(minutes=1),
        last_handle="council_desk",
        last_org_post_at=NOW - timedelta(minutes=1),
    )
    for later in (ours_by_handle, ours_by_time):
        # Still waiting since the old question: nothing new came from the other side.
        assert newest_other_post_at(later, OWN) == NOW - timedelta(hours=3, minutes=10)
        assert not reopened(record, later, OWN)
        assert standing(record, later, NOW, OWN).hidden


def test_a_new_wait_reopens_even_when_the_last_post_is_ours() -> None:
    """awaiting_since newer than handled_after: someone asked after we handled it."""
    conv = _conversation(last_at=NOW - timedelta(hours=2))
    record = _handled(conv)
    later = _conversation(
        waiting_since=NOW - timedelta(minutes=30),
        last_at=NOW - timedelta(minutes=1),
        last_handle="HarboursideBC",
        last_org_post_at=NOW - timedelta(minutes=1),
    )
    assert reopened(record, later, OWN)


def test_a_snooze_hides_until_its_time_or_a_newer_post() -> None:
    conv = _conversation(last_at=NOW - timedelta(hours=2))
    until = NOW + timedelta(hours=2)
    record = _handled(conv, snooze_until=until)
    assert (record.state, record.until) == ("snoozed", until)
    asleep = standing(record, conv, NOW + timedelta(hours=1, minutes=59), OWN)
    assert (asleep.state, asleep.hidden) == ("snoozed", True)
    woken = standing(record, conv, until, OWN)
    assert (woken.state, woken.hidden) == ("woken", False)
    newer = _conversation(last_at=NOW - timedelta(minutes=1), last_handle="mags_on_marsh")
    assert standing(record, newer, NOW, OWN).state == "reopened"


def test_assigning_keeps_it_in_the_queue_and_survives_handling() -> None:
    conv = _conversation()
    assigned = _handled(conv, assign="sam")
    state = standing(assigned, conv, NOW, OWN)
    assert (state.state, state.hidden, state.assignee) == ("assigned", False, "sam")
    assert assigned.handled_after is None

    done = new_handling(assigned, conv, now=NOW, by="sam", note="answered by phone")
    assert (done.state, done.assignee, done.note) == ("handled", "sam", "answered by phone")
    assert standing(done, conv, NOW, OWN).hidden

    back = new_handling(done, conv, now=NOW, by="ana", reopen=True)
    assert (back.state, back.assignee, back.handled_after) == ("assigned", "sam", None)
    assert not standing(back, conv, NOW, OWN).hidden
    assert new_handling(None, conv, now=NOW, by="ana", reopen=True).state == "open"
    with pytest.raises(ValueError, match="contradict"):
        new_handling(done, conv, now=NOW, by="ana", reopen=True, snooze_until=NOW)


def test_a_stored_record_reads_back_as_it_was_written() -> None:
    record = _handled(_conversation(), snooze_until=NOW + timedelta(days=1), assign="kim")
    doc = record.document()
    assert doc["until"] == (NOW + timedelta(days=1)).isoformat()
    assert Handling.from_document(doc) == record
    assert Handling.from_document({**doc, "state": "archived"}).state == "open"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", NOW + timedelta(hours=2)),
        ("1d", NOW + timedelta(days=1)),
        ("30m", NOW + timedelta(minutes=30)),
        ("2026-03-13T09:00:00Z", datetime(2026, 3, 13, 9, tzinfo=UTC)),
        ("2026-03-13T09:00:00", datetime(2026, 3, 13, 9, tzinfo=UTC)),  # naive means UTC
        ("2026-03-13T10:00:00+01:00", datetime(2026, 3, 13, 9, tzinfo=UTC)),
    ],
)
def test_snooze_times_absolute_or_relative(text: str, expected: datetime) -> None:
    assert parse_until(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "message"), [("tomorrow", "e.g.|ISO 8601"), ("2026-03-01", "past")]
)
def test_bad_snooze_times_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_until(text, NOW)


# --- the queue's items ------------------------------------------------------------------------


def test_an_item_names_who_waits_and_shows_the_last_post() -> None:
    conv = _conversation(
        last_at=NOW - timedelta(hours=1),
        last_handle="mags_on_marsh",
        last_text="same on Heron Close, third time since Christmas",
        last_url="https://x.example/mags_on_marsh/status/502",
        last_id="x:502",
    )
    waiting = _post_doc("x:501", "DevPatel88", NOW - timedelta(hours=3, minutes=10))
    last = _post_doc(
        "x:502",
        "mags_on_marsh",
        NOW - timedelta(hours=1),
        reason="a neighbour",
        action="listen_only",
    )
    item = inbox_item(conv, None, {"x:501": waiting, "x:502": last}, NOW, SLA, OWN)
    assert (item.author, item.labels) == ("DevPatel88", ["citizen"])
    assert (item.text_author, item.text) == (
        "mags_on_marsh",
        "same on Heron Close, third time since Christmas",
    )
    assert (item.reason, item.action) == (REASON, "reply")  # the waiting post's
    assert item.url == "https://x.example/mags_on_marsh/status/502"
    assert (item.age, item.over) == ("3h 10m / 4h SLA", False)


def test_an_item_without_its_posts_documents_still_shows_the_thread() -> None:
    """Posts gone to retention (or not indexed yet) leave fields empty; the queue still works."""
    item = inbox_item(_conversation(), None, {}, NOW, SLA, OWN)
    assert (item.author, item.text_author, item.text) == ("DevPatel88", None, TEXT)
    assert (item.reason, item.labels, item.action) == ("", [], "reply")


# --- the views at 80 and 160 columns ------------------------------------------------------------


def _items() -> list[InboxItem]:
    over = _conversation(
        LONG_ID,
        waiting_since=NOW - timedelta(hours=6, minutes=5),
        last_url=LONG_URL,
        awaiting_post_id="bluesky:1",
        last_id="bluesky:1",
    )
    within = _conversation(waiting_since=NOW - timedelta(hours=3, minutes=10))
    docs = {
        "bluesky:1": _post_doc("bluesky:1", "tomreyes", NOW, labels=("official", "citizen")),
        "x:501": _post_doc("x:501", "DevPatel88", NOW),
    }
    record = _handled(within, assign="sam")
    return [
        inbox_item(over, None, docs, NOW, SLA, OWN),
        inbox_item(within, record, docs, NOW, SLA, OWN),
    ]


def _lines_of(output: str) -> list[str]:
    return output.splitlines()


@pytest.mark.parametrize("width", [80, 160])
def test_the_queue_at_80_and_160_columns_keeps_text_age_reason_and_whole_links(width: int) -> None:
    items = _items()
    output = render_text(inbox_lines(items, QueueSummary(SLA, hidden=1), width), width)
    flat = " ".join(output.split())
    assert "2 conversations wait for our reply, longest first (reply SLA 4h)" in flat
    assert "1 handled or snoozed not shown (--all shows them)" in flat
    assert "6h 05m / 4h SLA" in output and "3h 10m / 4h SLA" in output
    assert TEXT in flat
    assert flat.count(REASON) == 2
    assert "@tomreyes · official, citizen" in output
    assert "assigned: sam" in output
    # Links and ids are whole lines: present in full, on one line, never cut or folded.
    lines = _lines_of(output)
    assert LONG_URL in [line.strip() for line in lines]  # 125 characters: wider than 80
    assert "    https://x.example/DevPatel88/status/501" in lines
    # The 79-character id gives up its indent at 80 columns rather than spill over.
    [id_line] = [line for line in lines if LONG_ID in line]
    assert id_line.strip() == LONG_ID or id_line.endswith(f"  {LONG_ID}")
    for line in lines:
        if LONG_URL not in line:
            assert len(line) <= width, line
    assert "…" not in output  # nothing here is long enough to shorten


def test_the_queue_widens_the_text_and_adds_counts_at_160() -> None:
    long_text = " ".join(f"word{i}" for i in range(120))
    conv = _conversation(last_text=long_text)
    item = inbox_item(conv, None, {}, NOW, SLA, OWN)
    narrow = render_text(inbox_lines([item], QueueSummary(SLA), 80), 80)
    wide = render_text(inbox_lines([item], QueueSummary(SLA), 160), 160)
    # About three lines of text at either width, cut at a word with "…" only in the queue.
    assert "…" in narrow and "…" in wide
    shown_narrow = len(re.findall(r"word\d+", narrow))
    shown_wide = len(re.findall(r"word\d+", wide))
    assert 20 < shown_narrow < shown_wide
    assert "2 posts, 2 people" in wide and "2 posts, 2 people" not in narrow


def test_a_wrapped_header_keeps_its_indent_and_short_whole_lines_keep_theirs() -> None:
    item = _items()[0]
    lines = inbox_lines([item], QueueSummary(SLA), 40)
    output = render_text(lines, 40).splitlines()
    first = next(n for n, line in enumerate(output) if line.startswith(" 1. "))
    assert output[first].startswith(" 1. 6h 05m / 4h SLA")
    output = output[first:]
    assert all(
        line.startswith("    ")
        for line in output[3:]
        if line.strip() and LONG_URL not in line and LONG_ID not in line
    )
    assert LONG_ID in output  # too long for any indent at 40 columns: from column 0, whole


def test_an_empty_queue_says_so_and_what_was_hidden() -> None:
    output = render_text(inbox_lines([], QueueSummary(SLA, hidden=3), 80), 80)
    assert "Nothing waits for our reply (reply SLA 4h)." in output
    assert "3 handled or snoozed not shown" in output


def _thread() -> Thread:
    conv = _conversation(
        last_at=NOW - timedelta(hours=1),
        last_handle="HarboursideBC",
        last_org_post_at=NOW - timedelta(hours=1),
        waiting_since=NOW - timedelta(hours=5),
    )
    docs = [
        _post_doc("x:501", "DevPatel88", NOW - timedelta(hours=5), url=LONG_URL),
        _post_doc(
            "x:502",
            "HarboursideBC",
            NOW - timedelta(hours=1),
            "@DevPatel88 sorry Dev, the crew will be back by 3pm",
            labels=(),
            reason="ours",
            org=True,
        ),
    ]
    record = _handled(conv, assign="sam", note="called the depot")
    return Thread(conv, record, [thread_post(d, conv, OWN) for d in docs], total=3)


@pytest.mark.parametrize("width", [80, 160])
def test_the_thread_at_80_and_160_columns_keeps_every_post_whole(width: int) -> None:
    output = render_text(thread_lines(_thread(), NOW, SLA, OWN, width), width)
    flat = " ".join(output.split())
    assert "waiting for our reply since 2026-03-12 13:00 UTC: 5h 00m / 4h SLA" in flat
    assert "assigned to sam" in flat and "note: called the depot" in flat
    assert "1 earlier posts not shown" in flat
    assert "2026-03-12 13:00 UTC @DevPatel88 · citizen reply ◀ waits for us" in flat
    assert "2026-03-12 17:00 UTC @HarboursideBC (us)" in flat
    assert TEXT in flat and "sorry Dev, the crew will be back by 3pm" in flat
    assert f"why: {REASON}" in flat
    assert "why: ours" not in flat  # our own posts are not judged for us
    lines = _lines_of(output)
    assert LONG_URL in [line.strip() for line in lines]
    assert "    https://x.example/HarboursideBC/status/502" in lines
    assert all(len(line) <= width for line in lines if LONG_URL not in line)
    assert "…" not in output


def test_a_link_is_a_real_hyperlink_on_a_terminal_and_plain_text_elsewhere() -> None:
    lines = inbox_lines(_items(), QueueSummary(SLA), 80)
    out = io.StringIO()
    show(Console(file=out, width=80, force_terminal=True, color_system="truecolor"), lines)
    assert "\x1b]8;id=" in out.getvalue() and f";{LONG_URL}\x1b\\" in out.getvalue()
    piped = render_text(lines, 80)
    assert "\x1b" not in piped and LONG_URL in piped


@pytest.mark.parametrize(
    "hostile",
    ["[/x]", "[link=http://evil]click[/link]", "\x1b]8;;http://evil\x1b\\click", "bidi\u202eevil"],
)
def test_hostile_values_stay_text_and_never_become_links(hostile: str) -> None:
    conv = _conversation(
        last_text=f"before {hostile} after", last_handle=hostile, last_url=f"https://e.x/{hostile}"
    )
    item = inbox_item(conv, None, {}, NOW, SLA, OWN)
    item = InboxItem(**{**item.__dict__, "reason": hostile, "labels": [hostile]})
    out = io.StringIO()
    show(
        Console(file=out, width=80, force_terminal=True, color_system="truecolor"),
        inbox_lines([item], QueueSummary(SLA), 80),
    )
    output = out.getvalue()
    # Only rich's own SGR styling and our OSC 8 around a printable-ASCII URL may use ESC.
    rest = re.sub(r"\x1b\[[0-9;]*m", "", output)
    rest = re.sub(r"\x1b\]8;(id=\d+)?;[\x21-\x7e]*\x1b\\", "", rest)
    assert "\x1b" not in rest and "\u202e" not in rest, repr(rest)
    if not hostile.isprintable():
        assert "\x1b]8;id=" not in output  # a URL with controls is never made a hyperlink
    if hostile.startswith("["):
        assert hostile in " ".join(rest.split())


# --- CSV -----------------------------------------------------------------------------------------


def test_csv_has_a_header_a_row_per_item_and_no_formulas() -> None:
    items = _items()
    items[1] = InboxItem(**{**items[1].__dict__, "text": '=HYPERLINK("http://evil")'})
    rows = list(csv.DictReader(io.StringIO(inbox_csv(items))))
    assert [r["conversation_id"] for r in rows] == [LONG_ID, "x:501"]
    assert rows[0]["stakeholders"] == "official;citizen"
    assert rows[0]["over_sla"] == "true" and rows[1]["over_sla"] == "false"
    assert rows[0]["url"] == LONG_URL
    assert rows[1]["text"] == '\'=HYPERLINK("http://evil")'
    assert rows[0]["text"] == "'" + TEXT  # a leading @ is a formula to some spreadsheets too
    assert rows[1]["assignee"] == "sam" and rows[1]["state"] == "assigned"


# --- errors --------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "args", [["inbox"], ["thread", "x:1"], ["handle", "x:1"], ["handle", "x:1", "--assign", "sam"]]
)
def test_unreachable_servers_give_one_line_with_the_next_step(args: list[str]) -> None:
    from streams.settings import get_settings

    get_settings.cache_clear()
    env = {"TOWNSQUARE_ES_URL": f"http://127.0.0.1:{_closed_port()}", "COLUMNS": "200"}
    result = CliRunner().invoke(app, args, env=env)
    get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    [line] = [x for x in result.output.splitlines() if x.strip()]
    assert line.startswith("error: cannot reach ") and env["TOWNSQUARE_ES_URL"] in line
    assert "TOWNSQUARE_ES_URL" in line or "townsquare services up" in line  # the next step


def test_handle_refuses_contradictions_and_bad_times_before_touching_anything() -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["handle", "x:1", "--snooze-until", "tomorrow"])
    assert bad.exit_code == 1 and "ISO 8601" in bad.output
    both = runner.invoke(app, ["handle", "x:1", "--reopen", "--snooze-until", "2h"])
    assert both.exit_code == 1 and "pick one" in both.output
    nobody = runner.invoke(app, ["handle", "x:1", "--assign", " "])
    assert nobody.exit_code == 1 and "needs a person" in nobody.output
    formats = runner.invoke(app, ["inbox", "--json", "--csv"])
    assert formats.exit_code == 1 and "pick one" in formats.output


def test_help_of_the_new_commands() -> None:
    for command in ("inbox", "thread", "handle"):
        result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "100"})
        assert result.exit_code == 0 and "Usage" in result.output


def test_standing_labels() -> None:
    assert Standing("open", False).label == ""
    assert Standing("assigned", False, "sam").label == "assigned: sam"
    assert Standing("reopened", False, "sam").label == "reopened, assigned: sam"
    assert Standing("woken", False).label == "snooze over"
