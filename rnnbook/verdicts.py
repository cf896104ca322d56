"""Verdicts: how the book decides what a computation says about a statement of the paper.

Every conclusion the book prints is a :class:`Verdict` returned by one of the rules below, never a
word typed into a chapter. A verdict is one word (phrase) from a fixed vocabulary and a sentence
that states the rule with the numbers that decided it, so a reader can check the decision and a
changed number changes the word.

The vocabulary (:data:`WORDS`):

* ``holds`` -- the computation agrees with the statement: a measured rate whose interval contains
  the claimed one and is narrow enough to exclude its neighbours, an exactly computed quantity that
  satisfies the claim, a significance test that rejects "no effect".
* ``holds with constant c`` -- a claim with an unspecified constant (``O(1)``, ``Omega(L^-4)``)
  whose best constant was computed exactly; the constant is part of the verdict.
* ``looser than stated`` -- a bound that holds with room: the measured rate is significantly better
  than the stated one (e.g. an error that falls like ``m^-1/2`` under a bound ``m^-1/4``).
* ``inconsistent`` -- the computation contradicts the statement at the stated error rate (or
  exactly, where nothing is random).
* ``not refuted`` -- a "for all" claim (a bound over every input, every sample size) checked on a
  sample: a sample can refute such a claim but never confirm it.
* ``inconclusive at these sizes`` -- the computation cannot decide: an interval that contains the
  claim but also values the claim excludes, a test that is not significant.

Error rates. Statistical rules take an interval of stated confidence ``level`` (two-sided, so a
correct claim is called inconsistent with probability at most ``1 - level`` when the interval has
its nominal coverage) or a one-sided test at level ``alpha``. Rules on exact computations take no
level; their sentences say "computed exactly".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["HOLDS", "HOLDS_WITH_CONSTANT", "LOOSER", "INCONSISTENT", "NOT_REFUTED", "INCONCLUSIVE",
           "WORDS", "fmt", "Verdict", "rate", "trend", "bound", "constant", "agreement",
           "compare_errors", "ErrorEstimate", "error_estimate", "learned", "combine",
           "rate_of_bound", "finite", "exists", "approach", "sampled", "limit"]

HOLDS = "holds"
HOLDS_WITH_CONSTANT = "holds with constant c"
LOOSER = "looser than stated"
INCONSISTENT = "inconsistent"
NOT_REFUTED = "not refuted"
INCONCLUSIVE = "inconclusive at these sizes"
#: The fixed vocabulary of verdicts, in the order the module docstring explains them.
WORDS = (HOLDS, HOLDS_WITH_CONSTANT, LOOSER, INCONSISTENT, NOT_REFUTED, INCONCLUSIVE)


def fmt(x) -> str:
    """A number as the verdict sentences print it: three significant digits, plain integers,
    ``inf`` for infinity."""
    x = float(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e6:
        return str(int(x))
    return f"{x:.3g}"


def _pct(level: float) -> str:
    return f"{100 * level:.4g}%"


def _fmt_pair(a, b) -> tuple[str, str]:
    """Two numbers to be compared, printed with enough digits to show that they differ."""
    for digits in (3, 4, 6, 10):
        fa, fb = f"{float(a):.{digits}g}", f"{float(b):.{digits}g}"
        if fa != fb or a == b:
            return (fmt(a), fmt(b)) if digits == 3 else (fa, fb)
    return f"{float(a):.17g}", f"{float(b):.17g}"


@dataclass(frozen=True)
class Verdict:
    """A decision: ``word`` from :data:`WORDS`, the ``sentence`` that states the rule with its
    numbers, the ``rule`` that decided, its false-alarm ``error_rate`` (``None`` for exact
    computations) and, for ``holds with constant c``, the ``constant``."""

    word: str
    sentence: str
    rule: str
    error_rate: float | None = None
    constant: float | None = None
    #: A short form of the sentence for a summary table (a combined verdict counts its cases' words
    #: there); ``None``: the sentence is short enough.
    brief: str | None = None

    def __post_init__(self):
        if self.word not in WORDS:
            raise ValueError(f"word must be one of {WORDS}, got {self.word!r}")
        if not isinstance(self.sentence, str) or not self.sentence.strip():
            raise TypeError("sentence must be a non-empty str")
        if not isinstance(self.rule, str) or not self.rule:
            raise TypeError("rule must be a non-empty str")
        if self.error_rate is not None and not 0 < self.error_rate < 1:
            raise ValueError(f"error_rate must lie in (0, 1) or be None, got {self.error_rate}")
        if (self.word == HOLDS_WITH_CONSTANT) != (self.constant is not None):
            raise ValueError("constant is given exactly when the word is 'holds with constant c'")
        if self.brief is not None and (not isinstance(self.brief, str) or not self.brief.strip()):
            raise TypeError("brief must be a non-empty str or None")

    @property
    def label(self) -> str:
        """The word as printed: ``holds with constant c`` shows its constant."""
        if self.word == HOLDS_WITH_CONSTANT:
            return f"holds with constant c = {fmt(self.constant)}"
        return self.word

    def markdown(self, *, brief: bool = False) -> str:
        """Bold word, then the sentence (``brief=True``: its short form, for a summary table): what a
        chapter glues."""
        sentence = (self.brief if brief and self.brief else self.sentence).strip()
        if not sentence.endswith("."):
            sentence += "."
        return f"**{self.label}**: {sentence}"

    def __str__(self) -> str:
        return f"{self.label}: {self.sentence}"


def _finite(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _level(level) -> float:
    level = _finite("level", level)
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    return level


def _alpha(alpha) -> float:
    alpha = _finite("alpha", alpha)
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must lie in (0, 0.5), got {alpha}")
    return alpha


def _text(name: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"{name} must be a non-empty str")
    return value.strip()


_CLAIMS = ("equals", "at most", "at least")


def rate(estimate, low, high, *, claimed, claim: str = "equals", level=None, resolution: float = 0.25,
         quantity: str = "the fitted exponent", claimed_text: str | None = None,
         interval: str = "interval") -> Verdict:
    """A fitted exponent (``estimate`` with its ``level`` interval ``[low, high]``) against a
    ``claimed`` exponent.

    ``claim``: ``"equals"`` (the statement gives the rate), ``"at most"`` (a bound: the true
    exponent is at most ``claimed``, e.g. an error ``O(m^claimed)``) or ``"at least"``.

    * The interval excludes the claim on the forbidden side: *inconsistent*. For ``"equals"`` both
      sides are forbidden.
    * A bound (``at most``/``at least``) whose interval lies entirely on the allowed side:
      *looser than stated*.
    * The interval contains the claim: *holds* if it lies within ``resolution`` of the claim on
      both sides (so it excludes exponents ``resolution`` away), otherwise *inconclusive at these
      sizes*.

    ``level=None`` means the exponent was computed exactly (no randomness): then ``low`` and
    ``high`` must equal ``estimate`` and only the comparison with ``claimed`` decides (*holds*
    needs agreement to 1e-9). ``claimed_text`` names the claimed exponent in the sentence (e.g.
    "-0.26, the exponent of log^2 m/sqrt m over these widths"); ``interval`` describes how the
    interval was obtained ("bootstrap interval over 48 networks")."""
    estimate, low, high = (_finite(n, v) for n, v in (("estimate", estimate), ("low", low), ("high", high)))
    claimed = _finite("claimed", claimed)
    resolution = _finite("resolution", resolution)
    if resolution <= 0:
        raise ValueError(f"resolution must be positive, got {resolution}")
    if claim not in _CLAIMS:
        raise ValueError(f"claim must be one of {_CLAIMS}, got {claim!r}")
    quantity = _text("quantity", quantity)
    ctext = fmt(claimed) if claimed_text is None else _text("claimed_text", claimed_text)
    if level is None:
        if not (low == estimate == high):
            raise ValueError("an exact rate (level=None) has low == estimate == high")
        return _exact_rate(estimate, claimed, claim, quantity, ctext)
    level = _level(level)
    if not low <= estimate <= high:
        raise ValueError(f"need low <= estimate <= high, got {low}, {estimate}, {high}")
    iv = f"the {_pct(level)} {_text('interval', interval)} [{fmt(low)}, {fmt(high)}] of {quantity}"
    err = 1 - level
    above, below = low > claimed, high < claimed
    if claim == "equals" and (above or below):
        return Verdict(INCONSISTENT, f"{iv} excludes the claimed {ctext}", "rate", err)
    if claim == "at most" and above:
        return Verdict(INCONSISTENT, f"{iv} lies above the claimed {ctext}: slower than the bound allows",
                       "rate", err)
    if claim == "at least" and below:
        return Verdict(INCONSISTENT, f"{iv} lies below the claimed {ctext}: faster than the bound allows",
                       "rate", err)
    if claim == "at most" and below:
        return Verdict(LOOSER, f"{iv} lies below the claimed {ctext}: better than the bound", "rate", err)
    if claim == "at least" and above:
        return Verdict(LOOSER, f"{iv} lies above the claimed {ctext}: better than the bound", "rate", err)
    if claimed - low <= resolution and high - claimed <= resolution:
        return Verdict(HOLDS, f"{iv} contains the claimed {ctext} and lies within {fmt(resolution)} of it",
                       "rate", err)
    return Verdict(INCONCLUSIVE, f"{iv} contains the claimed {ctext} but reaches more than "
                   f"{fmt(resolution)} away from it", "rate", err)


def _exact_rate(value, claimed, claim, quantity, ctext) -> Verdict:
    head = f"{quantity}, computed exactly, is {fmt(value)}"
    close = abs(value - claimed) <= 1e-9 * max(1.0, abs(claimed))
    if close:
        return Verdict(HOLDS, f"{head}, the claimed {ctext}", "rate")
    if claim == "equals":
        return Verdict(INCONSISTENT, f"{head}, not the claimed {ctext}", "rate")
    if (claim == "at most") == (value < claimed):
        return Verdict(LOOSER, f"{head}, better than the claimed {ctext}", "rate")
    side = "above" if value > claimed else "below"
    return Verdict(INCONSISTENT, f"{head}, {side} the claimed {ctext}", "rate")


def trend(estimate, low, high, *, direction: str, level=None, quantity: str = "the fitted exponent",
          interval: str = "interval") -> Verdict:
    """A claim that a quantity grows (``direction="increasing"``) or falls (``"decreasing"``),
    decided by the sign of its fitted exponent: *holds* when the ``level`` interval lies strictly on
    the claimed side of 0, *inconsistent* when strictly on the other, *inconclusive at these sizes*
    when it contains 0. ``level=None``: an exactly computed exponent (``low == estimate == high``);
    exactly 0 is *inconsistent* with a strict trend."""
    estimate, low, high = (_finite(n, v) for n, v in (("estimate", estimate), ("low", low), ("high", high)))
    if direction not in ("increasing", "decreasing"):
        raise ValueError(f"direction must be 'increasing' or 'decreasing', got {direction!r}")
    quantity = _text("quantity", quantity)
    sign = 1.0 if direction == "increasing" else -1.0
    want = "above" if sign > 0 else "below"
    if level is None:
        if not (low == estimate == high):
            raise ValueError("an exact trend (level=None) has low == estimate == high")
        head = f"{quantity}, computed exactly, is {fmt(estimate)}"
        if sign * estimate > 0:
            return Verdict(HOLDS, f"{head}, {want} 0 ({direction})", "trend")
        return Verdict(INCONSISTENT, f"{head}, not {want} 0: the quantity is not {direction}", "trend")
    level = _level(level)
    if not low <= estimate <= high:
        raise ValueError(f"need low <= estimate <= high, got {low}, {estimate}, {high}")
    iv = f"the {_pct(level)} {_text('interval', interval)} [{fmt(low)}, {fmt(high)}] of {quantity}"
    if (sign > 0 and low > 0) or (sign < 0 and high < 0):
        return Verdict(HOLDS, f"{iv} lies {want} 0 ({direction})", "trend", 1 - level)
    if (sign > 0 and high < 0) or (sign < 0 and low > 0):
        return Verdict(INCONSISTENT, f"{iv} lies on the other side of 0: not {direction}", "trend", 1 - level)
    return Verdict(INCONCLUSIVE, f"{iv} contains 0", "trend", 1 - level)


def bound(values, limits, *, relation: str = "<=", sample: bool = True, what: str,
          rtol: float = 1e-12) -> Verdict:
    """A "for all" inequality ``values <= limits`` (or ``>=``), checked entrywise.

    Any violation beyond the relative rounding tolerance ``rtol`` is a counterexample: *inconsistent*
    (a sample refutes). Without one: *not refuted* when the entries are a ``sample`` of the cases
    the claim covers (it can never be confirmed that way), *holds* when they are every case
    (``sample=False``, e.g. an inequality between two exactly computed numbers). The sentence gives
    the count and the tightest ratio ``values/limits``. ``what`` describes the entries ("the
    quadratic form against C(F*) at 18 (L, target, init)")."""
    if relation not in ("<=", ">="):
        raise ValueError(f"relation must be '<=' or '>=', got {relation!r}")
    what = _text("what", what)
    v = np.atleast_1d(np.asarray(values, dtype=np.float64))
    lim = np.broadcast_to(np.atleast_1d(np.asarray(limits, dtype=np.float64)), v.shape)
    if v.size == 0:
        raise ValueError("values must not be empty")
    if np.isnan(v).any() or np.isnan(lim).any():
        raise ValueError("values and limits must not contain NaN")
    if not np.isfinite(v).all():
        raise ValueError("values must be finite (an infinite limit is allowed)")
    rtol = _finite("rtol", rtol)
    slack = rtol * np.maximum(np.abs(v), np.where(np.isfinite(lim), np.abs(lim), 0.0))
    bad = v > lim + slack if relation == "<=" else v < lim - slack
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(lim != 0, v / lim, np.inf)
    head = f"{what}: {v.size} case{'s' if v.size != 1 else ''}"
    if bad.any():
        k = int(bad.sum())
        worst = float(np.max(ratio[bad]) if relation == "<=" else np.min(ratio[bad]))
        return Verdict(INCONSISTENT, f"{head}, {k} violate{'s' if k == 1 else ''} value {relation} limit "
                       f"(worst ratio {fmt(worst)})", "bound")
    finite = np.isfinite(ratio)
    if finite.any():
        tight = float(np.max(ratio[finite]) if relation == "<=" else np.min(ratio[finite]))
        tail = f", the tightest ratio value/limit being {fmt(tight)}"
    else:
        tail = ""
    if sample:
        return Verdict(NOT_REFUTED, f"{head}, none violates value {relation} limit{tail}; a sample cannot "
                       "confirm a claim for all cases", "bound")
    return Verdict(HOLDS, f"{head}, all of the cases the claim covers, none violates value {relation} "
                   f"limit{tail}", "bound")


def constant(measured, *, need: str, claimed=None, measured_is: str = "exact", name: str = "the constant",
             claimed_text: str | None = None) -> Verdict:
    """A claimed constant: the statement needs the true constant to be ``"at least"`` or
    ``"at most"`` ``claimed``.

    ``measured_is`` says what the measurement is of the true constant: ``"exact"``, an
    ``"upper bound"`` (e.g. the best constant of a dominance on a finite sample, which can only fall
    as points are added) or a ``"lower bound"``.

    * ``claimed=None`` (an unspecified constant, as in ``O(1)``): an exact, finite, positive
      measurement gives *holds with constant c*; a bound on it gives *not refuted*.
    * A measurement that settles the comparison (exact; or an upper bound below an "at most" claim /
      a lower bound above an "at least" one): *holds*; contradicts it exactly or through a bound on
      the right side (an upper bound below an "at least" claim): *inconsistent*; otherwise
      *not refuted* (the bound satisfies the claim but could not confirm it)."""
    measured = _finite("measured", measured)
    if need not in ("at least", "at most"):
        raise ValueError(f"need must be 'at least' or 'at most', got {need!r}")
    if measured_is not in ("exact", "upper bound", "lower bound"):
        raise ValueError(f"measured_is must be 'exact', 'upper bound' or 'lower bound', got {measured_is!r}")
    name = _text("name", name)
    kind = {"exact": "computed exactly", "upper bound": "an upper bound on the true value",
            "lower bound": "a lower bound on the true value"}[measured_is]
    head = f"{name} is {fmt(measured)} ({kind})"
    if claimed is None:
        if measured_is == "exact":
            if measured <= 0:
                raise ValueError(f"an exact constant must be positive, got {measured}")
            return Verdict(HOLDS_WITH_CONSTANT, f"{head}", "constant", constant=measured)
        return Verdict(NOT_REFUTED, f"{head}; the claim leaves the constant unspecified", "constant")
    claimed = _finite("claimed", claimed)
    ctext = fmt(claimed) if claimed_text is None else _text("claimed_text", claimed_text)
    rel = ">=" if need == "at least" else "<="
    ok = measured >= claimed if need == "at least" else measured <= claimed
    decisive_if_ok = measured_is == "exact" or (measured_is == "lower bound") == (need == "at least")
    decisive_if_bad = measured_is == "exact" or (measured_is == "upper bound") == (need == "at least")
    if ok and decisive_if_ok:
        return Verdict(HOLDS, f"{head} {rel} the claimed {ctext}", "constant")
    if not ok and decisive_if_bad:
        return Verdict(INCONSISTENT, f"{head} violates the claimed {rel} {ctext}", "constant")
    if ok:
        return Verdict(NOT_REFUTED, f"{head} {rel} the claimed {ctext}, which a bound of this side "
                       "cannot confirm", "constant")
    return Verdict(INCONCLUSIVE, f"{head} fails {rel} {ctext}, but as a bound of this side it cannot "
                   "refute the claim", "constant")


def agreement(error, tolerance, *, what: str, proved: bool) -> Verdict:
    """Two computations of the same quantity (e.g. a series against its closed form) agree when
    the largest ``error`` is within the ``tolerance`` a proof or a rounding analysis gives. Agreement
    is *holds* when the identity is ``proved`` in the text (the computation checks the proof's
    numbers), *not refuted* when only checked on these inputs; disagreement is *inconsistent*."""
    error, tolerance = _finite("error", error), _finite("tolerance", tolerance)
    if error < 0 or tolerance < 0:
        raise ValueError("error and tolerance must be non-negative")
    what = _text("what", what)
    head = f"{what}: largest difference {fmt(error)}, tolerance {fmt(tolerance)}"
    if error > tolerance:
        return Verdict(INCONSISTENT, f"{head}: outside the tolerance", "agreement")
    if proved:
        return Verdict(HOLDS, f"{head}: within it, as proved", "agreement")
    return Verdict(NOT_REFUTED, f"{head}: within it on these inputs", "agreement")


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha))


def compare_errors(first, se_first, second, se_second, *, claim: str = "first lower", alpha=0.01,
                   names: Sequence[str] = ("the first", "the second"), se_difference=None) -> Verdict:
    """Two error rates with their standard errors, against a claim that the first is lower
    (``"first lower"``) or higher (``"first higher"``) than the second: a one-sided z-test of the
    difference at level ``alpha``. Significant in the claimed direction: *holds*; in the other:
    *inconsistent*; neither: *inconclusive at these sizes*.

    Independent estimates: the difference has standard error ``hypot(se_first, se_second)``. Paired
    ones (scored on the same test inputs, e.g. :func:`rnnbook.experiments.paired_errors`): pass
    ``se_difference`` (the standard error of the paired difference) and ``None`` for the two
    separate ones."""
    a, b = _finite("first", first), _finite("second", second)
    if se_difference is None:
        sa, sb = _finite("se_first", se_first), _finite("se_second", se_second)
        if sa < 0 or sb < 0:
            raise ValueError("standard errors must be non-negative")
        se = math.hypot(sa, sb)
        ses = (f" (se {fmt(sa)})", f" (se {fmt(sb)})", "")
    else:
        if se_first is not None or se_second is not None:
            raise ValueError("with se_difference (a paired comparison), se_first and se_second must be None")
        se = _finite("se_difference", se_difference)
        if se < 0:
            raise ValueError("standard errors must be non-negative")
        ses = ("", "", f", paired (se of the difference {fmt(se)})")
    if claim not in ("first lower", "first higher"):
        raise ValueError(f"claim must be 'first lower' or 'first higher', got {claim!r}")
    alpha = _alpha(alpha)
    if len(names) != 2:
        raise ValueError("names must hold two names")
    n1, n2 = (_text("names", n) for n in names)
    diff = b - a if claim == "first lower" else a - b  # positive: the claimed direction
    zc = _z(alpha)
    fa, fb = _fmt_pair(a, b)
    head = (f"{n1} {fa}{ses[0]} against {n2} {fb}{ses[1]}{ses[2]}; one-sided test at "
            f"{fmt(alpha)}, critical z = {zc:.2f}")
    word = "lower" if claim == "first lower" else "higher"
    if se == 0:
        if diff > 0:
            return Verdict(HOLDS, f"{head}: {n1} is {word}, exactly", "compare", alpha)
        if diff < 0:
            return Verdict(INCONSISTENT, f"{head}: {n1} is not {word}, exactly", "compare", alpha)
        return Verdict(INCONCLUSIVE, f"{head}: equal", "compare", alpha)
    z = diff / se
    if z > zc:
        return Verdict(HOLDS, f"{head}: z = {z:.2f}, significantly {word}", "compare", alpha)
    if z < -zc:
        return Verdict(INCONSISTENT, f"{head}: z = {z:.2f}, significantly the other way", "compare", alpha)
    return Verdict(INCONCLUSIVE, f"{head}: z = {z:.2f}, not significant", "compare", alpha)


@dataclass(frozen=True)
class ErrorEstimate:
    """Mean 0-1 error over independent runs and its standard error (see :func:`error_estimate`)."""

    mean: float
    se: float
    runs: int
    n_test: int
    dof: int  # degrees of freedom of the t quantile used with it (0: normal)

    def upper(self, alpha: float) -> float:
        """One-sided ``1 - alpha`` upper confidence bound on the population error."""
        q = float(stats.t.ppf(1 - alpha, self.dof)) if self.dof > 0 else _z(alpha)
        return self.mean + q * self.se


def error_estimate(errors, *, n_test) -> ErrorEstimate:
    """Mean over runs of test 0-1 errors measured on ``n_test`` held-out inputs, with a standard
    error that covers both sources of noise: the spread between runs (``s^2/R``, ``R`` runs) and the
    finite test sample (binomial, ``e(1-e)/n_test``; counted in full because the runs share the test
    set). Its t quantile has ``R - 1`` degrees of freedom (normal for one run)."""
    e = np.atleast_1d(np.asarray(errors, dtype=np.float64))
    if e.ndim != 1 or e.size == 0:
        raise ValueError(f"errors must be a non-empty 1-D array, got shape {e.shape}")
    if not np.isfinite(e).all() or (e < 0).any() or (e > 1).any():
        raise ValueError("errors must be finite 0-1 error rates in [0, 1]")
    if isinstance(n_test, bool) or not isinstance(n_test, (int, np.integer)) or n_test < 1:
        raise ValueError(f"n_test must be a positive int, got {n_test!r}")
    R = e.size
    mean = float(e.mean())
    var_runs = float(e.var(ddof=1)) / R if R > 1 else 0.0
    se = math.sqrt(var_runs + mean * (1 - mean) / int(n_test))
    return ErrorEstimate(mean, se, R, int(n_test), R - 1)


def learned(errors, *, n_test, chance, alpha=0.01, what: str = "the test error") -> Verdict:
    """"Learned": the population 0-1 error is below ``chance`` (the majority-class rate), decided by
    a one-sided test at level ``alpha`` on the mean test error over runs (:func:`error_estimate`):
    *holds* when its upper ``1 - alpha`` confidence bound is below ``chance``, *inconclusive at
    these sizes* otherwise (not learning at finite width and sample size does not refute a theorem
    about large ones)."""
    chance = _finite("chance", chance)
    if not 0 < chance <= 1:
        raise ValueError(f"chance must lie in (0, 1], got {chance}")
    alpha = _alpha(alpha)
    what = _text("what", what)
    est = error_estimate(errors, n_test=n_test)
    up = est.upper(alpha)
    fu, fc = _fmt_pair(up, chance)
    head = (f"{what} {fmt(est.mean)} over {est.runs} run{'s' if est.runs != 1 else ''} (se {fmt(est.se)}); "
            f"its one-sided {_pct(1 - alpha)} upper bound {fu}")
    if up < chance:
        return Verdict(HOLDS, f"{head} is below chance, {fc}", "learned", alpha)
    return Verdict(INCONCLUSIVE, f"{head} is not below chance, {fc}", "learned", alpha)


def _verdict_list(verdicts) -> list[Verdict]:
    vs = list(verdicts)
    if not vs:
        raise ValueError("verdicts must not be empty")
    if not all(isinstance(v, Verdict) for v in vs):
        raise TypeError("verdicts must be Verdict instances")
    if any(v.word == HOLDS_WITH_CONSTANT for v in vs):
        raise ValueError("'holds with constant c' verdicts are not combined: report each constant")
    return vs


def combine(verdicts: Sequence[Verdict], *, what: str) -> Verdict:
    """One verdict for a claim checked in several cases ("at every length", "for both
    initialisations"): *inconsistent* if any case is, else *inconclusive at these sizes* if any is,
    else the common word if all agree, else *not refuted* if any case is (a mixture with holds or
    looser than stated), else *holds* (holds mixed with looser than stated: the claim holds in every
    case, with room in some). The sentence lists each case. Its error rate is the sum of the cases'
    (a union bound). ``holds with constant c`` verdicts carry different constants and are not
    combined."""
    vs = _verdict_list(verdicts)
    what = _text("what", what)
    words = {v.word for v in vs}
    rates = [v.error_rate for v in vs if v.error_rate is not None]
    err = min(sum(rates), 0.5) if rates else None
    body = "; ".join(f"{v.label} ({v.sentence.rstrip('.')})" for v in vs)
    if INCONSISTENT in words:
        word = INCONSISTENT
    elif INCONCLUSIVE in words:
        word = INCONCLUSIVE
    elif len(words) == 1:
        word = vs[0].word
    elif NOT_REFUTED in words:
        word = NOT_REFUTED
    else:
        word = HOLDS
    return Verdict(word, f"{what}: {body}", "combine", err, brief=f"{what}: {_counts(vs)}")


def _counts(vs: Sequence[Verdict]) -> str:
    """How many cases got each word, e.g. "4 cases: 3 looser than stated, 1 holds"."""
    words = [v.word for v in vs]
    parts = ", ".join(f"{words.count(w)} {w}" for w in WORDS if w in words)
    return f"{len(vs)} case{'s' if len(vs) != 1 else ''}: {parts} (each case in the text)"


_BOUND_SIDES = ("upper bound", "lower bound")


def rate_of_bound(estimate, low, high, *, claimed, claim: str, measured_is: str, level=None,
                  resolution: float = 0.25, quantity: str = "the fitted exponent of the bound",
                  claimed_text: str | None = None, interval: str = "interval") -> Verdict:
    """A claimed exponent checked through a quantity that bounds the one the claim is about from one
    side: the fitted exponent (``estimate`` with its ``level`` interval ``[low, high]``;
    ``level=None``: computed exactly, as in :func:`rate`) of an ``"upper bound"`` or a
    ``"lower bound"`` (``measured_is``) -- e.g. the best constant of a PSD dominance on a finite
    sample, or an equal-weight Rayleigh quotient, both upper bounds on the sample-free constant.

    A quantity below an upper bound grows no faster than the bound, so its exponent is at most the
    bound's (at least, for a lower bound). Hence, for an upper bound:

    * ``claim="at least"`` or ``"equals"``: the bound's interval below ``claimed`` refutes the claim
      (*inconsistent*); otherwise the bound cannot decide it: *not refuted*;
    * ``claim="at most"``: decided as :func:`rate` decides it (*looser than stated*, *holds*,
      *inconclusive at these sizes*), except that a bound's interval above the claim cannot refute
      it: *inconclusive at these sizes*.

    A lower bound mirrors this (``"at most"``/``"equals"`` can only be refuted, ``"at least"``
    confirmed)."""
    if measured_is not in _BOUND_SIDES:
        raise ValueError(f"measured_is must be one of {_BOUND_SIDES}, got {measured_is!r}")
    if claim not in _CLAIMS:
        raise ValueError(f"claim must be one of {_CLAIMS}, got {claim!r}")
    upper = measured_is == "upper bound"
    quantity = _text("quantity", quantity)
    kwargs = dict(claimed=claimed, level=level, resolution=resolution, quantity=quantity,
                  claimed_text=claimed_text, interval=interval)
    note = (f"the bound is an {measured_is} on the quantity the claim is about, so that quantity's "
            f"exponent is {'at most' if upper else 'at least'} the bound's")
    confirm_side = "at most" if upper else "at least"
    if claim == confirm_side:
        base = rate(estimate, low, high, claim=claim, **kwargs)
        if base.word == INCONSISTENT:
            return Verdict(INCONCLUSIVE, f"{base.sentence}; but {note}, and this side cannot refute the "
                           "claim", "rate of a bound", base.error_rate)
        return Verdict(base.word, f"{base.sentence}; {note}", "rate of a bound", base.error_rate)
    # Only a refutation is possible: the bound's exponent beyond the claim on the forbidden side.
    base = rate(estimate, low, high, claim="at least" if upper else "at most", **kwargs)
    if base.word == INCONSISTENT:
        return Verdict(INCONSISTENT, f"{base.sentence}; {note}", "rate of a bound", base.error_rate)
    ctext = fmt(claimed) if claimed_text is None else _text("claimed_text", claimed_text)
    if level is None:
        head = f"{quantity}, computed exactly, is {fmt(estimate)}"
    else:
        head = (f"the {_pct(_level(level))} {_text('interval', interval)} [{fmt(low)}, {fmt(high)}] of "
                f"{quantity}")
    return Verdict(NOT_REFUTED, f"{head}, not {'below' if upper else 'above'} the claimed {ctext}; {note}: "
                   "a bound of this side can refute the claim but never confirm it", "rate of a bound",
                   base.error_rate)


def finite(values, *, what: str, sample: bool = True, cases: Sequence[str] | None = None) -> Verdict:
    """A claim that a computed quantity is finite in every case it covers (e.g. a complexity
    ``C(psi, R)``, finite only while ``R`` stays inside the radius of convergence of ``psi``).

    ``values`` are exact computations, ``inf`` where the quantity diverges. Any infinite entry is a
    counterexample: *inconsistent*. Otherwise *not refuted* when the entries are a ``sample`` of the
    cases the claim covers (it can never be confirmed that way), *holds* when they are every case
    (``sample=False``). ``cases`` names the entries (e.g. ``"L = 4"``) so that the sentence can say
    where the first infinite one is; ``what`` describes them."""
    what = _text("what", what)
    v = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array, got shape {v.shape}")
    if np.isnan(v).any():
        raise ValueError("values must not contain NaN")
    if cases is not None:
        if isinstance(cases, str) or len(cases) != v.size:
            raise ValueError(f"cases must name each of the {v.size} values")
        cases = [_text("cases", c) for c in cases]
    head = f"{what}: {v.size} case{'s' if v.size != 1 else ''}"
    bad = ~np.isfinite(v)
    if bad.any():
        k = int(bad.sum())
        first = f", the first at {cases[int(np.argmax(bad))]}" if cases is not None else ""
        return Verdict(INCONSISTENT, f"{head}, {k} infinite{first}", "finite")
    if sample:
        return Verdict(NOT_REFUTED, f"{head}, all finite (largest {fmt(v.max())}); a sample cannot confirm "
                       "a claim for all cases", "finite")
    return Verdict(HOLDS, f"{head}, all of the cases the claim covers, all finite (largest {fmt(v.max())})",
                   "finite")


def exists(verdicts: Sequence[Verdict], *, what: str, cases: Sequence[str]) -> Verdict:
    """One verdict for a claim that needs only SOME case ("some stepsize of a grid trains at every
    width"), each case decided by its own rule: *holds* when a case holds (or is *looser than
    stated*); *inconsistent* when every case is; else *inconclusive at these sizes* when a case is,
    else *not refuted*. ``cases`` names the verdicts (e.g. ``"c = 2"``); the sentence names the
    cases that hold and states the first one's rule. A false *holds* needs a false alarm in one of
    the cases, so the error rate is the sum of the cases' (a union bound: to keep a family-wise
    rate alpha, decide each of k cases at alpha / k). ``holds with constant c`` verdicts are not
    combined."""
    vs = _verdict_list(verdicts)
    if isinstance(cases, str) or len(cases) != len(vs):
        raise ValueError(f"cases must name each of the {len(vs)} verdicts")
    names = [_text("cases", c) for c in cases]
    what = _text("what", what)
    words = [v.word for v in vs]
    rates = [v.error_rate for v in vs if v.error_rate is not None]
    err = min(sum(rates), 0.5) if rates else None
    good = [k for k, w in enumerate(words) if w in (HOLDS, LOOSER)]
    if good:
        first = vs[good[0]]
        held = f"holds for {', '.join(names[k] for k in good)} of {len(vs)} cases"
        return Verdict(HOLDS, f"{what}: {held}; {names[good[0]]}: {first.sentence.rstrip('.')}", "exists",
                       err, brief=f"{what}: {held}")
    counts = ", ".join(f"{words.count(w)} {w}" for w in WORDS if w in words)
    head = f"{what}: no case of {len(vs)} holds ({counts})"
    if all(w == INCONSISTENT for w in words):
        return Verdict(INCONSISTENT, head, "exists", err)
    if INCONCLUSIVE in words:
        return Verdict(INCONCLUSIVE, head, "exists", err)
    return Verdict(NOT_REFUTED, head, "exists", err)


def approach(sizes, local_exponents, *, claimed, tolerance, quantity: str = "the local exponent",
             claimed_text: str | None = None, basis: str = "computed exactly") -> Verdict:
    """An asymptotic exponent (e.g. a derived ``-log F ~ L^(2/3)``) checked on exactly computed
    local exponents ``local_exponents[k]`` between ``sizes[k]`` and ``sizes[k + 1]``: a finite size
    cannot refute or confirm a limit, so the rule asks where the last local exponent is and where
    the sequence is going.

    * The last one lies within ``tolerance`` of ``claimed``: *holds* (at these sizes).
    * Otherwise, its distance to ``claimed`` has shrunk at each of the last two steps (the sequence
      is approaching the claim): *inconclusive at these sizes*.
    * Otherwise (not approaching): *inconsistent*.

    The local exponents are exact computations or, where they come from a sample (``basis`` says
    how they were obtained, e.g. "on the median over 496 pairs"), ones whose sampling error is
    small against ``tolerance``; the sentence gives the last three."""
    e = np.atleast_1d(np.asarray(local_exponents, dtype=np.float64))
    s = np.atleast_1d(np.asarray(sizes, dtype=np.float64))
    if e.ndim != 1 or e.size < 3:
        raise ValueError("local_exponents must hold at least three values (to see a direction)")
    if s.shape != (e.size + 1,):
        raise ValueError(f"sizes must hold len(local_exponents) + 1 = {e.size + 1} values, got {s.shape}")
    if not (np.isfinite(e).all() and np.isfinite(s).all()) or (np.diff(s) <= 0).any():
        raise ValueError("sizes must be finite and increasing, local exponents finite")
    claimed = _finite("claimed", claimed)
    tolerance = _finite("tolerance", tolerance)
    if tolerance <= 0:
        raise ValueError(f"tolerance must be positive, got {tolerance}")
    quantity = _text("quantity", quantity)
    ctext = fmt(claimed) if claimed_text is None else _text("claimed_text", claimed_text)
    last = ", ".join(f"{fmt(x)} ({fmt(a)} to {fmt(b)})"
                     for x, a, b in zip(e[-3:], s[-4:-1], s[-3:], strict=True))
    head = f"{quantity}, {_text('basis', basis)}, over the last three steps of size: {last}"
    dist = np.abs(e - claimed)
    if dist[-1] <= tolerance:
        return Verdict(HOLDS, f"{head}; the last lies within {fmt(tolerance)} of the claimed {ctext}",
                       "approach")
    if dist[-1] < dist[-2] < dist[-3]:
        return Verdict(INCONCLUSIVE, f"{head}; farther than {fmt(tolerance)} from the claimed {ctext}, "
                       "but approaching it", "approach")
    return Verdict(INCONSISTENT, f"{head}; farther than {fmt(tolerance)} from the claimed {ctext}, and not "
                   "approaching it", "approach")


def sampled(verdict: Verdict, *, over: str) -> Verdict:
    """A claim for EVERY value of a size (``over``: "every large width m") decided at a few values:
    what the rule found there cannot confirm the claim for the values not tried, so *holds* and
    *looser than stated* become *not refuted*; every other word stands (*inconsistent* only if the
    underlying rule can refute at the values tried). The sentence says which values were tried."""
    if not isinstance(verdict, Verdict):
        raise TypeError(f"verdict must be a Verdict, got {type(verdict).__name__}")
    over = _text("over", over)
    if verdict.word == HOLDS_WITH_CONSTANT:
        raise ValueError("'holds with constant c' is a computed constant, not a sampled claim")
    inner = (verdict.sentence.rstrip("."), (verdict.brief or verdict.sentence).rstrip("."))
    if verdict.word in (HOLDS, LOOSER):
        tail = f"; the claim is for {over}, and the values tried cannot confirm it for the others"
        return Verdict(NOT_REFUTED, inner[0] + tail, "sampled", verdict.error_rate, brief=inner[1] + tail)
    tail = f" (the claim is for {over})"
    return Verdict(verdict.word, inner[0] + tail, "sampled", verdict.error_rate, brief=inner[1] + tail)


def limit(z, se, *, alpha, resolution, what: str) -> Verdict:
    """A Monte Carlo estimate against a claimed limit, entry by entry: ``z`` the z-scores of the
    estimate's deviations from the limit (for widths, a Richardson extrapolation to infinite width)
    and ``se`` their standard errors.  The family-wise two-sided false-alarm rate ``alpha`` is split
    over the entries (Bonferroni): critical z = Phi^-1(1 - alpha / (2 N)).

    Some abs(z) beyond it: *inconsistent* (a correct limit is called so with probability at most
    ``alpha``).  Otherwise the claim, an equality of every entry, is *not refuted* when the test had
    power -- every standard error at most ``resolution / (z + 2)``, so a deviation of ``resolution``
    in any entry is detected with probability at least 97.7% -- and *inconclusive at these sizes*
    when it had not."""
    z = np.asarray(z, dtype=np.float64).ravel()
    se = np.asarray(se, dtype=np.float64).ravel()
    if z.size == 0 or z.shape != se.shape:
        raise ValueError(f"z and se must be non-empty and of one shape, got {z.shape} and {se.shape}")
    if not (np.isfinite(z).all() and np.isfinite(se).all()) or (se < 0).any():
        raise ValueError("z and se must be finite, se non-negative")
    alpha = _alpha(alpha)
    resolution = _finite("resolution", resolution)
    if resolution <= 0:
        raise ValueError(f"resolution must be positive, got {resolution}")
    what = _text("what", what)
    zc = float(stats.norm.ppf(1 - alpha / (2 * z.size)))
    worst, largest = float(np.abs(z).max()), float(se.max())
    head = (f"{what}: largest |z| {worst:.2f} over {z.size} entries against the critical {zc:.2f} "
            f"(family-wise false-alarm rate {fmt(alpha)}, Bonferroni)")
    if worst > zc:
        return Verdict(INCONSISTENT, f"{head}: the limit is rejected", "limit", alpha)
    power = f"largest standard error {fmt(largest)}, so a deviation of {fmt(resolution)} would be seen"
    if largest * (zc + 2) <= resolution:
        return Verdict(NOT_REFUTED, f"{head}: not rejected; {power} with probability >= 97.7%",
                       "limit", alpha)
    return Verdict(INCONCLUSIVE, f"{head}: not rejected, but the {power} with probability < 97.7%",
                   "limit", alpha)
