"""``townsquare ingest SOURCE``: one command per source, all feeding ``posts.raw``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from streams.console import console, fail, progress
from streams.settings import get_settings

ingest_app = typer.Typer(help="Put posts from a source onto the raw topic.", no_args_is_help=True)


@ingest_app.command("replay")
def ingest_replay(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="File to replay.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="File format.")] = "jsonl",
    rate: Annotated[
        float | None, typer.Option(help="Records per second (default: as fast as Kafka takes).")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Stop after this many records.")] = None,
    resume: Annotated[
        bool, typer.Option(help="Start where the last replay of this file stopped.")
    ] = False,
) -> None:
    """Replay a file of posts onto the raw topic, with a progress bar."""
    from streams.ingest.readers import READER_FORMATS
    from streams.ingest.replay import replay_file, total_records

    if fmt not in READER_FORMATS:
        fail(f"unknown format {fmt!r}; choose one of: {', '.join(READER_FORMATS)}")
    settings = get_settings()
    total = total_records(path, fmt)
    with progress() as bar:
        task = bar.add_task(f"replaying {path.name}", total=min(total, limit or total))
        report = replay_file(
            settings,
            path,
            fmt,
            rate=rate,
            limit=limit,
            resume=resume,
            on_progress=lambda n: bar.advance(task, n),
        )
    console.print(
        f"sent {report.sent} records from {path.name} (positions {report.start}..{report.end}) "
        f"in {report.seconds:.1f}s to {settings.topic('posts.raw')}"
    )
