"""HTML post bodies (Mastodon, RSS/Atom) to plain text, keeping line breaks.

NER and the text cues work on what a reader sees, so tags go and paragraphs
stay as blank lines. Mastodon hides the middle of long URLs in
``<span class="invisible">``; that text is kept, so the full URL survives in
the plain text. Link targets are collected too, except mention and hashtag
links, which are people and tags, not links.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from processors.adapters.common import check_markup
from processors.adapters.errors import INVALID_VALUE, AdapterError

_BLOCK = frozenset(
    {"p", "div", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table"}
)
_LINE = frozenset({"li", "tr", "dt", "dd"})
_SKIP = frozenset({"script", "style", "template"})
_NOT_LINK_CLASSES = frozenset({"mention", "hashtag", "u-url"})
_MANY_NEWLINES = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t\r\f\v]+\n")


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip_depth += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK:
            self.parts.append("\n\n")
        elif tag in _LINE:
            self.parts.append("\n")
        elif tag == "a":
            self._link(dict(attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)

    def _link(self, attrs: dict[str, str | None]) -> None:
        href = (attrs.get("href") or "").strip()
        classes = set((attrs.get("class") or "").split())
        rel = set((attrs.get("rel") or "").split())
        if classes & _NOT_LINK_CLASSES or "tag" in rel:
            return
        if href.lower().startswith(("http://", "https://")):
            self.links.append(href)


def html_to_text(markup: str, where: str = "content") -> tuple[str, list[str]]:
    """Plain text and link targets of an HTML fragment."""
    check_markup(markup, where)
    parser = _TextParser()
    try:
        parser.feed(markup)
        parser.close()
    except (AssertionError, ValueError) as exc:  # _markupbase asserts on some broken declarations
        raise AdapterError(INVALID_VALUE, f"{where}: unparsable HTML ({exc})") from exc
    text = "".join(parser.parts).replace("\xa0", " ")
    text = _TRAILING_SPACE.sub("\n", text)
    text = _MANY_NEWLINES.sub("\n\n", text).strip()
    return text, parser.links
