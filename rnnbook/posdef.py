"""Positive-definite functions and matrices (Section 2.3 of the paper, Propositions 2.1-2.4).

A kernel here is a callable ``k(X, Y) -> (n, m)`` matrix on rows of X (n, d) and Y (m, d).  The
PSD test is numerical, so it carries its tolerance: a symmetric eigensolver returns eigenvalues
with absolute error at most about n * eps * ||M||_2 (backward stability, Golub & Van Loan 8.1), so
``min eig >= -n eps ||M||_2`` is the statement "PSD up to rounding".
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch

from . import linalg
from .checks import as_tensor, check_int, check_real
from .linalg import dominance_constant, inverse_quadratic_form
from .series import PowerSeries

__all__ = ["Kernel", "gram", "linear_kernel", "gaussian_kernel", "dot_product_kernel",
           "product_kernel", "sphere", "min_eigenvalues", "monomial_kernel", "monomial_targets",
           "symmetric_power_dim", "Prop24Trial", "prop24_trial"]

Kernel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# ----------------------------------------------------------------------------------------------
# Matrices.


# ----------------------------------------------------------------------------------------------
# Kernels.


def _points(X, name: str) -> torch.Tensor:
    X = as_tensor(X, name=name, dtype=None)
    if X.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d), got {tuple(X.shape)}")
    return X


def gram(kernel: Kernel, X, Y=None) -> torch.Tensor:
    """The matrix k(x_i, y_j); Y defaults to X (then the Gram matrix of Proposition 2.1)."""
    if not callable(kernel):
        raise TypeError("kernel must be callable")
    X = _points(X, "X")
    Y = X if Y is None else _points(Y, "Y").to(X.device, X.dtype)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"X and Y must have the same dimension, got {X.shape[1]} and {Y.shape[1]}")
    return kernel(X, Y)


def linear_kernel() -> Kernel:
    """<x, y>."""
    return lambda X, Y: X @ Y.T


def gaussian_kernel(bandwidth: float = 1.0) -> Kernel:
    """exp(-||x - y||^2 / (2 bandwidth^2))."""
    h = check_real(bandwidth, name="bandwidth", positive=True)
    return lambda X, Y: torch.exp(-torch.cdist(X, Y).square() / (2 * h * h))


def dot_product_kernel(psi: PowerSeries | Callable) -> Kernel:
    """psi(<x, y>): by Proposition 2.3 positive definite when every coefficient of psi is >= 0 (and
    <x, y> stays inside psi's radius of convergence)."""
    if not callable(psi):
        raise TypeError("psi must be a PowerSeries or a callable")
    radius = getattr(psi, "radius", float("inf"))

    def k(X, Y):
        G = X @ Y.T
        if G.abs().max() >= radius:
            raise ValueError(f"|<x, y>| reaches the radius of convergence {radius} of {psi}")
        return psi(G)

    return k


def product_kernel(k1: Kernel, k2: Kernel) -> Kernel:
    """k1 * k2 pointwise (Proposition 2.2: the Schur product of PD kernels is PD)."""
    return lambda X, Y: k1(X, Y) * k2(X, Y)


def sphere(n: int, d: int, *, generator: torch.Generator, dtype=torch.float64) -> torch.Tensor:
    """n points uniform on the unit sphere of R^d (normalised Gaussians), on the generator's device."""
    n = check_int(n, name="n", minimum=1)
    d = check_int(d, name="d", minimum=1)
    g = torch.randn(n, d, generator=generator, dtype=dtype, device=generator.device)
    return g / g.norm(dim=1, keepdim=True)


def min_eigenvalues(kernel: Kernel, *, n: int, d: int, trials: int,
                    generator: torch.Generator) -> list[linalg.PSDCheck]:
    """PSD checks of the Gram matrices of ``kernel`` on ``trials`` random point sets (n points on
    the unit sphere of R^d each): Proposition 2.1 says a PD kernel passes every one."""
    trials = check_int(trials, name="trials", minimum=1)
    return [linalg.psd_check(gram(kernel, sphere(n, d, generator=generator)), name="Gram matrix")
            for _ in range(trials)]


# ----------------------------------------------------------------------------------------------
# Proposition 2.4.


def monomial_kernel(X, p: int) -> torch.Tensor:
    """K_p = (X X^T)^{o p}: entries (x_i^T x_j)^p (Proposition 2.4, eq. 31)."""
    X = _points(X, "X")
    p = check_int(p, name="p", minimum=0)
    return (X @ X.T) ** p


def monomial_targets(X, beta, p: int) -> torch.Tensor:
    """y = ((beta^T x_1)^p, ..., (beta^T x_n)^p) of Proposition 2.4."""
    X = _points(X, "X")
    beta = as_tensor(beta, name="beta", dtype=X.dtype, device=X.device)
    if beta.ndim != 1 or beta.shape[0] != X.shape[1]:
        raise ValueError(f"beta must have shape ({X.shape[1]},), got {tuple(beta.shape)}")
    p = check_int(p, name="p", minimum=0)
    return (X @ beta) ** p


def symmetric_power_dim(d: int, p: int) -> int:
    """binom(d + p - 1, p): the dimension of the symmetric tensors Sym^p(R^d), spanned by the
    x^(x)p.  K_p = (x_i^T x_j)^p of Proposition 2.4 is the Gram matrix of the x_i^(x)p, so its rank
    is at most this, with equality for n at least this many points in general position; from
    there on the bound of Proposition 2.4 is attained (up to a ridge)."""
    d = check_int(d, name="d", minimum=1)
    p = check_int(p, name="p", minimum=0)
    return math.comb(d + p - 1, p)


@dataclasses.dataclass(frozen=True)
class Prop24Trial:
    """One instance of Proposition 2.4: M = alpha^2 K_p + ridge * I."""

    n: int
    p: int
    alpha: float          # the alpha M was built with
    alpha_max: float      # the largest alpha with M >= alpha^2 K_p (generalised eigenvalue)
    lhs: float            # sqrt(y^T M^-1 y)
    bound: float          # ||beta||^p / alpha
    bound_best: float     # ||beta||^p / alpha_max
    condition: float      # condition number of M
    relative_error_bound: float  # n eps condition: the solve's first-order relative error bound

    @property
    def ratio(self) -> float:
        """lhs / bound: Proposition 2.4 says <= 1."""
        return self.lhs / self.bound

    @property
    def ratio_best(self) -> float:
        return self.lhs / self.bound_best


def prop24_trial(*, n: int, d: int, p: int, alpha: float, ridge: float,
                 generator: torch.Generator) -> Prop24Trial:
    """Draw x_i on the unit sphere of R^d and beta with ||beta|| <= 1, build M = alpha^2 K_p +
    ridge * I (so M >= alpha^2 K_p), and evaluate both sides of Proposition 2.4.

    ``ridge > 0`` keeps M invertible when n exceeds dim Sym^p(R^d) = binom(d+p-1, p), the rank of
    K_p."""

    alpha = check_real(alpha, name="alpha", positive=True)
    ridge = check_real(ridge, name="ridge", positive=True)
    X = sphere(n, d, generator=generator)
    beta = sphere(1, d, generator=generator)[0]
    beta = beta * torch.rand((), generator=generator, dtype=beta.dtype, device=beta.device)
    K = monomial_kernel(X, p)
    M = alpha**2 * K + ridge * torch.eye(n, dtype=K.dtype, device=K.device)
    y = monomial_targets(X, beta, p)
    q = inverse_quadratic_form(M, y)
    alpha_max = float(dominance_constant(M, K)) ** 0.5
    bnorm = float(beta.norm()) ** p
    return Prop24Trial(n=n, p=p, alpha=alpha, alpha_max=alpha_max, lhs=q.value**0.5,
                       bound=bnorm / alpha, bound_best=bnorm / alpha_max, condition=q.condition,
                       relative_error_bound=q.relative_error_bound)

