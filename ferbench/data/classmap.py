"""Class vocabularies of a model and of an extra test set, matched by name (cross-dataset evaluation).

A model trained on FER2013's 7 classes can be scored on FER+ (8 classes, with
contempt), and a model trained on AffectNet-8 on FER2013 (7). Classes are matched
by their name in the one vocabulary (:data:`ferbench.spec.types.CLASS_VOCABULARY`),
in any order. The only class either side may lack is contempt, the one class the
7-class benchmarks leave out:

- the test set has contempt and the model does not: contempt faces are dropped
  (counted), the model could never name them;
- the model has contempt and the test set does not: the model's contempt column is
  dropped and each row of probabilities renormalised over the shared classes.

Any other difference (a class on one side only) has no honest mapping and is an
error. Metrics of the set are computed over the shared classes, in the model's order.
No numpy at import, no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ferbench.errors import UserInputError

if TYPE_CHECKING:
    import numpy as np

#: The classes one side may lack: 7-class benchmarks leave contempt out.
DROPPABLE: tuple[str, ...] = ("contempt",)


class ClassMappingError(UserInputError):
    """The classes of a model and of a test set cannot be matched."""


@dataclass(frozen=True)
class ClassMapping:
    """How the labels of a test set and the outputs of a model meet."""

    model_classes: tuple[str, ...]
    set_classes: tuple[str, ...]
    #: The classes scored, in the model's order.
    classes: tuple[str, ...]
    #: The model's output column of each scored class.
    columns: tuple[int, ...]
    #: Each class of the set: its index among :attr:`classes`, or -1 when its faces are dropped.
    labels: tuple[int, ...]

    @property
    def dropped_from_set(self) -> tuple[str, ...]:
        """Classes of the test set whose faces are left out."""
        return tuple(c for c, i in zip(self.set_classes, self.labels) if i < 0)

    @property
    def dropped_from_model(self) -> tuple[str, ...]:
        """Classes of the model whose probability is dropped (rows renormalised)."""
        return tuple(c for c in self.model_classes if c not in self.classes)

    @property
    def identity(self) -> bool:
        """Same classes in the same order: nothing to map."""
        return self.model_classes == self.set_classes

    def describe(self) -> str:
        """One line for notes: what was dropped, if anything."""
        parts = []
        if self.dropped_from_set:
            parts.append(f"faces of {', '.join(self.dropped_from_set)} left out (the model has no such class)")
        if self.dropped_from_model:
            parts.append(f"the model's {', '.join(self.dropped_from_model)} output dropped and the rest renormalised")
        if not parts and not self.identity:
            parts.append("classes reordered by name")
        return "; ".join(parts) or "same classes"

    def apply(self, y: np.ndarray, prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Labels of the set (indices into :attr:`set_classes`) and the model's probabilities,
        mapped to :attr:`classes`: dropped faces removed, dropped columns removed, rows renormalised."""
        import numpy as np

        table = np.asarray(self.labels, dtype=np.int64)
        mapped = table[np.asarray(y, dtype=np.int64)]
        keep = mapped >= 0
        p = np.asarray(prob, dtype=np.float64)[keep][:, list(self.columns)]
        if self.dropped_from_model:
            total = p.sum(axis=1, keepdims=True)
            p = np.divide(p, total, out=np.full_like(p, 1.0 / max(len(self.columns), 1)), where=total > 0)
        return mapped[keep], p.astype(np.float32)


def map_classes(model_classes: Sequence[str], set_classes: Sequence[str]) -> ClassMapping:
    """Match a model's classes with a test set's by name; :class:`ClassMappingError` where impossible."""
    model, subset = tuple(model_classes), tuple(set_classes)
    only_set = [c for c in subset if c not in model]
    only_model = [c for c in model if c not in subset]
    bad_set = [c for c in only_set if c not in DROPPABLE]
    bad_model = [c for c in only_model if c not in DROPPABLE]
    if bad_set or bad_model:
        why = []
        if bad_set:
            why.append(f"the test set has {', '.join(bad_set)}, which the model was not trained on")
        if bad_model:
            why.append(f"the model predicts {', '.join(bad_model)}, which the test set does not have")
        raise ClassMappingError(
            f"{'; '.join(why)} (model: {', '.join(model)}; test set: {', '.join(subset)}). Only contempt may be on one side only "
            "(7 and 8 classes); list the model's classes in the test set's dataset.classes"
        )
    classes = tuple(c for c in model if c in subset)
    if not classes:
        raise ClassMappingError(f"the model's classes ({', '.join(model)}) and the test set's ({', '.join(subset)}) share none")
    return ClassMapping(
        model_classes=model, set_classes=subset, classes=classes,
        columns=tuple(model.index(c) for c in classes),
        labels=tuple(classes.index(c) if c in classes else -1 for c in subset),
    )
