"""Tests of rnnbook.kernels: the forward kernel of Theorem 5 (eq. 25) and its Hermite series, the
backward kernel of Theorem 6 (eq. 28) and the NTK of eq. (23)."""

import math

import mpmath
import pytest
import torch
from scipy import integrate
from scipy.stats import multivariate_normal, norm

from rnnbook import data, kernels, linalg, model
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
    k = kernels.kappa([-1.0, 0.0, 1.0]).cpu()  # a list lands on the default device (cuda if any)
    torch.testing.assert_close(k, torch.tensor([0.0, 1 / math.pi, 1.0], dtype=torch.float64),
                               rtol=0, atol=1e-15)
    r = torch.linspace(-0.95, 0.95, 11, dtype=torch.float64)
    h = 1e-6
    fd = (kernels.kappa(r + h) - kernels.kappa(r - h)) / (2 * h)
    torch.testing.assert_close(kernels.sigma(r), fd, rtol=0, atol=1e-8)  # Sigma = kappa'


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
        assert linalg.psd_check(K[l].cpu()).is_psd, l


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


# ------------------------------------------------------------------- backward kernel (Theorem 6)


def sigma_by_bivariate_normal(rho: float) -> float:
    """2 P(u > 0, v > 0) for standard Gaussians of correlation rho, independently of eq. (28): by
    symmetry P(u > 0, v > 0) = P(u < 0, v < 0), the bivariate normal CDF at (0, 0)."""
    cov = [[1.0, rho], [rho, 1.0]]
    return 2 * float(multivariate_normal.cdf([0.0, 0.0], mean=[0.0, 0.0], cov=cov))


@pytest.mark.parametrize("rho", [-0.999999, -0.9, -0.3, 0.0, 0.2, 0.7, 0.99, 0.9999999])
def test_sigma_is_twice_the_gaussian_orthant_probability(rho):
    """Eq. (28): Sigma(rho) = 1/2 + arcsin(rho)/pi = 2 P(u > 0, v > 0).  In two dimensions scipy's
    multivariate_normal.cdf is Genz's BVNU (Drezner-Wesolowsky with Gauss-Legendre rules), which
    scipy itself credits with an absolute error of 1e-15; doubled, plus a few ulps of arccos, 1e-14
    covers it.  (A sign or factor-2 error in the arcsin term moves Sigma by at least 0.03 at every
    point but 0.)"""
    assert float(kernels.sigma(rho)) == pytest.approx(sigma_by_bivariate_normal(rho), rel=0, abs=1e-14)


def test_sigma_endpoints_and_range():
    """Eq. (28) at the ends: Sigma(1) = 1 (identical inputs: both units active together half the
    time, times 2), Sigma(-1) = 0 exactly.  As for kappa, rounding excursions up to 1e-12 beyond
    [-1, 1] are clipped and anything further is a ValueError naming rho."""
    torch.testing.assert_close(kernels.sigma([-1.0, 0.0, 1.0]).cpu(),
                               torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64), rtol=0, atol=0)
    assert float(kernels.sigma(1 + 5e-13)) == 1.0 and float(kernels.sigma(-1 - 5e-13)) == 0.0
    for bad in (1 + 2e-12, -1 - 2e-12, 1.5):
        with pytest.raises(ValueError, match="rho has a correlation of magnitude"):
            kernels.sigma(bad)
    with pytest.raises(ValueError, match="rho contains NaN"):
        kernels.sigma(math.nan)


def naive_backward_kernel(X, init):
    """F^l_ij = 1/2 prod_{k=l..L} Sigma(rho^k_ij) by a plain loop, with arcsin (not the arccos that
    rnnbook uses)."""
    rho = kernels.forward_correlation(X, init=init)
    L = rho.shape[0]
    F = []
    for l in range(1, L + 1):
        prod = torch.full_like(rho[0], 0.5)
        for k in range(l, L + 1):
            prod = prod * (0.5 + torch.asin(rho[k - 1]) / math.pi)
        F.append(prod)
    return torch.stack(F)


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_backward_kernel_is_the_product_of_sigmas(init, device):
    """Theorem 6's limit F^l_ij = 1/2 prod_{k=l..L} Sigma(rho^k_ij) (eq. 28 for Sigma; the exact value of
    what eq. 29 bounds, book/conventions.md 'Backward vectors and kernel') against a naive loop.  Both
    read the same rho, so only the evaluation of Sigma differs: 1/2 + arcsin/pi and 1 - arccos/pi each err
    by a few ulps absolute, i.e. a few ulps relative for the factors here (all above 0.35), and a product
    of L = 6 of them adds L more: within 1e-14 relative (measured: 7e-16)."""
    X = sequences(12, 6, 3, seed=20, device=device)
    F = kernels.backward_kernel(X, init=init)
    assert F.shape == (6, 12, 12) and F.dtype == torch.float64 and F.device == X.device
    torch.testing.assert_close(F, naive_backward_kernel(X, init), rtol=1e-14, atol=1e-15)
    # F^L = Sigma(rho^L) / 2: the last layer's backward vector is D_L B with B ~ N(0, 1/m).
    rho = kernels.forward_correlation(X, init=init)
    torch.testing.assert_close(F[-1], kernels.sigma(rho[-1]) / 2, rtol=1e-15, atol=0)


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_backward_kernel_structure(init):
    """F^l_ii = 1/2 exactly (the diagonal of rho is forced to 1 and Sigma(1) = 1: a rounded
    1 - 1e-16 would cost 5e-9 there); F^l symmetric (written once and mirrored) and PSD (Sigma's
    Taylor series in rho has non-negative coefficients and rho^k is a correlation matrix, so by
    Schur's product theorem -- smallest eigenvalue >= -n eps ||F||_2, the eigensolver's rounding);
    entries in [0, 1/2] and non-decreasing in l, since F^l = F^{l+1} o Sigma(rho^l) with
    0 <= Sigma <= 1 -- the backward correlation can only be lost going back through the layers."""
    X = sequences(15, 7, 3, seed=21)
    F = kernels.backward_kernel(X, init=init)
    rho = kernels.forward_correlation(X, init=init)
    assert torch.equal(torch.diagonal(F, dim1=1, dim2=2), torch.full((7, 15), 0.5, dtype=torch.float64))
    assert torch.equal(F, F.transpose(1, 2))
    for l in range(7):
        assert linalg.psd_check(F[l]).is_psd, l
    assert float(F.min()) >= 0 and float(F.max()) <= 0.5
    assert bool((F[:-1] <= F[1:]).all())
    torch.testing.assert_close(F[:-1], F[1:] * kernels.sigma(rho[:-1]), rtol=1e-15, atol=0)
    # Not a constant: the inputs are told apart (some entry well below 1/2 in layer 1).
    assert float(F[0].min()) < 0.45


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_ntk_is_the_sum_over_layers(init, device):
    """Eq. (23) at infinite width with h_{l-1}: H = sum_{l=1..L} F^l o K^{l-1}.  rnnbook computes it
    by Horner's rule in the forward pass; the direct sum from backward_kernel and forward_kernel
    differs only in the order of L positive terms' roundings: 1e-14 relative.  Blocks of rows
    (1, 2, 3) change nothing but the order in which pairs are visited: the same to rounding."""
    X = sequences(11, 6, 3, seed=22, device=device)
    H = kernels.ntk(X, init=init)
    assert H.shape == (11, 11) and H.dtype == torch.float64 and H.device == X.device
    F = kernels.backward_kernel(X, init=init)
    K = kernels.forward_kernel(X, init=init)
    torch.testing.assert_close(H, (F * K[:-1]).sum(0), rtol=1e-14, atol=0)
    for rows in (1, 2, 3):
        torch.testing.assert_close(kernels.ntk(X, init=init, block_rows=rows), H, rtol=1e-14, atol=0)
    assert torch.equal(H, H.T)
    assert linalg.psd_check(H.cpu()).is_psd
    assert bool((torch.diagonal(H) > 0).all())
    # The diagonal in closed form: F^l_ii = 1/2, so H_ii = 1/2 sum_{l<L} K^l_ii.
    torch.testing.assert_close(torch.diagonal(H), 0.5 * kernels.forward_diagonal(X, init=init)[:-1].sum(0),
                               rtol=1e-14, atol=0)


def _kappa_by_hand(r):
    return (math.sqrt(1 - r * r) + (math.pi - math.acos(r)) * r) / math.pi


def _sigma_by_hand(r):
    return 0.5 + math.asin(r) / math.pi


def test_ntk_hand_computed_cases():
    """Eq. (23) by hand.  L = 1: H = F^1 o K^0 = Sigma(rho^1)/2 (K^0 = 1).  With algorithm1 (a = 1),
    d = 1 and inputs 1, -1: S_12 = 1 - 1 = 0, so H_12 = Sigma(0)/2 = 1/4, and H_ii = 1/2.
    L = 2 (paper init, a = 1/8), X_1 = (1, 0), X_2 = (0, 2):
    H_12 = 1/2 Sigma(rho^1) Sigma(rho^2) + 1/2 Sigma(rho^2) K^1_12, with rho^1 = 1/sqrt(1 + a),
    K^1_12 = sqrt(1 + a) kappa(rho^1), rho^2 = K^1_12 / sqrt((1 + a)(1 + 4a)) (X_{1,2} X_{2,2} = 0);
    H_11 = 1/2 (1 + (1 + a)), H_22 = 1/2 (1 + 1).  A few roundings of math's functions: 1e-15
    relative.

    Two identical inputs i != j must give identical rows of F and H, exactly: S_ij / sqrt(S_ii S_jj)
    rounds to 1 - 2^-52, harmless for K, but Sigma's infinite slope at 1 would turn it into an
    error of 2.2e-9 (the recursion sets rho = 1 for sequences with equal prefixes)."""
    X = torch.tensor([[[1.0]], [[-1.0]], [[1.0]]], dtype=torch.float64)
    H = kernels.ntk(X, init="algorithm1")
    assert float(H[0, 1]) == pytest.approx(0.25, rel=1e-15)
    assert float(H[0, 0]) == 0.5 and float(H[2, 2]) == 0.5
    assert float(H[0, 2]) == 0.5 and torch.equal(H[0], H[2])
    F = kernels.backward_kernel(X, init="algorithm1")
    assert F.shape == (1, 3, 3) and float(F[0, 0, 1]) == pytest.approx(0.25, rel=1e-15)

    X = torch.tensor([[[1.0], [0.0]], [[0.0], [2.0]]], dtype=torch.float64)
    a = 1 / 8
    rho1 = 1 / math.sqrt(1 + a)
    K1 = math.sqrt(1 + a) * _kappa_by_hand(rho1)
    rho2 = K1 / math.sqrt((1 + a) * (1 + 4 * a))
    H12 = 0.5 * _sigma_by_hand(rho1) * _sigma_by_hand(rho2) + 0.5 * _sigma_by_hand(rho2) * K1
    H = kernels.ntk(X, init="paper")
    assert float(H[0, 1]) == pytest.approx(H12, rel=1e-15)
    assert float(H[1, 0]) == float(H[0, 1])
    assert float(H[0, 0]) == pytest.approx(0.5 * (2 + a), rel=1e-15)
    assert float(H[1, 1]) == pytest.approx(1.0, rel=1e-15)
    F = kernels.backward_kernel(X, init="paper")
    assert float(F[0, 0, 1]) == pytest.approx(0.5 * _sigma_by_hand(rho1) * _sigma_by_hand(rho2), rel=1e-15)
    assert float(F[1, 0, 1]) == pytest.approx(0.5 * _sigma_by_hand(rho2), rel=1e-15)


@pytest.mark.parametrize("fn", [kernels.backward_kernel, kernels.ntk])
def test_backward_kernel_and_ntk_reject_bad_input(fn):
    with pytest.raises(ValueError, match=r"X must have shape \(n, L, d\)"):
        fn(torch.zeros(3, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"X must have shape \(n, L, d\)"):
        fn(torch.zeros(1, 3, 2, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="X contains NaN or infinite"):
        fn(torch.tensor([[[1.0], [math.nan]]]))
    with pytest.raises(ValueError, match="X contains NaN or infinite"):
        fn(torch.tensor([[[-math.inf]]]))
    with pytest.raises(ValueError, match="unknown init 'he'"):
        fn(torch.ones(2, 2, 2), init="he")
    with pytest.raises(TypeError, match="init must be a str"):
        fn(torch.ones(2, 2, 2), init=3)
    with pytest.raises(ValueError, match="block_rows must be >= 1"):
        fn(torch.ones(2, 2, 2), block_rows=0)
    with pytest.raises(TypeError, match="must be numeric"):
        fn([["a"]])


def test_backward_kernel_and_ntk_cpu_equal_cuda(cuda_only):
    """The same closed forms on both devices: only the libraries' arccos/sqrt roundings differ
    (a few ulps, amplified at most by Sigma's slope away from rho = 1, where these inputs' rho
    stay): 1e-13, as for the forward kernel."""
    X = sequences(20, 6, 3, seed=23)
    for init in ("paper", "algorithm1"):
        torch.testing.assert_close(kernels.backward_kernel(X.cuda(), init=init).cpu(),
                                   kernels.backward_kernel(X, init=init), rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(kernels.ntk(X.cuda(), init=init).cpu(), kernels.ntk(X, init=init),
                                   rtol=1e-13, atol=1e-13)


def test_backward_asymptote_algorithm1_matches_the_recursion():
    """Derived in the backward-kernel chapter: with a = 1 and unit inputs drawn afresh,
    -log 2F^1 ~ C L^(2/3).  The recursion (exact) is compared in log: the first neglected term is
    relatively O(L^(-1/3)) (the next order of eps_k ~ (c k)^(-2/3)), so at L = 4096 the ratio of logs
    must be within 4096^(-1/3) = 1/16 of 1."""
    X = data.sample_sequences(8, 4096, 5, c_min=1.0, c_max=1.0, seed=5)
    rho = kernels.forward_correlation(X, init="algorithm1")
    iu = torch.triu_indices(8, 8, 1)
    # a = 1 does not depend on L, so a length-L prefix has the same rho^1..rho^L.
    log_2f1 = torch.log(kernels.sigma(rho[:, iu[0], iu[1]])).sum(0).median()
    ratio = float(log_2f1 / torch.log(kernels.backward_asymptote(4096.0, init="algorithm1")))
    assert abs(ratio - 1) < 4096 ** (-1 / 3)


def test_backward_asymptote_paper_is_the_large_L_limit():
    """Derived in the chapter: under Section 3's a = 1/L^3, 2F^1 -> exp(-(sqrt 2/pi) int sqrt(u)),
    u' = 1 - c u^(3/2).  At L = 1024 the per-pair spread is ~0.002 (the random walk of sum X_i^T X_j,
    sd ~ 1/sqrt(d L) in relative distance) and the finite-L bias O(1/L); the median over 496 pairs
    must be within 0.003 (without the cusp term u' = 1 the limit would be exp(-2 sqrt 2/(3 pi))
    = 0.7407, 0.006 away: the test tells the two apart)."""
    X = data.sample_sequences(32, 1024, 5, c_min=1.0, c_max=1.0, seed=0)
    F = kernels.backward_kernel(X, init="paper")
    iu = torch.triu_indices(32, 32, 1)
    limit = float(kernels.backward_asymptote(1024.0, init="paper"))
    assert abs(float((2 * F[0][iu[0], iu[1]]).median()) - limit) < 0.003
    assert limit == pytest.approx(0.7471, abs=5e-4)


def test_backward_asymptote_rejects_bad_input():
    with pytest.raises(ValueError, match="L must be positive"):
        kernels.backward_asymptote(0.0, init="paper")
    with pytest.raises(ValueError, match="unknown init"):
        kernels.backward_asymptote(10.0, init="box")


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_duplicated_and_prefix_sharing_sequences_are_exact(init, device):
    """rho^l = 1 exactly for sequences that agree on X_1..X_l (Remark 4.2's degeneracy must not be
    faked by rounding, nor hidden): a duplicated sequence gives the same rows of F and H up to the
    rounding of the inner products (1e-14; before the fix, Sigma's slope at 1 made it 5e-9), so H
    is singular to rounding, and a sequence that differs only from step 3 on has
    F^l_ij = F^l_ii Sigma(rho^3).. products with the factors for l < 3 exactly 1."""
    X = data.sample_sequences(4, 5, 3, c_min=0.5, c_max=1.5, seed=8, device=device)
    X = torch.cat([X, X[:1]])          # 4 is a copy of 0
    X[1, :2] = X[0, :2]                # 1 shares X_1, X_2 with 0
    rho = kernels.forward_correlation(X, init=init)
    assert torch.all(rho[:, 0, 4] == 1.0) and torch.all(rho[:2, 0, 1] == 1.0)
    assert float(rho[2:, 0, 1].max()) < 1.0
    F = kernels.backward_kernel(X, init=init)
    H = kernels.ntk(X, init=init)
    assert float((H[0] - H[4]).abs().max()) <= 1e-14 * float(H.abs().max())
    assert float((F[:, 0] - F[:, 4]).abs().max()) <= 1e-14
    # F^1 = F^3 for the pair sharing two steps (Sigma(1) = 1 for layers 1, 2)
    assert float(F[0, 0, 1]) == float(F[2, 0, 1])
    assert float(torch.linalg.eigvalsh(H)[0]) <= 5 * torch.finfo(torch.float64).eps * float(H.norm())


# ------------------------------------------ terms of kappa's series for a given accuracy (Theorem 5)


@pytest.mark.parametrize("rho, tol", [(1.0, 1e-3), (1.0, 1e-6), (0.999, 1e-6), (0.99, 1e-6),
                                      (-0.9, 1e-8), (0.5, 1e-12), (0.3, 0.5), (0.0, 1e-3)])
def test_series_terms_needed_is_the_first_R_meeting_the_bound(rho, tol):
    """Against a brute-force scan R = 0, 1, 2, ... of the bound t_R |rho|^(R+1), with t_R summed
    here from the closed-form coefficients; the bound kappa_series reports is met at the returned
    R and missed one term earlier, and the truncated series is then within tol of kappa."""
    R = kernels.series_terms_needed(rho, tol)
    mu2 = [float(m) ** 2 for m in kernels.hermite_coefficients(R + 1)]
    scan = None
    for r in range(R + 2):
        t_r = max(1.0 - math.fsum(mu2[: r + 1]), 0.0) + (r + 2) * 2.0**-53
        if t_r * abs(rho) ** (r + 1) <= tol:
            scan = r
            break
    assert scan == R
    rho_t = torch.tensor(rho, dtype=torch.float64)
    val, bnd = kernels.kappa_series(rho_t, R)
    assert float(bnd) <= tol
    assert abs(float(val - kernels.kappa(rho_t))) <= tol + 4 * (R + 2) * 2.0**-52
    if R > 0:
        assert float(kernels.kappa_series(rho_t, R - 1)[1]) > tol


def test_series_terms_needed_rejects_bad_input():
    with pytest.raises(ValueError, match="rho must lie in"):
        kernels.series_terms_needed(1.5, 1e-6)
    with pytest.raises(TypeError, match="rho must be a real number"):
        kernels.series_terms_needed("0.5", 1e-6)
    with pytest.raises(ValueError, match="tol must be > 0"):
        kernels.series_terms_needed(0.5, 0.0)
    with pytest.raises(TypeError, match="tol must be a real number"):
        kernels.series_terms_needed(0.5, None)
    # At rho = 1 the bound's rounding allowance (R + 2) 2^-53 grows with R: 1e-12 is never met.
    with pytest.raises(ValueError, match="is not reached"):
        kernels.series_terms_needed(1.0, 1e-12)


def test_degeneracy_recursion_for_inputs_equal_after_the_first_step():
    """Remark 4.2 with a = 1, unit inputs that agree after X_1: S^l_ii = 1 + l, so
    rho^(l+1) = ((l+1) kappa(rho^l) + 1) / (l+2), i.e. 1 - rho^(l+1) = (l+1)/(l+2) (1 - kappa(rho^l))
    -- the factor the degeneracy chapter's derivation of 9 pi^2/(8 l^2) starts from."""
    X = sequences(5, 40, 3, seed=12, unit=True)
    X[:, 1:] = X[0, 1:]
    rho = kernels.forward_correlation(X, init="algorithm1")
    iu = torch.triu_indices(5, 5, 1)
    r = rho[:, iu[0], iu[1]]  # (L, pairs), r[l-1] = rho^l
    # S^l_ii = K^{l-1}_ii + |X_l|^2 = 1 + l (the diagonal's row l is K^l_ii = S^l_ii)
    torch.testing.assert_close(kernels.forward_diagonal(X, init="algorithm1")[1:, 0],
                               torch.arange(2, 42, dtype=torch.float64), rtol=1e-14, atol=0)
    ls = torch.arange(1, 40, dtype=torch.float64)[:, None]
    pred = ((ls + 1) * kernels.kappa(r[:-1]) + 1) / (ls + 2)
    torch.testing.assert_close(r[1:], pred, rtol=0, atol=1e-14)
    eps = 1 - r
    torch.testing.assert_close(eps[1:], (ls + 1) / (ls + 2) * (1 - kernels.kappa(r[:-1])), rtol=0, atol=1e-14)
    # the factor l/(l+1) is wrong: it misses by far more than rounding
    assert float((eps[1:] - ls / (ls + 1) * (1 - kernels.kappa(r[:-1]))).abs().max()) > 1e-4


# ------------------------------------------ cross-time kernels and the kernels of the outputs f_l


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_cross_forward_kernel_structure(init):
    """K^{(k,k')}_ij = lim <h_k(x_i), h_k'(x_j)> (derived in the book for Remark 3.2): the blocks
    k = k' are Theorem 5's K^k (the same recursion, 1e-14); swapping (k, i) with (k', j) transposes,
    exactly (K^{(k',k)} is stored as K^{(k,k')}.T); K^{(0,0)} = 1 (the shared h_0) and
    K^{(0,k')}_ij = sqrt(K^k'_jj) kappa(0) = sqrt(K^k'_jj)/pi (M0 independent of W and A); the
    (L+1) n x (L+1) n matrix over (step, input) is a limit of Gram matrices, so PSD (to the
    eigensolver's rounding), and |K^{(k,k')}_ij| <= sqrt(K^k_ii K^k'_jj) (Cauchy-Schwarz)."""
    n, L = 6, 5
    X = sequences(n, L, 3, seed=70)
    K = kernels.cross_forward_kernel(X, init=init)
    assert K.shape == (L + 1, L + 1, n, n) and K.dtype == torch.float64
    Kf = kernels.forward_kernel(X, init=init)
    torch.testing.assert_close(torch.diagonal(K, dim1=0, dim2=1).permute(2, 0, 1), Kf, rtol=1e-14, atol=0)
    assert torch.equal(K, K.permute(1, 0, 3, 2))
    assert torch.equal(K[0, 0], torch.ones(n, n, dtype=torch.float64))
    diag = kernels.forward_diagonal(X, init=init)  # (L+1, n)
    torch.testing.assert_close(K[0, 1:], (diag[1:].sqrt() / math.pi)[:, None, :].expand(L, n, n),
                               rtol=1e-15, atol=0)
    M = kernels.output_ntk_matrix(K)
    assert M.shape == ((L + 1) * n, (L + 1) * n) and torch.equal(M, M.T)
    assert linalg.psd_check(M).is_psd
    scale = diag.reshape(-1).sqrt()
    assert float((M.abs() / scale[:, None] / scale[None, :]).max()) <= 1 + 1e-14


def test_cross_forward_kernel_by_hand():
    """algorithm1 (a = 1), d = 1, one sequence x = (1, 0) against itself: K^1 = 1 + 1 = 2,
    K^2 = 2 + 0 = 2, K^{(0,1)} = sqrt(2)/pi, and the step-1-against-step-2 correlation is
    rho^{(1,2)} = (K^{(0,1)} + a x_1 x_2)/sqrt(K^1 K^2) = (sqrt(2)/pi)/2, so
    K^{(1,2)} = 2 kappa(1/(sqrt(2) pi)).  A few roundings: 1e-15 relative."""
    X = torch.tensor([[[1.0], [0.0]]], dtype=torch.float64)
    K = kernels.cross_forward_kernel(X, init="algorithm1")
    r = 1 / (math.sqrt(2) * math.pi)
    assert float(K[0, 1, 0, 0]) == pytest.approx(math.sqrt(2) / math.pi, rel=1e-15)
    assert float(K[0, 2, 0, 0]) == pytest.approx(math.sqrt(2) / math.pi, rel=1e-15)
    assert float(K[1, 2, 0, 0]) == pytest.approx(2 * _kappa_by_hand(r), rel=1e-15)
    assert float(K[2, 1, 0, 0]) == float(K[1, 2, 0, 0])


def naive_output_ntk(X, init):
    """H^{(l,l')}_ij = sum_{j=0}^{min(l,l')-1} 1/2 prod_{t=0..j} Sigma(rho^{(l-t,l'-t)}_ij)
    K^{(l-j-1,l'-j-1)}_ij, term by term, with rho^{(k,k')} = (K^{(k-1,k'-1)} + a X_{i,k}^T X_{j,k'}) /
    sqrt(K^k_ii K^k'_jj) computed here from the cross-time kernel (not by the Horner recursion)."""
    K = kernels.cross_forward_kernel(X, init=init)
    n, L, _ = X.shape
    a = get_init(init).a(L)
    diag = kernels.forward_diagonal(X, init=init)
    H = torch.zeros(L, L, n, n, dtype=torch.float64)
    for l in range(1, L + 1):
        for lp in range(1, L + 1):
            for j in range(min(l, lp)):
                prod = torch.full((n, n), 0.5, dtype=torch.float64)
                for t in range(j + 1):
                    k, kp = l - t, lp - t
                    S = K[k - 1, kp - 1] + a * X[:, k - 1] @ X[:, kp - 1].T
                    rho = (S / torch.sqrt(diag[k][:, None] * diag[kp][None, :])).clamp(-1, 1)
                    if k == kp:  # an input against itself at the same step: exactly 1 (as in ntk)
                        rho.fill_diagonal_(1.0)
                    prod = prod * (0.5 + torch.asin(rho) / math.pi)
                H[l - 1, lp - 1] += prod * K[l - j - 1, lp - j - 1]
    return H


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_output_ntk_is_the_sum_over_chains(init):
    """kernels.output_ntk (Horner's rule along each lag l' - l) against the double sum written
    out (:func:`naive_output_ntk`).  The inputs are distinct at every step, so no rho is near 1,
    where Sigma's slope would amplify rounding; a sum of at most L positive terms, each a product of
    L factors: 1e-13 relative.  H^{(L,L)} is Theorem 6's NTK of eq. (23), kernels.ntk (1e-13); under
    "algorithm1" (a = 1 for every L) output l of a length-L sequence is the final output of its
    first l steps, so every diagonal block is kernels.ntk of a prefix.  H^{(l',l)} = H^{(l,l')}.T
    exactly, and the (L n) x (L n) block matrix is PSD (a limit of Gram matrices)."""
    n, L = 5, 6
    X = sequences(n, L, 3, seed=71)
    H = kernels.output_ntk(X, init=init)
    assert H.shape == (L, L, n, n) and H.dtype == torch.float64
    torch.testing.assert_close(H, naive_output_ntk(X, init), rtol=1e-13, atol=0)
    torch.testing.assert_close(H[-1, -1], kernels.ntk(X, init=init), rtol=1e-13, atol=0)
    if init == "algorithm1":
        for l in range(1, L + 1):
            torch.testing.assert_close(H[l - 1, l - 1], kernels.ntk(X[:, :l], init=init), rtol=1e-13, atol=0)
    assert torch.equal(H, H.permute(1, 0, 3, 2))
    M = kernels.output_ntk_matrix(H)
    assert torch.equal(M, M.T) and linalg.psd_check(M).is_psd
    # Every block is entrywise positive (sums of products of positive Sigma and K): in particular
    # the cross-output blocks l != l' are not zero.
    assert float(H.min()) > 0
    C = kernels.normalized(M)
    assert float(C.max()) <= 1 + 1e-14


def test_output_ntk_by_hand():
    """L = 2, algorithm1, d = 1, x = (1, 0) (see test_cross_forward_kernel_by_hand):
    H^{(1,2)}(x, x) = 1/2 Sigma(rho^{(1,2)}) K^{(0,1)} -- the chains of f_1 and f_2 share the
    lag j = 0 (delta^(1)_1 = D_1 B against delta^(2)_2 = D_2 B: B through no W^T) -- with
    rho^{(1,2)} = 1/(sqrt(2) pi), K^{(0,1)} = sqrt(2)/pi; H^{(1,1)} = 1/2 K^0 = 1/2 and
    H^{(2,2)} = 1/2 (K^0 + K^1) = 3/2 (Sigma(1) = 1)."""
    X = torch.tensor([[[1.0], [0.0]]], dtype=torch.float64)
    H = kernels.output_ntk(X, init="algorithm1")
    r = 1 / (math.sqrt(2) * math.pi)
    expected = 0.5 * _sigma_by_hand(r) * math.sqrt(2) / math.pi
    assert float(H[0, 1, 0, 0]) == pytest.approx(expected, rel=1e-15)
    assert float(H[1, 0, 0, 0]) == float(H[0, 1, 0, 0])
    assert float(H[0, 0, 0, 0]) == pytest.approx(0.5, rel=1e-15)
    assert float(H[1, 1, 0, 0]) == pytest.approx(1.5, rel=1e-15)


def test_output_ntk_duplicated_sequences_are_exact():
    """As for ntk: a duplicated sequence gives identical rows of every block (rho = 1 exactly on
    the same-time diagonal lag, Sigma(1) = 1 with no 5e-9 rounding excursion)."""
    X = sequences(4, 5, 3, seed=72)
    X = torch.cat([X, X[:1]])
    for init in ("paper", "algorithm1"):
        H = kernels.output_ntk(X, init=init)
        assert float((H[:, :, 0] - H[:, :, 4]).abs().max()) <= 1e-14 * float(H.abs().max())


@pytest.mark.parametrize("fn", [kernels.cross_forward_kernel, kernels.output_ntk])
def test_cross_kernels_reject_bad_input(fn):
    with pytest.raises(ValueError, match=r"X must have shape \(n, L, d\)"):
        fn(torch.zeros(3, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="X contains NaN or infinite"):
        fn(torch.tensor([[[1.0], [math.nan]]]))
    with pytest.raises(ValueError, match="unknown init 'he'"):
        fn(torch.ones(2, 2, 2), init="he")
    with pytest.raises(TypeError, match="init must be a str"):
        fn(torch.ones(2, 2, 2), init=3)
    with pytest.raises(ValueError, match=r"H must have shape \(L, L, n, n\)"):
        kernels.output_ntk_matrix(torch.ones(2, 3, 4, 4))
    with pytest.raises(ValueError, match="H contains NaN"):
        kernels.output_ntk_matrix(torch.full((2, 2, 3, 3), math.nan))


def test_cross_output_correlation_by_lag():
    """kernels.cross_output_correlation against a loop over (l, l', i, j) with the correlation
    written out, H^{(l,l')}_ij / sqrt(H^{(l,l)}_ii H^{(l',l')}_jj), averaged over |l - l'| = s in
    both orders (the same by symmetry); rounding of a few operations, 1e-14.  One sequence has no
    pairs of distinct inputs (NaN); the diagonal lag s = 0 would be 1 and is not reported."""
    n, L = 4, 5
    X = sequences(n, L, 3, seed=73)
    H = kernels.output_ntk(X, init="paper")
    same, other = kernels.cross_output_correlation(H)
    assert same.shape == other.shape == (L - 1,)
    for s in range(1, L):
        vs, vo = [], []
        for l in range(L):
            for lp in range(L):
                if abs(l - lp) != s:
                    continue
                for i in range(n):
                    for j in range(n):
                        c = float(H[l, lp, i, j] / math.sqrt(H[l, l, i, i] * H[lp, lp, j, j]))
                        (vs if i == j else vo).append(c)
        assert float(same[s - 1]) == pytest.approx(sum(vs) / len(vs), rel=1e-14)
        assert float(other[s - 1]) == pytest.approx(sum(vo) / len(vo), rel=1e-14)
    assert bool((same > 0).all() and (same < 1).all())
    s1, o1 = kernels.cross_output_correlation(H[:, :, :1, :1])
    expected = [sum(float(H[l, l + s, 0, 0] / torch.sqrt(H[l, l, 0, 0] * H[l + s, l + s, 0, 0]))
                    for l in range(L - s)) / (L - s) for s in range(1, L)]
    assert s1.tolist() == pytest.approx(expected, rel=1e-14) and bool(torch.isnan(o1).all())
    with pytest.raises(ValueError, match="H has a non-positive diagonal"):
        kernels.cross_output_correlation(torch.zeros(2, 2, 3, 3, dtype=torch.float64))


def test_output_ntk_cpu_equals_cuda(cuda_only):
    """The same closed forms on both devices: the libraries' arccos/sqrt roundings differ by a few
    ulps, as for ntk: 1e-13."""
    X = sequences(10, 6, 3, seed=74)
    for init in ("paper", "algorithm1"):
        torch.testing.assert_close(kernels.output_ntk(X.cuda(), init=init).cpu(),
                                   kernels.output_ntk(X, init=init), rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(kernels.cross_forward_kernel(X.cuda(), init=init).cpu(),
                                   kernels.cross_forward_kernel(X, init=init), rtol=1e-13, atol=1e-13)
        H = kernels.output_ntk(X.cuda(), init=init)
        for a, b in zip(kernels.cross_output_correlation(H), kernels.cross_output_correlation(H.cpu()),
                        strict=True):
            assert a.device.type == "cuda"
            torch.testing.assert_close(a.cpu(), b, rtol=1e-13, atol=1e-13)


def _mp_backward_and_ntk(X, init, dps=50):
    """F^1..F^L and H of one batch at ``dps`` digits, straight from eq. (25), (28) and (23): the
    cancellation in 1 - rho that float64 suffers near rho = 1 is harmless at 50 digits."""
    ctx = mpmath.MPContext()
    ctx.dps = dps
    n, L, _ = X.shape
    a = ctx.mpf(model.get_init(init).a_variance(L)) / 2
    Xm = [[[ctx.mpf(float(v)) for v in X[i, l]] for l in range(L)] for i in range(n)]
    K = [[ctx.mpf(1)] * n for _ in range(n)]
    Ks, sig = [K], []
    for l in range(L):
        S = [[K[i][j] + a * ctx.fsum(x * y for x, y in zip(Xm[i][l], Xm[j][l], strict=True))
              for j in range(n)] for i in range(n)]
        rho = [[min(max(S[i][j] / ctx.sqrt(S[i][i] * S[j][j]), -1), 1) for j in range(n)] for i in range(n)]
        K = [[ctx.sqrt(S[i][i] * S[j][j]) * (ctx.sqrt(1 - r * r) + (ctx.pi - ctx.acos(r)) * r) / ctx.pi
              for j, r in enumerate(row)] for i, row in enumerate(rho)]
        sig.append([[1 - ctx.acos(r) / ctx.pi for r in row] for row in rho])
        Ks.append(K)
    F = [[[ctx.fprod(sig[k][i][j] for k in range(l, L)) / 2 for j in range(n)] for i in range(n)]
         for l in range(L)]
    H = [[ctx.fsum(F[l][i][j] * Ks[l][i][j] for l in range(L)) for j in range(n)] for i in range(n)]
    as_t = lambda M: torch.tensor([[float(v) for v in row] for row in M], dtype=torch.float64)
    return torch.stack([as_t(f) for f in F]), as_t(H)


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
@pytest.mark.parametrize("case", ["1e-10 apart", "norms 1e-8", "last step 1e-9 apart"])
def test_near_duplicates_are_exact_to_rounding(init, case):
    """For sequences 1e-10 apart, of norms ~1e-8, or sharing all but a last step 1e-9 apart, 1 - rho
    formed by subtraction has an absolute error ~1e-16 that Sigma's infinite slope at 1 turned into
    errors up to 1.5e-6 on H; pairs near 1 are recomputed without cancellation.  Within 1e-11 of a
    50-digit reference (measured: <= 7e-15)."""
    gen = make_generator(7, "cpu")
    base = torch.randn(2, 5, 3, generator=gen, dtype=torch.float64)
    if case == "1e-10 apart":
        X = torch.cat([base, base + 1e-10 * torch.randn(2, 5, 3, generator=gen, dtype=torch.float64)])
    elif case == "norms 1e-8":
        X = 1e-8 * torch.randn(4, 5, 3, generator=gen, dtype=torch.float64)
    else:
        moved = base.clone()
        moved[:, -1] += 1e-9 * torch.randn(2, 3, generator=gen, dtype=torch.float64)
        X = torch.cat([base, moved])
    F_ref, H_ref = _mp_backward_and_ntk(X, init)
    torch.testing.assert_close(kernels.backward_kernel(X, init=init), F_ref, rtol=0, atol=1e-11)
    torch.testing.assert_close(kernels.ntk(X, init=init), H_ref, rtol=0, atol=1e-11)


# ------------------------------------------------------------------------------------------------
# The NTK with respect to each weight (wrt=).


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_ntk_of_each_weight_in_closed_form(init, device):
    """kernels.ntk(wrt=...) against the kernels it is built from (its docstring): H^B = K^L,
    H^{M0} = F^1, H^A = sum_l F^l o P^l (P^l_ij = <X_il, X_jl>), H^W = sum_l F^l o K^{l-1}, and the
    NTK of several weights is the sum of theirs -- equal up to the rounding of products and sums of
    L terms (1e-13 relative to sqrt(H_ii H_jj)), with near-duplicate inputs among them (recomputed
    without cancellation, kernels.NEAR_ONE)."""
    X = torch.randn(6, 5, 3, generator=make_generator(5, device), dtype=torch.float64, device=device)
    X[1] = X[0] + 1e-9 * torch.ones_like(X[0])  # a near-duplicate pair
    X[2] = X[0]  # and an exact duplicate
    K = kernels.forward_kernel(X, init=init)
    F = kernels.backward_kernel(X, init=init)
    P = torch.einsum("ild,jld->lij", X, X)
    expected = {"W": (F * K[:-1]).sum(0), "A": (F * P).sum(0), "B": K[-1], "M0": F[0]}
    for wrt, ref in expected.items():
        H = kernels.ntk(X, init=init, wrt=wrt)
        r = torch.sqrt(torch.diagonal(ref))
        assert float(((H - ref).abs() / (r[:, None] * r[None, :])).max()) <= 1e-13, wrt
        assert torch.equal(H, H.T)
    total = sum(expected.values())
    r = torch.sqrt(torch.diagonal(total))
    for wrt in ("all", ("W", "A", "B", "M0"), ("M0", "B", "A", "W")):
        H = kernels.ntk(X, init=init, wrt=wrt)
        assert float(((H - total).abs() / (r[:, None] * r[None, :])).max()) <= 1e-13
    assert torch.equal(kernels.ntk(X, init=init), kernels.ntk(X, init=init, wrt="W"))


def test_wrt_is_checked():
    X = torch.ones(2, 3, 2, dtype=torch.float64)
    for bad, kind in (("x", ValueError), ((), ValueError), (("W", "W"), ValueError), (3, TypeError),
                      (("W", "h0"), ValueError)):
        with pytest.raises(kind, match="wrt"):
            kernels.ntk(X, wrt=bad)
