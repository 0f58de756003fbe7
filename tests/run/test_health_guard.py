"""The degenerate-model guard end to end: a trial whose batch-norm statistics stay frozen at their initial values
(model.bn_momentum 0.9999) is flagged in its record, in one line of ``run``'s output and in the report; the same
network with a working momentum is not. A record written before the guard existed is judged by the report from
its saved validation predictions."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("optuna")

from ferbench.cli.main import main  # noqa: E402
from ferbench.run.progress import PlainReporter  # noqa: E402
from ferbench.run.runner import run_spec  # noqa: E402

pytestmark = pytest.mark.slow

BROKEN, HEALTHY = 0.9999, 0.9


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Two runs of one tiny mini-Xception, one per momentum; their results folder and what ``run`` printed."""
    folder = tmp_path_factory.mktemp("guard")
    spec = folder / "guard.yaml"
    spec.write_text(textwrap.dedent(f"""\
        ferbench: 1
        name: guard
        seed: 3
        results: {folder / "results"}
        dataset:
          kind: synthetic
          image_size: 32
          synthetic: {{train: 224, validation: 56, test: 28, imbalance: balanced}}
        augment: {{enabled: false}}
        model: {{arch: mini-xception}}
        train: {{learning_rate: 0.003, batch_size: 16, max_epochs: 6, early_stopping: null}}
        search: {{trials: 1}}
        matrix:
          model.bn_momentum: [{HEALTHY}, {BROKEN}]
        runtime: {{devices: cpu}}
        """), encoding="utf-8")
    out = io.StringIO()
    run_spec(spec, reporter=PlainReporter(out))
    return folder / "results" / "guard", out.getvalue()


def _records(results: Path) -> dict[float, tuple[Path, dict[str, Any]]]:
    found = {}
    for path in results.glob("*/trials/*/record.json"):
        rec = json.loads(path.read_text())
        found[rec["hyperparameters"]["bn_momentum"]] = (path, rec)
    return found


def test_the_broken_trial_is_flagged_in_its_record_and_on_the_console(guarded: tuple[Path, str]) -> None:
    results, printed = guarded
    records = _records(results)
    assert sorted(records) == [HEALTHY, BROKEN]
    healthy, broken = records[HEALTHY][1], records[BROKEN][1]
    assert healthy["state"] == broken["state"] == "complete"  # nothing failed: only the guard tells the broken model apart
    assert healthy["hyperparameters"]["input_scaling"] == "-1..1"  # recorded: the pixels' scaling the model was built with

    assert healthy["health"]["flags"] == []
    assert healthy["health"]["accuracy"] > healthy["health"]["majority_rate"] + 0.1
    assert healthy["health"]["top_share"] < 0.9

    h = broken["health"]
    assert {"one_class", "train_inference_gap"} <= set(h["flags"]), h
    assert h["top_share"] > 0.9
    check = h["train_check"]
    assert check["images"] == 128 and check["train_accuracy"] - check["inference_accuracy"] > 0.15
    assert h["accuracy"] == pytest.approx(broken["metrics"]["validation"]["accuracy"], abs=1e-6)

    lines = [line for line in printed.splitlines() if "degenerate model" in line]
    assert len(lines) == 1, printed  # one line, for the broken trial only
    assert f"trial 0: degenerate model: {h['top_share']:.0%} of validation predictions are {h['top_class']}" in lines[0]
    assert "training mode scores" in lines[0] and "on the same 128 training images" in lines[0]


def _report(path: Path, capfd: pytest.CaptureFixture[str]) -> str:
    """The text report: the run sections, then the comparison; whitespace collapsed (the console wraps long lines)."""
    capfd.readouterr()
    assert main(["report", str(path), "--no-plots"]) == 0
    assert main(["report", str(path), "--compare", "--no-plots"]) == 0
    return " ".join(capfd.readouterr().out.split())


def test_the_report_marks_the_broken_run_and_not_the_healthy_one(guarded: tuple[Path, str], capfd: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    results, _ = guarded
    text = _report(results, capfd)
    # its row in the comparison and the note under it; its side of the paired (McNemar) test and that table's note
    assert text.count("(DEGENERATE)") == 4, text
    pairs = text[text.index("(exact McNemar)"):]
    assert pairs.count("(DEGENERATE)") == 2, pairs  # the broken run's label in the pair, and the note; the healthy one unmarked
    assert "compares with a broken model" in pairs
    assert "WARNING: best trial 0 is a degenerate model" in text
    assert "DEGENERATE (one_class" in text  # the trials table's health column
    assert text.count("WARNING: best trial") == 1  # the healthy run has none

    # A record written before the guard existed (no health block): judged from its saved validation predictions
    import shutil

    old = tmp_path / "old"
    broken_run = _records(results)[BROKEN][0].parents[2]
    shutil.copytree(broken_run, old / broken_run.name)
    record = next(old.glob("*/trials/*/record.json"))
    data = json.loads(record.read_text())
    del data["health"]
    record.write_text(json.dumps(data))
    text = _report(old, capfd)
    assert "WARNING: best trial 0 is a degenerate model" in text and "(DEGENERATE)" in text
    assert "training mode scores" not in text  # that check needs the model: only records holding it show it


def test_the_end_of_run_table_marks_the_broken_trial_and_not_the_healthy_one(guarded: tuple[Path, str],
                                                                              capfd: pytest.CaptureFixture[str]) -> None:
    """``ferbench run`` on the finished spec trains nothing and prints each run's best-trial table, with a Health row."""
    results, _ = guarded
    spec = results.parents[1] / "guard.yaml"
    capfd.readouterr()
    assert main(["run", str(spec)]) == 0
    tables = capfd.readouterr().out
    blocks = tables.split("results: ")[:-1]  # one block per run, each ending with its results folder
    assert len(blocks) == 2, tables
    marked = [b for b in blocks if "DEGENERATE" in b]
    assert len(marked) == 1, tables
    broken = " ".join(marked[0].split())
    assert "best trial 0 (DEGENERATE)" in broken and "Health DEGENERATE (one_class" in broken.replace("│", "").replace("  ", " ")
    assert "its scores are a broken model's, not a result" in broken
    healthy = next(b for b in blocks if b is not marked[0])
    assert "Health" in healthy and " ok " in " ".join(healthy.replace("│", " ").split()) + " "

    assert main(["run", str(spec), "--quiet"]) == 0
    quiet = capfd.readouterr().out.strip().splitlines()
    assert len(quiet) == 2 and sum("best trial 0 (DEGENERATE)" in line for line in quiet) == 1, quiet
