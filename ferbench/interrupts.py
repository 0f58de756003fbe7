"""The one "interrupted" line and status 130, however a stop travelled (Ctrl-C, SIGTERM, typer's own exit)."""

from __future__ import annotations

import sys

INTERRUPTED = "interrupted"
#: Exit status of a command stopped by Ctrl-C or SIGTERM.
INTERRUPTED_STATUS = 130

_told = False


def say_interrupted(message: str = INTERRUPTED) -> None:
    """Print the "interrupted" line on standard error, once per process."""
    global _told
    if not _told:
        _told = True
        print(message, file=sys.stderr)
