"""Trial parameters: suggested values merged over the spec's fixed ones."""

from __future__ import annotations

from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from runspecs import write_spec  # noqa: E402

from ferbench.run.train.space import HYPERPARAMETERS, effective, suggest  # noqa: E402
from ferbench.spec import load_spec  # noqa: E402
from ferbench.spec.search_types import SearchParam  # noqa: E402

SPACE = (
    SearchParam("learning_rate", "train.learning_rate", "float", 1e-4, 1e-2, None, True),
    SearchParam("width", "model.width", "float", 0.2, 0.4, 0.05),
    SearchParam("top_filters", "model.top_filters", "int", 16, 64, 8),
    SearchParam("batch_size", "train.batch_size", "categorical", choices=(16, 32)),
)


def test_suggest_every_kind() -> None:
    params = suggest(optuna.trial.FixedTrial({"learning_rate": 1e-3, "width": 0.25, "top_filters": 24, "batch_size": 32}), SPACE)
    assert params == {"learning_rate": 1e-3, "width": 0.25, "top_filters": 24, "batch_size": 32}


def test_suggest_respects_step_and_log() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        p = suggest(study.ask(), SPACE)
        assert 1e-4 <= p["learning_rate"] <= 1e-2
        assert round((p["width"] - 0.2) / 0.05, 6).is_integer()
        assert (p["top_filters"] - 16) % 8 == 0


def test_effective_merges_fixed_values(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path))
    hp = effective(spec, {"learning_rate": 0.004, "width": 0.15})
    assert tuple(hp) == (*HYPERPARAMETERS, "arch")
    assert hp["learning_rate"] == 0.004 and hp["width"] == 0.15
    assert hp["depth"] == 0.25 and hp["top_filters"] == 32 and hp["batch_size"] == 16
    assert isinstance(hp["top_filters"], int) and isinstance(hp["batch_size"], int)
