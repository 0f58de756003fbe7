"""The report as data: sections of tables and figures, and how one value is shown.

Builders fill tables with raw values (fractions, counts, seconds, :class:`Estimate`);
renderers decide how they look. CSV and JSON keep the raw numbers, the other formats
call :func:`fmt`, so every format shows the same rounding of the same number.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferbench.report.stats import Estimate

#: Column kinds. Numbers right-aligned, text left.
KINDS = ("text", "pct", "frac", "num", "int", "count", "duration", "delta", "pvalue", "bool")
DASH = "–"


@dataclass(frozen=True)
class Marked:
    """A value shown with a mark after it (``+2.87†``): the mark points at a note of the table.

    Machine formats (CSV, JSON) keep the bare value.
    """

    value: Any
    mark: str


@dataclass(frozen=True)
class MeanSD:
    """The mean and sample standard deviation of one number over ``n`` runs (k-fold)."""

    mean: float
    sd: float | None
    n: int


@dataclass(frozen=True)
class Column:
    """One column: a machine key (CSV/JSON), a label (everything else) and how to show values."""

    key: str
    label: str
    kind: str = "text"

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind

    @property
    def numeric(self) -> bool:
        return self.kind != "text"


@dataclass
class Table:
    """Rows of raw values under typed columns."""

    key: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Where space is short (HTML), show column ``value`` in small type under column ``key``.
    stack: dict[str, str] = field(default_factory=dict)

    def cell(self, row: dict[str, Any], col: Column) -> str:
        return fmt(row.get(col.key), col.kind)


@dataclass(frozen=True)
class Figure:
    """One plot written as PNG and SVG."""

    key: str
    title: str
    png: Path
    svg: Path


@dataclass
class Section:
    """A titled part of the report: the comparison of one dataset, or one run."""

    key: str
    title: str
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Report:
    """Everything a renderer needs, plus machine-readable data for JSON."""

    title: str
    sections: list[Section]
    data: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def slug(text: str) -> str:
    """``Scaled FER2013 [class_weight=none]`` -> ``scaled-fer2013-class-weight-none``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and not math.isfinite(v))


def _count(v: float) -> str:
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.2f} {unit}"
    return f"{int(v)}"


def _duration(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def _scalar(v: object, kind: str) -> str:
    if _missing(v):
        return DASH
    if kind == "bool":
        return "yes" if v else "no"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if kind == "pct":
        return f"{100 * v:.2f}"
    if kind == "frac":
        return f"{v:.3f}"
    if kind == "num":
        return f"{v:.5g}" if isinstance(v, float) else str(v)
    if kind == "int":
        return str(int(v))
    if kind == "count":
        return _count(float(v))
    if kind == "duration":
        return _duration(float(v))
    if kind == "delta":
        return f"{100 * v:+.2f}"
    if kind == "pvalue":
        return "<0.001" if v < 0.001 else f"{v:.3f}"
    return str(v)


def fmt(v: object, kind: str) -> str:
    """How ``v`` is shown in every text format: ``65.80 [64.70, 66.89]``, ``0.637``, ``20.33 M``, ``+0.80``, ``65.12 ± 0.84``."""
    if isinstance(v, Marked):
        shown = fmt(v.value, kind)
        return shown if shown == DASH else f"{shown}{v.mark}"
    if isinstance(v, MeanSD):
        main = _scalar(v.mean, kind)
        if v.sd is None or _missing(v.sd):
            return main
        sd = _scalar(v.sd, kind).lstrip("+") if kind != "delta" else _scalar(v.sd, "pct")
        return f"{main} ± {sd}"
    if isinstance(v, Estimate):
        main = _scalar(v.value, kind)
        if v.has_ci and not (_missing(v.low) or _missing(v.high)):
            return f"{main} [{_scalar(v.low, kind)}, {_scalar(v.high, kind)}]"
        return main
    if kind == "text":
        return DASH if v is None else str(v)
    return _scalar(v, kind)


def raw(v: object) -> Any:
    """A JSON-safe raw value (an Estimate becomes ``{value, ci_low, ci_high}``, a MeanSD ``{mean, sd, n}``)."""
    if isinstance(v, Marked):
        return raw(v.value)
    if isinstance(v, MeanSD):
        return {"mean": raw(v.mean), "sd": raw(v.sd), "n": v.n}
    if isinstance(v, Estimate):
        return {"value": raw(v.value), "ci_low": raw(v.low), "ci_high": raw(v.high)}
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):  # numpy scalar
        return v.item()
    return v
