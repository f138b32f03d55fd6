"""Social-text primitives: @mentions, #hashtags and links, with their character offsets.

Adapters use them to fill ``mentions``/``hashtags``/``links`` where a platform
does not list them, and the entities processor turns them into entities, so
both agree on what a mention is. Offsets are Python string indices into the
original text (end exclusive).
"""

from __future__ import annotations

import re
from typing import NamedTuple

# A handle may carry a domain (Mastodon: @name@host.tld). It must not be the
# tail of an e-mail address, hence the look-behind.
_MENTION = re.compile(
    r"(?<![\w@/])@([A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?"
    r"(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?)"
)
_HASHTAG = re.compile(r"(?<![\w#&/])#(\w*[^\W\d_]\w*)")
_LINK = re.compile(r"\bhttps?://[^\s<>\"'\u201c\u201d]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\u2019\u201d"
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


class Span(NamedTuple):
    value: str
    start: int
    end: int


def find_mentions(text: str) -> list[Span]:
    """Handles mentioned in the text, without the ``@``, as written."""
    out = []
    for m in _MENTION.finditer(text):
        handle = m.group(1).rstrip(".-")
        out.append(Span(handle, m.start(), m.start() + 1 + len(handle)))
    return out


def find_hashtags(text: str) -> list[Span]:
    """Hashtags in the text, without the ``#``; pure numbers (``#1``) are not tags."""
    return [Span(m.group(1), m.start(), m.end()) for m in _HASHTAG.finditer(text)]


def find_links(text: str) -> list[Span]:
    """URLs, with trailing punctuation that belongs to the sentence removed."""
    out = []
    for m in _LINK.finditer(text):
        url = m.group(0).rstrip(_TRAILING)
        out.append(Span(url, m.start(), m.start() + len(url)))
    return out


def split_hashtag(tag: str) -> str:
    """``#CityCouncilMeeting2024`` -> ``City Council Meeting 2024``; lower-case tags stay whole."""
    tag = tag.lstrip("#")
    parts = _CAMEL.findall(tag)
    if not parts or "".join(parts) != tag.replace("_", ""):
        return tag.replace("_", " ")
    return " ".join(parts)


def unique(values: list[str]) -> list[str]:
    """Order-preserving, case-insensitive de-duplication."""
    seen: set[str] = set()
    out = []
    for v in values:
        k = v.lower()
        if k not in seen:
            seen.add(k)
            out.append(v)
    return out
