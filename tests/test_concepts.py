"""Tests of rnnbook.concepts: the input assumption and the classes (9), (11) of Section 2.2, their
complexities (10), (12), and the margin y F* >= 1 that Theorem 2 assumes."""

import itertools
import math

import numpy as np
import pytest
import torch

from rnnbook import concepts as C
from rnnbook import data
from rnnbook import series as S

# Two-sided standard-normal quantile for a false-alarm rate of 1e-6 per Monte Carlo check:
# P(abs(Z) > 4.892) = 1e-6.
Z_1E6 = 4.892


# ----------------------------------------------------------------------------------------------
# Input sequences (Section 2.2: c_min <= norm(X_l) <= c_max).


# ----------------------------------------------------------------------------------------------
# Targets evaluated against hand computations.


def test_additive_target_by_hand(device):
    # Eq. (9), L = 2, d = 2: x = ([3, 4], [0, 2]).
    # exp(beta_1^T X_1 / norm(X_1)) with beta_1 = [1, 0]: exp(3/5);
    # (beta_2^T X_2 / norm(X_2))^2 with beta_2 = [0.6, 0.8]: 0.8^2;
    # sin(beta_3^T X_1 / 5) with beta_3 = [0, -0.5]: sin(-0.4).
    X = torch.tensor([[[3.0, 4.0], [0.0, 2.0]]], dtype=torch.float64, device=device)
    t = C.additive_target(2, 2, [(1, S.exp(), [1.0, 0.0]),
                                 (2, S.monomial(2), [0.6, 0.8]),
                                 (1, S.sin(), [0.0, -0.5])])
    want = math.exp(0.6) + 0.64 + math.sin(-0.4)
    f = t(X)
    assert f.shape == (1,) and f.device.type == device
    assert float(f[0]) == pytest.approx(want, rel=1e-15)


def test_additive_target_ignores_norms(device):
    # Eq. (9) reads only directions X_l / norm(X_l): rescaling each X_l leaves F* unchanged.
    X = data.sample_sequences(30, 3, 4, c_min=0.5, c_max=2.0, seed=3, device=device)
    t = C.random_additive_target(3, 4, [S.exp(), S.sin()], terms_per_position=2, seed=4)
    torch.testing.assert_close(t(X), t(X * torch.rand(30, 3, 1, dtype=torch.float64, device=device)
                                         .add(0.1)), rtol=1e-13, atol=1e-13)


def test_n_variable_target_by_hand(device):
    # Eq. (11), L = 3, d = 2, positions (1, 3): X_1 = [3, 4] (norm 5), X_3 = [0, 1] (norm 1),
    # beta = [0.5, 0, 0, 0.5]: <beta, [X_1, X_3]> = 1.5 + 0.5 = 2, divided by sqrt(2) * 5.
    X = torch.tensor([[[3.0, 4.0], [7.0, -1.0], [0.0, 1.0]]], dtype=torch.float64, device=device)
    t = C.n_variable_target(3, 2, (1, 3), [(S.sin(), [0.5, 0.0, 0.0, 0.5]),
                                           (S.monomial(3, 2.0), [0.0, 0.0, 1.0, 0.0])])
    z1 = 2 / (math.sqrt(2) * 5)
    z2 = 0.0  # beta_2 reads the first coordinate of X_3, which is 0
    assert float(t(X)[0]) == pytest.approx(math.sin(z1) + 2 * z2**3, rel=1e-15)
    assert t.N == 2 and t.l0 == 2
    # The layout of beta follows the order of positions: swapping both leaves F* unchanged.
    t2 = C.n_variable_target(3, 2, (3, 1), [(S.sin(), [0.0, 0.5, 0.5, 0.0])])
    assert float(t2(X)[0]) == pytest.approx(math.sin(z1), rel=1e-15)


def test_n_variable_target_argument_is_bounded(device):
    # abs(<beta, Z>) <= norm(beta) norm(Z) <= norm(beta) sqrt(N) max norm: the argument of psi in
    # eq. (11) lies in [-1, 1]; with psi(z) = z, F* itself does.
    X = data.sample_sequences(2000, 6, 3, c_min=0.2, c_max=5.0, seed=2, device=device)
    t = C.random_n_variable_target(6, 3, (2, 5, 6), S.monomial(1), seed=9)
    assert float(t(X).abs().max()) <= 1 + 1e-12


def test_long_range_pair_positions():
    for L in (2, 5, 9):
        for l0 in range(1, L):
            t = C.long_range_pair(L, 3, l0, S.exp(), seed=0)
            assert t.positions == (1, 1 + l0) and t.l0 == l0 and t.N == 2
    t = C.long_range_pair(9, 3, 2, S.exp(), start=4, seed=0)
    assert t.positions == (4, 6)


def test_n_equals_one_is_the_additive_class(device):
    # With N = 1, eq. (11) is psi(beta^T X_l / norm(X_l)), a one-position additive target (9), and
    # the l0 branch of (12) is L^3.5 C(psi, C0 sqrt(L)) = eq. (10); it is the smaller branch.
    beta = [0.6, 0.0, -0.8]
    a = C.additive_target(5, 3, [(2, S.exp(), beta)])
    b = C.n_variable_target(5, 3, (2,), [(S.exp(), beta)])
    X = data.sample_sequences(40, 5, 3, c_min=0.5, c_max=1.5, seed=1, device=device)
    torch.testing.assert_close(a(X), b(X), rtol=1e-14, atol=1e-14)
    ca, cb = a.complexity(3.0), b.complexity(3.0)
    assert cb.winner == "l0"
    assert cb.log_value == pytest.approx(ca.log_value, rel=1e-14)


def test_random_targets_deterministic_and_normalised():
    psis = [S.exp(), S.sin(), S.cos()]
    a = C.random_additive_target(6, 4, psis, terms_per_position=3, beta_norm=0.7, seed=11)
    b = C.random_additive_target(6, 4, psis, terms_per_position=3, beta_norm=0.7, seed=11)
    c = C.random_additive_target(6, 4, psis, terms_per_position=3, beta_norm=0.7, seed=12)
    assert len(a.terms) == 18
    assert [t.position for t in a.terms] == [pos for pos in range(1, 7) for _ in range(3)]
    for s, t in zip(a.terms, b.terms, strict=True):
        assert s.psi is t.psi and torch.equal(s.beta, t.beta)
        assert float(torch.linalg.vector_norm(s.beta)) == pytest.approx(0.7, rel=1e-14)
    assert not all(torch.equal(s.beta, t.beta) for s, t in zip(a.terms, c.terms, strict=True))
    n1 = C.random_n_variable_target(8, 2, (1, 4, 8), S.exp(), n_terms=4, seed=3)
    n2 = C.random_n_variable_target(8, 2, (1, 4, 8), S.exp(), n_terms=4, seed=3)
    assert all(torch.equal(s.beta, t.beta) and s.beta.shape == (6,)
               for s, t in zip(n1.terms, n2.terms, strict=True))


# ----------------------------------------------------------------------------------------------
# Complexities (10) and (12) against independently computed formula values.


def _c_exp(R):
    # C(exp, R) = 1 + sum_i i R^i / i! = 1 + R e^R, eq. (6)
    return 1 + R * math.exp(R)


@pytest.mark.parametrize("L", [1, 2, 5, 10, 20])
@pytest.mark.parametrize("c0", [1.0, 1.7])
def test_additive_complexity_formula(L, c0):
    # Eq. (10) for one exp term and one z^3 term at every position:
    # L^3.5 * L * (C(exp, R) + C(z^3, R)) with R = C0 sqrt(L), C(z^3, R) = 1 + 3 R^3.
    t = C.additive_target(L, 2, [(pos, psi, [1.0, 0.0]) for pos in range(1, L + 1)
                                 for psi in (S.exp(), S.monomial(3))])
    R = c0 * math.sqrt(L)
    want = L**3.5 * L * (_c_exp(R) + 1 + 3 * R**3)
    got = t.complexity(c0)
    assert got.equation == "(10)" and got.winner is None
    assert got.value == pytest.approx(want, rel=1e-12)
    assert C.complexity(t, c0).log_value == got.log_value


def test_additive_complexity_grows_with_L_and_c0():
    vals = [C.random_additive_target(L, 3, S.sin(), seed=0).complexity(1.0).log_value
            for L in range(1, 30)]
    assert all(b > a for a, b in itertools.pairwise(vals))
    t = C.random_additive_target(4, 3, S.sin(), seed=0)
    assert t.complexity(1.0).log_value < t.complexity(1.5).log_value


def _log_c_n_exp(R, N, L, c1):
    # eq. (7) for exp, term by term with the largest multinomial by brute force over splits
    # (n_k >= 0), in mpmath; 400 terms are far beyond the needed accuracy for R <= 10.
    mp = S.mp
    total = mp.mpf(0)
    for i in range(1, 400):
        best = max(math.factorial(i) // math.prod(math.factorial(k) for k in split)
                   for split in _splits(i, N))
        total += mp.sqrt(best) * (mp.mpf(i) / N) ** N * mp.mpf(R) ** i / mp.factorial(i)
    return float(mp.log(1 + mp.mpf(L) ** (1.5 * N) * mp.mpf(c1) ** N * total))


def _splits(i, N):
    # only near-balanced splits can be the maximum; enumerate parts within 1 of i/N on each side
    lo = max(0, i // N - 1)
    ranges = [range(lo, i // N + 2)] * (N - 1)
    for head in itertools.product(*ranges):
        last = i - sum(head)
        if last >= 0:
            yield (*head, last)


@pytest.mark.parametrize("L, l0", [(5, 1), (5, 4), (10, 1), (10, 9), (20, 1), (20, 19)])
def test_n_variable_complexity_formula_pair(L, l0):
    # Eq. (12) for the pair psi = exp at positions (1, 1 + l0), C0 = 1, C1 = 100:
    # first branch  L^2 C_2(exp, sqrt L), C_2 by eq. (7);
    # second branch L^3.5 C(exp, 2^l0 sqrt L) = L^3.5 (1 + R e^R): log = 3.5 log L + log(1 + R e^R).
    t = C.long_range_pair(L, 3, l0, S.exp(), seed=0)
    got = t.complexity(1.0, c1=100.0)
    log_n = 2 * math.log(L) + _log_c_n_exp(math.sqrt(L), 2, L, 100.0)
    R = 2.0**l0 * math.sqrt(L)
    log_l0 = 3.5 * math.log(L) + R + math.log(R) + math.log1p(math.exp(-R) / R)
    assert got.equation == "(12)"
    assert got.log_n_branch == pytest.approx(log_n, rel=1e-12)
    assert got.log_l0_branch == pytest.approx(log_l0, rel=1e-12)
    assert got.log_value == min(log_n, log_l0) or got.log_value == pytest.approx(min(log_n, log_l0))
    assert got.winner == ("N" if log_n <= log_l0 else "l0")


def test_n_variable_complexity_three_positions():
    # N = 3 against the brute-force C_N, positions (2, 3, 5): l0 = 3.
    t = C.random_n_variable_target(6, 2, (2, 3, 5), S.exp(), seed=1)
    got = t.complexity(1.3, c1=150.0)
    R = 1.3 * math.sqrt(6)
    assert got.log_n_branch == pytest.approx(2 * math.log(6) + _log_c_n_exp(R, 3, 6, 150.0), rel=1e-12)
    assert got.log_l0_branch == pytest.approx(3.5 * math.log(6) + math.log(_c_exp(8 * R)), rel=1e-12)


def test_n_variable_complexity_sums_over_terms():
    # Eq. (12) with sum_r (the reading): two copies of one term double both branches.
    one = C.n_variable_target(7, 2, (2, 4), [(S.sin(), [0.5, 0.5, 0.5, 0.5])])
    two = C.n_variable_target(7, 2, (2, 4), [(S.sin(), [0.5, 0.5, 0.5, 0.5]),
                                             (S.sin(), [0.0, 1.0, 0.0, 0.0])])
    a, b = one.complexity(1.0), two.complexity(1.0)
    assert b.log_n_branch == pytest.approx(a.log_n_branch + math.log(2), rel=1e-14)
    assert b.log_l0_branch == pytest.approx(a.log_l0_branch + math.log(2), rel=1e-14)


def test_n_variable_complexity_grows_with_L_N_l0():
    # Remark 2.2: the first branch grows with N (L fixed), the second with l0; both with L.
    psi = S.exp()
    by_n = [C.random_n_variable_target(12, 2, tuple(range(1, N + 1)), psi, seed=0)
            .complexity(1.0).log_n_branch for N in range(1, 8)]
    by_l0 = [C.long_range_pair(12, 2, l0, psi, seed=0).complexity(1.0).log_l0_branch
             for l0 in range(1, 12)]
    by_L = [C.long_range_pair(L, 2, 1, psi, seed=0).complexity(1.0) for L in range(2, 40)]
    assert all(b > a for a, b in itertools.pairwise(by_n))
    assert all(b > a for a, b in itertools.pairwise(by_l0))
    for attr in ("log_n_branch", "log_l0_branch", "log_value"):
        vals = [getattr(c, attr) for c in by_L]
        assert all(b > a for a, b in itertools.pairwise(vals)), attr
    # the first branch does not depend on l0
    assert len({C.long_range_pair(12, 2, l0, psi, seed=0).complexity(1.0).log_n_branch
                for l0 in range(1, 12)}) == 1


def test_complexity_infinite_beyond_radius_and_overflow():
    # arctan(z/2) has radius 2: C(psi, C0 sqrt L) is finite for L <= 3 at C0 = 1 (Remark 2.1).
    finite = C.random_additive_target(3, 2, S.arctan(2.0), seed=0).complexity(1.0)
    infinite = C.random_additive_target(4, 2, S.arctan(2.0), seed=0).complexity(1.0)
    assert math.isfinite(finite.value) and infinite.value == math.inf
    # N-variable: the l0 branch is infinite once 2^l0 sqrt(L) >= 2 while the N branch needs
    # sqrt(2) sqrt(L) < 2, i.e. L = 1 only: both infinite -> no winner.
    both = C.long_range_pair(3, 2, 1, S.arctan(2.0), seed=0).complexity(1.0)
    assert both.log_value == math.inf and both.winner is None
    # arctan(z/8) at L = 5, l0 = 4: 2^4 sqrt(5) >= 8 but sqrt(2) sqrt(5) < 8
    some = C.long_range_pair(5, 2, 4, S.arctan(8.0), seed=0).complexity(1.0)
    assert some.log_l0_branch == math.inf and some.winner == "N" and math.isfinite(some.log_value)
    # a finite value beyond float64 is an OverflowError, its log is finite
    huge = C.Complexity("(10)", 1000.0)
    with pytest.raises(OverflowError, match="log_value"):
        _ = huge.value
    assert huge.log10 == pytest.approx(1000 / math.log(10))


def test_scaled_target_complexity():
    # C(s psi, R) = 1 + s (C(psi, R) - 1), eq. (6): rescaling multiplies C(F*) by at most s.
    t = C.random_additive_target(4, 3, S.sin(), seed=0)
    s = 37.0
    R = 2.0
    want = 4**3.5 * 4 * (1 + s * R * math.cosh(R))  # C(sin, R) = 1 + R cosh R
    assert t.scaled(s).complexity(1.0).value == pytest.approx(want, rel=1e-12)
    assert t.scaled(s).complexity(1.0).value <= s * t.complexity(1.0).value
    X = data.sample_sequences(10, 4, 3, seed=1)
    torch.testing.assert_close(t.scaled(s)(X), s * t(X), rtol=1e-14, atol=1e-14)


def _sign_difference_target():
    # L = 2, d = 1: X_l / norm(X_l) = +-1, F* = u_1 - u_2 in {-2, 0, 2}: zero half the time.
    return C.additive_target(2, 1, [(1, S.polynomial([0.0, 1.0]), [1.0]),
                                    (2, S.polynomial([0.0, -1.0]), [1.0])])


# ----------------------------------------------------------------------------------------------
# Bad targets.


def test_bad_beta():
    with pytest.raises(ValueError, match="beta"):  # norm(beta) > 1
        C.additive_target(3, 2, [(1, S.exp(), [1.0, 0.5])])
    with pytest.raises(ValueError, match="beta"):
        C.n_variable_target(3, 2, (1, 2), [(S.exp(), [0.8, 0.8, 0.0, 0.0])])
    with pytest.raises(ValueError, match="beta"):  # wrong length: d N = 4
        C.n_variable_target(3, 2, (1, 2), [(S.exp(), [0.5, 0.5])])
    with pytest.raises(ValueError, match="beta"):
        C.additive_target(3, 2, [(1, S.exp(), [0.5, 0.5, 0.0])])
    with pytest.raises(ValueError, match="beta"):  # non-finite
        C.additive_target(3, 2, [(1, S.exp(), [math.nan, 0.0])])
    with pytest.raises(ValueError, match="beta"):
        C.n_variable_target(3, 1, (1, 2), [(S.exp(), [math.inf, 0.0])])
    with pytest.raises(ValueError, match="radius"):  # psi's series must converge on [-1, 1]
        C.additive_target(3, 2, [(1, S.geometric(), [1.0, 0.0])])
    with pytest.raises(ValueError, match="beta_norm"):
        C.random_additive_target(3, 2, S.exp(), beta_norm=1.5, seed=0)


def test_bad_positions():
    with pytest.raises(ValueError, match="positions"):
        C.n_variable_target(3, 2, (0, 2), [(S.exp(), [0.5, 0.0, 0.0, 0.5])])
    with pytest.raises(ValueError, match="positions"):
        C.n_variable_target(3, 2, (1, 4), [(S.exp(), [0.5, 0.0, 0.0, 0.5])])
    with pytest.raises(ValueError, match="positions"):
        C.n_variable_target(3, 2, (2, 2), [(S.exp(), [0.5, 0.0, 0.0, 0.5])])
    with pytest.raises(ValueError, match="position"):
        C.additive_target(3, 2, [(4, S.exp(), [1.0, 0.0])])
    with pytest.raises(ValueError, match="position"):
        C.additive_target(3, 2, [(0, S.exp(), [1.0, 0.0])])
    with pytest.raises(ValueError, match="positions"):
        C.random_additive_target(3, 2, S.exp(), positions=[1, 5], seed=0)
    with pytest.raises(ValueError, match="positions"):
        C.random_n_variable_target(3, 2, (1, 9), S.exp(), seed=0)
    with pytest.raises(ValueError, match="l0"):
        C.long_range_pair(5, 2, 5, S.exp(), seed=0)
    with pytest.raises(ValueError, match="l0"):
        C.long_range_pair(5, 2, 0, S.exp(), seed=0)


def test_bad_terms_and_inputs():
    t = C.additive_target(3, 2, [(1, S.exp(), [1.0, 0.0])])
    with pytest.raises(ValueError, match="terms"):
        C.additive_target(3, 2, [])
    with pytest.raises(TypeError, match="psi"):
        C.additive_target(3, 2, [(1, math.exp, [1.0, 0.0])])
    with pytest.raises(TypeError, match="terms"):
        C.additive_target(3, 2, [(1, S.exp())])
    with pytest.raises(ValueError, match="X"):
        t(torch.zeros(4, 2, 2, dtype=torch.float64))  # wrong L
    with pytest.raises(ValueError, match="X"):
        t(torch.zeros(4, 3, 5, dtype=torch.float64))  # wrong d
    with pytest.raises(ValueError, match="X"):
        t(torch.full((4, 3, 2), math.nan, dtype=torch.float64))
    with pytest.raises(ValueError, match="c0"):
        t.complexity(0.5)
    with pytest.raises(ValueError, match="c0"):
        t.complexity(math.inf)
    with pytest.raises(ValueError, match="c1"):
        C.long_range_pair(5, 2, 1, S.exp(), seed=0).complexity(1.0, c1=0.0)
    with pytest.raises(TypeError, match="target"):
        C.complexity(object(), 1.0)


@pytest.mark.parametrize("psi, e", [(S.exp(), 0.5), (S.sin(), 0.5), (S.monomial(2), 0.0),
                                    (S.polynomial([1.0, 0.0, 0.0, 2.0]), 0.0)])
def test_log_complexity_exponent_against_the_classes(psi, e):
    """e with log C(F*) = L^(e + o(1)), against the complexities the classes compute.

    Eq. (10) and, for polynomial psi, both branches of eq. (12) are cheap at any L: their log-log
    slope of log C between L = 1e100 and 1e200 is e up to the o(1) (for a polynomial log C = O(log L),
    slope ~ log 2 / log 1e100 = 0.003). The N-branch of an entire non-polynomial psi is a series that
    needs ~ sqrt(N L) terms, so it is checked at L up to 1e5 in the form the exponent comes from:
    log C = sqrt(N L) + O(log L) (for exp, sqrt(C_{2,i}) ~ 2^(i/2) turns e^R into e^(sqrt(2) R); the
    l0-branch with l0 = 1 is L^3.5 C(psi, 2 sqrt(L)) = e^(2 sqrt(L)) L^O(1))."""
    assert C.log_complexity_exponent(psi) == e
    b2 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    b4 = torch.tensor([0.6, 0.0, 0.8, 0.0], dtype=torch.float64)

    def slope(log_c, L1, L2):
        return math.log(log_c(L2) / log_c(L1)) / math.log(L2 / L1)

    def additive(L):
        return C.additive_target(L, 2, [(1, psi, b2)]).complexity(1.0).log_value

    def pair(L, l0):
        return C.n_variable_target(L, 2, (1, 1 + l0), [(psi, b4)]).complexity(1.0)

    assert abs(slope(additive, 10**100, 10**200) - e) < 0.01
    if e == 0:
        for branch in ("log_n_branch", "log_l0_branch", "log_value"):
            assert abs(slope(lambda L, branch=branch: getattr(pair(L, 1), branch), 10**100, 10**200)) < 0.01
        # l0 = L - 1: the l0-branch grows like 4^L, the N-branch (a polynomial) wins
        # and is the same function of L as at l0 = 1 (the N-branch has no l0), tested above
        for L in (200, 400):
            far = pair(L, L - 1)
            assert far.winner == "N" and far.log_value == pair(L, 1).log_n_branch
    else:
        for L in (10**3, 10**4, 10**5):
            c = pair(L, 1)
            assert 0 < (c.log_n_branch - math.sqrt(2 * L)) / math.log(L) < 8
            assert 0 < (c.log_l0_branch - 2 * math.sqrt(L)) / math.log(L) < 8
        # l0 = L - 1: the l0-branch is e^(2^(L-1) sqrt(L)), the N-branch wins
        assert pair(40, 39).winner == "N"


def test_log_complexity_exponent_finite_radius_and_bad_input():
    assert C.log_complexity_exponent(S.arctan(2.0)) == math.inf
    assert C.additive_target(4, 2, [(1, S.arctan(2.0), [1.0, 0.0])]).complexity(1.0).log_value == math.inf
    with pytest.raises(TypeError, match="psi"):
        C.log_complexity_exponent(math.exp)


def test_input_law_z_scores_by_hand():
    # Two vectors in R^2: (3, 4) and (0, -1), norms 5 and 1 on [1, 5]. Mean norm 3 = (1 + 5)/2:
    # z = 0. u_1 = (3/5, 0): mean 0.3, standard error sqrt(1/2/2) = 1/2, z = 0.6. u_1^2 has mean
    # 0.18 against 1/d = 0.5, variance 3/(2*4) - 1/4 = 1/8, standard error sqrt(1/16): z = -1.28.
    X = torch.tensor([[[3.0, 4.0]], [[0.0, -1.0]]], dtype=torch.float64)
    z = C.input_law_z_scores(X, 1.0, 5.0)
    assert z["mean norm"] == pytest.approx(0.0, abs=1e-15)
    assert z["mean u_1"] == pytest.approx(0.6, rel=1e-14)
    assert z["mean u_1^2"] == pytest.approx(-1.28, rel=1e-14)
    with pytest.raises(ValueError, match="c_max"):
        C.input_law_z_scores(X, 2.0, 1.0)


def test_input_law_z_scores_see_the_sampler_and_a_wrong_law():
    X = data.sample_sequences(4000, 5, 6, c_min=0.5, c_max=2.0, seed=3)
    assert max(abs(v) for v in C.input_law_z_scores(X, 0.5, 2.0).values()) < Z_1E6
    # the same sample against a law with norms on [0.5, 3]: the mean norm is far off
    assert abs(C.input_law_z_scores(X, 0.5, 3.0)["mean norm"]) > 50


@pytest.mark.parametrize("d", [2, 3, 5, 12])
def test_sphere_coordinate_density_integrates_to_one_and_matches_known_laws(d):
    from scipy import integrate

    total, _ = integrate.quad(lambda t: float(C.sphere_coordinate_density(t, d)), -1, 1)
    assert total == pytest.approx(1.0, rel=1e-7)
    second, _ = integrate.quad(lambda t: t * t * float(C.sphere_coordinate_density(t, d)), -1, 1)
    assert second == pytest.approx(1 / d, rel=1e-7)  # E u_1^2 = 1/d
    t = np.array([-0.5, 0.0, 0.3])
    if d == 3:  # Archimedes: uniform on [-1, 1]
        np.testing.assert_allclose(C.sphere_coordinate_density(t, 3), 0.5, rtol=1e-15)
    if d == 2:  # the arcsine law
        np.testing.assert_allclose(C.sphere_coordinate_density(t, 2),
                                   1 / (math.pi * np.sqrt(1 - t**2)), rtol=1e-14)


@pytest.mark.parametrize(("L", "N", "expected"), [(10, 1, [1]), (10, 2, [1, 10]), (10, 4, [1, 4, 7, 10]),
                                                  (9, 3, [1, 5, 9]), (5, 5, [1, 2, 3, 4, 5])])
def test_spread_positions(L, N, expected):
    assert C.spread_positions(L, N) == expected


def test_spread_positions_are_distinct_and_span_the_sequence():
    for L in range(2, 30):
        for N in range(2, L + 1):
            pos = C.spread_positions(L, N)
            assert len(pos) == N and pos[0] == 1 and pos[-1] == L
            gaps = np.diff(pos)
            assert gaps.max() - gaps.min() <= 1  # as even as integers allow
    with pytest.raises(ValueError, match="at most L"):
        C.spread_positions(3, 4)
