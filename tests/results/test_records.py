"""Typed records and run.json: the documented format, validated against the schemas, round-tripped."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from ferbench.errors import ResultsError
from ferbench.results import (
    Cost,
    DatasetInfo,
    Objective,
    Predictions,
    RunPaths,
    RunRecord,
    SplitMetrics,
    Timings,
    TrialRecord,
    TrialResult,
    record_problems,
    run_problems,
)
from ferbench.results.metrics import metrics_block
from ferbench.results.read import read_run_record, read_trial_record
from ferbench.results.write import RunFile, SharedRunFile, history_csv, write_run, write_trial

CLASSES = ("angry", "happy", "sad")
HP = {"width": 0.2, "depth": 0.25, "dropout": 0.1, "top_filters": 32, "drop_connect": 0.2,
      "learning_rate": 0.001, "batch_size": 16, "label_smoothing": 0.0}
REPO = Path(__file__).resolve().parents[2]
ENV: dict[str, object] = {"python": "3", "ferbench": "0", "tensorflow": None, "keras": None, "optuna": None, "numpy": None,
       "git_commit": None, "host": "h", "platform": "p", "cpu": "c", "gpus": []}


def _result(state: str = "complete") -> TrialResult:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 12)
    p = rng.dirichlet(np.ones(3), 12).astype(np.float32)
    m = SplitMetrics.from_dict(metrics_block(y, p, CLASSES))
    ok = state == "complete"
    record = TrialRecord(
        run_id="0123456789ab", trial=7, state=state, error=None if ok else "nan loss at epoch 2",  # type: ignore[arg-type]
        params={"width": 0.2}, hyperparameters=HP, cost=Cost(1234, 5678), epochs=2, best_epoch=1 if ok else None,
        objective=1.1 if ok else None, history={"loss": (1.0, float("nan")), "val_loss": (1.1, float("nan"))},
        class_weight={"angry": 1.0, "happy": 0.5, "sad": 2.0}, timings=Timings(1.5, 0.2, (0.7, 0.8)), seed=42,
        started="2026-01-01T00:00:00Z", finished="2026-01-01T00:00:02Z", environment=ENV,
        validation=m if ok else None, test=m if ok else None,
    )
    preds = Predictions(y, p, y, p) if ok else None
    return TrialResult(record, preds, None, (1e-3, 1e-3))


@pytest.mark.parametrize("state", ["complete", "failed"])
def test_record_validates_and_is_strict_json(state: str) -> None:
    rec = _result(state).record.to_dict()
    assert record_problems(rec) == []
    assert ("metrics" in rec) == (state == "complete")
    assert rec["history"]["loss"] == [1.0, None]  # NaN is not JSON: null
    json.dumps(rec, allow_nan=False)


@pytest.mark.parametrize("state", ["complete", "failed"])
def test_record_round_trips_through_its_dict(state: str) -> None:
    rec = _result(state).record.to_dict()
    assert TrialRecord.from_dict(rec).to_dict() == rec


def test_every_committed_record_round_trips() -> None:
    """The reference results and the report's fixture: from_dict then to_dict gives the file's object back."""
    files = sorted((REPO / "results" / "reference").glob("*/*/trials/*/record.json"))
    files += sorted((REPO / "tests" / "fixtures" / "results").glob("*/*/trials/*/record.json"))
    assert len(files) >= 5
    for f in files:
        data = json.loads(f.read_text())
        assert TrialRecord.from_dict(data).to_dict() == data, f
    for f in sorted((REPO / "results" / "reference").glob("*/*/run.json")):
        data = json.loads(f.read_text())
        assert RunRecord.from_dict(data).to_dict() == data, f


def test_write_trial_folder(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    folder = write_trial(paths, _result())
    assert folder == tmp_path / "trials" / "0007"
    assert sorted(p.name for p in folder.iterdir()) == ["history.csv", "predictions.npz", "record.json"]
    assert read_trial_record(folder / "record.json") == TrialRecord.from_dict(_result().record.to_dict())
    with np.load(folder / "predictions.npz") as z:
        assert set(z.files) == {"validation_y_true", "validation_y_prob", "test_y_true", "test_y_prob"}
    assert "lr" in (folder / "history.csv").read_text().splitlines()[0]  # lr lives in history.csv, not the record


def test_a_finished_record_is_never_rewritten(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    write_trial(paths, _result())
    before = paths.record(7).read_bytes()
    with pytest.raises(ResultsError, match="never rewritten"):
        write_trial(paths, _result("failed"))
    assert paths.record(7).read_bytes() == before


def test_an_invalid_record_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    bad = TrialRecord.from_dict({**_result().record.to_dict(), "run_id": "not-hex"})
    with pytest.raises(ValueError, match="invalid record"):
        write_trial(RunPaths(tmp_path), TrialResult(bad))
    assert not (tmp_path / "trials").exists()


def test_history_csv_columns() -> None:
    text = history_csv({"loss": [1.0, 0.5], "accuracy": [0.1, 0.2], "val_loss": [1.2, 0.9], "val_accuracy": [0.1, 0.3],
                        "lr": [1e-3, 1e-3], "val_f1_macro": [0.05, 0.1]}, [2.0, 1.0])
    lines = text.splitlines()
    assert lines[0] == "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds,val_f1_macro"
    assert lines[1].startswith("1,1.0,0.1,1.2,0.1,0.001,2.0,")


def _run(**kw: object) -> RunRecord:
    rec = RunRecord.new(
        run_id="0123456789ab", spec_name="tiny", spec_hash="a" * 64, matrix_cell={}, seed=3,
        objective=Objective("val_loss", "minimize"), target=3,
        dataset=DatasetInfo(kind="synthetic", source="synthetic", fingerprint="f" * 64, classes=CLASSES, image_size=32,
                            color="grayscale", sizes={"train": 1, "validation": 1, "test": 1},
                            splits={"train": "train", "validation": "validation", "test": "test"}, class_weight=None),
        environment=ENV, devices=["cpu"], storage="study.db",
    )
    return rec.but(**kw)


def test_run_json_validates_round_trips_and_sums_wall_time(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    f = RunFile.open(path, _run())
    time.sleep(0.05)
    f.save()
    first = json.loads(path.read_text())
    assert run_problems(first) == []
    assert RunRecord.from_dict(first).to_dict() == first
    g = RunFile.open(path, _run())  # a restart: keeps created, adds to the wall time
    time.sleep(0.05)
    g.save()
    second = read_run_record(path)
    assert second.created == first["created"]
    assert second.wall_time_s >= first["wall_time_s"] + 0.04


def test_shared_run_file_keeps_one_wall_time_for_several_writers(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    a, b = SharedRunFile(paths, _run()), SharedRunFile(paths, _run())
    a.update(status="running")
    time.sleep(0.05)
    b.update(best_trial=2)
    rec = read_run_record(paths.run_json)
    assert rec.best_trial == 2 and rec.status == "running"
    assert 0.04 <= rec.wall_time_s < 1.0


def test_run_json_of_a_newer_ferbench_is_refused(tmp_path: Path) -> None:
    data = _run().to_dict()
    data["schema_version"] = 99
    (tmp_path / "run.json").write_text(json.dumps(data))
    with pytest.raises(ResultsError, match="newer than this ferbench reads"):
        read_run_record(tmp_path / "run.json")


def test_write_run_refuses_an_invalid_record(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid run.json"):
        write_run(tmp_path / "run.json", _run(status="exploded"))
    assert not (tmp_path / "run.json").exists()


def test_run_json_says_which_trials_the_folder_holds_and_which_hosts_wrote_it(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    write_trial(paths, _result())  # trial 7
    paths.trial(3).mkdir(parents=True)  # a trial still training: no record yet
    f = RunFile.open(paths.run_json, _run())
    f.save()
    rec = read_run_record(paths.run_json)
    assert rec.holds == (7,) and rec.hosts == ("h",) and f.record.holds == (7,)
    # Workers of two hosts sharing the folder (a shared filesystem): both are named.
    SharedRunFile(paths, _run(hosts=("h2",))).update(status="running")
    assert read_run_record(paths.run_json).hosts == ("h", "h2")
    # run.json from before hosts were recorded: the host of its environment stands for it.
    old = {k: v for k, v in rec.to_dict().items() if k not in ("hosts", "holds")}
    assert run_problems(old) == [] and RunRecord.from_dict(old).writers == ("h",) and RunRecord.from_dict(old).holds is None


def test_a_trial_carries_its_record_in_the_study_attributes() -> None:
    from ferbench.results.study_attrs import ATTR_RECORD, record_from_attrs, trial_attrs

    rng = np.random.default_rng(1)
    classes = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    y, p = rng.integers(0, 7, 500), rng.dirichlet(np.ones(7), 500).astype(np.float32)
    m = SplitMetrics.from_dict(metrics_block(y, p, classes))
    epochs = tuple(float(v) for v in rng.random(100))
    rec = TrialRecord.from_dict({**_result().record.to_dict(), "history": {k: list(epochs) for k in
                                 ("loss", "accuracy", "val_loss", "val_accuracy", "val_f1_macro")},
                                 "metrics": {"validation": m.to_dict(), "test": m.to_dict()}})
    attrs = json.loads(json.dumps(trial_attrs(rec), allow_nan=False))  # what Optuna stores: strict JSON
    assert len(json.dumps(attrs)) < 24_000  # 7 classes, 100 epochs of 5 metrics: small for any storage
    assert attrs[ATTR_RECORD] == rec.to_dict()
    assert record_from_attrs(attrs, "trial 7") == rec
    assert attrs["ferbench_test_accuracy"] == m.accuracy and attrs["ferbench_params"] == 1234
    assert attrs["ferbench_host"] == "h"
    assert record_from_attrs({"ferbench_owner": "x"}, "trial 7") is None  # a trial from before: no record
    broken = {ATTR_RECORD: {**attrs[ATTR_RECORD], "state": "exploded"}}
    with pytest.raises(ResultsError, match="trial 7: ferbench_record: state: 'exploded' is not one of"):
        record_from_attrs(broken, "trial 7")


def test_a_study_keeps_the_facts_of_its_run() -> None:
    from ferbench.results.study_attrs import RUN_FACTS, run_facts, run_from_facts

    run = _run()
    facts = json.loads(json.dumps(run_facts(run)))
    assert set(facts) == set(RUN_FACTS) - {"objectives"}  # a single-objective run has no list of objectives
    back = run_from_facts(facts, "study x", status="complete", updated="2026-01-01T00:00:09Z", wall_time_s=9.0,
                          trials={"target": 3, "complete": 3, "failed": 0, "pruned": 0}, best_trial=1, devices=[],
                          hosts=["h", "h2"])
    assert back.dataset == run.dataset and back.spec_hash == run.spec_hash and back.hosts == ("h", "h2")
    assert back.trials.complete == 3 and back.best_trial == 1 and back.holds is None
    with pytest.raises(ResultsError, match="study x: ferbench_run: .*'status' is a required property"):
        run_from_facts(facts, "study x")


def _protocol_result() -> TrialResult:
    """A record with test-time augmentation and an extra test set (version 2's protocol blocks), and its arrays."""
    from ferbench.results.measures import TTAMetrics

    base = _result()
    rng = np.random.default_rng(1)
    y, p = base.predictions.test_y_true, base.predictions.test_y_prob  # type: ignore[union-attr]
    p_tta = rng.dirichlet(np.ones(3), len(y)).astype(np.float32)
    y_cross = rng.integers(0, 2, 9)
    p_cross = rng.dirichlet(np.ones(2), 9).astype(np.float32)
    m = SplitMetrics.from_dict(metrics_block(y, p_tta, CLASSES))
    cross = SplitMetrics.from_dict(metrics_block(y_cross, p_cross, ("happy", "sad")))
    record = TrialRecord.from_dict({**base.record.to_dict()})
    from dataclasses import replace

    record = replace(record, tta=TTAMetrics("flip", m, m, {"plus": cross}), cross={"plus": cross})
    extra = {"validation_y_prob_tta": p_tta, "test_y_prob_tta": p_tta, "cross_plus_y_true": y_cross, "cross_plus_y_prob": p_cross,
             "cross_plus_y_prob_tta": p_cross}
    return TrialResult(record, Predictions(y, p, y, p, extra=extra), None, (1e-3, 1e-3))


def test_tta_and_extra_test_sets_are_recorded_beside_the_plain_metrics(tmp_path: Path) -> None:
    from ferbench.results.read import load_predictions

    result = _protocol_result()
    rec = result.record.to_dict()
    assert record_problems(rec) == [] and rec["schema_version"] == 2
    assert set(rec["metrics"]) == {"validation", "test", "tta", "cross"}
    assert rec["metrics"]["tta"]["method"] == "flip" and set(rec["metrics"]["tta"]["cross"]) == {"plus"}
    assert list(rec["metrics"]["cross"]["plus"]["per_class"]) == ["happy", "sad"]
    assert TrialRecord.from_dict(rec).to_dict() == rec
    folder = write_trial(RunPaths(tmp_path), result)
    back = load_predictions(folder / "predictions.npz", num_classes=3)
    np.testing.assert_array_equal(back.tta_prob("test"), result.predictions.extra["test_y_prob_tta"])  # type: ignore[union-attr]
    assert back.cross_names == ["plus"]
    saved = back.cross("plus")
    assert saved is not None
    y, p = saved
    assert y.dtype == np.int64 and p.shape == (9, 2) and back.cross("plus", tta=True) is not None
    assert back.tta_prob("validation") is not None and Predictions(y, p, y, p).tta_prob() is None


def test_run_json_records_the_fold_and_the_extra_test_sets() -> None:
    from dataclasses import replace

    rec = _run()
    info = replace(rec.dataset, fold={"fold": 2, "folds": 5}, cross={"plus": {
        "kind": "synthetic", "source": "synthetic", "fingerprint": "e" * 64, "labels": None, "split": "test", "classes": ["happy", "sad"],
        "size": 9, "dropped": {"contempt": 2}, "in_train": 0, "mapping": "faces of contempt left out"}})
    d = rec.but(dataset=info).to_dict()
    assert run_problems(d) == [] and d["dataset"]["fold"] == {"fold": 2, "folds": 5}
    assert RunRecord.from_dict(d).to_dict() == d
    assert "fold" not in rec.to_dict()["dataset"] and "cross" not in rec.to_dict()["dataset"]  # absent unless used


def test_a_torn_cross_array_is_refused(tmp_path: Path) -> None:
    from ferbench.results.read import load_predictions

    result = _protocol_result()
    arrays = result.predictions.arrays()  # type: ignore[union-attr]
    arrays["cross_plus_y_prob"] = arrays["cross_plus_y_prob"][:4]
    np.savez(tmp_path / "p.npz", **arrays)
    with pytest.raises(ResultsError, match="cross_plus_y_true and cross_plus_y_prob do not line up"):
        load_predictions(tmp_path / "p.npz")
