"""The training recipes (``train.ema``, ``train.swa``, ``augment.mixup``, ``augment.cutmix``, ``augment.random_erasing``,
``train.distill``): each unit's effect on a batch against its stated formula, and one tiny run with
every recipe on, class weights and ``runtime.deterministic``, twice, bit-identical."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from ferbench.run.train.recipes.distill import distill_loss, teacher_file, teacher_train_s  # noqa: E402
from ferbench.run.train.recipes.ema import Ema  # noqa: E402
from ferbench.run.train.recipes.erasing import RandomErasing  # noqa: E402
from ferbench.run.train.recipes.mixing import CutMix, Mixup  # noqa: E402
from ferbench.run.train.recipes.step import BatchRecipes  # noqa: E402

B, H, W, K = 8, 32, 32, 7


def _batch(seed: int = 0) -> tuple[Any, Any, Any]:
    """Images with no two equal pixels, one-hot labels, class weights per sample."""
    rng = np.random.default_rng(seed)
    x = rng.permutation(B * H * W).reshape(B, H, W, 1).astype("float32") / (B * H * W) * 255.0
    labels = np.arange(B) % K
    w = np.linspace(0.5, 2.0, B).astype("float32")
    return tf.constant(x), tf.constant(np.eye(K, dtype="float32")[labels]), tf.constant(w)


def _run(units: list[Any], batch: tuple[Any, Any, Any], seed: int = 11) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[Any, ...]]:
    """The units' draws from ``seed`` and the batch after them, through the same code the train step runs."""
    recipes = BatchRecipes(units, seed)
    draws = recipes.draw(tf.constant([seed, 1], tf.int64), tf.constant(B))
    x, rest = recipes.apply(batch[0], [batch[1], batch[2]], draws)
    return x.numpy(), rest[0].numpy(), rest[1].numpy(), draws


def test_mixup_blends_images_labels_and_class_weights_with_one_lambda_per_sample() -> None:
    x0, y0, w0 = (t.numpy() for t in _batch())
    x, y, w, draws = _run([Mixup({"mixup_alpha": 0.4, "mixup_prob": 1.0})], _batch())
    lam = draws[0][0].numpy()
    assert lam.shape == (B,) and np.all((lam >= 0) & (lam <= 1)) and len(np.unique(lam)) == B
    lx, ly = lam[:, None, None, None], lam[:, None]
    np.testing.assert_allclose(x, lx * x0 + (1 - lx) * x0[::-1], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(y, ly * y0 + (1 - ly) * y0[::-1], rtol=1e-6, atol=1e-7)  # the stated convex combination
    np.testing.assert_allclose(w, lam * w0 + (1 - lam) * w0[::-1], rtol=1e-6)  # class weights mixed as the labels are
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
    # prob: only that share is mixed; the others keep lambda = 1 and are untouched.
    x, y, _, draws = _run([Mixup({"mixup_alpha": 0.4, "mixup_prob": 0.0})], _batch())
    np.testing.assert_array_equal(draws[0][0].numpy(), 1.0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(x, x0)


def test_cutmix_pastes_a_box_and_mixes_labels_and_weights_by_its_exact_area() -> None:
    x0, y0, w0 = (t.numpy() for t in _batch())
    x, y, w, _ = _run([CutMix({"cutmix_alpha": 1.0, "cutmix_prob": 1.0})], _batch())
    from_partner = (x != x0) & (x == x0[::-1])
    assert np.all((x == x0) | from_partner)  # every pixel is its own or its partner's
    pasted = from_partner.reshape(B, -1).mean(axis=1)
    assert pasted.max() > 0  # something was pasted
    lam = 1.0 - pasted
    np.testing.assert_allclose(y, lam[:, None] * y0 + pasted[:, None] * y0[::-1], atol=1e-6)
    np.testing.assert_allclose(w, lam * w0 + pasted * w0[::-1], rtol=1e-6)
    for i in range(B):  # the pasted pixels form one box
        rows, cols = np.nonzero(from_partner[i, :, :, 0])
        if len(rows):
            assert len(rows) == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)


def test_random_erasing_erases_the_stated_area_with_noise_and_leaves_labels_alone() -> None:
    hp = {"erasing_prob": 1.0, "erasing_area_min": 0.25, "erasing_area_max": 0.25, "erasing_ratio_min": 1.0, "erasing_ratio_max": 1.0}
    x0, y0, w0 = (t.numpy() for t in _batch())
    # The noise's range above the images' (the model's range is 0..255; here 256..300): an erased pixel is told apart.
    x, y, w, _ = _run([RandomErasing(hp, (256.0, 300.0))], _batch())
    changed = (x != x0).reshape(B, -1)
    np.testing.assert_array_equal(changed.sum(axis=1), 16 * 16)  # area 0.25, square: a 16 x 16 box of 32 x 32
    np.testing.assert_array_equal(changed, (x >= 256).reshape(B, -1))
    assert x.max() <= 300
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(w, w0)
    # A range of areas and ratios: each box's area in the range, up to the rounding of its sides.
    hp = {**hp, "erasing_area_min": 0.05, "erasing_area_max": 0.3, "erasing_ratio_min": 0.5, "erasing_ratio_max": 2.0}
    x, *_ = _run([RandomErasing(hp, (256.0, 300.0))], _batch(), seed=5)
    frac = (x != x0).reshape(B, -1).mean(axis=1)
    assert np.all(frac >= 0.05 - 2 * 0.6 / 32) and np.all(frac <= 0.3 + 2 * 0.6 / 32) and len(np.unique(frac)) > 1
    hp["erasing_prob"] = 0.0
    x, *_ = _run([RandomErasing(hp, (0.0, 255.0))], _batch())
    np.testing.assert_array_equal(x, x0)


def test_the_draws_are_the_same_for_the_same_seed_and_differ_between_seeds() -> None:
    """What makes a deterministic run repeat its recipes: the draws come from the seed pair alone."""
    units = [Mixup({"mixup_alpha": 0.4, "mixup_prob": 0.5}), CutMix({"cutmix_alpha": 1.0, "cutmix_prob": 0.5})]
    a, b, c = (_run(units, _batch(), seed=s)[0] for s in (3, 3, 4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_the_batch_recipes_compile_with_xla_and_train_on_the_pipelines_images(keras_clean: None) -> None:
    """The path where tf.data makes the images (a GPU whose memory they do not fit) and a step XLA compiles
    (``jit_compile`` on a GPU): the same batch as uncompiled, and a model trains on it."""
    from ferbench.run.train.inputs import augment_in_step

    hp = {"mixup_alpha": 0.4, "mixup_prob": 1.0, "cutmix_alpha": 1.0, "cutmix_prob": 1.0, "erasing_prob": 1.0,
          "erasing_area_min": 0.02, "erasing_area_max": 0.3, "erasing_ratio_min": 0.3, "erasing_ratio_max": 3.3}
    recipes = BatchRecipes([Mixup(hp), CutMix(hp), RandomErasing(hp)], 3)
    ds = recipes.with_draws(tf.data.Dataset.from_tensor_slices(_batch()).batch(4, drop_remainder=True))
    (x, draws), y, w = next(iter(ds))
    eager = recipes.apply(x, [y, w], draws)
    compiled = tf.function(recipes.apply, jit_compile=True)(x, [y, w], draws)
    np.testing.assert_allclose(compiled[0].numpy(), eager[0].numpy(), atol=1e-3)
    for c, e in zip(compiled[1], eager[1], strict=True):
        np.testing.assert_allclose(c.numpy(), e.numpy(), rtol=1e-6)
    inputs = keras.Input((H, W, 1))
    model = keras.Model(inputs, keras.layers.Dense(K, activation="softmax")(keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))))
    model.compile("adam", "categorical_crossentropy", jit_compile=True)
    augment_in_step(model, None, recipes)
    history = model.fit(ds, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


def test_ema_weights_equal_the_hand_computed_average_after_a_few_steps(keras_clean: None) -> None:
    from ferbench.run.train.callbacks import EmaWeights
    from ferbench.run.train.inputs import augment_in_step

    keras.utils.set_random_seed(1)
    decay = 0.8
    inputs = keras.Input((4,))
    h = keras.layers.BatchNormalization()(keras.layers.Dense(5)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))
    model.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    recipes = BatchRecipes([], 0)
    ema = Ema({"ema_decay": decay})
    recipes.install(model, [ema])
    augment_in_step(model, None, recipes)
    start = [v.numpy().copy() for v in model.weights]
    rng = np.random.default_rng(0)
    x, y = rng.random((4, 16, 4)).astype("float32"), rng.integers(0, 3, (4, 16))
    trained = []
    for step in range(4):
        model.train_on_batch(x[step], y[step])
        trained.append([v.numpy().copy() for v in model.weights])
    want = start  # the average starts at the weights training starts from
    for t, ws in enumerate(trained):
        d = min(decay, (1 + t) / (10 + t))  # 0.1, 0.18, 0.25, 0.31: the warm-up of the decay
        want = [d * a + (1 - d) * w for a, w in zip(want, ws, strict=True)]
    state = model._ferbench_ema
    assert len(state.variables) == len(model.weights) == 8  # kernels, biases, the batch norm's scale, offset and statistics
    for g, h_ in zip(state.averages, want, strict=True):
        np.testing.assert_allclose(g.numpy(), h_, rtol=1e-5, atol=1e-6)
    assert not np.allclose(state.averages[0].numpy(), trained[-1][0])  # the average is not the last weights
    # Fitting with the callback: validation sees the average, and the model ends holding it.
    history = model.fit(x[0], y[0], validation_data=(x[1], y[1]), batch_size=16, epochs=2, verbose=0, callbacks=[EmaWeights()])
    for v, a in zip(state.variables, state.averages, strict=True):
        np.testing.assert_array_equal(v.numpy(), a.numpy())
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(x[1], y[1], verbose=0), rel=1e-5)


def test_the_distillation_loss_equals_the_formula_on_known_logits() -> None:
    t, alpha, smoothing = 3.0, 0.7, 0.1
    student = np.array([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]])
    teacher = np.array([[1.0, 2.0, 0.0], [-1.0, 0.0, 2.0]])
    y = np.eye(3)[[0, 2]]

    def softmax(z: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    p, q = softmax(student), softmax(teacher / t)
    ys = y * (1 - smoothing) + smoothing / 3
    ce = -(ys * np.log(p)).sum(axis=1)
    kl = (q * (np.log(q) - np.log(softmax(student / t)))).sum(axis=1)
    want = (1 - alpha) * ce + alpha * t * t * kl
    loss = distill_loss(3, t, alpha, smoothing)
    got = keras.ops.convert_to_numpy(loss(tf.constant(np.concatenate([y, q], axis=1), tf.float32), tf.constant(p, tf.float32)))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # Validation carries the labels alone: the loss is the cross-entropy, as without distillation.
    plain = keras.ops.convert_to_numpy(loss(tf.constant(y, tf.float32), tf.constant(p, tf.float32)))
    np.testing.assert_allclose(plain, ce, rtol=1e-5)


def test_the_teacher_is_a_model_file_or_a_run_folders_best_model(tmp_path: Path) -> None:
    from ferbench.errors import FerbenchError

    run = tmp_path / "run"
    (run / "best").mkdir(parents=True)
    with pytest.raises(FerbenchError, match="best/model.keras"):
        teacher_file(str(run))
    (run / "best" / "model.keras").write_bytes(b"")
    assert teacher_file(str(run)) == run / "best" / "model.keras"
    assert teacher_file(str(run / "best" / "model.keras")) == run / "best" / "model.keras"
    # A run folder's training time is the teacher's cost: every trial's, not only the best's.
    for n, seconds in ((0, 12.5), (1, 30.0)):
        (run / "trials" / f"{n:04d}").mkdir(parents=True)
        (run / "trials" / f"{n:04d}" / "record.json").write_text(json.dumps({"timings": {"train_s": seconds}}))
    assert teacher_train_s(str(run)) == 42.5
    assert teacher_train_s(str(run / "best" / "model.keras")) is None


SPEC = """\
ferbench: 1
name: recipes
seed: 4
results: {results}
dataset:
  kind: synthetic
  image_size: 32
  synthetic: {{train: 48, validation: 21, test: 21, imbalance: fer2013}}
augment: {{mixup: {{alpha: 0.4}}, cutmix: {{prob: 0.5}}, random_erasing: {{prob: 0.5}}}}
model: {{stages: [0, 1], width: 0.25, depth: 0.25, dropout: 0.1, top_filters: 16}}
loss: {{class_weight: inverse_frequency}}
train: {{learning_rate: 0.004, batch_size: 16, max_epochs: 1, early_stopping: null, ema: {{decay: 0.9}},
        distill: {{teacher: {teacher}, temperature: 3}}}}
search: {{trials: 1}}
runtime: {{devices: cpu, deterministic: true}}
"""


@pytest.mark.slow
def test_a_run_with_every_recipe_on_records_them_and_repeats_bit_for_bit(tmp_path: Path, teacher: Path) -> None:
    pytest.importorskip("optuna")
    from ferbench.run.progress import PlainReporter
    from ferbench.run.runner import run_spec
    from ferbench.run.train.seeding import set_op_determinism

    records, probs = [], []
    try:
        for name in ("first", "second"):
            folder = tmp_path / name
            folder.mkdir()
            spec = folder / "recipes.yaml"
            spec.write_text(SPEC.format(results=folder / "results", teacher=teacher), encoding="utf-8")
            (result,) = run_spec(spec, reporter=PlainReporter(io.StringIO()))
            (trial,) = sorted((result.folder / "trials").iterdir())
            records.append(json.loads((trial / "record.json").read_text()))
            with np.load(trial / "predictions.npz") as z:
                probs.append({k: z[k].tobytes() for k in z.files})
    finally:
        set_op_determinism(False)
    first, second = records
    assert first["state"] == "complete", first.get("error")
    hp = first["hyperparameters"]
    assert hp["ema_decay"] == 0.9 and hp["mixup_alpha"] == 0.4 and hp["mixup_prob"] == 1.0 and hp["cutmix_prob"] == 0.5
    assert hp["erasing_prob"] == 0.5 and hp["erasing_area_min"] == 0.02 and hp["erasing_ratio_max"] == 3.3
    assert hp["distill_teacher"] == str(teacher) and hp["distill_temperature"] == 3.0 and hp["distill_alpha"] == 0.5
    assert hp["distill_teacher_params"] > 0 and hp["distill_teacher_predict_s"] >= 0 and hp["distill_teacher_train_s"] is None
    assert first["class_weight"] and len(set(first["class_weight"].values())) > 1  # weighted (fer2013's imbalance)
    for key in ("params", "hyperparameters", "history", "metrics", "objective"):
        if key == "hyperparameters":
            first[key].pop("distill_teacher_predict_s"), second[key].pop("distill_teacher_predict_s")
        assert first[key] == second[key], f"{key} differs"
    assert probs[0] == probs[1]


def test_swa_weights_equal_the_hand_computed_average_of_the_last_epochs(keras_clean: None) -> None:
    from ferbench.run.train.recipes.swa import swa_callback

    keras.utils.set_random_seed(3)
    inputs = keras.Input((4,))
    h = keras.layers.BatchNormalization()(keras.layers.Dense(5)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))
    model.compile(keras.optimizers.SGD(0.3), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(1)
    x, y = rng.random((32, 4)).astype("float32"), rng.integers(0, 3, 32)
    xv, yv = rng.random((16, 4)).astype("float32"), rng.integers(0, 3, 16)
    ends: list[list[np.ndarray]] = []

    class EpochEnds(keras.callbacks.Callback):  # the trained weights after each epoch's last step
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if batch == 1:
                ends.append([np.array(v.numpy()) for v in self.model.weights])

    history = model.fit(x, y, batch_size=16, epochs=4, validation_data=(xv, yv), verbose=0, shuffle=False,
                        callbacks=[EpochEnds(), swa_callback(2)])
    assert len(ends) == 4 and len(model.weights) == 8  # kernels, biases, the batch norm's scale, offset and statistics
    want = [(a + b) / 2 for a, b in zip(ends[2], ends[3], strict=True)]  # the last two epochs, equally weighted
    for v, w in zip(model.weights, want, strict=True):
        np.testing.assert_allclose(v.numpy(), w, rtol=1e-6, atol=1e-7)
    assert not np.allclose(model.weights[0].numpy(), ends[3][0])  # the average is not the last weights
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(xv, yv, verbose=0), rel=1e-5)  # validation saw it
