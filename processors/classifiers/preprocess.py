"""Social-text normalization shared by training and prediction.

One function, used on both sides, so the features a model was fitted on are
the features it sees in production. The TweetEval files write some characters
as literal ``\\uXXXX`` escapes and HTML entities; :func:`decode_data_line`
undoes that when the files are read, and only then, because live posts arrive
as real unicode and a post that quotes ``\\u2019`` should keep it.
"""

from __future__ import annotations

import html
import re

_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
# "www." is already "ww." here: elongations are shortened before URLs are looked for.
_URL = re.compile(r"(?:https?://|ww+\.)\S+", re.IGNORECASE)
# Twitter handles and already-anonymised mentions alike: the person named is no signal.
# A pseudonym (``@anon-<hex>``, processors.privacy) is one mention too, so a
# pseudonymised deployment feeds the models exactly the features a plain one does.
_MENTION = re.compile(r"(?<![\w@])@(?:anon-[0-9a-f]{32}\b|\w+)")
# Three or more of the same character carry emphasis; how many more does not.
_ELONGATED = re.compile(r"(.)\1{2,}", re.DOTALL)
_SPACE = re.compile(r"\s+")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "})

#: Word tokens: words (with a leading ``#`` or ``@`` and an inner apostrophe kept), and
#: every other non-space character on its own, so emoji and "!" are tokens too.
TOKEN_PATTERN = r"[#@]?\w+(?:'\w+)?|[^\w\s]"


def decode_data_line(line: str) -> str:
    """Undo the data files' ``\\uXXXX`` escapes and HTML entities (``&amp;``)."""

    def _char(match: re.Match[str]) -> str:
        code = int(match.group(1), 16)
        # Lone surrogates cannot be encoded later; a space is as good as nothing here.
        return " " if 0xD800 <= code <= 0xDFFF else chr(code)

    return html.unescape(_ESCAPE.sub(_char, line))


def normalize(text: str) -> str:
    """Lower-case, fold quotes, replace URLs and mentions, shorten elongations.

    Emoji and punctuation are kept: they carry much of a tweet's sentiment,
    emotion and irony. Idempotent, so text that was normalized once can be
    passed again without changing its features.
    """
    # Elongations first: shortening "htttp://" must not leave a URL for a second pass.
    text = _ELONGATED.sub(r"\1\1", text.translate(_QUOTES).lower())
    text = _URL.sub(" http ", text)
    text = _MENTION.sub("@user", text)
    return _SPACE.sub(" ", text).strip()
