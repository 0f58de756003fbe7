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
