"""The analyst's inbox as plain functions: who waits, since when, and where we stand.

Everything here is pure (documents and times in, records and lines out), so
the rules an analyst relies on are tested without a server: the age against
the reply SLA, which conversations a handling record hides, and when a new
post brings a handled one back. :mod:`streams.cli.inbox` reads the indices,
calls these and prints.

**Layout.** Each item is a block of short lines, not a table row. A table
shares the width among its columns: at 80 columns seven fields get about ten
characters each, rich shrinks the flexible ones (text, author, SLA) to nothing
and a link, 50 to 90 characters on its own, is cut with "…" and cannot be
opened. A block gives every field the whole width: a header (age against the
SLA, action, state, id), the person and their stakeholder labels, the text
(about three lines at 80 columns, more when wider), the first reason, and the
link on a line of its own. Links and conversation ids are printed as one
unbroken line (the terminal may wrap them; nothing cuts them), because they
are what an analyst copies. Wider terminals get more of the text and the
thread's counts on the person's line; the fields stay where they are.

**Reopen rule.** A handling record (handled or snoozed) stores
``handled_after``: the conversation's ``last_activity`` when it was handled
(the waiting post's time when the document has none). It sets the
conversation aside only while nothing newer came from the other side: the
conversation is *reopened* as soon as its newest post by someone other than
us is newer than ``handled_after``, that is when ``awaiting_since`` or the
last post (when that post is not ours) is later. Our own posts never reopen
anything. Times are the posts' own ``created_at``, not the clock, so a
replayed corpus behaves as it did live. A snooze also ends at its time.

Every value from a post (text, handles, links, labels, reasons) is untrusted:
it becomes :func:`~streams.cli.console.plain` text, never markup, and a link is
made a terminal hyperlink only when it is a plain http(s) URL.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from rich.console import Console
from rich.style import Style
from rich.text import Text

from processors.profile import normalize_handle
from streams.cli.console import plain
from streams.cli.csv_cells import spreadsheet_text

HandlingState = Literal["open", "assigned", "handled", "snoozed"]
"""What ``townsquare handle`` stored: reopened by hand, given to a person, done, or set aside."""

StandingState = Literal["open", "assigned", "handled", "snoozed", "reopened", "woken"]
"""Where a conversation stands now: the stored state, or ``reopened`` (a newer post from
the other side after it was handled) and ``woken`` (its snooze has ended)."""

_STATES: dict[str, HandlingState] = {
    "open": "open",
    "assigned": "assigned",
    "handled": "handled",
    "snoozed": "snoozed",
}
"""Stored states by name; a document with another (a newer version's) reads as open."""

INDENT = 4
TEXT_LINES = 3
"""How many lines of a post's text the queue shows; ``townsquare thread`` shows it all."""

WIDE = 120
"""From this width on, the person's line also carries the thread's counts."""

_ACTION_STYLES = {
    "reply": "bold green",
    "appreciate": "cyan",
    "escalate": "bold magenta",
    "listen_only": "dim",
    "do_not_engage": "red",
}


# --- times ------------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """A stored time (ISO 8601, ``Z`` or an offset; naive means UTC) as an aware UTC datetime."""
    if not value:
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_until(text: str, now: datetime) -> datetime:
    """``--snooze-until``: an ISO 8601 time, or a span from now (``30m``, ``2h``, ``1d``, ``1w``).

    Raises ``ValueError`` with an example when it is neither, or when the time has passed
    (a snooze that ended before it began would hide nothing and surprise everyone).
    """
    from streams.es.search import parse_duration

    value = text.strip()
    try:
        until = now + parse_duration(value)
    except ValueError:
        try:
            parsed = parse_time(value)
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValueError(
                f"{text!r} is neither a time nor a span: use ISO 8601 "
                "(2026-05-01T09:00:00Z) or a span from now (30m, 2h, 1d, 1w)"
            ) from None
        until = parsed
    if until <= now:
        raise ValueError(f"{text!r} is in the past ({when(until)}); a snooze must end later")
    return until


def when(moment: datetime | None) -> str:
    """``2026-03-09 07:12 UTC``: minutes are enough to find a post, and the zone is said once."""
    return "?" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def format_span(span: timedelta) -> str:
    """``3d 4h``, ``3h 10m``, ``7m``: as coarse as a person reads a wait."""
    minutes = max(0, int(span.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins:02d}m"
    return f"{mins}m"


def format_sla(minutes: int) -> str:
    """The SLA as it is usually said: ``4h``, ``1h 30m``, ``45m``, ``2d``."""
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{mins}m" if mins else ""]
    return " ".join(p for p in parts if p) or "0m"


def format_age(waited: timedelta | None, sla_minutes: int) -> str:
    """``3h 10m / 4h SLA``; ``? / 4h SLA`` for a wait without a start (a producer gap)."""
    age = "?" if waited is None else format_span(waited)
    return f"{age} / {format_sla(sla_minutes)} SLA"


def past_sla(waited: timedelta | None, sla_minutes: int) -> bool:
    """Strictly longer than the SLA, as the reply-deadline alert counts it."""
    return waited is not None and waited > timedelta(minutes=sla_minutes)


# --- ours or theirs -----------------------------------------------------------------------


def is_own_handle(handle: str | None, own_handles: frozenset[str]) -> bool:
    return bool(handle) and normalize_handle(handle or "") in own_handles


def post_is_ours(doc: Mapping[str, Any], own_handles: frozenset[str]) -> bool:
    """A posts-index document by one of our accounts (the same test enrich applies)."""
    author = doc.get("author") or {}
    return bool(author.get("is_org_account")) or is_own_handle(author.get("handle"), own_handles)


def last_post_is_ours(conversation: Mapping[str, Any], own_handles: frozenset[str]) -> bool:
    """The thread's newest post is ours: its time is our newest post's, or its handle is ours."""
    last = conversation.get("last_post") or {}
    if is_own_handle(last.get("handle"), own_handles):
        return True
    created, ours = (
        parse_time(last.get("created_at")),
        parse_time(conversation.get("last_org_post_at")),
    )
    return created is not None and ours is not None and created <= ours


def newest_other_post_at(
    conversation: Mapping[str, Any], own_handles: frozenset[str]
) -> datetime | None:
    """When someone other than us last posted, as far as the thread's document shows.

    ``awaiting_since`` is the first post still waiting for us (it does not move
    when the same person writes again), so the last post counts too, when it
    is not ours.
    """
    times = [parse_time(conversation.get("awaiting_since"))]
    last = conversation.get("last_post") or {}
    if last and not last_post_is_ours(conversation, own_handles):
        times.append(parse_time(last.get("created_at")))
    known = [t for t in times if t is not None]
    return max(known) if known else None


def handled_mark(conversation: Mapping[str, Any]) -> datetime | None:
    """``handled_after``: what the analyst saw of the thread when they handled it.

    The thread's ``last_activity`` (its newest post, ours included), else the
    waiting post's time, else the last post's.
    """
    last = conversation.get("last_post") or {}
    for value in (
        conversation.get("last_activity"),
        conversation.get("awaiting_since"),
        last.get("created_at"),
    ):
        moment = parse_time(value)
        if moment is not None:
            return moment
    return None


# --- handling records ---------------------------------------------------------------------


@dataclass(frozen=True)
class Handling:
    """One conversation's record in the handling index (``_id`` = conversation id)."""

    conversation_id: str
    state: HandlingState
    by: str
    at: datetime
    until: datetime | None = None
    assignee: str | None = None
    note: str | None = None
    handled_after: datetime | None = None
    platform: str | None = None

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Handling:
        return cls(
            conversation_id=str(doc["conversation_id"]),
            state=_STATES.get(str(doc.get("state")), "open"),
            by=str(doc.get("by") or "?"),
            at=parse_time(doc.get("at")) or datetime.fromtimestamp(0, UTC),
            until=parse_time(doc.get("until")),
            assignee=doc.get("assignee") or None,
            note=doc.get("note") or None,
            handled_after=parse_time(doc.get("handled_after")),
            platform=doc.get("platform") or None,
        )

    def document(self) -> dict[str, Any]:
        """The stored document (JSON-ready; Kibana reads it as it is)."""

        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.astimezone(UTC).isoformat()

        return {
            "conversation_id": self.conversation_id,
            "platform": self.platform,
            "state": self.state,
            "by": self.by,
            "at": iso(self.at),
            "until": iso(self.until),
            "assignee": self.assignee,
            "note": self.note,
            "handled_after": iso(self.handled_after),
        }


def new_handling(
    previous: Handling | None,
    conversation: Mapping[str, Any],
    *,
    now: datetime,
    by: str,
    snooze_until: datetime | None = None,
    assign: str | None = None,
    reopen: bool = False,
    note: str | None = None,
) -> Handling:
    """What ``townsquare handle`` stores: handled by default, or snoozed, assigned, reopened.

    An assignment outlives state changes (a handled thread that comes back
    returns to the same person) until another ``--assign`` replaces it;
    ``--assign`` alone keeps the conversation in the queue, given to that
    person. Handled and snoozed records remember ``handled_after`` (see
    the module docstring); open and assigned ones need none.
    """
    if reopen and snooze_until is not None:
        raise ValueError("--reopen and --snooze-until contradict each other; pick one")
    assignee = assign if assign is not None else (previous.assignee if previous else None)
    state: HandlingState
    if reopen:
        state = "assigned" if assignee else "open"
    elif snooze_until is not None:
        state = "snoozed"
    elif assign is not None:
        state = "assigned"
    else:
        state = "handled"
    set_aside = state in ("handled", "snoozed")
    return Handling(
        conversation_id=str(conversation["conversation_id"]),
        platform=conversation.get("platform"),
        state=state,
        by=by,
        at=now,
        until=snooze_until if state == "snoozed" else None,
        assignee=assignee,
        note=note if note is not None else (previous.note if previous else None),
        handled_after=handled_mark(conversation) if set_aside else None,
    )


@dataclass(frozen=True)
class Standing:
    """Where a conversation stands for the queue, and whether the queue hides it now."""

    state: StandingState
    hidden: bool
    assignee: str | None = None
    detail: str = ""
    """One phrase for people: ``handled by ana at ...``, ``snoozed until ...``."""

    @property
    def label(self) -> str:
        """The short word the queue prints in an item's header."""
        words = {
            "open": "",
            "assigned": "",
            "handled": "handled",
            "snoozed": "snoozed",
            "reopened": "reopened",
            "woken": "snooze over",
        }
        word = words[self.state]
        who = f"assigned: {self.assignee}" if self.assignee else ""
        return ", ".join(w for w in (word, who) if w)


def reopened(
    handling: Handling, conversation: Mapping[str, Any], own_handles: frozenset[str]
) -> bool:
    """The reopen rule: someone else posted after ``handled_after`` (module docstring)."""
    if handling.handled_after is None:
        return False
    newest = newest_other_post_at(conversation, own_handles)
    return newest is not None and newest > handling.handled_after


def standing(
    handling: Handling | None,
    conversation: Mapping[str, Any],
    now: datetime,
    own_handles: frozenset[str],
) -> Standing:
    """The record read against the thread now: hidden while handled or snoozed, unless reopened."""
    if handling is None:
        return Standing("open", hidden=False)
    who = handling.assignee
    if handling.state in ("open", "assigned"):
        state: StandingState = "assigned" if who else "open"
        return Standing(state, False, who, f"assigned to {who}" if who else "")
    done = f"{handling.state} by {handling.by} at {when(handling.at)}"
    if reopened(handling, conversation, own_handles):
        newer = when(newest_other_post_at(conversation, own_handles))
        return Standing("reopened", False, who, f"{done}; reopened by a newer post ({newer})")
    if handling.state == "snoozed":
        if handling.until is not None and handling.until > now:
            return Standing("snoozed", True, who, f"snoozed until {when(handling.until)}")
        return Standing("woken", False, who, f"snoozed until {when(handling.until)}, now over")
    return Standing("handled", True, who, done)


# --- the queue ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxItem:
    """One waiting conversation as the queue shows it."""

    conversation_id: str
    platform: str
    waited: timedelta | None
    sla_minutes: int
    awaiting_since: datetime | None
    author: str | None
    """Who waits for us: the author of the waiting post."""
    labels: list[str]
    text: str
    text_author: str | None
    """The last post's author when that is not who waits (the text is the last post's)."""
    reason: str
    action: str
    url: str
    standing: Standing
    posts: int = 0
    participants: int = 0
    note: str | None = None
    redacted: bool = False

    @property
    def over(self) -> bool:
        return past_sla(self.waited, self.sla_minutes)

    @property
    def age(self) -> str:
        return format_age(self.waited, self.sla_minutes)


def _first_reason(*docs: Mapping[str, Any] | None) -> str:
    for doc in docs:
        reasons = ((doc or {}).get("joinability") or {}).get("reasons") or []
        if reasons:
            return str(reasons[0])
    return ""


def stakeholder_labels(doc: Mapping[str, Any] | None) -> list[str]:
    """The post's labels, strongest first as enrichment listed them (flat field, else nested)."""
    if not doc:
        return []
    labels = doc.get("stakeholder_labels")
    if labels is None:
        labels = [s.get("label") for s in doc.get("stakeholders") or []]
    return [str(label) for label in labels if label]


def post_ids_to_read(conversation: Mapping[str, Any]) -> list[str]:
    """The posts an item needs from the posts index: the waiting one and the last one."""
    last = conversation.get("last_post") or {}
    ids = [conversation.get("awaiting_post_id"), last.get("id")]
    return list(dict.fromkeys(str(i) for i in ids if i))


def inbox_item(
    conversation: Mapping[str, Any],
    handling: Handling | None,
    posts: Mapping[str, Mapping[str, Any]],
    now: datetime,
    sla_minutes: int,
    own_handles: frozenset[str],
) -> InboxItem:
    """One queue item from the thread's document, its handling record and its posts' documents.

    The person, labels, reason and action are the waiting post's (what we owe
    an answer to); the text and link are the last post's (where the thread
    stands). Missing posts (retention, not indexed yet) leave their fields
    empty rather than failing the queue.
    """
    last = conversation.get("last_post") or {}
    waiting_id = conversation.get("awaiting_post_id")
    waiting = posts.get(str(waiting_id)) if waiting_id else None
    latest = posts.get(str(last.get("id"))) if last.get("id") else None
    if waiting is not None:
        author = (waiting.get("author") or {}).get("handle")
    elif not waiting_id or waiting_id == last.get("id"):
        author = last.get("handle")
    else:
        author = None
    text_author = last.get("handle")
    if author and text_author and normalize_handle(author) == normalize_handle(text_author):
        text_author = None
    since = parse_time(conversation.get("awaiting_since"))
    waited = max(timedelta(0), now - since) if since is not None else None
    action = ((waiting or {}).get("joinability") or {}).get("action") or (
        conversation.get("last_action") or last.get("action") or ""
    )
    redacted = bool((latest or {}).get("redacted")) and not last.get("text")
    return InboxItem(
        conversation_id=str(conversation["conversation_id"]),
        platform=str(conversation.get("platform") or ""),
        waited=waited,
        sla_minutes=sla_minutes,
        awaiting_since=since,
        author=author,
        labels=stakeholder_labels(waiting if waiting is not None else latest),
        text=" ".join(str(last.get("text") or (latest or {}).get("text") or "").split()),
        text_author=text_author,
        reason=_first_reason(waiting, latest),
        action=str(action),
        url=str(last.get("url") or (latest or {}).get("url") or (waiting or {}).get("url") or ""),
        standing=standing(handling, conversation, now, own_handles),
        posts=int(conversation.get("posts") or 0),
        participants=int(conversation.get("participants") or 0),
        note=handling.note if handling else None,
        redacted=redacted,
    )


def inbox_record(item: InboxItem) -> dict[str, Any]:
    """The JSON-ready item (``--json``, one per line; ``--csv`` flattens it)."""
    return {
        "conversation_id": item.conversation_id,
        "platform": item.platform,
        "state": item.standing.state,
        "assignee": item.standing.assignee,
        "awaiting_since": None if item.awaiting_since is None else item.awaiting_since.isoformat(),
        "waiting_seconds": None if item.waited is None else int(item.waited.total_seconds()),
        "sla_minutes": item.sla_minutes,
        "over_sla": item.over,
        "age": item.age,
        "author": item.author,
        "stakeholders": list(item.labels),
        "text": item.text,
        "text_author": item.text_author,
        "reason": item.reason,
        "action": item.action,
        "url": item.url,
        "posts": item.posts,
        "participants": item.participants,
        "standing": item.standing.detail,
        "note": item.note,
    }


CSV_FIELDS: tuple[str, ...] = (
    "conversation_id",
    "platform",
    "state",
    "assignee",
    "awaiting_since",
    "waiting_seconds",
    "sla_minutes",
    "over_sla",
    "age",
    "author",
    "stakeholders",
    "text",
    "text_author",
    "reason",
    "action",
    "url",
    "posts",
    "participants",
    "standing",
    "note",
)


def inbox_csv(items: Iterable[InboxItem]) -> str:
    """A header and one row per item (RFC 4180 quoting)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for item in items:
        record = inbox_record(item)
        writer.writerow([spreadsheet_text(record[name]) for name in CSV_FIELDS])
    return out.getvalue()


# --- rendering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One line of a view: wrapped at the console's width with a hanging indent, or whole."""

    text: Text
    indent: int = 0
    whole: bool = False
    """Printed unbroken (links, ids): the terminal may wrap it, nothing cuts or folds it."""
    hang: int | None = None
    """Indent of the continuation lines (default: ``indent``), e.g. under a numbered header."""


def show(console: Console, lines: Sequence[Line]) -> None:
    """Print a view; each line is wrapped here so its continuation keeps its indent.

    A whole line gives up its indent rather than spill over: a 78-character
    id in an 80-column terminal starts at column 2 and stays on one line.
    """
    for line in lines:
        if line.whole:
            indent = min(line.indent, max(0, console.width - line.text.cell_len))
            console.print(Text(" " * indent) + line.text, soft_wrap=True)
            continue
        hang = line.indent if line.hang is None else line.hang
        room = max(20, console.width - max(line.indent, hang))
        for number, piece in enumerate(line.text.wrap(console, room)):
            piece.rstrip()
            pad = Text(" " * (line.indent if number == 0 else hang))
            console.print(pad + piece, soft_wrap=True)


def link(url: str) -> Text:
    """The URL in full, and a terminal hyperlink too when it is a plain http(s) URL.

    Only then: the URL is written into the OSC 8 escape sequence, so one with
    control characters or spaces could end the sequence and write to the
    terminal. Off a terminal rich prints the text alone, which is the URL.
    """
    text = plain(url)
    if url.startswith(("https://", "http://")) and all(33 <= ord(c) < 127 for c in url):
        text.stylize(Style(link=url))
    return text


def _action(action: str) -> Text:
    return plain(action or "no action", style=_ACTION_STYLES.get(action, ""))


def _cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word with "…" (the thread view shows it all)."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip() + "…"


def _who(handle: str | None) -> str:
    return "@" + handle if handle else "@?"


def item_lines(item: InboxItem, number: int, width: int) -> list[Line]:
    """The block of one queue item (see the module docstring for why a block)."""
    header = Text.assemble(
        f"{number:>2}. ",
        plain(item.age, style="bold red" if item.over else "green"),
        "  ",
        _action(item.action),
    )
    if item.standing.label:
        header.append("  ")
        header.append(plain(item.standing.label, style="yellow"))
    lines = []
    conversation = plain(item.conversation_id, style="dim")
    if len(header) + 2 + len(item.conversation_id) <= width:
        header.append("  ")
        header.append(conversation)
        lines.append(Line(header, hang=INDENT))
    else:
        lines += [Line(header, hang=INDENT), Line(conversation, indent=INDENT, whole=True)]
    person = Text.assemble(plain(_who(item.author), style="bold"))
    details = [", ".join(item.labels)] if item.labels else []
    details.append(f"since {when(item.awaiting_since)}")
    if width >= WIDE:
        details.append(f"{item.posts} posts, {item.participants} people")
    for detail in details:
        person.append(" · ", style="dim")
        person.append(plain(detail))
    lines.append(Line(person, indent=INDENT))
    room = max(40, (width - INDENT) * TEXT_LINES - 8)
    if item.redacted or not item.text:
        body = plain("(text withheld: a personal topic)" if item.redacted else "(no text)", "dim")
    else:
        body = Text()
        if item.text_author:
            body.append(plain(_who(item.text_author) + ": ", style="bold"))
        body.append(plain(_cut(item.text, room)))
    lines.append(Line(body, indent=INDENT))
    if item.reason:
        lines.append(Line(Text.assemble(("why: ", "dim"), plain(item.reason)), indent=INDENT))
    if item.standing.detail and item.standing.state not in ("open", "assigned"):
        lines.append(Line(plain(item.standing.detail, style="yellow"), indent=INDENT))
    if item.note:
        lines.append(Line(Text.assemble(("note: ", "dim"), plain(item.note)), indent=INDENT))
    if item.url:
        lines.append(Line(link(item.url), indent=INDENT, whole=True))
    return lines


@dataclass(frozen=True)
class QueueSummary:
    """What the title says besides the items: the SLA, what was left out and why."""

    sla_minutes: int
    hidden: int = 0
    more: bool = False
    show_all: bool = False
    assigned: str | None = None
    scanned_out: bool = False
    """The scan stopped at its bound before the queue's end."""


def inbox_lines(items: Sequence[InboxItem], summary: QueueSummary, width: int) -> list[Line]:
    """The queue: a title, then each item's block, waiting longest first."""
    who = f" assigned to {summary.assigned}" if summary.assigned else ""
    sla = format_sla(summary.sla_minutes)
    if not items:
        title = f"Nothing{who} waits for our reply (reply SLA {sla})."
    else:
        scope = "including handled and snoozed" if summary.show_all else "longest first"
        title = f"{len(items)} conversations{who} wait for our reply, {scope} (reply SLA {sla})"
    notes = []
    if summary.hidden and not summary.show_all:
        notes.append(f"{summary.hidden} handled or snoozed not shown (--all shows them)")
    if summary.more:
        notes.append("more wait: raise --limit")
    if summary.scanned_out:
        notes.append("only the oldest waits were read")
    lines = [Line(Text.assemble(plain(title, style="bold")))]
    if notes:
        lines.append(Line(plain("; ".join(notes) + ".", style="dim")))
    for number, item in enumerate(items, start=1):
        lines.append(Line(Text()))
        lines += item_lines(item, number, width)
    return lines


# --- the thread -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadPost:
    """One post as the thread view shows it."""

    id: str
    created_at: datetime | None
    author: str | None
    ours: bool
    text: str
    action: str
    reason: str
    url: str
    labels: list[str] = field(default_factory=list)
    waiting: bool = False
    """The post that waits for our reply."""
    redacted: bool = False


def thread_post(
    doc: Mapping[str, Any], conversation: Mapping[str, Any], own_handles: frozenset[str]
) -> ThreadPost:
    author = doc.get("author") or {}
    joinability = doc.get("joinability") or {}
    return ThreadPost(
        id=str(doc.get("id")),
        created_at=parse_time(doc.get("created_at")),
        author=author.get("handle"),
        ours=post_is_ours(doc, own_handles),
        text=" ".join(str(doc.get("text") or "").split()),
        action=str(joinability.get("action") or ""),
        reason=_first_reason(doc),
        url=str(doc.get("url") or ""),
        labels=stakeholder_labels(doc),
        waiting=bool(conversation.get("awaiting_org_reply"))
        and doc.get("id") == conversation.get("awaiting_post_id"),
        redacted=bool(doc.get("redacted")),
    )


@dataclass(frozen=True)
class Thread:
    """A conversation's document, its handling record and the posts read of it."""

    conversation: Mapping[str, Any]
    handling: Handling | None
    posts: list[ThreadPost]
    total: int
    """How many posts the posts index holds for it (``posts`` may be the latest of them)."""


def where_we_stand(
    thread: Thread, now: datetime, sla_minutes: int, own_handles: frozenset[str]
) -> list[Text]:
    """Waiting since when against the SLA, or answered; then handled, snoozed or assigned."""
    conv = thread.conversation
    since = parse_time(conv.get("awaiting_since"))
    out: list[Text] = []
    if conv.get("awaiting_org_reply"):
        waited = max(timedelta(0), now - since) if since is not None else None
        over = past_sla(waited, sla_minutes)
        out.append(
            Text.assemble(
                "waiting for our reply since ",
                plain(when(since)),
                ": ",
                plain(format_age(waited, sla_minutes), style="bold red" if over else "green"),
            )
        )
    elif conv.get("own_posts"):
        out.append(
            plain(f"answered: our last post {when(parse_time(conv.get('last_org_post_at')))}")
        )
    else:
        out.append(plain("nothing waits for our reply; we have not posted here"))
    state = standing(thread.handling, conv, now, own_handles)
    if state.detail:
        out.append(plain(state.detail, style="yellow"))
    if thread.handling is not None and thread.handling.note:
        out.append(Text.assemble(("note: ", "dim"), plain(thread.handling.note)))
    return out


def thread_lines(
    thread: Thread, now: datetime, sla_minutes: int, own_handles: frozenset[str], width: int
) -> list[Line]:
    """The thread: where we stand, then every post read, oldest first, each with its link."""
    conv = thread.conversation
    head = Text.assemble(
        plain(str(conv.get("conversation_id")), style="bold"),
        plain(
            f" · {conv.get('platform') or '?'} · {conv.get('posts') or 0} posts, "
            f"{conv.get('participants') or 0} people, {conv.get('own_posts') or 0} of ours"
        ),
    )
    lines = [Line(head, whole=len(head) > width)]
    lines += [
        Line(text, indent=2) for text in where_we_stand(thread, now, sla_minutes, own_handles)
    ]
    if thread.total > len(thread.posts):
        earlier = thread.total - len(thread.posts)
        lines.append(Line(plain(f"{earlier} earlier posts not shown (--limit)", style="dim")))
    for number, post in enumerate(thread.posts, start=1):
        lines.append(Line(Text()))
        header = Text.assemble(
            f"{number:>2}. ",
            plain(when(post.created_at), style="dim"),
            "  ",
            plain(_who(post.author), style="bold cyan" if post.ours else "bold"),
        )
        if post.ours:
            header.append(" (us)", style="cyan")
        elif post.labels:
            header.append(" · ", style="dim")
            header.append(plain(", ".join(post.labels)))
        if not post.ours and post.action:
            header.append("  ")
            header.append(_action(post.action))
        if post.waiting:
            header.append("  ")
            header.append("◀ waits for us", style="bold red")
        lines.append(Line(header, hang=INDENT))
        if post.redacted and not post.text:
            body = plain("(text withheld: a personal topic)", style="dim")
        else:
            body = plain(post.text or "(no text)")
        lines.append(Line(body, indent=INDENT))
        if post.reason and not post.ours:
            lines.append(Line(Text.assemble(("why: ", "dim"), plain(post.reason)), indent=INDENT))
        if post.url:
            lines.append(Line(link(post.url), indent=INDENT, whole=True))
    return lines


def render_text(lines: Sequence[Line], width: int) -> str:
    """The view as plain text at ``width`` columns, as a pipe or a test sees it."""
    console = Console(width=width, record=True, file=io.StringIO(), highlight=False)
    show(console, lines)
    return console.export_text()
