"""search.objectives: a multi-objective study whose best is its Pareto set, kept in the records.

A tiny NSGA-II search maximises validation accuracy and minimises parameters and
batch-1 latency under a bound on parameters. run.json's Pareto set must be what the
records say (recomputed from them) and what Optuna says (its own Pareto front of the
feasible trials); each record carries its objective values and latency, each Pareto
trial its model; every file validates against its schema.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")
optuna = pytest.importorskip("optuna")

from runspecs import write_frontier_spec  # noqa: E402

from ferbench.results import load_run  # noqa: E402
from ferbench.results.pareto import pareto_trials, record_values  # noqa: E402
from ferbench.results.schema import record_problems, run_problems  # noqa: E402
from ferbench.run.progress import PlainReporter  # noqa: E402
from ferbench.run.runner import run_spec  # noqa: E402

pytestmark = pytest.mark.slow

BOUND = 20000  # widths of 1.0 make 33,407 parameters: over it
SEARCH = f"""\
  sampler: {{name: nsga2, population_size: 2}}
  objectives:
    - {{metric: val_accuracy}}
    - {{metric: params}}
    - {{metric: latency_ms}}
  constraints: {{params: {{max: {BOUND}}}}}
"""
METRICS = ("val_accuracy", "params", "latency_ms")
DIRECTIONS = ("maximize", "minimize", "minimize")


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("pareto")
    spec = write_frontier_spec(root, name="pareto", trials=3, search=SEARCH)
    log = io.StringIO()
    [result] = run_spec(spec, reporter=PlainReporter(log))
    assert result.status == "complete"
    return result, log.getvalue()


def _records(folder: Path) -> dict[int, dict]:
    return {int(p.parent.name): json.loads(p.read_text()) for p in folder.glob("trials/*/record.json")}


def test_run_json_keeps_the_objectives_and_the_pareto_set(searched) -> None:
    result, _ = searched
    info = json.loads((result.folder / "run.json").read_text())
    assert run_problems(info) == []
    assert info["objectives"] == [{"metric": m, "direction": d} for m, d in zip(METRICS, DIRECTIONS)]
    assert info["objective"] == {"metric": "val_accuracy", "direction": "maximize"}  # the one that picks the best trial
    run = load_run(result.folder)
    assert info["pareto"] == pareto_trials(run.trials, METRICS, DIRECTIONS) != []
    study = optuna.load_study(study_name=result.run_id, storage=f"sqlite:///{result.folder / 'study.db'}")
    assert info["pareto"] == sorted(t.number for t in study.best_trials)  # Optuna's own front of the feasible trials


def test_each_record_carries_its_values_and_latency(searched) -> None:
    result, _ = searched
    for n, r in _records(result.folder).items():
        assert record_problems(r) == [], n
        assert len(r["values"]) == len(METRICS)
        if r["state"] != "complete":
            assert r["state"] == "infeasible" and r["values"][0] is None and r["values"][1] > BOUND and r["values"][2] is None
            continue
        val_acc = r["history"]["val_accuracy"][r["best_epoch"] - 1]
        assert r["values"] == [val_acc, r["cost"]["params"], r["latency"]["batches"][0]["median_ms"]]
        lat = r["latency"]
        assert lat["device"] == "cpu" and lat["device_name"] and lat["threads"] >= 1 and lat["runtime"].startswith("tensorflow ")
        assert [(b["batch_size"], b["warmup"], b["repeats"]) for b in lat["batches"]] == [(1, 10, 50), (32, 2, 5)]
        assert all(b["median_ms"] > 0 for b in lat["batches"])


def test_pareto_trials_keep_their_model_and_the_best_is_the_most_accurate(searched) -> None:
    result, log = searched
    run = load_run(result.folder)
    for t in run.pareto:
        assert (result.folder / "trials" / f"{t.trial:04d}" / "model.keras").is_file()
    feasible = [t for t in run.complete_trials if t.feasible]
    best = max(feasible, key=lambda t: (record_values(t, ["val_accuracy"])[0], -t.trial))
    assert run.info.best_trial == best.trial and run.info.best_trial in run.info.pareto  # type: ignore[operator]
    assert json.loads((result.folder / "best" / "best.json").read_text())["trial"] == best.trial
    assert "infeasible, not trained" in log or run.info.trials.infeasible == 0


def test_a_second_start_keeps_the_pareto_set_and_trains_nothing(searched) -> None:
    result, _ = searched
    before = {p: p.read_bytes() for p in result.folder.glob("trials/*/record.json")}
    spec = result.folder.parents[2] / "pareto.yaml"
    [again] = run_spec(spec, reporter=PlainReporter(io.StringIO()))
    assert {p: p.read_bytes() for p in result.folder.glob("trials/*/record.json")} == before
    assert again.info.pareto == result.info.pareto and again.info.best_trial == result.info.best_trial


def test_the_cli_prints_the_pareto_set(searched) -> None:
    from ferbench.cli.table import pareto_table, summary_line

    result, _ = searched
    info = json.loads((result.folder / "run.json").read_text())
    records = [_records(result.folder)[n] for n in info["pareto"]]
    from rich.console import Console

    console = Console(file=io.StringIO(), width=200)
    console.print(pareto_table(info, records))
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert f"Pareto set ({len(records)} trial" in shown and "val_accuracy (max)" in shown and "latency_ms (min)" in shown
    best = _records(result.folder)[info["best_trial"]]
    assert f"Pareto set: trial(s) {', '.join(map(str, info['pareto']))}" in summary_line(info, best)


def test_a_study_rebuilt_from_the_records_holds_the_same_values(searched, tmp_path: Path) -> None:
    import shutil

    result, _ = searched
    copy = tmp_path / "results" / "pareto" / result.run_id
    shutil.copytree(result.folder, copy)
    (copy / "study.db").unlink()
    spec = (result.folder.parents[2] / "pareto.yaml").read_text().replace(str(result.folder.parents[2] / "results"), str(tmp_path / "results"))
    (tmp_path / "pareto.yaml").write_text(spec)
    [again] = run_spec(tmp_path / "pareto.yaml", reporter=PlainReporter(io.StringIO()))
    old = optuna.load_study(study_name=result.run_id, storage=f"sqlite:///{result.folder / 'study.db'}").trials
    new = optuna.load_study(study_name=result.run_id, storage=f"sqlite:///{copy / 'study.db'}").trials
    assert [(t.number, t.state, t.values, t.constraints) for t in new] == [(t.number, t.state, t.values, t.constraints) for t in old]
    assert again.info.pareto == result.info.pareto
