"""The command line: options, outputs and the messages a user sees."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ferbench.cli.report import app

runner = CliRunner()


def test_list_baselines():
    res = runner.invoke(app, ["--list-baselines"])
    assert res.exit_code == 0
    for bid in ("human_fer2013", "khanzada2020_vgg16", "thesis_scaled_fer2013", "poster_v2_affectnet7"):
        assert bid in res.output


def test_list_baselines_includes_user_files(tmp_path: Path):
    f = tmp_path / "mine.yaml"
    f.write_text("baselines:\n  - {id: mine_fer, name: Mine, kind: published, dataset: fer2013, split: test, num_classes: 7, metrics: {accuracy: 0.7}, citation: {authors: Me, title: T, year: 2024}}\n")
    res = runner.invoke(app, ["--list-baselines", "--baselines", str(f)])
    assert res.exit_code == 0 and "mine_fer" in res.output


def test_invalid_baselines_file_is_a_located_error(results_dir: Path, tmp_path: Path):
    f = tmp_path / "bad.yaml"
    f.write_text("baselines:\n  - id: Bad-Id\n")
    res = runner.invoke(app, [str(results_dir), "--compare", "--baselines", str(f), "--no-plots"])
    assert res.exit_code == 2
    assert res.output.startswith(f"error: {f}:2:5: baselines[0]: missing required key")
    assert f"\n{f}:2:9: baselines[0].id: 'Bad-Id' does not match the pattern" in res.output
    assert "Traceback" not in res.output


def test_user_baseline_joins_the_comparison(results_dir: Path, tmp_path: Path):
    f = tmp_path / "mine.yaml"
    f.write_text("baselines:\n  - {id: mine_fer, name: Our lab CNN, kind: published, dataset: fer2013, split: test, num_classes: 7, metrics: {accuracy: 0.7}, params: 2000000, citation: {authors: Me, title: T, year: 2024}}\n")
    res = runner.invoke(app, [str(results_dir), "--compare", "--baselines", str(f), "--format", "json", "--no-plots"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    fer = next(c for c in doc["comparisons"] if c["dataset"] == "fer2013")
    assert "mine_fer" in {r["id"] for r in fer["rows"]}
    assert fer["pairs"] and not fer["pairs"][0]["significant"]


def test_plots_need_somewhere_to_go(results_dir: Path):
    res = runner.invoke(app, [str(results_dir), "--format", "markdown", "--plots"])
    assert res.exit_code == 2 and "give --out PATH" in res.output


def test_out_folder_and_formats(results_dir: Path, tmp_path: Path):
    for fmt, ext in (("markdown", "md"), ("csv", "csv"), ("latex", "tex"), ("json", "json"), ("rich", "txt")):
        out = tmp_path / fmt
        out.mkdir()
        res = runner.invoke(app, [str(results_dir), "--compare", "--format", fmt, "--out", str(out), "--no-plots"])
        assert res.exit_code == 0, res.output
        text = (out / f"report.{ext}").read_text()
        assert ("scaled\\_fer2013" if fmt == "latex" else "scaled_fer2013") in text
    assert "\\toprule" in (tmp_path / "latex" / "report.tex").read_text()
    assert "│" in (tmp_path / "rich" / "report.txt").read_text()


def test_the_files_extension_chooses_the_format(results_dir: Path, tmp_path: Path):
    for name, starts in (("r.md", "# ferbench report"), ("r.csv", "# "), ("r.tex", "%"), ("r.json", "{"), ("r.html", "<!DOCTYPE html>"),
                         ("r.txt", "─")):
        res = runner.invoke(app, [str(results_dir), "--compare", "--out", str(tmp_path / name), "--no-plots"])
        assert res.exit_code == 0, res.output
        text = (tmp_path / name).read_text()
        assert text.lstrip().startswith(starts), (name, text[:80])
        assert ("┏" in text) == (name == "r.txt"), name  # box-drawn tables in the plain-text file only
        assert ("| ---" in text or "|---" in text) == (name == "r.md"), name  # Markdown tables in the Markdown file only
    res = runner.invoke(app, [str(results_dir), "--compare", "--format", "csv", "--out", str(tmp_path / "forced.md"), "--no-plots"])
    assert res.exit_code == 0 and (tmp_path / "forced.md").read_text().startswith("# ")
    assert "| " not in (tmp_path / "forced.md").read_text()  # the explicit --format wins over the extension


def test_unknown_format(results_dir: Path):
    res = runner.invoke(app, [str(results_dir), "--format", "docx"])
    assert res.exit_code == 2 and "docx" in res.output


def test_default_results_folder(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    res = runner.invoke(app, [])
    assert res.exit_code == 2 and "nothing to report: no run.json under results" in res.output


def test_no_paired_test_across_different_test_sets(results_copy: Path):
    from report_helpers import run_dir

    p = run_dir(results_copy, "baseline_fer2013") / "run.json"
    info = json.loads(p.read_text())
    info["dataset"]["fingerprint"] = "0" * 64
    p.write_text(json.dumps(info))
    res = runner.invoke(app, [str(results_copy), "--compare", "--format", "json", "--no-plots"])
    assert res.exit_code == 0, res.output
    fer = next(c for c in json.loads(res.stdout)["comparisons"] if c["dataset"] == "fer2013")
    assert fer["pairs"] == []
    assert "baseline_fer2013 and scaled_fer2013 were scored on different data (fingerprints differ); no paired test" in fer["notes"]


def test_default_report_leaves_out_committed_reference_results(results_dir: Path, tmp_path: Path, monkeypatch):
    import shutil

    monkeypatch.chdir(tmp_path)
    shutil.copytree(results_dir / "scaled_fer2013", tmp_path / "results" / "scaled_fer2013")
    shutil.copytree(results_dir / "scaled_affectnet", tmp_path / "results" / "reference" / "scaled_affectnet")
    res = runner.invoke(app, ["--compare", "-f", "markdown"])
    assert res.exit_code == 0, res.output
    assert "scaled_fer2013" in res.output and "scaled_affectnet" not in res.output
    res = runner.invoke(app, ["results/reference", "--compare", "-f", "markdown"])  # named, it is reported
    assert res.exit_code == 0 and "scaled_affectnet" in res.output
