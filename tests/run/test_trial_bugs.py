"""A bug inside a trial is ferbench's, never the user's: it keeps its traceback and never exits as a user error (2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from runspecs import write_spec


def _trial_folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("traceback.txt"))


@pytest.mark.slow
def test_a_bug_inside_a_trial_fails_the_run_with_its_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tensorflow")
    pytest.importorskip("optuna")
    from ferbench.cli.main import main
    from ferbench.run.train import trial

    def broken(*args: object, **kwargs: object) -> None:
        raise TypeError("an internal bug in compile_model")

    monkeypatch.setattr(trial, "compile_model", broken)
    spec = write_spec(tmp_path, name="buggy", trials=1, epochs=1)
    rc = main(["run", str(spec), "--quiet"])
    assert rc == 1  # the run has no complete trial; not 2, which says "fix your input"
    assert "error:" not in capsys.readouterr().err
    folders = _trial_folders(tmp_path / "results")
    assert len(folders) == 1
    text = (folders[0] / "traceback.txt").read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text and "TypeError: an internal bug in compile_model" in text
    assert "in broken" in text


@pytest.mark.slow
def test_a_bug_beside_a_trial_leaves_with_its_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tensorflow")
    pytest.importorskip("optuna")
    from ferbench.cli.main import main
    from ferbench.run.search import worker

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("an internal bug before training")

    monkeypatch.setattr(worker, "before_training", broken)  # called by the objective, outside the trial's own guard
    spec = write_spec(tmp_path, name="buggy", trials=1, epochs=1)
    with pytest.raises(RuntimeError, match="an internal bug before training"):
        main(["run", str(spec), "--quiet"])  # the interpreter prints its traceback and exits 1
