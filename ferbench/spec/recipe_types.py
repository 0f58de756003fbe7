"""Typed, frozen views of the recipe blocks (``train.ema``, ``train.swa``, ``train.distill``, ``augment.mixup``,
``augment.cutmix``, ``augment.random_erasing``); their keys and defaults are the table's
(:mod:`ferbench.spec.recipes`). A block is ``None`` where the recipe is off; a value is
``None`` where it is searched."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EmaSpec:
    decay: float | None = None


@dataclass(frozen=True)
class SwaSpec:
    """Stochastic weight averaging: how many of the last epochs are averaged."""

    epochs: int | None = None


@dataclass(frozen=True)
class MixSpec:
    """Mixup's or CutMix's: the Beta(alpha, alpha) of the mixing weight, and the share of images mixed."""

    alpha: float | None = None
    prob: float | None = None


@dataclass(frozen=True)
class ErasingSpec:
    """Random erasing: the share of images erased, and the box's area (fraction of the image) and aspect ratio ranges."""

    prob: float | None = None
    area: tuple[float, float] = (0.02, 1 / 3)
    ratio: tuple[float, float] = (0.3, 3.3)


@dataclass(frozen=True)
class DistillSpec:
    """Distillation: the teacher (a ``.keras`` model or a run folder), the temperature and the soft loss's weight."""

    teacher: str
    temperature: float | None = None
    alpha: float | None = None


def _pair(v: Any, default: tuple[float, float]) -> tuple[float, float]:
    return default if v is None else (float(v[0]), float(v[1]))


def ema_spec(d: dict[str, Any] | None) -> EmaSpec | None:
    return None if d is None else EmaSpec(d.get("decay"))


def swa_spec(d: dict[str, Any] | None) -> SwaSpec | None:
    return None if d is None else SwaSpec(None if d.get("epochs") is None else int(d["epochs"]))


def mix_spec(d: dict[str, Any] | None) -> MixSpec | None:
    return None if d is None else MixSpec(d.get("alpha"), d.get("prob"))


def erasing_spec(d: dict[str, Any] | None) -> ErasingSpec | None:
    if d is None:
        return None
    return ErasingSpec(d.get("prob"), _pair(d.get("area"), ErasingSpec.area), _pair(d.get("ratio"), ErasingSpec.ratio))


def distill_spec(d: dict[str, Any] | None) -> DistillSpec | None:
    return None if d is None else DistillSpec(str(d["teacher"]), d.get("temperature"), d.get("alpha"))
