"""One rule for every CSV townsquare writes: a cell a spreadsheet shows as text.

Public posts may begin with ``=``, ``+``, ``-`` or ``@``, and a spreadsheet
evaluates such a cell as a formula: ``=HYPERLINK(...)`` in a post would become
a live link, or worse, in the analyst's sheet. A leading ``'`` keeps it text.
Scripts that want every value exactly as stored read ``--json`` instead.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FORMULA_STARTS", "spreadsheet_text"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet takes as the start of a formula (OWASP's CSV injection list)."""


def spreadsheet_text(value: Any) -> str:
    """``value`` as a cell: None empty, true/false, lists joined by ``;``, formulas as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
