"""Termination signals as ``KeyboardInterrupt``: stop cleanly, leave the run resumable.

Outside a trial a signal raises ``KeyboardInterrupt`` at once. While a trial runs
(inside :func:`deferred_interrupts`: a search's whole trial with Optuna's own
bookkeeping, or one ``model.fit``), the first Ctrl-C or SIGTERM is only noted and
raised by :func:`raise_pending` at a safe point: a batch or epoch end, a phase of
the trial, the end of the block. An exception raised at an arbitrary bytecode can
land inside TensorFlow's, h5py's or Optuna's own code (a half-made iterator, a
half-written checkpoint, a trial half told), whose clean-up then runs on a broken
object. A second Ctrl-C while one is pending stops at once, for a user who insists,
except once a trial's result is being written and told (:func:`hold_to_the_end`).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator, Sequence
from types import FrameType

_deferring = 0  # how many deferred_interrupts() blocks are open
_pending: str | None = None  # the signal noted while deferring, not raised yet
_holding = False  # hold_to_the_end(): even a second signal waits for the end of the block


def _interrupt(signum: int) -> None:
    """Raise now, or note the signal for :func:`raise_pending` while a trial runs."""
    global _pending
    if _deferring and (_pending is None or _holding):
        _pending = _pending or f"signal {signum}"
        return
    _pending = None
    raise KeyboardInterrupt(f"signal {signum}")


def hold_to_the_end() -> None:
    """From here to the end of the open :func:`deferred_interrupts` block, every signal waits.

    For the short stretch where a trial's result is written and told to the study:
    stopped between the two, the study would give back a trial whose record is on disk.
    """
    global _holding
    if _deferring:
        _holding = True


def raise_pending() -> None:
    """Raise the ``KeyboardInterrupt`` of a signal noted while deferring (a safe point)."""
    global _pending
    if _pending is not None:
        why, _pending = _pending, None
        raise KeyboardInterrupt(why)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold Ctrl-C and the signals of :func:`signals_as_interrupt` back to the next safe point.

    Leaving the block is a safe point too: a signal noted and not yet raised is raised
    there, also in place of an exception leaving it (a trial that fails as it is
    interrupted must not swallow the stop).
    """
    global _deferring, _holding
    sigint = None
    with contextlib.suppress(ValueError):  # not the main thread: nothing can be delivered here anyway
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            sigint = signal.signal(signal.SIGINT, lambda signum, frame: _interrupt(signum))
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if sigint is not None:
            signal.signal(signal.SIGINT, sigint)
        if not _deferring:
            _holding = False
            raise_pending()  # also over an exception on its way out: the stop asked for comes first


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
        _interrupt(signum)

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
