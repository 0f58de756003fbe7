"""The interface the run session calls: run start, trial start, epoch end, trial end, run end.

A tracker never decides anything: the records on disk are the truth. Every call goes
through :class:`Guarded`, so a tracking server that is down or refuses costs one warning
line and the tracker is switched off for the rest of the process; the trial goes on and
its record is written as always (``ferbench track`` sends it later).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ferbench.secrets import redact

if TYPE_CHECKING:
    from ferbench.results.paths import RunPaths
    from ferbench.results.records import RunRecord, TrialRecord


class Tracker:
    """Does nothing; a back end overrides what it tracks."""

    name = "none"

    def run_started(self, run: RunRecord) -> None:
        """The run's record, as written when it (re)starts."""

    def trial_started(self, number: int, params: Mapping[str, Any]) -> None:
        """A trial starts training with ``params`` (the searched values)."""

    def epoch_end(self, number: int, epoch: int, logs: Mapping[str, float]) -> None:
        """Trial ``number`` finished ``epoch`` (1-based) with Keras's ``logs`` (learning rate included)."""

    def trial_finished(self, record: TrialRecord, paths: RunPaths) -> None:
        """The trial's record is on disk (``paths.record(record.trial)``)."""

    def run_finished(self, status: str) -> None:
        """The run ends with ``status`` (complete, interrupted, ...)."""


class Guarded(Tracker):
    """Several trackers; the first failure of one is one warning line, and that one is off from then on."""

    name = "guarded"

    def __init__(self, trackers: Sequence[Tracker], warn: Callable[[str], None]) -> None:
        self.trackers, self.warn = list(trackers), warn

    def _each(self, call: Callable[[Tracker], None]) -> None:
        for t in list(self.trackers):
            try:
                call(t)
            except Exception as exc:  # noqa: BLE001 - any failure of a tracker: the run goes on
                self.trackers.remove(t)
                why = redact(" ".join(str(exc).split()))[:240]
                self.warn(f"warning: {t.name} tracking is off for the rest of this process ({type(exc).__name__}: {why}); "
                          "the records on disk are complete: send them later with `ferbench track RUN_FOLDER`")

    def run_started(self, run: RunRecord) -> None:
        self._each(lambda t: t.run_started(run))

    def trial_started(self, number: int, params: Mapping[str, Any]) -> None:
        self._each(lambda t: t.trial_started(number, params))

    def epoch_end(self, number: int, epoch: int, logs: Mapping[str, float]) -> None:
        self._each(lambda t: t.epoch_end(number, epoch, logs))

    def trial_finished(self, record: TrialRecord, paths: RunPaths) -> None:
        self._each(lambda t: t.trial_finished(record, paths))

    def run_finished(self, status: str) -> None:
        self._each(lambda t: t.run_finished(status))


#: What a run without ``tracking`` calls.
NO_TRACKING = Tracker()
