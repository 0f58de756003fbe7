"""User text made safe for a terminal, a table row and a spreadsheet (light: standard library only).

A spec's ``description``, a baseline's name or a run label may hold control
characters (ESC starts a terminal escape sequence that can rewrite the screen or the
window title; BEL rings) or a newline (which splits a Markdown or LaTeX table row),
and a CSV cell that starts with ``=``, ``+``, ``-`` or ``@`` is run as a formula by
spreadsheets. Every renderer passes user text through these helpers, whatever
writes its tables.
"""

from __future__ import annotations

import re

#: C0 controls (but tab and newline), DEL and the C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: Line breaks, which split a table row or a terminal line: one space each.
_BREAKS = re.compile(r"[\t\n\r\u2028\u2029\x85]")
#: A CSV cell a spreadsheet would run as a formula (OWASP: =, +, -, @, and tab or CR in front).
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def printable(text: str) -> str:
    """``text`` on one line with every control character shown escaped (``ESC`` -> ``\\x1b``)."""
    text = _BREAKS.sub(" ", text)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def csv_cell(value: object) -> object:
    """A CSV cell: user text printable, and a leading ``'`` where a spreadsheet would read a formula.

    Numbers (Python ``int`` and ``float``) are left as they are: ``-0.5`` is a number, not a formula.
    """
    if not isinstance(value, str):
        return value
    text = printable(value)
    return "'" + text if text.startswith(_FORMULA) else text
