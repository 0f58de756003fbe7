"""search.constraints: bounds on parameters and MACs judged by the cost model before a trial builds anything.

The search space lies mostly above the bound (16 of its 19 widths make a model over
it). The search must still finish its three trials with feasible ones, build and train
only models within the bound, and record every infeasible trial as such: never built,
no epoch, no training time. Optuna holds those trials complete with a positive
constraint value, which is what its samplers learn from; a study rebuilt from the
records holds exactly the same.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")
optuna = pytest.importorskip("optuna")

from runspecs import PARAMS_BOUND, write_frontier_spec  # noqa: E402

from ferbench.results import load_run  # noqa: E402
from ferbench.results.schema import record_problems, run_problems  # noqa: E402
from ferbench.run.progress import PlainReporter  # noqa: E402
from ferbench.run.runner import run_spec  # noqa: E402

pytestmark = pytest.mark.slow

SEARCH = f"""\
  sampler: {{name: tpe, n_startup_trials: 2}}
  constraints: {{params: {{max: {PARAMS_BOUND}}}}}
"""


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory):
    """A finished bounded search; ``built`` lists the parameter count of every model a trial built."""
    from ferbench.run.train import trial as trial_mod

    root = tmp_path_factory.mktemp("bounded")
    spec = write_frontier_spec(root, name="bounded", trials=3, search=SEARCH)
    built: list[int] = []
    real = trial_mod.build_for

    def counting(setup, hp):  # type: ignore[no-untyped-def]
        model = real(setup, hp)
        built.append(int(model.count_params()))
        return model

    mp = pytest.MonkeyPatch()
    mp.setattr(trial_mod, "build_for", counting)
    try:
        [result] = run_spec(spec, reporter=PlainReporter(io.StringIO()))
    finally:
        mp.undo()
    return spec, result, built


def _records(folder: Path) -> dict[int, dict]:
    return {int(p.parent.name): json.loads(p.read_text()) for p in folder.glob("trials/*/record.json")}


def test_the_trial_count_is_met_with_feasible_trials(bounded) -> None:
    _, result, built = bounded
    assert result.status == "complete"
    counts = result.info.to_dict()["trials"]
    assert counts["complete"] == 3 and counts["failed"] == counts["pruned"] == 0
    assert counts["infeasible"] >= 1, "a space mostly over the bound proposes infeasible models"
    records = _records(result.folder)
    feasible = [r for r in records.values() if r["state"] == "complete"]
    assert len(feasible) == 3 and all(r["cost"]["params"] <= PARAMS_BOUND for r in feasible)
    assert all(r["constraints"] == {"feasible": True, "bounds": {"params": {"max": PARAMS_BOUND, "value": r["cost"]["params"]}}}
               for r in feasible)


def test_infeasible_trials_never_build_nor_train(bounded) -> None:
    _, result, built = bounded
    records = _records(result.folder)
    infeasible = [r for r in records.values() if r["state"] == "infeasible"]
    assert len(infeasible) == result.info.trials.infeasible
    # Only the feasible trials built a model: every infeasible one was judged by the cost model alone.
    assert len(built) == 3 and all(p <= PARAMS_BOUND for p in built)
    for r in infeasible:
        assert r["cost"]["params"] > PARAMS_BOUND
        assert r["epochs"] == 0 and r["best_epoch"] is None and r["history"] == {}
        assert r["timings"] == {"train_s": 0.0, "eval_s": 0.0, "epoch_s": []}
        assert "metrics" not in r and "latency" not in r and r["objective"] is None
        assert r["constraints"]["feasible"] is False and r["constraints"]["bounds"]["params"]["value"] == r["cost"]["params"]
        assert r["error"].startswith("over search.constraints: params")
        folder = result.folder / "trials" / f"{r['trial']:04d}"
        assert not (folder / "predictions.npz").exists() and not (folder / "model.keras").exists()
        assert record_problems(r) == []
    assert run_problems(result.info.to_dict()) == []


def test_optuna_learns_from_the_infeasible_trials(bounded) -> None:
    """Optuna keeps them complete with a positive constraint value: TPE and NSGA-II rank them below every feasible trial."""
    _, result, _ = bounded
    study = optuna.load_study(study_name=result.run_id, storage=f"sqlite:///{result.folder / 'study.db'}")
    records = _records(result.folder)
    for t in study.trials:
        state = records[t.number]["state"]
        assert t.state == optuna.trial.TrialState.COMPLETE
        assert set(t.constraints) == {"params"}
        assert (t.constraints["params"] > 0) == (state == "infeasible")
        assert bool(t.user_attrs.get("ferbench_infeasible")) == (state == "infeasible")
    feasible = optuna.study._constrained_optimization._get_feasible_trials(study.trials)
    assert sorted(t.number for t in feasible) == sorted(n for n, r in records.items() if r["state"] == "complete")
    assert study.best_trial.number == result.info.best_trial


def test_a_study_rebuilt_from_the_records_tells_optuna_the_same(bounded, tmp_path: Path) -> None:
    spec, result, _ = bounded
    copy = tmp_path / "results" / "bounded" / result.run_id
    shutil.copytree(result.folder, copy)
    (copy / "study.db").unlink()
    before = {p: p.read_bytes() for p in copy.glob("trials/*/record.json")}
    moved = spec.read_text().replace(str(spec.parent / "results"), str(tmp_path / "results"))
    (tmp_path / "bounded.yaml").write_text(moved)
    [again] = run_spec(tmp_path / "bounded.yaml", reporter=PlainReporter(io.StringIO()))
    assert again.status == "complete" and again.folder == copy
    assert {p: p.read_bytes() for p in copy.glob("trials/*/record.json")} == before  # nothing retrained
    old = optuna.load_study(study_name=result.run_id, storage=f"sqlite:///{result.folder / 'study.db'}").trials
    new = optuna.load_study(study_name=result.run_id, storage=f"sqlite:///{copy / 'study.db'}").trials
    assert [(t.number, t.state, t.values, t.constraints) for t in new] == [(t.number, t.state, t.values, t.constraints) for t in old]
    assert load_run(copy).info.trials == result.info.trials


def test_a_bound_no_model_of_the_space_meets_is_refused_before_anything_runs(tmp_path: Path) -> None:
    from ferbench.errors import SpecError
    from ferbench.spec import load_spec

    spec = write_frontier_spec(tmp_path, name="impossible", search="  constraints: {params: {max: 1000}}\n")
    with pytest.raises(SpecError, match=r"search.constraints.params.max: the smallest model of the search space has 3,591 parameters"):
        load_spec(spec)
    assert not (tmp_path / "results").exists()
