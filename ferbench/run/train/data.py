"""A run's data in memory, as trials use it: three splits and the loss's class weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

import numpy as np

from ferbench.results.records import SPLITS

if TYPE_CHECKING:
    from ferbench.data.core import LoadedDataset
    from ferbench.spec.types import LossSpec


@dataclass(frozen=True)
class RunData:
    """The three splits (uint8 images, int64 labels) and the class weights of the loss."""

    classes: tuple[str, ...]
    x: Mapping[str, np.ndarray]  # split -> uint8 N×H×W×C
    y: Mapping[str, np.ndarray]  # split -> int64 N
    class_weight: np.ndarray | None

    @classmethod
    def from_loaded(cls, loaded: LoadedDataset, loss: LossSpec) -> RunData:
        """The data a loader produced, with the class weights ``loss`` asks for."""
        from ferbench.data import class_weights

        cw = class_weights(loaded.splits["train"].y, len(loaded.classes), loss)
        return cls(
            classes=tuple(loaded.classes),
            x={s: loaded.splits[s].x for s in SPLITS},
            y={s: np.asarray(loaded.splits[s].y, dtype=np.int64) for s in SPLITS},
            class_weight=None if cw is None else np.asarray(cw, dtype=np.float64),
        )

    def class_weight_dict(self) -> dict[str, float] | None:
        if self.class_weight is None:
            return None
        return {c: float(w) for c, w in zip(self.classes, self.class_weight)}

    def sizes(self) -> dict[str, int]:
        return {s: int(len(self.y[s])) for s in SPLITS}
