"""Quadratic forms y^T M^-1 y and PSD-dominance constants (Proposition 2.4, Theorem 4).

Both are computed in float64 and report how well conditioned the problem was; an indefinite or
numerically singular matrix is an error, never a silently wrong number.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import NamedTuple

import torch

from . import linalg
from .checks import as_tensor, check_int, check_positions, check_real, check_sequences
from .kernels import _backward_products_, forward_correlation, forward_diagonal, ntk, sigma
from .linalg import check_symmetric, psd_tolerance
from .series import largest_multinomial

__all__ = ["BackwardDominance", "backward_dominance", "sigma_and_backward", "backward_dominance_of",
           "pair_bootstrap", "bootstrap_exponent", "position_kernel", "kernel_dominance",
           "WindowDominance", "window_constants", "window_dominance", "ntk_layer_dominance",
           "claimed_xi32", "claimed_xi33", "claimed_xi35", "Eq18Correction", "min_eq18_correction",
           "extrapolated_log_width", "BoundConstants", "generalization_bound", "samples_needed",
           "remark31_steps"]


class BackwardDominance(NamedTuple):
    """Inequality (29) on one sample, per layer l = 1..L (each a float64 tensor of shape (L,))."""

    xi: torch.Tensor        # largest xi with F^l - xi Sigma(rho^l) >= 0 on this sample
    rayleigh: torch.Tensor  # mean_{i != j} F^l_ij / mean_{i != j} Sigma(rho^l_ij)
    naive: torch.Tensor     # 2^-(L - l + 1), what Sigma >= J/2 gives


def backward_dominance(X, *, init="paper") -> BackwardDominance:
    """The best constant of inequality (29), F^l >= K Sigma(rho^l), for the sample X (n, L, d).

    ``xi[l-1]`` is the generalised eigenvalue of :func:`rnnbook.linalg.dominance_constant` with F^l from
    :func:`rnnbook.kernels.backward_kernel` and Sigma(rho^l) of eq. (28): the paper's K, read as
    F^l - K Sigma >= 0 (see the errata on its direction).  It can only shrink as points are added,
    so the bound the paper needs -- one constant for every n -- is at most its large-n limit, and
    that limit is at most ``rayleigh``: the Rayleigh quotient with equal weights 1/n, whose diagonal
    terms vanish as n grows (an estimate of the population ratio E F^l(x, y) / E Sigma(x, y) from
    the off-diagonal pairs).  ``naive`` is the lower bound 2^-(L-l+1) from Sigma(rho) >= 1/2
    entrywise as PSD matrices (Sigma = J/2 + arcsin(rho)/pi, arcsin's series has positive
    coefficients) and the Schur product theorem -- Remark 4.2's "naive estimation"."""
    X = check_sequences(X)
    flat = X.reshape(X.shape[0], -1)
    if torch.unique(flat, dim=0).shape[0] < flat.shape[0]:
        raise ValueError("X holds two equal sequences: F^l is then singular and (29)'s constant "
                         "undefined; drop the duplicates")
    return backward_dominance_of(*sigma_and_backward(X, init=init), what="X")


def sigma_and_backward(X, *, init="paper") -> tuple[torch.Tensor, torch.Tensor]:
    """Sigma(rho^l) of eq. (28) and the backward kernel F^l of Theorem 6, l = 1..L, for the sample
    X (n, L, d) from one forward recursion: ``(S, F)``, each float64 of shape (L, n, n) on X's
    device (F as :func:`rnnbook.kernels.backward_kernel` computes it).  For callers that need both
    the kernels and :func:`backward_dominance_of` without computing the recursion twice."""
    S = sigma(forward_correlation(X, init=init))
    return S, _backward_products_(S.clone())


def backward_dominance_of(S, F, *, what: str = "S") -> BackwardDominance:
    """:func:`backward_dominance` from Sigma(rho^l) and F^l already computed (e.g. by
    :func:`sigma_and_backward`), each of shape (L, n, n) with n >= 2."""
    S = as_tensor(S, name="S")
    F = as_tensor(F, name="F").to(device=S.device)
    if S.dim() != 3 or S.shape[1] != S.shape[2] or F.shape != S.shape:
        raise ValueError(f"S and F must both have shape (L, n, n), got {tuple(S.shape)} and {tuple(F.shape)}")
    L, n, _ = F.shape
    if n < 2:
        raise ValueError(f"{what} must hold at least 2 sequences, got n = {n}")
    xi = torch.tensor([linalg.dominance_constant(F[l], S[l]) for l in range(L)], dtype=torch.float64)
    off = ~torch.eye(n, dtype=torch.bool, device=F.device)
    rayleigh = (F[:, off].mean(dim=1) / S[:, off].mean(dim=1)).cpu()
    naive = 2.0 ** -(L - torch.arange(L, dtype=torch.float64))
    return BackwardDominance(xi, rayleigh, naive)


def pair_bootstrap(values, *, statistic: str = "mean", n_boot: int = 2000, seed: int = 0,
                   counts=None) -> torch.Tensor:
    """Bootstrap replicates of a statistic over the pairs i < j of a sample of n independent inputs.

    ``values``: symmetric pair quantities, shape (n, n) or (k, n, n) (e.g. F^l_ij, l = 1..L); the
    diagonal is not used.  The n inputs are resampled with replacement -- ``counts`` (shape
    (n_boot, n)) says how often each input is drawn, by default n_boot multinomial draws of n from
    ``seed`` -- and the statistic is recomputed over the pairs of distinct resampled inputs: pair
    (i, j) enters with weight c_i c_j, and an input paired with a copy of itself is left out, as the
    diagonal is.  This resamples what is independent (the inputs), not the dependent pairs.
    ``statistic``: ``"mean"`` (the weighted mean) or ``"median"`` (the weighted lower median: the
    smallest value whose cumulative weight reaches half; with unit counts, what ``torch.median``
    returns).  Equal seeds give equal resamples, so the bootstrap of a ratio of two means (the
    Rayleigh column of :func:`backward_dominance`) is the ratio of two calls.

    Returns float64 of shape (n_boot, k), or (n_boot,) for an (n, n) input, on the CPU."""
    V = as_tensor(values, name="values").to(device="cpu")
    single = V.dim() == 2
    if single:
        V = V[None]
    if V.dim() != 3 or V.shape[1] != V.shape[2]:
        raise ValueError(f"values must have shape (n, n) or (k, n, n), got {tuple(V.shape)}")
    n = V.shape[1]
    if n < 2:
        raise ValueError(f"values must cover at least 2 inputs, got n = {n}")
    if statistic not in ("mean", "median"):
        raise ValueError(f"statistic must be 'mean' or 'median', got {statistic!r}")
    if counts is None:
        n_boot = check_int(n_boot, name="n_boot", minimum=1)
        seed = check_int(seed, name="seed", minimum=0)
        g = torch.Generator().manual_seed(seed)
        draws = torch.randint(0, n, (n_boot, n), generator=g)
        ones = torch.ones((n_boot, n), dtype=torch.float64)
        C = torch.zeros((n_boot, n), dtype=torch.float64).scatter_add_(1, draws, ones)
    else:
        C = as_tensor(counts, name="counts").to(device="cpu")
        if C.dim() != 2 or C.shape[1] != n:
            raise ValueError(f"counts must have shape (n_boot, {n}), got {tuple(C.shape)}")
        if bool((C < 0).any()) or not bool((C == C.round()).all()):
            raise ValueError("counts must be non-negative integers")
    iu = torch.triu_indices(n, n, 1)
    P = V[:, iu[0], iu[1]]                    # (k, pairs)
    W = C[:, iu[0]] * C[:, iu[1]]             # (n_boot, pairs)
    total = W.sum(dim=1)
    if bool((total == 0).any()):
        raise ValueError("a resample holds fewer than 2 distinct inputs: no pair to compute the statistic on")
    if statistic == "mean":
        out = (W @ P.T) / total[:, None]
    else:
        out = torch.empty((C.shape[0], P.shape[0]), dtype=torch.float64)
        for k in range(P.shape[0]):
            order = torch.argsort(P[k])
            cum = W[:, order].cumsum(dim=1)
            first = (cum < total[:, None] / 2).sum(dim=1)  # first index whose cumulative weight reaches half
            out[:, k] = P[k, order][first]
    return out[:, 0] if single else out


def bootstrap_exponent(x, point, replicates, *, level: float = 0.99) -> tuple[float, float, float]:
    """The log-log slope of ``point`` (shape (len(x),)) against ``x`` with the central ``level``
    percentile interval of the slopes of the bootstrap ``replicates`` (shape (len(x), n_boot): column
    b is replicate b at every x, e.g. from :func:`pair_bootstrap` of independent samples, one per
    x).  Returns ``(slope, low, high)``."""
    x = as_tensor(x, name="x").cpu()
    y = as_tensor(point, name="point").cpu()
    R = as_tensor(replicates, name="replicates").cpu()
    if x.dim() != 1 or x.numel() < 2 or y.shape != x.shape:
        raise ValueError(f"x and point must be 1-D of equal length >= 2, got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    if R.dim() != 2 or R.shape[0] != x.numel() or R.shape[1] < 10:
        raise ValueError(f"replicates must have shape ({x.numel()}, n_boot) with n_boot >= 10, got "
                         f"{tuple(R.shape)}")
    level = check_real(level, name="level")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if bool((x <= 0).any()) or bool((y <= 0).any()) or bool((R <= 0).any()):
        raise ValueError("x, point and replicates must be positive for a log-log fit")
    lx = torch.log(x) - torch.log(x).mean()
    slope = float((lx * torch.log(y)).sum() / lx.square().sum())
    slopes = (lx[:, None] * torch.log(R)).sum(dim=0) / lx.square().sum()
    q = torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)
    lo, hi = torch.quantile(slopes, q).tolist()
    return slope, lo, hi


# ----------------------------------------------------------------------------------------------
# Theorem 4's sketch: kernels of the inputs that H^inf must dominate, eqs. (30)-(36).

_SCALES = ("product", "max")


def position_kernel(X, positions, p: int, *, scale: str = "product") -> torch.Tensor:
    """The (n, n) matrix of normalised p-th powers of inner products of the inputs at ``positions``
    (1-based) that Theorem 4's sketch needs H^inf to dominate.  With Z_i = [X_{i,r_1}, ..., X_{i,r_N}]:

    * ``scale="product"``: (Z_i^T Z_j / (||Z_i|| ||Z_j||))^p -- eq. (33) for one position
      ((X_l^T X_l)^{o p} of eqs. (30)-(31) over the norms), eq. (36) for the window
      positions l-a..l (without its extra 2^(-a p), a constant factor);
    * ``scale="max"``: (Z_i^T Z_j / (N max_n ||X_{i,r_n}|| max_n ||X_{j,r_n}||))^p -- eq. (35).

    Entries lie in [-1, 1]; p = 0 gives the all-ones matrix.  A zero input is a ``ValueError``."""
    X = check_sequences(X, name="X").to(torch.float64)
    n, L, _ = X.shape
    pos = check_positions(positions, L=L)
    p = check_int(p, name="p", minimum=0)
    if scale not in _SCALES:
        raise ValueError(f"scale must be one of {_SCALES}, got {scale!r}")
    Z = X[:, [r - 1 for r in pos], :]  # (n, N, d)
    norms = torch.linalg.vector_norm(Z, dim=-1)
    if bool((norms == 0).any()):
        raise ValueError("X has a zero vector at one of the positions: the normalisation is undefined")
    Z = Z.reshape(n, -1)
    if scale == "product":
        u = Z / torch.linalg.vector_norm(Z, dim=-1, keepdim=True)
        G = u @ u.T
    else:
        m = norms.amax(dim=1)
        G = (Z @ Z.T) / (len(pos) * m[:, None] * m[None, :])
    G = (G + G.T) / 2
    return G.pow(p)


def kernel_dominance(H, X, positions, powers, *, scale: str = "product") -> torch.Tensor:
    """xi_p = the largest xi with H - xi K_p >= 0 for each p of ``powers``, K_p the
    :func:`position_kernel` of the same positions: the constants of eqs. (30), (33), (35), (36) on
    the sample X.  Each xi_p can only shrink as points are added (a principal submatrix of a PSD
    matrix is PSD), so the paper's sample-free constant is at most the value on any sample.
    Shape (len(powers),), float64."""
    Xt = check_sequences(X, name="X")
    H = check_symmetric(H, name="H")
    if H.shape[0] != Xt.shape[0]:
        raise ValueError(f"H must be (n, n) with n = {Xt.shape[0]} sequences of X, got {tuple(H.shape)}")
    if isinstance(powers, int):
        powers = [powers]
    return linalg.dominance_constants(H, [position_kernel(Xt, positions, p, scale=scale).to(H.device)
                                   for p in powers], name="H")


class WindowDominance(NamedTuple):
    """The best constants of eq. (36) on a sample, with and without its factor 2^(-a k)
    (see :func:`window_constants`); each float64 of shape (len(powers),)."""

    xi: torch.Tensor      # eq. (36): H - xi_k (Z_i^T Z_j / (||Z_i|| ||Z_j|| 2^a))^k >= 0
    window: torch.Tensor  # the window kernel's own: H - w_k (Z_i^T Z_j / (||Z_i|| ||Z_j||))^k >= 0


def window_constants(H, X, l: int, a: int, powers) -> WindowDominance:
    """The best constants of eq. (36) on the sample X: for each k of ``powers`` the largest xi_k with
    H - xi_k (Z_i^T Z_j / (||Z_i|| ||Z_j|| 2^a))^k >= 0, Z_i = [X_{i,l}, X_{i,l-1}, ..., X_{i,l-a}]
    (1-based l, window of a + 1 positions, 0 <= a < l).  We read the printed "2a" as 2^a, the factor
    2^(l0) of eq. (12) (a text extraction drops superscripts).  The 2^(-a k) inside the k-th power is
    a constant factor: with w_k, the constant of the window kernel without it (:func:`kernel_dominance`
    of the window's positions), xi_k = 2^(a k) w_k exactly (a power of two).  Returns both, so that
    what the proof's 2^(-a) costs (the factor 2^(a k)) is not undone outside this function."""
    Xt = check_sequences(X, name="X")
    L = Xt.shape[1]
    l = check_int(l, name="l", minimum=1)
    a = check_int(a, name="a", minimum=0)
    if l > L:
        raise ValueError(f"l must lie in 1..L = 1..{L}, got {l}")
    if a >= l:
        raise ValueError(f"a must satisfy 0 <= a < l = {l} (the window l-a..l), got {a}")
    if isinstance(powers, int):
        powers = [powers]
    powers = [check_int(p, name="powers", minimum=0) for p in powers]
    window = kernel_dominance(H, Xt, list(range(l - a, l + 1)), powers)
    return WindowDominance(window * torch.tensor([2.0 ** (a * p) for p in powers], dtype=torch.float64),
                           window)


def window_dominance(H, X, l: int, a: int, powers) -> torch.Tensor:
    """The best constants xi_k of eq. (36) on the sample X (the ``xi`` of :func:`window_constants`,
    which also gives the window kernel's own constants).  Shape (len(powers),), float64."""
    return window_constants(H, X, l, a, powers).xi


def ntk_layer_dominance(X, *, init="paper", H=None) -> torch.Tensor:
    """The best constants of eq. (32): for each l = 1..L the largest xi_l with
    H^inf - xi_l Q_l o Sigma(rho^l) >= 0, where Q_l = sqrt(S^l_ii S^l_jj) and
    Q_l Sigma(rho^l) is eq. (32)'s Q_l Sigma({a <X_{i,l}, X_{j,l}> + K^{l-1}_ij} / Q_l).  The paper
    claims xi_l >= 1/O(L^4).  ``H`` (the NTK of X under ``init``) is computed when not given.
    Shape (L,), float64."""
    Xt = check_sequences(X, name="X")
    if H is None:
        H = ntk(Xt, init=init)
    H = check_symmetric(H, name="H")
    if H.shape[0] != Xt.shape[0]:
        raise ValueError(f"H must be (n, n) with n = {Xt.shape[0]} sequences of X, got {tuple(H.shape)}")
    S = sigma(forward_correlation(Xt, init=init)).to(H.device)
    root = forward_diagonal(Xt, init=init)[1:].sqrt().to(H.device)  # sqrt(S^l_ii), l = 1..L
    S.mul_(root[:, :, None]).mul_(root[:, None, :])
    return linalg.dominance_constants(H, S, name="H")


_LOG10_TINY = math.log10(sys.float_info.min)
_LOG10_HUGE = math.log10(sys.float_info.max)


def claimed_xi32(L: int) -> float:
    """The constant eq. (32) claims, H^inf >= xi Q_l o Sigma(rho^l) with xi = 1/O(L^4), with the
    O(.) constant set to 1: L^-4."""
    L = check_int(L, name="L", minimum=1)
    return float(L) ** -4.0


def claimed_xi33(L: int, k: int) -> float:
    """The constant eqs. (33) and (36) claim for the k-th power, Omega(1/L^7) (1/O(L))^k / k^2, with
    every O(.) and Omega(.) constant set to 1: L^-(7 + k) / k^2 (k >= 1; the 1/k^2 is undefined at
    k = 0)."""
    L = check_int(L, name="L", minimum=1)
    k = check_int(k, name="k", minimum=1)
    _check_range(-(7.0 + k) * math.log10(L) - 2 * math.log10(k), f"claimed_xi33(L={L}, k={k})")
    return float(L) ** -(7.0 + k) / k**2


def claimed_xi35(L: int, N: int, p: int, *, C1: float = 100.0) -> float:
    """The constant eq. (35) claims for the p-th power of the N-position kernel,
    1 / (C1^N L^4 L^(2N) C_{N,p} (p/N)^N) with every O(.) set to 1; ``C1`` defaults to 100, the
    infimum of the paper's C1 > 100, and C_{N,p} is :func:`rnnbook.series.largest_multinomial`."""
    L = check_int(L, name="L", minimum=1)
    N = check_int(N, name="N", minimum=1)
    p = check_int(p, name="p", minimum=1)
    C1 = check_real(C1, name="C1", positive=True)
    log10 = -(N * math.log10(C1) + (4 + 2 * N) * math.log10(L)
              + math.log10(largest_multinomial(p, N)) + N * math.log10(p / N))
    _check_range(log10, f"claimed_xi35(L={L}, N={N}, p={p})")
    try:
        return 1 / (C1**N * L ** (4 + 2 * N) * largest_multinomial(p, N) * (p / N) ** N)
    except OverflowError:  # a factor alone overflows though the product fits
        return 10.0**log10


def _check_range(log10: float, what: str) -> None:
    """A ValueError when 10^log10 is outside float64's normal range: a claimed constant or a count
    is never 0 or inf, so returning one would be a wrong number."""
    if not _LOG10_TINY <= log10 <= _LOG10_HUGE:
        raise ValueError(f"{what} = 10^{log10:.6g} is outside float64's normal range "
                         f"(10^{_LOG10_TINY:.0f} to 10^{_LOG10_HUGE:.0f})")


class Eq18Correction(NamedTuple):
    """The smallest correction of condition (18), see :func:`min_eq18_correction`."""

    norm: float        # min ||eps||_F over eps with H + eps^T eps >= H_inf
    rank: int          # number of eigenvalues of H_inf - H above the rounding tolerance
    eps: torch.Tensor  # a minimiser, shape (rank, n): eps^T eps = the positive part of H_inf - H
    tolerance: float   # eigenvalues of H_inf - H at most this are taken as 0 (rounding)


def min_eq18_correction(H, H_inf, *, name: str = "H") -> Eq18Correction:
    """The smallest ||eps||_F for which H + eps^T eps >= H_inf (PSD order): condition (18) of
    Theorem 3 asks for one with ||eps||_F <= 0.01 / O(C*), H the finite-width kernel at
    initialisation and H_inf the matrix of Theorem 4.

    With D = H_inf - H = sum_k lambda_k u_k u_k^T, the answer is sqrt(sum of the positive
    lambda_k), attained by eps = diag(sqrt(lambda_+)) U_+^T (then eps^T eps = D_+ >= D).  No eps
    does better: P = eps^T eps is PSD with P >= D, so with U_+ the positive eigenvectors of D,
    ||eps||_F^2 = tr P >= tr(U_+^T P U_+) >= tr(U_+^T D U_+) = sum lambda_+.  Eigenvalues within
    the rounding tolerance t = n eps_mach ||D||_2 of 0 count as 0 (they are not resolved); every
    computed eigenvalue is within t of the exact one, so the squared norm is exact up to n t and
    the norm up to sqrt(n t).  float64."""
    A = check_symmetric(H, name=name).to(torch.float64)
    B = check_symmetric(H_inf, name="H_inf").to(device=A.device, dtype=torch.float64)
    if A.shape != B.shape:
        raise ValueError(f"{name} and H_inf must have the same shape, got {tuple(A.shape)} and "
                         f"{tuple(B.shape)}")
    D = B - A
    lam, U = torch.linalg.eigh(D)
    tol = psd_tolerance(D)
    pos = lam > tol
    lam_pos, U_pos = lam[pos], U[:, pos]
    eps = lam_pos.sqrt()[:, None] * U_pos.T
    return Eq18Correction(float(lam_pos.sum().sqrt()), int(pos.sum()), eps, tol)


def extrapolated_log_width(log10_m: float, log10_value: float, log10_limit: float,
                           slope: float) -> float:
    """log10 of the width at which a quantity measured as 10^log10_value at width 10^log10_m, and
    falling like m^slope from there, reaches 10^log10_limit: log10_m + (log10_value - log10_limit)
    / -slope (a power law extrapolated in log-log coordinates; below log10_m when the value is
    already under the limit).  ``math.inf`` when slope >= 0: a quantity that does not fall never
    reaches a lower limit.  Used for condition (18): the width m at which the smallest ||eps||_F
    meets 0.01 / C*."""
    for name, v in (("log10_m", log10_m), ("log10_value", log10_value), ("log10_limit", log10_limit),
                    ("slope", slope)):
        check_real(v, name=name)
    if slope >= 0:
        return math.inf
    return log10_m + (log10_value - log10_limit) / -slope


# ----------------------------------------------------------------------------------------------
# The generalisation bound (17) and Remark 3.1, with the constants hidden in O~ as parameters.


@dataclasses.dataclass(frozen=True)
class BoundConstants:
    """The constants eq. (17) hides: bound = ``main`` C*^2 log(n)^``log_power`` / n
    + ``confidence`` log(1/delta) / n.  The paper gives none of them; the defaults (1, 0, 1) are the
    most favourable reading of its O~ and O."""

    main: float = 1.0
    log_power: float = 0.0
    confidence: float = 1.0

    def __post_init__(self):
        check_real(self.main, name="main", positive=True)
        check_real(self.log_power, name="log_power", nonnegative=True)
        check_real(self.confidence, name="confidence", nonnegative=True)


def _check_delta(delta) -> float:
    delta = check_real(delta, name="delta", positive=True)
    if delta > math.exp(-1):
        raise ValueError(f"delta must lie in (0, 1/e] (Theorem 2), got {delta}")
    return delta


def generalization_bound(c_star, n, delta, *, constants: BoundConstants = BoundConstants()) -> float:
    """The right-hand side of eq. (17), a bound on (1/n) sum_k L^{0-1}_D(W_k):
    main C*^2 log(n)^log_power / n + confidence log(1/delta) / n (see :class:`BoundConstants`).
    ``c_star`` is C(F*) of eq. (10)/(12) -- or, for Theorem 3's eq. (19), sqrt(y~^T (H^inf)^-1 y~).
    Values above 1 are returned as they are: a 0-1 error bound above 1 says nothing."""
    c_star = check_real(c_star, name="c_star", positive=True)
    n = check_real(n, name="n", positive=True)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    delta = _check_delta(delta)
    if not isinstance(constants, BoundConstants):
        raise TypeError(f"constants must be a BoundConstants, got {type(constants).__name__}")
    try:
        value = (constants.main * c_star**2 * math.log(n) ** constants.log_power
                 + constants.confidence * math.log(1 / delta)) / n
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise ValueError(f"generalization_bound overflows float64 for c_star = {c_star:.3g}, n = {n:.3g} "
                         f"(C*^2 alone is {c_star:.3g}^2)")
    return value


def samples_needed(eps, c_star, delta, *, constants: BoundConstants = BoundConstants()) -> int:
    """The smallest n with :func:`generalization_bound` <= ``eps`` (Remark 3.1's question: how many
    SGD steps, one fresh sample each, reach population 0-1 error eps).  With log_power > 0 the bound
    is decreasing only for n > e^log_power; the search starts there."""
    eps = check_real(eps, name="eps", positive=True)
    if eps >= 1:
        raise ValueError(f"eps must lie in (0, 1), got {eps}")

    def ok(n: int) -> bool:
        return generalization_bound(c_star, n, delta, constants=constants) <= eps

    lo = max(1, math.ceil(math.exp(constants.log_power)))
    if ok(lo):
        return lo
    hi = 2 * lo
    while not ok(hi):
        hi *= 2
        if hi > 2**200:
            raise ValueError(f"samples_needed: eps = {eps:.3g} needs n > 2^200 samples for "
                             f"c_star = {c_star}")
    while hi - lo > 1:  # ok(hi), not ok(lo)
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def remark31_steps(eps, c_star, L) -> float:
    """Remark 3.1's sample count (L C*)^2 / eps, read with every constant 1.  Eq. (17) itself gives
    C*^2 / eps (:func:`samples_needed`): the remark carries an extra L^2."""
    eps = check_real(eps, name="eps", positive=True)
    c_star = check_real(c_star, name="c_star", positive=True)
    L = check_int(L, name="L", minimum=1)
    log10 = 2 * math.log10(L * c_star) - math.log10(eps)
    _check_range(log10, f"remark31_steps(eps={eps:.3g}, c_star={c_star:.3g}, L={L})")
    try:
        value = (L * c_star) ** 2 / eps
    except OverflowError:  # (L C*)^2 alone overflows though the quotient fits
        value = math.inf
    return value if math.isfinite(value) else 10.0**log10
