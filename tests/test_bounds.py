"""Tests of rnnbook.bounds: y^T M^-1 y (Proposition 2.4, Theorem 4) and dominance constants."""

import math

import mpmath
import pytest
import torch

from rnnbook import bounds
from rnnbook.device import make_generator


def _spd(n, cond, seed):
    g = make_generator(seed, "cpu")
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    lam = torch.logspace(0, -math.log10(cond), n, dtype=torch.float64)
    return (Q * lam) @ Q.T


def test_well_conditioned_matches_solve():
    M = _spd(30, 1e3, 0)
    y = torch.randn(30, generator=make_generator(1, "cpu"), dtype=torch.float64)
    q = bounds.inverse_quadratic_form(M, y)
    assert q.method == "cholesky"
    assert q.condition == pytest.approx(1e3, rel=1e-8)
    assert q.value == pytest.approx(float(y @ torch.linalg.solve(M, y)), rel=1e-12)


def test_ill_conditioned_against_mpmath():
    # cond 1e11: the eigh route is used and its stated error bound must cover the true error,
    # computed with a 60-digit solve of the same (rounded) matrix.
    M = _spd(8, 1e11, 2)
    M = (M + M.T) / 2
    y = torch.randn(8, generator=make_generator(3, "cpu"), dtype=torch.float64)
    q = bounds.inverse_quadratic_form(M, y)
    assert q.method == "eigh"
    with mpmath.workdps(60):
        Mm = mpmath.matrix(M.tolist())
        ym = mpmath.matrix(y.tolist())
        exact = float((ym.T * mpmath.lu_solve(Mm, ym))[0])
    assert abs(q.value - exact) <= q.relative_error_bound * exact
    assert q.relative_error_bound < 1e-3


def test_singular_and_indefinite_are_errors():
    y = torch.ones(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="singular"):
        bounds.inverse_quadratic_form(torch.ones(3, 3, dtype=torch.float64), y)
    with pytest.raises(ValueError, match="indefinite"):
        bounds.inverse_quadratic_form(torch.diag(torch.tensor([1.0, -1.0, 2.0])), y)


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
    assert bounds.dominance_constant(A, B) == pytest.approx(2.5, rel=1e-9)
    assert bounds.dominance_constant(A, -B) == math.inf
    # singular B (rank 1) is allowed: A >= xi u u^T iff xi <= 1 / (u^T A^-1 u)
    u = torch.randn(6, generator=g, dtype=torch.float64)
    assert bounds.dominance_constant(A, torch.outer(u, u)) == pytest.approx(
        1 / float(u @ torch.linalg.solve(A, u)), rel=1e-10)


def test_bad_input():
    with pytest.raises(ValueError, match="y must have shape"):
        bounds.inverse_quadratic_form(torch.eye(3, dtype=torch.float64), torch.ones(4))
    with pytest.raises(ValueError, match="symmetric"):
        bounds.inverse_quadratic_form(torch.tensor([[2.0, 1.0], [0.0, 2.0]]), torch.ones(2))
    with pytest.raises(ValueError, match="NaN"):
        bounds.inverse_quadratic_form(torch.eye(2), torch.tensor([1.0, math.nan]))
    with pytest.raises(ValueError, match="positive definite"):
        bounds.dominance_constant(torch.zeros(2, 2), torch.eye(2))
    with pytest.raises(ValueError, match="same shape"):
        bounds.dominance_constant(torch.eye(2), torch.eye(3))


def test_cpu_and_cuda_agree(cuda_only):
    M = _spd(40, 1e4, 5)
    y = torch.randn(40, generator=make_generator(6, "cpu"), dtype=torch.float64)
    a = bounds.inverse_quadratic_form(M, y).value
    b = bounds.inverse_quadratic_form(M.cuda(), y.cuda()).value
    assert b == pytest.approx(a, rel=1e-10)


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_backward_dominance_is_the_best_constant_of_29(init):
    """Inequality (29) read as F^l - K Sigma(rho^l) >= 0: xi_l must be the largest such K.  At xi_l
    the smallest eigenvalue of F^l - xi_l Sigma is zero up to rounding (n eps ||.||, times 64 for the
    solves in between); at (1 + 1e-4) xi_l it is negative by more than that -- the shift moves it
    by about 1e-4 xi_l lambda_min(Sigma) >= 1e-9 here, four orders above the rounding."""
    from rnnbook import concepts, kernels

    X = concepts.sample_sequences(12, 6, 3, c_min=0.5, c_max=1.5, seed=4)
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
    from rnnbook import concepts

    with pytest.raises(ValueError, match="at least 2"):
        bounds.backward_dominance(concepts.sample_sequences(1, 4, 3, seed=0))


# ---------------------------------------------------------------- Theorem 4's sketch, eqs. (30)-(36)


def _unit_sequences(n, L, d, seed):
    from rnnbook import concepts

    return concepts.sample_sequences(n, L, d, c_min=1.0, c_max=1.0, seed=seed, device="cpu")


def test_dominance_constants_match_one_at_a_time():
    A = _spd(10, 1e2, 7)
    g = make_generator(8, "cpu")
    Bs = [(lambda G: G @ G.T)(torch.randn(10, k, generator=g, dtype=torch.float64)) for k in (1, 3, 10)]
    xs = bounds.dominance_constants(A, Bs)
    assert xs.shape == (3,)
    for x, B in zip(xs.tolist(), Bs, strict=True):
        assert x == pytest.approx(bounds.dominance_constant(A, B), rel=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        bounds.dominance_constants(A, [torch.eye(3, dtype=torch.float64)])


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
        lhs = bounds.inverse_quadratic_form(H, y).value ** 0.5
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
        assert float(xs[l - 1]) == pytest.approx(bounds.dominance_constant(H, B), rel=1e-7)


def test_nested_quadratic_forms_equal_blocks_and_grow():
    """y_k^T M_k^-1 y_k is nondecreasing in k (Schur complement)."""
    M = _spd(25, 1e3, 14)
    y = torch.randn(25, generator=make_generator(15, "cpu"), dtype=torch.float64)
    sizes = [1, 5, 10, 25]
    qs = bounds.nested_quadratic_forms(M, y, sizes)
    for k, q in zip(sizes, qs, strict=True):
        assert q.value == pytest.approx(bounds.inverse_quadratic_form(M[:k, :k], y[:k]).value, rel=1e-12)
    vals = [q.value for q in qs]
    assert all(b >= a * (1 - 1e-12) for a, b in zip(vals, vals[1:], strict=False))
    with pytest.raises(ValueError, match="exceed"):
        bounds.nested_quadratic_forms(M, y, [26])
    with pytest.raises(ValueError, match="y must have shape"):
        bounds.nested_quadratic_forms(M, y[:3], [2])


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
