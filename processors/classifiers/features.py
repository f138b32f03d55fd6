"""The feature space every classifier shares: hashed word and character n-grams.

One pass over a batch feeds all five tasks, which is what keeps five models
affordable. Hashing needs no vocabulary, so the only fitted state is one IDF
weight per used column, and the whole configuration fits in a small JSON
object (no pickle, nothing tied to scikit-learn's private attributes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from processors.classifiers.preprocess import TOKEN_PATTERN, normalize

if TYPE_CHECKING:
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import HashingVectorizer


@dataclass(frozen=True)
class HashingSpec:
    """The arguments of one ``HashingVectorizer``; everything else is left at its default."""

    analyzer: str
    ngram_range: tuple[int, int]
    n_features: int
    token_pattern: str | None = None

    def build(self) -> HashingVectorizer:
        from sklearn.feature_extraction.text import HashingVectorizer

        kwargs: dict[str, Any] = {}
        if self.token_pattern is not None:
            kwargs["token_pattern"] = self.token_pattern
        return HashingVectorizer(
            analyzer=self.analyzer,
            ngram_range=self.ngram_range,
            n_features=self.n_features,
            # normalize() has lower-cased already; counts stay positive so IDF applies.
            lowercase=False,
            alternate_sign=False,
            norm=None,
            dtype=np.float32,
            **kwargs,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HashingSpec:
        low, high = data["ngram_range"]
        return cls(
            analyzer=str(data["analyzer"]),
            ngram_range=(int(low), int(high)),
            n_features=int(data["n_features"]),
            token_pattern=data.get("token_pattern"),
        )


def default_specs() -> tuple[HashingSpec, ...]:
    """Word 1-2-grams and within-word character 3-5-grams (chosen by cross-validation)."""
    return (
        HashingSpec("word", (1, 2), 2**18, TOKEN_PATTERN),
        HashingSpec("char_wb", (3, 5), 2**19),
    )


@dataclass
class Featuriser:
    """Texts -> L2-normalized, sublinear TF-IDF rows over the hashed n-gram columns."""

    specs: tuple[HashingSpec, ...]
    idf: np.ndarray = field(repr=False)  # float32, one per column of the whole hashed space
    _vectorizers: list[HashingVectorizer] = field(default_factory=list, repr=False)

    @property
    def n_features(self) -> int:
        return sum(spec.n_features for spec in self.specs)

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Log-scaled n-gram counts of the normalized texts (before IDF)."""
        import scipy.sparse as sp

        if not self._vectorizers:
            self._vectorizers = [spec.build() for spec in self.specs]
        cleaned = [normalize(text) for text in texts]
        blocks = [vectorizer.transform(cleaned) for vectorizer in self._vectorizers]
        matrix = sp.hstack(blocks, format="csr", dtype=np.float32)
        # A word said five times is not five times the evidence.
        np.log1p(matrix.data, out=matrix.data)
        return matrix

    def weigh(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """Apply IDF and L2-normalize each row; columns with IDF 0 (unused) drop out."""
        from sklearn.preprocessing import normalize

        weighted = counts.copy()
        # In place on the stored values: far cheaper than a sparse-times-dense broadcast.
        weighted.data *= self.idf[weighted.indices]
        weighted.eliminate_zeros()
        result: sp.csr_matrix = normalize(weighted, norm="l2", copy=False)
        return result

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.weigh(self.counts(texts))

    def config(self) -> list[dict[str, Any]]:
        return [asdict(spec) for spec in self.specs]
