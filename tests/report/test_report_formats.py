"""Every report format shows scikit-learn's metrics of the saved predictions.

The expected numbers are computed here, straight from each best trial's
predictions.npz with scikit-learn, independently of ferbench's own code.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from report_helpers import run_dir
from rich.console import Console
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from ferbench.report.api import build_report, render

RUNS = ("baseline_fer2013", "scaled_fer2013", "scaled_affectnet")


def _expected(results: Path, spec: str) -> dict[str, object]:
    d = run_dir(results, spec)
    info = json.loads((d / "run.json").read_text())
    npz = np.load(d / "trials" / f"{info['best_trial']:04d}" / "predictions.npz")
    y, pred = npz["test_y_true"], npz["test_y_prob"].argmax(1)
    k = len(info["dataset"]["classes"])
    p, r, f, _ = precision_recall_fscore_support(y, pred, labels=range(k), average="macro", zero_division=0)
    pc, rc, fc, sc = precision_recall_fscore_support(y, pred, labels=range(k), zero_division=0)
    return {"accuracy": accuracy_score(y, pred), "precision": p, "recall": r, "f1": f, "per_class": list(zip(info["dataset"]["classes"], pc, rc, fc, sc))}


@pytest.fixture(scope="module")
def expected(results_dir: Path) -> dict[str, dict[str, object]]:
    return {s: _expected(results_dir, s) for s in RUNS}


@pytest.fixture(scope="module")
def compare_report(results_dir: Path):
    return build_report([results_dir], compare=True, include_runs=True)


def _shown(e: dict[str, object]) -> tuple[str, str, str, str]:
    """How the comparison table shows a run: accuracy in %, P/R/F1 as fractions."""
    return f"{100 * e['accuracy']:.2f} [", f"{e['precision']:.3f}", f"{e['recall']:.3f}", f"{e['f1']:.3f} ["


def test_json_holds_sklearn_numbers_exactly(compare_report, expected):
    doc = json.loads(render(compare_report, "json"))
    runs = {r["spec_name"]: r for r in doc["runs"]}
    rows = {r["model"]: r for c in doc["comparisons"] for r in c["rows"] if r["kind"] == "run"}
    for spec, e in expected.items():
        t = runs[spec]["test"]
        assert t["accuracy"]["value"] == pytest.approx(e["accuracy"], abs=1e-12)
        assert t["accuracy"]["ci_low"] < t["accuracy"]["value"] < t["accuracy"]["ci_high"]
        assert (t["precision_macro"], t["recall_macro"], t["f1_macro"]["value"]) == pytest.approx((e["precision"], e["recall"], e["f1"]), abs=1e-12)
        for c, p, r, f, s in e["per_class"]:
            assert (t["per_class"][c]["precision"], t["per_class"][c]["recall"], t["per_class"][c]["f1"], t["per_class"][c]["support"]) == pytest.approx((p, r, f, s), abs=1e-12)
        row = rows[spec]
        assert row["accuracy"]["value"] == pytest.approx(e["accuracy"], abs=1e-12)
        assert (row["precision"], row["recall"], row["f1"]["value"]) == pytest.approx((e["precision"], e["recall"], e["f1"]), abs=1e-12)


def test_csv_holds_sklearn_numbers_exactly(compare_report, expected):
    text = render(compare_report, "csv")
    blocks = [b for b in text.split("\n\n") if b.strip()]
    compare_blocks = [b for b in blocks if b.startswith("# Comparison:") and "/ Comparison on" in b.splitlines()[0]]
    assert len(compare_blocks) == 2
    rows = {r["model"]: r for b in compare_blocks for r in csv.DictReader(io.StringIO(b.split("\n", 1)[1]))}
    for spec, e in expected.items():
        r = rows[spec]
        assert float(r["accuracy"]) == pytest.approx(e["accuracy"], abs=1e-12)
        assert float(r["accuracy_ci_low"]) < float(r["accuracy"]) < float(r["accuracy_ci_high"])
        assert (float(r["precision"]), float(r["recall"]), float(r["f1"])) == pytest.approx((e["precision"], e["recall"], e["f1"]), abs=1e-12)
    assert rows["Thesis scaled-down"]["accuracy_ci_low"] == ""  # published numbers carry no interval


def _row_cells(text: str, label: str, sep: str) -> list[str]:
    """Cells of the comparison-table line whose first cell is ``label``."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(sep)]
        if cells and cells[0].replace("\\_", "_") == label and len(cells) > 8:
            return cells
    raise AssertionError(f"no row for {label}")


def test_markdown_and_latex_show_sklearn_numbers(compare_report, expected):
    md, tex = render(compare_report, "markdown"), render(compare_report, "latex")
    for spec, e in expected.items():
        acc, p, r, f1 = _shown(e)
        for cells in (_row_cells(md, spec, "|"), _row_cells(tex.replace(r" \\", ""), spec, "&")):
            assert cells[3].startswith(acc) and cells[4] == p and cells[5] == r and cells[6].startswith(f1), cells
    # The per-run tables: Table 5.2-style metrics and per-class scores.
    for spec, e in expected.items():
        section = md.split(f"## {spec} (")[1].split("\n## ")[0]
        section = re.sub(r" {2,}", " ", section)  # tabulate pads the columns; the cells are what count
        assert f"| Accuracy | {e['accuracy']:.3f} [" in section
        assert f"| Precision (macro) | {e['precision']:.3f} |" in section
        assert f"| F1 (macro) | {e['f1']:.3f} [" in section
        for c, pc, rc, fc, sc in e["per_class"]:
            assert f"| {c} | {pc:.3f} | {rc:.3f} | {fc:.3f} | {sc} |" in section


def test_html_shows_sklearn_numbers(compare_report, expected):
    page = render(compare_report, "html")
    for spec, e in expected.items():
        acc, p, r, f1 = _shown(e)
        row = re.search(rf'<tr class="run"><td class="text">{spec}<br>.*?</tr>', page)
        assert row, spec
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0))
        assert cells[2].startswith(acc) and cells[3] == p and cells[4] == r and cells[5].startswith(f1), cells


def test_rich_terminal_shows_sklearn_numbers(compare_report, expected):
    buf = io.StringIO()
    render(compare_report, "rich", console=Console(file=buf, width=260, color_system=None))
    text = buf.getvalue()
    for spec, e in expected.items():
        acc, p, r, f1 = _shown(e)
        line = next(l for l in text.splitlines() if l.startswith(f"│ {spec} "))
        cells = [c.strip() for c in line.strip("│").split("│")]
        # rich puts the CI on the next line; the first line holds the point estimates.
        assert cells[2] == acc.rstrip(" [") and cells[3] == p and cells[4] == r and cells[5] == f1.rstrip(" ["), cells


@pytest.mark.parametrize("terminal", [True, False])
def test_rich_never_squeezes_run_names_away(compare_report, expected, terminal):
    # An 80-column terminal gets a transposed or per-run layout; piped output the full width.
    buf = io.StringIO()
    render(compare_report, "rich", console=Console(file=buf, width=80, color_system=None, force_terminal=terminal))
    text = buf.getvalue()
    longest = max(len(line) for line in text.splitlines())
    assert (longest <= 80) if terminal else (longest > 80)
    for spec, e in expected.items():
        assert spec in text, spec
        assert _shown(e)[1] in text  # the macro precision of every run is still shown
