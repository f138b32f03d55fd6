"""Named-entity recognition off the event loop.

spaCy is CPU-bound: a long batch on the event loop stalls Kafka heartbeats and
commits until the group evicts the worker. The runner ships each batch to a
process pool (one spaCy pipeline per process, loaded once by the pool
initializer), so the loop keeps heartbeating while NER runs. With
``ner_processes=0`` it uses a thread instead (light use and stream tests).
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from processors import entities
from processors.profile import Organisation

EntityMap = dict[str, list[dict[str, Any]]]


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
