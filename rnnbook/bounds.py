"""Quadratic forms y^T M^-1 y and PSD-dominance constants (Proposition 2.4, Theorem 4).

Both are computed in float64 and report how well conditioned the problem was; an indefinite or
numerically singular matrix is an error, never a silently wrong number.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch

from .device import as_tensor
from .kernels import _backward_products_, forward_correlation, sigma
from .posdef import check_symmetric, psd_tolerance

# Below this estimated relative error a Cholesky solve is used; above it, the eigendecomposition.
_CHOLESKY_RTOL = 1e-8


@dataclasses.dataclass(frozen=True)
class QuadraticForm:
    """y^T M^-1 y with the conditioning it was computed under."""

    value: float
    condition: float            # lambda_max / lambda_min of M
    relative_error_bound: float  # first-order bound n * eps * condition
    method: str                 # "cholesky" or "eigh"


def inverse_quadratic_form(M, y, *, name: str = "M") -> QuadraticForm:
    """y^T M^-1 y for symmetric positive definite ``M`` (the quantity of Proposition 2.4 and of
    Theorem 4's sqrt(y^T (H^inf)^-1 y)).

    The eigenvalues of M fix its condition number kappa; a backward-stable solve then has relative
    error at most about n eps kappa.  When that is below 1e-8 the value comes from a Cholesky
    solve, otherwise from the eigendecomposition sum_k (u_k^T y)^2 / lambda_k.  A matrix with an
    eigenvalue below the rounding tolerance n eps ||M||_2 is reported as indefinite (clearly
    negative) or numerically singular, with a ``ValueError``."""
    S = check_symmetric(M, name=name).to(torch.float64)
    y = as_tensor(y, name="y", dtype=torch.float64, device=S.device)
    if y.ndim != 1 or y.shape[0] != S.shape[0]:
        raise ValueError(f"y must have shape ({S.shape[0]},), got {tuple(y.shape)}")
    lam, U = torch.linalg.eigh(S)
    tol = psd_tolerance(S)
    lmin, lmax = float(lam[0]), float(lam[-1])
    if lmin < -tol:
        raise ValueError(f"{name} is indefinite: smallest eigenvalue {lmin:.3g} < -{tol:.3g}")
    if lmin <= tol:
        raise ValueError(f"{name} is numerically singular: smallest eigenvalue {lmin:.3g} is within "
                         f"rounding ({tol:.3g}) of 0; y^T M^-1 y is not determined")
    cond = lmax / lmin
    rel = S.shape[0] * torch.finfo(torch.float64).eps * cond
    if rel < _CHOLESKY_RTOL:
        chol = torch.linalg.cholesky(S)
        z = torch.linalg.solve_triangular(chol, y[:, None], upper=False)
        return QuadraticForm(float(z.square().sum()), cond, rel, "cholesky")
    coef = U.T @ y
    return QuadraticForm(float((coef.square() / lam).sum()), cond, rel, "eigh")


def dominance_constant(A, B) -> float:
    """The largest xi with A - xi B >= 0 (PSD), for positive definite A and symmetric B.

    xi* = 1 / lambda_max(L^-1 B L^-T) with A = L L^T (a generalised eigenvalue); B may be singular,
    as K_p of Proposition 2.4 is once n > binom(d+p-1, p).  ``inf`` when B <= 0."""
    A = check_symmetric(A, name="A").to(torch.float64)
    B = check_symmetric(B, name="B").to(device=A.device, dtype=torch.float64)
    if A.shape != B.shape:
        raise ValueError(f"A and B must have the same shape, got {tuple(A.shape)} and {tuple(B.shape)}")
    chol, info = torch.linalg.cholesky_ex(A)
    lam_a = torch.linalg.eigvalsh(A)
    if int(info) != 0 or float(lam_a[0]) <= psd_tolerance(A):
        raise ValueError(f"A must be positive definite (smallest eigenvalue {float(lam_a[0]):.3g})")
    C = torch.linalg.solve_triangular(chol, B, upper=False)
    C = torch.linalg.solve_triangular(chol, C.T, upper=False)
    top = float(torch.linalg.eigvalsh((C + C.T) / 2)[-1])
    return float("inf") if top <= 0 else 1.0 / top


class BackwardDominance(NamedTuple):
    """Inequality (29) on one sample, per layer l = 1..L (each a float64 tensor of shape (L,))."""

    xi: torch.Tensor        # largest xi with F^l - xi Sigma(rho^l) >= 0 on this sample
    rayleigh: torch.Tensor  # mean_{i != j} F^l_ij / mean_{i != j} Sigma(rho^l_ij)
    naive: torch.Tensor     # 2^-(L - l + 1), what Sigma >= J/2 gives


def backward_dominance(X, *, init="paper") -> BackwardDominance:
    """The best constant of inequality (29), F^l >= K Sigma(rho^l), for the sample X (n, L, d).

    ``xi[l-1]`` is the generalised eigenvalue of :func:`dominance_constant` with F^l from
    :func:`rnnbook.kernels.backward_kernel` and Sigma(rho^l) of eq. (28): the paper's K, read as
    F^l - K Sigma >= 0 (see the errata on its direction).  It can only shrink as points are added,
    so the bound the paper needs -- one constant for every n -- is at most its large-n limit, and
    that limit is at most ``rayleigh``: the Rayleigh quotient with equal weights 1/n, whose diagonal
    terms vanish as n grows (an estimate of the population ratio E F^l(x, y) / E Sigma(x, y) from
    the off-diagonal pairs).  ``naive`` is the lower bound 2^-(L-l+1) from Sigma(rho) >= 1/2
    entrywise as PSD matrices (Sigma = J/2 + arcsin(rho)/pi, arcsin's series has positive
    coefficients) and the Schur product theorem -- Remark 4.2's "naive estimation"."""
    S = sigma(forward_correlation(X, init=init))
    F = _backward_products_(S.clone())  # F^l from the same Sigma(rho^l): one forward recursion
    L, n, _ = F.shape
    if n < 2:
        raise ValueError(f"X must hold at least 2 sequences, got n = {n}")
    xi = torch.tensor([dominance_constant(F[l], S[l]) for l in range(L)], dtype=torch.float64)
    off = ~torch.eye(n, dtype=torch.bool, device=F.device)
    rayleigh = (F[:, off].mean(dim=1) / S[:, off].mean(dim=1)).cpu()
    naive = 2.0 ** -(L - torch.arange(L, dtype=torch.float64))
    return BackwardDominance(xi, rayleigh, naive)
