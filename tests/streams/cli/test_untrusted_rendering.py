"""Post text, handles, links and echoed input reach the terminal as plain text.

Each hostile string is put where a post's own values go and rendered the way
the commands render it. Nothing may raise (``[/x]`` once crashed ``search``),
brackets must show as typed (no markup, no ``[link=…]`` hyperlink) and no
escape sequence, BEL or CR from the input may reach the output.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console, RenderableType
from rich.progress import TextColumn
from typer.testing import CliRunner

from streams.cli import console as terminal
from streams.cli.analyst import conversations_table, import_error_line, posts_table
from streams.cli.console import fail, plain, progress, safe
from streams.cli.main import app, setup_lines
from streams.cli.run import actions_by_kind
from streams.cli.setup import Report
from streams.es.kibana import ObjectError
from streams.models_cli import models_app

HOSTILE = [
    "[/x]",
    "[link=http://evil]click[/link]",
    "[bold red]loud",
    "\x1b[2Jcleared",
    "\x1b[31mred",
    "\x1b]8;;http://evil\x1b\\click",
    "ring\x07",
    "over\rwrite",
    "back\x08space",
    "c1\x9bcsi",
    "bidi\u202eevil",
]

# rich's own styling (force_terminal) is SGR only; anything else with ESC came from input.
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def render(renderable: RenderableType, width: int = 200) -> str:
    out = io.StringIO()
    Console(file=out, force_terminal=True, width=width, color_system="truecolor").print(renderable)
    return out.getvalue()


def assert_inert(output: str) -> None:
    """No control byte from the input: only rich's own SGR styling may use ESC."""
    rest = _SGR.sub("", output)
    assert "\x1b" not in rest, repr(rest)
    for char in ("\x07", "\r", "\x08", "\x9b", "\u202e"):
        assert char not in output, repr(output)
    assert "\x1b]8;" not in output  # no OSC 8 hyperlink, ours or theirs


def shown(value: str) -> str:
    """How a hostile value reads on screen: brackets as typed, controls written out."""
    return safe(value)


def shown_text(value: str) -> str:
    """How post text reads in a table: whitespace runs (CR among them) are one space."""
    return safe(" ".join(value.split()))


def visible(output: str) -> str:
    return _SGR.sub("", output)


def test_safe_writes_out_every_control_and_bidi_character_but_keeps_text() -> None:
    assert safe("\x1b[2J") == "\\x1b[2J"
    assert safe("a\x07b\rc\x9bd\x7f") == "a\\x07b\\x0dc\\x9bd\\x7f"
    assert safe("\u202eevil\u2066") == "\\u202eevil\\u2066"
    kept = "line one\n\tline two 👩‍👩‍👧 café [b]"
    assert safe(kept) == kept
    assert plain("[bold]x[/]").plain == "[bold]x[/]"


@pytest.mark.parametrize("hostile", HOSTILE)
def test_posts_table_shows_hostile_posts_as_typed(hostile: str) -> None:
    doc: dict[str, Any] = {
        "text": f"before {hostile} after",
        "author": {"handle": hostile},
        "url": hostile,
        "stakeholder_labels": [hostile],
        "joinability": {"score": 0.5, "action": hostile},
    }
    output = render(posts_table([doc], title="1 matching posts"))
    assert_inert(output)
    screen = visible(output)
    assert f"before {shown_text(hostile)} after" in screen
    assert "@" + shown(hostile)[:12] in screen  # the author column is 24 wide, with an ellipsis


def test_posts_table_renders_markup_lookalikes_without_style() -> None:
    output = render(posts_table([{"text": "[bold red]loud[/]"}], title="t"))
    assert "[bold red]loud[/]" in visible(output)
    assert "\x1b[1;31m" not in output


def test_search_command_prints_hostile_hits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real ``townsquare search`` path, with Elasticsearch replaced by its answer."""
    hits = [
        {"_source": {"text": hostile, "author": {"handle": "h"}, "url": "u"}} for hostile in HOSTILE
    ]

    class FakeEs:
        def search(self, **_: Any) -> dict[str, Any]:
            return {"hits": {"total": {"value": len(hits)}, "hits": hits}}

    monkeypatch.setattr("streams.es.client.sync_client", lambda settings: FakeEs())
    result = CliRunner().invoke(app, ["search", "anything"])
    assert result.exit_code == 0, result.output
    assert_inert(result.stdout)
    for hostile in HOSTILE:
        assert shown_text(hostile) in result.stdout


@pytest.mark.parametrize("hostile", HOSTILE)
def test_conversations_table_shows_hostile_records_as_typed(hostile: str) -> None:
    record = {
        "conversation_id": hostile,
        "waiting_seconds": 7200,
        "over_by_seconds": 3600,
        "own_posts": 0,
        "last_post": {"text": f"before {hostile} after", "author": hostile, "url": hostile},
    }
    output = render(conversations_table([record], title="1 conversations"))
    assert_inert(output)
    screen = visible(output)
    assert f"before {shown_text(hostile)} after" in screen
    assert shown(hostile)[:10] in screen.split("│")[1]  # the conversation id column
    assert "over by" in screen  # our own styling still renders


def test_actions_by_kind_shows_a_hostile_bucket_key_as_typed() -> None:
    bucket = {"key": "[/x]\x1b[2J", "doc_count": 1, "actions": {"buckets": []}}
    output = render(actions_by_kind([bucket]))
    assert_inert(output)
    assert "[/x]\\x1b[2J" in visible(output)


def test_kibana_import_errors_show_titles_and_reasons_as_typed() -> None:
    error = ObjectError(
        type="[/x]",
        id="[link=http://evil]id[/link]",
        title="\x1b]8;;http://evil\x1b\\t",
        reason="\x07",
    )
    output = render(import_error_line(error))
    assert_inert(output)
    screen = visible(output)
    assert "[/x]" in screen and "[link=http://evil]id[/link]" in screen
    assert "\\x1b]8;;http://evil" in screen and "\\x07" in screen


def test_setup_lines_show_resource_names_and_skips_as_typed() -> None:
    report = Report(created=["[/x]"], existing=["\x1b[2J"], unsupported=["[link=http://e]s[/link]"])
    output = "".join(render(line) for line in setup_lines(report))
    assert_inert(output)
    screen = visible(output)
    assert "created  [/x]" in screen
    assert "exists   \\x1b[2J" in screen
    assert "skipped  [link=http://e]s[/link]" in screen


@pytest.mark.parametrize("hostile", HOSTILE)
def test_fail_prints_the_message_as_plain_text(
    hostile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = io.StringIO()
    monkeypatch.setattr(terminal, "err", Console(file=out, force_terminal=True, width=200))
    with pytest.raises(typer.Exit):
        fail(f"search failed: {hostile}")
    assert_inert(out.getvalue())
    assert f"error: search failed: {shown(hostile)}" in visible(out.getvalue())


def test_progress_descriptions_are_not_markup() -> None:
    bar = progress()
    bar.add_task(safe("replaying [/x]\x1b[2J.jsonl"), total=1)
    column = bar.columns[0]
    assert isinstance(column, TextColumn)
    description = column.render(bar.tasks[0])
    assert description.plain == "replaying [/x]\\x1b[2J.jsonl"
    assert not description.spans  # markup would have become a styled span


def test_profile_check_names_a_hostile_file_as_typed(tmp_path: Path) -> None:
    (tmp_path / "[").mkdir()  # a file name cannot hold "/", a path can
    path = tmp_path / "[" / "x][link=http:\x07]p[bold red]\x1b[2J.yaml"
    path.write_text("organisation: [unclosed\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["profile", "check", str(path)])
    assert result.exit_code == 1, result.output
    assert_inert(result.output)
    output = "".join(result.output.split())  # rich wraps long paths
    assert "[/x][link=http:\\x07]p[boldred]\\x1b[2J.yaml" in output


def test_models_predict_echoes_a_hostile_task_as_typed(tmp_path: Path) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("hello\n", encoding="utf-8")
    result = CliRunner().invoke(models_app, ["predict", "[/x]\x1b[2J\x07", str(texts)])
    assert result.exit_code == 1
    assert_inert(result.stderr)
    assert "[/x]\\x1b[2J\\x07" in result.stderr
