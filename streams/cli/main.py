"""The ``townsquare`` command line.

Every command reads the same settings (``TOWNSQUARE_*``). With neither
``TOWNSQUARE_KAFKA_BOOTSTRAP`` nor ``TOWNSQUARE_ES_URL`` set, commands use the
local servers that ``townsquare services up`` starts on 127.0.0.1.
Heavy imports (Faust, spaCy) happen inside the commands that need them, so
``--help`` and the small commands stay fast.
"""

from __future__ import annotations

import logging.config
from collections import Counter
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text
from typer.core import TyperGroup

from streams.cli.analyst import register as register_es_commands
from streams.cli.console import (
    console,
    debugging,
    err,
    fail,
    plain,
    progress,
    safe,
    set_debug,
    show_traceback,
    tidy_help,
    unreachable,
)
from streams.cli.forget import register as register_forget_command
from streams.cli.inbox import register as register_inbox_commands
from streams.cli.ingest import FORMATS_HELP, ingest_app
from streams.cli.retention import register as register_retention_commands
from streams.cli.rules import register as register_alert_commands
from streams.logs import logging_config
from streams.models_cli import models_app
from streams.settings import Settings, get_settings

if TYPE_CHECKING:
    from streams.cli.setup import Report


def townsquare_version() -> str:
    """The installed distribution's version (a source checkout without metadata: unknown)."""
    try:
        return version("townsquare")
    except PackageNotFoundError:
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        console.print(plain(f"townsquare {townsquare_version()}"))
        raise typer.Exit()


class TownsquareGroup(TyperGroup):
    """The root command: the one place every invocation passes through.

    ``main`` tidies the help screens (when the app runs, not at import);
    ``invoke`` turns an error that means "a server cannot be reached", from
    any command, into the shared one-line message (``--debug``: after the
    traceback). Anything else propagates as before: a bug should show.
    """

    def main(self, *args: Any, **kwargs: Any) -> Any:
        tidy_help()
        return super().main(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # An exit or usage error (typer's own exceptions) was decided and reported
            # already, even when a connection error is behind it.
            line = None if type(exc).__module__.startswith("typer") else unreachable(exc)
            if line is None:
                raise
            if debugging():
                show_traceback(exc)
            err.print(Text.assemble(("error:", "bold red"), " ", plain(line)), soft_wrap=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    name="townsquare",
    cls=TownsquareGroup,
    help="Find the public conversations your organisation can join well.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _global_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the version and exit.",
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="On a failure, print the traceback before the error line."),
    ] = False,
) -> None:
    """Each invocation reads ``TOWNSQUARE_*`` afresh, as a new process would.

    Matters when the app runs more than once in one process (tests, notebooks);
    so does ``--debug``, which is set (or cleared) for every invocation.
    """
    get_settings.cache_clear()
    set_debug(debug)


services_app = typer.Typer(help="Local Kafka- and Elasticsearch-compatible servers (no Docker).")
profile_app = typer.Typer(help="Organisation profiles.")
schemas_app = typer.Typer(help="Published JSON Schemas of the topics' messages.")
app.add_typer(services_app, name="services")
app.add_typer(ingest_app, name="ingest")
register_es_commands(app)
app.add_typer(profile_app, name="profile")
app.add_typer(schemas_app, name="schemas")
app.add_typer(models_app, name="models")
register_retention_commands(app)
register_forget_command(app)
register_alert_commands(app)
register_inbox_commands(app)

# Piped output (CI logs, `| less`) gets a readable width instead of rich's 80.
# --- services -------------------------------------------------------------------


def _local(settings: Settings) -> Any:
    from streams.cli.services import LocalServices

    return LocalServices.from_settings(settings)


@services_app.command("up")
def services_up() -> None:
    """Start the local servers (no-op if they already run) and wait until they answer."""
    from streams.cli.services import ServiceError, up

    svc = _local(get_settings())
    try:
        started = up(svc)
    except ServiceError as exc:
        fail(str(exc))
    word = "started" if started else "already running"
    console.print(
        plain(f"local services {word}: kafka {svc.kafka_bootstrap}, elasticsearch {svc.es_url}")
    )


@services_app.command("down")
def services_down() -> None:
    """Stop the local servers; their data stays under the data folder."""
    from streams.cli.services import down

    stopped = down(_local(get_settings()))
    console.print("local services stopped" if stopped else "local services were not running")


@services_app.command("status")
def services_status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show whether the local servers run and answer."""
    from streams.cli.services import status

    info = status(_local(get_settings()))
    if as_json:
        console.print_json(data=info)
        return
    for key, value in info.items():
        console.print(plain(f"{key:20} {value}"))


# --- setup ----------------------------------------------------------------------


@app.command()
def setup(
    apply: Annotated[
        bool,
        typer.Option(
            "--apply",
            help="Also set back topic configs that drifted (cleanup.policy). Partition "
            "counts are only reported: they are not changed in place.",
        ),
    ] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Exit 1 while any drift is left (for CI and deploy hooks)."),
    ] = False,
) -> None:
    """Create topics, index templates, the ILM policy and write aliases (idempotent).

    Existing topics are compared with the settings: retention is aligned at
    once; other differences are listed as drift, with what to do.
    """
    from streams.cli.setup import run_setup

    try:
        report = run_setup(get_settings(), apply=apply)
    except Exception as exc:  # fail() names an unreachable server itself
        fail(
            f"setup failed: {exc}. Are Kafka and Elasticsearch reachable? "
            "Run `townsquare services up` for local ones."
        )
    for line in setup_lines(report):
        console.print(line)
    if check and report.drift:
        raise typer.Exit(1)


def setup_lines(report: Report) -> list[Text]:
    """Resource names carry the configured prefix and skips echo server replies: plain text."""
    return [
        *(Text.assemble(("created", "green"), "  ", plain(line)) for line in report.created),
        *(Text.assemble(("exists", "dim"), "   ", plain(line)) for line in report.existing),
        *(Text.assemble(("updated", "cyan"), "  ", plain(line)) for line in report.updated),
        *(Text.assemble(("skipped", "yellow"), "  ", plain(line)) for line in report.unsupported),
        *(Text.assemble(("drift", "bold yellow"), "    ", plain(line)) for line in report.drift),
    ]


# --- worker ---------------------------------------------------------------------


@app.command()
def worker(
    role: Annotated[
        list[str],
        typer.Option(
            "--role",
            "-r",
            help="normalize, locate, enrich, index, alert, notify or all (repeatable; sink is "
            "a deprecated name of index).",
        ),
    ] = ["all"],  # noqa: B006 - typer reads the default
    sample_profile: Annotated[
        bool,
        typer.Option(
            "--sample-profile",
            help="Score with the sample council profile when TOWNSQUARE_PROFILE_PATH is unset "
            "(demos and tests); without it such a worker refuses to start.",
        ),
    ] = False,
) -> None:
    """Run the Faust worker for the given stages until stopped (SIGTERM/SIGINT)."""
    settings = get_settings()
    if sample_profile:
        settings = settings.model_copy(update={"allow_sample_profile": True})
    import faust

    from streams.metrics import serve_metrics
    from streams.worker.app import create_worker
    from streams.worker.membership import NoFreeSlot, claim
    from streams.worker.roles import consumer_group, resolve

    try:
        roles = resolve(role)  # an unknown role fails here, before anything is created
    except ValueError as exc:
        fail(str(exc))
    # Side roles (alert, notify) alone get a consumer group of their own (roles.consumer_group).
    settings = settings.model_copy(update={"app_id": consumer_group(settings.app_id, roles)})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        membership = claim(settings)  # held (its lock file open) until the process exits
    except NoFreeSlot as exc:
        fail(str(exc))
    settings = settings.model_copy(update={"kafka_group_instance_id": membership.instance_id})
    try:
        built = create_worker(settings, roles)
    except ValueError as exc:
        fail(str(exc))
    serve_metrics(settings.metrics_port)
    faust.Worker(
        built.app,
        *built.services(),
        loglevel=settings.log_level.lower(),
        logging_config=logging_config(settings.log_level, settings.log_format),
        quiet=True,
    ).execute_from_commandline()


# --- ingest ---------------------------------------------------------------------


# --- run ------------------------------------------------------------------------


@app.command()
def run(
    keep_running: Annotated[
        bool, typer.Option(help="Leave the worker and local services running afterwards.")
    ] = False,
    corpus: Annotated[
        Path | None, typer.Option(help="JSONL of canonical posts (default: the sample corpus).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every post.")] = 240.0,
) -> None:
    """The main job end to end: services, setup, worker, replay the corpus, summary."""
    from streams.cli.run import run_end_to_end

    code = run_end_to_end(
        get_settings(), corpus=corpus, keep_running=keep_running, timeout=timeout, console=console
    )
    raise typer.Exit(code)


# --- offline enrichment ---------------------------------------------------------


@app.command()
def enrich(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    fmt: Annotated[str, typer.Option("--format", "-f", help=FORMATS_HELP)] = "jsonl",
    profile: Annotated[Path | None, typer.Option(help="Organisation profile YAML.")] = None,
    now: Annotated[
        str | None,
        typer.Option(
            help="Score as if every post reached us at this time (ISO 8601); default: when "
            "this run read it, as a live replay would."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write enriched JSONL here (default stdout).")
    ] = None,
) -> None:
    """Run the enrichment processors offline over a file, in input order."""
    from streams.cli.offline import enrich_file

    settings = get_settings()
    try:
        reference = datetime.fromisoformat(now) if now else None
    except ValueError:
        fail(f"--now {now!r} is not an ISO 8601 time, e.g. 2026-05-01T12:00:00Z")
    from streams.sources.readers import (
        UnknownFormat,
        WrongFormat,
        check_file_format,
        check_format,
        count_records,
    )

    try:
        check_format(fmt)
        check_file_format(path, fmt)
    except (UnknownFormat, WrongFormat) as exc:
        fail(str(exc))
    if profile is None and settings.profile_path is None:
        err.print(
            "WARNING: no --profile and TOWNSQUARE_PROFILE_PATH is unset: scoring for the "
            "SAMPLE council profile, not your organisation. Pass --profile FILE.",
            style="bold yellow",
            markup=False,
        )
    rejected: Counter[str] = Counter()
    with progress() as bar:
        task = bar.add_task(safe(f"enriching {path.name}"), total=count_records(path, fmt))
        try:
            count = enrich_file(
                settings,
                path,
                fmt,
                profile,
                reference,
                out,
                on_post=lambda: bar.advance(task),
                rejected=rejected,
            )
        except ValueError as exc:
            fail(str(exc))
        bar.update(task, completed=bar.tasks[0].total)  # deletes and rejects emit nothing
    for line in enrich_lines(count, rejected, fmt):
        err.print(line, soft_wrap=True)
    if count == 0 and rejected:
        raise typer.Exit(1)


def enrich_lines(count: int, rejected: Counter[str], fmt: str) -> list[Text]:
    """The enrich summary: posts written, and records the adapter refused, by reason."""
    lines = [plain(f"enriched {count} posts")]
    if rejected:
        reasons = ", ".join(f"{reason} {n}" for reason, n in rejected.most_common())
        lines.append(
            plain(
                f"skipped {rejected.total()} records the {fmt} adapter refused ({reasons})"
                + ("; none could be read: is the file what --format says?" if count == 0 else ""),
                style="yellow",
            )
        )
    return lines


@profile_app.command("check")
def profile_check(path: Annotated[Path, typer.Argument()]) -> None:
    """Validate an organisation profile and print what it declares."""
    from processors.profile import ProfileError, load_profile, summary

    try:
        org = load_profile(path)
    except ProfileError as exc:
        err.print(plain(f"{path} is not a valid profile:", style="bold red"))
        for problem in exc.problems:
            err.print(plain(f"  - {problem}"))
        raise typer.Exit(1) from None
    console.print(
        Text.assemble(
            ("ok", "green"),
            " ",
            plain(
                f"{org.name}: {sum(len(v) for v in org.accounts.values())} own accounts, "
                f"{len(org.topics)} topics, {len(org.gazetteer)} gazetteer entries"
            ),
        )
    )
    for label, value in summary(org):
        console.print(Text.assemble("  ", (f"{label:<11}", "dim"), plain(value)))


@schemas_app.command("export")
def schemas_export() -> None:
    """Regenerate schemas/json from the models (commit the result)."""
    from schemas.export import write_schemas

    for path in write_schemas():
        console.print(plain(f"wrote {path}"))


def main() -> None:
    """The console script: logging as the settings say (text at a terminal), then the app."""
    settings = get_settings()
    logging.config.dictConfig(logging_config(settings.log_level, settings.log_format))
    app()


if __name__ == "__main__":
    main()
