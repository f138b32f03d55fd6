"""Search commands: what analysts ask of Elasticsearch (and Kibana) from a terminal.

``search`` and ``conversations`` print lists an analyst works from, so each
entry keeps its content at 80 columns: a block of short lines rather than a
table row (a table shares the width among its columns, and at 80 columns rich
shrinks text, authors and SLA to nothing and cuts links). A head line (score
and action, or how long the thread has waited), the stakeholders and time,
the text, the first reason, and the link whole on a line of its own: never
cut, a terminal hyperlink as well when it is a plain http(s) URL, the bare URL
when the output is not a terminal. Wider terminals get the reason beside the
line it explains and longer text lines.

Every list also comes as ``--json`` (one object per line) and ``--csv`` (one
header row, stable columns, full text and links). Option values with a known
vocabulary are checked before anything is asked of Elasticsearch: a typo gives
exit code 2 and one line with the allowed values, as a usage error should,
instead of an empty list that looks like an answer.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TextIO

import typer
from rich.console import Console, ConsoleOptions, RenderResult
from rich.style import Style
from rich.text import Text

from streams.cli.console import console, err, fail, plain, safe
from streams.cli.csv_cells import spreadsheet_text
from streams.settings import get_settings

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from processors.profile import Organisation
    from streams.es.kibana import ObjectError
    from streams.es.search import PostFilter
    from streams.settings import Settings

kibana_app = typer.Typer(help="Kibana saved objects (data views, saved searches, dashboard).")

TEXT_CHARS = 280
"""Post text shown per entry; --json and --csv carry all of it."""
WIDE = 120
"""From this width on the reason shares the head line (when it fits there)."""
ACTION_STYLE = {
    "reply": "bold green",
    "appreciate": "green",
    "escalate": "bold yellow",
    "listen_only": "dim",
    "do_not_engage": "red",
}


def register(app: typer.Typer) -> None:
    """Add ``search``, ``conversations`` and ``kibana`` to the ``townsquare`` app."""
    app.command()(search)
    app.command()(conversations)
    app.add_typer(kibana_app, name="kibana")


def usage_error(message: str) -> NoReturn:
    """A wrong option value: one line on stderr and exit code 2, as click's usage errors.

    Printed with soft wrapping so the message stays one line in a log or a
    narrow terminal; it usually echoes input, so it is plain text.
    """
    err.print(Text.assemble(("error:", "bold red"), " ", plain(message)), soft_wrap=True)
    raise typer.Exit(2)


# --- search ------------------------------------------------------------------------------


def search(
    query: Annotated[
        str | None,
        typer.Argument(
            help="Words to look for in the text, the author's handle and the hashtags. "
            "They narrow the list; the order stays the one --sort names."
        ),
    ] = None,
    min_joinability: Annotated[
        float | None,
        typer.Option(min=0, max=1, metavar="X", help="Only posts scored at least X (0 to 1)."),
    ] = None,
    action: Annotated[
        list[str],
        typer.Option(
            metavar="ACTION",
            help="Only posts with this recommended action: reply, appreciate, escalate, "
            "listen_only or do_not_engage. Repeatable.",
        ),
    ] = [],  # noqa: B006 - typer reads the default
    stakeholder: Annotated[
        list[str],
        typer.Option(
            metavar="LABEL",
            help="Only posts whose author carries this label: customer, citizen, influencer, "
            "media, employee, partner, investor, official or competitor. Repeatable.",
        ),
    ] = [],  # noqa: B006
    platform: Annotated[
        list[str],
        typer.Option(
            metavar="PLATFORM",
            help="Only posts from this platform: bluesky, mastodon, reddit, rss or x (what the "
            "format adapters produce), or a name a webhook sender used. Repeatable.",
        ),
    ] = [],  # noqa: B006
    topic: Annotated[
        list[str],
        typer.Option(
            metavar="TOPIC",
            help="Only posts read as being about this topic of the organisation profile "
            "(its topics: list). Repeatable.",
        ),
    ] = [],  # noqa: B006
    entity: Annotated[
        list[str],
        typer.Option(
            metavar="NAME",
            help="Only posts naming this entity (a person, place, organisation, product...), "
            "the whole name in any case, e.g. 'elm street'. Repeatable.",
        ),
    ] = [],  # noqa: B006
    awaiting_reply: Annotated[
        bool,
        typer.Option(
            "--awaiting-reply",
            help="Posts of the conversations awaiting our reply now: their ids are "
            "looked up in the conversations index (as `townsquare conversations "
            "--awaiting-reply` lists them), then their posts are searched.",
        ),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            metavar="SPAN",
            help="Only posts created within this long before now, e.g. 90m, 24h, 7d.",
        ),
    ] = None,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="WHEN",
            help="Only posts created at or after this ISO 8601 date or time, in UTC unless "
            "it names a zone: 2026-03-13, 2026-03-13T09:30, 2026-03-13T09:30+01:00.",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            metavar="WHEN",
            help="Only posts created before this ISO 8601 time; a date alone includes "
            "that whole day.",
        ),
    ] = None,
    sort: Annotated[
        str,
        typer.Option(
            metavar="ORDER",
            help="joinability: best joinability first, then newest; time: newest first; "
            "relevance: best text match first (needs QUERY).",
        ),
    ] = "joinability",
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many posts.")] = 20,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line: the stored post.")
    ] = False,
    as_csv: Annotated[
        bool,
        typer.Option(
            "--csv",
            help="CSV with one header row and stable columns (id, created_at, ..., text, url); "
            "the full text and link of each post.",
        ),
    ] = False,
) -> None:
    """Search enriched posts in Elasticsearch, best joinability first (then newest).

    Filters of one kind are alternatives (--action reply --action escalate);
    different kinds must all hold. Times are UTC.
    """
    from streams.es.client import sync_client
    from streams.es.conversations import awaiting_ids
    from streams.es.search import (
        ACTIONS,
        SORT_DESCRIPTIONS,
        SORTS,
        STAKEHOLDER_LABELS,
        STAKEHOLDER_SYNONYMS,
        BadChoice,
        PostFilter,
        check_choices,
        posts_query,
        posts_sort,
    )

    settings = get_settings()
    _one_format(as_json, as_csv)
    now = datetime.now(UTC)
    try:
        order = check_choices("--sort", [sort], SORTS, "an order")[0]
        flt = PostFilter(
            text=query,
            min_joinability=min_joinability,
            actions=check_choices("--action", action, ACTIONS, "an action"),
            stakeholders=check_choices(
                "--stakeholder",
                stakeholder,
                STAKEHOLDER_LABELS,
                "a stakeholder label",
                STAKEHOLDER_SYNONYMS,
            ),
            entities=[e.strip() for e in entity if e.strip()],
        )
        if topic:
            flt.topics = _profile_topics(settings, topic)
    except BadChoice as exc:
        usage_error(str(exc))
    if order == "relevance" and not query:
        usage_error("--sort relevance orders by text match, so it needs a QUERY")
    flt.start, flt.end = _window(since, from_, until, now)
    alias = settings.index_alias("posts")
    es = sync_client(settings)
    flt.platforms = _platforms(es, alias, platform)
    try:
        if awaiting_reply:
            # One meaning of "awaiting" everywhere: the threads waiting now.
            waiting = awaiting_ids(es, settings.index_alias("conversations"))
            if waiting.truncated:
                err.print("[yellow]warning:[/] too many threads await a reply; the oldest are read")
            flt.conversation_ids = waiting.ids
        resp = es.search(index=alias, query=posts_query(flt), sort=posts_sort(order), size=limit)
        hits = [h["_source"] for h in resp["hits"]["hits"]]
        total = int(resp["hits"]["total"]["value"])
        empty_window = _empty_window_hint(es, alias, flt, since) if not hits and since else None
    except Exception as exc:
        fail(_unreachable(exc))
    if empty_window:
        err.print(plain(empty_window), soft_wrap=True)
    if as_json:
        for doc in hits:
            sys.stdout.write(json.dumps(doc) + "\n")
        return
    if as_csv:
        write_csv(POST_COLUMNS, hits, sys.stdout)
        return
    if empty_window:
        return
    shown = f"; the first {len(hits)}" if len(hits) < total else ""
    title = f"{_count(total, 'matching post')}, {SORT_DESCRIPTIONS[order]}{shown} (times in UTC)"
    print_view(posts_table(hits, title))


def _one_format(as_json: bool, as_csv: bool) -> None:
    if as_json and as_csv:
        usage_error("--json and --csv both choose the output; use one of them")


def _window(
    since: str | None, from_: str | None, until: str | None, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """``(start, end)`` of the posts' creation times; --since counts back from ``now``."""
    from streams.es.search import parse_duration, parse_instant

    if since and from_:
        usage_error("--since and --from both set where the window starts; use one of them")
    start = end = None
    try:
        if since:
            start = now - parse_duration(since)
        if from_:
            start = parse_instant(from_)
    except ValueError as exc:
        usage_error(f"{'--since' if since else '--from'}: {exc}")
    try:
        end = parse_instant(until, end_of_day=True) if until else None
    except ValueError as exc:
        usage_error(f"--until: {exc}")
    if start is not None and end is not None and start >= end:
        opened = f"--since {since}" if since else f"--from {from_}"
        usage_error(
            f"{opened} starts at {_stamp(start)}, not before --until {until} "
            f"(which ends at {_stamp(end)}): the window is empty"
        )
    return start, end


def _profile_topics(settings: Settings, wanted: list[str]) -> list[str]:
    """--topic values as the profile spells them; a topic it does not list is a usage error.

    The reading marks a post on topic only for the profile's topics, so any
    other word would match nothing.
    """
    from streams.es.search import check_choices
    from streams.profiles import profile_path

    org = _profile(settings)
    return check_choices("--topic", wanted, org.topics, f"a topic of {profile_path(settings)}")


def _profile(settings: Settings) -> Organisation:
    from processors.profile import ProfileError
    from streams.profiles import profile_for

    try:
        return profile_for(settings)
    except ProfileError as exc:
        fail(f"{exc}; `townsquare profile check FILE` explains each problem")


def _platforms(es: Elasticsearch, alias: str, wanted: list[str]) -> list[str]:
    """--platform values checked against the adapters' platforms, then those in the index.

    The index is asked only for a name no adapter produces: webhook and
    canonical senders name their own platform, and those names are real once
    posts carry them.
    """
    from streams.es.search import (
        PLATFORM_SYNONYMS,
        BadChoice,
        adapter_platforms,
        check_choices,
        index_platforms,
    )

    if not wanted:
        return []
    what = "a known platform (the format adapters' platforms, and any other in the index)"
    known = adapter_platforms()
    try:
        return check_choices("--platform", wanted, known, what, PLATFORM_SYNONYMS)
    except BadChoice:
        pass
    try:
        every = sorted({*known, *index_platforms(es, alias)})
        return check_choices("--platform", wanted, every, what, PLATFORM_SYNONYMS)
    except BadChoice as exc:
        usage_error(str(exc))
    except Exception as exc:
        fail(_unreachable(exc))


def _unreachable(exc: Exception) -> str:
    return f"search failed: {exc}. Is Elasticsearch reachable and `townsquare setup` done?"


def _empty_window_hint(es: Elasticsearch, alias: str, flt: PostFilter, since: str) -> str:
    """Why --since found nothing: the newest post that matches at any time, and a --from to try.

    An older corpus (a replay, a quiet week) otherwise looks like a broken search.
    """
    from streams.es.search import newest_created_at, posts_query

    rest = flt.without_window()
    filtered = posts_query(rest) != {"match_all": {}}
    posts = "matching posts" if filtered else "posts"
    newest = newest_created_at(es, alias, rest)
    if newest is None:
        return f"no {posts} newer than {since}, nor any older"
    day = newest.date()
    earlier = (day - timedelta(days=1)).isoformat()
    what = "the newest match" if filtered else "the newest"
    return f"no {posts} newer than {since}; {what} is from {day.isoformat()}: try --from {earlier}"


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _when(value: object) -> str:
    """A stored ISO time as ``2026-03-14 09:30`` (UTC); unreadable values as stored."""
    if not value:
        return "-"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)[:16]
    return _utc(moment).strftime("%Y-%m-%d %H:%M")


# --- views -------------------------------------------------------------------------------

SEP = (" │ ", "dim")


@dataclass
class Entry:
    """One listed item: its lines (the first is the head), its first reason and its link."""

    lines: list[Text]
    reason: str | None = None
    link: str | None = None
    reason_joins: int = 0
    """The line the reason is appended to where the width allows (the one it explains)."""


INDENT = 2


@dataclass
class ListView:
    """Entries laid out for the width they are rendered at (80 columns and up).

    At any width each entry keeps all it has: nothing is dropped to fit a
    column, long lines wrap under an indent. From :data:`WIDE` columns on the
    reason joins the line it explains when it fits there. Links are printed
    whole on their own line; print the view with ``crop=False``
    (:func:`print_view`) so that a link longer than the terminal is wrapped by
    the terminal, not cut.
    """

    title: str
    entries: list[Entry]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        yield plain(self.title, style="bold")
        for entry in self.entries:
            yield Text()
            lines = [line.copy() for line in entry.lines]
            if entry.reason:
                why = Text.assemble(("why: ", "dim"), plain(entry.reason))
                at = entry.reason_joins
                indent = INDENT if at else 0
                if width >= WIDE and indent + lines[at].cell_len + 3 + why.cell_len <= width:
                    lines[at].append_text(Text.assemble(SEP, why))
                else:
                    lines.append(why)
            for n, line in enumerate(lines):
                yield from _wrapped(console, line, width, 0 if n == 0 else INDENT)
            if entry.link:
                line = Text(" " * INDENT, no_wrap=True, overflow="ignore")
                yield line.append_text(link(entry.link))


def _wrapped(console: Console, text: Text, width: int, indent: int) -> Iterator[Text]:
    """``text`` wrapped to ``width``: the first line after ``indent``, the rest after two."""
    for n, line in enumerate(text.wrap(console, max(width - INDENT, 20), overflow="fold")):
        line.rstrip()
        yield Text(" " * (indent if n == 0 else INDENT)) + line


def link(url: str) -> Text:
    """The URL in full, and on a terminal a hyperlink too when it is a plain http(s) URL.

    Only then: the URL is written into the OSC 8 escape sequence, so one with
    control characters or spaces could end the sequence and write to the
    terminal. The visible text is always the URL itself, so the link cannot
    show one address and open another. Off a terminal rich prints the text alone.
    """
    text = plain(url)
    if url.startswith(("https://", "http://")) and all(33 <= ord(c) < 127 for c in url):
        text.stylize(Style(link=url))
    return text


def print_view(view: ListView) -> None:
    """Print a view without cropping, so links reach the terminal whole."""
    console.print(view, crop=False)


def _joined(parts: list[Text]) -> Text:
    """Head-line fields, separated by a dim rule."""
    return Text(" │ ", style="dim").join(parts)


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= TEXT_CHARS else flat[: TEXT_CHARS - 1].rstrip() + "…"


def _labels(labels: Iterable[object]) -> Text:
    names = ", ".join(str(label) for label in labels)
    return plain(names, style="cyan") if names else Text("no label", style="dim")


def _action(action: object) -> Text:
    return plain(action or "?", style=ACTION_STYLE.get(str(action), ""))


def posts_table(docs: list[dict[str, Any]], title: str) -> ListView:
    """Posts as blocks: score, action, time, author, stakeholders; text; first reason; link.

    Every value comes from a stored post, so every value is plain text, never markup.
    """
    return ListView(title, [_post_entry(doc) for doc in docs])


def _post_entry(doc: dict[str, Any]) -> Entry:
    j = doc.get("joinability") or {}
    score = j.get("score")
    author = (doc.get("author") or {}).get("handle") or "?"
    platform = doc.get("platform")
    head = _joined(
        [
            Text.assemble(
                plain(f"{score:.2f}" if isinstance(score, int | float) else "-", style="bold"),
                " ",
                _action(j.get("action")),
            ),
            plain(_when(doc.get("created_at"))),
            plain(f"@{author}" + (f" on {platform}" if platform else "")),
            _labels(doc.get("stakeholder_labels") or []),
        ]
    )
    text = _clip(str(doc.get("text") or ""))
    if not text and doc.get("redacted"):
        body = Text("(text withheld: the post touches a personal topic)", style="dim")
    else:
        body = plain(text)
    reasons = j.get("reasons") or []
    return Entry([head, body], str(reasons[0]) if reasons else None, doc.get("url"))


def conversations_table(records: list[dict[str, Any]], title: str) -> ListView:
    """Threads as blocks: the wait against the SLA, then the newest post with its reason and link.

    Ids, text, authors and links come from stored posts: plain text, never markup.
    """
    return ListView(title, [_conversation_entry(r) for r in records])


def _conversation_entry(record: dict[str, Any]) -> Entry:
    last = record.get("last_post") or {}
    head = [_wait_status(record), plain(record.get("conversation_id") or "?")]
    if record.get("platform"):
        head.append(plain(record["platform"]))
    posts, people = record.get("posts"), record.get("participants")
    if isinstance(posts, int) and isinstance(people, int):
        head.append(
            Text(f"{_count(posts, 'post')}, {people} {'person' if people == 1 else 'people'}")
        )
    newest = _joined(
        [
            Text.assemble(("last post ", "dim"), plain(_when(last.get("created_at")))),
            plain("@" + str(last.get("author") or "?")),
            _labels(last.get("stakeholder_labels") or []),
            _action(last.get("action")),
        ]
    )
    reasons = last.get("reasons") or []
    body = plain(_clip(str(last.get("text") or "")))
    reason = str(reasons[0]) if reasons else None
    return Entry([_joined(head), newest, body], reason, last.get("url"), reason_joins=1)


def _wait_status(record: dict[str, Any]) -> Text:
    from streams.es.conversations import format_span

    waited = record.get("waiting_seconds")
    if waited is None:
        return Text("answered" if record.get("own_posts") else "not waiting", style="dim")
    wait = format_span(timedelta(seconds=waited))
    over = record.get("over_by_seconds")
    if over is not None:
        return Text(f"waiting {wait}, over by {format_span(timedelta(seconds=over))}", "bold red")
    sla = record.get("sla_minutes")
    left = timedelta(minutes=sla) - timedelta(seconds=waited) if isinstance(sla, int) else None
    return Text(
        f"waiting {wait}, within SLA" + (f", {format_span(left)} left" if left else ""), "green"
    )


# --- CSV ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One CSV column: its header and how a row's value is read."""

    name: str
    read: Callable[[dict[str, Any]], object]


def read_path(*path: str, sep: str | None = None) -> Callable[[dict[str, Any]], object]:
    """Read ``path`` from a nested dict (None when absent); a list is joined with ``sep``."""

    def read(row: dict[str, Any]) -> object:
        value: Any = row
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if sep is not None:
            return sep.join(str(v) for v in value or [])
        return value

    return read


POST_COLUMNS: tuple[Column, ...] = (
    Column("id", read_path("id")),
    Column("created_at", read_path("created_at")),
    Column("platform", read_path("platform")),
    Column("author", read_path("author", "handle")),
    Column("score", read_path("joinability", "score")),
    Column("action", read_path("joinability", "action")),
    Column("stakeholders", read_path("stakeholder_labels", sep=";")),
    Column("reasons", read_path("joinability", "reasons", sep="\n")),
    Column("text", read_path("text")),
    Column("url", read_path("url")),
    Column("conversation_id", read_path("conversation_id")),
)
"""``search --csv``: labels are joined by ``;``, reasons one per line within their cell."""

CONVERSATION_COLUMNS: tuple[Column, ...] = (
    Column("conversation_id", read_path("conversation_id")),
    Column("platform", read_path("platform")),
    Column("awaiting_org_reply", read_path("awaiting_org_reply")),
    Column("awaiting_since", read_path("awaiting_since")),
    Column("waiting_seconds", read_path("waiting_seconds")),
    Column("sla", read_path("sla")),
    Column("over_by_seconds", read_path("over_by_seconds")),
    Column("sla_minutes", read_path("sla_minutes")),
    Column("posts", read_path("posts")),
    Column("participants", read_path("participants")),
    Column("own_posts", read_path("own_posts")),
    Column("last_activity", read_path("last_activity")),
    Column("last_post_id", read_path("last_post", "id")),
    Column("last_post_created_at", read_path("last_post", "created_at")),
    Column("last_post_author", read_path("last_post", "author")),
    Column("last_post_action", read_path("last_post", "action")),
    Column("last_post_stakeholders", read_path("last_post", "stakeholder_labels", sep=";")),
    Column("last_post_reasons", read_path("last_post", "reasons", sep="\n")),
    Column("last_post_text", read_path("last_post", "text")),
    Column("last_post_url", read_path("last_post", "url")),
)
"""``conversations --csv``: the ``--json`` record flattened, ``last_post.x`` as ``last_post_x``."""


ALERT_COLUMNS: tuple[Column, ...] = tuple(
    Column(name, read_path(name))
    for name in (
        "id",
        "created_at",
        "severity",
        "rule",
        "kind",
        "conversation_id",
        "post_id",
        "platform",
        "author_handle",
        "summary",
        "url",
        "kibana_url",
    )
)
"""``alerts --csv`` (:mod:`streams.cli.rules`): the stored alert's flat fields."""


def write_csv(columns: Sequence[Column], rows: Iterable[dict[str, Any]], out: TextIO) -> None:
    """One header row, then one row per item, quoted by the csv module.

    Quoting follows RFC 4180 (a newline in a post stays inside its quoted
    cell); rows end in ``\\n``. A cell that a spreadsheet would evaluate as a
    formula gets a leading ``'`` (:mod:`streams.cli.csv_cells`, the same rule as
    the inbox's CSV); ``--json`` gives every value as stored. When the output
    is a terminal, control characters are written out too (``\\x1b``), since
    there a post's escape sequences would act on the screen.
    """
    clean: Callable[[str], str] = safe if out.isatty() else str
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.name for c in columns])
    for row in rows:
        writer.writerow([clean(spreadsheet_text(c.read(row))) for c in columns])


# --- conversations -----------------------------------------------------------------------

POST_DETAILS = ("stakeholder_labels", "joinability.action", "joinability.reasons")
"""What a thread's entry adds from its newest post in the posts index."""


def conversations(
    awaiting_reply: Annotated[
        bool,
        typer.Option(
            "--awaiting-reply", help="Only conversations waiting for our reply, oldest wait first."
        ),
    ] = False,
    platform: Annotated[
        list[str],
        typer.Option(
            metavar="PLATFORM",
            help="Only threads on this platform: bluesky, mastodon, reddit, rss or x (what the "
            "format adapters produce), or a name a webhook sender used. Repeatable.",
        ),
    ] = [],  # noqa: B006 - typer reads the default
    action: Annotated[
        list[str],
        typer.Option(
            metavar="ACTION",
            help="Only threads whose newest post is recommended this action: reply, "
            "appreciate, escalate, listen_only or do_not_engage. Repeatable.",
        ),
    ] = [],  # noqa: B006
    limit: Annotated[
        int, typer.Option(min=1, max=10000, help="At most this many conversations.")
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    as_csv: Annotated[
        bool,
        typer.Option(
            "--csv",
            help="CSV with one header row: the --json fields, last_post.x as last_post_x. "
            "Full text and links.",
        ),
    ] = False,
    now: Annotated[
        str | None,
        typer.Option(
            metavar="WHEN", help="Reference time (ISO 8601) for waiting times; default: the clock."
        ),
    ] = None,
) -> None:
    """Conversations as they stand now: who waits for us, for how long, against the reply SLA.

    Reads the conversations index (one document per thread, its current state)
    and, for each thread's newest post, its stakeholders and reasons from the
    posts index. Times are UTC.
    """
    from streams.es.client import sync_client
    from streams.es.conversations import conversation_record, find_conversations
    from streams.es.search import ACTIONS, BadChoice, check_choices, parse_instant, posts_by_id

    settings = get_settings()
    _one_format(as_json, as_csv)
    try:
        actions = check_choices("--action", action, ACTIONS, "an action")
    except BadChoice as exc:
        usage_error(str(exc))
    try:
        reference = parse_instant(now) if now else datetime.now(UTC)
    except ValueError as exc:
        usage_error(f"--now: {exc}")
    sla_minutes = _profile(settings).reply_sla_minutes
    alias = settings.index_alias("conversations")
    es = sync_client(settings)
    try:
        platforms = _platforms(es, alias, platform)
        try:
            found = find_conversations(
                es, alias, awaiting_reply, limit, platforms=platforms, actions=actions
            )
            ids = [str((c.get("last_post") or {}).get("id")) for c in found if c.get("last_post")]
            posts = posts_by_id(es, settings.index_alias("posts"), ids, POST_DETAILS)
        except Exception as exc:
            fail(_unreachable(exc))
    finally:
        es.close()
    records = [
        with_post_details(conversation_record(c, reference, sla_minutes), c, posts) for c in found
    ]
    if as_json:
        for record in records:
            sys.stdout.write(json.dumps(record) + "\n")
        return
    if as_csv:
        write_csv(CONVERSATION_COLUMNS, records, sys.stdout)
        return
    word = "awaiting our reply" if awaiting_reply else "most recently active"
    order = "oldest wait first" if awaiting_reply else "latest activity first"
    title = (
        f"{_count(len(records), 'conversation')} {word} (reply SLA {sla_minutes} min), "
        f"{order} (times in UTC)"
    )
    print_view(conversations_table(records, title))


def with_post_details(
    record: dict[str, Any], doc: dict[str, Any], posts: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """``record`` with its newest post's action, stakeholder labels and reasons.

    The thread document carries the action; labels and reasons live on the
    post in the posts index (empty when it has gone, e.g. past retention).
    """
    last = dict(record.get("last_post") or {})
    post = posts.get(str(last.get("id"))) or {}
    joinability = post.get("joinability") or {}
    last["action"] = (doc.get("last_post") or {}).get("action") or joinability.get("action")
    last["stakeholder_labels"] = list(post.get("stakeholder_labels") or [])
    last["reasons"] = list(joinability.get("reasons") or [])
    return {**record, "last_post": last}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@kibana_app.command("import")
def kibana_import(
    url: Annotated[
        str | None,
        typer.Option(
            help="Kibana base URL, e.g. http://localhost:5601 (or TOWNSQUARE_KIBANA_URL)."
        ),
    ] = None,
    space: Annotated[
        str | None, typer.Option(help="Kibana space id (default space if unset).")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", dir_okay=False, help="Saved objects NDJSON (default: the shipped one)."
        ),
    ] = None,
) -> None:
    """Import the data views, saved searches and dashboard into Kibana (overwriting)."""
    from pydantic import ValidationError

    from streams.es.kibana import (
        KibanaError,
        KibanaSettings,
        default_objects_file,
        import_saved_objects,
        rewrite_index_prefix,
    )

    try:
        kibana = KibanaSettings()
    except ValidationError as exc:
        fail(f"invalid TOWNSQUARE_KIBANA_* settings: {exc}")
    base = url or kibana.url
    if not base:
        fail("no Kibana URL: pass --url http://HOST:5601 or set TOWNSQUARE_KIBANA_URL")
    path = file or default_objects_file()
    if not path.is_file():
        fail(f"{path} does not exist; pass --file with the saved objects NDJSON")
    prefix = get_settings().index_prefix
    try:
        body = rewrite_index_prefix(path.read_text(encoding="utf-8"), prefix)
    except (ValueError, KeyError) as exc:
        fail(f"{path} is not a saved objects NDJSON file: {exc}")
    try:
        result = import_saved_objects(base, body, kibana, space=space)
    except KibanaError as exc:
        fail(str(exc))
    where = f"space {space!r}" if space else "the default space"
    console.print(
        plain(
            f"imported {result.success_count} saved objects from {path.name} into {where} "
            f"(index prefix {prefix!r}): "
        )
        + (Text("success", style="green") if result.success else Text("failed", style="red"))
    )
    for error in result.errors:
        err.print(import_error_line(error))
    if result.errors or not result.success:
        raise typer.Exit(1)


def import_error_line(error: ObjectError) -> Text:
    """Kibana echoes the saved objects' titles and its own reasons: plain text, never markup."""
    return Text.assemble(
        "  ",
        plain(error.type, style="red"),
        " ",
        plain(f"{error.id} {error.title!r}: {error.reason}"),
    )
