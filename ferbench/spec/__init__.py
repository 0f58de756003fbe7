"""The spec language: YAML with positions, composition, two-phase validation, typed result."""

from ferbench.spec.loader import Checked, check_file, dump_yaml, load_spec, read_resolved, spec_for_cell
from ferbench.spec.types import Spec

__all__ = ["Checked", "Spec", "check_file", "dump_yaml", "load_spec", "read_resolved", "spec_for_cell"]
