"""Write the small fixture results folder used by the report tests.

    python tests/report/make_fixture.py            # rewrites tests/fixtures/results/

Three runs laid out exactly as docs/results-format.md says, with deterministic
predictions: two FER2013 runs on the same test set (so they get a paired test) and one
AffectNet run. Record metrics are computed with scikit-learn from the saved
predictions, as the trainer does.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss, precision_recall_fscore_support

HERE = Path(__file__).resolve().parent
DEFAULT_ROOT = HERE.parent / "fixtures" / "results"
FER = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
FER_TEST = [28, 4, 30, 52, 36, 24, 36]  # FER2013's class proportions, 210 samples
FER_VAL = [14, 2, 15, 26, 18, 12, 18]
AFF_TEST = [20] * 7
AFF_VAL = [10] * 7
SPACE = {
    "learning_rate": {"float": [5.0e-6, 1.0e-2], "log": True},
    "width": {"float": [0.2, 1.4], "step": 0.05},
    "depth": {"float": [0.2, 1.4], "step": 0.05},
    "dropout": {"float": [0.0, 0.5], "step": 0.05},
    "top_filters": {"int": [16, 160], "step": 8},
}
TS = "2024-05-01T12:00:00Z"


def _hex(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def labels(counts: list[int], seed: int) -> np.ndarray:
    y = np.repeat(np.arange(len(counts)), counts)
    return np.random.default_rng(seed).permutation(y).astype(np.int64)


def predict(y: np.ndarray, k: int, skill: float, seed: int) -> np.ndarray:
    """Probabilities whose arg-max is right with about probability ``skill`` (happy easier, disgust harder)."""
    rng = np.random.default_rng(seed)
    freq = np.bincount(y, minlength=k) / len(y)
    ease = 0.6 * (freq - freq.mean())
    right = rng.random(len(y)) < np.clip(skill + ease[y], 0.05, 0.98)
    wrong = (y + rng.integers(1, k, size=len(y))) % k
    pred = np.where(right, y, wrong)
    prob = rng.random((len(y), k)) * 0.5
    prob[np.arange(len(y)), pred] += 1.0 + rng.random(len(y))
    prob /= prob.sum(axis=1, keepdims=True)
    return np.round(prob, 3).astype(np.float32)


def metrics_block(y: np.ndarray, prob: np.ndarray, classes: list[str]) -> dict[str, Any]:
    k = len(classes)
    pred = prob.argmax(axis=1)
    lab = list(range(k))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=lab, zero_division=0)
    out: dict[str, Any] = {"n": int(len(y)), "loss": float(log_loss(y, prob / prob.sum(1, keepdims=True), labels=lab)), "accuracy": float(accuracy_score(y, pred))}
    for avg in ("macro", "weighted"):
        pa, ra, fa, _ = precision_recall_fscore_support(y, pred, labels=lab, average=avg, zero_division=0)
        out.update({f"precision_{avg}": float(pa), f"recall_{avg}": float(ra), f"f1_{avg}": float(fa)})
    out["per_class"] = {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])} for i, c in enumerate(classes)}
    out["confusion"] = confusion_matrix(y, pred, labels=lab).tolist()
    return out


def history(epochs: int, final_val_loss: float, final_acc: float, seed: int) -> dict[str, list[float]]:
    rng = np.random.default_rng(seed)
    e = np.arange(1, epochs + 1)
    decay = np.exp(-e / (epochs / 3))
    noise = rng.normal(0, 0.01, size=(4, epochs))
    return {
        "loss": [round(float(v), 4) for v in final_val_loss * 0.8 + 1.0 * decay + noise[0]],
        "accuracy": [round(float(v), 4) for v in final_acc + 0.05 - 0.4 * decay + noise[1]],
        "val_loss": [round(float(v), 4) for v in final_val_loss + 0.9 * decay + noise[2]],
        "val_accuracy": [round(float(v), 4) for v in final_acc - 0.35 * decay + noise[3]],
    }


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")


def make_run(root: Path, *, name: str, kind: str, classes: list[str], test: np.ndarray, val: np.ndarray, trials: list[dict[str, Any]], compare: list[str], color: str, splits: dict[str, str], seed: int, stages: list[int]) -> Path:
    run_id = _hex(name, 12)
    run_dir = root / name / run_id
    k = len(classes)
    done = [t for t in trials if t["state"] == "complete"]
    best = min(done, key=lambda t: t["val_loss"])
    for i, t in enumerate(trials):
        s = seed * 100 + i
        rec: dict[str, Any] = {
            "schema_version": 1, "run_id": run_id, "trial": i, "state": t["state"], "error": t.get("error"),
            "params": t["params"],
            "hyperparameters": {**t["params"], "drop_connect": 0.2, "batch_size": 64, "label_smoothing": 0.0},
            "cost": {"params": t["cost"][0], "macs": t["cost"][1]},
            "epochs": t["epochs"], "best_epoch": None, "objective": None, "history": {}, "class_weight": None,
            "timings": {"train_s": float(t["train_s"]), "eval_s": 1.5, "epoch_s": [round(t["train_s"] / max(t["epochs"], 1), 2)] * t["epochs"]},
            "seed": s, "started": TS, "finished": TS,
        }
        tdir = run_dir / "trials" / f"{i:04d}"
        if t["state"] == "complete":
            vp, tp = predict(val, k, t["skill"], s), predict(test, k, t["skill"], s + 50)
            vm = metrics_block(val, vp, classes)
            rec["metrics"] = {"validation": vm, "test": metrics_block(test, tp, classes)}
            rec["objective"] = t["val_loss"]
            rec["best_epoch"] = t["epochs"] - 3
            rec["history"] = history(t["epochs"], t["val_loss"], t["skill"], s)
            tdir.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(tdir / "predictions.npz", validation_y_true=val, validation_y_prob=vp, test_y_true=test, test_y_prob=tp)
        else:
            rec["history"] = {"loss": [2.1, None], "val_loss": [2.0, None]}
        write_json(tdir / "record.json", rec)
    counts = {st: sum(t["state"] == st for t in trials) for st in ("complete", "failed", "pruned")}
    write_json(run_dir / "run.json", {
        "schema_version": 1, "run_id": run_id, "spec_name": name, "spec_hash": _hex(name + "spec", 64), "status": "complete",
        "created": TS, "updated": TS, "wall_time_s": float(sum(t["train_s"] for t in trials) + 120.0), "matrix_cell": {}, "seed": seed,
        "objective": {"metric": "val_loss", "direction": "minimize"},
        "trials": {"target": len(trials), **counts}, "best_trial": trials.index(best),
        "dataset": {
            "kind": kind, "source": f"{kind}-fixture", "fingerprint": _hex(f"{kind}-fixture-data", 64), "classes": classes, "image_size": 48, "color": color,
            "sizes": {"train": 1000, "validation": int(len(val)), "test": int(len(test))}, "splits": splits, "class_weight": None,
        },
        "environment": {"python": "3.11", "ferbench": "0.1.0", "tensorflow": None, "keras": None, "optuna": None, "numpy": None, "git_commit": None, "host": "fixture", "platform": "fixture", "cpu": "fixture", "gpus": []},
        "devices": ["cpu"], "storage": f"sqlite:///results/{name}/{run_id}/study.db",
    })
    spec = {"ferbench": 1, "name": name, "seed": seed, "dataset": {"kind": kind, "labels": None, "classes": classes, "color": color, "image_size": 48},
            "model": {"arch": "efficientnetv2-s", "stages": stages}, "search": {"trials": len(trials), "objective": {"metric": "val_loss", "direction": "minimize"}, "space": SPACE},
            "report": {"compare": compare}}
    (run_dir / "spec.resolved.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return run_dir


def _trial(lr: float, w: float, d: float, do: float, tf: int, *, skill: float, val_loss: float, cost: tuple[int, int], epochs: int, train_s: float) -> dict[str, Any]:
    return {"state": "complete", "params": {"learning_rate": lr, "width": w, "depth": d, "dropout": do, "top_filters": tf}, "skill": skill, "val_loss": val_loss, "cost": cost, "epochs": epochs, "train_s": train_s}


def make(root: Path = DEFAULT_ROOT) -> Path:
    """(Re)write the fixture under ``root``."""
    if root.exists():
        shutil.rmtree(root)
    fer_test, fer_val = labels(FER_TEST, 1), labels(FER_VAL, 2)
    fer_splits = {"train": "Training", "validation": "PublicTest", "test": "PrivateTest"}
    failed = {"state": "failed", "error": "nan loss at epoch 2", "params": {"learning_rate": 0.0095, "width": 1.4, "depth": 1.4, "dropout": 0.0, "top_filters": 160}, "cost": (None, None), "epochs": 2, "train_s": 30.0}
    make_run(root, name="baseline_fer2013", kind="fer2013", classes=FER, test=fer_test, val=fer_val, color="grayscale", splits=fer_splits, seed=11, stages=[0, 1, 2, 3, 4, 5, 6],
             compare=["human_fer2013", "khanzada2020_vgg16", "thesis_baseline_fer2013"], trials=[
                 _trial(0.0009986, 0.75, 1.25, 0.05, 24, skill=0.66, val_loss=0.96, cost=(20_331_360, 2_880_000_000), epochs=14, train_s=2460.0),
                 _trial(0.0000120, 0.40, 0.60, 0.30, 96, skill=0.48, val_loss=1.31, cost=(6_120_000, 780_000_000), epochs=9, train_s=1210.0),
                 _trial(0.0041000, 1.10, 0.90, 0.10, 40, skill=0.58, val_loss=1.08, cost=(29_800_000, 4_100_000_000), epochs=11, train_s=3010.0),
                 failed])
    make_run(root, name="scaled_fer2013", kind="fer2013", classes=FER, test=fer_test, val=fer_val, color="grayscale", splits=fer_splits, seed=12, stages=[0, 1, 2, 3, 4],
             compare=["human_fer2013", "khanzada2020_vgg16", "thesis_scaled_fer2013"], trials=[
                 _trial(0.0001972, 1.30, 0.55, 0.20, 24, skill=0.655, val_loss=0.958, cost=(3_870_112, 610_000_000), epochs=13, train_s=1490.0),
                 _trial(0.0000600, 0.55, 1.00, 0.40, 120, skill=0.55, val_loss=1.12, cost=(1_210_000, 240_000_000), epochs=10, train_s=800.0),
                 _trial(0.0021000, 0.90, 0.30, 0.00, 64, skill=0.60, val_loss=1.02, cost=(2_050_000, 330_000_000), epochs=12, train_s=950.0)])
    make_run(root, name="scaled_affectnet", kind="affectnet", classes=FER, test=labels(AFF_TEST, 3), val=labels(AFF_VAL, 4), color="rgb",
             splits={"train": "train", "validation": {"from": "train", "fraction": 0.1, "stratified": True}, "test": "validation"}, seed=13, stages=[0, 1, 2, 3, 4],
             compare=["poster_v2_affectnet7", "thesis_scaled_affectnet"], trials=[
                 _trial(0.0003622, 1.0545, 1.20, 0.15, 24, skill=0.61, val_loss=1.05, cost=(4_410_000, 700_000_000), epochs=12, train_s=5200.0),
                 _trial(0.0000090, 0.30, 0.45, 0.25, 136, skill=0.40, val_loss=1.52, cost=(980_000, 150_000_000), epochs=8, train_s=2100.0)])
    return root


if __name__ == "__main__":
    out = make(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_ROOT)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({size / 1024:.0f} KB)")
