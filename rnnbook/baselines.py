"""Kernel baselines for Algorithm 1: what the network trains towards at infinite width.

:func:`ntk_diagonal` (the NTK's scale, which fixes the step size in function space),
:func:`kernel_sgd` (Algorithm 1 on the linearised network, with a kernel for the gradients' inner
products) and :func:`ntk_predictor` (kernel regression with the NTK of Theorem 6).

Layer 8 of the package: it imports :mod:`rnnbook.kernels`, :mod:`rnnbook.data` and the layers
below them.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from .checks import as_tensor, check_int, check_real, check_sequences
from .data import _check_labels, sample_sequences
from .kernels import ntk
from .linalg import guarded_eigh

__all__ = ["ntk_diagonal", "kernel_sgd", "NTKPrediction", "ntk_predictor"]


def ntk_diagonal(L: int, d: int, *, init: str) -> float:
    """Hbar = H(x, x) of :func:`rnnbook.kernels.ntk` for a unit-norm sequence (the same for all of
    them): sum_l F^l_ii K^{l-1}_ii = L/2 + a L (L - 1)/4, a = 1/L^3 (Section 3) or 1 (Algorithm 1).
    One step of Algorithm 1 moves f(x_t) by about eta l' Hbar, so eta = s / Hbar fixes the step in
    function space (s) across lengths and initialisations."""
    L = check_int(L, name="L", minimum=1)
    d = check_int(d, name="d", minimum=1)
    X = sample_sequences(1, L, d, c_min=1.0, c_max=1.0, seed=0, device="cpu")
    return float(ntk(X, init=init)[0, 0])


def kernel_sgd(H_stream, H_test, y, eta: float, f0_stream, f0_test) -> tuple[torch.Tensor, torch.Tensor]:
    """Algorithm 1 for the linearised network f(x) = f_0(x) + <grad f_0(x), W - W_0> with the
    gradients' inner products replaced by a kernel H: online logistic SGD in function space,

        f_t(x) = f_0(x) + sum_{s<t} a_s H(x, x_s),   a_t = -eta l'(y_t f_t(x_t)) y_t,

    with ``H_stream`` (n, n) = H(x_s, x_t) over the stream (repeats allowed), ``H_test`` (k, n),
    labels ``y`` (n,) and the initial outputs ``f0_stream`` (n,), ``f0_test`` (k,).  Returns the
    coefficients a (n,) and the test outputs f_n (k,); the linearised network moved W by
    ||W_n - W_0||_F = sqrt(a^T H a) (H the empirical NTK; with the infinite-width one, its limit)."""
    eta = check_real(eta, name="eta", positive=True)
    H_stream = as_tensor(H_stream, name="H_stream", dtype=torch.float64, device="cpu")
    if H_stream.ndim != 2 or H_stream.shape[0] != H_stream.shape[1]:
        raise ValueError(f"H_stream must be a square (n, n) matrix, got shape {tuple(H_stream.shape)}")
    n = H_stream.shape[0]
    y = _check_labels(as_tensor(y, name="y", dtype=torch.float64, device="cpu"), (n,), device="cpu")
    f0_stream = as_tensor(f0_stream, name="f0_stream", dtype=torch.float64, device="cpu")
    H_test = as_tensor(H_test, name="H_test", dtype=torch.float64, device="cpu")
    f0_test = as_tensor(f0_test, name="f0_test", dtype=torch.float64, device="cpu")
    if f0_stream.shape != (n,):
        raise ValueError(f"f0_stream must have shape ({n},), got {tuple(f0_stream.shape)}")
    if H_test.ndim != 2 or H_test.shape[1] != n or f0_test.shape != (H_test.shape[0],):
        raise ValueError(f"H_test must be (k, {n}) and f0_test (k,), got {tuple(H_test.shape)} and "
                         f"{tuple(f0_test.shape)}")
    a = torch.zeros(n, dtype=torch.float64)
    for t in range(n):
        z = y[t] * (f0_stream[t] + H_stream[t, :t] @ a[:t])
        a[t] = eta * y[t] * torch.sigmoid(-z)
    return a, f0_test + H_test @ a


@dataclasses.dataclass(frozen=True)
class NTKPrediction:
    """Kernel regression with the infinite-width NTK: predictions f(x) = H(x, X)(H(X, X) + ridge I)^-1 y.

    ``rkhs_norm`` is the RKHS norm of the fitted function, sqrt(alpha^T H alpha) with
    alpha = (H + ridge I)^-1 y: sqrt(y^T H^-1 y) (Theorem 4's quantity) when ridge = 0.
    ``condition`` is the condition number of H + ridge I, ``min_eigenvalue`` H's smallest
    eigenvalue; ``test_error`` the 0-1 error when test labels were given."""

    predictions: torch.Tensor
    alpha: torch.Tensor
    condition: float
    min_eigenvalue: float
    rkhs_norm: float
    ridge: float
    test_error: float | None = None


def ntk_predictor(X_train, y_train, X_test, *, init: str = "algorithm1", ridge: float = 0.0,
                  y_test=None) -> NTKPrediction:
    """The NTK baseline: kernel regression f(x) = H(x, X)(H(X, X) + ridge I)^-1 y with H from
    :func:`rnnbook.kernels.ntk` (one call on the train and test inputs together), in float64 on
    X_train's device.  ``y_train`` may be labels or real targets (e.g. F*(x)).

    Solved through the eigendecomposition of H (symmetric PSD).  If H + ridge I has an eigenvalue
    within the rounding tolerance n eps ||H||_2 of 0 (e.g. duplicate training inputs with
    ridge = 0) the solution is not determined and this is a ``ValueError`` saying to pass a
    ridge.  ``y_test``: labels in {-1, +1} to report the 0-1 error of sign(f)."""
    Xtr = check_sequences(X_train, name="X_train", dtype=torch.float64)
    n, L, d = Xtr.shape
    Xte = check_sequences(X_test, name="X_test", L=L, d=d, dtype=torch.float64, device=Xtr.device)
    y = as_tensor(y_train, name="y_train", dtype=torch.float64, device=Xtr.device)
    if tuple(y.shape) != (n,):
        raise ValueError(f"y_train must have shape ({n},), got {tuple(y.shape)}")
    ridge = check_real(ridge, name="ridge", nonnegative=True)
    Hall = ntk(torch.cat([Xtr, Xte]), init=init)
    H, Hx = Hall[:n, :n], Hall[n:, :n]
    eig = guarded_eigh(H, name="H(X_train, X_train)", ridge=ridge)
    lam, U, lam_r = eig.values, eig.vectors, eig.shifted
    lmin, lmax = float(lam[0]), float(lam[-1])
    coef = (U.T @ y) / lam_r
    alpha = U @ coef
    pred = Hx @ alpha
    rkhs = math.sqrt(max(0.0, float((coef.square() * lam).sum())))
    err = None
    if y_test is not None:
        yt = _check_labels(y_test, (Xte.shape[0],), name="y_test", device=Xtr.device)
        err = float(((yt * pred) < 0).to(torch.float64).mean())
    return NTKPrediction(pred, alpha, (lmax + ridge) / (lmin + ridge), lmin, rkhs, ridge, err)
