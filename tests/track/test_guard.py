"""A tracker's failure is one warning line without passwords, and the tracker is off from then on; a tracking URI's password stays off disk."""

from __future__ import annotations

from pathlib import Path

from ferbench.results.paths import RunPaths
from ferbench.secrets import remember
from ferbench.track.base import Guarded, Tracker

URI = "http://alice:s3cr%2Fet@tracking.example:5000"


class Refusing(Tracker):
    name = "MLflow"

    def __init__(self) -> None:
        self.calls = 0

    def trial_started(self, number: int, params: object) -> None:
        self.calls += 1
        raise ConnectionError(f"cannot reach {URI}/api/2.0/mlflow/runs/create")


class Counting(Tracker):
    name = "TensorBoard"

    def __init__(self) -> None:
        self.epochs: list[tuple[int, int]] = []

    def epoch_end(self, number: int, epoch: int, logs: object) -> None:
        self.epochs.append((number, epoch))


def test_a_failing_tracker_is_one_line_without_its_password_and_the_others_go_on() -> None:
    remember(URI)
    lines: list[str] = []
    bad, good = Refusing(), Counting()
    guard = Guarded([bad, good], lines.append)
    for n in range(3):
        guard.trial_started(n, {})
        guard.epoch_end(n, 1, {"loss": 1.0})
    assert bad.calls == 1 and good.epochs == [(0, 1), (1, 1), (2, 1)]
    [line] = lines
    assert line.startswith("warning: MLflow tracking is off") and "ferbench track RUN_FOLDER" in line
    assert "s3cr" not in line and "alice:***@tracking.example" in line


def test_the_resolved_spec_on_disk_hides_the_tracking_password(tmp_path: Path) -> None:
    from ferbench.plan import plan_spec
    from ferbench.run.session import RunSession
    from ferbench.spec import load_spec

    repo = Path(__file__).resolve().parents[2]
    spec = load_spec(repo / "benchmarks" / "quickstart.yaml", [f"tracking.mlflow.uri={URI}", "tracking.tensorboard=true"])
    assert spec.tracking.mlflow is not None and spec.tracking.mlflow.uri == URI and spec.tracking.tensorboard
    plain = load_spec(repo / "benchmarks" / "quickstart.yaml")
    [run] = plan_spec(spec, gpus=[]).runs
    assert run.run_id == plan_spec(plain, gpus=[]).runs[0].run_id  # where trials are tracked is not part of the run id
    session = RunSession(run, folder=tmp_path / "run")
    session.write_spec()
    text = RunPaths(tmp_path / "run").spec.read_text()
    assert "s3cr" not in text and "alice:***@tracking.example:5000" in text


def test_ferbench_track_to_a_server_that_is_not_there_is_one_line_without_the_password(tmp_path: Path) -> None:
    import io
    import json
    import socket
    from contextlib import redirect_stderr, redirect_stdout

    import pytest

    pytest.importorskip("mlflow", reason="MLflow is not installed (pip install 'ferbench[mlflow]')")
    from ferbench.cli.main import main

    reference = Path(__file__).resolve().parents[2] / "results" / "reference"
    run_dir = next(p.parent for p in sorted(reference.rglob("run.json")))
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(["track", str(run_dir), "--mlflow", f"http://alice:s3cret@127.0.0.1:{port}"])
    assert rc == 2 and err.getvalue().count("\n") == 1, err.getvalue()
    assert "MLflow refused or is unreachable" in err.getvalue() and "s3cret" not in err.getvalue() + out.getvalue()
    assert json.loads((run_dir / "run.json").read_text())["run_id"]  # the folder is only read
