"""Fairness across groups: the report's per-group numbers equal a by-hand computation from the saved
predictions and an attributes CSV (``image,attribute,...``), whose rows meet the test images by name,
in any order."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ferbench.errors import FerbenchError
from ferbench.report.api import write_report
from ferbench.results import load_run


def _attributes(names: list[str], path: Path, order: np.ndarray | None = None) -> dict[str, list[str]]:
    """Random groups of the test images, written as rows ``name,gender,race`` in ``order`` (default: the test order)."""
    n = len(names)
    rng = np.random.default_rng(4)
    gender = [str(v) for v in rng.choice(["female", "male", "unsure"], size=n, p=[0.45, 0.45, 0.1])]
    race = [str(v) for v in rng.choice(["caucasian", "african-american", "asian"], size=n)]
    race[:5] = [""] * 5  # unknown for a few images: left out of that attribute's groups
    rows = [f"{names[i]},{gender[i]},{race[i]}" for i in (range(n) if order is None else order)]
    path.write_text("\n".join(["image,gender,race", *rows]) + "\n", encoding="utf-8")
    return {"gender": gender, "race": race}


def _named_copy(folder: Path, dest: Path) -> tuple[Path, list[str]]:
    """The run folder with its test images named in the predictions (``test_image``), as trials now save them."""
    shutil.copytree(folder, dest)
    npz = dest / "trials" / "0000" / "predictions.npz"
    with np.load(npz) as data:
        arrays = {k: data[k] for k in data.files}
    names = [f"test/img_{i:04d}.jpg" for i in range(len(arrays["test_y_true"]))]
    np.savez_compressed(npz, **arrays, test_image=np.asarray(names))
    return dest, names


def _by_hand(y: list[int], p: list[int], k: int) -> dict[str, object]:
    n = len(y)
    correct = sum(1 for a, b in zip(y, p, strict=True) if a == b)
    f1s, recall, fpr = [], [], []
    for c in range(k):
        tp = sum(1 for a, b in zip(y, p, strict=True) if a == c and b == c)
        fp = sum(1 for a, b in zip(y, p, strict=True) if a != c and b == c)
        fn = sum(1 for a, b in zip(y, p, strict=True) if a == c and b != c)
        negatives = sum(1 for a in y if a != c)
        f1s.append(0.0 if 2 * tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn))
        recall.append(None if tp + fn == 0 else tp / (tp + fn))
        fpr.append(None if negatives == 0 else fp / negatives)
    return {"n": n, "accuracy": correct / n, "f1_macro": sum(f1s) / k, "recall": recall, "fpr": fpr}


def test_fairness_equals_a_hand_computation(results_dir: Path, tmp_path: Path) -> None:
    folder, names = _named_copy(next((results_dir / "scaled_fer2013").iterdir()), tmp_path / "run")
    run = load_run(folder)
    assert run.best is not None
    pred = run.predictions(run.best)
    y, p = pred.test_y_true.tolist(), pred.y_pred("test").tolist()
    k = run.num_classes
    # The rows shuffled: each meets its image by name, not by position.
    attrs = _attributes(names, tmp_path / "attributes.csv", np.random.default_rng(9).permutation(len(y)))
    out = tmp_path / "report.json"
    write_report([folder], fmt="json", out=out, plots=False, attributes=tmp_path / "attributes.csv")
    (data,) = json.loads(out.read_text(encoding="utf-8"))["runs"]
    got = {f["attribute"]: f for f in data["fairness"]}
    _attributes(names, tmp_path / "in_order.csv")  # the same groups, rows in the test order: the same report
    write_report([folder], fmt="json", out=tmp_path / "in_order.json", plots=False, attributes=tmp_path / "in_order.csv")
    assert json.loads((tmp_path / "in_order.json").read_text(encoding="utf-8"))["runs"][0]["fairness"] == data["fairness"]
    assert set(got) == {"gender", "race"}
    for attr, values in attrs.items():
        groups = sorted({v for v in values if v})
        hand = {g: _by_hand([a for a, v in zip(y, values, strict=True) if v == g],
                            [b for b, v in zip(p, values, strict=True) if v == g], k) for g in groups}
        assert [g["group"] for g in got[attr]["groups"]] == groups
        for g in got[attr]["groups"]:
            h = hand[g["group"]]
            assert g["n"] == h["n"]
            assert g["accuracy"] == pytest.approx(h["accuracy"], abs=1e-12)
            assert g["f1_macro"] == pytest.approx(h["f1_macro"], abs=1e-12)
            assert g["recall"] == pytest.approx(h["recall"], abs=1e-12)
            assert g["fpr"] == pytest.approx(h["fpr"], abs=1e-12)
        accs = {g: float(h["accuracy"]) for g, h in hand.items()}  # type: ignore[arg-type]
        assert got[attr]["worst_group"] == min(accs, key=lambda g: accs[g])
        assert got[attr]["accuracy_gap"] == pytest.approx(max(accs.values()) - min(accs.values()))
        gaps = []
        for key in ("recall", "fpr"):
            for c in range(k):
                defined = [h[key][c] for h in hand.values() if h[key][c] is not None]  # type: ignore[index]
                if len(defined) >= 2:
                    gaps.append(max(defined) - min(defined))
        assert got[attr]["equalized_odds_gap"] == pytest.approx(max(gaps))
    md = tmp_path / "report.md"
    write_report([folder], fmt="markdown", out=md, plots=False, attributes=tmp_path / "attributes.csv")
    text = md.read_text(encoding="utf-8")
    assert "Fairness across gender (test)" in text and "Fairness across race (test)" in text
    assert "equalized-odds gap" in text


def test_an_attributes_file_without_its_header_is_refused(results_dir: Path, tmp_path: Path) -> None:
    folder = next((results_dir / "scaled_fer2013").iterdir())
    bad = tmp_path / "attributes.csv"
    bad.write_text("0,female\n1,male\n", encoding="utf-8")
    with pytest.raises(FerbenchError, match="header"):
        write_report([folder], fmt="json", out=tmp_path / "r.json", plots=False, attributes=bad)


def test_predictions_saved_without_names_meet_the_file_by_position_and_say_so(results_dir: Path, tmp_path: Path) -> None:
    folder = next((results_dir / "scaled_fer2013").iterdir())  # written before trials saved their images' names
    run = load_run(folder)
    assert run.best is not None
    y = run.predictions(run.best).test_y_true
    attrs = tmp_path / "attributes.csv"
    attrs.write_text("image,gender\n" + "".join(f"{i},{'female' if i % 2 else 'male'}\n" for i in range(len(y))) + "9999,male\n",
                     encoding="utf-8")
    md = tmp_path / "report.md"
    write_report([folder], fmt="markdown", out=md, plots=False, attributes=attrs)
    text = " ".join(md.read_text(encoding="utf-8").split())
    assert "name no test image (written before names were kept)" in text and "position 0, 1, ..." in text
    assert "1 row(s) of the attributes file name no test image of this run" in text  # the row 9999
    assert "Fairness across gender (test)" in text
