"""``townsquare models``: build the text classifiers and try them on a file.

scikit-learn and numpy are imported inside the commands, so ``--help`` and the
rest of the CLI stay fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from streams.cli.console import console, err, fail, plain  # fail prints plain text, never markup

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "tweeteval"
#: Lines per call to the classifiers: large enough to vectorise, small enough to stream.
BATCH = 512

models_app = typer.Typer(
    help="Text classifiers (emotion, hate, irony, offensive, sentiment): train and predict.",
    no_args_is_help=True,
)


@models_app.command("train")
def models_train(
    data: Annotated[
        Path,
        typer.Option(help="TweetEval folder (one sub-folder per task).", show_default=True),
    ] = DEFAULT_DATA,
    out: Annotated[
        Path | None,
        typer.Option(help="Where to write the artifacts (default: the repo's models/)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed (training is deterministic).")] = 0,
) -> None:
    """Train the five classifiers on the train splits and score them on validation."""
    from processors.classifiers.model import TASKS

    missing = [task for task in TASKS if not (data / task / "train_text.txt").is_file()]
    if missing:
        fail(
            f"no TweetEval data in {data} (missing: {', '.join(missing)}); pass --data DIR "
            "with one folder per task holding train_text.txt, train_labels.txt, "
            "val_text.txt, val_labels.txt and mapping.txt"
        )
    from processors.classifiers import default_models_dir
    from processors.classifiers.training import train

    out_dir = out if out is not None else default_models_dir()

    def say(message: str) -> None:
        err.print(plain(message))

    report = train(data, out_dir, seed=seed, progress=say)
    for task, figures in report["tasks"].items():
        console.print(
            plain(
                f"{task:<10} {figures['metric']:<13} {figures['value'] * 100:5.1f}   "
                f"accuracy {figures['accuracy'] * 100:5.1f}   (n={figures['n']})"
            )
        )
    console.print(plain(f"wrote {out_dir}"))


@models_app.command("predict")
def models_predict(
    task: Annotated[str, typer.Argument(help="emotion, hate, irony, offensive or sentiment.")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="One text per line.")],
    models: Annotated[
        Path | None, typer.Option(help="Artifacts folder (default: the repo's models/).")
    ] = None,
) -> None:
    """Print the most probable label of TASK for each line of FILE."""
    from processors.classifiers import TASKS, TextClassifiers

    if task not in TASKS:
        fail(f"unknown task {task!r}; choose one of: {', '.join(TASKS)}")
    try:
        classifiers = TextClassifiers.load(models)  # None: the repo's models/
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    with file.open(encoding="utf-8", errors="replace", newline=None) as lines:
        batch: list[str] = []
        for line in lines:
            batch.append(line.rstrip("\n"))
            if len(batch) == BATCH:
                _emit(classifiers.predict_labels(batch, task))
                batch = []
        if batch:
            _emit(classifiers.predict_labels(batch, task))


def _emit(labels: list[str]) -> None:
    # Plain stdout: the output is data for pipes, not a rich rendering.
    typer.echo("\n".join(labels))
