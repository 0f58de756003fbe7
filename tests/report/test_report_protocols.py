"""The report of the evaluation protocols: k-fold mean ± sd, test sets marked, test-time augmentation beside the plain
numbers, the trained-on × tested-on matrix, and a registry that states how each number was obtained."""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path

import numpy as np
import pytest
import yaml
from protocol_runs import write_run
from report_helpers import squeeze_md
from typer.testing import CliRunner

from ferbench.baselines_registry import BUILTIN
from ferbench.cli.report import app
from ferbench.report.compare import OTHER_TEST_SET
from ferbench.report.groups import canonical_test_set


def report(*args: str) -> str:
    res = CliRunner().invoke(app, [*args, "--no-plots"])
    assert res.exit_code == 0, res.output
    return res.stdout


def _row(text: str, starts: str, *, exact: bool = False) -> list[str]:
    """The cells of the markdown table row whose first cell starts with (or, ``exact``, is) ``starts``."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and (cells[0] == starts if exact else cells[0].startswith(starts)):
            return cells
    raise AssertionError(f"no row {starts!r} in\n{text}")


def _header(text: str, first: str) -> list[str]:
    return _row(text, first)


def _accuracy(run_dir: Path, key: str = "test_y_prob") -> float:
    with np.load(run_dir / "trials" / "0000" / "predictions.npz") as z:
        return float(np.mean(z[key].argmax(axis=1) == z["test_y_true"]))


# --------------------------------------------------------------------------- k-fold


@pytest.fixture()
def folds(tmp_path: Path) -> list[Path]:
    return [write_run(tmp_path / "results", spec_name="cv", run_id=f"{i:012x}", fold=(i, 5), skill=0.5 + 0.03 * i, seed=i, tta_skill=0.55 + 0.03 * i)
            for i in range(1, 6)]


def test_compare_over_five_folds_shows_each_fold_and_the_mean_and_sd(folds: list[Path]) -> None:
    text = report(str(folds[0].parents[1]), "--compare", "--format", "markdown")
    accs = [100 * _accuracy(d) for d in folds]
    for i, acc in enumerate(accs, 1):
        assert _row(text, f"cv [fold={i}/5]")[3].startswith(f"{acc:.2f} [")
    mean, sd = statistics.fmean(accs), statistics.stdev(accs)
    assert _row(text, "cv (5 of 5 folds: mean ± sd)")[3] == f"{mean:.2f} ± {sd:.2f}"
    tta = [100 * _accuracy(d, "test_y_prob_tta") for d in folds]
    assert _row(text, "cv (5 of 5 folds: mean ± sd) + TTA (flip)")[3] == f"{statistics.fmean(tta):.2f} ± {statistics.stdev(tta):.2f}"
    summary = _row(text, "cv", exact=True)  # the cross-validation table
    assert summary[:2] == ["cv", "5"] and summary[3] == f"{mean:.2f} ± {sd:.2f}"
    assert "Paired tests" not in text  # folds of one experiment are not tested pairwise
    assert "fingerprints differ" not in text


def test_fold_means_are_machine_readable(folds: list[Path]) -> None:
    doc = json.loads(report(str(folds[0].parents[1]), "--compare", "--format", "json"))
    (group,) = doc["comparisons"]
    (cv,) = group["folds"]
    accs = [_accuracy(d) for d in folds]
    assert cv["accuracy"]["n"] == 5
    assert cv["accuracy"]["mean"] == pytest.approx(statistics.fmean(accs)) and cv["accuracy"]["sd"] == pytest.approx(statistics.stdev(accs))
    assert [r["fold"] for r in doc["runs"]] == [{"fold": i, "folds": 5} for i in range(1, 6)]
    rows = list(csv.reader(io.StringIO(report(str(folds[0].parents[1]), "--compare", "--format", "csv"))))
    header = next(r for r in rows if r and r[0] == "model")
    assert "accuracy_sd" in header


def test_a_missing_fold_is_said(folds: list[Path]) -> None:
    import shutil

    shutil.rmtree(folds[-1])
    text = report(str(folds[0].parents[1]), "--compare", "--format", "markdown")
    assert "cv (4 of 5 folds: mean ± sd)" in text and "cv: 4 of 5 folds have a complete trial; the mean is over those" in text


# --------------------------------------------------------------------------- test sets


def test_the_thesis_rows_are_marked_against_a_privatetest_run_and_not_against_the_thesis_protocol(tmp_path: Path) -> None:
    compare = ("human_fer2013", "thesis_baseline_fer2013", "thesis_scaled_fer2013")
    usual = write_run(tmp_path / "a", spec_name="scaled_fer2013", run_id="aaaaaaaaaaaa", test_split="PrivateTest", compare=compare)
    text = report(str(usual), "--compare", "--format", "markdown")
    for name in ("Thesis baseline", "Thesis scaled-down", "Thesis unweighted loss", "Human level"):
        assert _row(text, name)[2].endswith(OTHER_TEST_SET), name
    run = _row(text, "scaled_fer2013")
    assert all(cell.endswith(OTHER_TEST_SET) for cell in run[-3:])  # Δ human, Δ thesis baseline, Δ thesis scaled-down
    assert f"{OTHER_TEST_SET} Measured on another test set than the runs here (PrivateTest)" in text

    thesis = write_run(tmp_path / "b", spec_name="thesis_protocol_fer2013", run_id="bbbbbbbbbbbb", test_split="PublicTest+PrivateTest",
                       compare=compare)
    text = report(str(thesis), "--compare", "--format", "markdown")
    for name in ("Thesis baseline", "Thesis scaled-down", "Thesis weighted loss"):
        assert _row(text, name)[2] == "PublicTest+PrivateTest", name
    run = _row(text, "thesis_protocol_fer2013")
    assert run[-3].endswith(OTHER_TEST_SET)  # human level: a sample, never the test set
    assert not run[-2].endswith(OTHER_TEST_SET) and not run[-1].endswith(OTHER_TEST_SET)
    assert _row(text, "Human level")[2].endswith(OTHER_TEST_SET)
    assert _row(text, "VGGNet")[2] == f"PublicTest {OTHER_TEST_SET}"  # Khaireddin & Chen: PublicTest only


def test_test_set_names_compare_by_meaning() -> None:
    assert canonical_test_set("PublicTest+PrivateTest", "fer2013") == canonical_test_set("test", "fer2013") == canonical_test_set("privatetest+PUBLICTEST", "fer2013")
    assert canonical_test_set("PrivateTest", "fer2013") != canonical_test_set("test", "fer2013")
    assert canonical_test_set("validation (500 per class)", "affectnet") == canonical_test_set("val", "affectnet")
    assert canonical_test_set({"from": "train", "fraction": 0.1}, "fer2013") is None
    assert canonical_test_set("not stated (the authors' test.csv)", "fer2013") != canonical_test_set("test", "fer2013")


# --------------------------------------------------------------------------- test-time augmentation


def test_tta_is_shown_beside_the_plain_numbers_with_its_gain_and_a_mcnemar_test(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", spec_name="flipped", run_id="cccccccccccc", skill=0.55, tta_skill=0.65)
    text = report(str(run), "--compare", "--format", "markdown")
    plain, aug = _accuracy(run), _accuracy(run, "test_y_prob_tta")
    assert _row(text, "flipped + TTA (flip)")[3].startswith(f"{100 * aug:.2f} [")
    row = _row(text, "flipped", exact=True)
    with np.load(run / "trials" / "0000" / "predictions.npz") as z:
        y, a, b = z["test_y_true"], z["test_y_prob"].argmax(1), z["test_y_prob_tta"].argmax(1)
    tta = [r for r in text.split("### Test-time augmentation")[1].splitlines() if r.startswith("| flipped")][0]
    cells = [c.strip() for c in tta.strip("|").split("|")]
    assert cells[1:4] == ["flip", "210", f"{100 * plain:.2f}"] and cells[4] == f"{100 * aug:.2f}"
    assert cells[5] == f"{100 * (aug - plain):+.2f}"
    assert cells[6:8] == [str(int(np.sum((a == y) & (b != y)))), str(int(np.sum((a != y) & (b == y))))]
    assert row[13] == "none"  # the plain row's TTA column
    runs = report(str(run), "--format", "markdown")
    assert "Test with TTA (flip)" in _header(runs, "Metric") and "| Test-time augmentation | flip |" in squeeze_md(runs)


# --------------------------------------------------------------------------- cross-dataset


def test_the_trained_on_by_tested_on_matrix(tmp_path: Path) -> None:
    a = write_run(tmp_path / "r", spec_name="fer_on_plus", run_id="dddddddddddd", skill=0.6, tta_skill=0.62, cross={"ferplus": 0.7, "folder": 0.3})
    text = report(str(a), "--compare", "--format", "markdown")
    assert "## Cross-dataset: trained on × tested on" in text
    text = text.split("## Cross-dataset: trained on × tested on")[1]
    assert _header(text, "Run")[:5] == ["Run", "Trained on", "Accuracy % on its own test split", "ferplus %", "folder %"]
    row = _row(text, "fer_on_plus")
    with np.load(a / "trials" / "0000" / "predictions.npz") as z:
        want = [float(np.mean(z[f"cross_{n}_y_prob"].argmax(1) == z[f"cross_{n}_y_true"])) for n in ("ferplus", "folder")]
        want_tta = float(np.mean(z["cross_ferplus_y_prob_tta"].argmax(1) == z["cross_ferplus_y_true"]))
    assert row[1] == "FER2013 Training (7 classes)"
    assert row[2].startswith(f"{100 * _accuracy(a):.2f} [") and row[3].startswith(f"{100 * want[0]:.2f} [") and row[4].startswith(f"{100 * want[1]:.2f} [")
    with_tta = text.split("### The same with test-time augmentation")[1]
    assert _row(with_tta, "fer_on_plus")[3].startswith(f"{100 * want_tta:.2f} [")
    assert "- ferplus: FER2013 (FER+ labels) PrivateTest, 84 images; faces of contempt left out" in text
    runs = report(str(a), "--format", "markdown")
    assert "### Extra test sets (cross-dataset)" in runs and _row(runs, "ferplus")[2] == "84"


# --------------------------------------------------------------------------- the registry


def test_every_published_and_reproduced_baseline_states_how_it_was_obtained() -> None:
    entries = yaml.safe_load(BUILTIN.read_text())["baselines"]
    for b in entries:
        if b["kind"] == "human":
            continue
        for key in ("split", "image_size", "color", "pretrained", "extra_data", "ensemble", "tta", "params"):
            assert key in b, f"{b['id']} does not state {key} (null when the source does not)"
        assert b["citation"].get("where") and b.get("note"), b["id"]
    by_id = {b["id"]: b for b in entries}
    for model in ("resnet50", "senet50", "vgg16"):
        k = by_id[f"khanzada2020_{model}"]
        assert (k["image_size"], k["color"], k["pretrained"], k["split"]) == (197, "rgb", "VGGFace", "PrivateTest")
    assert by_id["khanzada2020_ensemble"]["ensemble"] == 7 and by_id["khanzada2020_ensemble"]["metrics"]["accuracy"] == 0.758
    assert by_id["pham2020_rmn"]["metrics"]["accuracy"] == 0.7414 and by_id["pham2020_rmn_ensemble"]["ensemble"] == 7
    assert by_id["poster_v2_rafdb"]["metrics"]["accuracy"] == 0.9221 and by_id["poster_v2_affectnet8"]["num_classes"] == 8
    assert {by_id[f"poster_v2_{k}"]["params"] for k in ("affectnet7", "affectnet8", "rafdb")} == {43_700_000}
    assert by_id["barsoum2016_vgg13_majority"]["dataset"] == "ferplus" and by_id["barsoum2016_vgg13_majority"]["num_classes"] == 8
    assert (by_id["khaireddin2021_vggnet"]["split"], by_id["khaireddin2021_vggnet"]["tta"]) == ("PublicTest", "ten-crop")


def test_the_comparison_shows_comparability_columns_and_says_macro(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", spec_name="scaled_fer2013", run_id="eeeeeeeeeeee")
    text = report(str(run), "--compare", "--format", "markdown")
    head = _header(text, "Model")
    assert head[3:7] == ["Accuracy % [95% CI]", "Precision (macro)", "Recall (macro)", "F1 (macro) [95% CI]"]
    assert head[9:14] == ["Input", "Pretrained", "Extra data", "Ensemble", "TTA"]
    vgg = _row(text, "VGG16 WCW")
    assert vgg[9:14] == ["197 RGB", "VGGFace", "no", "single", "–"]
    assert _row(text, "Ensemble of 7 (Khanzada)")[9:14] == ["–", "VGGFace (5 of 7)", "yes", "ensemble of 7", "no"]
    assert _row(text, "scaled_fer2013")[9:14] == ["48 gray", "no", "no", "single", "none"]
