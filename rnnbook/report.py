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
    if not isinstance(text, str) or not text:
        raise TypeError("text must be a non-empty str")
    note(key, f"**{text}**")


def note(key: str, text: str) -> None:
    """Glue plain Markdown text (e.g. where and when a result was computed) for ``{glue:md}`key```."""
    from IPython.display import Markdown
    from myst_nb import glue

    if not isinstance(text, str) or not text:
        raise TypeError("text must be a non-empty str")
    glue(key, Markdown(text), display=False)


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


def bootstrap_loglog_slope(x, samples, *, statistic: str = "rms", level: float = 0.95,
                           n_boot: int = 2000, seed: int = 0):
    """Fitted log-log slope of a summary of ``samples`` against ``x``, with a bootstrap confidence
    interval.

    ``samples`` has shape (len(x), k): k independent replicates (e.g. random networks) at each x,
    summarised by ``statistic``: ``"rms"`` (root mean square) or ``"median"`` (of the absolute
    values; robust when a few replicates are far out, as finite-width errors of deep layers are).
    The replicates are resampled with replacement independently at each x, the summary and the
    slope recomputed ``n_boot`` times, and the central ``level`` interval of those slopes returned:
    ``(slope, low, high)``."""
    x = np.asarray(x, dtype=np.float64)
    s = np.asarray(samples, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != x.size:
        raise ValueError(f"samples must have shape (len(x), k) = ({x.size}, k), got {s.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if n_boot < 10:
        raise ValueError(f"n_boot must be >= 10, got {n_boot}")
    if statistic == "rms":
        def summary(a):
            return np.sqrt((a**2).mean(axis=-1))
    elif statistic == "median":
        def summary(a):
            return np.median(np.abs(a), axis=-1)
    else:
        raise ValueError(f"statistic must be 'rms' or 'median', got {statistic!r}")
    slope = loglog_slope(x, summary(s))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, s.shape[1], size=(n_boot, s.shape[1]))
    boot = summary(s[:, idx])  # (len(x), n_boot)
    lx = np.log(x) - np.log(x).mean()
    slopes = (lx[:, None] * np.log(boot)).sum(axis=0) / (lx**2).sum()
    lo, hi = np.quantile(slopes, [(1 - level) / 2, (1 + level) / 2])
    return slope, float(lo), float(hi)
