"""Trained text classifiers for five TweetEval tasks (emotion, hate, irony, offensive, sentiment).

Pure code: no Kafka, Faust or Elasticsearch, and importing does no work; the
models are read by :meth:`TextClassifiers.load` and training lives in
:mod:`processors.classifiers.training` (which needs scikit-learn's solvers).
"""

from processors.classifiers.model import (
    TASKS,
    Prediction,
    TextClassifiers,
    default_models_dir,
    top_labels,
)
from processors.classifiers.preprocess import decode_data_line, normalize

__all__ = [
    "TASKS",
    "Prediction",
    "TextClassifiers",
    "decode_data_line",
    "default_models_dir",
    "normalize",
    "top_labels",
]
