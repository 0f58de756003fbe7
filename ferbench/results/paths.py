"""Where everything of a run lives: the folder layout of ``results/<spec name>/<run id>/``.

The one place that knows file names (docs/results-format.md is the contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RUN_FILE = "run.json"
RECORD_FILE = "record.json"
SPEC_FILE = "spec.resolved.yaml"
HISTORY_FILE = "history.csv"
PREDICTIONS_FILE = "predictions.npz"
TRACEBACK_FILE = "traceback.txt"
MODEL_FILE = "model.keras"
EXPORTS_DIR = "exports"
EXPORT_FILE = "export.json"
STUDY_DB = "study.db"
STUDY_JOURNAL = "study.journal"
#: Batch jobs submitted for the run (``ferbench submit``): their scripts or manifests, submissions and logs.
JOBS_DIR = "jobs"
#: Committed reference results (``ferbench verify`` targets) live here; the default report leaves them out.
REFERENCE_DIR = "reference"


@dataclass(frozen=True)
class RunPaths:
    """The files of one run folder."""

    root: Path

    @property
    def spec(self) -> Path:
        return self.root / SPEC_FILE

    @property
    def run_json(self) -> Path:
        return self.root / RUN_FILE

    @property
    def run_json_lock(self) -> Path:
        # Held while workers that no `ferbench run` supervises update run.json.
        return self.root / ".run.json.lock"

    @property
    def study_db(self) -> Path:
        return self.root / STUDY_DB

    @property
    def study_journal(self) -> Path:
        return self.root / STUDY_JOURNAL

    @property
    def jobs(self) -> Path:
        return self.root / JOBS_DIR

    @property
    def lock(self) -> Path:
        # Hidden: held by the process that owns the run while it runs.
        return self.root / ".lock"

    @property
    def trials(self) -> Path:
        return self.root / "trials"

    def trial(self, number: int) -> Path:
        return self.trials / f"{number:04d}"

    def record(self, number: int) -> Path:
        return self.trial(number) / RECORD_FILE

    def trial_model(self, number: int) -> Path:
        # A multi-objective run keeps the model of each trial on the Pareto front when it finished.
        return self.trial(number) / MODEL_FILE

    def export_dir(self, number: int, fmt: str) -> Path:
        # ``ferbench export``: the files of one format and their record, beside the trial.
        return self.trial(number) / EXPORTS_DIR / fmt

    def export_record(self, number: int, fmt: str) -> Path:
        return self.export_dir(number, fmt) / EXPORT_FILE

    def trial_dirs(self) -> list[Path]:
        """Every ``trials/<n>/`` folder, by number (hidden and non-numeric names left out)."""
        if not self.trials.is_dir():
            return []
        return sorted((d for d in self.trials.iterdir() if d.is_dir() and d.name.isdigit()), key=lambda d: int(d.name))

    @property
    def best(self) -> Path:
        return self.root / "best"

    @property
    def best_model(self) -> Path:
        return self.best / MODEL_FILE

    @property
    def best_info(self) -> Path:
        # Which trial best/model.keras belongs to, so a restart can check it.
        return self.best / "best.json"

    def pending_model(self, number: int) -> Path:
        # A candidate best model, promoted once Optuna has recorded the trial complete.
        return self.best / f".pending-{number:04d}.keras"

    @property
    def retired(self) -> Path:
        # Files of trials that do not count (their process died first, or their record was damaged).
        return self.root / ".retired"


def default_results(root: Path = Path("results")) -> list[Path]:
    """What ``ferbench report`` reads when given no folder: ``results/`` without ``results/reference/``."""
    if not root.is_dir():
        return [root]
    kept = [c for c in sorted(root.iterdir()) if c.is_dir() and c.name != REFERENCE_DIR and not c.name.startswith(".")]
    return kept or [root]
