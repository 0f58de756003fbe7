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
import os
import signal
import threading
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
    _deferring += 1  # first: a Ctrl-C right after the swap below is noted, never raised half-way through it
    sigint = None
    try:
        with contextlib.suppress(ValueError):  # not the main thread: nothing can be delivered here anyway
            found = signal.getsignal(signal.SIGINT)
            if found is signal.default_int_handler:
                sigint = found  # known before the swap: whatever lands next, the finally puts it back
                signal.signal(signal.SIGINT, lambda signum, frame: _interrupt(signum))
        yield
    finally:
        if sigint is not None:
            signal.signal(signal.SIGINT, sigint)
        _deferring -= 1
        if not _deferring:
            _holding = False
            raise_pending()  # also over an exception on its way out: the stop asked for comes first


def _forward(found: object, signum: int, frame: FrameType | None) -> None:
    """Do what the handler ``found`` before a block does with a signal that arrived as the block ended."""
    if callable(found):
        found(signum, frame)
    elif found == signal.SIG_DFL:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)  # the default action, as if the block had never been


@contextlib.contextmanager
def signals_as_interrupt(signals: Sequence[int] = (signal.SIGTERM,), *, once: bool = False) -> Iterator[None]:
    """Treat ``signals`` (SLURM preemption, ``kill``) like Ctrl-C for the duration of the block.

    With ``once``, the first signal also makes the later ones do nothing, so a second
    signal cannot break the clean-up (re-queueing the interrupted trial). The handlers
    found are put back at the end, whatever arrives meanwhile: a signal that lands while
    they are put back is handled as the handler found would (before, one landing there
    ran the block's handler, which left SIGINT ignored for good).
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers can be set only from the main thread, and signals are handled there
        return
    fired = ended = False
    found = {s: signal.getsignal(s) for s in signals}

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        if ended:
            _forward(found[signum], signum, frame)
            return
        if once and fired:
            return  # a later signal: the first one's clean-up runs undisturbed
        fired = True
        _interrupt(signum)

    try:
        for s in signals:
            signal.signal(s, handler)
        yield
    finally:
        ended = True
        for s, h in found.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
