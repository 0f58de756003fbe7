"""Two exception roots: FerbenchError for what the user can fix (exit 2), ControlFlow for what ferbench raises and
catches itself; user-input errors are ValueErrors too, and a bug inside a trial is never reported as the user's mistake."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import ferbench
from ferbench.errors import ControlFlow, FerbenchError, MissingDependency, UserInputError


def _exception_classes() -> list[type[BaseException]]:
    found = []
    for info in pkgutil.walk_packages(ferbench.__path__, "ferbench."):
        if info.name.startswith("ferbench.cli") or info.name.endswith("__main__"):
            continue  # the CLI modules mount typer apps at import; they define no exceptions
        try:
            module = importlib.import_module(info.name)
        except ImportError:
            continue  # a module whose optional dependency is absent
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == info.name and issubclass(obj, BaseException):
                found.append(obj)
    return found


def test_every_exception_subclasses_a_root() -> None:
    classes = _exception_classes()
    assert len(classes) >= 10
    assert [c.__qualname__ for c in classes if not issubclass(c, (FerbenchError, ControlFlow))] == []


def test_control_flow_is_never_a_user_error() -> None:
    pytest.importorskip("optuna")
    from ferbench.run.search.worker import SurplusTrial, TrialFailed
    from ferbench.run.train.trial import NanLoss

    assert not issubclass(ControlFlow, FerbenchError)
    for cls in (TrialFailed, SurplusTrial, NanLoss):
        assert issubclass(cls, ControlFlow) and not issubclass(cls, FerbenchError), cls
    found = [c for c in _exception_classes() if issubclass(c, ControlFlow)]
    assert {TrialFailed, SurplusTrial, NanLoss} <= set(found)
    assert [c.__qualname__ for c in found if issubclass(c, FerbenchError)] == []


def test_user_input_errors_are_value_errors() -> None:
    from ferbench.errors import DataError, ResultsError, SpecError
    from ferbench.model.family import ModelConfigError
    from ferbench.model.runtime import RuntimeConfigError
    from ferbench.run.verify import CannotVerify

    for cls in (SpecError, DataError, ResultsError, ModelConfigError, RuntimeConfigError, CannotVerify):
        assert issubclass(cls, UserInputError) and issubclass(cls, ValueError), cls
    assert issubclass(MissingDependency, ImportError)
