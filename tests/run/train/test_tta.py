"""Test-time augmentation: the views, and flip TTA equal to the mean of the model's probabilities on an
image and its mirror, computed by hand on a small model."""

from __future__ import annotations

import numpy as np
import pytest

from ferbench.data.classmap import map_classes
from ferbench.data.cross import CrossSet
from ferbench.run.train.scoring import score_model
from ferbench.run.train.setup import RunData
from ferbench.run.train.tta import crops, mirror, tta_proba, views
from ferbench.spec.types import EvaluateSpec

CLASSES = ("angry", "happy", "sad")


def _images(n: int = 6, size: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 1), dtype=np.uint8)


def test_mirror_flips_left_right_and_ten_crop_takes_corners_centre_and_mirrors() -> None:
    x = np.arange(2 * 8 * 8, dtype=np.uint8).reshape(2, 8, 8, 1)
    assert np.array_equal(mirror(x)[:, :, 0], x[:, :, -1])
    got = list(views(x, "ten_crop", crop=0.75))
    assert len(got) == 10 and all(v.shape == x.shape for v in got)
    parts = list(crops(x, 0.75))
    assert len(parts) == 5 and all(np.array_equal(v, p) for v, p in zip(got[0::2], parts))
    assert [np.array_equal(v, mirror(p)) for v, p in zip(got[1::2], got[0::2])] == [True] * 5
    assert len(list(views(x, "flip"))) == 2 and np.array_equal(list(views(x, "flip"))[0], x)
    with pytest.raises(ValueError, match="no test-time augmentation"):
        list(views(x, "rotate"))


def test_ten_crop_crops_are_the_right_windows_before_the_resize() -> None:
    """With a crop equal to the image (no resize) the window arithmetic shows: every crop is the image."""
    x = _images(2, 8)
    seen: list[np.ndarray] = []

    def predict(v: np.ndarray) -> np.ndarray:
        seen.append(v)
        return np.full((len(v), 2), 0.5)

    tta_proba(predict, x, "ten_crop", crop=0.999)
    assert len(seen) == 10
    assert all(np.array_equal(s, x) or np.array_equal(s, mirror(x)) for s in seen)


def test_flip_tta_is_the_mean_of_the_models_probabilities_on_the_image_and_its_mirror(tmp_path, monkeypatch) -> None:
    keras = pytest.importorskip("keras")
    from ferbench.model.efficientnetv2.build import build_model

    keras.utils.set_random_seed(1)
    model = build_model(input_shape=(16, 16, 1), num_classes=3, stages=(0, 1), width=0.25, depth=0.25, top_filters=16,
                        dropout=0.0, drop_connect=0.0)
    x = _images(5, 16)
    y = np.array([0, 1, 2, 1, 0])

    def predict(v: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict(v.astype("float32"), verbose=0))

    by_hand = (predict(x) + predict(x[:, :, ::-1, :].copy())) / 2
    assert not np.allclose(predict(x), by_hand)  # the mirror does change the answer: the test means something
    data = RunData(classes=CLASSES, x={"train": x, "validation": x, "test": x}, y={"train": y, "validation": y, "test": y}, class_weight=None)
    scored = score_model(predict, data, EvaluateSpec(tta="flip"))
    assert scored.tta is not None and scored.tta.method == "flip"
    got = scored.predictions.tta_prob("test")
    assert got is not None
    np.testing.assert_allclose(got, by_hand, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(scored.predictions.test_y_prob, predict(x), rtol=1e-6, atol=1e-7)  # the plain numbers stay
    want_acc = float(np.mean(by_hand.argmax(axis=1) == y))
    assert scored.tta.test.accuracy == pytest.approx(want_acc)
    assert scored.test.accuracy == pytest.approx(float(np.mean(predict(x).argmax(axis=1) == y)))
    # A memory-mapped split (over runtime.memory_mb), scored two images at a time through the trial's own
    # predict (batches of 2): the chunks keep its batches, so the numbers are those of one pass to the bit.
    from ferbench.data import memory
    from ferbench.run.train.inputs import predict_proba

    mapped = np.lib.format.open_memmap(tmp_path / "x.npy", "w+", np.uint8, x.shape)
    mapped[:] = x
    seen: list[int] = []

    def trial_predict(v: np.ndarray) -> np.ndarray:
        seen.append(len(v))
        return predict_proba(model, v, np.zeros(len(v), np.int64), 2)

    one = score_model(trial_predict, data, EvaluateSpec(tta="flip"), batch_size=2)
    assert set(seen) == {5}
    monkeypatch.setattr(memory, "CHUNK_BYTES", 1)  # a chunk: the fewest rows, a multiple of the batch size
    seen.clear()
    on_disk = RunData(classes=CLASSES, x={"train": mapped, "validation": mapped, "test": mapped}, y=data.y, class_weight=None)
    chunked = score_model(trial_predict, on_disk, EvaluateSpec(tta="flip"), batch_size=2)
    assert set(seen) == {2, 1}
    np.testing.assert_array_equal(chunked.predictions.tta_prob("test"), one.predictions.tta_prob("test"))
    np.testing.assert_array_equal(chunked.predictions.test_y_prob, one.predictions.test_y_prob)
    assert chunked.tta == one.tta and chunked.test == one.test


def test_without_tta_nothing_is_added() -> None:
    x, y = _images(4), np.array([0, 1, 2, 0])
    data = RunData(classes=CLASSES, x={"train": x, "validation": x, "test": x}, y={"train": y, "validation": y, "test": y}, class_weight=None)
    scored = score_model(lambda v: np.full((len(v), 3), 1 / 3), data, EvaluateSpec())
    assert scored.tta is None and scored.cross == {} and scored.predictions.extra == {}


def test_extra_test_sets_are_scored_over_the_shared_classes_with_and_without_tta() -> None:
    """A 3-class model on a set with contempt: contempt faces are left out, the rest scored in the model's order."""
    x = _images(6)
    y_model = np.array([0, 1, 2, 0, 1, 2])
    set_classes = ("happy", "contempt", "angry", "sad")
    y_set = np.array([0, 1, 2, 3, 0, 1])  # happy, contempt, angry, sad, happy, contempt
    mapping = map_classes(CLASSES, set_classes)
    cross = CrossSet("plus", x, y_set, mapping, {"classes": list(mapping.classes)}, ())
    data = RunData(classes=CLASSES, x={"train": x, "validation": x, "test": x}, y={"train": y_model, "validation": y_model, "test": y_model},
                   class_weight=None, cross={"plus": cross})
    probs = np.tile(np.array([[0.2, 0.7, 0.1]]), (6, 1))  # always "happy"
    scored = score_model(lambda v: probs[: len(v)], data, EvaluateSpec(tta="flip"))
    m = scored.cross["plus"]
    assert m.n == 4 and list(m.per_class) == list(CLASSES)  # two contempt faces dropped
    assert m.accuracy == pytest.approx(2 / 4)  # the two happy faces
    saved = scored.predictions.cross("plus")
    assert saved is not None
    y, p = saved
    assert list(y) == [1, 0, 2, 1] and p.shape == (4, 3)
    assert scored.tta is not None and scored.tta.cross["plus"].accuracy == pytest.approx(2 / 4)
    assert scored.predictions.cross("plus", tta=True) is not None
