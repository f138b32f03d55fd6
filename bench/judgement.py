"""Judgement benchmark: the product's action and stakeholders against hand labels.

    .venv/bin/python bench/judgement.py [--set NAME] [--profile NAME] [--errors N]

Every labelled post (``bench/judgement/labels/*.jsonl``, see the GUIDE.md
beside them) is rebuilt as the canonical post the product would see, enriched
offline with the label's profile exactly as the stream would (same readers,
adapters and processors, in file order), and the product's
``joinability.action`` and ``stakeholders`` (score >= 0.5) are compared with
the labels.

Support posts keep their thread: every post of each conversation that holds
a labelled post goes through, so the desk's earlier replies are there. A
tweeteval line is a thread of its own, by an anonymous author.

Figures, per set and overall: action accuracy, macro-F1 over the actions,
barge-in rate (labelled listen_only/do_not_engage, got reply/appreciate),
ignore rate (labelled reply/escalate, got listen_only/do_not_engage), the
confusion matrix, and stakeholder micro precision/recall (our own posts left
out). The last line printed is one JSON object, for scripts and dashboards.
It is a benchmark, not a test: it needs the data folder and spaCy.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "bench"):  # runnable as a script from anywhere
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from judgement_eval import (  # noqa: E402
    ACTIONS,
    SETS,
    STAKEHOLDER_MIN_SCORE,
    Label,
    LabelError,
    Outcome,
    confusion,
    figures,
    load_labels,
    rounded,
    stakeholder_scores,
    tweeteval_posts,
)
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from rich.text import Text  # noqa: E402

from schemas.models import CanonicalPost, EnrichedPost  # noqa: E402

if TYPE_CHECKING:
    from processors.enrich import Classifier

DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_LABELS = "bench/judgement/labels/*.jsonl"
PROFILES = REPO / "bench" / "judgement" / "profiles"
TEXT_CHARS = 160

out = Console(highlight=False, width=None if sys.stdout.isatty() else 140)
"""Tables go to stdout; piped output gets a fixed width so columns are not cut."""
err = Console(stderr=True, highlight=False)


# --- inputs ------------------------------------------------------------------------------


def label_files(pattern: str) -> list[Path]:
    """The label files a glob names, relative to the repository unless absolute."""
    path = Path(pattern)
    if path.is_absolute():
        return sorted(Path(path.anchor).glob(str(path.relative_to(path.anchor))))
    return sorted(REPO.glob(pattern))


def thread_posts(data_dir: Path, set_name: str, refs: set[str]) -> list[CanonicalPost]:
    """Every post, in file order, of each conversation that holds one of ``refs``.

    Reads the file with the pipeline's own reader and adapters
    (``canonical_posts``), so ids, threads and text are what the stream sees.
    """
    from streams.cli.offline import canonical_posts

    source = SETS[set_name]
    assert source is not None
    relative, fmt = source
    posts = list(canonical_posts(data_dir / relative, fmt))
    threads = {p.conversation_id for p in posts if p.id in refs}
    missing = refs - {p.id for p in posts}
    if missing:
        raise LabelError(
            f"{set_name}: {len(missing)} refs not in {relative}: {sorted(missing)[:5]}"
        )
    return [p for p in posts if p.conversation_id in threads]


class _Skipped(logging.Handler):
    """Counts the records the adapters reject, instead of one stderr line each."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def load_classifiers(disabled: bool) -> Classifier | None:
    """The product's text classifiers, from the folder the stream would use, or None.

    The stream refuses to start without them; here a missing or unreadable
    models folder is a warning, so the rest of the judgement can still be measured.
    """
    if disabled:
        err.print("classifiers: off (--no-classifiers)", markup=False)
        return None
    from streams.classifiers import ClassifiersMissing, models_dir
    from streams.classifiers import load_classifiers as load
    from streams.settings import Settings

    settings = Settings()
    try:
        classifiers = load(settings)
    except ClassifiersMissing as exc:
        err.print(f"WARNING: {exc} Running without.", markup=False)
        return None
    err.print(f"classifiers: {models_dir(settings)}", markup=False)
    return classifiers


# --- run ---------------------------------------------------------------------------------


def run(
    labels: Sequence[Label], data_dir: Path, classifiers: Classifier | None, batch_size: int
) -> list[Outcome]:
    """Enrich each (set, profile) group once and pair each label with the product's output.

    Groups are enriched separately because conversation state is keyed by
    conversation id, and ids of different files must never share a thread.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from processors.enrich import enrich_offline
    from processors.entities import EntityExtractor
    from processors.profile import load_profile
    from streams.settings import Settings

    groups: dict[tuple[str, str], list[Label]] = defaultdict(list)
    for label in labels:
        groups[(label.set, label.profile)].append(label)

    orgs = {
        name: load_profile(PROFILES / f"{name}.yaml") for name in sorted({k[1] for k in groups})
    }
    skipped = _Skipped()
    logging.getLogger("townsquare.offline").addHandler(skipped)
    logging.getLogger("townsquare.offline").propagate = False
    inputs: dict[tuple[str, str], list[CanonicalPost]] = {}
    tweeteval_refs: dict[str, str] = {}
    for (set_name, profile), group in sorted(groups.items()):
        refs = {label.ref for label in group}
        if set_name == "tweeteval":
            by_ref = tweeteval_posts(data_dir, sorted(refs))
            tweeteval_refs.update({ref: post.id for ref, post in by_ref.items()})
            inputs[(set_name, profile)] = list(by_ref.values())
        else:
            inputs[(set_name, profile)] = thread_posts(data_dir, set_name, refs)
    if skipped.count:
        err.print(f"adapters skipped {skipped.count} records (as the DLQ would)", markup=False)

    model = Settings().spacy_model
    extractors = {}
    enriched: dict[tuple[str, str], dict[str, EnrichedPost]] = {}
    total = sum(len(posts) for posts in inputs.values())
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        task = progress.add_task("enriching", total=total)
        for key, posts in inputs.items():
            set_name, profile = key
            progress.update(task, description=f"{set_name} / {profile}")
            org = orgs[profile]
            if profile not in extractors:
                extractors[profile] = EntityExtractor(model, org.gazetteer)
            by_id: dict[str, EnrichedPost] = {}
            for post in enrich_offline(
                posts,
                extractors[profile],
                org,
                now=None,
                batch_size=batch_size,
                classifiers=classifiers,
            ):
                by_id[post.id] = post  # a repeated id: the last copy wins, as in the index
                progress.advance(task)
            enriched[key] = by_id
        progress.update(task, completed=total, description="enriched")

    outcomes = []
    for label in labels:
        pid = tweeteval_refs[label.ref] if label.set == "tweeteval" else label.ref
        result = enriched[(label.set, label.profile)].get(pid)
        if result is None:
            raise LabelError(f"{label.where}: the product published nothing for {label.ref}")
        outcomes.append(
            Outcome(
                label=label,
                action=result.joinability.action,
                stakeholders=frozenset(
                    s.label for s in result.stakeholders if s.score >= STAKEHOLDER_MIN_SCORE
                ),
                own=result.author.is_org_account,
                reason=result.joinability.reasons[0] if result.joinability.reasons else "",
                text=result.text,
            )
        )
    return outcomes


# --- report ------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def figures_table(by_group: dict[str, Sequence[Outcome]], title: str) -> Table:
    table = Table(title=title)
    table.add_column("")
    for name in ("n", "accuracy", "macro-F1", "barge-in", "ignore", "stakeh. P", "stakeh. R"):
        table.add_column(name, justify="right")
    for name, group in by_group.items():
        f = figures(group)
        table.add_row(
            Text(name),
            str(f["n"]),
            _pct(f["action_accuracy"]),
            _num(f["macro_f1"]),
            _pct(f["barge_in_rate"]),
            _pct(f["ignore_rate"]),
            _pct(f["stakeholder_precision"]),
            _pct(f["stakeholder_recall"]),
        )
    return table


def confusion_table(outcomes: Sequence[Outcome]) -> Table:
    matrix = confusion([o.label.action for o in outcomes], [o.action for o in outcomes])
    table = Table(title="actions: labelled (rows) vs product (columns)")
    table.add_column(Text("labelled \\ got"))
    for action in ACTIONS:
        table.add_column(Text(action), justify="right")
    table.add_column("total", justify="right")
    for action in ACTIONS:
        row = matrix[action]
        cells = [
            Text(str(n), style="bold green" if g == action and n else "") for g, n in row.items()
        ]
        table.add_row(Text(action), *cells, str(sum(row.values())))
    return table


def stakeholder_table(outcomes: Sequence[Outcome]) -> Table:
    overall, per_label = stakeholder_scores(
        (o.label.stakeholders, o.stakeholders) for o in outcomes if not o.own
    )
    table = Table(title="stakeholders (micro, own posts left out)")
    for name in ("label", "tp", "fp", "fn", "precision", "recall"):
        table.add_column(name, justify="left" if name == "label" else "right")
    for name, pr in [*per_label.items(), ("all", overall)]:
        table.add_row(
            Text(name, style="bold" if name == "all" else ""),
            str(pr.tp),
            str(pr.fp),
            str(pr.fn),
            _pct(pr.precision),
            _pct(pr.recall),
        )
    return table


def errors_table(outcomes: Sequence[Outcome], limit: int) -> Table:
    wrong = sorted(
        (o for o in outcomes if o.action != o.label.action),
        key=lambda o: (o.label.set, _ref_key(o.label.ref)),
    )
    table = Table(title=f"mismatches ({min(limit, len(wrong))} of {len(wrong)})", show_lines=True)
    table.add_column("set", no_wrap=True)
    table.add_column("ref", overflow="fold")
    table.add_column("expected", no_wrap=True)
    table.add_column("got", no_wrap=True)
    table.add_column("reason", max_width=26, overflow="fold")
    table.add_column("text", min_width=30, ratio=1, overflow="fold")
    for o in wrong[:limit]:
        flat = " ".join(o.text.split())  # one paragraph: the listing is for scanning
        text = flat if len(flat) <= TEXT_CHARS else flat[: TEXT_CHARS - 1] + "…"
        table.add_row(
            Text(o.label.set),
            Text(o.label.ref),
            Text(o.label.action),
            Text(o.action),
            Text(o.reason),
            Text(text),
        )
    return table


def _ref_key(ref: str) -> tuple[str, int]:
    """Sort refs by file, then numerically by line or tweet id."""
    head, _, tail = ref.rpartition(":")
    return (head, int(tail)) if tail.isdigit() else (ref, 0)


def summary(outcomes: Sequence[Outcome], classifiers: bool) -> dict[str, Any]:
    """The final JSON object: the overall figures, the same per set, and how it was run."""
    by_set: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_set[o.label.set].append(o)
    return {
        **rounded(figures(outcomes)),
        "by_set": {name: rounded(figures(group)) for name, group in sorted(by_set.items())},
        "classifiers": classifiers,
    }


def report(outcomes: Sequence[Outcome], errors: int, seconds: float) -> None:
    by_set: dict[str, list[Outcome]] = defaultdict(list)
    by_profile: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_set[o.label.set].append(o)
        by_profile[o.label.profile].append(o)
    groups: dict[str, Sequence[Outcome]] = {k: by_set[k] for k in sorted(by_set)}
    groups["all"] = outcomes
    out.print(figures_table(groups, f"judgement on {len(outcomes)} labelled posts by set"))
    if len(by_profile) > 1:
        out.print(figures_table({k: by_profile[k] for k in sorted(by_profile)}, "by profile"))
    out.print(confusion_table(outcomes))
    out.print(stakeholder_table(outcomes))
    if errors > 0:
        out.print(errors_table(outcomes, errors))
    out.print(f"took {seconds:.1f}s", markup=False)


# --- main --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    paragraphs = [p for p in (__doc__ or "").split("\n\n") if not p.startswith("    ")]
    parser = argparse.ArgumentParser(
        prog="bench/judgement.py",
        description="\n\n".join(paragraphs),
        epilog="Label format and definitions: bench/judgement/GUIDE.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--labels",
        default=DEFAULT_LABELS,
        metavar="GLOB",
        help=f"label files, relative to the repository unless absolute (default: {DEFAULT_LABELS})",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        metavar="DIR",
        help="the shared data folder (default: ../shared/data beside the repository)",
    )
    parser.add_argument("--set", dest="set_name", choices=list(SETS), help="evaluate only this set")
    parser.add_argument(
        "--profile",
        choices=sorted(p.stem for p in PROFILES.glob("*.yaml")),
        help=f"evaluate only the labels for this profile (a file in {PROFILES.relative_to(REPO)})",
    )
    parser.add_argument(
        "--errors",
        type=int,
        default=0,
        metavar="N",
        help="list up to N posts where the product's action differs from the label",
    )
    parser.add_argument(
        "--no-classifiers",
        action="store_true",
        help="enrich without the text classifiers even if their models are installed",
    )
    parser.add_argument(
        "--batch-size", type=int, default=64, metavar="N", help="posts per NER batch (default 64)"
    )
    return parser.parse_args(argv)


def select(labels: Iterable[Label], set_name: str | None, profile: str | None) -> list[Label]:
    return [
        label
        for label in labels
        if (set_name is None or label.set == set_name)
        and (profile is None or label.profile == profile)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    files = label_files(args.labels)
    if not files:
        err.print(f"error: no label files match {args.labels}", markup=False)
        return 2
    if not args.data.is_dir():
        err.print(f"error: data folder {args.data} not found; pass --data DIR", markup=False)
        return 2
    try:
        labels = select(load_labels(files), args.set_name, args.profile)
        if not labels:
            err.print("error: no labels match --set/--profile", markup=False)
            return 2
        missing = sorted(
            {lb.profile for lb in labels if not (PROFILES / f"{lb.profile}.yaml").is_file()}
        )
        if missing:
            err.print(f"error: profiles not found in {PROFILES}: {missing}", markup=False)
            return 2
        err.print(f"{len(labels)} labels from {len(files)} files", markup=False)
        classifiers = load_classifiers(args.no_classifiers)
        outcomes = run(labels, args.data, classifiers, args.batch_size)
    except LabelError as exc:
        err.print(f"error: {exc}", markup=False)
        return 1
    report(outcomes, args.errors, time.perf_counter() - started)
    print(json.dumps(summary(outcomes, classifiers is not None)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
