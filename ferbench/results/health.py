"""A trial's health: whether its model, scored in inference mode, is degenerate.

A benchmark must not print a broken model as a result. Three symptoms, each a flag:

- ``one_class``: more than 90 % of the validation predictions fall in one class;
- ``majority``: validation accuracy no better than always predicting the validation
  split's most frequent class;
- ``train_inference_gap``: on a fixed sample of training images, accuracy in training mode
  (batch statistics) exceeds accuracy in inference mode (the moving statistics) by more
  than 15 points: the batch norms' moving statistics never reached the data (a momentum
  too close to 1 for the steps trained, or statistics frozen).

The first two come from the validation confusion matrix, which is the saved validation
predictions counted (:mod:`ferbench.results.metrics`), so :func:`trial_health` judges any
record, those written before this module included; the third needs the model and is
measured at the end of training (``ferbench.run.train.health``), so only records that
hold a ``health`` block have it. Plain Python, no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ferbench.results.measures import SplitMetrics

HealthFlag = Literal["one_class", "majority", "train_inference_gap"]

#: More than this share of the validation predictions in one class is degenerate.
ONE_CLASS_SHARE = 0.9
#: Training-mode accuracy above inference-mode accuracy on the same images by more than this.
GAP = 0.15


@dataclass(frozen=True)
class TrainCheck:
    """The same training images scored in training mode and in inference mode (at the end of training)."""

    images: int
    train_accuracy: float
    inference_accuracy: float

    @property
    def gap(self) -> float:
        return self.train_accuracy - self.inference_accuracy


@dataclass(frozen=True)
class Health:
    """A trial's ``health`` block: the numbers the flags are judged on, and the flags."""

    flags: tuple[HealthFlag, ...]
    #: The class most validation predictions fall in, and their share.
    top_class: str
    top_share: float
    #: The validation split's most frequent class and its share (always predicting it scores this).
    majority_class: str
    majority_rate: float
    accuracy: float
    check: TrainCheck | None = None

    @property
    def healthy(self) -> bool:
        return not self.flags

    def reasons(self) -> list[str]:
        """One phrase per flag, in words."""
        out: list[str] = []
        if "one_class" in self.flags:
            out.append(f"{self.top_share:.0%} of validation predictions are {self.top_class}")
        if "majority" in self.flags:
            out.append(f"validation accuracy {self.accuracy:.3f} is no better than always predicting "
                       f"{self.majority_class} ({self.majority_rate:.3f})")
        if "train_inference_gap" in self.flags and self.check is not None:
            c = self.check
            out.append(f"training mode scores {c.train_accuracy:.3f} but inference mode {c.inference_accuracy:.3f} on the same "
                       f"{c.images} training images (batch-norm statistics)")
        return out

    def message(self) -> str:
        """The one-line verdict: ``degenerate model: ...`` (empty when healthy)."""
        return "" if self.healthy else "degenerate model: " + "; ".join(self.reasons())

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"flags": list(self.flags), "top_class": self.top_class, "top_share": round(self.top_share, 6),
                             "majority_class": self.majority_class, "majority_rate": round(self.majority_rate, 6),
                             "accuracy": round(self.accuracy, 6)}
        if self.check is not None:
            d["train_check"] = {"images": self.check.images, "train_accuracy": round(self.check.train_accuracy, 6),
                                "inference_accuracy": round(self.check.inference_accuracy, 6)}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Health:
        c = d.get("train_check")
        return cls(flags=tuple(d["flags"]), top_class=str(d["top_class"]), top_share=float(d["top_share"]),
                   majority_class=str(d["majority_class"]), majority_rate=float(d["majority_rate"]), accuracy=float(d["accuracy"]),
                   check=None if c is None else TrainCheck(int(c["images"]), float(c["train_accuracy"]), float(c["inference_accuracy"])))


def assess(confusion: Sequence[Sequence[int]], classes: Sequence[str], check: TrainCheck | None = None) -> Health | None:
    """The health of a model from its validation confusion matrix (rows true, columns predicted); ``None`` when empty."""
    k = len(confusion)
    n = sum(sum(int(v) for v in row) for row in confusion)
    if n == 0 or k == 0:
        return None
    predicted = [sum(int(confusion[i][j]) for i in range(k)) for j in range(k)]
    truth = [sum(int(v) for v in row) for row in confusion]
    top, major = max(range(k), key=predicted.__getitem__), max(range(k), key=truth.__getitem__)
    accuracy = sum(int(confusion[i][i]) for i in range(k)) / n
    names = list(classes) if len(classes) == k else [str(i) for i in range(k)]
    flags: list[HealthFlag] = []
    if predicted[top] / n > ONE_CLASS_SHARE:
        flags.append("one_class")
    if accuracy <= truth[major] / n:
        flags.append("majority")
    if check is not None and check.gap > GAP:
        flags.append("train_inference_gap")
    return Health(tuple(flags), names[top], predicted[top] / n, names[major], truth[major] / n, accuracy, check)


def health_mark(h: Health | None) -> str | None:
    """``ok``, or ``DEGENERATE (flags)``, for a table cell; ``None`` without validation metrics."""
    if h is None:
        return None
    return "ok" if h.healthy else f"DEGENERATE ({', '.join(h.flags)})"


class Judged(Protocol):
    """What :func:`trial_health` reads of a trial record (:class:`~ferbench.results.records.TrialRecord`)."""

    @property
    def health(self) -> Health | None: ...

    @property
    def validation(self) -> SplitMetrics | None: ...


def trial_health(record: Judged, classes: Sequence[str] = ()) -> Health | None:
    """The record's ``health`` block, or for a record written before it, judged from its validation confusion
    matrix (no training-mode check there); ``None`` for a trial without validation metrics."""
    if record.health is not None:
        return record.health
    if record.validation is None:
        return None
    names = classes or list(record.validation.per_class)
    return assess(record.validation.confusion, names)
