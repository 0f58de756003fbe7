"""The one "interrupted" line and status 130, however a stop travelled (Ctrl-C, SIGTERM, typer's own exit)."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator

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


#: The signals a command turns into a clean stop.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def handlers_kept() -> Iterator[None]:
    """The SIGINT and SIGTERM handlers found on the way in are the ones left on the way out.

    Around a command called in a process that goes on (a test, a program calling
    ``ferbench.cli.main.main``): whatever the command set meanwhile (SIGTERM as Ctrl-C,
    a stop that ignores later signals) ends with it.
    """
    found = {}
    for s in STOP_SIGNALS:
        with contextlib.suppress(ValueError, OSError):
            found[s] = signal.getsignal(s)
    try:
        yield
    finally:
        for s, handler in found.items():
            with contextlib.suppress(ValueError, OSError, TypeError):  # not the main thread
                signal.signal(s, handler if handler is not None else signal.SIG_DFL)
