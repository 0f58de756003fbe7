"""The one exception root of ferbench.

The CLI catches :class:`FerbenchError` at its boundary, prints it without a traceback
and exits with status 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class FerbenchError(Exception):
    """A problem the user can fix: bad spec, missing data, incomplete results."""

    exit_code: int = 2


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
