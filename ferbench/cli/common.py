"""Helpers shared by the CLI commands (light imports only)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ferbench.errors import Located, SpecError

if TYPE_CHECKING:
    from ferbench.spec.types import Spec

SET_OPTION = typer.Option(
    None, "--set", "-s", metavar="KEY=VALUE",
    help="Override a spec value (YAML-typed), e.g. --set model.width=1.0; fixes a searched value. Repeatable.",
)


def overrides(values: list[str] | None) -> list[str]:
    return list(values or [])


def print_problems(problems: list[Located]) -> None:
    for p in problems:
        print(str(p), file=sys.stderr)


def load(spec_path: Path, sets: list[str] | None) -> Spec:
    """Load a spec for a command; warnings go to stderr, errors raise SpecError."""
    from ferbench.spec import check_file

    checked = check_file(spec_path, overrides(sets))
    print_problems(checked.warnings)
    if checked.spec is None:
        raise SpecError(checked.errors)
    return checked.spec
