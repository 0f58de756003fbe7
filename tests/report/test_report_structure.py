"""One definition of each thing: one list of formats, one set of labels shared by the
report and the end-of-run table (import cycles: tests/test_import_cycles.py)."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import ferbench

PKG = Path(ferbench.__file__).resolve().parent


def _top_level_assignments(name: str) -> list[str]:
    found = []
    for path in PKG.rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                found.append(str(path.relative_to(PKG)))
    return found


def test_formats_are_defined_once() -> None:
    from ferbench.cli import report as cli
    from ferbench.report import api
    from ferbench.report.formats import FORMATS

    assert _top_level_assignments("FORMATS") == ["report/formats.py"]
    assert vars(cli)["FORMATS"] is FORMATS and vars(api)["FORMATS"] is FORMATS


def test_end_of_run_table_uses_the_reports_labels() -> None:
    from rich.console import Console

    from ferbench.cli.table import best_table
    from ferbench.report.labels import HYPER_LABELS, METRIC_LABELS

    info = {"spec_name": "tiny", "run_id": "0123456789ab", "status": "complete",
            "trials": {"complete": 1, "pruned": 0, "failed": 0, "target": 1}, "objective": {"metric": "val_loss", "direction": "minimize"}}
    metrics = {k: 0.5 for k, _ in METRIC_LABELS} | {"n": 10}
    record = {"trial": 0, "objective": 0.5, "hyperparameters": {k: 0.25 for k, _ in HYPER_LABELS}, "cost": {"params": 1000},
              "metrics": {"test": metrics, "validation": metrics}}
    buf = io.StringIO()
    Console(file=buf, width=200, color_system=None).print(best_table(info, record, set()))
    shown = buf.getvalue()
    for _, label in HYPER_LABELS:
        assert f"│ {label} " in shown, (label, shown)
    for key in ("accuracy", "loss", "precision_macro", "recall_macro", "f1_macro", "f1_weighted"):
        assert f"│   {dict(METRIC_LABELS)[key]} " in shown, (key, shown)
    assert _top_level_assignments("HYPER_LABELS") == ["report/labels.py"]
