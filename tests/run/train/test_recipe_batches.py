"""What the train step receives with a recipe on: the per-sample class weights inside distillation's and EMA's
batches (each sample's weight is its class's), and each recipe alone under ``runtime.deterministic``: two
trainings from the same seed give the same weights bit for bit (run eagerly, to spare the tracing; the compiled
step with every recipe on at once is ``test_recipes.py``'s end-to-end run)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from ferbench.run.train import trial  # noqa: E402
from ferbench.run.train.inputs import train_input  # noqa: E402
from ferbench.run.train.recipe import recipe_values  # noqa: E402
from ferbench.run.train.seeding import seed_trial, set_op_determinism  # noqa: E402
from ferbench.run.train.setup import RunData, TrialSetup  # noqa: E402
from ferbench.run.train.space import effective  # noqa: E402

SPEC = """\
ferbench: 1
name: batches
seed: 4
dataset:
  kind: synthetic
  image_size: 32
  synthetic: {{train: 32, validation: 14, test: 14, imbalance: fer2013}}
augment: {{flip: horizontal, rotation_deg: 0, translate: 0, zoom: 0, contrast: 0, brightness: 0{augment}}}
model: {{arch: mini-xception, stages: [0, 1]}}
loss: {{class_weight: inverse_frequency}}
train: {{learning_rate: 0.004, batch_size: 16, max_epochs: 1, early_stopping: null{train}}}
search: {{trials: 1}}
runtime: {{devices: cpu, deterministic: true}}
"""

#: Each recipe alone: (its keys in train, its keys in augment); ``{teacher}`` is the teacher model's file.
RECIPES = {
    "ema": (", ema: {decay: 0.9}", ""),
    "distill": (", distill: {teacher: '{teacher}', temperature: 3}", ""),
    "mixup": ("", ", mixup: {alpha: 0.4}"),
    "cutmix": ("", ", cutmix: {prob: 1.0}"),
    "random_erasing": ("", ", random_erasing: {prob: 1.0}"),
}


def _setup(tmp_path: Path, recipe: str, teacher: Path) -> TrialSetup:
    from ferbench.data import load_dataset
    from ferbench.run.progress import Reporter
    from ferbench.spec import load_spec

    train, augment = RECIPES[recipe]
    text = SPEC.format(train=train.replace("{teacher}", str(teacher)), augment=augment)
    path = tmp_path / f"{recipe}.yaml"
    path.write_text(text, encoding="utf-8")
    spec = load_spec(path)
    data = RunData.from_loaded(load_dataset(spec.dataset, seed=spec.seed, progress=False), spec.loss)
    return TrialSetup(spec=spec, data=data, precision="float32", jit=False, reporter=Reporter())


def _train(setup: TrialSetup, *, steps: int, eager: bool) -> tuple[keras.Model, list[tuple[np.ndarray, ...]], dict[str, Any]]:
    """The trial's model after ``steps`` training steps through its own pipeline and train step, and what that
    step was given (after the batch recipes) at each step, where ``eager``."""
    hp = {**effective(setup.spec, {}), **recipe_values(setup.spec, {})}
    seed_trial(setup.spec.seed, deterministic=True)
    model = trial.build_for(setup, hp)
    trial.compile_model(setup, model, hp, 1)
    seen: list[tuple[np.ndarray, ...]] = []
    step = model.train_step

    def spy(data: tuple[Any, ...]) -> Any:
        if eager:
            seen.append(tuple(np.asarray(t) for t in data))
        return step(data)

    model.train_step = spy  # the recipes' step wraps it: it sees what Keras's own step is given
    ds = train_input(setup, model, hp, setup.spec.seed, gpu=False)
    model.run_eagerly = eager
    model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    return model, seen, hp


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_each_recipe_alone_weights_each_sample_by_its_class_and_repeats_bit_for_bit(tmp_path: Path, teacher: Path, recipe: str,
                                                                                  keras_clean: Any) -> None:
    setup = _setup(tmp_path, recipe, teacher)
    cw, k = setup.data.class_weight, setup.spec.num_classes
    assert setup.spec.runtime.deterministic
    assert cw is not None and len(set(np.round(cw, 6))) > 2  # weighted: fer2013's imbalance
    runs = []
    try:
        for _ in range(2):
            model, seen, hp = _train(dataclasses.replace(setup), steps=2, eager=True)
            runs.append(([v.numpy().tobytes() for v in model.weights], [[t.tobytes() for t in batch] for batch in seen]))
            if recipe == "ema":
                assert int(model._ferbench_ema.updates.numpy()) == 2  # the average moved after each weighted step
            keras.backend.clear_session()
    finally:
        set_op_determinism(False)
    on = {"ema": "ema_decay", "distill": "distill_temperature", "mixup": "mixup_alpha", "cutmix": "cutmix_prob",
          "random_erasing": "erasing_prob"}
    assert hp.get(on[recipe]) is not None  # the recipe was on, and alone
    assert all(hp.get(o) is None for r, o in on.items() if r != recipe)
    assert runs[0] == runs[1]  # the same batches and the same weights, bit for bit

    assert len(seen) == 2
    for x, y, w in seen:  # what Keras's step was given, after the batch recipes
        assert x.shape == (16, 32, 32, 1) and w.shape == (16,)
        if recipe == "distill":
            assert y.shape == (16, 2 * k)  # [label | the teacher's tempered distribution]
            np.testing.assert_allclose(y[:, k:].sum(axis=1), 1.0, rtol=1e-5)
        labels = np.eye(k, dtype=np.float32)[y.astype(int)] if y.ndim == 1 else y[:, :k]  # EMA and erasing alone keep sparse labels
        # each sample's weight is its class's; mixup and CutMix mix the two classes' weights as they mix the labels
        np.testing.assert_allclose(w, labels @ cw, rtol=1e-5)
        if recipe in ("mixup", "cutmix"):
            assert np.any((labels > 0).sum(axis=1) == 2)  # some samples really are mixtures
