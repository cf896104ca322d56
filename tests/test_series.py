"""Tests of rnnbook.series: eqs. (6), (7), (8) and Examples 2.1-2.2 of the paper."""

import itertools
import math

import mpmath
import numpy as np
import pytest
import torch

from rnnbook import series as S

FAMILIES = sorted(S.FAMILIES)


@pytest.mark.parametrize("name", FAMILIES)
def test_closed_form_matches_partial_sums(name):
    # psi(z) in closed form vs sum_{i<200} c_i z^i inside the radius (z = 0.6 radius converges
    # geometrically: 0.6^200 ~ 1e-44, far below float64 rounding).
    psi = S.FAMILIES[name]()
    r = min(psi.radius * 0.6, 3.0)
    z = np.linspace(-r, r, 13)
    np.testing.assert_allclose(psi(z), psi.partial_sum(z, 200), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("name", FAMILIES)
def test_majorant_matches_coefficients(name):
    # psi~(r) = sum |c_i| r^i and its derivative, each against a long term-by-term mpmath sum.
    psi = S.FAMILIES[name]()
    r = S.mp.mpf(min(psi.radius * 0.5, 2.0))
    direct = S.mp.fsum(abs(psi.coefficient(i)) * r**i for i in range(400))
    deriv = S.mp.fsum(i * abs(psi.coefficient(i)) * r ** (i - 1) for i in range(1, 400))
    assert abs(psi.majorant(r) - direct) <= 1e-30 * direct
    assert abs(psi.majorant_derivative(r) - deriv) <= 1e-30 * deriv


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("frac", [0.1, 0.5, 0.9])
def test_complexity_closed_form_vs_certified_series(name, frac):
    # Eq. (6) two ways: 1 + R psi~'(R) and the term-by-term sum whose tail bound is certified.
    psi = S.FAMILIES[name]()
    R = frac * min(psi.radius, 10.0)
    s = S.complexity_series(psi, R, rtol=1e-12)
    lo, hi = 1 + s.value, 1 + s.value + s.tail_bound
    c = S.mp.mpf(S.complexity(psi, R))
    assert lo * (1 - 1e-15) <= c <= hi * (1 + 1e-15)
    assert s.tail_bound <= 1e-12 * s.value


def test_example_2_1_arctan_complexity_is_5_over_3():
    # Example 2.1: psi = arctan(z/2), eq. (8): 1 + sum_i i|c_i| = 1 + sum_k 2^(1-2k) = 5/3 exactly.
    psi = S.arctan(2.0)
    assert S.complexity(psi, 1.0) == pytest.approx(5 / 3, rel=1e-15)
    # Eq. (8): c_(2i-1) = (-1)^(i-1) 2^(1-2i) / (2i - 1).
    for i in range(1, 12):
        assert psi.coefficient(2 * i - 1) == (-1) ** (i - 1) * S.mp.mpf(2) ** (1 - 2 * i) / (2 * i - 1)
        assert psi.coefficient(2 * i) == 0


def test_arctan_complexity_diverges_at_radius():
    # Remark 2.1: C(arctan(z/2), R) is finite iff R < 2; closed form 1 + 2R/(4 - R^2).
    psi = S.arctan(2.0)
    for R in (0.5, 1.5, 1.99):
        assert S.complexity(psi, R) == pytest.approx(1 + 2 * R / (4 - R * R), rel=1e-14)
    assert S.complexity(psi, 2.0) == math.inf
    assert S.complexity(psi, 3.0) == math.inf
    assert S.log_complexity(psi, 2.0) == math.inf
    with pytest.raises(ValueError, match="radius"):
        S.complexity_series(psi, 2.0)


@pytest.mark.parametrize("R", [0.0, 0.3, 1.0, 4.0])
def test_closed_forms_of_entire_families(R):
    assert S.complexity(S.exp(), R) == pytest.approx(1 + R * math.exp(R), rel=1e-15)
    assert S.complexity(S.sin(), R) == pytest.approx(1 + R * math.cosh(R), rel=1e-15)
    assert S.complexity(S.cos(), R) == pytest.approx(1 + R * math.sinh(R), rel=1e-15, abs=1e-300)


def test_polynomial_and_monomial_complexity_by_hand():
    # psi = 3 - 2z + 0.5 z^3: C = 1 + 1*2*R + 3*0.5*R^3.
    psi = S.polynomial([3.0, -2.0, 0.0, 0.5])
    assert psi.degree == 3
    assert S.complexity(psi, 2.0) == 1 + 2 * 2.0 + 1.5 * 8.0
    assert S.complexity(S.monomial(4), 1.5) == 1 + 4 * 1.5**4
    assert S.complexity(S.monomial(0, 7.0), 5.0) == 1.0
    np.testing.assert_allclose(psi(np.array([0.0, 1.0, 2.0])), [3.0, 1.5, 3.0])


def test_scaled_and_times():
    # psi(a z) has coefficients c_i a^i: C(psi(a .), R) = C(psi, |a| R).
    e = S.exp()
    assert S.complexity(e.scaled(-2.0), 1.5) == pytest.approx(S.complexity(e, 3.0), rel=1e-14)
    assert S.arctan(2.0).scaled(0.5).radius == 4.0
    # c psi: C = 1 + |c| (C(psi) - 1).
    assert S.complexity(e.times(-3.0), 1.0) == pytest.approx(1 + 3 * math.e, rel=1e-15)
    assert float(e.times(2.0)(1.0)) == pytest.approx(2 * math.e)


def test_log_complexity_beyond_float64():
    # R = 2^19 * 2 * sqrt(20), a value the N-variable class reaches at l0 = 19 (eq. 12).
    R = 2.0**19 * 2 * math.sqrt(20)
    assert S.log_complexity(S.exp(), R) == pytest.approx(math.log(R) + R, rel=1e-14)
    with pytest.raises(OverflowError, match="log_"):
        S.complexity(S.exp(), R)


def _brute_force_largest_multinomial(i, N, positive):
    best = 0
    lo = 1 if positive else 0
    for parts in itertools.product(range(lo, i + 1), repeat=N):
        if sum(parts) == i:
            v = math.factorial(i)
            for p in parts:
                v //= math.factorial(p)
            best = max(best, v)
    return best


@pytest.mark.parametrize("N", [1, 2, 3, 4])
def test_largest_multinomial_vs_enumeration(N):
    for i in range(0, 11):
        assert S.largest_multinomial(i, N) == _brute_force_largest_multinomial(i, N, False)
        if i >= N:
            assert S.largest_multinomial(i, N, positive=True) == \
                _brute_force_largest_multinomial(i, N, True)
        else:
            with pytest.raises(ValueError, match="positive parts"):
                S.largest_multinomial(i, N, positive=True)


def test_largest_multinomial_two_variables_is_central_binomial():
    # Example 2.2 states C_{2,i} = i; the largest binomial coefficient is binom(i, floor(i/2)).
    for i in range(1, 30):
        assert S.largest_multinomial(i, 2) == math.comb(i, i // 2)
    assert [i for i in range(1, 30) if math.comb(i, i // 2) == i] == [1, 2, 3]


def _direct_cn(psi, R, N, L, C1, n_terms):
    # Eq. (7) summed naively in mpmath to n_terms terms (no tail bound) as the reference.
    tot = S.mp.mpf(0)
    for i in range(1, n_terms):
        c = abs(psi.coefficient(i))
        if c:
            tot += S.mp.sqrt(S.largest_multinomial(i, N)) * (S.mp.mpf(i) / N) ** N * c * S.mp.mpf(R) ** i
    return 1 + S.mp.mpf(L) ** (1.5 * N) * S.mp.mpf(C1) ** N * tot


@pytest.mark.parametrize("N", [1, 2, 3])
@pytest.mark.parametrize("name,R", [("exp", 1.0), ("exp", 3.0), ("sin", 2.0), ("arctan(z/2)", 0.5)])
def test_complexity_n_vs_long_direct_sum(name, R, N):
    psi = S.FAMILIES[name]()
    got = S.complexity_n(psi, R, N=N, L=7.0, C1=120.0)
    ref = _direct_cn(psi, R, N, 7.0, 120.0, 600)
    assert got == pytest.approx(float(ref), rel=1e-11)


def test_complexity_n_polynomial_by_hand():
    # psi = z^2, N = 2: 1 + L^3 C1^2 sqrt(C_{2,2}) (2/2)^2 R^2 = 1 + L^3 C1^2 sqrt(2) R^2.
    got = S.complexity_n(S.monomial(2), 1.5, N=2, L=3.0, C1=100.0)
    assert got == pytest.approx(1 + 27 * 1e4 * math.sqrt(2) * 2.25, rel=1e-14)


def test_complexity_n_reading_of_positive_parts():
    # n_k > 0 drops the terms i < N; for psi = z^1 + z^3 and N = 2 that removes exactly the z term.
    psi = S.polynomial([0.0, 1.0, 0.0, 1.0])
    a = S.complexity_n(psi, 1.0, N=2, L=1.0, C1=1.0)
    b = S.complexity_n(psi, 1.0, N=2, L=1.0, C1=1.0, parts="positive")
    assert a - b == pytest.approx(math.sqrt(1) * 0.5**2, rel=1e-14)  # sqrt(C_{2,1}) (1/2)^2


def test_complexity_n_diverges_when_sqrtN_R_reaches_radius():
    psi = S.arctan(2.0)
    assert math.isfinite(S.complexity_n(psi, 1.4, N=2, L=2.0))      # sqrt(2)*1.4 < 2
    assert S.complexity_n(psi, 1.5, N=2, L=2.0) == math.inf          # sqrt(2)*1.5 > 2
    assert S.log_complexity_n(psi, 1.5, N=2, L=2.0) == math.inf


def test_complexity_n_grows_with_L_and_C1_as_written():
    psi = S.exp()
    base = S.complexity_n(psi, 1.0, N=2, L=1.0, C1=1.0) - 1
    assert S.complexity_n(psi, 1.0, N=2, L=4.0, C1=1.0) - 1 == pytest.approx(base * 4.0**3)
    assert S.complexity_n(psi, 1.0, N=2, L=1.0, C1=3.0) - 1 == pytest.approx(base * 9.0)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_bad_R(bad):
    with pytest.raises(ValueError, match="R"):
        S.complexity(S.exp(), bad)
    with pytest.raises(ValueError, match="R"):
        S.complexity_n(S.exp(), bad, N=2, L=3)


@pytest.mark.parametrize("N,exc", [(0, ValueError), (-2, ValueError), (2.5, TypeError),
                                   (2.0, TypeError), (True, TypeError)])
def test_bad_N(N, exc):
    with pytest.raises(exc, match="N"):
        S.complexity_n(S.exp(), 1.0, N=N, L=3)
    with pytest.raises(exc, match="N"):
        S.largest_multinomial(4, N)


def test_bad_other_arguments():
    with pytest.raises(ValueError, match="L"):
        S.complexity_n(S.exp(), 1.0, N=2, L=0)
    with pytest.raises(ValueError, match="C1"):
        S.complexity_n(S.exp(), 1.0, N=2, L=3, C1=-1)
    with pytest.raises(ValueError, match="parts"):
        S.complexity_n(S.exp(), 1.0, N=2, L=3, parts="strict")
    with pytest.raises(TypeError, match="psi"):
        S.complexity(math.exp, 1.0)
    with pytest.raises(ValueError, match=r"coeffs\[1\]"):
        S.polynomial([1.0, float("nan")])
    with pytest.raises(ValueError, match="coeffs"):
        S.polynomial([])
    with pytest.raises(ValueError, match="scale"):
        S.arctan(0.0)
    with pytest.raises(ValueError, match="a must be non-zero"):
        S.exp().scaled(0.0)
    with pytest.raises(TypeError, match="R"):
        S.complexity(S.exp(), "1.0")


def test_evaluation_on_torch_keeps_device_and_dtype(device):
    z = torch.linspace(-0.9, 0.9, 7, dtype=torch.float64, device=device)
    for name in FAMILIES:
        out = S.FAMILIES[name]()(z)
        assert out.device == z.device and out.dtype == torch.float64
        np.testing.assert_allclose(out.cpu().numpy(), S.FAMILIES[name]()(z.cpu().numpy()), rtol=1e-14)


def test_importing_leaves_mpmath_precision_alone():
    assert mpmath.mp.dps == 15


def _loglog_slope_of_log_c(psi, R1, R2):
    """d log(log C(psi, R)) / d log R between R1 and R2, computed from eq. (6)'s closed form."""
    return math.log(S.log_complexity(psi, R2) / S.log_complexity(psi, R1)) / math.log(R2 / R1)


@pytest.mark.parametrize("psi, order", [
    (S.exp(), 1.0), (S.sin(), 1.0), (S.cos(), 1.0), (S.exp().scaled(3.0), 1.0), (S.sin().times(0.5), 1.0),
    (S.monomial(2), 0.0), (S.polynomial([1.0, -2.0, 0.0, 0.5]), 0.0)])
def test_growth_order_is_the_exponent_of_log_c(psi, order):
    """log C(psi, R) = R^(rho + o(1)): the log-log slope of log C between R = 1e50 and 1e100 is rho
    up to the o(1) (for exp-type psi log C = a R + O(log R), so the slope is 1 - O(1e-48); for a
    polynomial of degree p log C = p log R + O(1), so the slope is log 2 / log(1e50) ~ 0.006)."""
    assert S.growth_order(psi) == order
    assert abs(_loglog_slope_of_log_c(psi, 1e50, 1e100) - order) < 0.01


def test_growth_order_finite_radius_and_unknown():
    for psi in (S.arctan(2.0), S.geometric(), S.log1p(), S.arcsin()):
        assert S.growth_order(psi) == math.inf
        assert S.complexity(psi, psi.radius) == math.inf
    unknown = S.PowerSeries("sum z^i / (i!)^2", lambda i: 1 / S.mp.factorial(i) ** 2, math.inf,
                            lambda r: S.mp.besseli(0, 2 * S.mp.sqrt(r)),
                            lambda r: S.mp.besseli(1, 2 * S.mp.sqrt(r)) / S.mp.sqrt(r))
    with pytest.raises(ValueError, match="order .* is not known"):
        S.growth_order(unknown)
    with pytest.raises(TypeError, match="psi"):
        S.growth_order("exp")


def test_closed_form_discrepancy_of_the_two_routes_to_eq_6():
    # z^3 at R = 1/2: both routes give exactly 1 + 3/8 (binary fractions), so the gap is 0.
    assert S.closed_form_discrepancy(S.monomial(3), 0.5) == 0.0
    # exp at R = 1: C = 1 + e both ways; the gap is the certified tail plus float64 rounding.
    gap = S.closed_form_discrepancy(S.exp(), 1.0, rtol=1e-13)
    assert gap <= 1e-13 + 4 * np.finfo(np.float64).eps
    # A loose tolerance stops the sum early: the gap is then the (positive) truncated tail,
    # at most rtol of the sum, against the exact C(exp, 2) = 1 + 2 e^2.
    loose = S.closed_form_discrepancy(S.exp(), 2.0, rtol=1e-3)
    truncated = S.complexity_series(S.exp(), 2.0, rtol=1e-3)
    exact = 1 + 2 * math.exp(2.0)
    assert loose == pytest.approx((exact - 1 - float(truncated.value)) / exact, rel=1e-9)
    assert 0 < loose <= 1e-3
    with pytest.raises(ValueError, match="radius"):
        S.closed_form_discrepancy(S.geometric(), 1.0)
