"""Alerting commands: ``rules check`` validates a rules file, ``alerts`` lists what was raised.

Rule names and descriptions come from a file someone edited, and alerts
quote handles and post text: everything printed goes through
:func:`streams.cli.console.plain`, never parsed as markup.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from streams.cli.console import console, err, fail, plain
from streams.settings import get_settings

rules_app = typer.Typer(
    help="Alert rules: the conditions over enriched posts that raise alerts.",
    no_args_is_help=True,
)

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def register(app: typer.Typer) -> None:
    """Add ``rules`` and ``alerts`` to the ``townsquare`` app."""
    app.add_typer(rules_app, name="rules")
    app.command()(alerts)


@rules_app.command("check")
def rules_check(
    path: Annotated[
        Path,
        typer.Argument(
            help="The rules YAML file (the one TOWNSQUARE_RULES_PATH would point at).",
            dir_okay=False,
        ),
    ],
) -> None:
    """Validate an alert rules file and print what it raises; exit 1 with every problem otherwise.

    Outputs a rule names that TOWNSQUARE_ALERT_WEBHOOKS does not configure are
    a warning, not an error: the notify role may run with other settings.
    """
    from processors.rules import RulesError, format_duration, load_rules, unknown_outputs

    try:
        rules = load_rules(path)
    except RulesError as exc:
        err.print(plain(f"{path} is not a valid rules file:", style="bold red"), soft_wrap=True)
        for problem in exc.problems:  # one line each, however wide: easy to grep and diff
            err.print(plain(f"  - {problem}"), soft_wrap=True)
        raise typer.Exit(1) from None
    for rule in rules.rules:
        outputs = ", ".join(rule.outputs) or "-"
        console.print(
            Text.assemble(
                plain(f"{rule.name:24} "),
                plain(f"{rule.severity:8}", style=SEVERITY_STYLE[rule.severity]),
                plain(f" throttle {format_duration(rule.throttle):6} outputs {outputs}"),
            )
        )
        if rule.description:
            console.print(plain(f"    {rule.description}", style="dim"))
    for spike in rules.spikes:
        console.print(
            plain(
                f"{spike.name:24} {spike.severity:8} spike on {', '.join(spike.on)}: "
                f"{format_duration(spike.window)} against {format_duration(spike.baseline)}, "
                f"at least {spike.min_count} posts and {spike.factor:g}x, cooldown "
                f"{format_duration(spike.cooldown)}, outputs {', '.join(spike.outputs) or '-'}"
            )
        )
    deadlines, silence = rules.reply_deadlines, rules.silence
    console.print(
        plain(
            f"reply deadlines: {'on' if deadlines.enabled else 'off'} ({deadlines.severity}, "
            f"{deadlines.escalated_severity} at twice the SLA), outputs "
            f"{', '.join(deadlines.outputs) or '-'}"
        )
    )
    console.print(
        plain(
            f"silence: {'on' if silence.enabled else 'off'} ({silence.severity} after "
            f"{silence.factor:g}x a source's usual gap, at least "
            f"{format_duration(silence.min_gap)}), outputs {', '.join(silence.outputs) or '-'}"
        )
    )
    try:
        configured = set(get_settings().alert_webhooks)
    except Exception as exc:  # the settings are not the file under check: say so, go on
        err.print(plain(f"warning: could not read TOWNSQUARE_* settings ({exc})", style="yellow"))
        configured = set()
    for who, name in unknown_outputs(rules, configured):
        err.print(
            plain(
                f"warning: {who} sends to {name!r}, which TOWNSQUARE_ALERT_WEBHOOKS does not "
                "configure here; such alerts reach the topic and index only",
                style="yellow",
            ),
            soft_wrap=True,
        )
    console.print(
        Text.assemble(
            ("ok", "green"),
            " ",
            plain(f"{path}: {_count(len(rules.rules), 'rule')}, "),
            plain(_count(len(rules.spikes), "spike rule")),
        )
    )


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def alerts(
    since: Annotated[
        str, typer.Option(help="Only alerts raised within this long, e.g. 90m, 24h, 7d.")
    ] = "24h",
    rule: Annotated[
        list[str], typer.Option("--rule", "-r", help="Only alerts of this rule (repeatable).")
    ] = [],  # noqa: B006 - typer reads the default
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="CSV with one header row and stable columns.")
    ] = False,
) -> None:
    """Alerts raised, newest first: time, severity, rule, handle, summary, and the link."""
    from streams.cli.analyst import ALERT_COLUMNS, usage_error, write_csv
    from streams.es.client import sync_client
    from streams.es.search import parse_duration

    if as_json and as_csv:
        usage_error("--json and --csv both choose the output; use one of them")

    settings = get_settings()
    try:
        window = parse_duration(since)
    except ValueError as exc:
        fail(str(exc))
    es = sync_client(settings)
    try:
        resp = es.search(
            index=settings.index_alias("alerts"),
            query=alerts_query(window, rule, datetime.now(UTC)),
            sort=[{"created_at": {"order": "desc"}}, {"id": {"order": "asc"}}],
            size=limit,
        )
    except Exception as exc:
        fail(f"search failed: {exc}. Is Elasticsearch reachable and `townsquare setup` done?")
    finally:
        es.close()
    docs: list[dict[str, Any]] = [hit["_source"] for hit in resp["hits"]["hits"]]
    if as_json:
        for doc in docs:
            sys.stdout.write(json.dumps(doc) + "\n")
        return
    if as_csv:
        write_csv(ALERT_COLUMNS, docs, sys.stdout)
        return
    if not docs:
        err.print(plain(f"no alerts in the last {since}"))
        return
    for doc in docs:
        for line in alert_lines(doc):
            console.print(line, soft_wrap=True)


def alerts_query(window: timedelta, rules: list[str], now: datetime) -> dict[str, Any]:
    """Alerts created within ``window`` before ``now``, of ``rules`` when any are given."""
    since = (now - window).isoformat()
    filters: list[dict[str, Any]] = [{"range": {"created_at": {"gte": since}}}]
    if rules:
        filters.append({"terms": {"rule": rules}})
    return {"bool": {"filter": filters}}


def alert_lines(doc: dict[str, Any]) -> list[Text]:
    """One alert as a line of time, severity, rule, handle and summary, then its links.

    Every part comes from the stored alert, which quotes a post: plain text only.
    """
    created = str(doc.get("created_at") or "")
    try:
        when = datetime.fromisoformat(created).astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        when = created[:16]
    severity = str(doc.get("severity") or "?")
    handle = doc.get("author_handle")
    who = f"@{handle}" if handle else str(doc.get("source") or doc.get("conversation_id") or "-")
    line = Text.assemble(
        plain(f"{when}  "),
        plain(f"{severity:8}", style=SEVERITY_STYLE.get(severity, "")),
        plain(f"  {doc.get('rule') or '?'}  {who}  "),
        plain(" ".join(str(doc.get("summary") or "").split())),
    )
    links = [plain(f"    {url}") for url in (doc.get("url"), doc.get("kibana_url")) if url]
    return [line, *links]
