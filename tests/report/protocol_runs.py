"""Run folders with the protocol blocks (k-fold, test-time augmentation, extra test sets), written by hand.

Laid out as docs/results-format.md says (version 2), with deterministic predictions
and record metrics computed from them, so the report tests know every number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml
from make_fixture import FER, FER_TEST, FER_VAL, TS, labels, metrics_block, predict, write_json


def write_run(root: Path, *, spec_name: str, run_id: str, test_split: str = "PrivateTest", fold: tuple[int, int] | None = None,
              skill: float = 0.6, tta_skill: float | None = None, cross: dict[str, float] | None = None, seed: int = 0,
              compare: tuple[str, ...] = ("human_fer2013", "thesis_scaled_fer2013")) -> Path:
    """One complete one-trial FER2013 run; ``tta_skill`` adds flip TTA, ``cross`` extra test sets (name -> skill)."""
    run_dir = root / spec_name / run_id
    tdir = run_dir / "trials" / "0000"
    tdir.mkdir(parents=True)
    test, val = labels(FER_TEST, 1), labels(FER_VAL, 2)
    tp, vp = predict(test, 7, skill, seed + 50), predict(val, 7, skill, seed)
    arrays: dict[str, Any] = {"validation_y_true": val, "validation_y_prob": vp, "test_y_true": test, "test_y_prob": tp}
    metrics: dict[str, Any] = {"validation": metrics_block(val, vp, FER), "test": metrics_block(test, tp, FER)}
    cross_info: dict[str, Any] = {}
    if cross:
        metrics["cross"] = {}
        for i, (name, s) in enumerate(cross.items()):
            y = labels([12] * 7, 10 + i)
            p = predict(y, 7, s, seed + 70 + i)
            metrics["cross"][name] = metrics_block(y, p, FER)
            arrays[f"cross_{name}_y_true"], arrays[f"cross_{name}_y_prob"] = y, p
            cross_info[name] = {"kind": "fer2013", "source": "fixture", "fingerprint": f"{name}-fixture", "labels": "fer2013new.csv",
                                "split": "PrivateTest", "classes": FER, "size": 84, "dropped": {"contempt": 3}, "in_train": 0,
                                "mapping": "faces of contempt left out (the model has no such class)"}
    if tta_skill is not None:
        tt, vt = predict(test, 7, tta_skill, seed + 60), predict(val, 7, tta_skill, seed + 61)
        arrays.update(test_y_prob_tta=tt, validation_y_prob_tta=vt)
        metrics["tta"] = {"method": "flip", "validation": metrics_block(val, vt, FER), "test": metrics_block(test, tt, FER)}
        if cross:
            metrics["tta"]["cross"] = {}
            for name in cross:
                pt = np.roll(arrays[f"cross_{name}_y_prob"], 1, axis=1)
                arrays[f"cross_{name}_y_prob_tta"] = pt
                metrics["tta"]["cross"][name] = metrics_block(arrays[f"cross_{name}_y_true"], pt, FER)
    np.savez_compressed(tdir / "predictions.npz", **arrays)
    write_json(tdir / "record.json", {
        "schema_version": 2, "run_id": run_id, "trial": 0, "state": "complete", "error": None, "params": {},
        "hyperparameters": {"width": 0.5, "depth": 0.5, "dropout": 0.2, "top_filters": 64, "drop_connect": 0.2, "learning_rate": 0.001,
                            "batch_size": 64, "label_smoothing": 0.0, "optimizer": "adam", "schedule": "constant", "warmup_epochs": 0},
        "cost": {"params": 100_000, "macs": 10_000_000}, "epochs": 5, "best_epoch": 5, "objective": 1.0,
        "history": {"loss": [1.5, 1.2, 1.1, 1.0, 0.9], "val_loss": [1.4, 1.2, 1.1, 1.05, 1.0]}, "class_weight": None,
        "timings": {"train_s": 60.0, "eval_s": 1.0, "epoch_s": [12.0] * 5}, "seed": seed, "started": TS, "finished": TS, "metrics": metrics,
    })
    splits: dict[str, Any] = {"train": "Training", "validation": "PublicTest", "test": test_split}
    dataset: dict[str, Any] = {
        "kind": "fer2013", "source": "fer2013-fixture", "fingerprint": f"fer-{fold}", "classes": FER, "image_size": 48, "color": "grayscale",
        "sizes": {"train": 1000, "validation": len(val), "test": len(test)}, "splits": splits, "class_weight": None,
    }
    if fold is not None:
        dataset["fold"] = {"fold": fold[0], "folds": fold[1]}
        splits.update(train=f"Training[{fold[1]} folds, all but fold {fold[0]}]", validation=f"Training[fold {fold[0]} of {fold[1]}]")
    if cross_info:
        dataset["cross"] = cross_info
    write_json(run_dir / "run.json", {
        "schema_version": 2, "run_id": run_id, "spec_name": spec_name, "spec_hash": (run_id * 6)[:64], "status": "complete", "created": TS,
        "updated": TS, "wall_time_s": 70.0, "matrix_cell": {}, "seed": seed, "objective": {"metric": "val_loss", "direction": "minimize"},
        "trials": {"target": 1, "complete": 1, "failed": 0, "pruned": 0}, "best_trial": 0, "dataset": dataset,
        "environment": {"python": "3.11", "ferbench": "0.1.0", "tensorflow": None, "keras": None, "optuna": None, "numpy": None,
                        "git_commit": None, "host": "fixture", "platform": "fixture", "cpu": "fixture", "gpus": []},
        "devices": ["cpu"], "storage": "study.db",
    })
    spec = {"ferbench": 1, "name": spec_name, "seed": seed,
            "dataset": {"kind": "fer2013", "labels": None, "classes": FER, "color": "grayscale", "image_size": 48, "splits": splits,
                        **({"folds": fold[1], "fold": fold[0]} if fold else {})},
            "report": {"compare": list(compare)}}
    (run_dir / "spec.resolved.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return run_dir
