"""Termination signals as ``KeyboardInterrupt``: stop cleanly, leave the run resumable."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator, Sequence
from types import FrameType


@contextlib.contextmanager
def signals_as_interrupt(signals: Sequence[int] = (signal.SIGTERM,), *, once: bool = False) -> Iterator[None]:
    """Treat ``signals`` (SLURM preemption, ``kill``) like Ctrl-C for the duration of the block.

    With ``once``, the first signal also ignores the later ones, so a second
    signal cannot break the clean-up (re-queueing the interrupted trial).
    """
    def handler(signum: int, frame: FrameType | None) -> None:
        if once:
            for s in signals:
                signal.signal(s, signal.SIG_IGN)
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        old = {s: signal.signal(s, handler) for s in signals}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
