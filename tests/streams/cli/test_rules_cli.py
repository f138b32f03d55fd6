"""`townsquare rules check` and `townsquare alerts`: what a person sees in the terminal.

``rules check`` needs no servers. ``alerts`` reads a real (local) search server:
alerts are raised by the alert step from posts and indexed with the alerts
index stage's own step and bulk call, then listed through the command.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from support import Isolated, Servers, isolated
from typer.testing import CliRunner, Result

from processors.rules import load_rules
from schemas.models import Alert, Author, EnrichedPost, Joinability, Reading, Stakeholder
from streams.cli.main import app
from streams.cli.rules import alert_lines
from streams.settings import get_settings

runner = CliRunner()
DEFAULT_RULES = Path(__file__).resolve().parents[3] / "processors" / "default_rules.yaml"


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    get_settings.cache_clear()
    try:
        return runner.invoke(app, list(args), env=env)
    finally:
        get_settings.cache_clear()


# --- rules check ------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["rules"], ["rules", "check"], ["alerts"]])
def test_the_alerting_commands_have_help(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_rules_check_prints_each_rule_with_severity_throttle_and_outputs() -> None:
    result = invoke("rules", "check", str(DEFAULT_RULES))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in lines if not line.startswith(" ")}
    assert rows["reply-now"][:3] == ["warning", "throttle", "30m"]
    assert rows["escalate"][:3] == ["critical", "throttle", "15m"]
    assert rows["media-or-influencer"][:3] == ["warning", "throttle", "1h"]
    assert rows["personal-care"][-2:] == ["outputs", "-"]
    assert any(line.startswith("spike ") and "1h against 12h" in line for line in lines)
    assert any(line.startswith("reply deadlines: on") for line in lines)
    assert lines[-1] == f"ok {DEFAULT_RULES}: 4 rules, 1 spike rule"


def test_rules_check_lists_every_problem_one_per_line_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "rules:\n"
        "  - name: hot\n"
        "    when:\n"
        "      and:\n"
        "        - {field: joinability.action, eq: reploy}\n"
        "        - {field: joinability.scor, gte: 0.7}\n"
        "    severity: urgent\n",
        encoding="utf-8",
    )
    result = invoke("rules", "check", str(bad))
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"{bad} is not a valid rules file:"
    assert lines[1:] == [
        "  - rules[1].when.and[1].eq: 'reploy' is not a value of joinability.action (did you "
        "mean 'reply'?); choose from reply, appreciate, escalate, listen_only, do_not_engage",
        "  - rules[1].when.and[2].field: unknown field 'joinability.scor' (did you mean "
        "'joinability.score'?); rules read the fields listed in processors/default_rules.yaml",
        "  - rules[1].severity: Input should be 'info', 'warning' or 'critical'",
    ]


def test_rules_check_of_a_missing_file_says_so(tmp_path: Path) -> None:
    result = invoke("rules", "check", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert "file not found" in result.stderr


def test_outputs_missing_from_the_webhooks_are_a_warning_not_an_error(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "rules:\n"
        "  - name: press\n"
        "    when: {field: signals, contains: press}\n"
        "    outputs: [oncall, pressdesk]\n",
        encoding="utf-8",
    )
    env = {
        "TOWNSQUARE_ALERT_WEBHOOKS": json.dumps({"oncall": {"url": "https://hooks.example/a"}}),
        "TOWNSQUARE_ALERT_WEBHOOK_SECRET": "s3cret",
    }
    result = invoke("rules", "check", str(mine), env=env)
    assert result.exit_code == 0, result.output
    assert "outputs oncall, pressdesk" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: rule press sends to 'pressdesk', which TOWNSQUARE_ALERT_WEBHOOKS does not "
        "configure here; such alerts reach the topic and index only"
    ]


def test_rule_names_and_descriptions_are_printed_as_typed(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "rules:\n"
        "  - name: a\n"
        "    description: '[bold]loud[/] [link=http://evil]x[/link]'\n"
        "    when: {field: platform, eq: x}\n",
        encoding="utf-8",
    )
    result = invoke("rules", "check", str(mine))
    assert result.exit_code == 0, result.output
    assert "[bold]loud[/] [link=http://evil]x[/link]" in result.stdout


# --- alerts: the rendering ------------------------------------------------------------------


def test_an_alert_renders_as_one_line_then_its_links_and_never_as_markup() -> None:
    doc = {
        "created_at": "2026-05-04T09:00:20+00:00",
        "severity": "critical",
        "rule": "escalate",
        "author_handle": "[/x]evil",
        "summary": "Needs a person: @x: [link=http://evil]click[/link]\x1b[2J\nsecond",
        "url": "https://x.example/1",
        "kibana_url": "https://kibana.example/app/discover#/x",
    }
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=300)
    for line in alert_lines(doc):
        console.print(line)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("2026-05-04 09:00  critical  escalate  @[/x]evil  Needs a person")
    assert "[link=http://evil]click[/link]" in lines[0]
    assert "\x1b" not in out.getvalue()
    assert lines[1:] == ["    https://x.example/1", "    https://kibana.example/app/discover#/x"]


# --- alerts: through the search server --------------------------------------------------


def _post(n: int, text: str, action: str, score: float, **author: Any) -> EnrichedPost:
    at = datetime.now(UTC) - timedelta(hours=n)
    return EnrichedPost(
        id=f"x:{n}",
        platform="x",
        url=f"https://x.example/status/{n}",
        created_at=at,
        received_at=at,
        text=text,
        author=Author(id=f"x:a{n}", handle=f"person{n}", **author),
        conversation_id=f"x:c{n}",
        stakeholders=[Stakeholder(label="citizen", score=0.6)],
        joinability=Joinability(score=score, action=action),  # type: ignore[arg-type]
        reading=Reading(addressed="mention", about_us=True, kind="question", sentiment="neutral"),
    )


@pytest.fixture(scope="module")
def alerts_index(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Three alerts raised 1h, 2h and 30h ago (by the alert step), in the alerts index."""
    from streams.es.bulk import BulkOptions, index_batch
    from streams.es.client import async_client, sync_client
    from streams.es.indices import install
    from streams.steps.alert import alert_actions, raise_alerts

    iso = isolated(servers, tmp_path_factory.mktemp("alerts_cli"))
    es = sync_client(iso.settings)
    install(es, iso.settings)
    posts = [
        _post(1, "@HarboursideBC bins missed again on Marsh Lane, coming back?", "reply", 0.8),
        _post(2, "@HarboursideBC press office: comment on the [bold]closure[/]?", "escalate", 0.8),
        _post(30, "@HarboursideBC is the tip open on Sundays?", "reply", 0.75),
    ]
    rules = load_rules(None).rules
    values: list[bytes] = []
    for post in posts:  # each alert raised at its post's time, so --since has something to cut
        raised = raise_alerts([post], {}, rules, post.created_at)
        values += [s.value for s in raised.sends]
    collapsed = alert_actions(values, iso.settings.index_alias("alerts"), datetime.now(UTC))

    async def index() -> None:
        client = async_client(iso.settings)
        try:
            failures = await index_batch(client, [a for _, a in collapsed.actions], BulkOptions())
            assert failures == []
        finally:
            await client.close()

    asyncio.run(index())
    es.indices.refresh(index=iso.settings.index_alias("alerts"))
    es.close()
    yield iso


def _alerts(iso: Isolated, *args: str) -> Result:
    result = invoke("alerts", *args, env=iso.env)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.integration
def test_alerts_lists_the_last_day_newest_first_with_links(alerts_index: Isolated) -> None:
    lines = _alerts(alerts_index).stdout.splitlines()
    heads = [line for line in lines if not line.startswith("    ")]
    assert [h.split()[2:5] for h in heads] == [
        ["warning", "reply-now", "@person1"],
        ["critical", "escalate", "@person2"],
    ], "the alert raised 30 hours ago is outside the default 24h"
    assert "[bold]closure[/]" in heads[1], "post text is shown as typed"
    assert lines[lines.index(heads[0]) + 1] == "    https://x.example/status/1"


@pytest.mark.integration
def test_alerts_filters_by_window_and_rule(alerts_index: Isolated) -> None:
    week = _alerts(alerts_index, "--since", "7d", "--json")
    docs = [json.loads(line) for line in week.stdout.splitlines()]
    assert [d["post_id"] for d in docs] == ["x:1", "x:2", "x:30"]
    assert all(
        Alert.model_validate({k: v for k, v in d.items() if k != "indexed_at"}) for d in docs
    )
    only = _alerts(alerts_index, "--since", "7d", "--rule", "escalate", "--json")
    assert [json.loads(line)["rule"] for line in only.stdout.splitlines()] == ["escalate"]
    none = _alerts(alerts_index, "--since", "30m")
    assert none.stdout == "" and "no alerts in the last 30m" in none.stderr


@pytest.mark.integration
def test_alerts_refuses_a_bad_window(alerts_index: Isolated) -> None:
    result = invoke("alerts", "--since", "soon", env=alerts_index.env)
    assert result.exit_code == 1
    assert "'soon' is not a duration" in result.stderr
