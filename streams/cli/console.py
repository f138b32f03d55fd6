"""Terminal output shared by the commands: consoles, errors that say what to do, progress.

Post text, handles, names, links, file names and error messages that echo them
are untrusted: anything printed from them goes through :func:`plain` (or
:func:`safe` where rich wants a ``str``), so that ``[/x]`` cannot crash a
command, ``[link=…]`` cannot become a hyperlink and escape sequences cannot
reach the terminal.
"""

from __future__ import annotations

import re
import sys
import traceback
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

import typer
from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
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


@dataclass
class _Run:
    """What the global options of this invocation asked for (set by the app's callback)."""

    debug: bool = False


_run = _Run()


def set_debug(on: bool) -> None:
    """``--debug``: failures print the traceback of the error behind them, then their line."""
    _run.debug = on


def debugging() -> bool:
    return _run.debug


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one ``error:`` line and exit non-zero; called in an ``except``, it knows the cause.

    ``message`` is plain text (it often echoes input). When the error being
    handled is a server that cannot be reached, the line is the shared one
    from :func:`unreachable` (which server, and what to do), whatever the
    command's own wording: every command says it the same way. With
    ``--debug`` the traceback of that error comes first. Soft-wrapped, so the
    line stays one line in a log.
    """
    handling = sys.exc_info()[1]
    if isinstance(handling, typer.Exit):
        # A broad ``except Exception`` around an earlier fail() caught its exit:
        # that failure has been reported; saying it twice helps nobody.
        raise handling
    if handling is not None:
        message = unreachable(handling) or message
        if _run.debug:
            show_traceback(handling)
    err.print(Text.assemble(("error:", "bold red"), " ", plain(message)), soft_wrap=True)
    raise typer.Exit(code)


def show_traceback(exc: BaseException) -> None:
    """The full traceback on stderr, as plain text (its lines echo input too)."""
    err.print(plain("".join(traceback.format_exception(exc))), end="", soft_wrap=True)


# --- servers that cannot be reached ----------------------------------------------------------

_ERRNO_TEXT = re.compile(r"\[Errno -?\d+\] ([^)\]'\"]+)")
_KAFKA_ERRORS = ("NoBrokersAvailable", "KafkaTimeoutError", "KafkaConnectionError")
"""kafka-python's names for "no broker answered" (1.x/2.x raise the first, 3.x the second)."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the errors behind it (``raise ... from``, or raised while handling)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _kind(exc: BaseException) -> str | None:
    """Which server ``exc`` says cannot be reached: ``kafka``, ``elasticsearch``, ``http``.

    Only modules already imported are consulted: an error of a client that
    was never loaded cannot be in flight, and importing one here would cost
    a second on every failure.
    """
    kafka_errors = sys.modules.get("kafka.errors")
    if kafka_errors is not None:
        names = [getattr(kafka_errors, n, None) for n in _KAFKA_ERRORS]
        if isinstance(exc, tuple(c for c in names if isinstance(c, type))):
            return "kafka"
    transport = sys.modules.get("elastic_transport")
    if transport is not None and isinstance(
        exc, (transport.ConnectionError, transport.ConnectionTimeout)
    ):
        return "elasticsearch"
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return "http"
    return None


def _detail(exc: BaseException) -> str:
    """The short reason inside a client's error text (``connection refused``)."""
    text = str(exc)
    errno = _ERRNO_TEXT.search(text)
    if errno:
        return errno.group(1).strip().lower()
    if "Unable to bootstrap" in text:
        return "no broker answered"
    if "refused" in text.lower():
        return "connection refused"
    if "timeout" in type(exc).__name__.lower() or "timed out" in text.lower():
        return "no answer in time"
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def _http_target(exc: BaseException) -> str:
    try:
        return str(getattr(exc, "request").url)  # noqa: B009 - raises RuntimeError when unset
    except (AttributeError, RuntimeError):
        return "the server"


def unreachable(exc: BaseException) -> str | None:
    """The one line for an error that means a server cannot be reached, or None for others.

    The single place that knows the clients' connection errors (kafka-python's
    bootstrap failures, the Elasticsearch transport's connection errors and
    timeouts, httpx's connect errors), anywhere in ``exc``'s chain, and says
    which server it was and what to do next.
    """
    for cause in _chain(exc):
        kind = _kind(cause)
        if kind is not None:
            return _unreachable_line(kind, cause)
    return None


def _unreachable_line(kind: str, exc: BaseException) -> str:
    from streams.settings import get_settings, redact_url

    debug = "" if _run.debug else " (`townsquare --debug ...` shows the traceback)"
    if kind == "http":
        return (
            f"cannot connect to {redact_url(_http_target(exc))}: {_detail(exc)}. Check the "
            f"URL and that the server runs.{debug}"
        )
    try:
        settings = get_settings()
        local = settings.uses_local_services
        where = (
            settings.kafka_servers if kind == "kafka" else redact_url(settings.elasticsearch_url)
        )
    except Exception:  # settings that cannot even name the server: say it without them
        local, where = False, "the configured server"
    name, setting = (
        ("Kafka", "TOWNSQUARE_KAFKA_BOOTSTRAP")
        if kind == "kafka"
        else ("Elasticsearch", "TOWNSQUARE_ES_URL")
    )
    step = (
        "Start the local servers with `townsquare services up` (then `townsquare setup`)"
        if local
        else f"Check {setting} and that the server runs"
    )
    return f"cannot reach {name} at {where}: {_detail(exc)}. {step}.{debug}"


# --- help that reads well at 80 columns -------------------------------------------------------


class HelpTable(Table):
    """typer's help table, with names that never shrink and long values that fold.

    rich shares out a narrow terminal by shrinking every column, which cuts
    option names (``--context-lookups-per-…``) and defaults (``https://mastodon.socia…``).
    Names (every column but the type and the help) keep their width; the help
    column folds what does not fit instead of cutting it.
    """

    def add_row(
        self, *renderables: RenderableType | None, style: Any = None, end_section: bool = False
    ) -> None:
        super().add_row(*renderables, style=style, end_section=end_section)
        *names, last = self.columns
        if len(names) >= 2:  # an options table: [required,] names..., type, help
            names = names[:-1]
        for column in names:
            column.no_wrap = True
        last.overflow = "fold"
        # typer puts help, default and "[required]" in a Columns, which lays them
        # out in a grid of its own: the fold has to be on each Text.
        for item in getattr(renderables[-1], "renderables", ()) if renderables else ():
            if isinstance(item, Text) and item.overflow is None:
                item.overflow = "fold"


def tidy_help() -> None:
    """Clean help screens: no ``<bool>`` after flags, names whole at 80 columns.

    typer 0.29's rich help prints a flag's type (``--resume <bool>``) although
    a flag takes no value, and lays options out in a table that cuts names
    when the terminal is narrow. Both are adjusted here, in one place, when the
    app runs (not at import); tests/streams/cli/test_cli_polish.py holds the
    result, so an upgrade that changes typer's internals shows there.
    Idempotent, and a no-op if typer no longer has these hooks.
    """
    try:
        from typer import rich_utils
        from typer.core import TyperOption
    except ImportError:  # pragma: no cover - typer without rich help
        return
    if getattr(TyperOption, "_townsquare_tidy", False):
        return
    original = getattr(TyperOption, "display_type_rich", None)
    if original is None or not hasattr(rich_utils, "Table"):
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        return None if getattr(self, "is_flag", False) else original(self, ctx)

    setattr(TyperOption, "display_type_rich", display_type_rich)  # noqa: B010
    setattr(TyperOption, "_townsquare_tidy", True)  # noqa: B010
    setattr(rich_utils, "Table", HelpTable)  # noqa: B010


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
