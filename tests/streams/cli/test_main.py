"""The command line: help that reads well, profile checks with errors that say what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.cli.main import app
from streams.sample import BRAND_PROFILE, COUNCIL_PROFILE, sample_path

runner = CliRunner()


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["services"],
        ["ingest"],
        ["ingest", "replay"],
        ["search"],
        ["run"],
        ["enrich"],
        ["worker"],
        ["setup"],
        ["conversations"],
        ["kibana", "import"],
        ["profile", "check"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.mark.parametrize("profile", [COUNCIL_PROFILE, BRAND_PROFILE])
def test_profile_check_accepts_the_sample_profiles(profile: str) -> None:
    result = runner.invoke(app, ["profile", "check", str(sample_path(profile))])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok ")


def test_profile_check_lists_each_problem_with_its_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "organisation:\n"
        "  name: Acme\n"
        "  reply_sla_minutes: -5\n"
        "  weights: {relevance: 0.5, charisma: 0.2}\n"
        "  mascot: owl\n"
    )
    result = runner.invoke(app, ["profile", "check", str(bad)])
    assert result.exit_code == 1
    output = " ".join(result.output.split())  # rich wraps long lines
    assert "organisation.reply_sla_minutes:" in output
    assert "charisma" in output and "known components" in output
    assert "organisation.mascot: unknown field" in output


def test_profile_check_on_a_missing_or_broken_file(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["profile", "check", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "file not found" in " ".join(missing.output.split())
    broken = tmp_path / "broken.yaml"
    broken.write_text("organisation: [unclosed\n")
    result = runner.invoke(app, ["profile", "check", str(broken)])
    assert result.exit_code == 1 and "not valid YAML" in " ".join(result.output.split())


def test_worker_refuses_an_unknown_role_before_starting_anything(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["worker", "--role", "sinks"], env={"TOWNSQUARE_DATA_DIR": str(tmp_path / "d")}
    )
    assert result.exit_code != 0
    output = " ".join(result.output.split())
    assert "unknown role 'sinks'" in output
    assert "normalize, locate, enrich, index, alert, notify or all" in output
    assert not (tmp_path / "d").exists(), "nothing was started or created"


def test_worker_help_names_the_roles() -> None:
    result = runner.invoke(app, ["worker", "--help"])
    output = " ".join(result.output.replace("│", " ").split())  # help wraps inside a box
    assert "normalize, locate, enrich, index, alert, notify or all" in output
    assert "--sample-profile" in output


def test_profile_check_prints_the_weights_and_thresholds_in_effect() -> None:
    result = runner.invoke(
        app, ["profile", "check", str(sample_path(COUNCIL_PROFILE))], env={"COLUMNS": "80"}
    )
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "weights relevance 0.25, invitation 0.35, engagement 0.10" in output
    assert "share_of_voice 0.10 (sum 1.00)" in output
    assert "thresholds reply 0.50, appreciate 0.30" in output
    assert "reply SLA 240 minutes" in output


def test_profile_check_without_organisation_is_one_problem_with_an_example(tmp_path: Path) -> None:
    bad = tmp_path / "flat.yaml"
    bad.write_text("name: Acme\naccounts:\n  x: [AcmeHQ]\n")
    result = runner.invoke(app, ["profile", "check", str(bad)])
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert output.count(" - ") == 1, result.output
    assert "the file must start with `organisation:`" in output
    assert "e.g. organisation: {name: Acme Council" in output
