"""The half-load latency figures are read off a Prometheus histogram the way PromQL does."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "throughput.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("throughput_bench", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


tb = _load()
EDGES = (0.5, 1.0, 2.0, 5.0)


def _page(observations: list[float]) -> str:
    registry = CollectorRegistry()
    hist = Histogram("townsquare_end_to_end_seconds", "e2e", buckets=EDGES, registry=registry)
    for value in observations:
        hist.observe(value)
    return generate_latest(registry).decode()


def test_buckets_are_parsed_from_a_real_metrics_page_and_differenced() -> None:
    before = tb.histogram_buckets(_page([0.2, 3.0]), "townsquare_end_to_end_seconds")
    after = tb.histogram_buckets(_page([0.2, 3.0, 0.7, 0.8, 1.5]), "townsquare_end_to_end_seconds")
    assert [le for le, _ in after] == [*EDGES, float("inf")]
    assert tb.bucket_delta(before, after) == [
        (0.5, 0.0),
        (1.0, 2.0),
        (2.0, 3.0),
        (5.0, 3.0),
        (float("inf"), 3.0),
    ]


def test_quantiles_interpolate_within_the_bucket_like_promql() -> None:
    # 10 observations: 4 in (0, 0.5], 4 in (0.5, 1], 2 in (1, 2].
    buckets = [(0.5, 4.0), (1.0, 8.0), (2.0, 10.0), (5.0, 10.0), (float("inf"), 10.0)]
    assert tb.histogram_quantile(0.5, buckets) == pytest.approx(0.5 + 0.5 * (1 / 4))
    assert tb.histogram_quantile(0.2, buckets) == pytest.approx(0.25)
    assert tb.histogram_quantile(0.9, buckets) == pytest.approx(1.5)
    assert tb.quantile_bucket(0.9, buckets) == (1.0, 2.0)


def test_a_rank_in_the_open_bucket_answers_the_largest_finite_edge() -> None:
    buckets = [(0.5, 0.0), (1.0, 0.0), (2.0, 0.0), (5.0, 1.0), (float("inf"), 10.0)]
    assert tb.histogram_quantile(0.99, buckets) == 5.0


def test_no_observations_no_quantile() -> None:
    empty = [(0.5, 0.0), (1.0, 0.0), (float("inf"), 0.0)]
    assert tb.histogram_quantile(0.99, empty) is None
