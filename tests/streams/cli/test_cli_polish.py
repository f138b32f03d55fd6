"""The CLI a new analyst meets: version, -h, clean help, wrong formats, servers down, logs.

The servers-down tests run real child processes against closed ports on
127.0.0.1, all at once (kafka-python waits its bootstrap timeout, about 30 s,
before it gives up), and read their exit codes and stderr as a person would.
"""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import typer
from support import ROOT, canonical_post, free_port
from typer.testing import CliRunner

from streams.cli.main import app
from streams.logs import TextFormatter, logging_config, resolve_format
from streams.sample import COUNCIL_PROFILE, sample_path
from streams.settings import Settings

runner = CliRunner()
TOWNSQUARE = str(Path(sys.executable).with_name("townsquare"))


def flat(text: str) -> str:
    """Output with rich's wrapping and box characters undone, for phrase checks."""
    return " ".join(text.replace("│", " ").split())


# --- --version, -h, help ----------------------------------------------------------------


def test_version_prints_the_installed_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"townsquare {version('townsquare')}"


@pytest.mark.parametrize("command", [[], ["ingest", "replay"], ["profile", "check"], ["search"]])
def test_dash_h_is_help_on_the_app_and_its_commands(command: list[str]) -> None:
    short = runner.invoke(app, [*command, "-h"])
    assert short.exit_code == 0, short.output
    assert "Usage: townsquare" in short.output
    assert short.output == runner.invoke(app, [*command, "--help"]).output


@pytest.mark.parametrize(
    "command",
    [[], ["ingest", "replay"], ["ingest", "mastodon"], ["services", "status"], ["worker"], ["run"]],
)
def test_help_shows_no_type_after_a_flag(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output


def test_options_that_take_a_value_still_show_its_type() -> None:
    result = runner.invoke(app, ["ingest", "replay", "--help"], env={"COLUMNS": "80"})
    assert "<float>" in result.output and "<int>" in result.output and "<str>" in result.output


def _option_names(path: list[str]) -> list[str]:
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return [
        opt for p in command.params for opt in (*p.opts, *p.secondary_opts) if opt.startswith("--")
    ]


@pytest.mark.parametrize(
    "command", [["ingest", "webhook"], ["ingest", "mastodon"], ["ingest", "bluesky"], ["enrich"]]
)
def test_option_names_are_whole_at_80_columns(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    words = set(result.output.replace("│", " ").split())
    for name in _option_names(command):
        assert name in words, f"{name} is cut in:\n{result.output}"
    assert "…" not in result.output, result.output


@pytest.mark.parametrize("command", [["enrich"], ["ingest", "replay"]])
def test_help_lists_the_formats(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
    text = flat(result.output)
    assert "jsonl, twcs-csv, customer-care-json, x-v2, mastodon, bluesky-jetstream" in text, (
        result.output
    )


# --- format detection -----------------------------------------------------------------------

TWCS = (
    "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"
    "1,115712,True,Tue Oct 31 22:10:47 +0000 2017,@sprintcare and how do you propose we fix it,2,\n"
    "2,sprintcare,False,Tue Oct 31 22:11:45 +0000 2017,@115712 Please send us a DM,,1\n"
)


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "tweets.csv"
    path.write_text(TWCS, encoding="utf-8")
    return path


@pytest.fixture
def jsonl_file(tmp_path: Path) -> Path:
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps(canonical_post(i, conversation=1)) + "\n" for i in range(3)))
    return path


def _one_error_line(result: Any) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def test_enrich_says_a_csv_is_not_jsonl(csv_file: Path) -> None:
    result = runner.invoke(app, ["enrich", str(csv_file)], env={"COLUMNS": "80"})
    assert result.exit_code == 1
    assert _one_error_line(result) == (
        f"error: {csv_file} looks like twcs-csv, not jsonl: pass --format twcs-csv"
    )


def test_replay_says_a_jsonl_file_is_not_twcs_csv_before_connecting(
    jsonl_file: Path, tmp_path: Path
) -> None:
    closed = f"127.0.0.1:{free_port()}"  # never reached: the check comes first
    env = {"TOWNSQUARE_KAFKA_BOOTSTRAP": closed, "TOWNSQUARE_DATA_DIR": str(tmp_path / "d")}
    result = runner.invoke(
        app, ["ingest", "replay", str(jsonl_file), "--format", "twcs-csv"], env=env
    )
    assert result.exit_code == 1
    assert _one_error_line(result) == (
        f"error: {jsonl_file} looks like jsonl, not twcs-csv: pass --format jsonl"
    )


def test_the_right_format_passes_the_check(csv_file: Path, jsonl_file: Path) -> None:
    from streams.sources.readers import check_file_format

    check_file_format(csv_file, "twcs-csv")
    check_file_format(jsonl_file, "jsonl")


def test_a_file_no_format_reads_is_left_to_the_run_which_says_so(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\nnot json\n', encoding="utf-8")
    result = runner.invoke(
        app,
        ["enrich", str(bad), "--profile", str(sample_path(COUNCIL_PROFILE))],
        env={"TOWNSQUARE_LOG_FORMAT": "json"},
    )
    assert result.exit_code == 1
    text = flat(result.output)
    assert "enriched 0 posts" in text
    assert "skipped 2 records the jsonl adapter refused (missing_field 1, invalid_json 1)" in text
    assert "is the file what --format says?" in text


# --- servers that cannot be reached ---------------------------------------------------------------

DOWN_COMMANDS: dict[str, list[str]] = {
    "setup": ["setup"],
    "ingest replay": ["ingest", "replay", "{jsonl}"],
    "search": ["search", "bins"],
    "conversations": ["conversations"],
    "forget": ["forget", "x:resident1", "--settle", "0"],
    "kibana import": ["kibana", "import", "--url", "{kibana}"],
    "--debug search": ["--debug", "search", "bins"],
}


@pytest.fixture(scope="module")
def servers_down(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every command of DOWN_COMMANDS run at once against closed ports: name -> process result."""
    tmp = tmp_path_factory.mktemp("down")
    jsonl = tmp / "posts.jsonl"
    jsonl.write_text(json.dumps(canonical_post(1, conversation=1)) + "\n", encoding="utf-8")
    kafka, es, kibana = free_port(), free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TOWNSQUARE_")},
        "TOWNSQUARE_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka}",
        "TOWNSQUARE_ES_URL": f"http://127.0.0.1:{es}",
        "TOWNSQUARE_DATA_DIR": str(tmp / "data"),
        "TOWNSQUARE_METRICS_PORT": "0",
        "COLUMNS": "80",
    }
    fill = {"jsonl": str(jsonl), "kibana": f"http://127.0.0.1:{kibana}"}
    procs = {
        name: subprocess.Popen(
            [TOWNSQUARE, *(arg.format(**fill) for arg in args)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in DOWN_COMMANDS.items()
    }
    results: dict[str, Any] = {}
    try:
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=150)
            results[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    yield {"results": results, "kafka": kafka, "es": es, "kibana": kibana}


@pytest.mark.parametrize(
    ("name", "server"),
    [
        ("setup", "Kafka"),
        ("ingest replay", "Kafka"),
        ("search", "Elasticsearch"),
        ("conversations", "Elasticsearch"),
        ("forget", None),
        ("kibana import", None),
    ],
)
def test_servers_down_give_one_clear_line_with_the_next_step(
    servers_down: dict[str, Any], name: str, server: str | None
) -> None:
    result = servers_down["results"][name]
    assert result.returncode == 1, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    [line] = lines
    assert "Traceback" not in result.stderr
    if name == "kibana import":
        assert line.startswith(
            f"error: cannot connect to http://127.0.0.1:{servers_down['kibana']}/"
        )
        assert "Check the URL and that the server runs." in line
    else:
        assert line.startswith("error: cannot reach "), line
        assert "Check TOWNSQUARE_" in line and "and that the server runs." in line
    if server == "Kafka":
        assert f"cannot reach Kafka at 127.0.0.1:{servers_down['kafka']}:" in line
    if server == "Elasticsearch":
        assert f"cannot reach Elasticsearch at http://127.0.0.1:{servers_down['es']}:" in line
        assert "connection refused" in line
    assert "`townsquare --debug ...` shows the traceback" in line
    assert result.stdout == ""


def test_debug_shows_the_traceback_then_the_line(servers_down: dict[str, Any]) -> None:
    result = servers_down["results"]["--debug search"]
    assert result.returncode == 1
    assert "Traceback (most recent call last):" in result.stderr
    assert "elastic_transport.ConnectionError" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: cannot reach Elasticsearch at ")
    assert "--debug" not in last  # no advice to do what was done
    assert result.stderr.count("error: cannot reach") == 1


def test_an_error_that_is_no_connection_error_still_shows_as_a_bug() -> None:
    from streams.cli.console import unreachable

    assert unreachable(RuntimeError("boom")) is None
    try:
        try:
            raise ConnectionRefusedError("plain socket error")
        except ConnectionRefusedError as exc:
            raise ValueError("wrapped") from exc
    except ValueError as exc:
        assert unreachable(exc) is None  # only the clients' errors, which name a server


# --- logs for people in a terminal ----------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


def _log_one_line(monkeypatch: pytest.MonkeyPatch, stream: io.StringIO, fmt: str) -> str:
    monkeypatch.setattr(sys, "stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logging.config.dictConfig(logging_config("INFO", fmt))
        logging.getLogger("townsquare.test").warning(
            "skipped record", extra={"position": 3, "reason": "invalid_json"}
        )
        for handler in root.handlers:
            handler.flush()
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    return stream.getvalue().strip()


def test_logs_are_text_in_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    line = _log_one_line(monkeypatch, Terminal(), "auto")
    assert line.endswith(
        "WARNING townsquare.test: skipped record position=3 reason=invalid_json"
    ), line
    assert not line.startswith("{")


def test_logs_are_json_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    record = json.loads(_log_one_line(monkeypatch, Pipe(), "auto"))
    assert record["msg"] == "skipped record" and record["position"] == 3
    assert record["level"] == "WARNING"


def test_an_explicit_format_wins_over_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert json.loads(_log_one_line(monkeypatch, Terminal(), "json"))["reason"] == "invalid_json"
    assert "reason=invalid_json" in _log_one_line(monkeypatch, Pipe(), "text")
    assert resolve_format("auto", Terminal()) == "text"
    assert resolve_format("auto", Pipe()) == "json"


def test_the_setting_defaults_to_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOWNSQUARE_LOG_FORMAT", raising=False)
    assert Settings().log_format == "auto"


def test_a_text_traceback_stays_below_its_fields() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    record.stage = "normalize"
    head, _, rest = TextFormatter().format(record).partition("\n")
    assert head.endswith("ERROR t: failed stage=normalize")
    assert rest.startswith("Traceback")
