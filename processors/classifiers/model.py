"""Inference: five linear classifiers over one shared hashed n-gram space.

The artifacts are two files in the models folder: ``classifiers.json`` (the
hashing configuration, the tasks' label names and which coefficient columns
belong to which task) and ``classifiers.npz`` (the used feature columns, their
IDF weights, the float16 coefficients and the intercepts). Loading them needs
numpy and scikit-learn's stateless ``HashingVectorizer`` only; nothing is
unpickled, so a scikit-learn upgrade cannot silently change or break a model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from processors.classifiers.features import Featuriser, HashingSpec

TASKS: tuple[str, ...] = ("emotion", "hate", "irony", "offensive", "sentiment")
CONFIG_FILE = "classifiers.json"
ARRAYS_FILE = "classifiers.npz"
FORMAT_VERSION = 1

Prediction = dict[str, dict[str, float]]


def default_models_dir() -> Path:
    """The repository's committed ``models/`` folder."""
    return Path(__file__).resolve().parents[2] / "models"


@dataclass(frozen=True)
class TaskHead:
    """Where one task's logits sit among the stacked coefficient columns."""

    labels: tuple[str, ...]
    start: int
    stop: int

    @property
    def binary(self) -> bool:
        # Binary tasks keep one logit column (the second label's), as logistic regression fits.
        return len(self.labels) == 2 and self.stop - self.start == 1


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


class TextClassifiers:
    """Emotion, hate, irony, offensive and sentiment probabilities for batches of posts."""

    def __init__(
        self,
        featuriser: Featuriser,
        coef: np.ndarray,
        intercept: np.ndarray,
        heads: Mapping[str, TaskHead],
    ) -> None:
        self.featuriser = featuriser
        self.coef = coef
        self.intercept = intercept
        self.heads = dict(heads)

    @classmethod
    def load(cls, models_dir: Path | None = None) -> TextClassifiers:
        """Read the artifacts written by :func:`processors.classifiers.training.train`."""
        models_dir = default_models_dir() if models_dir is None else Path(models_dir)
        config_path = models_dir / CONFIG_FILE
        arrays_path = models_dir / ARRAYS_FILE
        if not config_path.is_file() or not arrays_path.is_file():
            raise FileNotFoundError(
                f"no classifiers in {models_dir} (expected {CONFIG_FILE} and {ARRAYS_FILE}); "
                "build them with `townsquare models train`"
            )
        config = json.loads(config_path.read_text(encoding="utf-8"))
        if config.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{config_path}: format_version {config.get('format_version')!r}, "
                f"this code reads {FORMAT_VERSION}"
            )
        with np.load(arrays_path, allow_pickle=False) as arrays:
            columns = arrays["columns"].astype(np.int64)
            idf_used = arrays["idf"].astype(np.float32)
            coef_used = arrays["coef"].astype(np.float32)
            intercept = arrays["intercept"].astype(np.float32)
        specs = tuple(HashingSpec.from_json(item) for item in config["features"])
        n_features = sum(spec.n_features for spec in specs)
        # Scatter into the whole hashed space so a batch multiplies without re-indexing.
        idf = np.zeros(n_features, dtype=np.float32)
        idf[columns] = idf_used
        coef = np.zeros((n_features, coef_used.shape[1]), dtype=np.float32)
        coef[columns] = coef_used
        heads = {
            task: TaskHead(tuple(spec["labels"]), int(spec["columns"][0]), int(spec["columns"][1]))
            for task, spec in config["tasks"].items()
        }
        missing = [task for task in TASKS if task not in heads]
        if missing:
            raise ValueError(f"{config_path}: no model for {', '.join(missing)}")
        return cls(Featuriser(specs, idf), coef, intercept, heads)

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(task for task in TASKS if task in self.heads)

    def labels(self, task: str) -> tuple[str, ...]:
        return self.heads[task].labels

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """All tasks' logits side by side, one row per text."""
        features = self.featuriser.transform(texts)
        return np.asarray(features @ self.coef) + self.intercept

    def probabilities(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Task -> (texts x labels) probability matrix, in the label order of ``labels(task)``."""
        if not texts:
            return {task: np.zeros((0, len(self.heads[task].labels))) for task in self.tasks}
        logits = self.logits(texts)
        out: dict[str, np.ndarray] = {}
        for task in self.tasks:
            head = self.heads[task]
            block = logits[:, head.start : head.stop]
            if head.binary:
                block = np.hstack([np.zeros_like(block), block])
            out[task] = _softmax(block.astype(np.float64))
        return out

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Per text: task -> {label name -> probability}, for every task."""
        probs = self.probabilities(texts)
        results: list[Prediction] = [{} for _ in texts]
        for task, matrix in probs.items():
            labels = self.heads[task].labels
            for result, row in zip(results, matrix.tolist(), strict=True):
                result[task] = dict(zip(labels, row, strict=True))
        return results

    def predict_labels(self, texts: Sequence[str], task: str) -> list[str]:
        """The most probable label name of one task for each text."""
        if task not in self.heads:
            raise KeyError(f"unknown task {task!r}; choose one of: {', '.join(self.tasks)}")
        if not texts:
            return []
        head = self.heads[task]
        block = self.logits(texts)[:, head.start : head.stop]
        if head.binary:
            return [head.labels[int(z > 0)] for z in block[:, 0]]
        return [head.labels[i] for i in block.argmax(axis=1)]


def top_labels(prediction: Mapping[str, Mapping[str, float]]) -> dict[str, str]:
    """Task -> its most probable label, for one entry of :meth:`TextClassifiers.predict`."""
    return {task: max(probs, key=lambda label: probs[label]) for task, probs in prediction.items()}


def read_config(models_dir: Path) -> dict[str, Any]:
    """The JSON half of the artifacts (also carries the training summary)."""
    data: dict[str, Any] = json.loads((models_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    return data
