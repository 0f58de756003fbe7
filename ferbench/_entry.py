"""The ``ferbench`` command's first code: SIGTERM acts as Ctrl-C from the very start.

Installed before anything else is imported, so a SIGTERM in the first seconds
(while Python, typer or TensorFlow load) stops with status 130 and the one-line
"interrupted" message, like one delivered later, not with status 143 and nothing.
:func:`script` is the process's entry (the console script, ``python -m ferbench``);
:func:`main` runs a command in a process that goes on, and leaves its SIGINT and
SIGTERM handlers as it found them.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from types import FrameType

from ferbench.interrupts import INTERRUPTED_STATUS, STOP_SIGNALS, handlers_kept, say_interrupted


def _as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def early_signals() -> None:
    """SIGTERM raises ``KeyboardInterrupt`` (as Ctrl-C does) unless a handler of its own is set."""
    try:
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _as_interrupt)
    except ValueError:  # not the main thread: a library caller's process, not ours to change
        pass


def _command(argv: list[str] | None) -> int:
    """``ferbench.cli.main.main`` with SIGTERM handled from the first instruction; its exit status."""
    early_signals()
    try:
        from ferbench._lazy import signals_held

        with signals_held():  # a stop waits for the command's modules: one raised inside an import breaks the import system
            from ferbench.cli.main import main as cli_main
    except KeyboardInterrupt:
        say_interrupted()
        return INTERRUPTED_STATUS
    try:
        rc = cli_main(argv)
    except KeyboardInterrupt:  # between the command's end and the return
        say_interrupted()
        rc = INTERRUPTED_STATUS
    return rc


def main(argv: list[str] | None = None) -> int:
    """``ferbench ARGS`` called in this process: SIGTERM acts as Ctrl-C while it runs.

    The SIGINT and SIGTERM handlers found on the way in are put back on the way out,
    so a program (or a test) that calls a command keeps its own handling of both.
    """
    with handlers_kept():
        return _command(argv)


def script() -> int:
    """The console script and ``python -m ferbench``: the command, then this process's exit."""
    try:
        rc = _command(None)
        # The command is over and the process exits: a stop now has nothing left to stop.
        for s in STOP_SIGNALS:
            signal.signal(s, signal.SIG_IGN)
    except KeyboardInterrupt:  # a stop landing between the two
        say_interrupted()
        rc = INTERRUPTED_STATUS
    if rc == INTERRUPTED_STATUS:
        _exit_interrupted()
    return rc


def _exit_interrupted() -> None:
    """Exit with status 130 itself, after the clean-ups the interpreter would run.

    A stop that landed inside a C extension's ``PyRun_*`` call (some imports make one)
    leaves CPython's "unhandled KeyboardInterrupt" mark set even though ferbench handled
    it; at exit the interpreter would then kill the process with SIGINT (status -2)
    instead of returning 130.
    """
    import atexit
    import os

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(INTERRUPTED_STATUS)
