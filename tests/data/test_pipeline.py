"""The tf.data pipeline: shapes, ranges, weights, seeded determinism, the fused affine."""

from __future__ import annotations

import numpy as np
import pytest

from ferbench.spec.types import AugmentSpec

tf = pytest.importorskip("tensorflow")
from ferbench.data import augment_batch, make_eval_dataset, make_train_dataset  # noqa: E402

FULL = AugmentSpec(True, "horizontal", 10, 0.1, 0.1, 0.1, 0.1)
OFF = AugmentSpec(False, "horizontal", 10, 0.1, 0.1, 0.1, 0.1)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (100, 24, 24, 1), dtype=np.uint8)
    y = np.arange(100) % 4
    return x, y


def batches(ds):
    return [tuple(t.numpy() for t in b) for b in ds]


def test_shapes_ranges_and_weights(data):
    x, y = data
    w = np.array([1.0, 2.0, 3.0, 4.0])
    out = batches(make_train_dataset(x, y, batch_size=32, augment=FULL, seed=1, class_weight=w))
    assert [len(b[0]) for b in out] == [32, 32, 32, 4]
    xb, yb, wb = out[0]
    assert xb.shape == (32, 24, 24, 1) and xb.dtype == np.float32 and yb.dtype == np.int32
    assert 0.0 <= xb.min() and xb.max() <= 1.0
    assert np.array_equal(wb, w[yb].astype(np.float32))
    assert sorted(np.concatenate([b[1] for b in out]).tolist()) == sorted(y.tolist())  # every sample once
    dropped = batches(make_train_dataset(x, y, batch_size=32, augment=FULL, seed=1, drop_remainder=True))
    assert len(dropped) == 3 and len(dropped[0]) == 2
    # deterministic: without it, parallel batches may be delivered in any order.
    wide = batches(make_train_dataset(x, y, batch_size=50, augment=OFF, seed=1, shuffle=False, value_range=(-1.0, 1.0),
                                      deterministic=True))
    assert np.allclose(wide[0][0], x[:50] / 127.5 - 1.0, atol=1e-6)


def test_same_seed_same_batches(data):
    x, y = data

    def epochs(seed):
        ds = make_train_dataset(x, y, batch_size=16, augment=FULL, seed=seed, deterministic=True)
        return [batches(ds) for _ in range(2)]

    a, b, c = epochs(7), epochs(7), epochs(8)
    for ea, eb in zip(a, b):
        for ba, bb in zip(ea, eb):
            assert np.array_equal(ba[0], bb[0]) and np.array_equal(ba[1], bb[1])
    assert not np.array_equal(a[0][0][0], a[1][0][0])  # a new order and new augmentation each epoch
    assert not np.array_equal(a[0][0][0], c[0][0][0])


def test_no_augmentation_is_exact(data):
    x, y = data
    out = batches(make_train_dataset(x, y, batch_size=100, augment=OFF, seed=3, shuffle=False))
    assert np.allclose(out[0][0], x / 255.0, atol=1e-7) and np.array_equal(out[0][1], y)
    ev = batches(make_eval_dataset(x, y, batch_size=64))
    assert np.allclose(np.concatenate([b[0] for b in ev]), x / 255.0, atol=1e-7)
    assert np.array_equal(np.concatenate([b[1] for b in ev]), y)


def test_flip_only_mirrors_or_keeps_each_image(data):
    x, _ = data
    flip = AugmentSpec(True, "horizontal", 0, 0, 0, 0, 0)
    imgs = tf.constant(x[:64].astype(np.float32) / 255.0)
    out = augment_batch(imgs, flip, tf.constant([1, 2], tf.int64)).numpy()
    kept = np.isclose(out, imgs.numpy(), atol=1e-5).all(axis=(1, 2, 3))
    mirrored = np.isclose(out, imgs.numpy()[:, :, ::-1], atol=1e-5).all(axis=(1, 2, 3))
    assert (kept | mirrored).all() and kept.any() and mirrored.any()
    none = AugmentSpec(True, "none", 0, 0, 0, 0, 0)
    assert np.array_equal(augment_batch(imgs, none, tf.constant([1, 2], tf.int64)).numpy(), imgs.numpy())


def test_geometry_is_one_transform_about_the_centre():
    # A centred bright square stays centred under rotation and zoom (no net shift).
    img = np.zeros((1, 33, 33, 1), np.float32)
    img[0, 12:21, 12:21] = 1.0
    spec = AugmentSpec(True, "none", 30, 0.0, 0.3, 0.0, 0.0)
    out = augment_batch(tf.constant(np.repeat(img, 16, 0)), spec, tf.constant([4, 5], tf.int64)).numpy()[..., 0]
    yy, xx = np.mgrid[:33, :33]
    for o in out:
        m = o.sum()
        assert abs((o * xx).sum() / m - 16) < 0.3 and abs((o * yy).sum() / m - 16) < 0.3
    shifted = augment_batch(tf.constant(img), AugmentSpec(True, "none", 0, 0.2, 0, 0, 0), tf.constant([1, 1], tf.int64)).numpy()
    assert not np.allclose(shifted, img)


def test_keras_fit_accepts_weighted_batches(data):
    import keras

    x, y = data
    model = keras.Sequential([keras.Input((24, 24, 1)), keras.layers.Flatten(), keras.layers.Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    ds = make_train_dataset(x, y, batch_size=50, augment=FULL, seed=0, class_weight=np.ones(4))
    hist = model.fit(ds, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(hist.history["loss"][0])


# --- the warp: TensorFlow's transform op in ops XLA compiles ---------------------------------


@pytest.mark.parametrize("shape", [(8, 24, 24, 1), (5, 20, 31, 3), (3, 1, 9, 1)], ids=["gray", "rgb-non-square", "one-row"])
@pytest.mark.parametrize("augment", [FULL, AugmentSpec(True, "horizontal", 180, 0.9, 0.9, 0, 0)], ids=["thesis", "far-outside"])
def test_warp_equals_tensorflows_transform_op(shape, augment):
    # Far outside the image (rotation up to 180°, shifts of 90%) every branch of the reflected border is hit.
    from ferbench.data.pipeline import _affine, _draws, _warp

    images = tf.constant(np.random.default_rng(5).uniform(0, 1, shape).astype(np.float32))
    transforms = _affine(tf, shape[1], shape[2], augment, _draws(tf, shape[0], tf.constant([7, 8], tf.int64)))
    ours = _warp(tf, images, transforms)
    theirs = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.constant(shape[1:3], tf.int32), fill_value=tf.constant(0.0),
        interpolation="BILINEAR", fill_mode="REFLECT")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())  # the same float operations, the same numbers


def test_compiled_augmentation_is_the_uncompiled_one(data):
    from ferbench.data.pipeline import _batch_maker

    x, _ = data
    seed = tf.constant([3, 9], tf.int64)
    compiled = _batch_maker(tf, FULL, (0.0, 1.0), jit=True)(tf.constant(x), seed).numpy()
    plain = _batch_maker(tf, FULL, (0.0, 1.0), jit=False)(tf.constant(x), seed).numpy()
    np.testing.assert_allclose(compiled, plain, atol=1e-4)  # same draws; XLA's rounding only
    assert not np.allclose(plain, x / 255.0, atol=0.05)  # and it does augment
    from_pipeline = batches(make_train_dataset(x, np.zeros(len(x)), batch_size=100, augment=FULL, seed=4, shuffle=False, jit=False))
    compiled_pipeline = batches(make_train_dataset(x, np.zeros(len(x)), batch_size=100, augment=FULL, seed=4, shuffle=False))
    np.testing.assert_allclose(compiled_pipeline[0][0], from_pipeline[0][0], atol=1e-4)


def test_augment_batch_compiles_with_xla(data):
    # A train step compiled with XLA (the GPU default) augments in the step: every op must have an XLA kernel.
    x, _ = data
    images = tf.constant(x[:16].astype(np.float32) / 255.0)
    out = tf.function(lambda im, s: augment_batch(im, FULL, s), jit_compile=True)(images, tf.constant([1, 2], tf.int64)).numpy()
    assert out.shape == images.shape and 0.0 <= out.min() and out.max() <= 1.0
    assert not np.allclose(out, images.numpy(), atol=0.05)
