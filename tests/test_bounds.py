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
