"""A whole tiny search in process: records, schemas, metrics, the best model, resume, evaluate.

One run (three trials, two epochs, 32x32 synthetic faces) is shared by the tests of
this module. One trial's loss goes NaN: the test makes the model of the trial with
learning rate ``NAN_LR`` emit NaN (a wrapper around the real builder, nothing in
ferbench knows about it), and the run must record that trial as failed and finish
the others.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("optuna")

from runspecs import write_spec  # noqa: E402
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support  # noqa: E402

from ferbench.results import load_run  # noqa: E402
from ferbench.results.metrics import cross_entropy  # noqa: E402
from ferbench.run.progress import PlainReporter  # noqa: E402
from ferbench.run.runner import run_spec  # noqa: E402

NAN_LR = 0.0091
SPACE = f"""\
    learning_rate: {{choices: [0.004, {NAN_LR}, 0.002]}}
    width: {{choices: [0.2]}}
"""

pytestmark = pytest.mark.slow


def _inject_nan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trials with ``NAN_LR`` get a model whose output, and so whose loss, is NaN."""
    import keras

    from ferbench.run.train import trial as trial_mod

    real = trial_mod.build_for

    def build(setup, hp):  # type: ignore[no-untyped-def]
        model = real(setup, hp)
        if hp["learning_rate"] != NAN_LR:
            return model
        out = keras.layers.Lambda(lambda t: t * float("nan"), name="test_nan")(model.outputs[0])
        return keras.Model(model.inputs, out)

    monkeypatch.setattr(trial_mod, "build_for", build)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory):
    mp = pytest.MonkeyPatch()
    _inject_nan(mp)
    root = tmp_path_factory.mktemp("e2e")
    spec = write_spec(root, name="e2e", trials=3, epochs=2, sampler="grid", space=SPACE)
    log = io.StringIO()
    try:
        results = run_spec(spec, reporter=PlainReporter(log))
    finally:
        mp.undo()
    assert len(results) == 1
    return spec, results[0], log.getvalue()


def _records(folder: Path) -> dict[int, dict]:
    return {int(p.parent.name): json.loads(p.read_text()) for p in folder.glob("trials/*/record.json")}


def test_run_completes_with_the_nan_trial_failed(finished) -> None:
    _, result, log = finished
    assert result.status == "complete"
    assert result.info.to_dict()["trials"] == {"target": 3, "complete": 2, "failed": 1, "pruned": 0}
    recs = _records(result.folder)
    assert sorted(recs) == [0, 1, 2]
    failed = [r for r in recs.values() if r["state"] == "failed"]
    assert len(failed) == 1
    assert failed[0]["params"]["learning_rate"] == NAN_LR
    assert failed[0]["error"] == "nan loss at epoch 1"
    assert "metrics" not in failed[0] and failed[0]["objective"] is None
    assert not (result.folder / "trials" / f"{failed[0]['trial']:04d}" / "predictions.npz").exists()
    assert "nan loss at epoch 1" in log


def test_outputs_validate_against_the_schemas(finished) -> None:
    _, result, _ = finished
    run = load_run(result.folder)  # validates run.json and every record, checks the counts
    assert len(run.trials) == 3
    assert (result.folder / "spec.resolved.yaml").exists()
    env = result.info.to_dict()["environment"]
    assert env["tensorflow"] and env["optuna"] and env["numpy"] and env["keras"]
    assert result.info.to_dict()["devices"] == ["cpu"] and result.info.to_dict()["storage"].endswith("study.db")


def test_metrics_equal_sklearn_from_saved_predictions(finished) -> None:
    _, result, _ = finished
    classes = result.info.to_dict()["dataset"]["classes"]
    labels = list(range(len(classes)))
    for n, rec in _records(result.folder).items():
        if rec["state"] != "complete":
            continue
        with np.load(result.folder / "trials" / f"{n:04d}" / "predictions.npz") as z:
            for split in ("validation", "test"):
                y, p = z[f"{split}_y_true"], z[f"{split}_y_prob"]
                m = rec["metrics"][split]
                pred = p.argmax(1)
                assert m["n"] == len(y) == result.info.to_dict()["dataset"]["sizes"][split]
                assert m["accuracy"] == float(np.mean(pred == y))
                assert m["loss"] == pytest.approx(cross_entropy(y, p), rel=1e-12)
                for avg in ("macro", "weighted"):
                    pr, rc, f1, _ = precision_recall_fscore_support(y, pred, labels=labels, average=avg, zero_division=0)
                    assert (m[f"precision_{avg}"], m[f"recall_{avg}"], m[f"f1_{avg}"]) == (pr, rc, f1)
                pr, rc, f1, sup = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
                assert [m["per_class"][c]["f1"] for c in classes] == f1.tolist()
                assert [m["per_class"][c]["support"] for c in classes] == sup.tolist()
                assert m["confusion"] == confusion_matrix(y, pred, labels=labels).tolist()


def test_objective_and_best_trial_come_from_validation(finished) -> None:
    _, result, _ = finished
    recs = _records(result.folder)
    done = {n: r for n, r in recs.items() if r["state"] == "complete"}
    for r in done.values():
        assert r["objective"] == r["history"]["val_loss"][r["best_epoch"] - 1]
        assert r["epochs"] == len(r["timings"]["epoch_s"]) == len(r["history"]["loss"])
        rows = (result.folder / "trials" / f"{r['trial']:04d}" / "history.csv").read_text().splitlines()
        assert rows[0].startswith("epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds") and len(rows) == r["epochs"] + 1
    best = min(done, key=lambda n: (done[n]["objective"], n))
    assert result.info.to_dict()["best_trial"] == best
    assert json.loads((result.folder / "best" / "best.json").read_text())["trial"] == best
    assert not list((result.folder / "best").glob(".pending-*"))


def test_best_model_reproduces_the_best_predictions(finished) -> None:
    import keras

    _, result, _ = finished
    from ferbench.data import load_dataset
    from ferbench.run.train.trial import predict_proba
    from ferbench.spec import read_resolved

    spec = read_resolved(result.folder / "spec.resolved.yaml")
    data = load_dataset(spec.dataset, seed=spec.seed, progress=False)
    model = keras.models.load_model(result.folder / "best" / "model.keras")
    prob = predict_proba(model, data.splits["test"].x, data.splits["test"].y, 64)
    with np.load(result.folder / "trials" / f"{result.info.to_dict()['best_trial']:04d}" / "predictions.npz") as z:
        np.testing.assert_allclose(prob, z["test_y_prob"], atol=1e-5)


def test_a_second_start_changes_nothing(finished) -> None:
    spec, result, _ = finished
    digest = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in result.folder.glob("trials/*/*")}
    log = io.StringIO()
    again = run_spec(spec, reporter=PlainReporter(log))[0]
    assert again.status == "complete" and again.info.to_dict()["trials"] == result.info.to_dict()["trials"]
    assert "3 trials (3 finished)" in log.getvalue() and "started" not in log.getvalue()
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in result.folder.glob("trials/*/*")} == digest
    assert again.info.to_dict()["wall_time_s"] >= result.info.to_dict()["wall_time_s"]


def test_fresh_moves_the_old_run_aside(finished, tmp_path: Path) -> None:
    import shutil

    from ferbench.run.runner import move_aside

    _, result, _ = finished
    copy = tmp_path / "e2e" / result.run_id
    shutil.copytree(result.folder, copy)
    dest = move_aside(copy)
    assert not copy.exists() and dest.parent == tmp_path / "e2e" / ".old" and (dest / "run.json").exists()


def test_evaluate_the_best_model(finished, tmp_path: Path) -> None:
    from ferbench.results import load_run as load
    from ferbench.run.evaluate import evaluate_model

    _, result, _ = finished
    ev = evaluate_model(result.folder, out=tmp_path / "ev")
    run = load(ev.folder)
    assert run.info.to_dict()["trials"]["complete"] == 1 and run.info.to_dict()["best_trial"] == 0
    best = _records(result.folder)[result.info.to_dict()["best_trial"]]
    for split in ("validation", "test"):
        assert ev.record.to_dict()["metrics"][split]["accuracy"] == pytest.approx(best["metrics"][split]["accuracy"])
        assert ev.record.to_dict()["metrics"][split]["loss"] == pytest.approx(best["metrics"][split]["loss"], rel=1e-4)
    assert ev.record.to_dict()["hyperparameters"]["learning_rate"] == best["hyperparameters"]["learning_rate"]
    # The saved model holds Keras's batch norm; evaluate converts it back to the fused one
    # and so predicts the very numbers the trial recorded.
    trial = result.folder / "trials" / f"{result.info.to_dict()['best_trial']:04d}" / "predictions.npz"
    with np.load(trial) as want, np.load(ev.folder / "trials" / "0000" / "predictions.npz") as got:
        np.testing.assert_array_equal(got["test_y_prob"], want["test_y_prob"])
        np.testing.assert_array_equal(got["validation_y_prob"], want["validation_y_prob"])


def test_evaluate_refuses_a_model_of_another_shape(finished, tmp_path: Path) -> None:
    import keras

    from ferbench.errors import FerbenchError
    from ferbench.run.evaluate import evaluate_model

    spec, _, _ = finished
    inputs = keras.Input((48, 48, 1))
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(inputs)))
    model.save(tmp_path / "other.keras")
    with pytest.raises(FerbenchError, match="does not match"):
        evaluate_model(tmp_path / "other.keras", spec_path=spec, out=tmp_path / "x")


def test_evaluate_an_external_model(finished, tmp_path: Path) -> None:
    import keras

    from ferbench.results import load_run as load
    from ferbench.run.evaluate import evaluate_model

    spec, _, _ = finished
    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x)))
    model.save(tmp_path / "ext.keras")
    ev = evaluate_model(tmp_path / "ext.keras", spec_path=spec, out=tmp_path / "ext", split="validation")
    assert load(ev.folder).info.to_dict()["dataset"]["splits"]["test"] == "validation"
    assert ev.record.to_dict()["hyperparameters"]["external"] is True
    assert ev.record.to_dict()["cost"]["params"] == model.count_params()
    # Named after the model file, not the spec; its training time is unknown, not 0 s.
    assert ev.name == "ext" and load(ev.folder).spec_name == "ext"
    assert ev.record.to_dict()["timings"]["train_s"] is None
    from ferbench.report.api import build_report

    report = build_report([ev.folder], compare=True)
    [row] = [r for sec in report.sections for t in sec.tables for r in t.rows if r.get("kind") == "run"]
    # An untrained head may well predict one class: the health guard's mark may follow the name.
    assert row["model"] in ("ext", "ext (DEGENERATE)") and row["train_time"] is None  # shown as "–", never "0 s"


def test_matrix_cells_run_as_separate_runs(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, name="cells", trials=1, epochs=1)
    spec.write_text(spec.read_text() + "matrix: {loss.class_weight: [none, inverse_frequency]}\n")
    results = run_spec(spec, reporter=PlainReporter(io.StringIO()))
    assert len(results) == 2 and len({r.run_id for r in results}) == 2
    cells = sorted(json.dumps(r.info.to_dict()["matrix_cell"]) for r in results)
    assert cells == ['{"loss.class_weight": "inverse_frequency"}', '{"loss.class_weight": "none"}']
    for r in results:
        load_run(r.folder)
        weights = r.info.to_dict()["dataset"]["class_weight"]
        assert (weights is None) == (r.info.to_dict()["matrix_cell"]["loss.class_weight"] == "none")
        assert r.folder.parent == tmp_path / "results" / "cells"


def test_cli_evaluate_prints_and_writes(finished, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ferbench.cli.main import main

    _, result, _ = finished
    assert main(["evaluate", str(result.folder), "--out", str(tmp_path / "cli-ev")]) == 0
    out = capsys.readouterr().out
    assert "F1 (macro)" in out and (tmp_path / "cli-ev" / "trials" / "0000" / "record.json").exists()


def test_a_run_whose_every_trial_fails_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from ferbench.cli.main import main

    _inject_nan(monkeypatch)
    spec = write_spec(tmp_path, name="allnan", trials=1, epochs=1, sampler="grid",
                      space=f"    learning_rate: {{choices: [{NAN_LR}]}}\n")
    assert main(["run", str(spec)]) == 1
    out = capsys.readouterr().out
    assert "no complete trial" in out
    [info] = [json.loads(p.read_text()) for p in (tmp_path / "results" / "allnan").glob("*/run.json")]
    assert info["status"] == "failed" and info["best_trial"] is None and info["trials"]["failed"] == 1
