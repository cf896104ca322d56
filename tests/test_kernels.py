"""Tests of rnnbook.kernels: the forward kernel of Theorem 5 (eq. 25) and its Hermite series."""

import math

import mpmath
import pytest
import torch
from scipy import integrate
from scipy.stats import norm

from rnnbook import kernels, posdef
from rnnbook.device import make_generator
from rnnbook.model import get_init


def kappa_by_quadrature(rho: float) -> float:
    """E[2 relu(u) relu(v)], corr(u, v) = rho, independently of the closed form: with
    v = rho u + s w, E_w[relu(mu + s w)] = mu Phi(mu/s) + s phi(mu/s), then one integral over u > 0."""
    s = math.sqrt(max(1 - rho * rho, 0.0))

    def inner(u):
        mu = rho * u
        e = max(mu, 0.0) if s == 0 else mu * norm.cdf(mu / s) + s * norm.pdf(mu / s)
        return 2 * u * e * norm.pdf(u)

    return integrate.quad(inner, 0, math.inf, epsabs=1e-14, epsrel=1e-13)[0]


@pytest.mark.parametrize("rho", [-1.0, -0.9, -0.3, 0.0, 0.2, 0.7, 0.999, 1.0])
def test_kappa_is_the_gaussian_relu_expectation(rho):
    assert float(kernels.kappa(rho)) == pytest.approx(kappa_by_quadrature(rho), abs=1e-12)


def test_kappa_special_values_and_derivative():
    k = kernels.kappa([-1.0, 0.0, 1.0])
    torch.testing.assert_close(k, torch.tensor([0.0, 1 / math.pi, 1.0], dtype=torch.float64),
                               rtol=0, atol=1e-15)
    r = torch.linspace(-0.95, 0.95, 11, dtype=torch.float64)
    h = 1e-6
    fd = (kernels.kappa(r + h) - kernels.kappa(r - h)) / (2 * h)
    torch.testing.assert_close(kernels.kappa_prime(r), fd, rtol=0, atol=1e-8)


def test_kappa_clips_rounding_but_rejects_invalid_correlations():
    assert float(kernels.kappa(1 + 1e-15)) == 1.0
    with pytest.raises(ValueError, match="rho has a correlation of magnitude"):
        kernels.kappa(1.01)
    with pytest.raises(ValueError, match="rho"):
        kernels.kappa(math.nan)


def test_hermite_polynomials_match_their_definition():
    # h_r(x) sqrt(r!) = (-1)^r e^{x^2/2} d^r/dx^r e^{-x^2/2} (Theorem 5), at a few points.
    ctx = mpmath.MPContext()
    ctx.dps = 30
    for r in range(6):
        for x in (-1.3, 0.4, 2.1):
            by_def = (-1) ** r * ctx.exp(x * x / 2) * ctx.diff(lambda t: ctx.exp(-t * t / 2), x, r)
            he = float(kernels._hermite_he(r, ctx.mpf(x), ctx))
            assert he == pytest.approx(float(by_def), rel=1e-12, abs=1e-12)


def test_hermite_coefficients_closed_form_equals_the_defining_integral():
    closed = kernels.hermite_coefficients(16)
    quad = kernels.hermite_coefficients(16, method="quadrature")
    torch.testing.assert_close(closed, quad, rtol=0, atol=1e-14)
    # mu_0^2 = 1/pi, mu_1^2 = 1/2, mu_2^2 = 1/(2 pi), odd r >= 3 vanish.
    torch.testing.assert_close(closed[:3] ** 2, torch.tensor([1 / math.pi, 0.5, 1 / (2 * math.pi)],
                                                             dtype=torch.float64), rtol=1e-15, atol=0)
    assert torch.all(closed[3::2] == 0)


def test_squared_coefficients_sum_to_one_with_the_stated_tail():
    # sum_r mu_r^2 = kappa(1) = 1; the tail decays like R^(-3/2) (mu_r^2 ~ r^(-5/2)).
    tails = [kernels.series_tail(R) for R in (100, 400, 1600)]
    assert tails[0] > tails[1] > tails[2] > 0
    for a, b in zip(tails, tails[1:], strict=False):
        assert a / b == pytest.approx(4**1.5, rel=0.02)
    mu2 = kernels.hermite_coefficients(4000) ** 2
    assert float(1 - mu2.sum()) == pytest.approx(kernels.series_tail(4000), rel=1e-6)


@pytest.mark.parametrize("R", [5, 50, 500])
def test_kappa_series_is_within_its_bound(R):
    rho = torch.linspace(-1, 1, 201, dtype=torch.float64)
    val, bound = kernels.kappa_series(rho, R)
    err = (val - kernels.kappa(rho)).abs()
    assert torch.all(err <= bound + 1e-15)
    # The bound is attained at rho = 1: the series misses exactly t_R there (up to the rounding of
    # R + 1 Horner steps, about (R + 2) eps).
    assert float(err[-1]) == pytest.approx(kernels.series_tail(R), rel=0, abs=4 * (R + 2) * 2.0**-52)


def sequences(n, L, d, seed, device="cpu", unit=False):
    X = torch.randn(n, L, d, generator=make_generator(seed, device), dtype=torch.float64, device=device)
    return X / X.norm(dim=-1, keepdim=True) if unit else X


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_forward_kernel_series_matches_closed_form_within_bound(init):
    X = sequences(6, 5, 3, seed=1)
    K = kernels.forward_kernel(X, init=init)
    for R in (20, 400):
        s = kernels.forward_kernel_series(X, init=init, R=R)
        assert torch.all((s.K - K).abs() <= s.bound + 1e-13), R
        # On the diagonal of layer 1 rho = 1 exactly, so the series loses exactly Q_1 t_R: the bound
        # is attained there and could not be any smaller.
        torch.testing.assert_close(torch.diagonal(K[1] - s.K[1]), torch.diagonal(s.bound[1]),
                                   rtol=1e-6, atol=1e-13)


def test_forward_kernel_hand_computed_cases():
    # L = 1, d = 1, algorithm1 (a = 1): S_12 = 1 + (1)(-1) = 0, S_ii = 2, so K^1_12 = 2 kappa(0).
    X = torch.tensor([[[1.0]], [[-1.0]], [[1.0]]], dtype=torch.float64)
    K = kernels.forward_kernel(X, init="algorithm1")
    assert torch.equal(K[0], torch.ones(3, 3, dtype=torch.float64))
    assert float(K[1, 0, 1]) == pytest.approx(2 / math.pi, rel=1e-15)
    assert float(K[1, 0, 2]) == pytest.approx(2.0, rel=1e-15)  # identical inputs: K = S_ii
    # paper init, L = 2: a = 1/8; two steps by hand.
    X = torch.tensor([[[1.0], [0.0]], [[0.0], [2.0]]], dtype=torch.float64)
    K = kernels.forward_kernel(X, init="paper")
    a = 1 / 8
    S1 = 1.0
    Q1 = math.sqrt((1 + a) * 1)
    K1 = Q1 * float(kernels.kappa(S1 / Q1))
    Q2 = math.sqrt((1 + a) * (1 + 4 * a))
    assert float(K[1, 0, 1]) == pytest.approx(K1, rel=1e-15)
    assert float(K[2, 0, 1]) == pytest.approx(Q2 * float(kernels.kappa(K1 / Q2)), rel=1e-14)


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_forward_kernel_diagonal_and_psd(init, device):
    X = sequences(30, 8, 4, seed=2, device=device)
    K = kernels.forward_kernel(X, init=init)
    assert K.shape == (9, 30, 30) and K.dtype == torch.float64 and K.device == X.device
    # K^l_ii = 1 + a sum_{k<=l} ||X_{i,k}||^2 (kappa(1) = 1), the squared Q_l of eq. (25).
    a = get_init(init).a(8)
    sq = (X * X).sum(-1)
    expected = 1 + a * torch.cat([torch.zeros(30, 1, dtype=X.dtype, device=device), sq.cumsum(1)], 1).T
    torch.testing.assert_close(torch.diagonal(K, dim1=1, dim2=2), expected, rtol=1e-14, atol=0)
    torch.testing.assert_close(kernels.forward_diagonal(X, init=init), expected, rtol=1e-14, atol=0)
    assert torch.equal(K, K.transpose(1, 2))
    for l in range(9):
        assert posdef.psd_check(K[l].cpu()).is_psd, l


def test_forward_kernel_blocks_and_layers_do_not_change_the_result():
    X = sequences(37, 6, 3, seed=3)
    K = kernels.forward_kernel(X, init="algorithm1")
    for rows in (1, 5, 16, 37, 100):
        torch.testing.assert_close(kernels.forward_kernel(X, init="algorithm1", block_rows=rows), K,
                                   rtol=1e-14, atol=1e-14)
    sub = kernels.forward_kernel(X, init="algorithm1", layers=[6, 0, 3])
    assert torch.equal(sub, K[[6, 0, 3]])


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_forward_correlation_is_the_argument_of_kappa(init):
    X = sequences(7, 5, 3, seed=4)
    K = kernels.forward_kernel(X, init=init)
    rho = kernels.forward_correlation(X, init=init)
    a = get_init(init).a(5)
    for l in range(1, 6):
        S = K[l - 1] + a * X[:, l - 1] @ X[:, l - 1].T
        d = torch.diagonal(S)
        Q = torch.sqrt(d[:, None] * d[None, :])
        torch.testing.assert_close(rho[l - 1], S / Q, rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(K[l], torch.sqrt(d[:, None] * d[None, :]) * kernels.kappa(rho[l - 1]),
                                   rtol=1e-13, atol=1e-13)
    assert float(rho.abs().max()) <= 1.0


def test_cpu_equals_cuda(cuda_only):
    X = sequences(20, 6, 3, seed=5)
    torch.testing.assert_close(kernels.forward_kernel(X.cuda()).cpu(), kernels.forward_kernel(X),
                               rtol=1e-13, atol=1e-13)


def test_forward_kernel_rejects_bad_input():
    with pytest.raises(ValueError, match=r"X must have shape \(n, L, d\)"):
        kernels.forward_kernel(torch.zeros(3, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="X must have n, L, d >= 1"):
        kernels.forward_kernel(torch.zeros(3, 0, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="X contains NaN or infinite"):
        kernels.forward_kernel(torch.tensor([[[math.inf]]]))
    with pytest.raises(ValueError, match="unknown init 'he'"):
        kernels.forward_kernel(torch.ones(2, 2, 2), init="he")
    with pytest.raises(ValueError, match="layers must lie in 0..L"):
        kernels.forward_kernel(torch.ones(2, 2, 2), layers=[3])
    with pytest.raises(ValueError, match="R must be >= 0"):
        kernels.hermite_coefficients(-1)
    with pytest.raises(ValueError, match="method must be"):
        kernels.hermite_coefficients(3, method="monte carlo")


def test_normalized_kernel_has_unit_diagonal_and_is_the_correlation():
    X = sequences(5, 4, 3, seed=8)
    K = kernels.forward_kernel(X, init="algorithm1")
    C = kernels.normalized(K)
    torch.testing.assert_close(torch.diagonal(C, dim1=1, dim2=2), torch.ones(5, 5, dtype=torch.float64),
                               rtol=1e-15, atol=1e-15)
    expected = float(K[2, 0, 1] / torch.sqrt(K[2, 0, 0] * K[2, 1, 1]))
    assert float(C[2, 0, 1]) == pytest.approx(expected, rel=1e-15)
    with pytest.raises(ValueError, match="non-positive diagonal"):
        kernels.normalized(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="K must be square"):
        kernels.normalized(torch.ones(2, 3))


def test_kappa_cusp_expansion():
    # 1 - kappa(1 - eps) = eps - c eps^(3/2) + O(eps^2), which drives the degeneracy of Remark 4.2.
    for eps in (1e-4, 1e-6):
        lhs = 1 - float(kernels.kappa(1 - eps))
        assert (eps - lhs) / eps**1.5 == pytest.approx(kernels._KAPPA_CUSP, rel=10 * eps**0.5)


def test_degeneracy_asymptotes_are_approached():
    """Remark 4.2 under a = 1 with unit inputs: 1 - rho^l against the derived asymptotes.  The
    relative gap must shrink from l = 100 to l = 3000 and be below 0.1 there.  (For "first" the
    next correction is of relative order l^(-1/2): about 0.35 at l = 100, hence about 0.06-0.08 at
    3000; "fresh" is within 0.02 from l = 300 on.  A wrong constant or exponent misses by far
    more: the exponent -2/3 vs -1/2 alone is a factor 3000^(1/6) = 3.8.)"""
    L = 3000
    X = sequences(12, L, 5, seed=9, unit=True)
    first = X.clone()
    first[:, 1:] = X[0, 1:]  # every sequence shares X_2..X_L with the first: they differ at X_1 only
    ls = torch.tensor([100.0, 3000.0], dtype=torch.float64)
    for case, Z in (("first", first), ("fresh", X)):
        rho = kernels.forward_correlation(Z, init="algorithm1")
        iu = torch.triu_indices(12, 12, 1)
        eps = (1 - rho[:, iu[0], iu[1]]).mean(dim=1)[ls.long() - 1]
        gap = (eps / kernels.degeneracy_asymptote(ls, case=case) - 1).abs()
        assert float(gap[1]) < float(gap[0]), case
        assert float(gap[1]) < 0.1, (case, gap)
    with pytest.raises(ValueError, match="case must be"):
        kernels.degeneracy_asymptote(3.0, case="middle")
