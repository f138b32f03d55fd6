"""Named entities in social posts: spaCy NER, the organisation's gazetteer, and social spans.

Social text trips up a model trained on news: ``@handles`` and ``#CamelCase``
tags hide names inside one token, URLs become bogus entities, and shouting in
ALL CAPS or dropping into ``lol``/``omg`` looks like a proper noun to the
model. So NER runs on a *cleaned copy* of each post and every span is mapped
back, character by character, onto the original text:

* ``#GreenBins`` / ``@JohnSmith`` lose their marker and are split at case
  boundaries (``Green Bins``), so both the model and the gazetteer see words;
* URLs are removed (one space stands in); model entities touching them are dropped;
* ALL-CAPS words are lower-cased (``MASSIVE GIVEAWAY`` is emphasis, not a
  name); two- and three-letter words stay as written, unless the whole post
  shouts, because short capitals are usually acronyms (``BBC``, ``NHS``);
* model entities made only of chat slang, emoji, digits or punctuation are dropped.

Offsets always index the original text (end exclusive), so
``text[start:end] == entity["text"]`` for every entity.

Stable labels (what downstream code and dashboards may rely on):

============  =================================================================
label         from
============  =================================================================
PERSON        spaCy PERSON
ORG           spaCy ORG
LOCATION      spaCy GPE, LOC, FAC (a comms team does not care which)
PRODUCT       spaCy PRODUCT
CREATIVE_WORK spaCy WORK_OF_ART
GROUP         spaCy NORP (nationalities, religious and political groups)
EVENT         spaCy EVENT
LAW           spaCy LAW
MENTION       an ``@handle`` (source ``mention``)
HASHTAG       a ``#tag`` (source ``hashtag``)
LINK          a URL (source ``link``)
============  =================================================================

DATE, TIME, CARDINAL, ORDINAL, QUANTITY, MONEY, PERCENT and LANGUAGE are
dropped: nobody joins a conversation because it contains "Tuesday" or "£5".
Gazetteer labels are upper-cased and mapped the same way (``PLACE`` ->
``LOCATION``); any other label (``PROGRAMME``) is kept as written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, cast

import spacy
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.pipeline import EntityRuler

from processors.profile import GazetteerEntry
from processors.text import find_hashtags, find_links, find_mentions, split_hashtag

__all__ = [
    "DROPPED_LABELS",
    "LABEL_MAP",
    "EntityExtractor",
    "extract_in_worker",
    "init_worker",
    "prepare_text",
]

LABEL_MAP: dict[str, str] = {
    "PERSON": "PERSON",
    "PER": "PERSON",
    "ORG": "ORG",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "PLACE": "LOCATION",
    "LOCATION": "LOCATION",
    "PRODUCT": "PRODUCT",
    "WORK_OF_ART": "CREATIVE_WORK",
    "CREATIVE_WORK": "CREATIVE_WORK",
    "NORP": "GROUP",
    "GROUP": "GROUP",
    "EVENT": "EVENT",
    "LAW": "LAW",
}
DROPPED_LABELS = frozenset(
    {"DATE", "TIME", "CARDINAL", "ORDINAL", "QUANTITY", "MONEY", "PERCENT", "LANGUAGE"}
)

# NER in en_core_web_sm embeds its own tok2vec (it is not a listener of the
# shared "tok2vec" component), so everything else can go; measured: identical
# entities, about a third of the time.
_UNUSED_COMPONENTS = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
_GAZETTEER_ID = "gazetteer"
_REMOVED = -1  # offset-map value for characters that stand in for removed text (URLs)

_CAPS_WORD = re.compile(r"(?<![\w'\u2019])[A-Z][A-Z'\u2019]*[A-Z](?![\w'\u2019])")
_CASED_WORD = re.compile(r"(?<!\w)[^\W\d_]{2,}(?!\w)")
_NOT_NAME = re.compile(r"^[\W\d_]+$")
_LAUGH_OR_STRETCH = re.compile(
    r"^(?:(?:a*h+a+|h+e+|h+i+|k+e+|j+a+|l+o+l+|x+o+){2,}h?|a+w+|(?=\w*(\w)\1\1)\w+)$"
)
_PIECE = re.compile(r"[^\s,]+")
_EDGE_PUNCT = "\"'\u2019\u2018\u201c\u201d.,;:!?()[]{}<>*~|/\\-_=+"
_DETERMINERS = frozenset({"the", "a", "an", "this", "that", "my", "our", "your"})
_SLANG_WORDS = """
lol lols lolz lmao lmfao rofl roflmao omg omfg wtf wth idk idc smh tbh tbf imo imho btw
fyi ffs fml af irl dm dms rt ftw ikr nvm brb gtg ttyl xd xo xoxo ily jk np ty thx pls
plz yolo bff fomo ama tldr hmu asap ok okay yay yeah yep nope lmk icymi ngl fr og pog
http https www
"""
_SLANG = frozenset(_SLANG_WORDS.split())


def _map_label(label: str) -> str | None:
    """Stable label for a spaCy or gazetteer label, ``None`` when it is not worth keeping."""
    upper = label.upper()
    if upper in DROPPED_LABELS:
        return None
    return LABEL_MAP.get(upper, upper)


def _align_split(tag: str, split: str, base: int) -> list[int]:
    """Offsets of each character of ``split_hashtag(tag)`` in the original text.

    The split only inserts spaces and turns ``_`` into spaces or drops it, so a
    two-pointer walk aligns it; an inserted space maps to the previous
    original character.
    """
    out: list[int] = []
    j = 0
    for ch in split:
        while j < len(tag) and tag[j] == "_" and ch not in (" ", "_"):
            j += 1  # an underscore the split dropped
        if j < len(tag) and (ch == tag[j] or (ch == " " and tag[j] == "_")):
            out.append(base + j)
            j += 1
        else:
            out.append(base + max(j - 1, 0))
    return out


def _normalize_caps(clean: str) -> str:
    """Lower-case ALL-CAPS words; same length, so the offset map still holds.

    Measured on social text, capitals are mostly emphasis (``MASSIVE
    GIVEAWAY``, ``ZERO VIEWS``) that the model takes for names; lower-casing
    them costs fewer real names than it saves false ones. Words of two or
    three letters are usually acronyms (``BBC``, ``NHS``) and stay, unless
    the whole post shouts.
    """
    words = _CASED_WORD.findall(clean)
    caps = [w for w in words if w.isupper()]
    if not caps:
        return clean
    shouting = len(caps) >= 2 and len(caps) * 2 > len(words)

    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        if len(word) <= 3 and not shouting and word.lower() not in STOP_WORDS:
            return word
        return word.lower()

    return _CAPS_WORD.sub(fix, clean)


def prepare_text(text: str) -> tuple[str, list[int]]:
    """The copy of ``text`` that NER sees, and each of its characters' offset in ``text``.

    Offsets are non-decreasing; ``-1`` marks a stand-in for a removed URL.
    """
    spans: list[tuple[int, int, str]] = []
    for s in find_links(text):
        spans.append((s.start, s.end, "link"))
    link_ranges = [(a, b) for a, b, _ in spans]

    def inside_link(start: int) -> bool:
        return any(a <= start < b for a, b in link_ranges)

    for s in find_mentions(text):
        if not inside_link(s.start):
            spans.append((s.start, s.end, "mention"))
    for s in find_hashtags(text):
        if not inside_link(s.start):
            spans.append((s.start, s.end, "hashtag"))
    spans.sort()

    parts: list[str] = []
    offsets: list[int] = []
    pos = 0
    for start, end, kind in spans:
        if start < pos:  # overlapping spans (a mention inside a hashtag run): keep the first
            continue
        parts.append(text[pos:start])
        offsets.extend(range(pos, start))
        if kind == "link":
            parts.append(" ")
            offsets.append(_REMOVED)
        else:
            body = text[start + 1 : end]
            if kind == "mention":
                body = body.split("@", 1)[0]  # the local part of name@host.tld
            split = split_hashtag(body)
            parts.append(split)
            offsets.extend(_align_split(body, split, start + 1))
        pos = end
    parts.append(text[pos:])
    offsets.extend(range(pos, len(text)))
    return _normalize_caps("".join(parts)), offsets


def _social_entities(text: str) -> list[dict[str, Any]]:
    """Mentions, hashtags and links as entities, spanning their markers (``@``, ``#``)."""
    out: list[dict[str, Any]] = []
    links = find_links(text)
    for s in links:
        out.append(_entity(text, s.start, s.end, "LINK", "link"))
    for finder, label, source in (
        (find_mentions, "MENTION", "mention"),
        (find_hashtags, "HASHTAG", "hashtag"),
    ):
        for s in finder(text):
            if not any(link.start <= s.start < link.end for link in links):
                out.append(_entity(text, s.start, s.end, label, source))
    return out


def _entity(text: str, start: int, end: int, label: str, source: str) -> dict[str, Any]:
    return {"text": text[start:end], "label": label, "start": start, "end": end, "source": source}


def _is_noise_word(word: str) -> bool:
    """Slang, laughter, stretched words (``sooooo``), emoji, numbers, lone letters."""
    w = word.lower()
    return (
        len(w) < 2
        or w in _SLANG
        or _NOT_NAME.match(w) is not None
        or _LAUGH_OR_STRETCH.match(w) is not None
    )


def _refine(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Tighten a model span to the name inside it, in original-text offsets.

    Chat text glues lists and interjections onto names (``Awwww Didga ❤``,
    ``Dwayne, Ty,``, ``the White House``): split at commas, strip edge
    punctuation, leading lower-case determiners and noise words at either edge.
    """
    out: list[tuple[int, int]] = []
    pieces: list[list[tuple[int, int]]] = [[]]
    for m in _PIECE.finditer(text, start, end):
        a, b = m.start(), m.end()
        if a > start and text[a - 1] == ",":
            pieces.append([])
        pieces[-1].append((a, b))
        if b < end and text[b] == ",":
            pieces.append([])
    for words in pieces:
        while words and (
            _is_noise_word(text[words[0][0] : words[0][1]].strip(_EDGE_PUNCT))
            or text[words[0][0] : words[0][1]] in _DETERMINERS
        ):
            words.pop(0)
        while words and _is_noise_word(text[words[-1][0] : words[-1][1]].strip(_EDGE_PUNCT)):
            words.pop()
        if not words:
            continue
        a, b = words[0][0], words[-1][1]
        while a < b and text[a] in _EDGE_PUNCT:
            a += 1
        while b > a and text[b - 1] in _EDGE_PUNCT:
            b -= 1
        if b - a >= 2:
            out.append((a, b))
    return out


class EntityExtractor:
    """One spaCy pipeline per instance (per worker process); call :meth:`extract` per batch."""

    batch_size = 64
    """Texts per ``nlp.pipe`` minibatch; social posts are short, so larger costs memory only."""

    def __init__(self, model: str, gazetteer: Sequence[GazetteerEntry] = ()) -> None:
        self.model = model
        self.nlp: Language = spacy.load(model, exclude=_UNUSED_COMPONENTS)
        patterns: list[dict[str, Any]] = []
        for entry in gazetteer:
            label = _map_label(entry.label) or entry.label.upper()
            patterns.append({"label": label, "pattern": entry.text, "id": _GAZETTEER_ID})
            split = split_hashtag(entry.text.replace(" ", ""))
            if split.lower() != entry.text.lower():  # "GreenBins" in a profile still matches
                patterns.append({"label": label, "pattern": split, "id": _GAZETTEER_ID})
        if patterns:
            ruler = cast(
                EntityRuler,
                self.nlp.add_pipe(
                    "entity_ruler",
                    before="ner",
                    config={"overwrite_ents": True, "phrase_matcher_attr": "LOWER"},
                ),
            )
            ruler.add_patterns(patterns)

    def extract(self, records: Sequence[tuple[str, str]]) -> dict[str, list[dict[str, Any]]]:
        """``(post_id, text)`` pairs -> post_id -> entity dicts, sorted by offset.

        Plain dicts so the result pickles cheaply out of a process pool. Docs
        live only inside a memory zone, so a long-running worker's vocabulary
        does not grow with every new word it has seen.
        """
        prepared = [(pid, text, *prepare_text(text)) for pid, text in records]
        out: dict[str, list[dict[str, Any]]] = {}
        with self.nlp.memory_zone():
            docs = self.nlp.pipe(
                ((clean, i) for i, (_, _, clean, _) in enumerate(prepared)),
                as_tuples=True,
                batch_size=self.batch_size,
            )
            for doc, i in docs:
                pid, text, _, offsets = prepared[i]
                found = _social_entities(text)
                for ent in doc.ents:
                    gazetteer = ent.ent_id_ == _GAZETTEER_ID
                    label = ent.label_ if gazetteer else _map_label(ent.label_)
                    if label is None:
                        continue
                    mapped = offsets[ent.start_char : ent.end_char]
                    if not mapped or _REMOVED in mapped:
                        continue
                    start, end = mapped[0], mapped[-1] + 1
                    if gazetteer:
                        found.append(_entity(text, start, end, label, "gazetteer"))
                        continue
                    for a, b in _refine(text, start, end):
                        found.append(_entity(text, a, b, label, "model"))
                found.sort(key=lambda e: (e["start"], e["end"], e["source"]))
                out[pid] = found
        return out


_WORKER: EntityExtractor | None = None


def init_worker(model: str, gazetteer: list[dict[str, str]]) -> None:
    """``ProcessPoolExecutor(initializer=init_worker, initargs=(model, gazetteer))``.

    The gazetteer travels as plain dicts because the initializer's arguments
    are pickled; the model is loaded once per worker process, here.
    """
    global _WORKER
    _WORKER = EntityExtractor(model, [GazetteerEntry.model_validate(g) for g in gazetteer])


def extract_in_worker(records: list[tuple[str, str]]) -> dict[str, list[dict[str, Any]]]:
    """Run the worker's extractor on one batch; :func:`init_worker` must have run."""
    if _WORKER is None:
        raise RuntimeError("init_worker() has not run in this process")
    return _WORKER.extract(records)
