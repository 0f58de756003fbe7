"""The frontier keys of a spec: search.objectives, search.constraints and the nsga2 sampler.

What they resolve to, each located error (one line, where, how to fix), what the plan
shows, and that specs which leave them out keep their run ids.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ferbench.plan import plan_spec
from ferbench.spec import check_file, load_spec
from ferbench.spec.search_types import ConstraintSpec, ObjectiveSpec

REPO = Path(__file__).resolve().parents[2]

BASE = """\
ferbench: 1
name: f
dataset:
  kind: synthetic
  image_size: 32
model: {stages: [0, 1, 2], depth: 0.25, top_filters: 32}
search:
  trials: 4
  space:
    width: {float: [0.1, 1.0], step: 0.05}
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # error lines show paths as given: s.yaml:LINE:COL


def write(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "s.yaml").write_text(BASE + extra)
    return Path("s.yaml")


def problems(tmp_path: Path, extra: str) -> tuple[list[str], list[str]]:
    checked = check_file(write(tmp_path, extra))
    return [str(e) for e in checked.errors], [str(w) for w in checked.warnings]


def test_objectives_resolve_with_their_directions_and_the_best_trials_metric(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, """\
  objectives: [{metric: params}, {metric: val_f1_macro}, {metric: latency_ms}, {metric: val_loss}]
  constraints: {latency_ms: {max: 5}, params: {max: 50000}}
  sampler: {name: nsga2}
"""))
    s = spec.search
    assert s.goals == (ObjectiveSpec("params", "minimize"), ObjectiveSpec("val_f1_macro", "maximize"),
                       ObjectiveSpec("latency_ms", "minimize"), ObjectiveSpec("val_loss", "minimize"))
    assert s.multi and (s.metric, s.direction) == ("val_f1_macro", "maximize")  # the first validation metric
    assert s.validation_metrics == ("val_f1_macro", "val_loss")
    assert s.constraints == (ConstraintSpec("params", 50000.0), ConstraintSpec("latency_ms", 5.0))  # params, macs, latency order
    assert "objective" not in spec.raw["search"]  # the objectives say what the study optimises
    assert spec.search.sampler.options["population_size"] == 50  # NSGA-II's options stated in the resolved spec


def test_one_objective_in_the_list_is_a_single_objective_study(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, "  objectives: [{metric: val_accuracy}]\n"))
    assert not spec.search.multi and spec.search.goals == (ObjectiveSpec("val_accuracy", "maximize"),)


@pytest.mark.parametrize("extra, where, message", [
    ("  objective: {metric: val_loss}\n  objectives: [{metric: val_accuracy}, {metric: params}]\n",
     "s.yaml:11:3: search.objective", "give search.objective (one metric) or search.objectives (a list), not both"),
    ("  objectives: [{metric: val_accuracy}, {metric: params, direction: maximize}]\n",
     "s.yaml:11:68: search.objectives[1].direction", "params should be minimized, got maximize"),
    ("  objectives: [{metric: val_accuracy}, {metric: val_accuracy}]\n",
     "s.yaml:11:49: search.objectives[1].metric", "val_accuracy is already objective 0; each metric once"),
    ("  objectives: [{metric: params}, {metric: latency_ms}]\n",
     "s.yaml:11:15: search.objectives", "add a validation metric (val_loss, val_accuracy, val_f1_macro, val_balanced_accuracy)"),
    ("  objectives: [{metric: val_accuracy}, {metric: params}]\n  pruner: {name: median}\n",
     "s.yaml:12:18: search.pruner.name", "pruner median needs one objective"),
    ("  objectives: [{metric: val_accuracy}, {metric: params}]\n  sampler: {name: cmaes}\n",
     "s.yaml:12:19: search.sampler.name", "cmaes optimises one objective"),
    ("  sampler: {name: tpe, population_size: 8}\n",
     "s.yaml:11:24: search.sampler.population_size", "population_size is an NSGA-II option; sampler tpe does not take it"),
    ("  constraints: {macs: {max: 1000}}\n",
     "s.yaml:11:29: search.constraints.macs.max", "the smallest model of the search space has 333,880 MACs, above this bound"),
    ("  constraints: {flops: {max: 1000}}\n", "s.yaml:11:17: search.constraints.flops", "unknown key 'flops'; allowed: params, macs, latency_ms"),
])
def test_each_mistake_is_one_located_line(tmp_path: Path, extra: str, where: str, message: str) -> None:
    errors, _ = problems(tmp_path, extra)
    assert any(e.startswith(where) and message in e for e in errors), errors


def test_latency_with_several_cpu_workers_is_a_warning(tmp_path: Path) -> None:
    errors, warnings = problems(tmp_path, "  constraints: {latency_ms: {max: 3}}\nruntime: {devices: cpu, workers: 2}\n")
    assert not errors
    assert any("latency is measured on the CPU while 1 other worker(s) train on it" in w for w in warnings), warnings


def test_plan_shows_the_objectives_and_the_bounds(tmp_path: Path) -> None:
    write(tmp_path, """\
  objectives: [{metric: val_accuracy}, {metric: params}]
  constraints: {params: {max: 20000}, latency_ms: {max: 2.5}}
  sampler: {name: nsga2, population_size: 4}
""")
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "400"}
    text = subprocess.run([sys.executable, "-m", "ferbench", "plan", "s.yaml"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert text.returncode == 0, text.stderr
    assert "objectives: maximize val_accuracy, minimize params (the best is the Pareto set; best trial by val_accuracy)" in text.stdout
    assert "constraints: params <= 20k, latency_ms <= 2.5 ms" in text.stdout
    assert "sampler: nsga2 (population_size=4, seed=1234, crossover_prob=0.9, swapping_prob=0.5)" in text.stdout
    js = subprocess.run([sys.executable, "-m", "ferbench", "plan", "s.yaml", "--json"], cwd=tmp_path, env=env,
                        capture_output=True, text=True, timeout=120)
    run = json.loads(js.stdout)["runs"][0]
    assert run["objectives"] == [{"metric": "val_accuracy", "direction": "maximize"}, {"metric": "params", "direction": "minimize"}]
    assert run["constraints"] == {"params": {"max": 20000}, "latency_ms": {"max": 2.5}}


def test_objectives_and_bounds_change_the_run_id_and_specs_without_them_keep_theirs(tmp_path: Path) -> None:
    plain = plan_spec(load_spec(write(tmp_path, "")), gpus=[]).runs[0]
    assert "objectives" not in plain.spec.raw["search"] and "constraints" not in plain.spec.raw["search"]
    bounded = plan_spec(load_spec(write(tmp_path, "  constraints: {params: {max: 20000}}\n")), gpus=[]).runs[0]
    several = plan_spec(load_spec(write(tmp_path, "  objectives: [{metric: val_loss}, {metric: params}]\n")), gpus=[]).runs[0]
    assert len({plain.run_id, bounded.run_id, several.run_id}) == 3


def test_an_unreachable_bound_is_refused_with_the_architecture_searched_too(tmp_path: Path) -> None:
    searched = BASE.replace("    width: {float: [0.1, 1.0], step: 0.05}\n",
                            "    arch: {choices: [mini-xception, efficientnetv2-b0]}\n    width: {float: [0.1, 1.0], step: 0.05}\n")
    (tmp_path / "s.yaml").write_text(searched + "  constraints: {params: {max: 1000}}\n")
    errors = [str(e) for e in check_file(Path("s.yaml")).errors]
    assert len(errors) == 1 and errors[0].startswith("s.yaml:12:31: search.constraints.params.max"), errors
    assert "the smallest model of the search space has" in errors[0]
    (tmp_path / "s.yaml").write_text(searched + "  constraints: {params: {max: 100000}}\n")
    assert check_file(Path("s.yaml")).errors == []
