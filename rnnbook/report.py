"""How chapters report what they computed: numbers and verdicts glued into the prose, fitted
exponents.

``number`` and ``verdict`` paste into a chapter through myst-nb's glue (``{glue:text}`` and
``{glue:md}`` roles); myst-nb is imported only when they are called, so the rest of rnnbook runs
without the book's dependencies (e.g. on a GPU machine).
"""

from __future__ import annotations

import numbers

import numpy as np


def plain(value):
    """A numpy scalar as the equivalent Python number (glue formats Python numbers)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (bool, numbers.Number)):
        return value
    raise TypeError(f"value must be a number, got {type(value).__name__}")


def number(key: str, value) -> None:
    """Glue a number under ``key`` for ``{glue:text}`key:.3g```."""
    from myst_nb import glue

    glue(key, plain(value), display=False)


def verdict(key: str, text: str) -> None:
    """Glue a verdict (computed from this build's numbers) in bold, for ``{glue:md}`key```."""
    from IPython.display import Markdown
    from myst_nb import glue

    if not isinstance(text, str) or not text:
        raise TypeError("text must be a non-empty str")
    glue(key, Markdown(f"**{text}**"), display=False)


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x: the exponent b of a fitted y ~ a x^b."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of equal length, got {x.shape} and {y.shape}")
    if x.size < 2:
        raise ValueError("need at least two points to fit a slope")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("x and y must be positive for a log-log fit")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])
