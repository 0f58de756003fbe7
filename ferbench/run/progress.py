"""Progress of a run: a rich live view on a terminal, plain log lines otherwise.

The trial loop talks to a :class:`Reporter`; which one is chosen once, by
:func:`make_reporter`. Log lines are plain text with a time stamp, one event a
line, so they read well in CI logs and in a SLURM output file.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

EPOCH_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
#: The least a running trial is said to need: an ETA of ``0s`` would read as "done".
MIN_LEFT_S = 1.0


def fmt_duration(seconds: float | None) -> str:
    """``1h02m``, ``3m05s``, ``12s``; ``?`` when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "?"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def fmt_value(v: object) -> str:
    if isinstance(v, float):
        if v != v:
            return "nan"
        return f"{v:.4g}"
    return str(v)


def fmt_params(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={fmt_value(v)}" for k, v in params.items()) or "(no searched values)"


@dataclass
class RunInfo:
    """What the reporter shows about the run as a whole."""

    name: str
    run_id: str
    index: int  # 1-based position among the plan's runs
    total_runs: int
    target: int
    finished: int  # trials already finished when this invocation started
    folder: str
    metric: str
    max_epochs: int


@dataclass
class Reporter:
    """Silent base reporter; also the ``--quiet`` one. Keeps the numbers for the ETA."""

    info: RunInfo | None = None
    finished: int = 0
    best: tuple[int, float] | None = None
    trial_number: int | None = None
    epoch: int = 0
    epoch_logs: dict[str, float] = field(default_factory=dict)
    _trial_times: list[float] = field(default_factory=list)
    _epoch_times: list[float] = field(default_factory=list)
    _trial_epochs: list[float] = field(default_factory=list)  # epoch times of the running trial
    _after_epochs: list[float] = field(default_factory=list)  # per finished trial: time outside its epochs (build, evaluate, save)
    _trial_t0: float = 0.0
    _pool_t0: float = 0.0
    _pool_start: int = 0

    # -- events ---------------------------------------------------------------------------
    def run_started(self, info: RunInfo) -> None:
        self.info, self.finished, self.best = info, info.finished, None

    def message(self, text: str) -> None:
        """A one-off note (data loaded, dead trials re-queued, waiting for workers)."""

    def trial_started(self, number: int, params: Mapping[str, Any]) -> None:
        self.trial_number, self.epoch, self.epoch_logs = number, 0, {}
        self._trial_epochs = []
        self._trial_t0 = time.monotonic()

    def epoch_started(self, epoch: int, steps: int | None) -> None:
        self.epoch = epoch

    def batch_end(self, step: int, logs: Mapping[str, float]) -> None:
        """Called after every training batch (cheap implementations only)."""

    def epoch_end(self, epoch: int, logs: Mapping[str, float], seconds: float) -> None:
        self.epoch_logs = {k: float(v) for k, v in logs.items()}
        self._epoch_times.append(seconds)
        self._trial_epochs.append(seconds)

    def trial_finished(self, number: int, state: str, objective: float | None, error: str | None,
                       best: tuple[int, float] | None, finished: int) -> None:
        took = time.monotonic() - self._trial_t0
        self._trial_times.append(took)
        self._after_epochs.append(max(took - sum(self._trial_epochs), 0.0))
        self.best, self.finished = best, finished
        self.trial_number = None  # nothing runs until the next trial starts

    def run_finished(self, status: str) -> None:
        """The run stopped (complete, failed or interrupted)."""

    def close(self) -> None:
        """Release the terminal."""

    # -- several local workers (ferbench.run.pool) --------------------------------------------
    def worker_line(self, text: str) -> None:
        """A line one worker process printed (it carries its own time stamp and tag)."""

    def study_progress(self, finished: int, running: int, best: tuple[int, float] | None) -> None:
        """The study as a whole, polled while worker processes train."""
        now = time.monotonic()
        if not self._pool_t0:  # the study's pace since the workers started: time per finished trial
            self._pool_t0, self._pool_start = now, finished
        elif finished > self._pool_start:
            self._trial_times[:] = [(now - self._pool_t0) / (finished - self._pool_start)]
        self.trial_number = None
        self.finished, self.best = finished, best

    # -- derived --------------------------------------------------------------------------
    def eta_s(self) -> float | None:
        """Seconds left for the whole run, from this invocation's trial (or epoch) times.

        Trials not started yet take the average trial's time; the running one takes
        what :meth:`running_left_s` says, so the ETA is never 0 while a trial runs.
        """
        if self.info is None:
            return None
        left = max(self.info.target - self.finished, 0)
        if left == 0:
            return 0.0
        if self._trial_times:
            per_trial = sum(self._trial_times) / len(self._trial_times)
        elif self._epoch_times:
            per_trial = sum(self._epoch_times) / len(self._epoch_times) * self.info.max_epochs
        else:
            return None
        if self.trial_number is None:
            return left * per_trial
        return (left - 1) * per_trial + self.running_left_s(per_trial)

    def running_left_s(self, per_trial: float) -> float:
        """Seconds the running trial still needs: the average trial's time less what it has spent,
        but at least one epoch's time while it has epochs left (early stopping may end it after
        any epoch), then at least the usual time after the last epoch (evaluation, saving)."""
        assert self.info is not None
        spent = time.monotonic() - self._trial_t0
        if len(self._trial_epochs) < self.info.max_epochs:
            epochs = self._epoch_times
            floor = sum(epochs) / len(epochs) if epochs else per_trial / max(self.info.max_epochs, 1)
        else:
            floor = sum(self._after_epochs) / len(self._after_epochs) if self._after_epochs else 0.0
        return max(per_trial - spent, floor, MIN_LEFT_S)

    def prefix(self) -> str:
        return f"[{self.info.name} {self.info.run_id}]" if self.info else "[ferbench]"


class PlainReporter(Reporter):
    """One time-stamped line per event, flushed at once (CI logs, files, pipes)."""

    def __init__(self, stream: TextIO | None = None, tag: str | None = None):
        super().__init__()
        self.stream = stream or sys.stdout
        self.tag = tag  # a worker's name in a pool of local workers (w0, w1, ...)

    def prefix(self) -> str:
        base = super().prefix()
        return f"{base[:-1]} {self.tag}]" if self.tag else base

    def worker_line(self, text: str) -> None:
        self.stream.write(text.rstrip("\n") + "\n")
        self.stream.flush()

    def _line(self, text: str) -> None:
        self.stream.write(f"{time.strftime('%H:%M:%S')} {self.prefix()} {text}\n")
        self.stream.flush()

    def run_started(self, info: RunInfo) -> None:
        super().run_started(info)
        self._line(f"run {info.index}/{info.total_runs}: {info.target} trials ({info.finished} finished) in {info.folder}")

    def message(self, text: str) -> None:
        self._line(text)

    def trial_started(self, number: int, params: Mapping[str, Any]) -> None:
        super().trial_started(number, params)
        k = self.finished + 1
        self._line(f"trial {number} ({k}/{self.info.target if self.info else '?'}) started: {fmt_params(params)}")

    def epoch_end(self, epoch: int, logs: Mapping[str, float], seconds: float) -> None:
        super().epoch_end(epoch, logs, seconds)
        shown = " ".join(f"{k}={fmt_value(float(logs[k]))}" for k in EPOCH_KEYS if k in logs)
        extra = " ".join(f"{k}={fmt_value(float(v))}" for k, v in logs.items() if k not in EPOCH_KEYS)
        max_e = self.info.max_epochs if self.info else "?"
        self._line(f"trial {self.trial_number} epoch {epoch}/{max_e}: {shown}{' ' + extra if extra else ''} ({seconds:.1f}s)")

    def trial_finished(self, number: int, state: str, objective: float | None, error: str | None,
                       best: tuple[int, float] | None, finished: int) -> None:
        super().trial_finished(number, state, objective, error, best, finished)
        metric = self.info.metric if self.info else "objective"
        what = f"{metric}={fmt_value(objective)}" if objective is not None else ""
        if error:
            what = f"{what} error: {error}".strip()
        b = f"best: trial {best[0]}, {metric}={fmt_value(best[1])}" if best else "no complete trial yet"
        target = self.info.target if self.info else "?"
        self._line(f"trial {number} {state}: {what} ({b}); {finished}/{target} finished, ETA {fmt_duration(self.eta_s())}")

    def run_finished(self, status: str) -> None:
        self._line(f"run {status}")


class LiveReporter(Reporter):
    """A rich live view: trial k/N, an epoch bar with loss and accuracy, best so far, ETA."""

    def __init__(self, console: Any | None = None):
        super().__init__()
        from rich.console import Console
        from rich.live import Live
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console or Console()
        self.trials = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                               TimeElapsedColumn(), TextColumn("ETA {task.fields[eta]}"), console=self.console)
        self.epochs = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                               TextColumn("{task.fields[metrics]}", markup=False), console=self.console)
        self._trial_task = self.trials.add_task("trials", total=1, eta="?")
        self._epoch_task = self.epochs.add_task("epoch", total=1, metrics="")
        self._pooled = False
        self._live = Live(self._render(), console=self.console, refresh_per_second=4, transient=False)
        self._live.start()
        self._last = 0.0

    def _render(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        head = Text(self._header(), style="bold")
        keys = [k for k in EPOCH_KEYS if k in self.epoch_logs] + [k for k in self.epoch_logs if k not in EPOCH_KEYS]
        last = Text("last epoch: " + (" ".join(f"{k}={fmt_value(self.epoch_logs[k])}" for k in keys) or "-"))
        metric = self.info.metric if self.info else "objective"
        best = Text(f"best so far: trial {self.best[0]}, {metric}={fmt_value(self.best[1])}" if self.best else "best so far: -")
        if self._pool_t0 or self._pooled:  # worker processes train; their epochs come as log lines
            return Group(head, self.trials, best)
        return Group(head, self.trials, self.epochs, last, best)

    def _header(self) -> str:
        if not self.info:
            return "ferbench run"
        i = self.info
        return f"{i.name} {i.run_id} (run {i.index}/{i.total_runs}) -> {i.folder}"

    def _refresh(self) -> None:
        self.trials.update(self._trial_task, completed=self.finished, eta=fmt_duration(self.eta_s()))
        self._live.update(self._render())

    def run_started(self, info: RunInfo) -> None:
        super().run_started(info)
        self.trials.update(self._trial_task, total=info.target, completed=info.finished)
        self._refresh()

    def message(self, text: str) -> None:
        self.console.print(text, markup=False)  # paths and data names: text, not markup

    def trial_started(self, number: int, params: Mapping[str, Any]) -> None:
        super().trial_started(number, params)
        k = self.finished + 1
        self.trials.update(self._trial_task, description=f"trial {number} ({k}/{self.info.target if self.info else '?'})")
        self.console.print(f"trial {number}: {fmt_params(params)}", markup=False)
        self._refresh()

    def epoch_started(self, epoch: int, steps: int | None) -> None:
        super().epoch_started(epoch, steps)
        max_e = self.info.max_epochs if self.info else "?"
        self.epochs.reset(self._epoch_task, total=steps or 1, description=f"epoch {epoch}/{max_e}", metrics="")

    def batch_end(self, step: int, logs: Mapping[str, float]) -> None:
        self.epochs.update(self._epoch_task, completed=step + 1,
                           metrics=" ".join(f"{k}={fmt_value(float(logs[k]))}" for k in ("loss", "accuracy") if k in logs))
        now = time.monotonic()
        if now - self._last > 0.5:  # the ETA text needs a nudge; bars refresh on their own
            self._last = now
            self._refresh()

    def epoch_end(self, epoch: int, logs: Mapping[str, float], seconds: float) -> None:
        super().epoch_end(epoch, logs, seconds)
        self._refresh()

    def trial_finished(self, number: int, state: str, objective: float | None, error: str | None,
                       best: tuple[int, float] | None, finished: int) -> None:
        super().trial_finished(number, state, objective, error, best, finished)
        metric = self.info.metric if self.info else "objective"
        note = f" - {error}" if error else ""
        val = f" {metric}={fmt_value(objective)}" if objective is not None else ""
        self.console.print(f"trial {number} {state}{val}{note}", markup=False)  # an error message is text
        self._refresh()

    def run_finished(self, status: str) -> None:
        self._refresh()

    def worker_line(self, text: str) -> None:
        self.console.print(text.rstrip("\n"), markup=False, highlight=False)

    def study_progress(self, finished: int, running: int, best: tuple[int, float] | None) -> None:
        super().study_progress(finished, running, best)
        self._pooled = True
        self.trials.update(self._trial_task, description=f"trials ({running} running)")
        self._refresh()

    def close(self) -> None:
        self._live.stop()


def make_reporter(*, quiet: bool = False, live: bool | None = None) -> Reporter:
    """``--quiet``: silent; a terminal: live view; anything else: plain lines."""
    if quiet:
        return Reporter()
    if live is None:
        live = sys.stdout.isatty()
    return LiveReporter() if live else PlainReporter()
