"""The study: samplers and pruners from the spec, exact trial accounting, dead-trial recovery."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from runspecs import write_spec  # noqa: E402

from ferbench.run.search import accounting as st  # noqa: E402
from ferbench.run.search import study as sy  # noqa: E402
from ferbench.run.search.storage import open_storage  # noqa: E402
from ferbench.spec import load_spec  # noqa: E402
from ferbench.spec.search_types import PrunerSpec, SamplerSpec, SearchParam  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")

S = optuna.trial.TrialState
SPACE = (SearchParam("width", "model.width", "float", 0.1, 0.3, 0.05), SearchParam("top_filters", "model.top_filters", "int", 16, 64, 16))


@pytest.fixture
def spec(tmp_path: Path):
    return load_spec(write_spec(tmp_path, trials=3))


def _study(spec, tmp_path: Path, name: str = "run0"):
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    return sy.open_study(spec, study_name=name, storage=storage, spec_hash="h" * 64)


def test_tpe_options_are_passed_explicitly() -> None:
    s = sy.make_sampler(SamplerSpec("tpe", {"multivariate": False, "group": False, "constant_liar": False,
                                            "n_startup_trials": 3, "n_ei_candidates": 7, "seed": 5}), SPACE, 1)
    assert isinstance(s, optuna.samplers.TPESampler)
    # Optuna 5's defaults are multivariate=None (auto) and constant_liar=True: ours must win.
    assert s._multivariate is False and s._constant_liar is False
    assert s._n_startup_trials == 3 and s._n_ei_candidates == 7


@pytest.mark.parametrize("name, cls", [("random", "RandomSampler"), ("grid", "GridSampler"), ("qmc", "QMCSampler")])
def test_other_samplers(name: str, cls: str) -> None:
    assert type(sy.make_sampler(SamplerSpec(name, {"seed": None}), SPACE, 1)).__name__ == cls


def test_grid_points_are_exact() -> None:
    from ferbench.run.train.space import grid_space

    g = grid_space(SPACE)
    assert g == {"width": [0.1, 0.15, 0.2, 0.25, 0.3], "top_filters": [16, 32, 48, 64]}


@pytest.mark.parametrize("name, cls", [("none", "NopPruner"), ("median", "MedianPruner"),
                                       ("successive_halving", "SuccessiveHalvingPruner"), ("hyperband", "HyperbandPruner")])
def test_pruners(name: str, cls: str) -> None:
    opts = {"n_startup_trials": 2, "n_warmup_steps": 1, "min_resource": 1, "reduction_factor": 3}
    assert type(sy.make_pruner(PrunerSpec(name, opts), max_epochs=9)).__name__ == cls


def test_sampler_seed_differs_only_for_restarts_and_workers() -> None:
    assert sy.sampler_seed(7) == 7
    assert sy.sampler_seed(7, resumed_at=3) != 7
    assert sy.sampler_seed(7, stream=1) != sy.sampler_seed(7, stream=2)


def test_trial_seed_is_stable_and_per_root() -> None:
    assert st.trial_seed(3, 1) == st.trial_seed(3, 1)
    assert st.trial_seed(3, 1) != st.trial_seed(3, 2)
    assert 0 <= st.trial_seed(3, 1) < 2**31


def test_study_refuses_another_spec(spec, tmp_path: Path) -> None:
    from ferbench.errors import ResultsError

    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    sy.open_study(spec, study_name="r", storage=storage, spec_hash="a" * 64)
    with pytest.raises(ResultsError, match="different spec"):
        sy.open_study(spec, study_name="r", storage=storage, spec_hash="b" * 64)
    assert sy.open_study(spec, study_name="r", storage=storage, spec_hash="a" * 64).user_attrs["spec_hash"] == "a" * 64


def test_dead_trial_is_requeued_and_not_counted(spec, tmp_path: Path) -> None:
    study = _study(spec, tmp_path)
    t0 = study.ask()
    t0.suggest_float("width", 0.1, 0.3)
    study.tell(t0, 1.0)
    dead = study.ask()  # its process "dies": it stays RUNNING
    w = dead.suggest_float("width", 0.1, 0.3)
    assert st.recover_dead(study, exclusive=True) == [dead.number]
    c = st.counts(study, 3)
    assert (c.complete, c.failed, c.waiting, c.retried) == (1, 0, 1, (dead.number,))
    retry = study.ask()  # the queued re-run comes first, with the same value
    assert retry.suggest_float("width", 0.1, 0.3) == w
    assert retry.user_attrs[st.ATTR_RETRY_OF] == dead.number
    assert st.within_quota(study, retry.number, 3)


def test_failed_trial_with_error_counts(spec, tmp_path: Path) -> None:
    study = _study(spec, tmp_path)
    t = study.ask()
    t.set_user_attr(st.ATTR_ERROR, "nan loss at epoch 1")
    study.tell(t, state=S.FAIL)
    st.requeue(study, study.trials[0])  # a failure of its own is never re-run
    c = st.counts(study, 3)
    assert (c.failed, c.waiting, c.finished) == (1, 0, 1)


def test_surplus_trials_are_out_of_quota(spec, tmp_path: Path) -> None:
    study = _study(spec, tmp_path)
    running = [study.ask() for _ in range(4)]  # four workers asked at once for a 3-trial study
    assert [st.within_quota(study, t.number, 3) for t in running] == [True, True, True, False]
    running[3].set_user_attr(st.ATTR_SURPLUS, True)
    study.tell(running[3], state=S.FAIL)
    for t in running[:3]:
        study.tell(t, 0.5)
    c = st.counts(study, 3)
    assert c.done and (c.complete, c.failed, c.surplus) == (3, 0, (3,))


def test_best_complete_breaks_ties_by_number(spec, tmp_path: Path) -> None:
    study = _study(spec, tmp_path)
    for v in (2.0, 1.0, 1.0):
        study.tell(study.ask(), v)
    assert st.best_complete(study, "minimize") == (1, 1.0)
    assert st.best_complete(study, "maximize") == (0, 2.0)


def test_heartbeat_recovery_for_shared_storage(spec, tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'hb.db'}", heartbeat_interval=1, grace_period=1)
    study = sy.open_study(spec, study_name="hb", storage=storage, spec_hash="h" * 64)
    t = study.ask()
    t.suggest_float("width", 0.1, 0.3)
    storage.record_heartbeat(t._trial_id)
    import time

    time.sleep(2.2)
    assert st.recover_dead(study, exclusive=False) == [t.number]
    assert st.counts(study, 3).waiting == 1


def test_sampler_options_from_a_loaded_spec(spec) -> None:
    s2 = dataclasses.replace(spec.search.sampler, name="tpe")
    sampler = sy.make_sampler(s2, spec.search.space, spec.seed)
    assert sampler._constant_liar is False


def test_the_study_keeps_its_runs_facts_and_refuses_a_worker_on_other_data() -> None:
    from ferbench.errors import ResultsError
    from ferbench.results.records import DatasetInfo, Objective, RunRecord
    from ferbench.run.search.publish import publish_run

    def record(fingerprint: str, host: str) -> RunRecord:
        data = DatasetInfo(kind="synthetic", source=f"/data/on/{host}", fingerprint=fingerprint, classes=("a", "b"),
                           image_size=32, color="grayscale", sizes={"train": 4, "validation": 2, "test": 2},
                           splits={}, class_weight=None)
        env = {"python": "3", "ferbench": "0", "tensorflow": None, "keras": None, "optuna": None, "numpy": None,
               "git_commit": None, "host": host, "platform": "p", "cpu": "c", "gpus": []}
        return RunRecord.new(run_id="0123456789ab", spec_name="tiny", spec_hash="a" * 64, matrix_cell={}, seed=3,
                             objective=Objective("val_loss", "minimize"), target=2, dataset=data, environment=env,
                             devices=["cpu"], storage="postgresql://u:***@db/optuna")

    study = optuna.create_study()
    publish_run(study, record("f" * 64, "host-a"))
    assert study.user_attrs["ferbench_run"]["dataset"]["fingerprint"] == "f" * 64
    publish_run(study, record("f" * 64, "host-b"))  # the same data elsewhere: welcome (its files lie elsewhere)
    assert study.user_attrs["ferbench_run"]["environment"]["host"] == "host-a"  # the first worker's facts stay
    with pytest.raises(ResultsError, match=r"this host's data \(/data/on/host-c, fingerprint eeeeeeeeeeee\) differs from "
                                           r"the data the study was started with on host-a"):
        publish_run(study, record("e" * 64, "host-c"))
