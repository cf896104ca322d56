"""One figure style for the whole book.

Chapters call :func:`use_style` once and :func:`figure` for each plot.  Titles are not set on axes:
the book captions figures through ``mystnb`` cell metadata, so a figure is named once.
"""

from __future__ import annotations

import matplotlib

__all__ = ["STYLE", "use_style", "figure", "integer_ticks"]

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "figure.figsize": (6.4, 3.8),
    "figure.constrained_layout.use": True,
    "font.size": 10,
    "axes.labelsize": 10,
    "axes.titlesize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    "lines.markersize": 4.5,
    # Colour-blind safe (Okabe-Ito), in the order series are drawn.
    "axes.prop_cycle": matplotlib.cycler(
        color=["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
    ),
}


def use_style() -> None:
    """Apply the book's matplotlib style globally."""
    matplotlib.rcParams.update(STYLE)


def figure(ncols: int = 1, nrows: int = 1, *, width: float | None = None, height: float | None = None,
           **kwargs):
    """``plt.subplots`` in the book's style; the width grows with the number of panels."""
    import matplotlib.pyplot as plt

    use_style()
    w = width if width is not None else (6.4 if ncols == 1 else 3.6 * ncols)
    h = height if height is not None else 3.6 * nrows
    return plt.subplots(nrows, ncols, figsize=(w, h), **kwargs)


def integer_ticks(ax, values, *, axis: str = "x") -> None:
    """Label a log axis at exactly ``values`` (e.g. the lengths L swept) as plain integers, without
    matplotlib's minor labels (2x10^0, 3x10^0, ... overlap on an axis spanning one or two decades)."""
    from matplotlib.ticker import NullFormatter

    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    which = ax.xaxis if axis == "x" else ax.yaxis
    ticks = [int(v) for v in values]
    which.set_ticks(ticks, [str(t) for t in ticks])
    which.set_minor_formatter(NullFormatter())
