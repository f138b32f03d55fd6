"""docs/metrics.md is what tools/metrics_reference.py writes from streams.metrics.

The reference is only worth reading if it matches the code, so a metric added,
renamed or re-described without re-running the script fails here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from prometheus_client import Counter

ROOT = Path(__file__).resolve().parents[2]


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "metrics_reference", ROOT / "tools" / "metrics_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_reference_matches_the_generated_one() -> None:
    tool = _tool()
    committed = (ROOT / "docs" / "metrics.md").read_text()
    assert committed == tool.render(), "docs/metrics.md is stale: run tools/metrics_reference.py"
    assert tool.main(["--check"]) == 0


def test_every_metric_is_in_the_reference_with_type_labels_and_help() -> None:
    from streams import metrics

    text = _tool().render()
    for name, kind, labels in (
        ("townsquare_messages", "counter", ("stage", "outcome")),
        ("townsquare_es_up", "gauge", ()),
        ("townsquare_end_to_end_seconds", "histogram", ()),
        ("townsquare_recommended_actions", "counter", ("action",)),
        ("townsquare_alerts", "counter", ("rule", "severity")),
        ("townsquare_replies_overdue", "gauge", ("level",)),
        ("townsquare_erasures_in_force", "gauge", ()),
    ):
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
        assert f"| {kind} |" in row
        for label in labels:
            assert f"`{label}`" in row
    assert text.count("\n| `townsquare_") == len(_tool().collectors())
    assert metrics.MESSAGES._documentation.split()[0] in text


def test_a_new_metric_makes_the_check_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sync test can fail: a collector the file does not list makes it stale."""
    from streams import metrics

    tool = _tool()
    extra = Counter("townsquare_reference_probe", "Only for this test.", registry=None)
    monkeypatch.setattr(metrics, "REFERENCE_PROBE", extra, raising=False)
    assert "townsquare_reference_probe" in tool.render()
    assert tool.main(["--check"]) == 1
