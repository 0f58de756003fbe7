"""Load a spec file: compose, validate in two phases, resolve, build a :class:`Spec`."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ferbench.errors import Located, SpecError
from ferbench.spec.build import build_spec, fill_recipe, resolve_dataset, resolve_implicit, resolve_model
from ferbench.spec.checks import semantic_problems
from ferbench.spec.compose import apply_overrides, expand_env, load_composed, set_path
from ferbench.spec.schema import fill_defaults, schema_intact, schema_problems, subschema
from ferbench.spec.types import SEARCHABLE, Spec, fold_count
from ferbench.spec.yaml_loader import LocatedDoc


@dataclass
class Checked:
    """The outcome of validating one spec file: a spec, or every problem found."""

    path: str
    spec: Spec | None
    errors: list[Located] = field(default_factory=list)
    warnings: list[Located] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _split(problems: list[Located]) -> tuple[list[Located], list[Located]]:
    return [p for p in problems if not p.warning], [p for p in problems if p.warning]


def matrix_cells(matrix: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every combination of the matrix values, in a stable order (keys as written)."""
    keys = list(matrix)
    for combo in itertools.product(*(matrix[k] for k in keys)):
        yield dict(zip(keys, combo, strict=True))


def apply_cell(data: dict[str, Any], cell: Mapping[str, Any], doc: LocatedDoc | None = None) -> tuple[dict[str, Any], LocatedDoc]:
    """A copy of ``data`` with the cell's values set; a searched key set here leaves the space."""
    base = doc or LocatedDoc(data)
    out = LocatedDoc(copy.deepcopy(data), dict(base.marks), dict(base.key_marks))
    by_key = {v: k for k, v in SEARCHABLE.items()}
    for key, value in cell.items():
        values = data.get("matrix", {}).get(key, [])
        idx = values.index(value) if value in values else 0
        mark = base.mark_for(("matrix", key, idx))
        set_path(out, key, value, mark)
        name = by_key.get(key)
        space = out.data.get("search", {}).get("space", {})
        if name in space:
            del space[name]
    out.data.pop("matrix", None)
    return out.data, out


#: Runs one spec may expand into (matrix cells x seeds). Checked before any per-cell work,
#: which costs milliseconds a cell; a bigger experiment is several specs.
MAX_RUNS = 10_000


def run_count_problem(doc: LocatedDoc) -> Located | None:
    """A located error when the matrix and seeds expand into more than :data:`MAX_RUNS` runs."""
    matrix, seeds = doc.data.get("matrix"), doc.data.get("seeds")
    sizes = [len(v) for v in matrix.values() if isinstance(v, list)] if isinstance(matrix, dict) else []
    sizes += [len(seeds)] if isinstance(seeds, list) else []
    ds = doc.data.get("dataset")
    if isinstance(ds, dict) and ds.get("fold") is None and (k := fold_count(ds.get("folds"))) is not None:
        sizes.append(k)  # one run per fold
    runs = 1
    for size in sizes:
        runs *= size
        if runs > MAX_RUNS:
            break  # the exact product of thousands of lists could have thousands of digits
    if runs <= MAX_RUNS:
        return None
    where = ("matrix",) if isinstance(matrix, dict) and matrix else ("seeds",)
    return doc.locate(where, f"expands into more than {MAX_RUNS:,} runs (matrix cells x seeds x folds); split the experiment over several specs", key=True)


def _not_at(found: list[Located], known: list[Located]) -> list[Located]:
    """``found`` without the problems at a value already reported (an unset variable is not a type error too)."""
    seen = {p.path for p in known if p.path}
    return [p for p in found if not any(p.path == s or p.path.startswith((s + ".", s + "[")) for s in seen)]


def check_file(path: str | os.PathLike[str], overrides: list[str] | tuple[str, ...] = (), env: Mapping[str, str] | None = None) -> Checked:
    """Validate a spec file completely; never raises for problems in the spec itself."""
    shown = str(path)
    try:
        doc = load_composed(path)
        problems = doc.problems + expand_env(doc, env)
        notes = apply_overrides(doc, overrides)
    except SpecError as exc:
        return Checked(shown, None, exc.problems, exc.warnings)
    too_many = run_count_problem(doc)
    problems += [too_many] if too_many else []
    problems += _not_at(schema_problems(doc), problems)
    if any(not p.warning for p in problems):
        problems += _semantic_on_intact(doc, problems)
        return Checked(shown, None, *_split(sorted(problems, key=lambda p: (p.file, p.line, p.col))))
    fill_defaults(doc.data)
    notes += resolve_implicit(doc.data, doc)
    problems += semantic_problems(doc.data, doc)
    matrix = {k: v for k, v in (doc.data.get("matrix") or {}).items() if subschema(tuple(k.split("."))) is not None}
    for cell in matrix_cells(matrix) if not too_many else ():
        cell_data, cell_doc = resolve_cell(*apply_cell(doc.data, cell, doc))
        for p in schema_problems(cell_doc) + semantic_problems(cell_data, cell_doc):
            if str(p) not in {str(q) for q in problems}:
                problems.append(p)
    errors, warnings = _split(sorted(problems, key=lambda p: (p.file, p.line, p.col)))
    if errors:
        return Checked(shown, None, errors, warnings)
    spec = dataclasses.replace(build_spec(doc.data), notes=tuple(notes))
    return Checked(shown, spec, [], warnings)


def _semantic_on_intact(doc: LocatedDoc, found: list[Located]) -> list[Located]:
    """The semantic checks on what the schema check left intact: every problem at once.

    Problems at a place the schema already flagged are left out (one message a place)."""
    data = schema_intact(doc.data)
    if data is None:
        return []
    intact = LocatedDoc(data, dict(doc.marks), dict(doc.key_marks))
    try:
        fill_defaults(data)
        resolve_implicit(data, intact)
        more = semantic_problems(data, intact)
    except (KeyError, TypeError, ValueError, AttributeError, SpecError):
        return []  # a check that needs a part the schema refused: that part is reported already
    flagged = {(p.file, p.line, p.col) for p in found}
    return [p for p in more if (p.file, p.line, p.col) not in flagged]


def load_spec(path: str | os.PathLike[str], overrides: list[str] | tuple[str, ...] = (), env: Mapping[str, str] | None = None) -> Spec:
    """Load, validate and resolve a spec; raise :class:`SpecError` with every problem."""
    checked = check_file(path, overrides, env)
    if checked.spec is None:
        raise SpecError(checked.errors + checked.warnings)
    return checked.spec


def resolve_cell(data: dict[str, Any], doc: LocatedDoc) -> tuple[dict[str, Any], LocatedDoc]:
    """A matrix cell's data with what the cell may leave open filled: schema defaults
    under a section it sets whole, its architecture's defaults (see
    :func:`~ferbench.spec.build.resolve_model`). Changes nothing a resolved spec already states."""
    if not schema_problems(doc):
        fill_defaults(data)
        data.pop("matrix", None)  # a run's spec has none (the schema's default would put an empty one back)
        resolve_model(data, doc)
        resolve_dataset(data)
    return data, doc


def spec_for_cell(spec: Spec, cell: Mapping[str, Any], seed: int, fold: int | None = None) -> Spec:
    """The resolved spec of one run: matrix cell applied, a single seed, and the fold it validates on (k-fold)."""
    data, _ = resolve_cell(*apply_cell(dict(spec.raw), cell))
    data["seed"] = seed
    data.pop("seeds", None)
    if fold is not None:
        data["dataset"]["fold"] = fold
    fill_recipe(data)  # a cell may change the optimizer or the schedule
    if data["search"]["sampler"].get("seed") == spec.raw["search"]["sampler"].get("seed") == spec.seed:
        data["search"]["sampler"]["seed"] = seed
    return dataclasses.replace(build_spec(data), notes=spec.notes)


def dump_yaml(raw: Mapping[str, Any]) -> str:
    """The resolved spec as YAML (plain data, key order kept)."""
    return yaml.safe_dump(json_safe(raw), sort_keys=False, default_flow_style=None, width=100, allow_unicode=True)


def json_safe(obj: object) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def read_resolved(path: str | Path) -> Spec:
    """Rebuild a :class:`Spec` from a run folder's ``spec.resolved.yaml``."""
    from ferbench.spec.yaml_loader import load_file

    doc = load_file(path)
    errors = schema_problems(doc)
    if errors:
        raise SpecError(errors)
    fill_defaults(doc.data)
    resolve_implicit(doc.data, doc)
    return build_spec(doc.data)
