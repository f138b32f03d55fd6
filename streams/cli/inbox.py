"""``townsquare inbox``, ``thread`` and ``handle``: the analyst's queue, worked from a terminal.

The queue is the conversations waiting for our reply now (the conversations
index), longest wait first, less what analysts set aside with ``handle``
(the handling index, :mod:`streams.es.handling`) until a newer post from
the other side brings it back or its snooze ends (the rules, and the layout,
are in :mod:`streams.cli.views`). ``thread`` shows one conversation's posts
from the posts index and where we stand; ``handle`` records a decision.

The views read ``COLUMNS`` when they print into a pipe (the shared console
then assumes 140), so ``COLUMNS=80 townsquare inbox | less`` looks as it
does in an 80-column terminal.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from streams.cli.console import console, err, fail, plain
from streams.settings import Settings, get_settings, redact_url

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from streams.cli.views import Handling, InboxItem, QueueSummary

T = TypeVar("T")

DEFAULT_LIMIT = 20
THREAD_LIMIT = 100


def register(app: typer.Typer) -> None:
    """Add ``inbox``, ``thread`` and ``handle`` to the ``townsquare`` app."""
    app.command("inbox")(inbox_command)
    app.command("thread")(thread_command)
    app.command("handle")(handle_command)


# --- shared -------------------------------------------------------------------------------


def screen() -> Console:
    """A console for the views, as wide as the terminal, or as ``COLUMNS`` says in a pipe."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        width: int | None = int(columns)
    else:
        width = None if sys.stdout.isatty() else console.width
    return Console(width=width, highlight=False)


def _reference(now: str | None) -> datetime:
    from streams.cli.views import parse_time

    if not now:
        return datetime.now(UTC)
    try:
        moment = parse_time(now)
    except ValueError:
        moment = None
    if moment is None:
        fail(f"--now {now!r} is not an ISO 8601 time, e.g. 2026-05-01T12:00:00Z")
    return moment


@dataclass(frozen=True)
class Judge:
    """What the organisation profile says the views need: the SLA and who is us."""

    sla_minutes: int
    own_handles: frozenset[str]


def _judge(settings: Settings) -> Judge:
    from processors.profile import ProfileError
    from streams.profiles import load_profile_with_digest

    try:
        org = load_profile_with_digest(settings).org
    except ProfileError as exc:
        fail(f"the organisation profile is not valid: {'; '.join(exc.problems)}")
    except OSError as exc:
        fail(f"cannot read the organisation profile: {exc}. Check TOWNSQUARE_PROFILE_PATH.")
    return Judge(org.reply_sla_minutes, org.own_handles())


def _refused(exc: Any) -> NoReturn:
    """The server answered, but no: a missing index says to run setup, others say why."""
    from elasticsearch import NotFoundError

    if isinstance(exc, NotFoundError):
        fail(
            f"{_reason(exc)}: run `townsquare setup`, then a worker "
            "(`townsquare run --keep-running` does both on the sample corpus)"
        )
    fail(f"Elasticsearch refused the request ({exc.meta.status}: {_reason(exc)})")


def _unreachable(settings: Settings, exc: BaseException) -> str:
    """The shared one line for a server that cannot be reached (which, and what to do next)."""
    from streams.cli.console import unreachable

    where = redact_url(settings.es_url) if settings.es_url else "the local Elasticsearch"
    return unreachable(exc) or (
        f"cannot reach Elasticsearch at {where}: start the local servers with "
        "`townsquare services up`, or point TOWNSQUARE_ES_URL at yours"
    )


def _reason(exc: Any) -> str:
    """The server's own words (``no such index [...]``), else the error's name."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict) and error.get("reason"):
        return str(error["reason"])
    return str(exc.message)


def _with_elasticsearch(settings: Settings, work: Callable[[Elasticsearch], T]) -> T:
    """``work(client)`` for one command; any Elasticsearch failure becomes one clear line.

    The line is printed after the ``except`` block, so the exit it raises
    carries no connection error that the app's own handler would report a
    second time.
    """
    from elasticsearch import ApiError, TransportError

    from streams.es.client import sync_client
    from streams.settings import LocalPortUnknown

    try:
        es = sync_client(settings)
    except LocalPortUnknown as exc:
        fail(str(exc))
    failure: ApiError | TransportError | None = None
    try:
        return work(es)
    except (ApiError, TransportError) as exc:
        failure = exc
    finally:
        es.close()
    from streams.cli.console import debugging, show_traceback

    if debugging():
        show_traceback(failure)
    if isinstance(failure, ApiError):
        _refused(failure)
    fail(_unreachable(settings, failure))


def _unknown(conversation: str, alias: str) -> NoReturn:
    fail(
        f"no conversation {conversation!r} in {alias}: `townsquare inbox` lists the waiting "
        "ones with their ids (`--all` with the handled ones)"
    )


def _handling_of(es: Elasticsearch, name: str, ids: list[str]) -> dict[str, Handling]:
    from streams.cli.views import Handling
    from streams.es.handling import read_handling

    if not ids or not es.indices.exists(index=name):
        return {}
    return {cid: Handling.from_document(doc) for cid, doc in read_handling(es, name, ids).items()}


# --- inbox ---------------------------------------------------------------------------------


def inbox_command(
    limit: Annotated[
        int, typer.Option(min=1, max=500, help="How many conversations to show.")
    ] = DEFAULT_LIMIT,
    show_all: Annotated[
        bool,
        typer.Option(
            "--all", help="Show handled and snoozed conversations too, each with its state."
        ),
    ] = False,
    assigned: Annotated[
        str | None,
        typer.Option("--assigned", metavar="PERSON", help="Only conversations assigned to PERSON."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV with a header row.")] = False,
    now: Annotated[
        str | None,
        typer.Option(help="Reference time (ISO 8601) for ages and snoozes; default: the clock."),
    ] = None,
) -> None:
    """The conversations waiting for our reply, longest wait first, against the reply SLA.

    Each shows its age against the SLA (red when past it), who waits and their
    stakeholder labels, the last post, the first reason and the recommended
    action, and the full link. Conversations marked with `townsquare handle`
    are left out until someone else posts again (or their snooze ends).
    """
    if as_json and as_csv:
        fail("--json and --csv are two formats; pick one")
    settings = get_settings()
    reference = _reference(now)
    judge = _judge(settings)
    items, summary = _with_elasticsearch(
        settings,
        lambda es: read_queue(es, settings, judge, reference, limit, show_all, assigned),
    )
    if as_json:
        from streams.cli.views import inbox_record

        for item in items:
            sys.stdout.write(json.dumps(inbox_record(item)) + "\n")
        return
    if as_csv:
        from streams.cli.views import inbox_csv

        sys.stdout.write(inbox_csv(items))
        return
    from streams.cli.views import inbox_lines, show

    out = screen()
    show(out, inbox_lines(items, summary, out.width))


def read_queue(
    es: Elasticsearch,
    settings: Settings,
    judge: Judge,
    now: datetime,
    limit: int,
    show_all: bool,
    assigned: str | None,
) -> tuple[list[InboxItem], QueueSummary]:
    """The page of the queue: waiting threads oldest first, less what handling hides.

    Pages through the waiting threads (one handling ``mget`` per page) until
    ``limit`` are kept, then reads their posts in one search.
    """
    from streams.cli.views import QueueSummary, inbox_item, post_ids_to_read, standing
    from streams.es.conversations import MAX_CONVERSATIONS
    from streams.es.handling import awaiting_pages, handling_index, read_posts

    name = handling_index(settings)
    handled_any = es.indices.exists(index=name)
    wanted = assigned.strip().casefold() if assigned else None
    kept: list[tuple[dict[str, Any], Handling | None]] = []
    hidden, read, more = 0, 0, False
    page = min(1000, max(100, 2 * limit))
    for docs in awaiting_pages(es, settings.index_alias("conversations"), page):
        read += len(docs)
        ids = [str(d["conversation_id"]) for d in docs]
        records = _handling_of(es, name, ids) if handled_any else {}
        for doc in docs:
            record = records.get(str(doc["conversation_id"]))
            state = standing(record, doc, now, judge.own_handles)
            if wanted is not None and (state.assignee or "").casefold() != wanted:
                continue
            if state.hidden and not show_all:
                hidden += 1
                continue
            if len(kept) == limit:
                more = True
                break
            kept.append((doc, record))
        if more:
            break
    posts = read_posts(
        es,
        settings.index_alias("posts"),
        [pid for doc, _ in kept for pid in post_ids_to_read(doc)],
    )
    items = [
        inbox_item(doc, record, posts, now, judge.sla_minutes, judge.own_handles)
        for doc, record in kept
    ]
    summary = QueueSummary(
        sla_minutes=judge.sla_minutes,
        hidden=hidden,
        more=more,
        show_all=show_all,
        assigned=assigned,
        scanned_out=not more and read >= MAX_CONVERSATIONS,
    )
    return items, summary


# --- thread --------------------------------------------------------------------------------


def thread_command(
    conversation: Annotated[
        str, typer.Argument(help="The conversation id, as `townsquare inbox` prints it.")
    ],
    limit: Annotated[
        int, typer.Option(min=1, max=1000, help="Show at most the latest N posts.")
    ] = THREAD_LIMIT,
    now: Annotated[
        str | None,
        typer.Option(help="Reference time (ISO 8601) for the wait; default: the clock."),
    ] = None,
) -> None:
    """One conversation's posts in order, who is us, and where we stand.

    Each post shows its time, author, text, recommended action, first reason
    and full link; the head says whether it waits for our reply (against the
    SLA), was answered, handled, snoozed or assigned.
    """
    from streams.cli.views import Thread, show, thread_lines, thread_post
    from streams.es.handling import find_conversation, handling_index, read_thread_posts

    settings = get_settings()
    reference = _reference(now)
    judge = _judge(settings)
    alias = settings.index_alias("conversations")

    def read(es: Elasticsearch) -> tuple[dict[str, Any] | None, Handling | None, list[Any], int]:
        doc = find_conversation(es, alias, conversation)
        if doc is None:
            return None, None, [], 0
        record = _handling_of(es, handling_index(settings), [conversation]).get(conversation)
        posts, total = read_thread_posts(es, settings.index_alias("posts"), conversation, limit)
        return doc, record, posts, total

    doc, record, posts, total = _with_elasticsearch(settings, read)
    if doc is None:
        _unknown(conversation, alias)
    thread = Thread(
        conversation=doc,
        handling=record,
        posts=[thread_post(p, doc, judge.own_handles) for p in posts],
        total=total,
    )
    out = screen()
    show(out, thread_lines(thread, reference, judge.sla_minutes, judge.own_handles, out.width))


# --- handle --------------------------------------------------------------------------------


def handle_command(
    conversation: Annotated[
        str, typer.Argument(help="The conversation id, as `townsquare inbox` prints it.")
    ],
    snooze_until: Annotated[
        str | None,
        typer.Option(
            "--snooze-until",
            metavar="TIME",
            help="Hide it until TIME: ISO 8601 (2026-05-01T09:00:00Z) or a span from now "
            "(30m, 2h, 1d, 1w). A newer post from the other side ends the snooze early.",
        ),
    ] = None,
    assign: Annotated[
        str | None,
        typer.Option(
            "--assign",
            metavar="PERSON",
            help="Give it to PERSON (it stays in the queue; `inbox --assigned PERSON`).",
        ),
    ] = None,
    reopen: Annotated[bool, typer.Option("--reopen", help="Put it back in the queue now.")] = False,
    note: Annotated[
        str | None, typer.Option("--note", metavar="TEXT", help="Why, for whoever reads it next.")
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", metavar="WHO", help="Who decided (default: your user name)."),
    ] = None,
) -> None:
    """Mark a conversation handled (the default), snoozed until a time, or assigned to a person.

    Stored in the `<prefix>-handling` index (created on first use). A handled
    or snoozed conversation leaves the queue until someone other than us posts
    after what it held when it was handled; our own posts do not bring it back.
    """
    from streams.cli.views import Handling, Line, new_handling, parse_until, show, when
    from streams.es.handling import (
        ensure_handling_index,
        find_conversation,
        handling_index,
        read_handling,
        write_handling,
    )

    moment = datetime.now(UTC)
    until = None
    if snooze_until is not None:
        try:
            until = parse_until(snooze_until, moment)
        except ValueError as exc:
            fail(f"--snooze-until: {exc}")
    if assign is not None and not assign.strip():
        fail("--assign needs a person, e.g. --assign sam")
    if reopen and until is not None:
        fail("--reopen and --snooze-until contradict each other; pick one")
    settings = get_settings()
    alias, name = settings.index_alias("conversations"), handling_index(settings)

    def decide(es: Elasticsearch) -> tuple[Handling, bool] | None:
        doc = find_conversation(es, alias, conversation)
        if doc is None:
            return None
        created = ensure_handling_index(es, name)
        previous = read_handling(es, name, [conversation]).get(conversation)
        record = new_handling(
            Handling.from_document(previous) if previous else None,
            doc,
            now=moment,
            by=by or getpass.getuser(),
            snooze_until=until,
            assign=assign.strip() if assign else None,
            reopen=reopen,
            note=note,
        )
        write_handling(es, name, record.document())
        return record, created

    decided = _with_elasticsearch(settings, decide)
    if decided is None:
        _unknown(conversation, alias)
    record, created = decided
    if created:
        err.print(plain(f"created the handling index {name} (a plain index)", style="dim"))
    back = f"it comes back when someone else posts after {when(record.handled_after)}"
    words = {
        "handled": Text.assemble(("handled", "green"), " ", plain(f"{conversation}: {back}.")),
        "snoozed": Text.assemble(
            ("snoozed", "yellow"),
            " ",
            plain(f"{conversation} until {when(record.until)}, or sooner: {back}."),
        ),
        "assigned": Text.assemble(
            ("assigned", "cyan"),
            " ",
            plain(
                f"{conversation} to {record.assignee}; it stays in the queue "
                f"(`townsquare inbox --assigned {record.assignee}`)."
            ),
        ),
        "open": Text.assemble(
            ("reopened", "cyan"),
            " ",
            plain(
                f"{conversation}: back in the queue while it waits for our reply"
                + (f" (assigned to {record.assignee})." if record.assignee else ".")
            ),
        ),
    }
    show(screen(), [Line(words["open" if reopen else record.state])])
