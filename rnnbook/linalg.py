"""Symmetric matrices in float64, guarded: PSD tests with their rounding tolerance, y^T M^-1 y
and generalised eigenvalues (dominance constants) that report their conditioning.

An indefinite or numerically singular matrix is an error, never a silently wrong number.  The
tolerance is that of a backward-stable symmetric eigensolver: a computed eigenvalue has absolute
error at most about n eps ||M||_2 (Golub & Van Loan, Section 8.1), so ``min eig >= -n eps ||M||_2``
is the statement "PSD up to rounding".

Layer 2 of the package: it imports only :mod:`rnnbook.checks`.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from .checks import as_tensor, check_int, check_real

__all__ = ["check_symmetric", "psd_tolerance", "PSDCheck", "psd_check", "is_psd", "SymmetricEig",
           "guarded_eigh", "QuadraticForm", "inverse_quadratic_form", "nested_quadratic_forms",
           "dominance_constant", "dominance_constants"]


def check_symmetric(M, *, name: str = "M") -> torch.Tensor:
    """A float64 square symmetric matrix (up to rounding), or a ValueError naming ``name``."""
    M = as_tensor(M, name=name, dtype=None)
    if torch.finfo(M.dtype).bits < 32:
        # No eigensolver takes half precision: widen (exactly), and keep the rounding tolerance
        # of float32 -- the values themselves were rounded more coarsely, which is the caller's.
        M = M.to(torch.float32)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {tuple(M.shape)}")
    if M.shape[0] == 0:
        raise ValueError(f"{name} must not be empty")
    scale = M.abs().max()
    eps = torch.finfo(M.dtype).eps
    # A Gram matrix built entry by entry (or by X @ X.T with blocked BLAS) is symmetric only up to
    # a few ulps per entry; anything beyond a generous multiple of that is a wrong input.
    if (M - M.T).abs().max() > 64 * eps * scale * M.shape[0] ** 0.5:
        raise ValueError(f"{name} is not symmetric (max |M - M^T| = {(M - M.T).abs().max():.3g})")
    return (M + M.T) / 2


def psd_tolerance(M: torch.Tensor) -> float:
    """n * eps * ||M||_2: the rounding error of a computed eigenvalue of symmetric M."""
    eps = torch.finfo(M.dtype).eps
    return float(M.shape[0] * eps * torch.linalg.matrix_norm(M, ord=2))


@dataclasses.dataclass(frozen=True)
class PSDCheck:
    """The smallest eigenvalue of a symmetric matrix against its rounding tolerance."""

    min_eigenvalue: float
    tolerance: float

    @property
    def is_psd(self) -> bool:
        return self.min_eigenvalue >= -self.tolerance

    @property
    def margin(self) -> float:
        """min eigenvalue / tolerance: below -1 is a certified failure of PSD."""
        return self.min_eigenvalue / self.tolerance if self.tolerance > 0 else float("inf")


def psd_check(M, *, name: str = "M") -> PSDCheck:
    """Smallest eigenvalue of symmetric ``M`` with its tolerance (see module docstring)."""
    S = check_symmetric(M, name=name)
    lam = torch.linalg.eigvalsh(S)
    return PSDCheck(float(lam[0]), psd_tolerance(S))


def is_psd(M, *, name: str = "M") -> bool:
    """True when ``M`` is positive semidefinite up to rounding (Proposition 2.1's conclusion)."""
    return psd_check(M, name=name).is_psd


# Below this estimated relative error a Cholesky solve is used; above it, the eigendecomposition.
_CHOLESKY_RTOL = 1e-8


@dataclasses.dataclass(frozen=True)
class SymmetricEig:
    """The eigendecomposition of a symmetric PSD matrix M + ridge I, with its rounding tolerance."""

    values: torch.Tensor   # ascending eigenvalues of M (without the ridge)
    vectors: torch.Tensor  # orthonormal eigenvectors, as columns
    tolerance: float       # n eps ||M||_2 (psd_tolerance of M)
    ridge: float

    @property
    def shifted(self) -> torch.Tensor:
        """The eigenvalues of M + ridge I."""
        return self.values + self.ridge

    @property
    def min(self) -> float:
        """The smallest eigenvalue of M + ridge I."""
        return float(self.values[0]) + self.ridge

    @property
    def max(self) -> float:
        """The largest eigenvalue of M + ridge I."""
        return float(self.values[-1]) + self.ridge

    @property
    def condition(self) -> float:
        """lambda_max / lambda_min of M + ridge I."""
        return self.max / self.min


def guarded_eigh(M, *, name: str = "M", ridge: float = 0.0) -> SymmetricEig:
    """The eigendecomposition of symmetric ``M`` + ``ridge`` I, refusing what cannot be inverted.

    ``M`` must be PSD up to rounding: an eigenvalue below -t (t = n eps ||M||_2,
    :func:`psd_tolerance`) is a ``ValueError`` ("indefinite"); so is a smallest eigenvalue of
    M + ridge I within t of 0 ("numerically singular": M^-1 y is not determined by M's entries).
    The one guard behind every solve of the package (quadratic forms, kernel regression)."""
    S = check_symmetric(M, name=name).to(torch.float64)
    ridge = check_real(ridge, name="ridge", nonnegative=True)
    lam, U = torch.linalg.eigh(S)
    tol = psd_tolerance(S)
    lmin = float(lam[0])
    if lmin < -tol:
        raise ValueError(f"{name} is indefinite: smallest eigenvalue {lmin:.3g} < -{tol:.3g}")
    if lmin + ridge <= tol:
        what = name if ridge == 0 else f"{name} + ridge I"
        raise ValueError(f"{what} is numerically singular: smallest eigenvalue {lmin + ridge:.3g} is "
                         f"within rounding ({tol:.3g}) of 0; its inverse is not determined"
                         + ("" if ridge else " (pass a ridge > 0?)"))
    return SymmetricEig(lam, U, tol, float(ridge))


@dataclasses.dataclass(frozen=True)
class QuadraticForm:
    """y^T M^-1 y with the conditioning it was computed under."""

    value: float
    condition: float            # lambda_max / lambda_min of M
    relative_error_bound: float  # first-order bound n * eps * condition
    method: str                 # "cholesky" or "eigh"


def _labels(y, n: int, device) -> tuple[torch.Tensor, bool]:
    """``y`` as a float64 (n, k) matrix of label vectors, and whether it was one vector (k = 1);
    or a ValueError."""
    y = as_tensor(y, name="y", dtype=torch.float64, device=device)
    if y.ndim not in (1, 2) or y.shape[0] != n or (y.ndim == 2 and y.shape[1] == 0):
        raise ValueError(f"y must have shape ({n},) or ({n}, k) with k >= 1, got {tuple(y.shape)}")
    return (y[:, None], True) if y.ndim == 1 else (y, False)


def _forms(S: torch.Tensor, Y: torch.Tensor, name: str) -> list[QuadraticForm]:
    """One factorisation of S, the forms of every column of Y."""
    eig = guarded_eigh(S, name=name)
    lam, U, lmin, lmax = eig.values, eig.vectors, eig.min, eig.max
    cond = lmax / lmin
    rel = S.shape[0] * torch.finfo(torch.float64).eps * cond
    if rel < _CHOLESKY_RTOL:
        chol = torch.linalg.cholesky(S)
        values = torch.linalg.solve_triangular(chol, Y, upper=False).square().sum(0)
        method = "cholesky"
    else:
        values = ((U.T @ Y).square() / lam[:, None]).sum(0)
        method = "eigh"
    return [QuadraticForm(float(v), cond, rel, method) for v in values.tolist()]


def inverse_quadratic_form(M, y, *, name: str = "M"):
    """y^T M^-1 y for symmetric positive definite ``M`` (the quantity of Proposition 2.4 and of
    Theorem 4's sqrt(y^T (H^inf)^-1 y)).

    The eigenvalues of M fix its condition number kappa; a backward-stable solve then has relative
    error at most about n eps kappa.  When that is below 1e-8 the value comes from a Cholesky
    solve, otherwise from the eigendecomposition sum_k (u_k^T y)^2 / lambda_k.  A matrix with an
    eigenvalue below the rounding tolerance n eps ||M||_2 is reported as indefinite (clearly
    negative) or numerically singular, with a ``ValueError``.

    ``y`` of shape (n,) gives one :class:`QuadraticForm`; of shape (n, k), a list of k, one per
    column, from one factorisation of M (several label vectors on the same inputs cost one)."""
    S = check_symmetric(M, name=name).to(torch.float64)
    Y, vector = _labels(y, S.shape[0], S.device)
    forms = _forms(S, Y, name)
    return forms[0] if vector else forms


def nested_quadratic_forms(M, y, sizes, *, name: str = "M") -> list:
    """:func:`inverse_quadratic_form` of the leading (k, k) block of ``M`` and the first k entries
    of ``y`` for each k of ``sizes``: the quantity of Theorem 3 on nested samples.  It is
    nondecreasing in k (by the Schur complement), and stays bounded exactly when y is the sample of a
    function of finite norm in M's reproducing-kernel space.

    ``y`` of shape (n,) gives a list over ``sizes``; of shape (n, c), c such lists (one per column),
    with one factorisation per size for all columns."""
    M = check_symmetric(M, name=name)
    n = M.shape[0]
    Y, vector = _labels(y, n, M.device)
    if isinstance(sizes, int):
        sizes = [sizes]
    per_size = []
    for k in sizes:
        k = check_int(k, name="sizes", minimum=1)
        if k > n:
            raise ValueError(f"sizes must not exceed n = {n}, got {k}")
        S = check_symmetric(M[:k, :k], name=f"{name}[:{k}, :{k}]").to(torch.float64)
        per_size.append(_forms(S, Y[:k], f"{name}[:{k}, :{k}]"))
    columns = [[forms[j] for forms in per_size] for j in range(Y.shape[1])]
    return columns[0] if vector else columns


def dominance_constant(A, B) -> float:
    """The largest xi with A - xi B >= 0 (PSD), for positive definite A and symmetric B.

    xi* = 1 / lambda_max(L^-1 B L^-T) with A = L L^T (a generalised eigenvalue); B may be singular,
    as K_p of Proposition 2.4 is once n > binom(d+p-1, p).  ``inf`` when B <= 0."""
    A = check_symmetric(A, name="A").to(torch.float64)
    B = check_symmetric(B, name="B").to(device=A.device, dtype=torch.float64)
    if A.shape != B.shape:
        raise ValueError(f"A and B must have the same shape, got {tuple(A.shape)} and {tuple(B.shape)}")
    return float(dominance_constants(A, [B])[0])


def _factor(A: torch.Tensor, name: str) -> torch.Tensor:
    """The Cholesky factor of a positive definite A, or a ValueError naming it."""
    chol, info = torch.linalg.cholesky_ex(A)
    lam_min = float(torch.linalg.eigvalsh(A)[0])
    if int(info) != 0 or lam_min <= psd_tolerance(A):
        raise ValueError(f"{name} must be positive definite (smallest eigenvalue {lam_min:.3g}, "
                         f"rounding tolerance {psd_tolerance(A):.3g})")
    return chol


def dominance_constants(A, Bs, *, name: str = "A") -> torch.Tensor:
    """:func:`dominance_constant` of ``A`` against each matrix of ``Bs`` (a sequence, or a tensor
    of shape (k, n, n)), factoring A once: a float64 tensor of shape (k,) on the CPU."""
    A = check_symmetric(A, name=name).to(torch.float64)
    chol = _factor(A, name)
    out = []
    for k, B in enumerate(Bs):
        B = check_symmetric(B, name=f"Bs[{k}]").to(device=A.device, dtype=torch.float64)
        if B.shape != A.shape:
            raise ValueError(f"{name} and Bs[{k}] must have the same shape, got {tuple(A.shape)} and "
                             f"{tuple(B.shape)}")
        C = torch.linalg.solve_triangular(chol, B, upper=False)
        C = torch.linalg.solve_triangular(chol, C.T, upper=False)
        top = float(torch.linalg.eigvalsh((C + C.T) / 2)[-1])
        out.append(math.inf if top <= 0 else 1.0 / top)
    return torch.tensor(out, dtype=torch.float64)


