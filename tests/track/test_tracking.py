"""Tracking a run in MLflow and TensorBoard, against a real ``mlflow server`` (SQLite backend, a local port).

One tiny two-trial run with ``tracking: {mlflow, tensorboard}``. The server is stopped
during the second trial: the run completes, one warning line is printed, the records
are whole. The server comes back and ``ferbench track`` fills MLflow in; a second
``ferbench track`` adds nothing. Then MLflow, read back with its own client, holds one
parent run with two nested trial runs whose parameters, per-epoch metrics and final
metrics equal the records; TensorBoard's own event reader reads the epoch losses of
the history files back.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("optuna")
pytest.importorskip("mlflow", reason="MLflow is not installed (pip install 'ferbench[mlflow]')")

from runspecs import write_spec  # noqa: E402

from ferbench.cli.main import main  # noqa: E402

pytestmark = pytest.mark.slow


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(list(args))
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def tracked(mlflow_server, tmp_path_factory: pytest.TempPathFactory):
    from ferbench.track import mlflow_runs

    root = tmp_path_factory.mktemp("tracked")
    spec = write_spec(root, name="tracked", trials=2, epochs=2)
    original = mlflow_runs.MlflowRuns.log_epoch
    stopped: list[int] = []

    def log_epoch(self, mlflow_id, epoch, logs):  # the server goes down once trial 1 has sent its first epoch
        original(self, mlflow_id, epoch, logs)
        trial = self.client.get_run(mlflow_id).data.tags["ferbench.trial"]
        if trial == "1" and not stopped:
            stopped.append(epoch)
            mlflow_server.stop()

    mp = pytest.MonkeyPatch()
    mp.setattr(mlflow_runs.MlflowRuns, "log_epoch", log_epoch)
    try:
        rc, out, err = _cli("run", str(spec), "--quiet", "--tracking", mlflow_server.uri, "--tracking", "tensorboard")
    finally:
        mp.undo()
    assert stopped, "the server was never stopped: the test did not test a failure"
    [folder] = [p.parent for p in (root / "results" / "tracked").glob("*/run.json")]
    mlflow_server.start()
    first = _cli("track", str(folder), "--mlflow", mlflow_server.uri, "--log-model")
    second = _cli("track", str(folder), "--mlflow", mlflow_server.uri)
    return folder, (rc, out, err), first, second


def _records(folder: Path) -> dict[int, dict]:
    return {int(p.parent.name): json.loads(p.read_text()) for p in sorted((folder / "trials").glob("*/record.json"))}


def test_a_server_that_goes_down_costs_one_warning_line_and_no_trial(tracked) -> None:
    folder, (rc, _, err), _, _ = tracked
    assert rc == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "MLflow tracking is off" in warnings[0] and "ferbench track" in warnings[0], err
    assert json.loads((folder / "run.json").read_text())["status"] == "complete"
    assert sorted(_records(folder)) == [0, 1] and all(r["state"] == "complete" for r in _records(folder).values())


def test_ferbench_track_fills_mlflow_in_and_a_second_send_adds_nothing(tracked, mlflow_server) -> None:
    from mlflow.tracking import MlflowClient

    folder, _, (rc1, out1, err1), (rc2, out2, err2) = tracked
    assert rc1 == 0 and rc2 == 0, err1 + err2
    assert "View run" not in out1 + out2  # MLflow's own links stay out of ferbench's output
    assert "sent trial(s) 1;" in out1 and "already there: 0" in out1  # trial 0 went live, trial 1 was half-sent
    assert "sent trial(s) none" in out2 and "already there: 0, 1" in out2
    client = MlflowClient(tracking_uri=mlflow_server.uri)
    [exp] = [e for e in client.search_experiments() if e.name == "tracked"]
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 3  # one parent and two trials: nothing twice


def test_mlflow_holds_the_runs_nested_with_the_records_numbers(tracked, mlflow_server) -> None:
    from mlflow.tracking import MlflowClient

    folder, *_ = tracked
    run_json = json.loads((folder / "run.json").read_text())
    client = MlflowClient(tracking_uri=mlflow_server.uri)
    [exp] = [e for e in client.search_experiments() if e.name == "tracked"]
    runs = client.search_runs([exp.experiment_id])
    [parent] = [r for r in runs if r.data.tags.get("ferbench.level") == "run"]
    assert parent.data.tags["ferbench.run_id"] == run_json["run_id"] and parent.data.tags["ferbench.spec_name"] == "tracked"
    assert parent.data.tags["ferbench.architecture"] == "efficientnetv2-s" and parent.info.status == "FINISHED"
    assert parent.data.tags["ferbench.git_commit"] and "tensorflow" in parent.data.tags["ferbench.environment"]
    assert parent.data.tags["ferbench.best_trial"] == str(run_json["best_trial"])
    assert [a.path for a in client.list_artifacts(parent.info.run_id, "model")] == ["model/model.keras"]  # --log-model
    trials = {int(r.data.tags["ferbench.trial"]): r for r in runs if r.data.tags.get("ferbench.level") == "trial"}
    for n, rec in _records(folder).items():
        r = trials[n]
        assert r.data.tags["mlflow.parentRunId"] == parent.info.run_id and r.info.status == "FINISHED"
        assert r.data.params == {k: str(v) for k, v in rec["hyperparameters"].items()}
        assert set(rec["params"]) <= set(r.data.params)
        for key, values in rec["history"].items():
            got = sorted(client.get_metric_history(r.info.run_id, key), key=lambda m: m.step)
            assert [m.step for m in got] == list(range(1, len(values) + 1)), key
            assert [m.value for m in got] == pytest.approx(values, rel=1e-6), key
        for split in ("validation", "test"):
            for key, value in rec["metrics"][split].items():
                if isinstance(value, float):
                    assert r.data.metrics[f"{split}_{key}"] == pytest.approx(value, rel=1e-9), (split, key)
        artifacts = {a.path for a in client.list_artifacts(r.info.run_id)}
        assert {"record.json", "history.json", "confusion_test.png"} <= artifacts


def test_tensorboard_event_files_read_back_equal_the_history(tracked) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder, *_ = tracked
    for n, rec in _records(folder).items():
        acc = EventAccumulator(str(folder / "tensorboard" / f"trial_{n:04d}"), size_guidance={"tensors": 0})
        acc.Reload()
        import tensorflow as tf

        for key in ("loss", "val_loss"):
            events = acc.Tensors(f"epoch/{key}")
            assert [e.step for e in events] == list(range(1, len(rec["history"][key]) + 1))
            assert [float(tf.make_ndarray(e.tensor_proto)) for e in events] == pytest.approx(rec["history"][key], rel=1e-6)
        assert "epoch/learning_rate" in acc.Tags()["tensors"]
        rates = [float(tf.make_ndarray(e.tensor_proto)) for e in acc.Tensors("epoch/learning_rate")]
        assert rates == pytest.approx([rec["hyperparameters"]["learning_rate"]] * len(rates), rel=1e-5)
        assert "_hparams_/session_start_info" in acc.Tags()["tensors"]  # the HParams plugin's view of the trial
        assert acc.Tensors("test_accuracy")[0].step == rec["epochs"]
        assert float(tf.make_ndarray(acc.Tensors("test_accuracy")[0].tensor_proto)) == pytest.approx(rec["metrics"]["test"]["accuracy"])
