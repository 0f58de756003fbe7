"""One exception root: every exception ferbench defines is a FerbenchError; user-input errors are ValueErrors too."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import ferbench
from ferbench.errors import FerbenchError, MissingDependency, UserInputError


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


def test_every_exception_subclasses_the_root() -> None:
    classes = _exception_classes()
    assert len(classes) >= 10
    assert [c.__qualname__ for c in classes if not issubclass(c, FerbenchError)] == []


def test_user_input_errors_are_value_errors() -> None:
    from ferbench.errors import DataError, ResultsError, SpecError
    from ferbench.model.arch import ModelConfigError
    from ferbench.model.runtime import RuntimeConfigError
    from ferbench.run.verify import CannotVerify

    for cls in (SpecError, DataError, ResultsError, ModelConfigError, RuntimeConfigError, CannotVerify):
        assert issubclass(cls, UserInputError) and issubclass(cls, ValueError), cls
    assert issubclass(MissingDependency, ImportError)
