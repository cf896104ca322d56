"""Tests of rnnbook.verdicts: every branch of every rule, the vocabulary, bad input."""

import math

import numpy as np
import pytest
from scipy import stats

from rnnbook import verdicts as V
from rnnbook.verdicts import (
    HOLDS,
    HOLDS_WITH_CONSTANT,
    INCONCLUSIVE,
    INCONSISTENT,
    LOOSER,
    NOT_REFUTED,
    Verdict,
)


def test_vocabulary_is_the_six_words():
    assert V.WORDS == ("holds", "holds with constant c", "looser than stated", "inconsistent",
                       "not refuted", "inconclusive at these sizes")


def test_verdict_validates_and_renders():
    v = Verdict(HOLDS, "the interval contains -1/2", "rate", 0.01)
    assert v.markdown() == "**holds**: the interval contains -1/2."
    assert v.label == "holds"
    c = Verdict(HOLDS_WITH_CONSTANT, "computed exactly", "constant", constant=5 / 3)
    assert c.label == "holds with constant c = 1.67"
    with pytest.raises(ValueError, match="word must be one of"):
        Verdict("holds, loosely", "x", "rate")
    with pytest.raises(ValueError, match="constant is given exactly"):
        Verdict(HOLDS_WITH_CONSTANT, "x", "constant")
    with pytest.raises(ValueError, match="constant is given exactly"):
        Verdict(HOLDS, "x", "constant", constant=1.0)
    with pytest.raises(TypeError, match="sentence"):
        Verdict(HOLDS, "  ", "rate")
    with pytest.raises(ValueError, match="error_rate"):
        Verdict(HOLDS, "x", "rate", error_rate=1.5)


def test_fmt():
    assert V.fmt(3.0) == "3" and V.fmt(-0.5) == "-0.5" and V.fmt(0.123456) == "0.123"
    assert V.fmt(math.inf) == "inf" and V.fmt(1.5e-9) == "1.5e-09"


# --- rate --------------------------------------------------------------------------------------

@pytest.mark.parametrize("low, high, claim, word", [
    (-0.6, -0.4, "equals", HOLDS),                # contains, narrow
    (-0.95, -0.52, "equals", INCONSISTENT),       # excludes (below)
    (-0.45, -0.19, "equals", INCONSISTENT),       # excludes (above)
    (-1.2, 0.1, "equals", INCONCLUSIVE),          # contains, too wide
    (-0.6, -0.4, "at most", HOLDS),
    (-0.9, -0.6, "at most", LOOSER),              # faster than the bound
    (-0.3, -0.1, "at most", INCONSISTENT),        # slower than the bound
    (-1.0, 0.2, "at most", INCONCLUSIVE),
    (-0.6, -0.4, "at least", HOLDS),
    (-0.3, -0.1, "at least", LOOSER),
    (-0.9, -0.6, "at least", INCONSISTENT),
    (-1.0, 0.2, "at least", INCONCLUSIVE),
])
def test_rate_every_branch(low, high, claim, word):
    v = V.rate((low + high) / 2, low, high, claimed=-0.5, claim=claim, level=0.99)
    assert v.word == word
    assert v.error_rate == pytest.approx(0.01)
    assert f"[{V.fmt(low)}, {V.fmt(high)}]" in v.sentence and "99%" in v.sentence


def test_rate_sentence_names_the_claim_and_resolution():
    v = V.rate(-0.7, -0.95, -0.52, claimed=-0.5, level=0.99, claimed_text="-1/2 (CLT)",
               quantity="the median's exponent", interval="bootstrap interval over 48 networks")
    assert v.sentence == ("the 99% bootstrap interval over 48 networks [-0.95, -0.52] of the median's "
                          "exponent excludes the claimed -1/2 (CLT)")
    wide = V.rate(-0.5, -0.8, -0.2, claimed=-0.5, level=0.95, resolution=0.5)
    assert wide.word == HOLDS  # within the coarser resolution


@pytest.mark.parametrize("value, claim, word", [
    (3.0, "equals", HOLDS), (2.0, "equals", INCONSISTENT),
    (2.0, "at most", LOOSER), (4.0, "at most", INCONSISTENT), (3.0, "at most", HOLDS),
    (4.0, "at least", LOOSER), (2.0, "at least", INCONSISTENT),
])
def test_exact_rate(value, claim, word):
    v = V.rate(value, value, value, claimed=3.0, claim=claim)
    assert v.word == word and v.error_rate is None and "computed exactly" in v.sentence


def test_rate_bad_input():
    with pytest.raises(ValueError, match="low <= estimate <= high"):
        V.rate(0.0, 0.1, 0.2, claimed=0, level=0.9)
    with pytest.raises(ValueError, match="claim must be one of"):
        V.rate(0.0, -0.1, 0.1, claimed=0, claim="about", level=0.9)
    with pytest.raises(ValueError, match="level"):
        V.rate(0.0, -0.1, 0.1, claimed=0, level=1.0)
    with pytest.raises(ValueError, match="finite"):
        V.rate(math.nan, -0.1, 0.1, claimed=0, level=0.9)
    with pytest.raises(TypeError, match="claimed must be a real number"):
        V.rate(0.0, -0.1, 0.1, claimed="-1/2", level=0.9)
    with pytest.raises(ValueError, match="exact rate"):
        V.rate(0.0, -0.1, 0.1, claimed=0)
    with pytest.raises(ValueError, match="resolution"):
        V.rate(0.0, -0.1, 0.1, claimed=0, level=0.9, resolution=0)


# --- trend -------------------------------------------------------------------------------------

@pytest.mark.parametrize("low, high, direction, word", [
    (-0.9, -0.5, "decreasing", HOLDS), (0.2, 0.4, "decreasing", INCONSISTENT),
    (-0.2, 0.3, "decreasing", INCONCLUSIVE),
    (0.2, 0.4, "increasing", HOLDS), (-0.9, -0.5, "increasing", INCONSISTENT),
    (-0.2, 0.3, "increasing", INCONCLUSIVE),
])
def test_trend_every_branch(low, high, direction, word):
    assert V.trend((low + high) / 2, low, high, direction=direction, level=0.95).word == word


def test_trend_exact_and_bad_input():
    assert V.trend(-0.67, -0.67, -0.67, direction="decreasing").word == HOLDS
    assert V.trend(0.0, 0.0, 0.0, direction="decreasing").word == INCONSISTENT
    assert V.trend(0.3, 0.3, 0.3, direction="decreasing").word == INCONSISTENT
    with pytest.raises(ValueError, match="direction"):
        V.trend(0.0, 0.0, 0.0, direction="down")


# --- bound -------------------------------------------------------------------------------------

def test_bound_every_branch():
    sample = V.bound([1.0, 2.0], [10.0, 1e12], what="form against C(F*)")
    assert sample.word == NOT_REFUTED and "0.1" in sample.sentence and "2 cases" in sample.sentence
    exact = V.bound([1.0], [2.0], sample=False, what="C(arctan(z/2), 1) against 5/3 + 1")
    assert exact.word == HOLDS
    bad = V.bound([1.0, 3.0], [2.0, 2.0], what="x")
    assert bad.word == INCONSISTENT and "1 violates" in bad.sentence and "1.5" in bad.sentence
    ge = V.bound([3.0], [2.0], relation=">=", what="x")
    assert ge.word == NOT_REFUTED
    assert V.bound([1.0], [2.0], relation=">=", what="x").word == INCONSISTENT
    # rounding is not a violation; an infinite limit is allowed
    assert V.bound([1.0 + 1e-15], [1.0], what="x").word == NOT_REFUTED
    assert V.bound([5.0], [math.inf], what="x").word == NOT_REFUTED


def test_bound_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        V.bound([np.nan], [1.0], what="x")
    with pytest.raises(ValueError, match="relation"):
        V.bound([1.0], [1.0], relation="<", what="x")
    with pytest.raises(ValueError, match="empty"):
        V.bound([], [], what="x")
    with pytest.raises(TypeError, match="what"):
        V.bound([1.0], [1.0], what="")


# --- constant ----------------------------------------------------------------------------------

@pytest.mark.parametrize("measured, need, kind, word", [
    (0.2, "at least", "exact", HOLDS), (0.05, "at least", "exact", INCONSISTENT),
    (0.2, "at least", "upper bound", NOT_REFUTED),   # a sample constant: cannot confirm
    (0.05, "at least", "upper bound", INCONSISTENT),  # true <= 0.05 < 0.1
    (0.2, "at least", "lower bound", HOLDS),
    (0.05, "at least", "lower bound", INCONCLUSIVE),
    (0.05, "at most", "exact", HOLDS), (0.2, "at most", "exact", INCONSISTENT),
    (0.05, "at most", "upper bound", HOLDS), (0.2, "at most", "upper bound", INCONCLUSIVE),
    (0.05, "at most", "lower bound", NOT_REFUTED), (0.2, "at most", "lower bound", INCONSISTENT),
])
def test_constant_every_branch(measured, need, kind, word):
    assert V.constant(measured, need=need, claimed=0.1, measured_is=kind).word == word


def test_constant_unspecified():
    v = V.constant(5 / 3, need="at most", name="C(arctan(z/2), 1)")
    assert v.word == HOLDS_WITH_CONSTANT and v.constant == pytest.approx(5 / 3)
    assert v.label == "holds with constant c = 1.67"
    assert V.constant(0.3, need="at least", measured_is="upper bound").word == NOT_REFUTED
    with pytest.raises(ValueError, match="positive"):
        V.constant(0.0, need="at least")
    with pytest.raises(ValueError, match="need"):
        V.constant(1.0, need="equal")
    with pytest.raises(ValueError, match="measured_is"):
        V.constant(1.0, need="at least", measured_is="sample")


# --- agreement ---------------------------------------------------------------------------------

def test_agreement_every_branch():
    assert V.agreement(1e-12, 1e-9, what="series vs closed form", proved=True).word == HOLDS
    assert V.agreement(1e-12, 1e-9, what="x", proved=False).word == NOT_REFUTED
    assert V.agreement(1e-6, 1e-9, what="x", proved=True).word == INCONSISTENT
    with pytest.raises(ValueError, match="non-negative"):
        V.agreement(-1.0, 1.0, what="x", proved=True)


# --- compare_errors ----------------------------------------------------------------------------

@pytest.mark.parametrize("a, b, claim, word", [
    (0.20, 0.30, "first lower", HOLDS), (0.30, 0.20, "first lower", INCONSISTENT),
    (0.20, 0.21, "first lower", INCONCLUSIVE),
    (0.30, 0.20, "first higher", HOLDS), (0.20, 0.30, "first higher", INCONSISTENT),
    (0.21, 0.20, "first higher", INCONCLUSIVE),
])
def test_compare_errors_every_branch(a, b, claim, word):
    v = V.compare_errors(a, 0.01, b, 0.01, claim=claim, alpha=0.01, names=("Algorithm 1", "Section 3"))
    assert v.word == word and v.error_rate == 0.01 and "critical z = 2.33" in v.sentence


def test_compare_errors_without_noise():
    assert V.compare_errors(0.1, 0, 0.2, 0).word == HOLDS
    assert V.compare_errors(0.2, 0, 0.1, 0).word == INCONSISTENT
    assert V.compare_errors(0.2, 0, 0.2, 0).word == INCONCLUSIVE
    with pytest.raises(ValueError, match="non-negative"):
        V.compare_errors(0.1, -1, 0.2, 0)
    with pytest.raises(ValueError, match="alpha"):
        V.compare_errors(0.1, 0.1, 0.2, 0.1, alpha=0.7)


def test_compare_errors_false_alarm_rate():
    """Under the null (equal error rates) the one-sided z-test at alpha = 0.05 calls 'holds' on a
    fraction alpha of independent replications: 2000 of them, binomial sd 9.7; fails beyond 5 sd
    (false-alarm rate below 1e-6)."""
    rng = np.random.default_rng(7)
    n, p, reps = 2000, 0.3, 2000
    a, b = rng.binomial(n, p, reps) / n, rng.binomial(n, p, reps) / n
    se = np.sqrt(p * (1 - p) / n)
    hits = sum(V.compare_errors(x, se, y, se, alpha=0.05).word == HOLDS for x, y in zip(a, b, strict=True))
    assert abs(hits - 0.05 * reps) <= 5 * math.sqrt(reps * 0.05 * 0.95), hits


# --- learned -----------------------------------------------------------------------------------

def test_error_estimate_combines_run_spread_and_test_sample():
    e = V.error_estimate([0.2, 0.22, 0.18, 0.2], n_test=1000)
    var = np.var([0.2, 0.22, 0.18, 0.2], ddof=1) / 4 + 0.2 * 0.8 / 1000
    assert e.mean == pytest.approx(0.2) and e.se == pytest.approx(math.sqrt(var)) and e.dof == 3
    one = V.error_estimate([0.3], n_test=100)
    assert one.se == pytest.approx(math.sqrt(0.21 / 100)) and one.dof == 0
    assert one.upper(0.01) == pytest.approx(0.3 + 2.3263479 * math.sqrt(0.0021), rel=1e-6)
    with pytest.raises(ValueError, match="n_test"):
        V.error_estimate([0.2], n_test=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        V.error_estimate([1.2], n_test=10)


def test_learned_every_branch():
    yes = V.learned([0.17, 0.21, 0.19, 0.2], n_test=1000, chance=0.5)
    assert yes.word == HOLDS and "below chance" in yes.sentence
    no = V.learned([0.47, 0.49, 0.5, 0.46], n_test=1000, chance=0.5)
    assert no.word == INCONCLUSIVE
    # four runs spread from 0.1 to 0.6: the run-to-run spread alone keeps it undecided
    spread = V.learned([0.1, 0.6, 0.2, 0.55], n_test=100000, chance=0.5)
    assert spread.word == INCONCLUSIVE
    with pytest.raises(ValueError, match="chance"):
        V.learned([0.2], n_test=10, chance=0)


def test_learned_false_alarm_rate():
    """At chance (p = 0.5 exactly) 'learned' is called on at most a fraction alpha of replications:
    4 runs, each run's error binomial on 1000 test points plus a run effect; 2000 replications at
    alpha = 0.05, the call rate must not exceed alpha by 5 binomial sd (false-alarm < 1e-6)."""
    rng = np.random.default_rng(11)
    reps, calls = 2000, 0
    for _ in range(reps):
        p = np.clip(0.5 + rng.normal(0, 0.02, 4), 0, 1)
        e = rng.binomial(1000, p) / 1000
        calls += V.learned(e, n_test=1000, chance=0.5, alpha=0.05).word == HOLDS
    assert calls <= 0.05 * reps + 5 * math.sqrt(reps * 0.05 * 0.95), calls


# --- combine -----------------------------------------------------------------------------------

def _v(word):
    return Verdict(word, f"case {word}", "rate", 0.01)


@pytest.mark.parametrize("words, word", [
    ((HOLDS, INCONSISTENT, LOOSER), INCONSISTENT),
    ((HOLDS, INCONCLUSIVE), INCONCLUSIVE),
    ((LOOSER, LOOSER), LOOSER),
    ((HOLDS, LOOSER), HOLDS),
    ((HOLDS, NOT_REFUTED), NOT_REFUTED),
    ((NOT_REFUTED, NOT_REFUTED), NOT_REFUTED),
])
def test_combine_every_branch(words, word):
    v = V.combine([_v(w) for w in words], what="both initialisations")
    assert v.word == word
    assert v.error_rate == pytest.approx(0.01 * len(words))
    assert v.sentence.startswith("both initialisations: ")


def test_combine_bad_input():
    with pytest.raises(ValueError, match="empty"):
        V.combine([], what="x")
    with pytest.raises(TypeError, match="Verdict"):
        V.combine(["holds"], what="x")
    c = Verdict(HOLDS_WITH_CONSTANT, "x", "constant", constant=1.0)
    with pytest.raises(ValueError, match="not combined"):
        V.combine([c, _v(HOLDS)], what="x")


# --- rate_of_bound -----------------------------------------------------------------------------

@pytest.mark.parametrize("low, high, claim, side, word", [
    # An upper bound: "at least" and "equals" can only be refuted, "at most" only confirmed.
    (-0.9, -0.6, "at least", "upper bound", INCONSISTENT),    # the bound falls faster than allowed
    (-0.6, -0.4, "at least", "upper bound", NOT_REFUTED),     # contains the claim
    (-0.3, -0.1, "at least", "upper bound", NOT_REFUTED),     # above it
    (-0.9, -0.6, "equals", "upper bound", INCONSISTENT),
    (-0.3, -0.1, "equals", "upper bound", NOT_REFUTED),
    (-0.9, -0.6, "at most", "upper bound", LOOSER),
    (-0.6, -0.4, "at most", "upper bound", HOLDS),
    (-1.0, 0.2, "at most", "upper bound", INCONCLUSIVE),      # contains, too wide
    (-0.3, -0.1, "at most", "upper bound", INCONCLUSIVE),     # above: cannot refute
    # A lower bound mirrors it.
    (-0.3, -0.1, "at most", "lower bound", INCONSISTENT),
    (-0.6, -0.4, "at most", "lower bound", NOT_REFUTED),
    (-0.9, -0.6, "at most", "lower bound", NOT_REFUTED),
    (-0.3, -0.1, "equals", "lower bound", INCONSISTENT),
    (-0.9, -0.6, "equals", "lower bound", NOT_REFUTED),
    (-0.3, -0.1, "at least", "lower bound", LOOSER),
    (-0.6, -0.4, "at least", "lower bound", HOLDS),
    (-1.0, 0.2, "at least", "lower bound", INCONCLUSIVE),
    (-0.9, -0.6, "at least", "lower bound", INCONCLUSIVE),    # below: cannot refute
])
def test_rate_of_bound_every_branch(low, high, claim, side, word):
    v = V.rate_of_bound((low + high) / 2, low, high, claimed=-0.5, claim=claim, measured_is=side, level=0.99,
                        quantity="the exponent of K_L")
    assert v.word == word
    assert v.error_rate == pytest.approx(0.01) and v.rule == "rate of a bound"
    assert f"[{V.fmt(low)}, {V.fmt(high)}]" in v.sentence and "the exponent of K_L" in v.sentence
    assert f"the bound is an {side}" in v.sentence


def test_rate_of_bound_exact_and_bad_input():
    refuted = V.rate_of_bound(-15.0, -15.0, -15.0, claimed=-4, claim="at least", measured_is="upper bound")
    assert refuted.word == INCONSISTENT and refuted.error_rate is None
    assert "computed exactly" in refuted.sentence
    kept = V.rate_of_bound(0.002, 0.002, 0.002, claimed=-4, claim="at least", measured_is="upper bound",
                           claimed_text="-4 (Omega(1/L^4))")
    assert kept.word == NOT_REFUTED and kept.error_rate is None
    assert kept.sentence.startswith("the fitted exponent of the bound, computed exactly, is 0.002, not below "
                                    "the claimed -4 (Omega(1/L^4))")
    looser = V.rate_of_bound(-1.0, -1.0, -1.0, claimed=-0.5, claim="at most", measured_is="upper bound")
    assert looser.word == LOOSER
    with pytest.raises(ValueError, match="measured_is"):
        V.rate_of_bound(0.0, 0.0, 0.0, claimed=0, claim="at least", measured_is="exact")
    with pytest.raises(ValueError, match="claim must be one of"):
        V.rate_of_bound(0.0, 0.0, 0.0, claimed=0, claim="about", measured_is="upper bound")
    with pytest.raises(ValueError, match="low <= estimate <= high"):
        V.rate_of_bound(0.0, 0.1, 0.2, claimed=0, claim="at least", measured_is="upper bound", level=0.9)
    with pytest.raises(ValueError, match="exact rate"):
        V.rate_of_bound(0.0, -0.1, 0.1, claimed=0, claim="at most", measured_is="lower bound")


# --- finite ------------------------------------------------------------------------------------

def test_finite_every_branch():
    cases = [f"L = {L}" for L in range(1, 6)]
    bad = V.finite([1.2, 2.5, math.inf, math.inf, 7.0], what="C(arctan(z/2), sqrt L)", cases=cases)
    assert bad.word == INCONSISTENT and bad.rule == "finite" and bad.error_rate is None
    assert bad.sentence == "C(arctan(z/2), sqrt L): 5 cases, 2 infinite, the first at L = 3"
    assert V.finite([1.0, -math.inf], what="x").sentence == "x: 2 cases, 1 infinite"
    kept = V.finite([1.5, 2.0], what="C(exp, R) at two R")
    assert kept.word == NOT_REFUTED and "largest 2" in kept.sentence and "cannot confirm" in kept.sentence
    every = V.finite(3.0, what="one exact value", sample=False)
    assert every.word == HOLDS and every.sentence.startswith("one exact value: 1 case, all of the cases")


def test_finite_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        V.finite([1.0, math.nan], what="x")
    with pytest.raises(ValueError, match="non-empty 1-D"):
        V.finite([], what="x")
    with pytest.raises(ValueError, match="non-empty 1-D"):
        V.finite([[1.0, 2.0]], what="x")
    with pytest.raises(ValueError, match="cases must name"):
        V.finite([1.0, 2.0], what="x", cases=["a"])
    with pytest.raises(ValueError, match="cases must name"):
        V.finite([1.0], what="x", cases="a")
    with pytest.raises(TypeError, match="cases"):
        V.finite([1.0], what="x", cases=[" "])
    with pytest.raises(TypeError, match="what"):
        V.finite([1.0], what="")


# --- exists --------------------------------------------------------------------------------------

def test_exists_every_branch():
    def v(word, rate=0.001):
        return Verdict(word, f"case {word}", "learned", rate)

    cases = ["c = 1", "c = 2", "c = 4"]
    some = V.exists([v(INCONCLUSIVE), v(HOLDS), v(LOOSER)], what="some c trains", cases=cases)
    assert some.word == HOLDS and some.rule == "exists"
    assert some.sentence == "some c trains: holds for c = 2, c = 4 of 3 cases; c = 2: case holds"
    assert some.error_rate == pytest.approx(0.003)  # union bound over the cases
    assert V.exists([v(INCONSISTENT), v(LOOSER)], what="x", cases=["a", "b"]).word == HOLDS
    none = V.exists([v(INCONCLUSIVE), v(INCONSISTENT), v(NOT_REFUTED)], what="some c trains", cases=cases)
    assert none.word == INCONCLUSIVE
    assert none.sentence == ("some c trains: no case of 3 holds (1 inconsistent, 1 not refuted, "
                             "1 inconclusive at these sizes)")
    assert V.exists([v(INCONSISTENT), v(INCONSISTENT)], what="x", cases=["a", "b"]).word == INCONSISTENT
    assert V.exists([v(NOT_REFUTED), v(INCONSISTENT)], what="x", cases=["a", "b"]).word == NOT_REFUTED
    exact = V.exists([Verdict(NOT_REFUTED, "s", "bound")], what="x", cases=["a"])
    assert exact.error_rate is None
    many = V.exists([v(INCONCLUSIVE, 0.2)] * 4, what="x", cases=list("abcd"))
    assert many.error_rate == 0.5  # capped, as combine caps


def test_exists_bad_input():
    h = Verdict(HOLDS, "s", "learned", 0.01)
    with pytest.raises(ValueError, match="must not be empty"):
        V.exists([], what="x", cases=[])
    with pytest.raises(TypeError, match="Verdict instances"):
        V.exists(["holds"], what="x", cases=["a"])
    with pytest.raises(ValueError, match="cases must name"):
        V.exists([h, h], what="x", cases=["a"])
    with pytest.raises(ValueError, match="cases must name"):
        V.exists([h], what="x", cases="a")
    with pytest.raises(TypeError, match="cases"):
        V.exists([h], what="x", cases=[" "])
    with pytest.raises(TypeError, match="what"):
        V.exists([h], what=" ", cases=["a"])
    with pytest.raises(ValueError, match="not combined"):
        V.exists([Verdict(HOLDS_WITH_CONSTANT, "s", "constant", constant=2.0)], what="x", cases=["a"])


# --- approach ----------------------------------------------------------------------------------

@pytest.mark.parametrize("exps, word", [
    ([0.75, 0.70, 0.672], HOLDS),           # last within 0.01 of 2/3
    ([0.80, 0.75, 0.70], INCONCLUSIVE),     # approaching, not there
    ([0.70, 0.75, 0.80], INCONSISTENT),     # moving away
    ([0.75, 0.70, 0.72], INCONSISTENT),     # turned back
])
def test_approach_every_branch(exps, word):
    v = V.approach([32, 64, 128, 256], exps, claimed=2 / 3, tolerance=0.01, claimed_text="2/3")
    assert v.word == word and v.error_rate is None and "2/3" in v.sentence


def test_approach_bad_input():
    with pytest.raises(ValueError, match="three"):
        V.approach([1, 2, 3], [0.1, 0.2], claimed=0, tolerance=0.1)
    with pytest.raises(ValueError, match="sizes must hold"):
        V.approach([1, 2, 3], [0.1, 0.2, 0.3], claimed=0, tolerance=0.1)
    with pytest.raises(ValueError, match="increasing"):
        V.approach([1, 3, 2, 4], [0.1, 0.2, 0.3], claimed=0, tolerance=0.1)
    with pytest.raises(ValueError, match="tolerance"):
        V.approach([1, 2, 3, 4], [0.1, 0.2, 0.3], claimed=0, tolerance=0)


# --- sampled -----------------------------------------------------------------------------------

@pytest.mark.parametrize("word, expected", [
    (HOLDS, NOT_REFUTED), (LOOSER, NOT_REFUTED), (INCONSISTENT, INCONSISTENT),
    (INCONCLUSIVE, INCONCLUSIVE), (NOT_REFUTED, NOT_REFUTED),
])
def test_sampled_every_branch(word, expected):
    v = V.sampled(Verdict(word, "c = 2 trains at m = 32 and 128", "exists", 0.01), over="every large m")
    assert v.word == expected and v.error_rate == 0.01 and "every large m" in v.sentence


def test_sampled_bad_input():
    with pytest.raises(TypeError, match="Verdict"):
        V.sampled("holds", over="m")
    with pytest.raises(ValueError, match="constant"):
        V.sampled(Verdict(HOLDS_WITH_CONSTANT, "x", "constant", constant=1.0), over="m")


def test_compare_errors_paired():
    """A paired comparison uses the standard error of the difference alone."""
    v = V.compare_errors(0.20, None, 0.25, None, se_difference=0.01, names=("a", "b"))
    assert v.word == HOLDS and "z = 5.00" in v.sentence and "paired (se of the difference 0.01)" in v.sentence
    assert V.compare_errors(0.20, None, 0.21, None, se_difference=0.01).word == INCONCLUSIVE
    with pytest.raises(ValueError, match="must be None"):
        V.compare_errors(0.2, 0.01, 0.25, None, se_difference=0.01)


def test_numbers_that_differ_print_differently():
    v = V.learned([0.35] * 8, n_test=1000, chance=0.4995, alpha=0.01 / 14)
    up = V.error_estimate([0.35] * 8, n_test=1000).upper(0.01 / 14)
    assert "99.93%" in v.sentence
    a, b = V._fmt_pair(up, 0.4995)
    assert a != b
    assert V._fmt_pair(0.1234, 0.5) == ("0.123", "0.5")


def test_brief_forms_for_tables():
    """A combined verdict's short form counts its cases' words; a single rule has none (its
    sentence is the short form); sampled keeps the inner short form."""
    c = V.combine([_v(HOLDS), _v(LOOSER), _v(LOOSER)], what="both inits")
    assert c.brief == "both inits: 3 cases: 1 holds, 2 looser than stated (each case in the text)"
    assert c.markdown(brief=True).startswith("**holds**: both inits: 3 cases")
    assert c.markdown() == c.markdown(brief=False) and "case holds" in c.markdown()
    single = _v(HOLDS)
    assert single.brief is None and single.markdown(brief=True) == single.markdown()
    e = V.exists([_v(INCONCLUSIVE), _v(HOLDS)], what="a c", cases=["c = 1", "c = 2"])
    assert e.brief == "a c: holds for c = 2 of 2 cases"
    s = V.sampled(c, over="every m")
    assert s.word == NOT_REFUTED and s.brief.startswith("both inits: 3 cases") and "every m" in s.brief
    with pytest.raises(TypeError, match="brief"):
        Verdict(HOLDS, "x", "rate", brief="  ")


# --- limit -------------------------------------------------------------------------------------
def test_limit_every_branch_and_its_critical_value():
    """Bonferroni over N entries: critical z = Phi^-1(1 - alpha / (2 N)); beyond it inconsistent;
    within it, not refuted when every se <= resolution / (z + 2), else inconclusive."""
    zc = float(stats.norm.ppf(1 - 1e-3 / (2 * 4)))
    se = np.full(4, 0.01)
    assert V.limit([0, 1, -2, zc * 1.001], se, alpha=1e-3, resolution=0.5, what="K").word == INCONSISTENT
    v = V.limit([0, 1, -2, zc * 0.999], se, alpha=1e-3, resolution=0.5, what="K")
    assert v.word == NOT_REFUTED and f"{zc:.2f}" in v.sentence and v.error_rate == 1e-3
    wide = np.array([0.01, 0.01, 0.01, 0.5 / (zc + 2) * 1.001])
    assert V.limit([0, 1, -2, 3], wide, alpha=1e-3, resolution=0.5, what="K").word == INCONCLUSIVE
    assert V.limit([0, 1, -2, 3], wide * 0.999, alpha=1e-3, resolution=0.5, what="K").word == NOT_REFUTED


def test_limit_bad_input():
    with pytest.raises(ValueError, match="z and se"):
        V.limit([], [], alpha=0.01, resolution=1, what="x")
    with pytest.raises(ValueError, match="z and se"):
        V.limit([1, 2], [1], alpha=0.01, resolution=1, what="x")
    with pytest.raises(ValueError, match="z and se"):
        V.limit([math.nan], [1], alpha=0.01, resolution=1, what="x")
    with pytest.raises(ValueError, match="resolution"):
        V.limit([1], [1], alpha=0.01, resolution=0, what="x")
    with pytest.raises(ValueError, match="alpha"):
        V.limit([1], [1], alpha=0.7, resolution=1, what="x")
