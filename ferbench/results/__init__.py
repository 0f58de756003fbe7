"""Results on disk: file names, typed records, validation, atomic writes and reading.

The one package that knows the results format (docs/results-format.md). Writers
(:mod:`ferbench.run`) and readers (:mod:`ferbench.report`, verify, evaluate) both
go through it; nobody else parses record JSON. Importing it is light: no NumPy,
no jsonschema until a file is validated.
"""

from ferbench.results.measures import Cost, SplitMetrics
from ferbench.results.paths import REFERENCE_DIR, RunPaths, default_results
from ferbench.results.read import find_run_dirs, load_predictions, read_run_record, read_trial_record
from ferbench.results.records import (
    SCHEMA_VERSION,
    DatasetInfo,
    Objective,
    Predictions,
    RunRecord,
    RunStatus,
    Timings,
    TrialCounts,
    TrialRecord,
    TrialResult,
    TrialState,
)
from ferbench.results.runs import Run, load_run, load_runs
from ferbench.results.schema import record_problems, run_problems

__all__ = [
    "REFERENCE_DIR",
    "SCHEMA_VERSION",
    "Cost",
    "DatasetInfo",
    "Objective",
    "Predictions",
    "Run",
    "RunPaths",
    "RunRecord",
    "RunStatus",
    "SplitMetrics",
    "Timings",
    "TrialCounts",
    "TrialRecord",
    "TrialResult",
    "TrialState",
    "default_results",
    "find_run_dirs",
    "load_predictions",
    "load_run",
    "load_runs",
    "read_run_record",
    "read_trial_record",
    "record_problems",
    "run_problems",
]
