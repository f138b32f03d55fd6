"""Terminal output shared by the commands: consoles, errors that say what to do, progress.

Post text, handles, names, links, file names and error messages that echo them
are untrusted: anything printed from them goes through :func:`plain` (or
:func:`safe` where rich wants a ``str``), so that ``[/x]`` cannot crash a
command, ``[link=…]`` cannot become a hyperlink and escape sequences cannot
reach the terminal.
"""

from __future__ import annotations

import sys
import unicodedata
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

console = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True)

#: Bidi embeddings, overrides and isolates: they reorder what follows on screen,
#: so a line can read differently from what it holds ("Trojan Source").
_BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
#: Kept as they are: harmless layout, and multi-line error messages need them.
_LAYOUT = frozenset("\n\t")


def _visible(char: str) -> str:
    if char in _LAYOUT:
        return char
    if char in _BIDI_CONTROLS or unicodedata.category(char) == "Cc":
        code = ord(char)
        # Shown, not dropped: whoever reads the output should see that the input held it.
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char


def safe(value: object) -> str:
    """``str(value)`` with every terminal control character written out as ``\\xNN``.

    rich itself removes only BEL, BS, VT, FF and CR from text; ESC (hence CSI
    and OSC 8 hyperlinks) and the C1 controls would reach the terminal.
    """
    text = str(value)
    if text.isprintable():  # the common case; isprintable is False for \n and \t too
        return text
    return "".join(_visible(char) for char in text)


def plain(value: object, style: str = "") -> Text:
    """Untrusted text as a rich ``Text``: never parsed as markup, never highlighted."""
    return Text(safe(value), style=style)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` as plain text (it often echoes input) and exit non-zero."""
    err.print(Text.assemble(("error:", "bold red"), " ", plain(message)))
    raise typer.Exit(code)


def progress() -> Progress:
    # markup=False: descriptions name input files, which are not markup.
    return Progress(
        TextColumn("{task.description}", style="progress.description", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal,
    )
