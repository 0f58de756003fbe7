"""The exception roots of ferbench.

The CLI catches :class:`FerbenchError` at its boundary, prints it without a traceback
and exits with status 2. Anything else is a bug and keeps its traceback.

:class:`ControlFlow` is the other root: exceptions ferbench raises and catches itself to
steer a search. They are not the user's doing, so they do not derive from
:class:`FerbenchError`: one that escapes by a bug leaves with its traceback, never as
"exit 2, fix your input".

Every error class, by where it lives:

========================================  =====================================  ==========================================
class                                     base                                   raised when
========================================  =====================================  ==========================================
``errors.FerbenchError``                  ``Exception``                          a problem the user can fix (exit 2)
``errors.UserInputError``                 ``FerbenchError``, ``ValueError``      a bad value the user gave
``errors.SpecError``                      ``UserInputError``                     located problems in a spec (YAML/JSON)
``errors.DataError``                      ``UserInputError``                     dataset files missing or malformed
``errors.ResultsError``                   ``UserInputError``                     a results folder missing or incomplete
``errors.MissingDependency``              ``FerbenchError``, ``ImportError``     an optional dependency is not installed
``data.classmap.ClassMappingError``       ``UserInputError``                     a class map that does not fit the data
``model.family.ModelConfigError``         ``UserInputError``                     a model configuration that cannot be built
``model.runtime.RuntimeConfigError``      ``UserInputError``                     bad devices, precision, XLA settings
``model.weights.WeightsError``            ``FerbenchError``                      initial weights that cannot be read
``run.verify.CannotVerify``               ``UserInputError``                     a record that cannot be re-run
``run.search.readback.NoStudy``           ``ResultsError``                       a planned run without a study yet
``run.train.trial.TooFewImages``          ``FerbenchError``                      a training split smaller than one batch
``run.search.worker.TrialFailed``         ``ControlFlow``                        a trial failed (its record is written)
``run.search.worker.SurplusTrial``        ``ControlFlow``                        a trial started past the spec's quota
``run.train.trial.NanLoss``               ``ControlFlow``                        a trial's loss went non-finite
========================================  =====================================  ==========================================

tests/test_errors.py checks that every exception class derives from one of the two roots.
"""

from __future__ import annotations

from dataclasses import dataclass


class FerbenchError(Exception):
    """A problem the user can fix: bad spec, missing data, incomplete results."""

    exit_code: int = 2


class ControlFlow(Exception):
    """Raised and caught inside ferbench to steer a search (a failed, surplus or diverged trial); never a user error."""


@dataclass(frozen=True)
class Located:
    """One located problem: ``FILE:LINE:COL: dotted.path: message``."""

    file: str
    line: int
    col: int
    path: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        what = f"{self.path}: " if self.path else ""
        kind = "warning: " if self.warning else ""
        return f"{where}: {kind}{what}{self.message}"


class UserInputError(FerbenchError, ValueError):
    """A bad value the user gave: a spec, a data file, a results folder, a model configuration.

    Also a :class:`ValueError`, so library callers can catch it as Python's own.
    """


class SpecError(UserInputError):
    """One or more located errors in a spec (or another YAML/JSON file we validate)."""

    def __init__(self, problems: list[Located]):
        self.problems = [p for p in problems if not p.warning]
        self.warnings = [p for p in problems if p.warning]
        super().__init__("\n".join(str(p) for p in self.problems))


class DataError(UserInputError):
    """Missing, malformed or inconsistent dataset files."""


class ResultsError(UserInputError):
    """A results folder that is missing, incomplete or from a newer schema version."""


class MissingDependency(FerbenchError, ImportError):
    """An optional heavy dependency (TensorFlow, Optuna, psycopg...) is not installed."""
