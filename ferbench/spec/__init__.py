"""The spec language: YAML with positions, composition, two-phase validation, typed result.

Importing the package imports nothing: the names below load their module on first
use, so :mod:`ferbench.spec.types` can be imported on its own (the data modules do).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferbench._lazy import lazy_exports

if TYPE_CHECKING:
    from ferbench.spec.loader import Checked, check_file, dump_yaml, load_spec, read_resolved, spec_for_cell
    from ferbench.spec.types import Spec

_HOME = {
    "Checked": "ferbench.spec.loader",
    "Spec": "ferbench.spec.types",
    "check_file": "ferbench.spec.loader",
    "dump_yaml": "ferbench.spec.loader",
    "load_spec": "ferbench.spec.loader",
    "read_resolved": "ferbench.spec.loader",
    "spec_for_cell": "ferbench.spec.loader",
}

__all__ = ["Checked", "Spec", "check_file", "dump_yaml", "load_spec", "read_resolved", "spec_for_cell"]


__getattr__ = lazy_exports(__name__, _HOME)
