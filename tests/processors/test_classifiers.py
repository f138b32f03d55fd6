"""The text classifiers: committed models, prediction contract, deterministic training, cleaning."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.classifiers import (
    TASKS,
    TextClassifiers,
    decode_data_line,
    default_models_dir,
    normalize,
    top_labels,
)

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TWEETEVAL = SHARED_DATA / "tweeteval"
MODELS = default_models_dir()

LABELS = {
    "emotion": ("anger", "joy", "optimism", "sadness"),
    "hate": ("not-hate", "hate"),
    "irony": ("non-irony", "irony"),
    "offensive": ("not-offensive", "offensive"),
    "sentiment": ("negative", "neutral", "positive"),
}

needs_data = pytest.mark.skipif(
    not (TWEETEVAL / "sentiment" / "val_text.txt").is_file(),
    reason=f"the TweetEval validation data is not at {TWEETEVAL}",
)


@pytest.fixture(scope="module")
def classifiers() -> TextClassifiers:
    return TextClassifiers.load(MODELS)


# --- the committed models --------------------------------------------------------------


@needs_data
def test_committed_models_reproduce_the_published_validation_figures(
    classifiers: TextClassifiers,
) -> None:
    from processors.classifiers.training import evaluate, read_task

    recorded = json.loads((MODELS / "metrics.json").read_text(encoding="utf-8"))
    measured = evaluate(classifiers, {task: read_task(TWEETEVAL, task) for task in TASKS})
    card = (MODELS / "README.md").read_text(encoding="utf-8")
    for task in TASKS:
        assert measured[task] == recorded["tasks"][task], task
        # The model card quotes the same figure, as a percentage with one decimal.
        assert f"{measured[task]['value'] * 100:.1f}" in card, task


def test_committed_artifacts_are_small_and_pickle_free() -> None:
    files = [path for path in MODELS.iterdir() if path.is_file()]
    assert sum(path.stat().st_size for path in files) < 20 * 2**20
    with np.load(MODELS / "classifiers.npz", allow_pickle=False) as arrays:
        assert set(arrays.files) == {"columns", "idf", "coef", "intercept"}
        assert arrays["coef"].dtype == np.float16


# --- the prediction contract -----------------------------------------------------------

TEXTS = [
    "I love this so much, best day ever!!! 😍😍",
    "@user you are a disgusting idiot, shut up",
    "Great, another Monday. Just what I needed...",
    "The council meets on Tuesday at 7pm http://t.co/abc",
    "",
    "so sad and lonely tonight 😢",
]


def test_every_text_gets_every_task_with_its_labels_and_a_distribution(
    classifiers: TextClassifiers,
) -> None:
    predictions = classifiers.predict(TEXTS)
    assert len(predictions) == len(TEXTS)
    for prediction in predictions:
        assert tuple(prediction) == TASKS
        for task, probs in prediction.items():
            assert tuple(probs) == LABELS[task]
            assert all(0.0 <= p <= 1.0 for p in probs.values())
            assert math.isclose(sum(probs.values()), 1.0, abs_tol=1e-9)


def test_batch_and_single_predictions_agree(classifiers: TextClassifiers) -> None:
    batch = classifiers.predict(TEXTS)
    for text, together in zip(TEXTS, batch, strict=True):
        (alone,) = classifiers.predict([text])
        for task in TASKS:
            assert np.allclose(list(alone[task].values()), list(together[task].values()))


def test_labels_helpers_agree_with_the_probabilities(classifiers: TextClassifiers) -> None:
    predictions = classifiers.predict(TEXTS)
    for task in TASKS:
        expected = [top_labels(prediction)[task] for prediction in predictions]
        assert classifiers.predict_labels(TEXTS, task) == expected
    assert classifiers.predict([]) == []
    assert classifiers.predict_labels([], "irony") == []
    with pytest.raises(KeyError, match="sentiment"):
        classifiers.predict_labels(TEXTS, "sentimnet")


def test_clear_cases_get_the_obvious_labels(classifiers: TextClassifiers) -> None:
    texts = [
        "I love you all, what a wonderful happy day! 😍",
        "This is the worst service ever, I hate it, absolutely awful",
    ]
    first, second = (top_labels(prediction) for prediction in classifiers.predict(texts))
    assert first["sentiment"] == "positive"
    assert first["emotion"] == "joy"
    assert first["offensive"] == "not-offensive"
    assert second["sentiment"] == "negative"
    assert second["emotion"] == "anger"


def test_missing_models_say_how_to_build_them(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="townsquare models train"):
        TextClassifiers.load(tmp_path)


# --- deterministic training ------------------------------------------------------------

WORDS = {
    "emotion": (["furious", "angry"], ["happy", "joy"], ["hope", "soon"], ["sad", "cry"]),
    "hate": (["lovely", "neighbours"], ["deport", "vermin"]),
    "irony": (["plain", "fact"], ["great", "yeah"]),
    "offensive": (["kind", "thanks"], ["idiot", "stupid"]),
    "sentiment": (["awful", "bad"], ["meeting", "today"], ["good", "great"]),
}


def _tiny_tweeteval(root: Path) -> Path:
    """A few dozen synthetic lines per task in the TweetEval layout."""
    rng = np.random.default_rng(7)
    for task, classes in WORDS.items():
        folder = root / task
        folder.mkdir(parents=True)
        names = LABELS[task]
        mapping = [f"{i}\t{name.replace('non-irony', 'non_irony')}" for i, name in enumerate(names)]
        (folder / "mapping.txt").write_text("\n".join(mapping) + "\n", encoding="utf-8")
        for split, n in (("train", 40), ("val", 12)):
            labels = [i % len(classes) for i in range(n)]
            texts = [
                f"@user {' '.join(rng.choice(classes[label], 3))} \\u2019s #tag {i} &amp; 🙂"
                for i, label in enumerate(labels)
            ]
            (folder / f"{split}_text.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
            (folder / f"{split}_labels.txt").write_text(
                "\n".join(map(str, labels)) + "\n", encoding="utf-8"
            )
    return root


def test_training_is_deterministic(tmp_path: Path) -> None:
    from processors.classifiers.training import train

    data = _tiny_tweeteval(tmp_path / "data")
    first = train(data, tmp_path / "a", seed=3)
    second = train(data, tmp_path / "b", seed=3)
    assert first == second
    for name in ("classifiers.npz", "classifiers.json", "metrics.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    texts = ["good great good", "idiot stupid deport", "yeah great, plain fact"]
    a = TextClassifiers.load(tmp_path / "a").predict(texts)
    b = TextClassifiers.load(tmp_path / "b").predict(texts)
    assert a == b
    # The tiny data is separable: the trained models learnt it rather than guessing.
    assert first["tasks"]["sentiment"]["accuracy"] > 0.9
    assert top_labels(a[0])["sentiment"] == "positive"


def test_tuned_bias_moves_the_threshold_only_as_far_as_the_metric_needs() -> None:
    from processors.classifiers.training import tune_bias

    # Binary logits [0, z]: the positives sit just below zero, so F1 of class 1 wants a shift.
    z = np.array([[0.0, v] for v in (-2.0, -1.5, -0.3, -0.2, -0.1, 0.4)])
    labels = np.array([0, 0, 1, 1, 1, 1])
    bias = tune_bias("f1_irony", labels, z)
    assert bias[0] == 0.0
    assert 0.3 < bias[1] <= 1.5
    assert ((z + bias).argmax(axis=1) == labels).all()
    assert np.array_equal(bias, tune_bias("f1_irony", labels, z))
    # Nothing to gain: no shift at all.
    assert not tune_bias("f1_irony", np.array([0, 0, 1, 1]), z[[0, 1, 5, 5]]).any()


def test_committed_irony_model_carries_its_tuned_bias() -> None:
    config = json.loads((MODELS / "classifiers.json").read_text(encoding="utf-8"))
    assert config["tasks"]["irony"]["bias"][0] > 0
    for task in ("emotion", "hate", "offensive", "sentiment"):
        assert not any(config["tasks"][task]["bias"]), task


# --- social-text cleaning --------------------------------------------------------------


def test_normalize_handles_social_text() -> None:
    assert normalize("Soooo HAPPY!!!!! 😍😍😍") == "soo happy!! 😍😍"
    assert normalize("@Bob_1 look https://t.co/x1 www.example.org") == "@user look http http"
    assert normalize("mail me at a@b.com") == "mail me at a@b.com"
    assert normalize("I\u2019m  \n here") == "i'm here"
    assert normalize("#GoodVibes") == "#goodvibes"


def test_data_lines_are_decoded_before_normalizing() -> None:
    assert decode_data_line("I\\u2019m here\\u002c ok &amp; fine") == "I\u2019m here, ok & fine"
    assert decode_data_line("lone \\ud83d half") == "lone   half"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_normalize_never_raises_and_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert once == once.strip()
    assert "  " not in once
    assert not re.search(r"(.)\1\1", once)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(categories=["So", "Sk"]), min_size=1, max_size=5))
def test_normalize_keeps_emoji_and_symbols(symbols: str) -> None:
    cleaned = normalize(f"ok {symbols}")
    # Symbols survive (at most shortened to two in a row); they are signal, not noise.
    assert cleaned.startswith("ok")
    assert set(cleaned[2:].replace(" ", "")) <= set(symbols.lower())
    assert set(cleaned[2:].replace(" ", "")) == set(symbols.lower()) - {" "}
