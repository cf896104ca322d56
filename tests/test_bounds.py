"""Tests of rnnbook.bounds: y^T M^-1 y (Proposition 2.4, Theorem 4) and dominance constants."""

import math

import mpmath
import pytest
import torch

from rnnbook import bounds, data, linalg
from rnnbook.device import make_generator


def _spd(n, cond, seed):
    g = make_generator(seed, "cpu")
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    lam = torch.logspace(0, -math.log10(cond), n, dtype=torch.float64)
    return (Q * lam) @ Q.T


def test_well_conditioned_matches_solve():
    M = _spd(30, 1e3, 0)
    y = torch.randn(30, generator=make_generator(1, "cpu"), dtype=torch.float64)
    q = linalg.inverse_quadratic_form(M, y)
    assert q.method == "cholesky"
    assert q.condition == pytest.approx(1e3, rel=1e-8)
    assert q.value == pytest.approx(float(y @ torch.linalg.solve(M, y)), rel=1e-12)


def test_ill_conditioned_against_mpmath():
    # cond 1e11: the eigh route is used and its stated error bound must cover the true error,
    # computed with a 60-digit solve of the same (rounded) matrix.
    M = _spd(8, 1e11, 2)
    M = (M + M.T) / 2
    y = torch.randn(8, generator=make_generator(3, "cpu"), dtype=torch.float64)
    q = linalg.inverse_quadratic_form(M, y)
    assert q.method == "eigh"
    with mpmath.workdps(60):
        Mm = mpmath.matrix(M.tolist())
        ym = mpmath.matrix(y.tolist())
        exact = float((ym.T * mpmath.lu_solve(Mm, ym))[0])
    assert abs(q.value - exact) <= q.relative_error_bound * exact
    assert q.relative_error_bound < 1e-3


@pytest.mark.parametrize("cond", [1e3, 1e11])
def test_label_columns_share_one_factorisation(cond):
    # y of shape (n, k) gives the k forms of its columns: the same condition number and method as
    # one column alone (the same factorisation), and values that differ from the one-column solve
    # by no more than the two solves' stated error bounds together.
    M = _spd(24, cond, 7)
    M = (M + M.T) / 2
    Y = torch.randn(24, 3, generator=make_generator(8, "cpu"), dtype=torch.float64)
    together = linalg.inverse_quadratic_form(M, Y)
    assert len(together) == 3
    for k, q in enumerate(together):
        alone = linalg.inverse_quadratic_form(M, Y[:, k])
        assert (q.condition, q.method, q.relative_error_bound) == (
            alone.condition, alone.method, alone.relative_error_bound)
        assert abs(q.value - alone.value) <= 2 * alone.relative_error_bound * alone.value
    nested = linalg.nested_quadratic_forms(M, Y, [6, 12, 24])
    assert [len(col) for col in nested] == [3, 3, 3]
    for k, col in enumerate(nested):
        for q, alone in zip(col, linalg.nested_quadratic_forms(M, Y[:, k], [6, 12, 24]), strict=True):
            assert q.method == alone.method
            assert abs(q.value - alone.value) <= 2 * alone.relative_error_bound * alone.value


def test_singular_and_indefinite_are_errors():
    y = torch.ones(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="singular"):
        linalg.inverse_quadratic_form(torch.ones(3, 3, dtype=torch.float64), y)
    with pytest.raises(ValueError, match="indefinite"):
        linalg.inverse_quadratic_form(torch.diag(torch.tensor([1.0, -1.0, 2.0])), y)


def test_dominance_constant_on_constructed_matrices():
    # A = xi B + P with P PSD and singular on a direction where B is positive: the answer is xi.
    g = make_generator(4, "cpu")
    G = torch.randn(6, 6, generator=g, dtype=torch.float64)
    B = G @ G.T
    v = torch.randn(6, generator=g, dtype=torch.float64)
    Z = torch.randn(6, 6, generator=g, dtype=torch.float64)
    P = Z @ Z.T
    w = torch.linalg.solve(B, v)  # make v^T-direction null for P in the B-metric
    Pw = P @ w
    P = P - torch.outer(Pw, Pw) / (w @ Pw)  # P w = 0, P still PSD
    A = 2.5 * B + P
    assert linalg.dominance_constant(A, B) == pytest.approx(2.5, rel=1e-9)
    assert linalg.dominance_constant(A, -B) == math.inf
    # singular B (rank 1) is allowed: A >= xi u u^T iff xi <= 1 / (u^T A^-1 u)
    u = torch.randn(6, generator=g, dtype=torch.float64)
    assert linalg.dominance_constant(A, torch.outer(u, u)) == pytest.approx(
        1 / float(u @ torch.linalg.solve(A, u)), rel=1e-10)


def test_bad_input():
    with pytest.raises(ValueError, match="y must have shape"):
        linalg.inverse_quadratic_form(torch.eye(3, dtype=torch.float64), torch.ones(4))
    with pytest.raises(ValueError, match="symmetric"):
        linalg.inverse_quadratic_form(torch.tensor([[2.0, 1.0], [0.0, 2.0]]), torch.ones(2))
    with pytest.raises(ValueError, match="NaN"):
        linalg.inverse_quadratic_form(torch.eye(2), torch.tensor([1.0, math.nan]))
    with pytest.raises(ValueError, match="positive definite"):
        linalg.dominance_constant(torch.zeros(2, 2), torch.eye(2))
    with pytest.raises(ValueError, match="same shape"):
        linalg.dominance_constant(torch.eye(2), torch.eye(3))


def test_cpu_and_cuda_agree(cuda_only):
    M = _spd(40, 1e4, 5)
    y = torch.randn(40, generator=make_generator(6, "cpu"), dtype=torch.float64)
    a = linalg.inverse_quadratic_form(M, y).value
    b = linalg.inverse_quadratic_form(M.cuda(), y.cuda()).value
    assert b == pytest.approx(a, rel=1e-10)


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_backward_dominance_is_the_best_constant_of_29(init):
    """Inequality (29) read as F^l - K Sigma(rho^l) >= 0: xi_l must be the largest such K.  At xi_l
    the smallest eigenvalue of F^l - xi_l Sigma is zero up to rounding (n eps ||.||, times 64 for the
    solves in between); at (1 + 1e-4) xi_l it is negative by more than that -- the shift moves it
    by about 1e-4 xi_l lambda_min(Sigma) >= 1e-9 here, four orders above the rounding."""
    from rnnbook import kernels

    X = data.sample_sequences(12, 6, 3, c_min=0.5, c_max=1.5, seed=4)
    dom = bounds.backward_dominance(X, init=init)
    F = kernels.backward_kernel(X, init=init)
    S = kernels.sigma(kernels.forward_correlation(X, init=init))
    n = X.shape[0]
    for l in range(6):
        xi = float(dom.xi[l])
        at = torch.linalg.eigvalsh(F[l] - xi * S[l])[0]
        tol = 64 * n * torch.finfo(torch.float64).eps * float(torch.linalg.matrix_norm(S[l], ord=2))
        assert abs(float(at)) <= tol
        beyond = torch.linalg.eigvalsh(F[l] - (1 + 1e-4) * xi * S[l])[0]
        assert float(beyond) < -tol
        # Sigma >= J/2 entrywise as PSD matrices gives the naive bound; the diagonal caps xi at 1/2.
        assert float(dom.naive[l]) <= xi * (1 + 1e-12) and xi <= 0.5 * (1 + 1e-12)
    # F^L = Sigma(rho^L)/2 exactly, so the last constant is 1/2.
    assert float(dom.xi[-1]) == pytest.approx(0.5, rel=1e-10)
    assert dom.naive.tolist() == [2.0**-k for k in range(6, 0, -1)]
    # The Rayleigh column is the off-diagonal mean ratio.
    off = ~torch.eye(n, dtype=torch.bool)
    assert float(dom.rayleigh[0]) == pytest.approx(float(F[0][off].mean() / S[0][off].mean()), rel=1e-14)


def test_backward_dominance_rejects_a_single_sequence():

    with pytest.raises(ValueError, match="at least 2"):
        bounds.backward_dominance(data.sample_sequences(1, 4, 3, seed=0))


# ---------------------------------------------------------------- Theorem 4's sketch, eqs. (30)-(36)


def _unit_sequences(n, L, d, seed):

    return data.sample_sequences(n, L, d, c_min=1.0, c_max=1.0, seed=seed, device="cpu")


def test_dominance_constants_match_one_at_a_time():
    A = _spd(10, 1e2, 7)
    g = make_generator(8, "cpu")
    Bs = [(lambda G: G @ G.T)(torch.randn(10, k, generator=g, dtype=torch.float64)) for k in (1, 3, 10)]
    xs = linalg.dominance_constants(A, Bs)
    assert xs.shape == (3,)
    for x, B in zip(xs.tolist(), Bs, strict=True):
        assert x == pytest.approx(linalg.dominance_constant(A, B), rel=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        linalg.dominance_constants(A, [torch.eye(3, dtype=torch.float64)])


def test_position_kernel_against_loops():
    """eqs. (31)/(33)/(36) ('product') and eq. (35) ('max'), entry by entry."""
    X = _unit_sequences(5, 6, 3, 9) * torch.linspace(0.5, 2.0, 6, dtype=torch.float64)[None, :, None]
    pos = [2, 5]
    for p in (0, 1, 3):
        Kp = bounds.position_kernel(X, pos, p)
        Km = bounds.position_kernel(X, pos, p, scale="max")
        for i in range(5):
            for j in range(5):
                zi = torch.cat([X[i, 1], X[i, 4]])
                zj = torch.cat([X[j, 1], X[j, 4]])
                cos = float(zi @ zj) / (float(zi.norm()) * float(zj.norm()))
                mi = max(float(X[i, 1].norm()), float(X[i, 4].norm()))
                mj = max(float(X[j, 1].norm()), float(X[j, 4].norm()))
                assert float(Kp[i, j]) == pytest.approx(cos**p, rel=1e-12, abs=1e-15)
                expected = (float(zi @ zj) / (2 * mi * mj)) ** p
                assert float(Km[i, j]) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    # One position, 'product': the normalised monomial kernel of eq. (33).
    u = X[:, 0] / X[:, 0].norm(dim=1, keepdim=True)
    assert torch.allclose(bounds.position_kernel(X, 1, 2), (u @ u.T) ** 2, rtol=1e-13, atol=1e-15)


def test_position_kernel_bad_input():
    X = _unit_sequences(4, 3, 2, 0)
    with pytest.raises(ValueError, match="positions must lie"):
        bounds.position_kernel(X, [0], 1)
    with pytest.raises(ValueError, match="distinct"):
        bounds.position_kernel(X, [1, 1], 1)
    with pytest.raises(ValueError, match="scale"):
        bounds.position_kernel(X, [1], 1, scale="sum")
    with pytest.raises(ValueError, match="p"):
        bounds.position_kernel(X, [1], -1)
    with pytest.raises(TypeError, match="positions"):
        bounds.position_kernel(X, "1", 1)
    Z = X.clone()
    Z[0, 1] = 0
    with pytest.raises(ValueError, match="zero vector"):
        bounds.position_kernel(Z, [2], 1)


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_kernel_dominance_is_the_best_constant(init):
    """At xi_p the smallest eigenvalue of H - xi_p K_p is zero to rounding; 1e-4 beyond, negative."""
    from rnnbook import kernels

    X = _unit_sequences(14, 5, 3, 10)
    H = kernels.ntk(X, init=init)
    xs = bounds.kernel_dominance(H, X, [1], [0, 1, 2, 3])
    for p, xi in zip([0, 1, 2, 3], xs.tolist(), strict=True):
        K = bounds.position_kernel(X, [1], p)
        tol = 64 * 14 * torch.finfo(torch.float64).eps * float(torch.linalg.matrix_norm(H, ord=2))
        assert abs(float(torch.linalg.eigvalsh(H - xi * K)[0])) <= tol
        assert float(torch.linalg.eigvalsh(H - (1 + 1e-4) * xi * K)[0]) < -tol


@pytest.mark.parametrize("p", [1, 2, 3])
def test_proposition_2_4_with_the_ntk(p):
    """Proposition 2.4 with M = H (the NTK) and alpha^2 = the best constant of eq. (33): for
    y_i = (beta^T X_{i,1})^p (unit inputs), sqrt(y^T H^-1 y) <= ||beta||^p / alpha.  A dominance
    constant that came out too large would break the inequality for the worst beta, which we also
    construct: beta = the top generalised eigenvector direction makes it nearly tight for p = 1."""
    from rnnbook import kernels

    X = _unit_sequences(40, 6, 3, 11)
    H = kernels.ntk(X, init="paper")
    alpha = float(bounds.kernel_dominance(H, X, [1], [p])[0]) ** 0.5
    g = make_generator(12, "cpu")
    for _ in range(20):
        beta = torch.randn(3, generator=g, dtype=torch.float64)
        beta = beta / beta.norm() * float(torch.rand((), generator=g, dtype=torch.float64))
        y = (X[:, 0] @ beta) ** p
        lhs = linalg.inverse_quadratic_form(H, y).value ** 0.5
        assert lhs <= float(beta.norm()) ** p / alpha * (1 + 1e-9)
    if p == 1:
        # sup over beta of y^T H^-1 y / ||beta||^2 = lambda_max(X1^T H^-1 X1) = 1 / alpha^2 exactly.
        X1 = X[:, 0]
        top = float(torch.linalg.eigvalsh(X1.T @ torch.linalg.solve(H, X1))[-1])
        assert top == pytest.approx(1 / alpha**2, rel=1e-9)


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_ntk_layer_dominance_from_the_forward_kernel(init):
    """eq. (32)'s right-hand side built independently: S^l = K^{l-1} + a X_l X_l^T from
    forward_kernel, Q_l = sqrt(S^l_ii S^l_jj), Sigma(rho) = 1/2 + arcsin(rho)/pi."""
    from rnnbook import kernels, model

    X = _unit_sequences(10, 4, 3, 13)
    H = kernels.ntk(X, init=init)
    K = kernels.forward_kernel(X, init=init)
    a = model.get_init(init).a(4)
    xs = bounds.ntk_layer_dominance(X, init=init)
    assert torch.equal(xs, bounds.ntk_layer_dominance(X, init=init, H=H))
    for l in range(1, 5):
        S = K[l - 1] + a * X[:, l - 1] @ X[:, l - 1].T
        Q = torch.sqrt(torch.outer(S.diagonal(), S.diagonal()))
        rho = (S / Q).clamp(-1, 1)
        B = Q * (0.5 + torch.arcsin(rho) / math.pi)
        assert float(xs[l - 1]) == pytest.approx(linalg.dominance_constant(H, B), rel=1e-7)


def test_nested_quadratic_forms_equal_blocks_and_grow():
    """y_k^T M_k^-1 y_k is nondecreasing in k (Schur complement)."""
    M = _spd(25, 1e3, 14)
    y = torch.randn(25, generator=make_generator(15, "cpu"), dtype=torch.float64)
    sizes = [1, 5, 10, 25]
    qs = linalg.nested_quadratic_forms(M, y, sizes)
    for k, q in zip(sizes, qs, strict=True):
        assert q.value == pytest.approx(linalg.inverse_quadratic_form(M[:k, :k], y[:k]).value, rel=1e-12)
    vals = [q.value for q in qs]
    assert all(b >= a * (1 - 1e-12) for a, b in zip(vals, vals[1:], strict=False))
    with pytest.raises(ValueError, match="exceed"):
        linalg.nested_quadratic_forms(M, y, [26])
    with pytest.raises(ValueError, match="y must have shape"):
        linalg.nested_quadratic_forms(M, y[:3], [2])


def test_generalization_bound_and_samples_needed():
    """eq. (17) with exposed constants, and the smallest n that reaches eps."""
    c = bounds.BoundConstants(main=2.0, log_power=1.5, confidence=3.0)
    n, C, delta = 1000, 4.0, 0.05
    expected = (2.0 * 16.0 * math.log(n) ** 1.5 + 3.0 * math.log(1 / delta)) / n
    assert bounds.generalization_bound(C, n, delta, constants=c) == pytest.approx(expected, rel=1e-14)
    assert bounds.generalization_bound(C, n, delta) == pytest.approx((16.0 + math.log(20)) / n, rel=1e-14)
    for constants in (bounds.BoundConstants(), c):
        k = bounds.samples_needed(0.05, C, delta, constants=constants)
        assert bounds.generalization_bound(C, k, delta, constants=constants) <= 0.05
        assert bounds.generalization_bound(C, k - 1, delta, constants=constants) > 0.05
    # log_power = 0: n = ceil((C^2 + log(1/delta)) / eps)
    assert bounds.samples_needed(0.1, 3.0, 0.01) == math.ceil((9 + math.log(100)) / 0.1)
    assert bounds.remark31_steps(0.1, 3.0, 5) == pytest.approx(225 / 0.1, rel=1e-15)


def test_bound_bad_input():
    with pytest.raises(ValueError, match="delta"):
        bounds.generalization_bound(1.0, 10, 0.5)
    with pytest.raises(ValueError, match="n must be at least 1"):
        bounds.generalization_bound(1.0, 0.5, 0.1)
    with pytest.raises(ValueError, match="c_star"):
        bounds.generalization_bound(-1.0, 10, 0.1)
    with pytest.raises(TypeError, match="constants"):
        bounds.generalization_bound(1.0, 10, 0.1, constants={"main": 1})
    with pytest.raises(ValueError, match="eps"):
        bounds.samples_needed(1.5, 1.0, 0.1)
    with pytest.raises(ValueError, match="log_power"):
        bounds.BoundConstants(log_power=-1)
    with pytest.raises(ValueError, match="L"):
        bounds.remark31_steps(0.1, 1.0, 0)


def test_kernel_dominance_cpu_and_cuda_agree(cuda_only):
    from rnnbook import kernels

    X = _unit_sequences(20, 5, 3, 16)
    a = bounds.ntk_layer_dominance(X, init="paper")
    b = bounds.ntk_layer_dominance(X.cuda(), init="paper")
    assert torch.allclose(a, b, rtol=1e-9)
    H = kernels.ntk(X, init="paper")
    assert torch.allclose(bounds.kernel_dominance(H, X, [1], [1, 2]),
                          bounds.kernel_dominance(H.cuda(), X.cuda(), [1], [1, 2]), rtol=1e-9)


# ---------------------------------------------------------------- inequality (29) from given kernels


def test_sigma_and_backward_and_dominance_of_given_kernels():
    """One forward recursion gives both kernels: S = Sigma(rho^l) and F^l of kernels.backward_kernel,
    and backward_dominance_of(S, F) is backward_dominance(X) (same arithmetic, so equal exactly)."""
    from rnnbook import kernels

    X = data.sample_sequences(9, 5, 3, c_min=0.5, c_max=1.5, seed=6)
    for init in ("paper", "algorithm1"):
        S, F = bounds.sigma_and_backward(X, init=init)
        S_ref = kernels.sigma(kernels.forward_correlation(X, init=init))
        torch.testing.assert_close(S, S_ref, rtol=0, atol=0)
        torch.testing.assert_close(F, kernels.backward_kernel(X, init=init), rtol=1e-15, atol=0)
        a, b = bounds.backward_dominance_of(S, F), bounds.backward_dominance(X, init=init)
        for field in a._fields:
            assert torch.equal(getattr(a, field), getattr(b, field)), field
    with pytest.raises(ValueError, match="shape"):
        bounds.backward_dominance_of(S, F[:, :4, :4])
    with pytest.raises(ValueError, match="at least 2"):
        bounds.backward_dominance_of(S[:, :1, :1], F[:, :1, :1])


def _pairs_of_resample(V, idx):
    """Brute force: the values of the pairs a < b of the resample idx whose inputs differ."""
    n = len(idx)
    return torch.stack([V[idx[a], idx[b]] for a in range(n) for b in range(a + 1, n) if idx[a] != idx[b]])


def test_pair_bootstrap_equals_the_statistic_of_each_resample():
    """With explicit counts, each replicate is the mean / lower median over the pairs of distinct
    inputs of the resampled sample, built by brute force from the resample's indices; unit counts give
    the sample's own statistic (torch.median is the lower median)."""
    g = make_generator(7, "cpu")
    n = 7
    A = torch.randn(3, n, n, generator=g, dtype=torch.float64)
    V = A + A.transpose(1, 2)
    idx = torch.randint(0, n, (5, n), generator=g)
    counts = torch.stack([torch.bincount(r, minlength=n) for r in idx])
    mean = bounds.pair_bootstrap(V, counts=counts)
    median = bounds.pair_bootstrap(V, statistic="median", counts=counts)
    assert mean.shape == median.shape == (5, 3)
    for b in range(5):
        for k in range(3):
            pairs = _pairs_of_resample(V[k], idx[b].tolist())
            assert float(mean[b, k]) == pytest.approx(float(pairs.mean()), rel=1e-13)
            lower_median = torch.sort(pairs).values[(len(pairs) + 1) // 2 - 1]
            assert float(median[b, k]) == float(lower_median)
    iu = torch.triu_indices(n, n, 1)
    ones = torch.ones((1, n))
    pairs = V[0][iu[0], iu[1]]
    assert float(bounds.pair_bootstrap(V[0], statistic="median", counts=ones)[0]) == float(pairs.median())
    assert float(bounds.pair_bootstrap(V[0], counts=ones)[0]) == pytest.approx(float(pairs.mean()), rel=1e-14)
    # Equal seeds, equal resamples: the two calls of a ratio see the same draws.
    draw = lambda seed: bounds.pair_bootstrap(V, n_boot=50, seed=seed)
    assert torch.equal(draw(3), draw(3))
    assert not torch.equal(draw(3), draw(4))


def test_pair_bootstrap_spread_is_the_sampling_spread():
    """For v_ij = x_i + x_j the mean over pairs is 2 xbar, whose bootstrap standard deviation is
    2 s / sqrt(n) (s the sample's plug-in standard deviation) up to O(1/n) from the left-out pairs of
    an input with its copy.  The replicates' standard deviation estimates it with relative standard
    error 1/sqrt(2 B); two-sided false-alarm rate 1e-3, plus 2/n for the O(1/n) term."""
    from scipy.stats import norm

    n, B = 400, 4000
    x = torch.randn(n, generator=make_generator(8, "cpu"), dtype=torch.float64)
    reps = bounds.pair_bootstrap(x[:, None] + x[None, :], n_boot=B, seed=9)
    expected = 2 * float(x.std(unbiased=False)) / math.sqrt(n)
    tol = norm.ppf(1 - 1e-3 / 2) / math.sqrt(2 * B) + 2 / n
    assert float(reps.std()) == pytest.approx(expected, rel=tol)
    # The weights c_i (n - c_i) of T = 2 sum_i c_i (n - c_i) x_i / sum_i c_i (n - c_i) are exchangeable,
    # so E T = 2 xbar exactly: only the Monte Carlo error of B replicates remains.
    z = norm.ppf(1 - 1e-3 / 2)
    assert float(reps.mean()) == pytest.approx(2 * float(x.mean()), abs=z * float(reps.std()) / math.sqrt(B))


def test_pair_bootstrap_rejects_bad_input():
    V = torch.ones(4, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="statistic"):
        bounds.pair_bootstrap(V, statistic="max")
    with pytest.raises(ValueError, match="values must have shape"):
        bounds.pair_bootstrap(torch.ones(4, 3))
    with pytest.raises(ValueError, match="at least 2 inputs"):
        bounds.pair_bootstrap(torch.ones(1, 1))
    with pytest.raises(ValueError, match="counts must have shape"):
        bounds.pair_bootstrap(V, counts=torch.ones(3, 5))
    with pytest.raises(ValueError, match="non-negative integers"):
        bounds.pair_bootstrap(V, counts=torch.full((3, 4), 0.5))
    with pytest.raises(ValueError, match="fewer than 2 distinct"):
        bounds.pair_bootstrap(V, counts=torch.tensor([[4, 0, 0, 0]]))
    with pytest.raises(ValueError, match="n_boot"):
        bounds.pair_bootstrap(V, n_boot=0)


def test_bootstrap_exponent():
    """An exact power law gives its exponent; replicates that differ from it by a factor constant in x
    give the same slope (a zero-width interval); Gaussian noise e in log y at each x gives slopes
    N(b, sigma^2 / sum lx^2), whose 98% interval the percentile interval estimates.  The 1% and 99%
    quantiles of 2000 replicates each have standard error sqrt(q (1 - q) / B) / phi(z_q) = 0.083
    slope standard deviations, 3.6% of the half-width z_q sd: the tolerance 12% is over 3 of them."""
    from scipy.stats import norm

    x = torch.tensor([32.0, 64.0, 128.0, 256.0], dtype=torch.float64)
    y = 3.0 * x**-1.5
    factors = torch.linspace(0.5, 2, 40, dtype=torch.float64)
    slope, lo, hi = bounds.bootstrap_exponent(x, y, y[:, None] * factors)
    assert slope == pytest.approx(-1.5, abs=1e-12) and lo == pytest.approx(-1.5, abs=1e-12)
    assert hi == pytest.approx(-1.5, abs=1e-12)
    sigma = 0.1
    noise = sigma * torch.randn(4, 2000, generator=make_generator(10, "cpu"), dtype=torch.float64)
    slope, lo, hi = bounds.bootstrap_exponent(x, y, y[:, None] * torch.exp(noise), level=0.98)
    lx = torch.log(x) - torch.log(x).mean()
    half = norm.ppf(0.99) * sigma / math.sqrt(float(lx.square().sum()))
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.12)
    assert (lo + hi) / 2 == pytest.approx(-1.5, abs=0.12 * half)
    with pytest.raises(ValueError, match="1-D of equal length"):
        bounds.bootstrap_exponent(x, y[:3], y[:, None].repeat(1, 20))
    with pytest.raises(ValueError, match="replicates must have shape"):
        bounds.bootstrap_exponent(x, y, y[:, None].repeat(1, 5))
    with pytest.raises(ValueError, match="positive"):
        bounds.bootstrap_exponent(x, -y, y[:, None].repeat(1, 20))
    with pytest.raises(ValueError, match="level"):
        bounds.bootstrap_exponent(x, y, y[:, None].repeat(1, 20), level=1.5)


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_window_dominance_is_the_constant_of_36(init):
    """eq. (36)'s kernel built independently, with its 2^(-a k) inside the k-th power:
    (Z_i^T Z_j / (||Z_i|| ||Z_j|| 2^a))^k, Z_i = [X_{i,l}, ..., X_{i,l-a}]."""
    from rnnbook import kernels

    X = _unit_sequences(14, 6, 3, 17)
    H = kernels.ntk(X, init=init)
    l, a = 5, 2
    xs = bounds.window_dominance(H, X, l, a, [0, 1, 2])
    Z = X[:, l - a - 1:l].reshape(14, -1)
    u = Z / Z.norm(dim=1, keepdim=True)
    for k, xi in zip([0, 1, 2], xs.tolist(), strict=True):
        K = (u @ u.T / 2.0**a) ** k
        assert xi == pytest.approx(linalg.dominance_constant(H, (K + K.T) / 2), rel=1e-9)
    # a = 0 is eq. (33) at position l
    assert torch.allclose(bounds.window_dominance(H, X, l, 0, [1, 2]),
                          bounds.kernel_dominance(H, X, [l], [1, 2]), rtol=1e-12)
    with pytest.raises(ValueError, match="a must satisfy"):
        bounds.window_dominance(H, X, 3, 3, [1])
    with pytest.raises(ValueError, match="l must lie"):
        bounds.window_dominance(H, X, 7, 1, [1])
    with pytest.raises(TypeError, match="powers"):
        bounds.window_dominance(H, X, 3, 1, [1.5])


def _indefinite(eigenvalues, seed):
    g = make_generator(seed, "cpu")
    n = len(eigenvalues)
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    return (Q * torch.tensor(eigenvalues, dtype=torch.float64)) @ Q.T, Q


def test_min_eq18_correction_on_a_constructed_difference():
    """H_inf - H with eigenvalues (3, 2, 0, -1, -4): the smallest ||eps||_F is sqrt(5), eps^T eps is
    the positive part, H + eps^T eps >= H_inf to rounding, and any shrunk eps fails."""
    lam = [3.0, 2.0, 0.0, -1.0, -4.0]
    D, Q = _indefinite(lam, 18)
    H = _spd(5, 1e2, 19)
    H_inf = H + D
    c = bounds.min_eq18_correction(H, H_inf)
    assert c.norm == pytest.approx(math.sqrt(5.0), rel=1e-12)
    assert c.rank == 2 and c.eps.shape == (2, 5)
    assert float(torch.linalg.matrix_norm(c.eps)) == pytest.approx(c.norm, rel=1e-12)
    positive = (Q[:, :2] * torch.tensor(lam[:2], dtype=torch.float64)) @ Q[:, :2].T
    assert torch.allclose(c.eps.T @ c.eps, positive, atol=1e-12)
    gap = H + c.eps.T @ c.eps - H_inf
    assert float(torch.linalg.eigvalsh((gap + gap.T) / 2)[0]) >= -c.tolerance * 8
    shrunk = (1 - 1e-3) * c.eps
    gap = H + shrunk.T @ shrunk - H_inf
    assert float(torch.linalg.eigvalsh((gap + gap.T) / 2)[0]) < -1e-3  # about -2 (1 - (1 - 1e-3)^2) * 2
    # nothing to correct: H >= H_inf
    none = bounds.min_eq18_correction(H_inf + torch.eye(5, dtype=torch.float64), H_inf)
    assert none.norm == 0.0 and none.rank == 0 and none.eps.shape == (0, 5)


def test_min_eq18_correction_no_random_feasible_correction_is_smaller():
    """Random P = D_+ + W (W random symmetric) that satisfy the constraints of (18) on P = eps^T eps,
    P >= 0 and P >= D, never have trace (= ||eps||_F^2) below the returned norm^2: an exact
    inequality (no statistics), checked on every feasible draw; a good fraction is feasible."""
    lam = [1.5, 0.5, -0.7, -2.0]
    D, _ = _indefinite(lam, 20)
    c = bounds.min_eq18_correction(torch.zeros(4, 4, dtype=torch.float64), D, name="zero")
    assert c.norm**2 == pytest.approx(2.0, rel=1e-12)
    positive = c.eps.T @ c.eps
    g = make_generator(21, "cpu")
    feasible = 0
    for scale in (0.03, 0.1, 0.3):
        G = torch.randn(3000, 4, 4, generator=g, dtype=torch.float64) * scale
        P = positive + (G + G.transpose(1, 2)) / 2
        ok = (torch.linalg.eigvalsh(P)[:, 0] >= -1e-12) & (torch.linalg.eigvalsh(P - D)[:, 0] >= -1e-12)
        traces = P.diagonal(dim1=1, dim2=2).sum(-1)[ok]
        feasible += int(ok.sum())
        assert bool((traces >= c.norm**2 - 1e-10).all())
    assert feasible >= 50
    # eps with more rows than needed (any shape (r, n)) is covered too: random eps near the optimum
    E = c.eps + 0.05 * torch.randn(500, 2, 4, generator=g, dtype=torch.float64)
    P = E.transpose(1, 2) @ E
    ok = torch.linalg.eigvalsh(P - D)[:, 0] >= -1e-12
    assert int(ok.sum()) >= 20
    assert bool((torch.linalg.matrix_norm(E)[ok] >= c.norm - 1e-12).all())


def test_min_eq18_correction_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        bounds.min_eq18_correction(torch.eye(3, dtype=torch.float64), torch.eye(4, dtype=torch.float64))
    with pytest.raises(ValueError, match="H_inf is not symmetric"):
        bounds.min_eq18_correction(torch.eye(2, dtype=torch.float64), torch.tensor([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="square"):
        bounds.min_eq18_correction(torch.ones(2, 3), torch.ones(2, 3))


def test_window_constants_split_off_the_2_to_the_a():
    """The window kernel's own constant (no 2^(-a k)) against a dominance constant computed from the
    kernel built by hand, and eq. (36)'s constant as exactly 2^(a k) times it."""
    from rnnbook import kernels

    X = _unit_sequences(14, 6, 3, 19)
    H = kernels.ntk(X, init="paper")
    l, a, powers = 6, 3, [0, 1, 2]
    wd = bounds.window_constants(H, X, l, a, powers)
    Z = X[:, l - a - 1:l].reshape(14, -1)
    u = Z / Z.norm(dim=1, keepdim=True)
    for k, w in zip(powers, wd.window.tolist(), strict=True):
        K = (u @ u.T) ** k
        assert w == pytest.approx(linalg.dominance_constant(H, (K + K.T) / 2), rel=1e-9)
    assert torch.equal(wd.xi, wd.window * torch.tensor([1.0, 2.0**a, 4.0**a], dtype=torch.float64))
    assert torch.equal(wd.xi, bounds.window_dominance(H, X, l, a, powers))
    assert torch.equal(wd.window, bounds.kernel_dominance(H, X, range(l - a, l + 1), powers))


def test_claimed_constants_of_32_33_35():
    assert bounds.claimed_xi32(10) == pytest.approx(1e-4, rel=1e-15)
    # (33), (36): L^-(7+k) / k^2
    assert bounds.claimed_xi33(10, 1) == pytest.approx(1e-8, rel=1e-15)
    assert bounds.claimed_xi33(2, 3) == pytest.approx(2.0**-10 / 9, rel=1e-15)
    with pytest.raises(ValueError, match="k"):
        bounds.claimed_xi33(4, 0)
    # (35): 1 / (C1^N L^(4+2N) C_{N,p} (p/N)^N); N = 2, p = 1: C_{2,1} = 1, (1/2)^2 = 1/4
    assert bounds.claimed_xi35(16, 2, 1) == pytest.approx(4 / (100.0**2 * 16.0**8), rel=1e-15)
    # N = 2, p = 2: C_{2,2} = 2 (the split 1 + 1), (2/2)^2 = 1; N = 3, p = 4: C_{3,4} = 4!/(2! 1! 1!) = 12
    assert bounds.claimed_xi35(5, 2, 2, C1=200.0) == pytest.approx(1 / (200.0**2 * 5.0**8 * 2), rel=1e-15)
    assert bounds.claimed_xi35(3, 3, 4) == pytest.approx(1 / (1e6 * 3.0**10 * 12 * (4 / 3) ** 3), rel=1e-15)


def test_extrapolated_log_width_of_a_power_law():
    # v(m) = 5 m^-0.25 meets 1e-3 where m^0.25 = 5000: m* = 5000^4 = 6.25e14
    m = 1024.0
    v = 5 * m**-0.25
    got = bounds.extrapolated_log_width(math.log10(m), math.log10(v), -3.0, -0.25)
    assert got == pytest.approx(math.log10(5000.0**4), rel=1e-13)
    # already below the limit: the width lies below the measured one
    assert bounds.extrapolated_log_width(3.0, -4.0, -3.0, -0.5) == pytest.approx(1.0)
    assert bounds.extrapolated_log_width(3.0, 1.0, -3.0, 0.0) == math.inf
    assert bounds.extrapolated_log_width(3.0, 1.0, -3.0, 0.1) == math.inf
