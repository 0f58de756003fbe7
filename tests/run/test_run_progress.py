"""Progress: plain lines off a terminal, a live view on one, nothing with --quiet."""

from __future__ import annotations

import io

import pytest

from ferbench.run.progress import LiveReporter, PlainReporter, Reporter, RunInfo, fmt_duration, make_reporter

INFO = RunInfo(name="tiny", run_id="0123456789ab", index=1, total_runs=2, target=3, finished=1, folder="results/tiny/x",
               metric="val_loss", max_epochs=2)


def _drive(r: Reporter) -> None:
    r.run_started(INFO)
    r.message("data: synthetic")
    r.trial_started(4, {"learning_rate": 0.00123, "width": 0.2})
    r.epoch_started(1, 4)
    for step in range(4):
        r.batch_end(step, {"loss": 1.5, "accuracy": 0.25})
    r.epoch_end(1, {"loss": 1.5, "accuracy": 0.25, "val_loss": 1.4, "val_accuracy": 0.3}, 1.2)
    r.trial_finished(4, "complete", 1.4, None, (4, 1.4), 2)
    r.trial_started(5, {})
    r.trial_finished(5, "failed", None, "nan loss at epoch 1", (4, 1.4), 3)
    r.run_finished("complete")
    r.close()


def test_plain_lines() -> None:
    out = io.StringIO()
    _drive(PlainReporter(out))
    text = out.getvalue()
    assert "[tiny 0123456789ab] run 1/2: 3 trials (1 finished)" in text
    assert "trial 4 (2/3) started: learning_rate=0.00123 width=0.2" in text
    assert "trial 4 epoch 1/2: loss=1.5 accuracy=0.25 val_loss=1.4 val_accuracy=0.3 (1.2s)" in text
    assert "trial 4 complete: val_loss=1.4 (best: trial 4, val_loss=1.4); 2/3 finished, ETA" in text
    assert "trial 5 failed: error: nan loss at epoch 1" in text
    assert all(line[2] == ":" for line in text.splitlines())  # every line time-stamped


def test_live_view_renders() -> None:
    from rich.console import Console

    buf = io.StringIO()
    _drive(LiveReporter(Console(file=buf, force_terminal=True, width=120)))
    text = buf.getvalue()
    assert "best so far: trial 4" in text and "epoch 1/2" in text and "ETA" in text


def test_quiet_and_choice() -> None:
    r = make_reporter(quiet=True)
    assert type(r) is Reporter
    _drive(r)  # silent, but still counts for the ETA
    assert r.finished == 3
    assert isinstance(make_reporter(live=False), PlainReporter)


def test_eta_from_trial_times() -> None:
    r = Reporter()
    r.run_started(INFO)
    r.trial_started(1, {})
    r._trial_times.append(10.0)
    r.trial_number = None
    r.finished = 2
    assert r.eta_s() == 10.0
    assert fmt_duration(3725) == "1h02m" and fmt_duration(65) == "1m05s" and fmt_duration(None) == "?"


def test_live_view_prints_user_text_literally() -> None:
    """Paths, values and error messages hold brackets that rich would read as markup."""
    from rich.console import Console

    buf = io.StringIO()
    r = LiveReporter(Console(file=buf, force_terminal=True, width=200, color_system=None))
    r.run_started(INFO)
    r.message("data: /data/[x]/fer2013 [/red]")
    r.trial_started(4, {"optimizer": "[bold]adam"})
    r.trial_finished(4, "failed", None, "shape [/red] mismatch [32, 7]", None, 2)
    r.close()
    text = buf.getvalue()
    for literal in ("data: /data/[x]/fer2013 [/red]", "optimizer=[bold]adam", "shape [/red] mismatch [32, 7]"):
        assert literal in text, (literal, text)


def test_end_of_run_table_prints_names_literally() -> None:
    from rich.console import Console

    from ferbench.cli.table import best_table

    info = {"spec_name": "tiny[/red]", "run_id": "0123456789ab", "status": "failed",
            "trials": {"complete": 0, "pruned": 0, "failed": 2, "target": 2}, "objective": {"metric": "val_loss", "direction": "minimize"}}
    buf = io.StringIO()
    Console(file=buf, width=120, color_system=None).print(best_table(info, None, set()))
    assert "tiny[/red] 0123456789ab: no complete trial" in buf.getvalue()


class _Clock:
    """A settable ``time.monotonic``."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_eta_is_never_zero_while_a_trial_is_left_or_running(monkeypatch: pytest.MonkeyPatch) -> None:
    """One trial of 12 s (two 5 s epochs, 2 s to evaluate), then the last trial runs slower."""
    clock = _Clock()
    monkeypatch.setattr("ferbench.run.progress.time.monotonic", clock)
    r = Reporter()
    r.run_started(INFO)  # 3 trials, 1 already finished, at most 2 epochs each
    r.trial_started(4, {})
    for epoch in (1, 2):
        r.epoch_started(epoch, 4)
        clock.now += 5.0
        r.epoch_end(epoch, {"loss": 1.0}, 5.0)
    clock.now += 2.0
    r.trial_finished(4, "complete", 1.0, None, (4, 1.0), 2)
    assert r.eta_s() == 12.0  # the last trial is still to run: one average trial, not 0
    assert fmt_duration(r.eta_s()) == "12s"
    r.trial_started(5, {})
    r.epoch_started(1, 4)
    clock.now += 4.0
    assert r.eta_s() == 8.0  # on pace: the average trial less what it has spent
    clock.now += 14.0  # 18 s in, still in its first epoch: slower than the average trial
    assert r.eta_s() == 5.0  # at least one epoch while epochs remain
    r.epoch_end(1, {"loss": 1.0}, 18.0)
    r.epoch_started(2, 4)
    assert r.eta_s() == (5.0 + 5.0 + 18.0) / 3  # one mean epoch (the slow one counts)
    clock.now += 10.0
    r.epoch_end(2, {"loss": 1.0}, 10.0)
    assert r.eta_s() == 2.0  # epochs done: the usual evaluation time is left
    r.trial_finished(5, "complete", 1.0, None, (4, 1.0), 3)
    assert r.eta_s() == 0.0


def test_eta_of_a_running_trial_is_at_least_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr("ferbench.run.progress.time.monotonic", clock)
    r = Reporter()
    r.run_started(INFO)
    r.trial_started(4, {})
    r.trial_finished(4, "failed", None, "nan loss", None, 2)  # failed at once: 0 s, no epoch
    r.trial_started(5, {})
    clock.now += 30.0
    eta = r.eta_s()
    assert eta is not None and eta >= 1.0 and fmt_duration(eta) != "0s"
