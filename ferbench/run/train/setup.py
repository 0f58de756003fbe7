"""What every trial of a run shares: its data in memory (:class:`RunData`) and the run-wide switches (:class:`TrialSetup`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ferbench.run.progress import Reporter
from ferbench.spec.types import SPLITS, Spec
from ferbench.track.base import NO_TRACKING, Tracker

if TYPE_CHECKING:
    from ferbench.data.core import LoadedDataset
    from ferbench.data.cross import CrossSet
    from ferbench.spec.types import LossSpec


@dataclass(frozen=True)
class RunData:
    """The three splits (uint8 images, int64 labels) and the class weights of the loss."""

    classes: tuple[str, ...]
    x: Mapping[str, np.ndarray]  # split -> uint8 N×H×W×C
    y: Mapping[str, np.ndarray]  # split -> int64 N
    class_weight: np.ndarray | None
    #: Extra test sets, by name, in the spec's order.
    cross: Mapping[str, CrossSet] = field(default_factory=dict)
    #: What each split is, as the loader names it (``Training+PublicTest[fold 2 of 5]``).
    names: Mapping[str, str] = field(default_factory=dict)
    #: FER+ schemes but majority: the training targets (N×K) and the scheme; ``None`` with hard labels.
    soft_train: np.ndarray | None = None
    labels_mode: str = "majority"
    #: Each split's image names (empty where the loader names none), saved with the predictions.
    images: Mapping[str, np.ndarray] = field(default_factory=dict)
    #: FER+ votes: the validation and test faces' vote distributions (N×K), saved with the predictions.
    votes: Mapping[str, np.ndarray] = field(default_factory=dict)
    #: Per-image attributes (RAF-DB gender, race, age) per split, then by name.
    attributes: Mapping[str, Mapping[str, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def from_loaded(cls, loaded: LoadedDataset, loss: LossSpec, cross: Mapping[str, CrossSet] | None = None) -> RunData:
        """The data a loader produced, with the class weights ``loss`` asks for."""
        from ferbench.data import class_weights

        cw = class_weights(loaded.splits["train"].y, len(loaded.classes), loss)
        return cls(
            classes=tuple(loaded.classes),
            x={s: loaded.splits[s].x for s in SPLITS},
            y={s: np.asarray(loaded.splits[s].y, dtype=np.int64) for s in SPLITS},
            class_weight=None if cw is None else np.asarray(cw, dtype=np.float64),
            cross=dict(cross or {}),
            names={s: loaded.splits[s].name for s in SPLITS},
            soft_train=loaded.soft_train,
            labels_mode=loaded.labels_mode,
            images={s: loaded.splits[s].images for s in SPLITS if len(loaded.splits[s].images) == len(loaded.splits[s])},
            votes=dict(loaded.votes),
            attributes={s: dict(v) for s, v in loaded.attributes.items()},
        )

    def class_weight_dict(self) -> dict[str, float] | None:
        if self.class_weight is None:
            return None
        return {c: float(w) for c, w in zip(self.classes, self.class_weight)}

    def sizes(self) -> dict[str, int]:
        return {s: int(len(self.y[s])) for s in SPLITS}


@dataclass(frozen=True)
class TrialSetup:
    """What every trial of a run shares: the spec, the data and the run-wide compute switches."""

    spec: Spec
    data: RunData
    precision: str  # Keras dtype policy
    jit: bool
    reporter: Reporter
    run_id: str = ""
    steps_per_execution: int = 1
    tracker: Tracker = NO_TRACKING
