"""Tiny specs on the built-in synthetic data, shared by the run tests."""

from __future__ import annotations

from pathlib import Path

#: A tiny search: two kept stages after the stem, 32x32 grayscale, a few dozen images.
TINY = """\
ferbench: 1
name: {name}
seed: 3
results: {results}
dataset:
  kind: synthetic
  image_size: 32
  synthetic: {{train: 56, validation: 28, test: 28, imbalance: balanced}}
augment: {{enabled: true}}
model: {{stages: [0, 1, 2], depth: 0.25, dropout: 0.1, top_filters: 32}}
loss: {{class_weight: inverse_frequency}}
train: {{batch_size: 16, max_epochs: {epochs}, early_stopping: {{monitor: val_loss, patience: 1}}}}
search:
  trials: {trials}
  sampler: {{name: {sampler}}}
  space:
{space}
runtime: {{devices: cpu}}
"""

DEFAULT_SPACE = """\
    learning_rate: {float: [1.0e-3, 1.0e-2], log: true}
    width: {float: [0.1, 0.25], step: 0.05}
"""


def write_spec(folder: Path, *, name: str = "tiny", trials: int = 3, epochs: int = 2, sampler: str = "random",
               space: str = DEFAULT_SPACE) -> Path:
    """Write a tiny spec whose results go under ``folder/results``."""
    path = folder / f"{name}.yaml"
    path.write_text(TINY.format(name=name, results=folder / "results", trials=trials, epochs=epochs,
                                sampler=sampler, space=space.rstrip("\n")), encoding="utf-8")
    return path


#: A tiny frontier search: several objectives and bounds (``{search}`` holds the search section's own lines).
FRONTIER = """\
ferbench: 1
name: {name}
seed: 5
results: {results}
dataset:
  kind: synthetic
  image_size: 32
  synthetic: {{train: 56, validation: 28, test: 28, imbalance: balanced}}
model: {{stages: [0, 1, 2], depth: 0.25, dropout: 0.1, top_filters: 32}}
train: {{learning_rate: 0.004, batch_size: 16, max_epochs: {epochs}, eval_batch_size: 32, early_stopping: null}}
search:
  trials: {trials}
{search}
  space:
    width: {{float: [0.1, 1.0], step: 0.05}}
runtime: {{devices: cpu}}
"""

#: Widths 0.1-0.2 of the space above make 3,591 parameters; every other width is over this bound (16 of 19 values).
PARAMS_BOUND = 3600


def write_frontier_spec(folder: Path, *, name: str = "frontier", trials: int = 3, epochs: int = 1, search: str = "") -> Path:
    """Write a tiny frontier spec (width searched over 0.1..1.0) whose results go under ``folder/results``."""
    path = folder / f"{name}.yaml"
    path.write_text(FRONTIER.format(name=name, results=folder / "results", trials=trials, epochs=epochs, search=search.rstrip("\n")),
                    encoding="utf-8")
    return path
