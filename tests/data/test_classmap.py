"""Cross-dataset class mapping: 7 <-> 8 classes (contempt dropped), any order, and an error where no mapping is honest."""

from __future__ import annotations

import numpy as np
import pytest

from ferbench.data.classmap import ClassMappingError, map_classes
from ferbench.errors import FerbenchError
from ferbench.spec.types import CLASS_VOCABULARY, FER2013_CLASSES

AFFECTNET8 = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt")


def test_a_7_class_model_on_an_8_class_set_leaves_contempt_faces_out() -> None:
    m = map_classes(FER2013_CLASSES, CLASS_VOCABULARY)
    assert m.classes == FER2013_CLASSES and m.dropped_from_set == ("contempt",) and m.dropped_from_model == ()
    y = np.array([7, 0, 3, 7, 6])  # contempt, angry, happy, contempt, neutral
    prob = np.eye(7, dtype=np.float32)[[1, 0, 3, 2, 6]]
    y2, p2 = m.apply(y, prob)
    assert list(y2) == [0, 3, 6] and p2.shape == (3, 7)
    np.testing.assert_array_equal(p2, prob[[1, 2, 4]])
    assert "contempt left out" in m.describe()


def test_an_8_class_model_on_a_7_class_set_drops_its_contempt_column_and_renormalises() -> None:
    m = map_classes(AFFECTNET8, FER2013_CLASSES)
    assert m.classes == tuple(c for c in AFFECTNET8 if c != "contempt")  # the model's order
    assert m.dropped_from_model == ("contempt",) and m.dropped_from_set == ()
    prob = np.array([[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.2], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]], dtype=np.float32)
    y_fer = np.array([0, 6])  # angry, neutral in FER2013's order
    y2, p2 = m.apply(y_fer, prob)
    assert list(y2) == [m.classes.index("angry"), m.classes.index("neutral")]
    np.testing.assert_allclose(p2[0], np.array([0.1] * 6 + [0.2]) / 0.8, rtol=1e-6)
    np.testing.assert_allclose(p2[1], np.full(7, 1 / 7), rtol=1e-6)  # all mass on contempt: nothing left, uniform
    np.testing.assert_allclose(p2.sum(axis=1), 1.0, rtol=1e-6)


def test_same_classes_in_another_order_are_reordered_by_name() -> None:
    m = map_classes(FER2013_CLASSES, AFFECTNET8[:7])
    assert m.classes == FER2013_CLASSES and not m.identity and m.describe() == "classes reordered by name"
    y2, _ = m.apply(np.array([0, 6]), np.full((2, 7), 1 / 7))  # AffectNet neutral, angry
    assert list(y2) == [6, 0]
    assert map_classes(FER2013_CLASSES, FER2013_CLASSES).identity


@pytest.mark.parametrize("model, subset, words", [
    (FER2013_CLASSES, ("happy", "sad"), "the model predicts angry, disgust, fear, surprise, neutral"),
    (("happy", "sad"), ("happy", "sad", "fear"), "the test set has fear"),
    (("happy", "sad"), ("angry", "fear"), "the test set has angry, fear"),
])
def test_a_mapping_other_than_contempt_is_refused(model: tuple[str, ...], subset: tuple[str, ...], words: str) -> None:
    with pytest.raises(ClassMappingError, match=words) as info:
        map_classes(model, subset)
    assert isinstance(info.value, FerbenchError) and "Only contempt may be on one side only" in str(info.value)
