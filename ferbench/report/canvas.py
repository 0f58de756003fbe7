"""Matplotlib without pyplot: a new figure, and writing it as PNG and SVG.

Shared by :mod:`ferbench.report.plots` and :mod:`ferbench.report.search_plots`. The
``Figure`` class is used directly (no pyplot state, no GUI backend): the Agg canvas
renders PNG, the SVG backend SVG, on any headless machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ferbench.report.model import Figure

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure as MplFigure

DPI = 110


def new_figure(w: float, h: float) -> MplFigure:
    """A ``w`` x ``h`` inch figure with constrained layout, detached from pyplot."""
    import matplotlib

    matplotlib.use("Agg", force=False)  # only matters if pyplot is imported later in this process
    from matplotlib.figure import Figure as MplFigure

    return MplFigure(figsize=(w, h), layout="constrained")


def save(fig: MplFigure, folder: Path, name: str, title: str) -> Figure:
    """Write ``name.png`` and ``name.svg``; SVG ids and metadata are fixed so reruns give equal files.

    Each file is written atomically under the policy of user-named outputs: through a
    symbolic link to its target, never over a folder, FIFO or device.
    """
    import matplotlib

    from ferbench.results.atomic import write_output

    png, svg = folder / f"{name}.png", folder / f"{name}.svg"
    write_output(png, lambda tmp: fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None}))
    with matplotlib.rc_context({"svg.hashsalt": "ferbench", "svg.fonttype": "none"}):
        write_output(svg, lambda tmp: fig.savefig(tmp, format="svg", metadata={"Date": None, "Creator": None}))
    return Figure(name, title, png, svg)
