"""How chapters report what they computed: numbers and verdicts glued into the prose, fitted
exponents with their intervals.

``number`` and ``verdict`` paste into a chapter through myst-nb's glue (``{glue:text}`` and
``{glue:md}`` roles); myst-nb is imported only when they are called, so the rest of rnnbook runs
without the book's dependencies (e.g. on a GPU machine).
"""

from __future__ import annotations

from numbers import Number

import numpy as np

from .checks import as_array
from .verdicts import Verdict

__all__ = ["plain", "number", "numbers", "BRIEF", "verdict", "VERDICTS", "note", "glue_run", "loglog_slope",
           "bootstrap_loglog_slope", "replicate_loglog_slope", "local_exponent"]


def plain(value):
    """A numpy scalar as the equivalent Python number (glue formats Python numbers)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (bool, Number)):
        return value
    raise TypeError(f"value must be a number, got {type(value).__name__}")


def number(key: str, value) -> None:
    """Glue a number under ``key`` for ``{glue:text}`key:.3g```."""
    from myst_nb import glue

    glue(key, plain(value), display=False)


def numbers(**values) -> None:
    """:func:`number` for each keyword: ``numbers(n=8, L=40)`` glues ``n`` and ``L``."""
    for key, value in values.items():
        number(key, value)


#: Suffix of the key under which :func:`verdict` also glues a verdict's short form (for tables).
BRIEF = "__brief"


def verdict(key: str, decision) -> None:
    """Glue a :class:`~rnnbook.verdicts.Verdict` under ``key`` for ``{glue:md}`key```: its word in
    bold and the sentence that states the rule with its numbers; and its short form
    (:meth:`~rnnbook.verdicts.Verdict.markdown` with ``brief=True``) under ``key + "__brief"`` for the
    "What we found" table. Only a Verdict is accepted, so no
    verdict word reaches a chapter except through a tested rule of :mod:`rnnbook.verdicts`; the
    verdict is also recorded in :data:`VERDICTS` (key -> Verdict) for the chapter's own use."""
    if not isinstance(decision, Verdict):
        raise TypeError(f"decision must be a rnnbook.verdicts.Verdict, got {type(decision).__name__}")
    if not isinstance(key, str) or not key.startswith("v_") or key.endswith(BRIEF):
        raise ValueError(f"verdict keys start with 'v_' (the book's tests find them by it) and do not end in "
                         f"{BRIEF!r}, got {key!r}")
    VERDICTS[key] = decision
    _glue_markdown(key, decision.markdown())
    # the short form for the chapter's "What we found" table: `{glue:md}`<key>__brief``
    _glue_markdown(key + BRIEF, decision.markdown(brief=True))


#: Every verdict glued in this process, by key (a chapter can list its own verdicts from it).
VERDICTS: dict = {}


def note(key: str, text: str) -> None:
    """Glue plain Markdown text (e.g. where and when a result was computed) for ``{glue:md}`key```.
    Keys starting with ``v_`` are reserved for :func:`verdict`."""
    if not isinstance(key, str) or not key:
        raise TypeError("key must be a non-empty str")
    if key.startswith("v_"):
        raise ValueError(f"keys starting with 'v_' are verdicts: glue them with report.verdict, got {key!r}")
    if not isinstance(text, str) or not text:
        raise TypeError("text must be a non-empty str")
    _glue_markdown(key, text)


def glue_run(result, prefix: str, *keys: str, numbers: dict | None = None) -> dict:
    """Glue what a chapter says about a sweep's run, once: ``{prefix}_where`` (where, when and under
    which profile the shown results were computed: ``result.provenance_sentence()``), and for each
    of ``keys`` the run's own setting ``result.config[key]`` as the number ``{prefix}_{key}``
    (``numbers`` maps further glue keys to config keys).  So every size a chapter prints comes from
    the run it shows.  Returns ``result.config``."""
    if not isinstance(prefix, str) or not prefix.isidentifier():
        raise ValueError(f"prefix must be an identifier, got {prefix!r}")
    config = result.config
    wanted = {f"{prefix}_{k}": k for k in keys} | dict(numbers or {})
    missing = sorted(k for k in wanted.values() if k not in config)
    if missing:
        raise KeyError(f"the run of {result.name!r} has no setting {missing}; it has {sorted(config)}")
    note(f"{prefix}_where", result.provenance_sentence())
    for glue_key, config_key in wanted.items():
        number(glue_key, config[config_key])
    return config


def _glue_markdown(key: str, text: str) -> None:
    from IPython.display import Markdown
    from myst_nb import glue

    glue(key, Markdown(text), display=False)


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x: the exponent b of a fitted y ~ a x^b.  ``x`` and
    ``y``: 1-D, of equal length, positive and finite, with at least two distinct x."""
    x = as_array(x, name="x")
    y = as_array(y, name="y")
    if x.ndim != 1 or y.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-D of equal length, got shapes {x.shape} and {y.shape}")
    if x.size < 2:
        raise ValueError(f"x must hold at least two points to fit a slope, got {x.size}")
    if np.any(x <= 0):
        raise ValueError("x must be positive for a log-log fit")
    if np.any(y <= 0):
        raise ValueError("y must be positive for a log-log fit")
    if np.all(x == x[0]):
        raise ValueError(f"x must hold at least two distinct values to fit a slope, got all {x[0]}")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def _summary(statistic: str, q: float | None):
    if statistic == "rms":
        return lambda a: np.sqrt((a**2).mean(axis=-1))
    if statistic == "median":
        return lambda a: np.median(np.abs(a), axis=-1)
    if statistic == "quantile":
        if q is None or not 0 < q < 1:
            raise ValueError(f"statistic 'quantile' needs q in (0, 1), got {q!r}")
        return lambda a: np.quantile(np.abs(a), q, axis=-1)
    raise ValueError(f"statistic must be 'rms', 'median' or 'quantile', got {statistic!r}")


def bootstrap_loglog_slope(x, samples, *, statistic: str = "rms", q: float | None = None,
                           level: float = 0.95, n_boot: int = 2000, seed: int = 0):
    """Fitted log-log slope of a summary of ``samples`` against ``x``, with a bootstrap confidence
    interval.

    ``samples`` has shape (len(x), k): k independent replicates (e.g. random networks) at each x,
    summarised by ``statistic``: ``"rms"`` (root mean square), ``"median"`` (of the absolute
    values; robust when a few replicates are far out, as finite-width errors of deep layers are) or
    ``"quantile"`` (the ``q``-quantile of the absolute values: a high-probability statement such as
    Theorem 5's is about a quantile over networks). The k replicates are resampled with replacement
    as whole columns (replicate j keeps its values at every x, so any dependence between the x of
    one replicate is kept), the summary and the slope recomputed ``n_boot`` times, and the central
    ``level`` percentile interval of those slopes returned: ``(slope, low, high)``."""
    x = np.asarray(x, dtype=np.float64)
    s = np.asarray(samples, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != x.size:
        raise ValueError(f"samples must have shape (len(x), k) = ({x.size}, k), got {s.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if n_boot < 10:
        raise ValueError(f"n_boot must be >= 10, got {n_boot}")
    summary = _summary(statistic, q)
    slope = loglog_slope(x, summary(s))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, s.shape[1], size=(n_boot, s.shape[1]))
    boot = summary(s[:, idx])  # (len(x), n_boot)
    lx = np.log(x) - np.log(x).mean()
    slopes = (lx[:, None] * np.log(boot)).sum(axis=0) / (lx**2).sum()
    lo, hi = np.quantile(slopes, [(1 - level) / 2, (1 + level) / 2])
    return slope, float(lo), float(hi)


def replicate_loglog_slope(x, samples, *, level: float = 0.95):
    """Log-log slope of each replicate's curve, then their mean with a Student-t interval.

    ``samples`` has shape (len(x), R): R independent replicates (e.g. SGD runs), each a curve over
    ``x``. Points of one curve are dependent (a running average, one training trajectory), so the
    replicate, not the point, is the unit of independence: the R slopes are independent, and
    ``mean +- t_{R-1} sd / sqrt(R)`` is an exact ``level`` interval if they are Gaussian -- valid for
    a handful of runs, where a bootstrap over 4 runs is not. Returns ``(mean slope, low, high)``."""
    x = np.asarray(x, dtype=np.float64)
    s = np.asarray(samples, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != x.size:
        raise ValueError(f"samples must have shape (len(x), R) = ({x.size}, R), got {s.shape}")
    if s.shape[1] < 2:
        raise ValueError("need at least two replicates for an interval")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    slopes = np.array([loglog_slope(x, s[:, r]) for r in range(s.shape[1])])
    from scipy import stats

    R = slopes.size
    mean = float(slopes.mean())
    half = float(stats.t.ppf((1 + level) / 2, R - 1)) * float(slopes.std(ddof=1)) / np.sqrt(R)
    return mean, mean - half, mean + half


def local_exponent(fn, x) -> float:
    """The exponent a claimed rate ``fn`` (e.g. ``lambda m: log(m)**2 / sqrt(m)``) shows over the
    points ``x``: its least-squares log-log slope there, to set against a slope fitted to data over
    the same points (a log factor is not visible as an exponent, but it changes the local one)."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    x = as_array(x, name="x")
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {x.shape}")
    return loglog_slope(x, np.asarray([fn(float(v)) for v in x], dtype=np.float64))
