"""Search commands: what analysts ask of Elasticsearch (and Kibana) from a terminal."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from streams.cli.console import console, err, fail, plain
from streams.settings import get_settings

if TYPE_CHECKING:
    from streams.es.kibana import ObjectError

kibana_app = typer.Typer(help="Kibana saved objects (data views, saved searches, dashboard).")


def register(app: typer.Typer) -> None:
    """Add ``search``, ``conversations`` and ``kibana`` to the ``townsquare`` app."""
    app.command()(search)
    app.command()(conversations)
    app.add_typer(kibana_app, name="kibana")


def search(
    query: Annotated[str | None, typer.Argument(help="Words to look for in the text.")] = None,
    min_joinability: Annotated[float | None, typer.Option(min=0, max=1)] = None,
    action: Annotated[list[str], typer.Option(help="reply, appreciate, escalate, ...")] = [],  # noqa: B006
    stakeholder: Annotated[list[str], typer.Option(help="customer, media, ...")] = [],  # noqa: B006
    awaiting_reply: Annotated[
        bool,
        typer.Option(
            "--awaiting-reply",
            help="Posts of the conversations awaiting our reply now: their ids are "
            "looked up in the conversations index (as `townsquare conversations "
            "--awaiting-reply` lists them), then their posts are searched.",
        ),
    ] = False,
    since: Annotated[str | None, typer.Option(help="Only posts newer than e.g. 24h, 7d.")] = None,
    platform: Annotated[list[str], typer.Option()] = [],  # noqa: B006
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Search enriched posts in Elasticsearch, best joinability first."""
    from streams.es.client import sync_client
    from streams.es.conversations import awaiting_ids
    from streams.es.search import PostFilter, parse_duration, posts_query, posts_sort

    settings = get_settings()
    try:
        window = parse_duration(since) if since else None
    except ValueError as exc:
        fail(str(exc))
    flt = PostFilter(
        text=query,
        min_joinability=min_joinability,
        actions=action,
        stakeholders=stakeholder,
        since=window,
        platforms=platform,
    )
    es = sync_client(settings)
    try:
        if awaiting_reply:
            # One meaning of "awaiting" everywhere: the threads waiting now.
            waiting = awaiting_ids(es, settings.index_alias("conversations"))
            if waiting.truncated:
                err.print("[yellow]warning:[/] too many threads await a reply; the oldest are read")
            flt.conversation_ids = waiting.ids
        resp = es.search(
            index=settings.index_alias("posts"),
            query=posts_query(flt),
            sort=posts_sort(flt),
            size=limit,
        )
    except Exception as exc:
        fail(f"search failed: {exc}. Is Elasticsearch reachable and `townsquare setup` done?")
    hits = [h["_source"] for h in resp["hits"]["hits"]]
    if as_json:
        for doc in hits:
            sys.stdout.write(json.dumps(doc) + "\n")
        return
    console.print(posts_table(hits, title=f"{resp['hits']['total']['value']} matching posts"))


def posts_table(docs: list[dict[str, Any]], title: str) -> Table:
    """Every cell comes from a stored post, so every cell is plain text, never markup."""
    table = Table(title=title, show_lines=False)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("action", no_wrap=True)
    table.add_column("stakeholders", max_width=22)
    table.add_column("author", max_width=24, no_wrap=True, overflow="ellipsis")
    table.add_column("text", ratio=3, overflow="fold")
    table.add_column("link", max_width=40, no_wrap=True, overflow="ellipsis")
    for doc in docs:
        j = doc.get("joinability") or {}
        text = " ".join(str(doc.get("text", "")).split())
        table.add_row(
            plain(f"{j.get('score', 0):.2f}"),
            plain(j.get("action", "")),
            plain(", ".join(str(label) for label in doc.get("stakeholder_labels") or [])),
            plain("@" + str((doc.get("author") or {}).get("handle") or "?")),
            plain(text[:140] + ("…" if len(text) > 140 else "")),
            plain(doc.get("url") or ""),
        )
    return table


def conversations(
    awaiting_reply: Annotated[
        bool,
        typer.Option(
            "--awaiting-reply", help="Only conversations waiting for our reply, oldest first."
        ),
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    now: Annotated[
        str | None,
        typer.Option(help="Reference time (ISO 8601) for waiting times; default: the clock."),
    ] = None,
) -> None:
    """Conversations as they stand now: who waits for us, for how long, against the reply SLA.

    Reads the conversations index (one document per thread, its current state).
    """
    from streams.es.client import sync_client
    from streams.es.conversations import conversation_record, find_conversations
    from streams.profiles import profile_for

    settings = get_settings()
    try:
        reference = _utc(datetime.fromisoformat(now)) if now else datetime.now(UTC)
    except ValueError:
        fail(f"--now {now!r} is not an ISO 8601 time, e.g. 2026-05-01T12:00:00Z")
    sla_minutes = profile_for(settings).reply_sla_minutes
    es = sync_client(settings)
    try:
        found = find_conversations(es, settings.index_alias("conversations"), awaiting_reply, limit)
    except Exception as exc:
        fail(f"search failed: {exc}. Is Elasticsearch reachable and `townsquare setup` done?")
    finally:
        es.close()
    records = [conversation_record(c, reference, sla_minutes) for c in found]
    if as_json:
        for record in records:
            sys.stdout.write(json.dumps(record) + "\n")
        return
    word = "awaiting our reply" if awaiting_reply else "most recently active"
    title = f"{len(records)} conversations {word} (reply SLA {sla_minutes} min)"
    console.print(conversations_table(records, title))


def conversations_table(records: list[dict[str, Any]], title: str) -> Table:
    """Ids, text, authors and links come from stored posts: plain text, never markup."""
    from streams.es.conversations import format_span

    table = Table(title=title)
    table.add_column("conversation", no_wrap=True)
    table.add_column("waiting for", justify="right", no_wrap=True)
    table.add_column("SLA", no_wrap=True)
    table.add_column("last post", ratio=3, overflow="fold")
    table.add_column("author", max_width=24, no_wrap=True, overflow="ellipsis")
    table.add_column("link", max_width=40, no_wrap=True, overflow="ellipsis")
    for record in records:
        last = record["last_post"]
        text = " ".join(str(last.get("text") or "").split())
        waited = record["waiting_seconds"]
        if waited is None:
            wait_cell, sla_cell = "-", Text("answered" if record["own_posts"] else "-")
        else:
            wait_cell = format_span(timedelta(seconds=waited))
            over = record["over_by_seconds"]
            sla_cell = (
                Text(f"over by {format_span(timedelta(seconds=over))}", style="red")
                if over is not None
                else Text("within", style="green")
            )
        table.add_row(
            plain(record["conversation_id"]),
            plain(wait_cell),
            sla_cell,
            plain(text[:140] + ("…" if len(text) > 140 else "")),
            plain("@" + str(last.get("author") or "?")),
            plain(last.get("url") or ""),
        )
    return table


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
