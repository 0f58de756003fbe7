"""Control characters in user text never reach a terminal or a file raw, a newline never splits a
Markdown or LaTeX row, and a CSV cell never starts a spreadsheet formula."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from report_helpers import run_dir

from ferbench.cli.main import main
from ferbench.report.safe_text import csv_cell, printable

#: ESC ] 0 ; ... BEL sets a terminal's window title; the name also starts a spreadsheet formula and breaks a line.
HOSTILE = '=HYPERLINK(\\"http://evil\\")\\e]0;pwned\\a CNN\\nv2\\x9b'
BASELINE = (
    f'baselines:\n  - {{id: mine_fer, name: "{HOSTILE}", kind: published, dataset: fer2013, split: test, num_classes: 7,'
    " metrics: {accuracy: 0.7}, citation: {authors: Me, title: T, year: 2024}}\n"
)
RAW = ("\x1b", "\x07", "\x9b")


@pytest.fixture()
def hostile(results_copy: Path, tmp_path: Path) -> tuple[Path, Path]:
    run = run_dir(results_copy, "scaled_fer2013")
    info = json.loads((run / "run.json").read_text())
    info["spec_name"] = "scaled\x1b[2J"
    (run / "run.json").write_text(json.dumps(info))
    spec = run / "spec.resolved.yaml"
    spec.write_text(spec.read_text().replace("  - thesis_scaled_fer2013\n", "  - thesis_scaled_fer2013\n  - mine_fer\n"))
    baselines = tmp_path / "mine.yaml"
    baselines.write_text(BASELINE)
    return results_copy, baselines


def test_helpers() -> None:
    assert printable("a\x1b[2Jb\x07\nc\x9b") == "a\\x1b[2Jb\\x07 c\\x9b"
    assert [csv_cell(v) for v in ("=1+1", "+1", "-cmd", "@SUM(A1)", "ok", -0.5, 3)] == ["'=1+1", "'+1", "'-cmd", "'@SUM(A1)", "ok", -0.5, 3]


@pytest.mark.parametrize("fmt", ["rich", "markdown", "latex", "csv"])
def test_no_control_character_reaches_the_output(fmt: str, hostile: tuple[Path, Path], capfd: pytest.CaptureFixture[str]) -> None:
    results, baselines = hostile
    assert main(["report", str(results), "--compare", "--baselines", str(baselines), "-f", fmt, "--no-plots"]) == 0
    out = capfd.readouterr().out
    assert "HYPERLINK" in out and "x1b" in out  # shown escaped (LaTeX: \\textbackslash{}x1b)
    assert not any(c in out for c in RAW)
    named = [line for line in out.splitlines() if "HYPERLINK" in line]
    assert named and all("CNN v2" in line for line in named)  # the newline in the name split no line
    if fmt == "markdown":  # a table row stays one row
        rows = [line for line in named if line.startswith("|")]
        assert rows and all(r.endswith("|") for r in rows)
    if fmt == "latex":
        rows = [line for line in named if " & " in line]
        assert rows and all(r.rstrip().endswith("\\\\") for r in rows)
    if fmt == "csv":
        cells = [c for row in csv.reader(io.StringIO(out)) for c in row if "HYPERLINK" in c]
        assert cells and all(c.startswith("'=") for c in cells)


def test_plan_shows_a_description_escaped(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.yaml"
    quick = Path(__file__).resolve().parents[2] / "benchmarks" / "quickstart.yaml"
    spec.write_text(f'extends: {quick}\ndescription: "tiny\\e]0;pwned\\a run"\n', encoding="utf-8")
    assert main(["plan", str(spec)]) == 0
    out = capfd.readouterr().out
    assert "tiny\\x1b]0;pwned\\x07 run" in out and not any(c in out for c in RAW)


def test_list_baselines_shows_a_name_escaped(hostile: tuple[Path, Path], capfd: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # the whole name on one line
    _, baselines = hostile
    assert main(["report", "--list-baselines", "--baselines", str(baselines)]) == 0
    out = capfd.readouterr().out
    assert "HYPERLINK" in out and not any(c in out for c in RAW)
