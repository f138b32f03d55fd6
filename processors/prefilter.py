r"""One pass over a text says which of many patterns could match it, so only those run.

The reading tries some thirty phrase lexicons on every post. Python's ``re``
tries each lexicon's alternation at every position of the text, so before this
module the lexicons were about half of the processors' time (≈ 450 µs of
≈ 850 µs per post). Hyperscan compiles all of them into one automaton and scans
a post in a few microseconds.

Hyperscan runs each pattern in a relaxed form (:func:`relax`: ASCII classes
widened, lookarounds and bounds dropped) and in *prefilter* mode. It may report
a pattern that does not match, but never misses one that does. Each candidate
is then searched with its own ``re`` pattern, so every match, group and piece
of evidence is exactly what ``re`` alone gives. The prefilter can change speed
but never a result.

Where the two engines could disagree about the text itself, the prefilter
steps aside and every pattern runs. That covers the four non-ASCII letters
Python folds onto ASCII ones under IGNORECASE (U+0130, U+0131, U+017F, U+212A),
the separators U+001C to U+001F that Python's ``\s`` matches, and text that is
not valid UTF-8 (lone surrogates).

Hyperscan has no wheel for Linux on ARM. Without it every pattern is a
candidate: the same results, at the old cost. :attr:`PatternSet.accelerated`
says which path runs. A pattern Hyperscan cannot compile even as a prefilter
(``re.VERBOSE``, syntax it lacks) is always a candidate. A set is read-only once
built, and each thread scans with its own scratch space, so one set serves
every thread.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Iterable
from typing import Any

__all__ = ["UNSAFE_CHARS", "PatternSet", "Scan"]

UNSAFE_CHARS = frozenset("\u0130\u0131\u017f\u212a\x1c\x1d\x1e\x1f")
"""Characters on which Python's ``re`` and Hyperscan may read a text differently.

``tests/processors/test_prefilter.py`` recomputes the case-folding ones from
``re`` itself, so a Python release that adds one fails the suite.
"""

_NOTHING: frozenset[int] = frozenset()
_UNSAFE = re.compile(f"[{''.join(sorted(UNSAFE_CHARS))}]")


def _hyperscan() -> Any | None:
    """The hyperscan module, or None where it is not installed (no wheel for this platform)."""
    try:
        return importlib.import_module("hyperscan")
    except ImportError:
        return None


class Scan:
    """One text, and which of a set's patterns could match it."""

    __slots__ = ("_ruled_out", "text")

    def __init__(self, text: str, ruled_out: frozenset[int]) -> None:
        self.text = text
        # Patterns by ``id()``: hashing an ``re.Pattern`` hashes its whole source and
        # compiled code every time (about 2 µs for a lexicon), an int hashes free.
        # The set holds every pattern it rules out, so no id here can be reused.
        self._ruled_out = ruled_out

    def search(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        """``pattern.search(text)``, skipped when the prefilter ruled the pattern out.

        A pattern the set was not built with is always searched.
        """
        if id(pattern) in self._ruled_out:
            return None
        return pattern.search(self.text)

    def could_match(self, pattern: re.Pattern[str]) -> bool:
        """False only when the prefilter proved ``pattern`` cannot match."""
        return id(pattern) not in self._ruled_out


class PatternSet:
    """Compiled ``re`` patterns with a Hyperscan prefilter over all of them."""

    def __init__(self, patterns: Iterable[re.Pattern[str]]) -> None:
        self.patterns: tuple[re.Pattern[str], ...] = tuple(dict.fromkeys(patterns))
        self._known = frozenset(map(id, self.patterns))
        self._always: frozenset[int] = self._known
        self._by_id: tuple[int, ...] = ()  # Hyperscan's pattern number -> id() of the pattern
        self._db: Any | None = None
        self._local = threading.local()
        hs = _hyperscan()
        if hs is not None and self.patterns:
            self._compile(hs)

    @property
    def accelerated(self) -> bool:
        """True when Hyperscan prefilters at least one of the patterns."""
        return self._db is not None

    def _compile(self, hs: Any) -> None:
        usable: list[tuple[re.Pattern[str], bytes, int]] = []
        for pattern in self.patterns:
            flags = _hs_flags(hs, pattern)
            relaxed = relax(pattern.pattern)
            if flags is not None and relaxed is not None:
                usable.append((pattern, relaxed.encode("utf-8"), flags))
        db = _database(hs, usable)
        if db is None:  # one pattern it cannot take must not sink the rest: find it
            usable = [u for u in usable if _database(hs, [u]) is not None]
            db = _database(hs, usable)
        if db is None:
            return
        self._db = db
        self._by_id = tuple(id(p) for p, _, _ in usable)
        self._always = self._known - frozenset(self._by_id)
        self._hs = hs

    def candidates(self, text: str) -> frozenset[re.Pattern[str]] | None:
        """The patterns that could match ``text``; None means every one could."""
        ids = self._candidate_ids(text)
        return None if ids is None else frozenset(p for p in self.patterns if id(p) in ids)

    def scan(self, text: str) -> Scan:
        """``text`` with its candidates, for several ``search`` calls."""
        ids = self._candidate_ids(text)
        return Scan(text, _NOTHING if ids is None else self._known - ids)

    def _candidate_ids(self, text: str) -> frozenset[int] | None:
        db = self._db
        if db is None or _UNSAFE.search(text) is not None:
            return None
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: not UTF-8, so Hyperscan cannot read it
            return None
        hits: list[int] = []
        db.scan(data, match_event_handler=_collect, context=hits, scratch=self._scratch())
        by_id = self._by_id
        return self._always.union([by_id[i] for i in hits])

    def _scratch(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._hs.Scratch(self._db)
        return scratch


def _database(hs: Any, usable: list[tuple[re.Pattern[str], bytes, int]]) -> Any | None:
    if not usable:
        return None
    db = hs.Database()
    try:
        db.compile(
            expressions=[e for _, e, _ in usable],
            ids=list(range(len(usable))),
            elements=len(usable),
            flags=[f for _, _, f in usable],
        )
    except hs.HyperscanError:
        return None
    return db


def _collect(pattern_id: int, start: int, end: int, flags: int, hits: list[int]) -> None:
    hits.append(pattern_id)


def _hs_flags(hs: Any, pattern: re.Pattern[str]) -> int | None:
    """Hyperscan flags for the :func:`relax`-ed ``pattern``; None if it has one Hyperscan lacks."""
    if pattern.flags & (re.VERBOSE | re.ASCII | re.LOCALE):
        return None
    flags = hs.HS_FLAG_UTF8 | hs.HS_FLAG_PREFILTER | hs.HS_FLAG_SINGLEMATCH
    if pattern.flags & re.IGNORECASE:
        flags |= hs.HS_FLAG_CASELESS
    if pattern.flags & re.DOTALL:
        flags |= hs.HS_FLAG_DOTALL
    if pattern.flags & re.MULTILINE:
        flags |= hs.HS_FLAG_MULTILINE
    return int(flags)


_NON_ASCII = r"\x{80}-\x{10FFFF}"
_WIDEN = {"w", "d", "s"}
"""Classes whose Python (Unicode) meaning reaches past ASCII: widened to all of non-ASCII."""
_ASSERTIONS = ("(?=", "(?!", "(?<=", "(?<!")
_BOUNDED = re.compile(r"\{(\d+),\d+\}")


def relax(source: str) -> str | None:
    r"""A pattern Hyperscan compiles fast whose matches include all of ``source``'s under ``re``.

    Hyperscan's Unicode mode (UCP) would mirror Python's ``\w`` exactly, but
    it makes compiling the reading's lexicons take minutes. In ASCII mode its
    classes are narrower than Python's, so each is widened instead: ``\w``,
    ``\d`` and ``\s`` (outside a class or in a positive one) also take every
    non-ASCII character; inside a negated class the ASCII meaning is already
    the wider one. A bounded repeat ``{m,n}`` loses its upper bound.
    Lookarounds, ``\b`` and ``\B`` are dropped: an assertion taken away only
    admits more. A non-ASCII letter with another case becomes a class of both,
    since ASCII caseless mode folds only ASCII.

    None when the widening cannot be made safe: a letter whose other case is
    two letters, ``\W``, ``\D`` or ``\S`` in a negated class,
    back-references, or escapes Hyperscan spells differently.
    """
    out: list[str] = []
    i, n = 0, len(source)
    in_class = negated = False
    skip_depth = 0  # > 0 inside a dropped lookaround
    depth = 0
    while i < n:
        ch = source[i]
        if ch == "\\":
            if i + 1 >= n:
                return None
            esc = source[i + 1]
            i += 2
            if esc.isdigit() or esc in "uUNgk":
                return None  # back-references, \\uXXXX, named characters
            if skip_depth:
                continue
            if esc in "bB" and not in_class:
                continue
            if in_class and negated and esc in "WDS":
                return None
            if esc in _WIDEN and not (in_class and negated):
                out.append(f"\\{esc}{_NON_ASCII}" if in_class else f"[\\{esc}{_NON_ASCII}]")
            else:
                out.append("\\" + esc)
            continue
        if not ch.isascii() and ch.lower() != ch.upper():
            # ASCII caseless mode folds no other letter: spell out both cases.
            cases = {ch, ch.lower(), ch.upper()}
            if any(len(c) != 1 for c in cases):
                return None  # "ß".upper() is "SS": no one-character class says it
            if not skip_depth:
                both = "".join(sorted(cases))
                out.append(both if in_class else f"[{both}]")
            i += 1
            continue
        if in_class:
            if ch == "]" and not (out and out[-1] in ("[", "[^")):
                in_class = False
            if not skip_depth:
                out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            negated = source.startswith("[^", i)
            if not skip_depth:
                out.append("[^" if negated else "[")
            i += 2 if negated else 1
            continue
        if ch == "{" and not skip_depth:
            bounded = _BOUNDED.match(source, i)
            if bounded:  # {m,n} -> {m,}: the same matches and more, far cheaper to compile
                low = bounded.group(1)
                out.append("*" if low == "0" else "+" if low == "1" else f"{{{low},}}")
                i = bounded.end()
                continue
        if ch == "(":
            depth += 1
            if skip_depth:
                skip_depth += 1
            elif source.startswith(_ASSERTIONS, i):
                skip_depth = 1
            elif source.startswith("(?P=", i):
                return None
            elif source.startswith("(?P<", i):
                out.append("(")
                i = source.index(">", i) + 1
                continue
            else:
                out.append(ch)
            i += 1
            continue
        if ch == ")":
            depth -= 1
            if skip_depth:
                skip_depth -= 1
            else:
                out.append(ch)
            i += 1
            continue
        if not skip_depth:
            out.append(ch)
        i += 1
    if in_class or skip_depth or depth:
        return None
    return "".join(out)
