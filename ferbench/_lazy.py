"""Lazy imports of heavy dependencies, with an install hint (Optuna's try_import idea)."""

from __future__ import annotations

import importlib
from types import ModuleType

from ferbench.errors import MissingDependency

_HINTS = {
    "tensorflow": "pip install 'ferbench' (TensorFlow >= 2.16 with Keras 3)",
    "keras": "pip install 'ferbench' (Keras 3 comes with TensorFlow >= 2.16)",
    "optuna": "pip install optuna",
    "psycopg": "pip install 'ferbench[postgres]'",
    "matplotlib": "pip install matplotlib",
    "sklearn": "pip install scikit-learn",
}


def require(module: str) -> ModuleType:
    """Import ``module`` now, or raise a :class:`MissingDependency` saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        top = module.split(".")[0]
        hint = _HINTS.get(top, f"pip install {top}")
        raise MissingDependency(f"{module} is needed for this command but is not installed ({exc}); install it with: {hint}") from exc
