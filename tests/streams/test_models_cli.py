"""``townsquare models``: predict prints one label per line; mistakes get errors that help."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from streams.models_cli import models_app

runner = CliRunner()

LINES = [
    "I love this so much!!! 😍",
    "@user you are a disgusting idiot",
    "",
    "[bold red]not markup[/] just text",
    "The meeting is at 7pm http://t.co/x",
]


def test_predict_prints_one_valid_label_per_input_line(tmp_path: Path) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    for task, labels in {
        "sentiment": {"negative", "neutral", "positive"},
        "irony": {"non-irony", "irony"},
        "emotion": {"anger", "joy", "optimism", "sadness"},
    }.items():
        result = runner.invoke(models_app, ["predict", task, str(texts)])
        assert result.exit_code == 0, result.output
        printed = result.stdout.splitlines()
        assert len(printed) == len(LINES)
        assert set(printed) <= labels
    result = runner.invoke(models_app, ["predict", "sentiment", str(texts)])
    assert result.stdout.splitlines()[0] == "positive"


def test_predict_task_typo_lists_the_choices(tmp_path: Path) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("hello\n", encoding="utf-8")
    result = runner.invoke(models_app, ["predict", "sentimnet", str(texts)])
    assert result.exit_code != 0
    message = result.stderr
    assert "sentimnet" in message
    for task in ("emotion", "hate", "irony", "offensive", "sentiment"):
        assert task in message


def test_train_without_data_says_what_to_do(tmp_path: Path) -> None:
    result = runner.invoke(
        models_app, ["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m")]
    )
    assert result.exit_code != 0
    assert "--data" in result.stderr
    assert not (tmp_path / "m").exists()


def test_error_messages_are_printed_as_plain_text(tmp_path: Path) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("hello\n", encoding="utf-8")
    result = runner.invoke(models_app, ["predict", "[bold]sentiment[/bold]", str(texts)])
    assert result.exit_code != 0
    assert "[bold]sentiment[/bold]" in result.stderr
