"""The protocol keys of a spec: training recipes, test-time augmentation, k-fold and extra test sets.

What they validate to, how a plan expands them (one run per fold, the fold in each
run's resolved spec) and that specs which leave them out keep their run ids.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ferbench.plan import plan_spec, spec_hash
from ferbench.spec import check_file, load_spec

REPO = Path(__file__).resolve().parents[2]

BASE = """\
ferbench: 1
name: p
dataset:
  kind: synthetic
  image_size: 32
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # error lines show paths as given: s.yaml:LINE:COL


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    (tmp_path / name).write_text(textwrap.dedent(text))
    return Path(name)


def problems(tmp_path: Path, text: str) -> tuple[list[str], list[str]]:
    checked = check_file(write(tmp_path, text))
    return [str(e) for e in checked.errors], [str(w) for w in checked.warnings]


# --------------------------------------------------------------------------- k-fold


def test_plan_of_a_spec_with_five_folds_lists_five_runs(tmp_path: Path) -> None:
    """The command line: one run per fold, each with its fold in the resolved spec and its own run id."""
    write(tmp_path, BASE + "  folds: 5\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-m", "ferbench", "plan", "s.yaml", "--json"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    runs = json.loads(r.stdout)["runs"]
    assert len(runs) == 5
    assert [run["fold"] for run in runs] == [{"fold": i, "folds": 5} for i in range(1, 6)]
    assert len({run["run_id"] for run in runs}) == 5
    text = subprocess.run([sys.executable, "-m", "ferbench", "plan", "s.yaml"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120).stdout
    assert "5 run(s)" in text and "5 of 5 (validates on it" in text
    planned = plan_spec(load_spec("s.yaml"), gpus=[]).runs
    assert [p.spec.raw["dataset"]["fold"] for p in planned] == [1, 2, 3, 4, 5]
    assert all(p.spec.dataset.folds == 5 for p in planned)


def test_a_fixed_fold_runs_that_fold_only_and_folds_multiply_seeds(tmp_path: Path) -> None:
    one = plan_spec(load_spec(write(tmp_path, BASE + "  folds: 4\n  fold: 3\n")), gpus=[]).runs
    assert [p.spec.dataset.fold for p in one] == [3]
    both = plan_spec(load_spec(write(tmp_path, BASE + "  folds: 3\nseeds: [1, 2]\n")), gpus=[]).runs
    assert [(p.seed, p.spec.dataset.fold) for p in both] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]


@pytest.mark.parametrize("extra, message", [
    ("  fold: 2\n", "dataset.fold: a fold needs dataset.folds"),
    ("  folds: 3\n  fold: 4\n", "dataset.fold: fold 4 does not exist: folds are 1..3"),
    ("  folds: 3\n  splits: {train: train, validation: validation, test: {from: train, fraction: 0.2}}\n",
     "dataset.splits.test: with dataset.folds the folds split train + validation; give test a named split of its own"),
])
def test_fold_mistakes_are_located(tmp_path: Path, extra: str, message: str) -> None:
    errors, _ = problems(tmp_path, BASE + extra)
    assert any(message in e and e.startswith("s.yaml:") for e in errors), errors


def test_folds_count_towards_the_run_cap(tmp_path: Path) -> None:
    errors, _ = problems(tmp_path, BASE + "  folds: 100\nseeds: [" + ", ".join(map(str, range(101))) + "]\n")
    assert any("more than 10,000 runs (matrix cells x seeds x folds)" in e for e in errors)


# --------------------------------------------------------------------------- recipes


def test_recipe_values_fill_with_keras_defaults_for_the_chosen_optimizer_and_schedule(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, BASE + "train: {optimizer: sgd, schedule: {name: plateau}}\n"))
    assert (spec.train.momentum, spec.train.nesterov, spec.train.weight_decay) == (0.0, False, 0.0)
    s = spec.train.schedule
    assert (s.name, s.warmup_epochs, s.factor, s.patience, s.monitor, s.min_delta, s.cooldown, s.min_learning_rate) == \
        ("plateau", 0, 0.1, 10, "val_loss", 1e-4, 0, 0.0)
    adamw = load_spec(write(tmp_path, BASE + "train: {optimizer: adamw}\n"))
    assert adamw.train.weight_decay == 0.004 and adamw.train.momentum is None
    assert "momentum" not in load_spec(write(tmp_path, BASE)).raw["train"]  # adam: nothing added


def test_a_matrix_over_optimizers_gives_each_cell_its_own_values(tmp_path: Path) -> None:
    runs = plan_spec(load_spec(write(tmp_path, BASE + "matrix: {train.optimizer: [adam, sgd, adamw]}\n")), gpus=[]).runs
    assert [(r.spec.train.optimizer, r.spec.train.momentum, r.spec.train.weight_decay) for r in runs] == \
        [("adam", None, None), ("sgd", 0.0, 0.0), ("adamw", None, 0.004)]


def test_a_value_the_recipe_does_not_use_warns_when_fixed_and_fails_when_searched(tmp_path: Path) -> None:
    errors, warnings = problems(tmp_path, BASE + "train: {momentum: 0.9, schedule: {name: cosine, patience: 3}}\n")
    assert not errors
    assert any("train.momentum: optimizer adam does not use it" in w for w in warnings)
    assert any("train.schedule.patience: schedule cosine does not use it" in w for w in warnings)
    errors, _ = problems(tmp_path, BASE + "search:\n  space:\n    momentum: {float: [0.5, 0.9]}\n")
    assert any("search.space.momentum: momentum sets train.momentum, which optimizer adam does not use" in e for e in errors)


def test_searched_recipe_values_are_checked_like_the_others(tmp_path: Path) -> None:
    sgd = BASE + "train: {optimizer: sgd}\nsearch:\n  space:\n"
    errors, _ = problems(tmp_path, sgd + "    nesterov: {float: [0, 1]}\n    warmup_epochs: {float: [0, 3]}\n")
    assert any("nesterov is true or false: write choices: [true, false]" in e for e in errors)
    assert any("warmup_epochs is an integer" in e for e in errors)
    errors, _ = problems(tmp_path, sgd + "    momentum: {float: [0.5, 1.5]}\n")
    assert any("momentum value 1.5 is outside [0, 1)" in e for e in errors)
    step = sgd.replace("{optimizer: sgd}", "{optimizer: sgd, schedule: {name: step}}")
    spec = load_spec(write(tmp_path, step + "    nesterov: {choices: [true, false]}\n    lr_factor: {float: [0.1, 0.5]}\n"))
    assert [p.key for p in spec.search.space] == ["train.nesterov", "train.schedule.factor"]
    errors, _ = problems(tmp_path, BASE + "train: {max_epochs: 5, schedule: {warmup_epochs: 5}}\n")
    assert any("5 warm-up epochs leave none of the 5 epochs" in e for e in errors)


# --------------------------------------------------------------------------- run ids


def test_specs_that_leave_the_new_keys_out_keep_their_run_ids() -> None:
    """The committed reference results still belong to their specs, and the defaults written out change nothing."""
    os.chdir(REPO)
    for spec_file, folder in (("benchmarks/reference/tiny_search.yaml", "results/reference/ref_tiny_search"),
                              ("benchmarks/reference/tiny_smoothing.yaml", "results/reference/ref_tiny_smoothing")):
        (run,) = plan_spec(load_spec(spec_file), gpus=[]).runs
        (committed,) = [p.name for p in (REPO / folder).iterdir() if p.is_dir()]
        assert run.run_id == committed
        explicit = plan_spec(load_spec(spec_file, ["evaluate.tta=none", "train.schedule.name=constant", "train.optimizer=adam"]),
                             gpus=[]).runs[0]
        assert explicit.run_id == run.run_id and spec_hash(explicit.spec.raw) == run.spec_hash


def test_tta_and_extra_test_sets_change_the_run_id(tmp_path: Path) -> None:
    plain = plan_spec(load_spec(write(tmp_path, BASE)), gpus=[]).runs[0].run_id
    flip = plan_spec(load_spec(write(tmp_path, BASE + "evaluate: {tta: flip}\n")), gpus=[]).runs[0].run_id
    assert plain != flip


# --------------------------------------------------------------------------- extra test sets

CROSS = BASE + """\
evaluate:
  tta: flip
  on:
    - name: plus
      dataset: {kind: synthetic, classes: [angry, disgust, fear, happy, sad, surprise, neutral, contempt]}
"""


def test_an_extra_test_set_takes_the_models_input_and_fills_like_the_spec_dataset(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, CROSS))
    (c,) = spec.evaluate.on
    assert c.name == "plus" and c.split == "test" and c.dataset.image_size == 32 and c.dataset.color == "grayscale"
    assert c.dataset.splits.test == "test" and c.dataset.synthetic.test == 400
    assert spec.evaluate.tta == "flip" and spec.evaluate.crop == 0.875


@pytest.mark.parametrize("edit, message", [
    (("classes: [angry, disgust, fear, happy, sad, surprise, neutral, contempt]", "classes: [happy, sad]"),
     "s.yaml:10:43: evaluate.on[0].dataset.classes: the model predicts angry, disgust, fear, surprise, neutral, which the test set does not have"),
    (("{kind: synthetic, classes", "{kind: synthetic, image_size: 48, classes"),
     "evaluate.on[0].dataset.image_size: the model takes 32 (dataset.image_size)"),
    (("{kind: synthetic, classes", "{kind: folder, classes"), "evaluate.on[0].dataset: missing required key 'path' for kind folder"),
    (("{kind: synthetic, classes", "{kind: synthetic, folds: 3, classes"), "evaluate.on[0].dataset.folds: an extra test set is scored whole"),
])
def test_extra_test_set_mistakes_are_located(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    errors, _ = problems(tmp_path, CROSS.replace(*edit))
    assert any(message in e for e in errors), errors


def test_extra_test_set_names_are_unique(tmp_path: Path) -> None:
    twice = CROSS + "    - name: plus\n      dataset: {kind: synthetic}\n"
    errors, _ = problems(tmp_path, twice)
    assert any("evaluate.on[1].name: 'plus' is already the name of evaluate.on[0]" in e for e in errors)


def test_on_as_a_key_is_the_word_on(tmp_path: Path) -> None:
    """YAML 1.1 reads a bare ``on`` as true; keys are read as YAML 1.2 does, so ``evaluate.on`` means what it says."""
    spec = load_spec(write(tmp_path, BASE + "evaluate:\n  on: []\n  tta: flip\n"))
    assert spec.raw["evaluate"]["on"] == [] and spec.evaluate.on == ()
    assert load_spec(write(tmp_path, BASE + "augment: {enabled: yes}\n")).augment.enabled is True  # values keep YAML 1.1 booleans
