"""The lexicon prefilter may skip work but never a match: every result equals plain ``re``."""

from __future__ import annotations

import json
import re
import sys
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors import prefilter, reading
from processors.prefilter import UNSAFE_CHARS, PatternSet
from processors.profile import load_profile
from schemas.models import CanonicalPost
from streams.sample import CORPUS, COUNCIL_PROFILE, sample_path

hyperscan = pytest.importorskip("hyperscan", reason="no Hyperscan wheel for this platform")


def _corpus_texts() -> list[str]:
    lines = sample_path(CORPUS).read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if '"text"' in line]


def _truth(patterns: PatternSet, text: str) -> set[re.Pattern[str]]:
    return {p for p in patterns.patterns if p.search(text)}


def test_the_reading_lexicons_are_all_prefiltered() -> None:
    lexicons = reading._lexicons()
    assert lexicons.accelerated
    assert lexicons._always == frozenset(), "every lexicon compiles as a Hyperscan prefilter"
    assert len(lexicons.patterns) >= 30


def test_on_the_sample_corpus_no_lexicon_match_is_missed_and_most_are_skipped() -> None:
    lexicons = reading._lexicons()
    texts = [reading._plain(t) for t in _corpus_texts()]
    skipped = 0
    for text in texts:
        candidates = lexicons.candidates(text)
        assert candidates is not None
        truth = _truth(lexicons, text)
        assert truth <= candidates, text
        skipped += len(lexicons.patterns) - len(candidates)
    # The point of it: most patterns never run on a post.
    assert skipped / (len(texts) * len(lexicons.patterns)) > 0.7


_ODD_CHARS = "\u00e9\u00c9\u00df\u2019\u00a0\u2028\U0001f600_'-"
_ODD = st.sampled_from([*sorted(UNSAFE_CHARS), *_ODD_CHARS])


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    """A corpus text with characters inserted, replaced or re-cased at random places."""
    text = draw(st.sampled_from(_corpus_texts()))
    chars = list(text)
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(chars)))
        choice = draw(st.integers(0, 2))
        if choice == 0:
            chars.insert(at, draw(_ODD | st.characters(codec="utf-8")))
        elif choice == 1 and at < len(chars):
            chars[at] = chars[at].swapcase()
        elif at < len(chars):
            del chars[at]
    return "".join(chars)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_a_mutated_text_never_loses_a_match(text: str) -> None:
    lexicons = reading._lexicons()
    candidates = lexicons.candidates(text)
    if candidates is None:  # the prefilter stepped aside: every pattern runs
        assert set(text) & UNSAFE_CHARS or not _encodes(text)
        return
    assert _truth(lexicons, text) <= candidates


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def test_the_unsafe_letters_are_exactly_those_python_folds_onto_ascii() -> None:
    ascii_letter = re.compile("[a-z]", re.IGNORECASE)
    folded = {chr(c) for c in range(0x80, sys.maxunicode + 1) if ascii_letter.fullmatch(chr(c))}
    assert folded == {c for c in UNSAFE_CHARS if c.isalpha()}


def test_the_unsafe_separators_are_exactly_pythons_extra_whitespace() -> None:
    # PCRE's \s (what Hyperscan runs): \t \n \v \f \r, NEL, and the Z* separators.
    pcre = set("\t\n\v\f\r \x85")
    space = re.compile(r"\s")
    extra = {
        chr(c)
        for c in range(sys.maxunicode + 1)
        if space.fullmatch(chr(c))
        and chr(c) not in pcre
        and not unicodedata.category(chr(c)).startswith("Z")
    }
    assert extra == {c for c in UNSAFE_CHARS if not c.isalpha()}


def test_a_text_with_an_unsafe_character_runs_every_pattern() -> None:
    lexicons = reading._lexicons()
    assert lexicons.candidates("thank you \u212a") is None
    assert lexicons.candidates("lone \ud800 surrogate") is None
    scan = lexicons.scan("thank you \u212a")
    assert all(scan.could_match(p) for p in lexicons.patterns)


def test_a_pattern_outside_the_set_is_always_searched() -> None:
    inside = re.compile(r"(?<!\w)refund(?!\w)", re.IGNORECASE)
    outside = re.compile(r"parking", re.IGNORECASE)
    scan = PatternSet([inside]).scan("no parking here")
    assert scan.search(inside) is None
    assert scan.could_match(outside)
    found = scan.search(outside)
    assert found is not None and found.group(0) == "parking"


def test_a_pattern_hyperscan_cannot_take_is_always_a_candidate() -> None:
    verbose = re.compile(r"re fund  # a comment", re.VERBOSE)
    backref = re.compile(r"(\w)\1")
    plain = re.compile("refund")
    patterns = PatternSet([verbose, backref, plain])
    candidates = patterns.candidates("nothing here")
    assert candidates == {verbose, backref}
    assert patterns.scan("a refund, see").search(plain) is not None


def test_without_hyperscan_every_pattern_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefilter, "_hyperscan", lambda: None)
    patterns = PatternSet([re.compile("refund")])
    assert not patterns.accelerated
    assert patterns.candidates("nothing") is None
    assert patterns.scan("a refund").search(patterns.patterns[0]) is not None


def test_readings_of_the_sample_corpus_are_the_same_with_and_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    org = load_profile(sample_path(COUNCIL_PROFILE))
    posts = [
        CanonicalPost.model_validate(json.loads(line))
        for line in sample_path(CORPUS).read_text(encoding="utf-8").splitlines()
        if json.loads(line).get("kind", "post") == "post"
    ]
    fast = [reading.read_post(p, None, org) for p in posts]
    monkeypatch.setattr(prefilter, "_hyperscan", lambda: None)
    reading._lexicons.cache_clear()
    try:
        slow = [reading.read_post(p, None, org) for p in posts]
        assert not reading._lexicons().accelerated
    finally:
        reading._lexicons.cache_clear()
    assert fast == slow
    assert sum(len(r.signals) for r in fast) > len(posts), "the corpus exercises the lexicons"


@pytest.mark.parametrize(
    ("source", "relaxed"),
    [
        (r"(?<![\w'])(?:thanks?)(?![\w'])", "(?:thanks?)"),
        (r"\bmy\s+\w+", r"my[\s\x{80}-\x{10FFFF}]+[\w\x{80}-\x{10FFFF}]+"),
        (r"[\w-]+@[^\w\s]", r"[\w\x{80}-\x{10FFFF}-]+@[^\w\s]"),
        (r"(?: \w+){0,3}? x{2,5} y{1,2}", r"(?: [\w\x{80}-\x{10FFFF}]+)*? x{2,} y+"),
        ("caf\u00e9", "caf[\u00c9\u00e9]"),
        (r"(?P<who>you|u) (?=lot)", "(you|u) "),
    ],
)
def test_relax_widens_classes_and_drops_assertions(source: str, relaxed: str) -> None:
    assert prefilter.relax(source) == relaxed


@pytest.mark.parametrize(
    "source", [r"(\w)\1", r"(?P<a>x)(?P=a)", r"[^\W]", r"\u00e9", "stra\u00dfe", r"(?:open"]
)
def test_relax_refuses_what_it_cannot_widen_safely(source: str) -> None:
    assert prefilter.relax(source) is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab\u00e9\u00c9 _'-1\u00a0\U0001f600"), max_size=12))
def test_a_relaxed_pattern_matches_wherever_the_original_does(text: str) -> None:
    originals = [
        re.compile("(?<![\\w'])(?:a\\w{0,2} b|\u00e9b?)(?![\\w'])", re.IGNORECASE),
        re.compile(r"\ba\s+\d?_", re.IGNORECASE),
        re.compile(r"[^\w\s]{1,2}a"),
    ]
    patterns = PatternSet(originals)
    assert patterns.accelerated and not patterns._always
    candidates = patterns.candidates(text)
    assert candidates is not None
    assert {p for p in originals if p.search(text)} <= candidates
