"""``townsquare retention``: keep no post longer than the retention period allows.

Elasticsearch and the modules it imports load inside the command, so
``townsquare --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from streams.cli.console import console, fail, plain
from streams.settings import get_settings, redact_url

if TYPE_CHECKING:
    from streams.es.retention import RetentionRun

retention_app = typer.Typer(
    help="Retention of people's posts: how long townsquare keeps them (TOWNSQUARE_RETENTION_DAYS).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``retention`` to the ``townsquare`` app."""
    app.add_typer(retention_app, name="retention")


@retention_app.command("apply")
def apply(
    days: Annotated[
        int | None,
        typer.Option(
            "--days",
            min=1,
            help="Delete posts older than this many days instead of TOWNSQUARE_RETENTION_DAYS.",
            show_default="TOWNSQUARE_RETENTION_DAYS",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Only count what would be deleted; delete nothing."),
    ] = False,
) -> None:
    """Delete indexed posts and alerts created more than the retention period ago.

    Searches every index of the posts and alerts families (rolled-over ones
    too) by the post's created_at, the time the person posted.

    Where the cluster has ILM, the policy `townsquare setup` installs already
    deletes old indices and this command is not needed (running it there is
    harmless). It is for servers without ILM, such as the local server and some
    managed offerings: run it daily, e.g. from cron or a Kubernetes CronJob.
    """
    from elasticsearch import ApiError, TransportError

    from streams.es.client import sync_client
    from streams.es.retention import apply_retention

    settings = get_settings()
    es = sync_client(settings)
    try:
        run = apply_retention(es, settings, days, dry_run=dry_run)
    except TransportError as exc:
        fail(
            f"cannot reach Elasticsearch at {redact_url(settings.elasticsearch_url)} "
            f"({type(exc).__name__}). Is it running? `townsquare services up` starts a local one."
        )
    except ApiError as exc:
        fail(f"Elasticsearch refused the retention run: {exc}")
    finally:
        es.close()
    for line in retention_lines(run):
        console.print(line)
    if run.failed:
        raise typer.Exit(1)


def retention_lines(run: RetentionRun) -> list[Text]:
    """What was (or would be) deleted, per family; index names and reasons as plain text."""
    when = run.cutoff.strftime("%Y-%m-%d %H:%M UTC")
    head = "dry run: nothing deleted; " if run.dry_run else ""
    lines = [plain(f"{head}retention {run.days} days: posts created before {when}")]
    for family in run.families:
        if run.dry_run:
            text = f"{family.family:8} {family.older} older, would be deleted ({family.pattern})"
        else:
            text = f"{family.family:8} {family.deleted} deleted ({family.pattern})"
        lines.append(plain(text))
        lines += [Text.assemble(("failed", "red"), "  ", plain(f)) for f in family.failures]
    return lines
