"""Search commands: what analysts ask of Elasticsearch from a terminal."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from streams.console import console, fail
from streams.settings import get_settings


def search(
    query: Annotated[str | None, typer.Argument(help="Words to look for in the text.")] = None,
    min_joinability: Annotated[float | None, typer.Option(min=0, max=1)] = None,
    action: Annotated[list[str], typer.Option(help="reply, appreciate, escalate, ...")] = [],  # noqa: B006
    stakeholder: Annotated[list[str], typer.Option(help="customer, media, ...")] = [],  # noqa: B006
    awaiting_reply: Annotated[bool, typer.Option("--awaiting-reply")] = False,
    since: Annotated[str | None, typer.Option(help="Only posts newer than e.g. 24h, 7d.")] = None,
    platform: Annotated[list[str], typer.Option()] = [],  # noqa: B006
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Search enriched posts in Elasticsearch, best joinability first."""
    from streams.es.client import sync_client
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
        awaiting_reply=awaiting_reply,
        since=window,
        platforms=platform,
    )
    es = sync_client(settings)
    try:
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
            f"{j.get('score', 0):.2f}",
            str(j.get("action", "")),
            ", ".join(doc.get("stakeholder_labels") or []),
            "@" + str((doc.get("author") or {}).get("handle") or "?"),
            text[:140] + ("…" if len(text) > 140 else ""),
            str(doc.get("url") or ""),
        )
    return table
