"""FusedBatchNormalization: Keras's batch norm on TensorFlow's fused kernel, same math; saved models stay plain Keras."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from ferbench.model.efficientnetv2.build import build_model  # noqa: E402
from ferbench.model.layers import FusedBatchNormalization, to_fused, to_keras  # noqa: E402

SMALL = dict(input_shape=(24, 24, 1), num_classes=4, stages=(0, 1, 2, 3, 4), width=0.25, depth=0.2, top_filters=32)


def _op_types(layer: Any, shape: tuple[int, ...], training: bool) -> set[str]:
    fn = tf.function(lambda x: layer(x, training=training))
    return {op.type for op in fn.get_concrete_function(tf.TensorSpec(shape, tf.float32)).graph.get_operations()}


def _pair(policy: str = "float32", **kw: Any) -> tuple[Any, Any, np.random.Generator]:
    """A fused and a Keras batch norm with the same (random) gamma and beta."""
    rng = np.random.default_rng(1)
    fused = FusedBatchNormalization(momentum=0.9, epsilon=1e-3, dtype=policy, **kw)
    plain = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3, dtype=policy, **kw)
    return fused, plain, rng


def _rel(a: Any, b: Any) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_training_and_inference_match_keras_batch_norm(keras_clean: Any, policy: str) -> None:
    fused, plain, rng = _pair(policy)
    x = tf.constant(rng.normal(2.0, 3.0, (8, 6, 6, 5)).astype(np.float32))
    for layer in (fused, plain):
        layer.build(x.shape)
    gamma, beta = rng.normal(1, 0.2, 5).astype(np.float32), rng.normal(0, 0.2, 5).astype(np.float32)
    for layer in (fused, plain):
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
    tol = 1e-5 if policy == "float32" else 2e-2
    probe = tf.constant(rng.normal(0, 1, x.shape).astype(np.float32))  # a random linear loss: dL/dy = probe
    for _ in range(3):  # the moving statistics follow Keras's update, step after step
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            ys = [layer(x, training=True) for layer in (fused, plain)]
            losses = [tf.reduce_sum(tf.cast(y, tf.float32) * probe) for y in ys]
        assert ys[0].dtype == ys[1].dtype == keras.mixed_precision.Policy(policy).compute_dtype
        assert _rel(ys[0], ys[1]) < tol
        grads = [tape.gradient(loss, [x, layer.gamma, layer.beta]) for loss, layer in zip(losses, (fused, plain))]
        for g_fused, g_plain in zip(*grads):
            assert _rel(g_fused, g_plain) < tol
    assert _rel(fused.moving_mean, plain.moving_mean) < 1e-6
    assert _rel(fused.moving_variance, plain.moving_variance) < 1e-6  # biased variance, as Keras 3
    assert _rel(fused(x, training=False), plain(x, training=False)) < tol


def test_the_fused_kernel_is_what_runs(keras_clean: Any) -> None:
    layer = FusedBatchNormalization()
    layer.build((None, 6, 6, 5))
    for training in (True, False):
        ops = _op_types(layer, (4, 6, 6, 5), training)
        assert "FusedBatchNormV3" in ops and "SquaredDifference" not in ops
    model = build_model(**SMALL, dropout=0.0)
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns and all(type(layer) is FusedBatchNormalization for layer in bns)
    fn = tf.function(lambda x: model(x, training=True))
    graph = fn.get_concrete_function(tf.TensorSpec((2, 24, 24, 1), tf.float32)).graph
    assert sum(op.type == "FusedBatchNormV3" for op in graph.get_operations()) == len(bns)


@pytest.mark.parametrize(
    "kw,shape",
    [({"axis": 1}, (4, 5, 6, 6)), ({"renorm": True}, (4, 6, 6, 5)), ({"epsilon": 1e-6}, (4, 6, 6, 5)), ({}, (4, 5))],
    ids=["channels-first", "renorm", "tiny-epsilon", "rank-2"],
)
def test_what_the_kernel_cannot_do_falls_back_to_keras(keras_clean: Any, kw: dict, shape: tuple[int, ...]) -> None:
    fused = FusedBatchNormalization(**kw)
    plain = keras.layers.BatchNormalization(**kw)
    x = tf.constant(np.random.default_rng(2).normal(1, 2, shape).astype(np.float32))
    for training in (True, False):
        np.testing.assert_array_equal(np.asarray(fused(x, training=training)), np.asarray(plain(x, training=training)))
        assert "FusedBatchNormV3" not in _op_types(fused, shape, training)


def test_a_model_trains_like_the_keras_one(keras_clean: Any) -> None:
    # No dropout and no stochastic depth, so both passes see the same network.
    fused = build_model(**SMALL, dropout=0.0, drop_connect=0.0)
    plain = build_model(**SMALL, dropout=0.0, drop_connect=0.0, fused_batch_norm=False)
    plain.set_weights(fused.get_weights())
    assert fused.count_params() == plain.count_params()
    rng = np.random.default_rng(3)
    x = tf.constant(rng.uniform(0, 255, (16, 24, 24, 1)).astype(np.float32))
    y = tf.constant(rng.integers(0, 4, 16))
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    out = []
    for model in (fused, plain):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        out.append((float(loss), tape.gradient(loss, model.trainable_variables)))
    assert out[0][0] == pytest.approx(out[1][0], rel=1e-5)
    for g_fused, g_plain in zip(out[0][1], out[1][1]):
        np.testing.assert_allclose(np.asarray(g_fused), np.asarray(g_plain), rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(np.asarray(fused(x, training=False)), np.asarray(plain(x, training=False)), atol=1e-5)


def test_saved_models_are_plain_keras_and_convert_back(keras_clean: Any, tmp_path: Path) -> None:
    model = build_model(**SMALL, dropout=0.1)
    model.get_layer("stage0_stem_bn").moving_mean.assign(np.linspace(-1, 1, 8, dtype=np.float32))  # not the initial state
    x = np.random.default_rng(4).uniform(0, 255, (5, 24, 24, 1)).astype(np.float32)
    want = np.asarray(model(x, training=False))

    portable = to_keras(model)
    assert not any(isinstance(layer, FusedBatchNormalization) for layer in portable.layers)
    assert [layer.name for layer in portable.layers] == [layer.name for layer in model.layers]
    for a, b in zip(portable.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    path = tmp_path / "m.keras"
    portable.save(path)
    with zipfile.ZipFile(path) as z:
        config = z.read("config.json").decode()
    assert "FusedBatchNormalization" not in config and "ferbench>" not in config  # no registered ferbench class

    # Plain Keras, without ferbench imported, reads it and predicts the same.
    np.save(tmp_path / "x.npy", x)
    code = (f"import keras, numpy as np, sys; m = keras.models.load_model({str(path)!r}); "
            f"np.save({str(tmp_path / 'y.npy')!r}, np.asarray(m(np.load({str(tmp_path / 'x.npy')!r}), training=False))); "
            "assert not any(k.startswith('ferbench') for k in sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), want, atol=1e-5)

    back = to_fused(keras.models.load_model(path))
    assert all(type(layer) is FusedBatchNormalization for layer in back.layers if isinstance(layer, keras.layers.BatchNormalization))
    np.testing.assert_array_equal(np.asarray(back(x, training=False)), want)  # the very numbers of the trained model
    assert to_fused(back) is back  # nothing to convert: the same model


def test_other_batch_norm_subclasses_are_kept(keras_clean: Any) -> None:
    class Custom(keras.layers.BatchNormalization):
        pass

    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, Custom()(keras.layers.BatchNormalization()(inputs)))
    fused = to_fused(model)
    assert [type(layer).__name__ for layer in fused.layers[1:]] == ["FusedBatchNormalization", "Custom"]


def test_a_subclassed_model_is_left_as_it_is(keras_clean: Any) -> None:
    class Tiny(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.bn = keras.layers.BatchNormalization()

        def call(self, x: Any) -> Any:
            return self.bn(x)

    model = Tiny()
    model(np.zeros((1, 4, 4, 2), np.float32))
    assert to_fused(model) is model


def test_config_round_trips(keras_clean: Any) -> None:
    layer = FusedBatchNormalization(momentum=0.9, epsilon=1e-3, name="bn")
    cfg = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    again = keras.saving.deserialize_keras_object(cfg)
    assert type(again) is FusedBatchNormalization and again.get_config() == layer.get_config()
