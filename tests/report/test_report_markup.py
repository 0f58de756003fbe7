"""The rich report prints user text as text: brackets in spec names, run labels,
baseline names and titles never read as rich markup (no crash, nothing swallowed)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from report_helpers import run_dir
from typer.testing import CliRunner

from ferbench.cli.report import app
from ferbench.report.model import Column, Report, Section, Table
from ferbench.report.render_text import print_rich

runner = CliRunner()
BASELINE = (
    "baselines:\n  - {id: mine_fer, name: 'Lab [/red] CNN [dim]v2', kind: published, dataset: fer2013, split: test, num_classes: 7,"
    " metrics: {accuracy: 0.7}, citation: {authors: '[bold]Me', title: T, year: 2024}}\n"
)


@pytest.fixture()
def bracketed(results_copy: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The fixture with a spec name and a matrix cell full of brackets, and a baseline named likewise."""
    run = run_dir(results_copy, "scaled_fer2013")
    info = json.loads((run / "run.json").read_text())
    info["spec_name"] = "scaled[/red]"
    info["matrix_cell"] = {"loss.class_weight": "[bold]none"}
    (run / "run.json").write_text(json.dumps(info))
    spec = run / "spec.resolved.yaml"
    spec.write_text(spec.read_text().replace("  - thesis_scaled_fer2013\n", "  - thesis_scaled_fer2013\n  - mine_fer\n"))
    baselines = tmp_path / "mine.yaml"
    baselines.write_text(BASELINE)
    return results_copy, baselines


def test_rich_comparison_prints_labels_and_baseline_names_literally(bracketed: tuple[Path, Path]) -> None:
    results, baselines = bracketed
    res = runner.invoke(app, [str(results), "--compare", "--baselines", str(baselines), "--no-plots"])
    assert res.exit_code == 0, res.output
    assert "scaled[/red] [class_weight=[bold]none]" in res.stdout
    assert "Δ Lab [/red] CNN [dim]v2 (pp)" in res.stdout  # a column header
    assert "Lab [/red] CNN [dim]v2" in res.stdout.replace("Δ Lab", "")  # its row


def test_rich_run_sections_print_labels_literally(bracketed: tuple[Path, Path]) -> None:
    results, _ = bracketed
    res = runner.invoke(app, [str(run_dir(results, "scaled_fer2013")), "--no-plots"])
    assert res.exit_code == 0, res.output
    assert "scaled[/red] [class_weight=[bold]none] (d4322c48f5ea)" in res.stdout  # the section's rule
    assert "│ Spec " in res.stdout and "scaled[/red]" in res.stdout.split("│ Spec ", 1)[1].splitlines()[0]


@pytest.mark.parametrize("width, layout", [(200, "┃ Model [dim] ┃"), (50, "┃ run [bold]a ┃"), (30, "│ Acc [/b] % │    50.00 │")])
def test_every_table_layout_prints_titles_and_labels_literally(width: int, layout: str) -> None:
    """Wide, transposed and key/value layouts (the latter two on a narrow terminal)."""
    cols = [Column("model", "Model [dim]"), Column("acc", "Acc [/b] %", "pct"), Column("f1", "F1 [i]x", "frac"),
            Column("params", "Params [u]", "count"), Column("macs", "MACs [s]", "count")]
    t = Table("t", "Title [/red] one", cols)
    t.rows = [{"model": "run [bold]a", "acc": 0.5, "f1": 0.25, "params": 1e6, "macs": 2e8}, {"model": "run [/x] b", "acc": 0.75, "f1": 0.5}]
    report = Report("Report [/red]", [Section("s", "Section [class_weight=none]", tables=[t], notes=["note [/i]"])], warnings=["warn [/u]"])
    from rich.console import Console

    buf = io.StringIO()
    print_rich(report, Console(file=buf, width=width, force_terminal=True, color_system=None))
    out = buf.getvalue()
    assert layout in out, out
    shown = ("Report [/red]", "Section [class_weight=none]", "Title [/red] one", "Acc [/b] %", "Params [u]",
             "run [bold]a", "run [/x] b", "note [/i]", "warn [/u]")
    for text in shown:
        assert text in out, (text, out)
