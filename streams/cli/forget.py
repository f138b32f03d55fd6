"""``townsquare forget``: the erase-a-person command (the work is :mod:`streams.forget`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from streams.cli.console import console, err, fail, plain
from streams.settings import get_settings


def forget_command(
    author: Annotated[
        str,
        typer.Argument(
            help="The person: an author id (platform:native id, e.g. mastodon:10923) or a "
            "handle (alice@social.example, @alice.bsky.social)."
        ),
    ],
    platform: Annotated[
        str | None,
        typer.Option(help="Only their account on this platform (default: every platform)."),
    ] = None,
    requested_by: Annotated[
        str | None,
        typer.Option(
            "--requested-by", help="Who asked, for the audit record (default: your user name)."
        ),
    ] = None,
    settle: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds to wait for posts already in the pipeline before the second sweep.",
        ),
    ] = 10.0,
) -> None:
    """Erase a person: remove their posts everywhere and drop their later posts on arrival.

    Records the erasure (workers drop the person's new posts from then on),
    deletes their documents from every index of every family, removes their
    posts from the conversation and locate state through the pipeline, sweeps
    once more for posts that were in flight, and writes an audit record.
    Running it again removes nothing more and says so. See docs/privacy.md.
    """
    from streams.forget import ForgetError, forget

    settings = get_settings()
    try:
        report = forget(
            settings,
            author,
            platform=platform,
            requested_by=requested_by,
            settle=settle,
            on_step=lambda step: err.print(plain(f"  {step}", style="dim")),
        )
    except ForgetError as exc:
        fail(str(exc))
    except Exception as exc:
        fail(
            f"forget failed: {type(exc).__name__}: {exc}. Are Kafka and Elasticsearch "
            "reachable? Nothing is lost by running it again."
        )
    who = plain(author)
    if report.total == 0:
        since = (
            f" (erasure in force since {report.first_requested_at:%Y-%m-%d %H:%M} UTC)"
            if report.first_requested_at
            else ""
        )
        console.print(
            Text.assemble(
                "nothing left to remove for ",
                who,
                plain(since),
                "; their new posts are dropped on arrival.",
            )
        )
        return
    parts = ", ".join(f"{n} {family}" for family, n in sorted(report.removed.items()))
    console.print(
        Text.assemble(
            ("forgot", "green"),
            " ",
            who,
            plain(
                f": removed {parts} documents from {len(report.conversations)} conversations"
                + (f" ({report.late} found by the second sweep)" if report.late else "")
                + "; their new posts are dropped on arrival."
            ),
        )
    )


def register(app: typer.Typer) -> None:
    """Add ``forget`` to the top-level command line."""
    app.command("forget")(forget_command)
