r"""Infinite-width kernels of the RNN of eq. (14): the forward kernel :math:`K^l` of Theorem 5,
the backward kernel :math:`F^l` of Theorem 6 and the neural tangent kernel :math:`H` of eq. (23).

With :math:`a` half of A's variance times m (``"paper"``: :math:`1/L^3`, ``"algorithm1"``: 1) and
:math:`\kappa(\rho) = (\sqrt{1-\rho^2} + (\pi - \arccos\rho)\,\rho)/\pi`, eq. (25) reads

.. math::

    K^0 = \mathbf 1 \mathbf 1^\top, \qquad
    S^l_{ij} = K^{l-1}_{ij} + a\,\langle X_{i,l}, X_{j,l}\rangle, \qquad
    Q^l_{ij} = \sqrt{S^l_{ii} S^l_{jj}}, \qquad
    K^l_{ij} = Q^l_{ij}\,\kappa\big(S^l_{ij} / Q^l_{ij}\big),

because :math:`E[2\,\mathrm{relu}(u)\,\mathrm{relu}(v)] = \kappa(\rho)` for standard Gaussians of
correlation :math:`\rho`, and :math:`\kappa(\rho) = \sum_r \mu_r^2 \rho^r` with the Hermite
coefficients :math:`\mu_r` of Theorem 5.  Every input starts from the same :math:`h_0`, hence
:math:`K^0`; the diagonal is :math:`K^l_{ii} = 1 + a \sum_{k \le l} \|X_{i,k}\|^2`, the square of
the paper's :math:`Q_l`.

Backward (Theorem 6): with :math:`\Sigma(\rho) = \tfrac12 + \arcsin(\rho)/\pi` (eq. 28), the
backward vectors :math:`\delta_L = D_L B`, :math:`\delta_l = D_l W^\top \delta_{l+1}` have
:math:`\langle \delta_l(x_i), \delta_l(x_j)\rangle \to F^l_{ij}` with

.. math::

    F^l_{ij} = \tfrac12 \prod_{k=l}^{L} \Sigma(\rho^k_{ij})

(:math:`B \sim N(0, 1/m)`: the last factor is the probability that both units are active; each
step back through :math:`W^\top`, of variance :math:`2/m`, multiplies by
:math:`2 P(\text{both active}) = \Sigma(\rho^k)`).  The NTK with respect to W is then
:math:`H = \sum_l F^l \circ K^{l-1}` (eq. 23 with :math:`h_{l-1}`: the gradient of f in W is
:math:`\sum_l \delta_l h_{l-1}^\top`).

Every pair (i, j) evolves independently given the diagonal, so the recursion runs over blocks of
rows (bounded memory) and, by symmetry, only over the upper triangle.

Conventions of the literature (``h0=``, ``output=``, :mod:`rnnbook.model`).  Only :math:`K^0`
depends on the initial state: :math:`\mathbf 1 \mathbf 1^\top` for the paper's shared
:math:`h_0 = \mathrm{relu}(M_0)`, 0 for :math:`h_0 = 0`, the identity I for an initial state drawn
independently for each input.  Under ``"zero"`` a sequence whose first steps are all zero has
:math:`h_l = 0` exactly until its first non-zero step: its pre-activation is 0, the unit is never
active, so its correlations are undefined and enter as :math:`\rho = -1`, the value with
:math:`\kappa(-1) = \Sigma(-1) = 0` (no forward kernel, no backward signal).  A bias
``bias=beta`` (:func:`rnnbook.model.check_bias`) adds :math:`\beta` to every :math:`S^l_{ij}`
(and to the cross-time ones: b is the same at every step) -- exactly what one more input coordinate
equal to :math:`\sqrt{\beta/a}` at every step would add, which is how it is computed.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import mpmath
import torch

from .checks import as_tensor, check_int, check_ints, check_real
from .device import check_memory
from .model import check_bias, check_h0, check_inputs, check_output, check_wrt, get_init

__all__ = ["kappa", "hermite_coefficients", "series_tail", "kappa_series", "series_terms_needed",
           "forward_kernel", "forward_correlation", "forward_diagonal", "sigma", "backward_kernel",
           "ntk", "cross_forward_kernel", "output_ntk", "output_ntk_matrix",
           "cross_output_correlation", "SeriesKernel", "forward_kernel_series", "normalized",
           "degeneracy_asymptote", "backward_asymptote"]

# |rho| may exceed 1 by rounding (S_ij / sqrt(S_ii S_jj) with i ~ j); anything further out is a bug
# or bad input and is reported rather than clipped.
_RHO_SLACK = 1e-12
# Rows per block of the pair recursion: about 2^19 pairs (4 MB) per block, measured fastest at
# n = 4096 on 2 cores.  A GPU wants few large kernels instead: 2^26 pairs (512 MB per temporary);
# the CPU block size made forward_kernel 3-8x slower than the full-matrix recursion on an H200.
_BLOCK_PAIRS = {"cpu": 1 << 19, "cuda": 1 << 26}
_FLOAT64_MAX = torch.finfo(torch.float64).max


def _clip_rho(rho: torch.Tensor, what: str) -> torch.Tensor:
    worst = float(rho.abs().max()) if rho.numel() else 0.0
    if not worst <= 1 + _RHO_SLACK:  # also catches NaN
        raise ValueError(f"{what} has a correlation of magnitude {worst!r} > 1: not a valid kernel")
    return rho.clamp_(-1.0, 1.0)


def _kappa_(rho: torch.Tensor) -> torch.Tensor:
    """kappa(rho) for rho already in [-1, 1], overwriting a temporary copy."""
    theta = torch.arccos(rho)
    root = torch.sqrt(torch.clamp_min_(1.0 - rho * rho, 0.0))
    return (root + (math.pi - theta) * rho) / math.pi


def kappa(rho) -> torch.Tensor:
    r"""The normalised ReLU kernel of eq. (25),
    :math:`\kappa(\rho) = (\sqrt{1-\rho^2} + (\pi - \arccos\rho)\,\rho)/\pi = \sum_r \mu_r^2 \rho^r
    = E[2\,\mathrm{relu}(u)\,\mathrm{relu}(v)]`, for correlations :math:`\rho \in [-1, 1]`
    (values outside by more than 1e-12 are a ``ValueError``; rounding excursions are clipped)."""
    rho = as_tensor(rho, name="rho").clone()
    return _kappa_(_clip_rho(rho, "rho"))


# --------------------------------------------------------------------------- Hermite coefficients


def _mu_closed(R: int) -> list[float]:
    """mu_0..mu_R in closed form.  Stein's identity E[f(x) He_r(x)] = E[f^(r)(x)] with
    f = sqrt(2) relu, f'' = sqrt(2) delta_0 gives mu_r = sqrt(2/pi) He_{r-2}(0) / (sqrt 2 sqrt(r!))
    for r >= 2, i.e. zero for odd r >= 3 and mu_r^2 = ((r-3)!!)^2 / (pi r!) for even r."""
    mu = [1.0 / math.sqrt(math.pi), 1.0 / math.sqrt(2.0)][: R + 1]
    # For even r >= 4 the ratio mu_r / mu_{r-2} = -(r-3) / sqrt(r (r-1)) avoids huge factorials.
    prev = None
    for r in range(2, R + 1):
        if r % 2:
            mu.append(0.0)
            continue
        prev = 1.0 / math.sqrt(2.0 * math.pi) if r == 2 else -prev * (r - 3) / math.sqrt(r * (r - 1))
        mu.append(prev)
    return mu


def _hermite_he(r: int, x, ctx):
    """Probabilists' Hermite polynomial He_r(x) by its three-term recurrence, in ``ctx``."""
    h0, h1 = ctx.mpf(1), x
    if r == 0:
        return h0
    for k in range(1, r):
        h0, h1 = h1, x * h1 - k * h0
    return h1


def _mu_quadrature(R: int) -> list[float]:
    """mu_r = (1/sqrt(2 pi)) int_0^inf sqrt(2) x h_r(x) exp(-x^2/2) dx, h_r = He_r / sqrt(r!)
    (Theorem 5), by adaptive quadrature in 40-digit arithmetic."""
    ctx = mpmath.MPContext()
    ctx.dps = 40
    out = []
    for r in range(R + 1):
        norm = ctx.sqrt(2) / (ctx.sqrt(2 * ctx.pi) * ctx.sqrt(ctx.factorial(r)))
        # Split where He_r oscillates (its zeros lie below 2 sqrt(r) + 1) so each piece is smooth.
        edge = 2 * math.sqrt(r) + 2
        knots = [ctx.mpf(edge) * k / (r + 1) for k in range(r + 2)] + [ctx.inf]
        val = ctx.quad(lambda x, r=r: x * _hermite_he(r, x, ctx) * ctx.exp(-x * x / 2), knots)
        out.append(float(norm * val))
    return out


def hermite_coefficients(R, *, method: str = "closed") -> torch.Tensor:
    """mu_0..mu_R of Theorem 5, so that kappa(rho) = sum_r mu_r^2 rho^r.

    ``method="closed"`` uses mu_0^2 = 1/pi, mu_1^2 = 1/2 and, for even r >= 2,
    mu_r^2 = ((r-3)!!)^2 / (pi r!) (odd r >= 3 vanish); ``method="quadrature"`` evaluates the
    integral that defines mu_r in the theorem (slow: meant for r up to a few dozen)."""
    R = check_int(R, name="R", minimum=0)
    if method == "closed":
        vals = _mu_closed(R)
    elif method == "quadrature":
        if R > 200:
            raise ValueError(f"R = {R} is too large for quadrature (at most 200)")
        vals = _mu_quadrature(R)
    else:
        raise ValueError(f"method must be 'closed' or 'quadrature', got {method!r}")
    return torch.tensor(vals, dtype=torch.float64)


def series_tail(R) -> float:
    """t_R = sum_{r>R} mu_r^2 = 1 - sum_{r<=R} mu_r^2 (the mu_r^2 sum to kappa(1) = 1): the largest
    error of the R-term series of kappa on [-1, 1], attained at rho = 1.  It decays like R^(-3/2)."""
    R = check_int(R, name="R", minimum=0)
    mu2 = [m * m for m in _mu_closed(R)]
    # fsum keeps the partial sum exact to rounding so that the subtraction is the only error left.
    return max(1.0 - math.fsum(mu2), 0.0) + (R + 2) * 2.0**-53


def kappa_series(rho, R) -> tuple[torch.Tensor, torch.Tensor]:
    """sum_{r<=R} mu_r^2 rho^r (Horner) and a bound on its distance to kappa(rho):
    abs(kappa(rho) - series) <= t_R abs(rho)^(R+1) for abs(rho) <= 1 (:func:`series_tail`)."""
    rho = _clip_rho(as_tensor(rho, name="rho").clone(), "rho")
    R = check_int(R, name="R", minimum=0)
    mu = _mu_closed(R)
    acc = torch.full_like(rho, mu[R] * mu[R])
    for r in range(R - 1, -1, -1):
        acc = acc * rho + mu[r] * mu[r]
    return acc, series_tail(R) * rho.abs() ** (R + 1)


# Largest R series_terms_needed looks at: t_R carries a rounding allowance (R + 2) 2^-53 that grows
# with R, so at abs(rho) = 1 no R reaches a tolerance below about 2e-10.
_MAX_TERMS = 1 << 21


def series_terms_needed(rho, tol) -> int:
    """The smallest R >= 0 whose proved truncation bound t_R abs(rho)^(R+1) (:func:`kappa_series`,
    :func:`series_tail`) is at most ``tol``: how many terms of kappa's Hermite series (eq. 25)
    guarantee accuracy ``tol`` at the correlation ``rho`` in [-1, 1].

    The bound falls with R (t_R is a tail of non-negative terms; its rounding allowance grows by
    2^-53 per term, far below any tolerance this is meant for), so the search doubles R until the
    bound is met and bisects: O(R log R) work.  A ``tol`` no R up to 2^21 reaches is a
    ``ValueError``."""
    rho = check_real(rho, name="rho")
    if not abs(rho) <= 1 + _RHO_SLACK:
        raise ValueError(f"rho must lie in [-1, 1], got {rho!r}")
    tol = check_real(tol, name="tol", positive=True)
    r = min(abs(rho), 1.0)

    def bound(R: int) -> float:
        return series_tail(R) * r ** (R + 1)

    if bound(0) <= tol:
        return 0
    hi = 1
    while bound(hi) > tol:
        if hi >= _MAX_TERMS:
            raise ValueError(f"tol = {tol!r} is not reached at rho = {rho!r} by R <= {_MAX_TERMS}")
        hi *= 2
    lo = hi // 2  # bound(lo) > tol: lo = 0 was checked, larger lo failed the doubling loop
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if bound(mid) > tol else (lo, mid)
    return hi


# ------------------------------------------------------------------------------ forward kernel


def _prepare(X, init, h0="shared", bias=0.0):
    h0 = check_h0(h0)
    bias = check_bias(bias)
    X = check_inputs(X).to(torch.float64)
    n, L, _ = X.shape
    a = get_init(init).a(L)
    if bias > 0:  # the bias as one more input coordinate sqrt(beta / a): a <x, x'> gains beta
        X = torch.cat([X, X.new_full((n, L, 1), math.sqrt(bias / a))], dim=2)
    # S^l_ii = K^l_ii = K^0_ii + a sum_{k<=l} ||X_{i,k}||^2: closed form, l = 0..L (row 0 is K^0_ii,
    # 1 unless h_0 = 0).
    sq = torch.cat([torch.zeros(n, 1, dtype=X.dtype, device=X.device), (X * X).sum(-1)], dim=1)
    diag = (0.0 if h0 == "zero" else 1.0) + a * torch.cumsum(sq, dim=1)
    # Every kernel entry is at most max K^L_ii in magnitude (Cauchy-Schwarz) and H, a sum of L such
    # terms times F <= 1/2, at most L max K^L_ii: refuse inputs for which that could overflow rather
    # than return inf or NaN (whose error would otherwise read "a correlation of magnitude nan").
    top = float(diag[:, -1].max())
    if not top * (L + 1) <= _FLOAT64_MAX:
        raise ValueError(f"X is too large for float64: 1 + a sum_l ||X_(i,l)||^2 reaches {top:.3g} "
                         f"(largest |entry| {float(X.abs().max()):.3g}), and the kernels of L = {L} "
                         f"steps could overflow; rescale X")
    return X, a, diag.T.contiguous(), h0  # diag: (L+1, n)


def _reserve(X: torch.Tensor, what: str, matrices: float, block_rows=None) -> None:
    """Refuse (MemoryError) a kernel whose output holds ``matrices`` float64 (n, n) matrices when
    that and the recursion's work space (about 8 blocks of block_rows x n) cannot fit on X's device."""
    n = X.shape[0]
    rows = _block_rows(n, block_rows, X.device)
    check_memory(8.0 * n * (matrices * n + 8 * rows), device=X.device,
                 what=f"{what} of n = {n} sequences of length L = {X.shape[1]}")


def _check_layers(layers, L: int) -> list[int]:
    if layers is None:
        return list(range(L + 1))
    out = check_ints(layers, name="layers", minimum=0)
    bad = [k for k in out if k > L]
    if bad:
        raise ValueError(f"layers must lie in 0..L = 0..{L}, got {bad}")
    return out


def _block_rows(n: int, block_rows, device: torch.device) -> int:
    if block_rows is None:
        pairs = _BLOCK_PAIRS.get(device.type, _BLOCK_PAIRS["cpu"])
        return max(1, min(n, pairs // max(n, 1)))
    return check_int(block_rows, name="block_rows", minimum=1)


def _initial_block(h0: str, s: int, e: int, n: int, device) -> torch.Tensor:
    """K^0 on rows s..e and columns s..n: all ones (shared h_0), zeros (h_0 = 0) or the identity
    (independent h_0, so duplicated inputs are distinct at step 0)."""
    if h0 == "independent":
        return torch.eye(e - s, n - s, dtype=torch.float64, device=device)
    fill = torch.ones if h0 == "shared" else torch.zeros
    return fill((e - s, n - s), dtype=torch.float64, device=device)


def _state_ids(X: torch.Tensor, h0: str) -> torch.Tensor:
    """ids[l-1, i] == ids[l-1, j] exactly when h_l(x_i) = h_l(x_j) at every width, shape (L, n): a
    shared or zero h_0 makes that "the sequences agree on X_1..X_l"; independent initial states
    differ, so only i == j."""
    if h0 == "independent":
        n, L, _ = X.shape
        return torch.arange(n, device=X.device).expand(L, n)
    return _prefix_ids(X)


def _inverse_roots(diag: torch.Tensor):
    """sqrt(K^l_ii), 1 / sqrt(K^l_ii) with 0 for zero states (h_0 = 0 before a sequence's first
    non-zero step), and the mask of those states (None when there are none)."""
    root = diag.sqrt()
    dead = diag == 0
    if not bool(dead.any()):
        return root, 1.0 / root, None
    return root, torch.where(dead, 0.0, 1.0 / root.masked_fill(dead, 1.0)), dead


def _prefix_ids(X: torch.Tensor) -> torch.Tensor:
    """ids[l-1, i] == ids[l-1, j] exactly when sequences i and j agree on X_1..X_l: shape (L, n)."""
    n, L, _ = X.shape
    ids = torch.empty((L, n), dtype=torch.long, device=X.device)
    prev = torch.zeros(n, dtype=torch.long, device=X.device)
    for l in range(L):
        step = torch.unique(X[:, l], dim=0, return_inverse=True)[1]
        prev = torch.unique(torch.stack([prev, step], dim=1), dim=0, return_inverse=True)[1]
        ids[l] = prev
    return ids


#: Pairs whose computed correlation exceeds 1 - NEAR_ONE are recomputed by :func:`_near_pairs`: below
#: it, 1 - rho carries an absolute rounding error of about 1e-16, which Sigma's slope
#: (1 / (pi sqrt(2 (1 - rho)))) turns into at most 1e-13 on Sigma, F and H.
NEAR_ONE = 1e-6


def _recurse_blocks(X, a, diag, h0, block_rows, visit, near=None):
    """Run the pair recursion over row blocks of the upper triangle.  For each block of rows
    [s, e) against columns [s, n) and each layer l = 1..L, call visit(l, s, e, S, rho, K).
    ``near``: a list that receives the (rows, columns) of every pair i < j whose rho^l exceeds
    1 - NEAR_ONE at some layer without the two states being equal (:func:`_state_ids`)."""
    n, L, _ = X.shape
    root, inv_root, dead = _inverse_roots(diag)
    # Sequences that agree on X_1..X_l have rho^l = 1 exactly, but S_ij / sqrt(S_ii S_jj) rounds to
    # 1 - 1e-16, which Sigma's infinite slope at 1 turns into an error of sqrt(2e-16)/pi ~ 5e-9 on F
    # and H: duplicated inputs would look linearly independent.  So such pairs (the diagonal
    # among them) get rho = 1; other pairs near 1 are recomputed without cancellation (``near``).
    ids = _state_ids(X, h0)
    for s in range(0, n, block_rows):
        e = min(n, s + block_rows)
        K = _initial_block(h0, s, e, n, X.device)
        flag = None  # pairs of this block near 1 at some layer
        for l in range(1, L + 1):
            Xl = X[:, l - 1]
            S = torch.addmm(K, Xl[s:e], Xl[s:].T, alpha=a)
            rho = S * inv_root[l, s:e, None] * inv_root[l, None, s:]
            same = ids[l - 1, s:e, None] == ids[l - 1, None, s:]
            # One pass finds both an invalid correlation and a pair near 1 among the others (the
            # pairs with a shared prefix, set aside with 0, are exactly 1 below).
            lo, hi = (float(v) for v in torch.aminmax(rho.masked_fill_(same, 0.0)))
            if not (lo >= -1 - _RHO_SLACK and hi <= 1 + _RHO_SLACK):  # also catches NaN
                worst = max(-lo, hi) if lo == lo and hi == hi else math.nan
                raise ValueError(f"rho^{l} has a correlation of magnitude {worst!r} > 1: not a valid kernel")
            if near is not None and hi > 1.0 - NEAR_ONE:  # rare: truly nearby inputs
                flag = (rho > 1.0 - NEAR_ONE) if flag is None else flag.logical_or_(rho > 1.0 - NEAR_ONE)
            rho.clamp_(-1.0, 1.0).masked_fill_(same, 1.0)
            if dead is not None:
                rho.masked_fill_(dead[l, s:e, None] | dead[l, None, s:], -1.0)
            K = _kappa_(rho).mul_(root[l, s:e, None]).mul_(root[l, None, s:])
            visit(l, s, e, S, rho, K)
        if flag is not None:
            i, j = flag.nonzero(as_tuple=True)
            keep = i + s < j + s  # the upper triangle: (j, i) is filled by symmetry
            near.append((i[keep] + s, j[keep] + s))


def _near_chunks(near, chunk: int = 1 << 18):
    """The distinct pairs (i, j) collected by :func:`_recurse_blocks`, in chunks of at most
    ``chunk`` pairs (so the per-layer arrays of :func:`_near_pairs` stay small)."""
    if not near:
        return
    pairs = torch.cat([torch.stack(p) for p in near], dim=1)  # blocks are disjoint: no repeats
    for k in range(0, pairs.shape[1], chunk):
        yield pairs[0, k:k + chunk], pairs[1, k:k + chunk]


def _near_pairs(X, a, diag, h0, i, j):
    """Sigma(rho^l) and K^l, l = 1..L, of the pairs (i[p], j[p]) (from :func:`_near_chunks`),
    computed without cancellation: ``(sigma, K)``, each of shape (L, P).

    Along the recursion it carries E^l_ij = K^l_ii + K^l_jj - 2 K^l_ij, the squared distance of the
    two hidden states, which needs no subtraction of nearly equal numbers:
    D^l = S^l_ii + S^l_jj - 2 S^l_ij = E^{l-1} + a ||X_{i,l} - X_{j,l}||^2 (E^0 = 0),
    1 - rho^l = (D^l - (r_i - r_j)^2) / (2 r_i r_j) with r = sqrt(S^l_ii), theta = arccos rho
    = 2 arcsin sqrt((1 - rho)/2), and
    E^l = (r_i - r_j)^2 + 2 r_i r_j (1 - kappa(rho)), pi (1 - kappa) = pi (1 - rho) - (sin theta -
    theta cos theta).  So Sigma = 1 - theta/pi has the relative accuracy of 1 - rho, not an
    absolute error of sqrt(eps).  E^0 = 2 for independent initial states (K^0 = I, i != j); a
    zero state (r = 0) enters as rho = -1, as in :func:`_recurse_blocks`."""
    L = X.shape[1]
    root = diag.sqrt()
    E = torch.full((i.shape[0],), 2.0 if h0 == "independent" else 0.0, dtype=X.dtype, device=X.device)
    sig = torch.empty((L, i.shape[0]), dtype=X.dtype, device=X.device)
    K = torch.empty_like(sig)
    for l in range(1, L + 1):
        D = E + a * (X[i, l - 1] - X[j, l - 1]).square().sum(-1)
        ri, rj = root[l, i], root[l, j]
        gap = (ri - rj).square()
        prod = 2 * ri * rj
        # 1 - rho; a zero state (prod = 0) enters as rho = -1
        u = torch.where(prod > 0, (D - gap) / prod.masked_fill(prod == 0, 1.0), 2.0).clamp_(0.0, 2.0)
        theta = 2 * torch.asin(torch.sqrt(u / 2))
        sin_t, cos_t = torch.sqrt(u * (2 - u)), 1 - u
        one_minus_kappa = (math.pi * u - (sin_t - theta * cos_t)) / math.pi
        sig[l - 1] = 1 - theta / math.pi
        K[l - 1] = ri * rj * (1 - one_minus_kappa)
        E = gap + 2 * ri * rj * one_minus_kappa
    return sig, K


def _store(out, idx, s, e, block):
    """Write the block (rows s..e, columns s..n) and its mirror image.  The square on the diagonal
    keeps its upper triangle only, so the result is exactly symmetric even where rounding made the
    block's two halves differ; the rest is written once and mirrored once."""
    w = e - s
    square = block[:, :w]
    out[idx, s:e, s:e] = torch.triu(square) + torch.triu(square, 1).T
    if e < out.shape[-1]:
        rest = block[:, w:]
        out[idx, s:e, e:] = rest
        out[idx, e:, s:e] = rest.T


def forward_kernel(X, *, init="paper", h0="shared", bias=0.0, layers=None, block_rows=None) -> torch.Tensor:
    r"""The forward kernel of Theorem 5 (eq. 25) in closed form: :math:`K^0, \dots, K^L`, shape
    (L+1, n, n), float64 on X's device.  :math:`K^l_{ij}` is the infinite-width limit of
    :math:`\langle h_l(x_i), h_l(x_j)\rangle`.

    ``X``: (n, L, d) sequences; ``init``: ``"paper"`` (a = 1/L^3) or ``"algorithm1"`` (a = 1);
    ``h0``: the initial state, ``"shared"`` (the paper's, K^0 = 1 1^T), ``"zero"`` (K^0 = 0) or
    ``"independent"`` (K^0 = I; :data:`rnnbook.model.H0_CONVENTIONS`); ``bias``: the bias
    variance beta (0: none, the paper; it adds beta to every S^l_ij);
    ``layers``: only these l (e.g. ``[L]``) to save memory, in the given order; ``block_rows``:
    rows per block of the pair recursion (memory is O(block_rows x n) beyond the output)."""
    X, a, diag, h0 = _prepare(X, init, h0, bias)
    n, L, _ = X.shape
    which = _check_layers(layers, L)
    _reserve(X, "forward_kernel", len(which), block_rows)
    out = torch.empty((len(which), n, n), dtype=torch.float64, device=X.device)
    slots = {}
    for idx, l in enumerate(which):
        slots.setdefault(l, []).append(idx)
    for idx in slots.get(0, []):
        out[idx] = _initial_block(h0, 0, n, n, X.device)

    def visit(l, s, e, S, rho, K):
        for idx in slots.get(l, []):
            _store(out, idx, s, e, K)

    if any(l > 0 for l in which):
        _recurse_blocks(X, a, diag, h0, _block_rows(n, block_rows, X.device), visit)
    return out


def forward_correlation(X, *, init="paper", h0="shared", bias=0.0, block_rows=None) -> torch.Tensor:
    """rho^1..rho^L, shape (L, n, n): the correlation S^l_ij / sqrt(S^l_ii S^l_jj) that enters the
    l-th ReLU (eq. 25's argument {a X_i^T X_j + K^{l-1}_ij} / Q_l).  Remark 4.2's degeneracy is
    rho^l -> 1.  For nearby inputs 1 - rho carries an absolute rounding error of about 1e-16 (the
    kernels that depend on 1 - rho near 0, F and H, recompute such pairs without it).  Under
    ``h0="zero"`` a pair with a zero state has no correlation and reads -1 (see the module)."""
    return _forward_correlation(X, init, h0, bias, block_rows, None)


def _forward_correlation(X, init, h0, bias, block_rows, near):
    X, a, diag, h0 = _prepare(X, init, h0, bias)
    n, L, _ = X.shape
    _reserve(X, "the forward correlations rho^1..rho^L", L, block_rows)
    out = torch.empty((L, n, n), dtype=torch.float64, device=X.device)

    def visit(l, s, e, S, rho, K):
        _store(out, l - 1, s, e, rho)

    _recurse_blocks(X, a, diag, h0, _block_rows(n, block_rows, X.device), visit, near)
    return out


def forward_diagonal(X, *, init="paper", h0="shared", bias=0.0) -> torch.Tensor:
    """K^l_ii = K^0_ii + a sum_{k<=l} ||X_{i,k}||^2 for l = 0..L, shape (L+1, n): the squared
    norms of h_l at infinite width (the paper's Q_l is the geometric mean of two of them);
    K^0_ii = 1, or 0 under ``h0="zero"``; a bias adds beta per step."""
    return _prepare(X, init, h0, bias)[2]


def sigma(rho) -> torch.Tensor:
    r""":math:`\Sigma(\rho) = \tfrac12 + \arcsin(\rho)/\pi` of eq. (28), for correlations in
    [-1, 1] (values outside by more than 1e-12 are a ``ValueError``).
    :math:`\Sigma(\rho) = 2 P(u > 0, v > 0)` for standard Gaussians of correlation :math:`\rho`:
    the factor one ReLU layer contributes to a backward correlation.  It is also
    :math:`\kappa'(\rho)`."""
    rho = as_tensor(rho, name="rho").clone()
    return _sigma_(_clip_rho(rho, "rho"))


def _sigma_(rho: torch.Tensor) -> torch.Tensor:
    # 1 - arccos(rho)/pi: same value as 1/2 + arcsin(rho)/pi, one transcendental call.
    return torch.arccos(rho).div_(-math.pi).add_(1.0)


def backward_kernel(X, *, init="paper", h0="shared", bias=0.0, block_rows=None) -> torch.Tensor:
    r"""The backward kernel of Theorem 6 in closed form: :math:`F^1, \dots, F^L`, shape (L, n, n),
    float64 on X's device, with :math:`F^l_{ij} = \tfrac12 \prod_{k=l}^{L} \Sigma(\rho^k_{ij})`
    (eq. 28 for :math:`\Sigma`).

    F^l_ij is the infinite-width limit of <delta_l(x_i), delta_l(x_j)> for the backward vectors
    delta_L = D_L B, delta_l = D_l W^T delta_{l+1} with B ~ N(0, 1/m) (Section 3) -- the paper's
    eq. (27) writes a further 1/m, which matches B ~ N(0, 1) instead.  The paper only bounds F^l
    from below (eq. 29); this is its exact value.  F^l_ii = 1/2 for every l and input, except under
    ``h0="zero"`` where a zero state h_k (k >= l) makes F^l_ii = 0 (``h0``: as in
    :func:`forward_kernel`; the backward recursion does not depend on it otherwise)."""
    near = []
    rho = _forward_correlation(X, init, h0, bias, block_rows, near)
    F = _sigma_(rho)  # in place over rho's storage: rho is not needed again
    prepared = _prepare(X, init, h0, bias) if near else None
    for i, j in _near_chunks(near):
        sig, _ = _near_pairs(*prepared, i, j)
        F[:, i, j] = sig
        F[:, j, i] = sig
    return _backward_products_(F)


def _backward_products_(F: torch.Tensor) -> torch.Tensor:
    """Turn Sigma(rho^1)..Sigma(rho^L), shape (L, n, n), into F^1..F^L in place (suffix products / 2)."""
    F[-1].mul_(0.5)
    for l in range(F.shape[0] - 2, -1, -1):
        F[l].mul_(F[l + 1])
    return F


def ntk(X, *, init="paper", h0="shared", bias=0.0, wrt="W", output="last", block_rows=None) -> torch.Tensor:
    r"""The neural tangent kernel of eq. (23) at infinite width, shape (n, n), float64 on X's
    device: the limit of <grad f(x_i), grad f(x_j)> with B ~ N(0, 1/m) (Section 3), the gradient
    taken with respect to the weights ``wrt`` as they are drawn (:func:`rnnbook.model.check_wrt`:
    ``"W"``, the paper's, ``"A"``, ``"B"``, ``"M0"``, a tuple of them, or ``"all"``); the NTK of
    several weights is the sum of theirs.  With the backward kernel F^l of Theorem 6:

    * W: :math:`H^W = \sum_{l=1}^{L} F^l \circ K^{l-1}` (eq. 23 writes h_l where the gradient
      sum_l delta_l h_{l-1}^T has h_{l-1});
    * A: :math:`H^A = \sum_l F^l \circ P^l`, :math:`P^l_{ij} = \langle X_{i,l}, X_{j,l}\rangle`
      (grad_A f = sum_l delta_l X_l^T; the cross terms l != l' vanish, eq. 26);
    * B: :math:`H^B = K^L` (grad_B f = h_L);
    * M0: :math:`H^{M_0} = F^1` (grad_{M0} f = D_0 W^T delta_1 with D_0 = 1{M0 > 0}: one more step
      back, through a pre-activation M0 that all inputs share, so of correlation 1 and factor
      Sigma(1) = 1);
    * b (with ``bias`` > 0): :math:`H^b = \sum_l F^l` (grad_b f = sum_l delta_l: A's term with
      :math:`P^l = 1`).

    Computed in the forward pass by Horner's rule, G_l = Sigma(rho^l) o (K^{l-1} + P^l + G_{l-1})
    (the terms of the weights asked for), H^W + H^A = G_L / 2, and the running product of the
    Sigma(rho^l) for F^1, so memory stays O(block_rows x n) beyond the output.

    ``h0``: the initial state as in :func:`forward_kernel` (only ``"shared"`` has an M0, so
    ``wrt="all"`` is W, A, B otherwise).  ``output="mean"``: the NTK of f = B^T (1/L) sum_l h_l,
    :math:`H = L^{-2} \sum_{l,l'} H^{(l,l')}` over the blocks of :func:`output_ntk` extended to
    A (:math:`P^{(k,k')}_{ij} = \langle X_{i,k}, X_{j,k'}\rangle` in place of
    :math:`K^{(k-1,k'-1)}`), B (:math:`K^{(l,l')}`) and M0 (:math:`\tfrac12 \prod_{k \le l}
    \Sigma(\rho^k)` for l = l' only: the chains to M0 of different outputs apply W^T a different
    number of times).  It runs along the lags of :func:`cross_forward_kernel` on full (n, n)
    matrices (``block_rows`` does not apply: a ``ValueError``), O(L^2 n^2) time and about ten
    (n, n) matrices of memory; pairs with a correlation within 1e-6 of 1 that do not share their
    states keep the absolute error of about 1e-8 that ``NEAR_ONE`` describes."""
    parts = check_wrt(wrt, h0, bias)
    output = check_output(output)
    X, a, diag, h0 = _prepare(X, init, h0, bias)
    n, L = X.shape[0], X.shape[1]
    Xt = _input_terms(X, parts, check_bias(bias) > 0)
    if output == "mean":
        if block_rows is not None:
            raise ValueError("block_rows applies to output='last' only: the mean output's NTK runs on "
                             "full matrices")
        _reserve(X, "ntk", 10)
        return _mean_output_ntk(X, Xt, a, diag, h0, parts)
    _reserve(X, "ntk", 1, block_rows)
    out = torch.empty((1, n, n), dtype=torch.float64, device=X.device)
    c_w = float("W" in parts)
    state = {}

    def visit(l, s, e, S, rho, K):
        sig = _sigma_(rho)  # rho is the recursion's temporary: overwrite it
        if "M0" in parts:
            state["P"] = sig.clone() if l == 1 else state["P"].mul_(sig)
        if c_w or Xt is not None:
            term = state["K"] if l > 1 else _initial_block(h0, s, e, n, X.device)  # K^{l-1}
            if Xt is None:
                term = term.mul(c_w)
            else:
                Xl = Xt[:, l - 1]
                term = torch.addmm(term, Xl[s:e], Xl[s:].T, beta=c_w)
            state["G"] = term.mul_(sig) if l == 1 else state["G"].add_(term).mul_(sig)
        state["K"] = K  # K^l, the next layer's K^{l-1}
        if l == L:
            _store(out, 0, s, e, _ntk_total(parts, state.get("G"), K, state.get("P")))

    near = []
    _recurse_blocks(X, a, diag, h0, _block_rows(n, block_rows, X.device), visit, near)
    k0 = 1.0 if h0 == "shared" else 0.0  # K^0_ij for i < j (the near pairs)
    for i, j in _near_chunks(near):  # the same rules on pairs recomputed without cancellation
        sig, K = _near_pairs(X, a, diag, h0, i, j)
        G = None
        for l in range(L):
            term = c_w * (K[l - 1] if l else torch.full_like(K[0], k0))
            if Xt is not None:
                term = term + (Xt[i, l] * Xt[j, l]).sum(-1)
            G = term * sig[l] if l == 0 else (G + term) * sig[l]
        out[0, i, j] = out[0, j, i] = _ntk_total(parts, G, K[L - 1], torch.prod(sig, dim=0))
    return out[0]


def _input_terms(X, parts, biased: bool):
    """The per-step vectors whose inner products are the input terms of the NTK's Horner sum,
    <X_{i,l}, X_{j,l}> for A plus 1 for b: the inputs (without the bias coordinate of the prepared
    X when ``biased``) and a coordinate 1; None when neither A nor b is asked for."""
    want_a, want_b = "A" in parts, "b" in parts
    if not (want_a or want_b):
        return None
    inputs = X[..., :-1] if biased else X
    if not want_b:
        return inputs
    one = X.new_ones((*X.shape[:2], 1))
    return torch.cat([inputs, one], dim=2) if want_a else one


def _mean_output_ntk(X, Xt, a, diag, h0, parts):
    """:func:`ntk` with ``output="mean"``: L^-2 sum_{l,l'} of the per-output blocks, one lag at a
    time (the blocks of lag s > 0 enter with their transposes, those of lag 0 symmetrised).
    ``Xt``: the input terms of :func:`_input_terms`."""
    n, L, _ = X.shape
    c_w = float("W" in parts)
    total = torch.zeros((n, n), dtype=torch.float64, device=X.device)
    lag = G = P = K_prev = None

    def flush(s):  # add the sum over k of the blocks of lag s
        if s == 0:
            total.add_(_symmetric_(lag))
        else:
            total.add_(lag + lag.T)  # one symmetric sum: adding lag, then lag.T, rounds asymmetrically

    for s, k, rho, K in _cross_lags(X, a, diag, h0):
        if k == 0:
            if lag is not None:
                flush(s - 1)
            lag, K_prev = torch.zeros_like(total), K
            continue
        sig = _sigma_(rho)
        if "M0" in parts and s == 0:  # output k's chain to M0: (1/2) prod_{t<=k} Sigma(rho^t)
            P = sig.clone() if k == 1 else P.mul_(sig)
            lag.add_(P, alpha=0.5)
        if c_w or Xt is not None:
            term = K_prev.mul(c_w)
            if Xt is not None:
                term.addmm_(Xt[:, k - 1], Xt[:, k + s - 1].T)
            G = term.mul_(sig) if k == 1 else G.add_(term).mul_(sig)
            lag.add_(G, alpha=0.5)
        if "B" in parts:
            lag.add_(K)
        K_prev = K
    flush(L)
    return total.div_(L * L)


def _ntk_total(parts, G, KL, P):
    """H from the Horner sum G (W and A), K^L (B) and the product of all Sigma(rho^l) (M0)."""
    total = G.mul_(0.5) if G is not None else torch.zeros_like(KL)
    if "B" in parts:
        total = total.add_(KL)
    if "M0" in parts:
        total = total.add_(P, alpha=0.5)
    return total


# ------------------------------------------------- cross-time kernels and the outputs f_l (Remark 3.2)


def _cross_lags(X, a, diag, h0):
    """The cross-time recursion along one lag s = k' - k = 0..L at a time.  Yields (s, k, rho, K) for
    k = 1..L-s, where rho and K are the (n, n) matrices rho^{(k,k+s)}_ij and K^{(k,k+s)}_ij of step
    k of x_i against step k + s of x_j (not symmetric when s > 0), after first yielding
    (s, 0, None, K^{(0,s)}).

    h_0 = relu(M0) with M0 ~ N(0, 2/m) is shared, so K^{(0,0)} = 1; M0 is independent of W and A,
    so the pre-activation W h_{k'-1} + A X_{k'} (k' >= 1) is uncorrelated with M0 in the limit and
    K^{(0,k')} = sqrt(S^{(0,0)} S^{(k',k')}) kappa(0) = sqrt(K^{k'}_jj) / pi (S^{(0,0)} = 1 is M0's
    variance in the units of eq. 25).  Under the other initial states (``h0``) K^{(0,k')} = 0 for
    k' >= 1: h_0 = 0, or h_0(x_i) centred and independent of everything h_k'(x_j) depends on
    except, for j = i, through O(1/sqrt m) terms; K^{(0,0)} = K^0 (0 or I)."""
    n, L, _ = X.shape
    root, inv_root, dead = _inverse_roots(diag)
    ids = _state_ids(X, h0)
    for s in range(L + 1):  # s = L: only K^{(0,L)}
        if s == 0:
            K = _initial_block(h0, 0, n, n, X.device)
        elif h0 == "shared":
            K = (root[s] / math.pi).expand(n, n).clone()
        else:
            K = torch.zeros((n, n), dtype=X.dtype, device=X.device)
        yield s, 0, None, K
        for k in range(1, L - s + 1):
            S = torch.addmm(K, X[:, k - 1], X[:, k + s - 1].T, alpha=a)
            rho = S * inv_root[k, :, None] * inv_root[k + s, None, :]
            _clip_rho(rho, f"rho^({k},{k + s})")
            if s == 0:  # equal states: exactly 1, as in the same-time recursion (_recurse_blocks)
                rho.masked_fill_(ids[k - 1, :, None] == ids[k - 1, None, :], 1.0)
            if dead is not None:
                rho.masked_fill_(dead[k, :, None] | dead[k + s, None, :], -1.0)
            K = _kappa_(rho).mul_(root[k, :, None]).mul_(root[k + s, None, :])
            yield s, k, rho, K


def _symmetric_(M: torch.Tensor) -> torch.Tensor:
    """Keep the upper triangle and mirror it (a same-time block is symmetric up to rounding)."""
    return torch.triu(M) + torch.triu(M, 1).T


def cross_forward_kernel(X, *, init="paper", h0="shared", bias=0.0) -> torch.Tensor:
    """The cross-time forward kernel K^{(k,k')}_ij = lim <h_k(x_i), h_k'(x_j)> for k, k' = 0..L,
    shape (L+1, L+1, n, n), float64 on X's device (entry [k, k', i, j]) -- derived in the book
    (Remark 3.2), not in the paper.

    Every W h_{k-1}(x_i) + A X_{i,k} and W h_{k'-1}(x_j) + A X_{j,k'} are jointly Gaussian in the
    limit with covariance (2/m) S^{(k,k')}_ij (W is the same matrix at every step), so eq. (25)
    extends off the diagonal k = k':

        S^{(k,k')}_ij = K^{(k-1,k'-1)}_ij + a <X_{i,k}, X_{j,k'}>,
        rho^{(k,k')}_ij = S^{(k,k')}_ij / sqrt(K^k_ii K^k'_jj),
        K^{(k,k')}_ij = sqrt(K^k_ii K^k'_jj) kappa(rho^{(k,k')}_ij),

    from K^{(0,0)} = 1 and K^{(0,k')}_ij = K^{(k',0)}_ji = sqrt(K^k'_jj) kappa(0) = sqrt(K^k'_jj)/pi
    for k' >= 1 (M0 is independent of W and A).  The blocks k = k' are :func:`forward_kernel`.
    ``h0`` and ``bias``: as in :func:`forward_kernel`; under ``"zero"`` and ``"independent"``
    K^{(0,k')} = 0 for k' >= 1.  Memory: the output, 8 (L+1)^2 n^2 bytes, plus O(n^2)."""
    X, a, diag, h0 = _prepare(X, init, h0, bias)
    n, L, _ = X.shape
    _reserve(X, "cross_forward_kernel", (L + 1) ** 2 + 4)
    out = torch.empty((L + 1, L + 1, n, n), dtype=torch.float64, device=X.device)
    for s, k, _rho, K in _cross_lags(X, a, diag, h0):
        if s == 0:
            out[k, k] = _symmetric_(K)
        else:
            out[k, k + s] = K
            out[k + s, k] = K.T
    return out


def output_ntk(X, *, init="paper", h0="shared", bias=0.0) -> torch.Tensor:
    """The neural tangent kernels of all outputs f_l = B^T h_l, l = 1..L, with respect to W, at
    infinite width: H^{(l,l')}_ij = lim <grad_W f_l(x_i), grad_W f_l'(x_j)>, shape (L, L, n, n),
    float64 on X's device (entry [l-1, l'-1, i, j]; H^{(l',l)} is H^{(l,l')} transposed).

    Remark 3.2 of the paper extends Theorem 2 to the sequence-labelling loss sum_l l(y_l f_l),
    whose NTK is the block matrix of these H^{(l,l')}; the remark says those of different l are
    almost "orthogonal".  With grad_W f_l = sum_{k<=l} delta^(l)_k h_{k-1}^T, delta^(l)_l = D_l B,
    delta^(l)_k = D_k W^T delta^(l)_{k+1} (eq. 22 for output l), and W^T independent of the forward
    W in the limit (gradient independence, Yang 2019), two backward chains keep a non-zero inner
    product only if they apply W^T equally often (l - k = l' - k' = j), and then, as in Theorem 6
    (eq. 28 for Sigma),

        <delta^(l)_{l-j}(x_i), delta^(l')_{l'-j}(x_j)> -> 1/2 prod_{t=0..j} Sigma(rho^{(l-t,l'-t)}_ij),
        H^{(l,l')} = sum_{j=0}^{min(l,l')-1} 1/2 prod_{t=0..j} Sigma(rho^{(l-t,l'-t)}) o K^{(l-j-1,l'-j-1)}

    with the cross-time kernels of :func:`cross_forward_kernel`.  Along each lag l' - l it runs
    by Horner's rule, G_k = Sigma(rho^{(k,k+s)}) o (K^{(k-1,k-1+s)} + G_{k-1}), H^{(k,k+s)} = G_k/2,
    so H^{(L,L)} is :func:`ntk`.  O(L^2 n^2) time; memory: the output, 8 L^2 n^2 bytes, plus
    O(n^2).  The diagonal blocks are exactly symmetric.  ``h0`` and ``bias``: as in
    :func:`cross_forward_kernel`."""
    X, a, diag, h0 = _prepare(X, init, h0, bias)
    n, L, _ = X.shape
    _reserve(X, "output_ntk", L * L + 6)
    out = torch.empty((L, L, n, n), dtype=torch.float64, device=X.device)
    G = K_prev = None
    for s, k, rho, K in _cross_lags(X, a, diag, h0):
        if k > 0:
            sig = _sigma_(rho)
            G = sig.mul_(K_prev) if k == 1 else G.add_(K_prev).mul_(sig)
            if s == 0:
                out[k - 1, k - 1] = _symmetric_(G) * 0.5
            else:
                out[k - 1, k + s - 1] = G * 0.5
                out[k + s - 1, k - 1] = out[k - 1, k + s - 1].T
        K_prev = K
    return out


def output_ntk_matrix(H) -> torch.Tensor:
    """The blocks H^{(l,l')}_ij of :func:`output_ntk` (shape (L, L, n, n)) as one (L n, L n) matrix
    with rows and columns ordered (l, i): the NTK of the sequence-labelling loss of Remark 3.2,
    sum_l l(y_l f_l), over the pairs (input, output).  :func:`normalized` of it gives the
    correlations H^{(l,l')}_ij / sqrt(H^{(l,l)}_ii H^{(l',l')}_jj)."""
    H = as_tensor(H, name="H", dtype=torch.float64)
    if H.dim() != 4 or H.shape[0] != H.shape[1] or H.shape[2] != H.shape[3]:
        raise ValueError(f"H must have shape (L, L, n, n), got {tuple(H.shape)}")
    L, _, n, _ = H.shape
    return H.permute(0, 2, 1, 3).reshape(L * n, L * n)


def cross_output_correlation(H) -> tuple[torch.Tensor, torch.Tensor]:
    """Remark 3.2's question in numbers: the normalised kernels of different outputs,
    C^{(l,l')}_ij = H^{(l,l')}_ij / sqrt(H^{(l,l)}_ii H^{(l',l')}_jj) (the correlation of
    grad_W f_l(x_i) and grad_W f_l'(x_j)), averaged by lag s = abs(l - l') = 1..L-1.

    ``H``: the (L, L, n, n) blocks of :func:`output_ntk` or of its finite-width counterpart.
    Returns ``(same, other)``, float64 of shape (L-1,) on H's device: ``same[s-1]`` the mean over l and i of
    C^{(l,l+s)}_ii (one input, two outputs), ``other[s-1]`` the mean over l and i != j of
    C^{(l,l+s)}_ij (two inputs; NaN when n = 1).  C^{(l+s,l)} is C^{(l,l+s)} transposed, so these
    are also the means over both orders.  L = 1 gives empty tensors."""
    M = output_ntk_matrix(H)
    L, n = H.shape[0], H.shape[2]
    if not bool((torch.diagonal(M) > 0).all()):
        raise ValueError("H has a non-positive diagonal entry H^{(l,l)}_ii: cannot normalise")
    C = normalized(M).reshape(L, n, L, n).permute(0, 2, 1, 3)
    off = ~torch.eye(n, dtype=torch.bool, device=C.device)
    same = torch.empty(max(L - 1, 0), dtype=torch.float64, device=C.device)
    other = torch.empty_like(same)
    for s in range(1, L):
        blocks = torch.stack([C[l, l + s] for l in range(L - s)])  # (L - s, n, n)
        same[s - 1] = torch.diagonal(blocks, dim1=1, dim2=2).mean()
        other[s - 1] = blocks[:, off].mean() if n > 1 else math.nan
    return same, other


class SeriesKernel(NamedTuple):
    """Eq. (25) with kappa's Hermite series cut after R terms, and a rigorous bound on the
    distance of each entry to the closed form (rounding aside)."""

    K: torch.Tensor      # (L+1, n, n)
    bound: torch.Tensor  # (L+1, n, n)
    R: int


def forward_kernel_series(X, *, init="paper", R=200) -> SeriesKernel:
    """K^0..K^L by eq. (25) exactly as the paper writes it: Q_l times the Hermite series
    sum_{r<=R} mu_r^2 (.)^r, with Q_l in closed form.

    The bound: kappa is 1-Lipschitz and the truncated series is off by at most t_R rho^(R+1), and
    the series' arguments stay in [-1, 1] (Cauchy-Schwarz), so e^l <= e^{l-1} +
    Q_l t_R abs(rho_hat^l)^(R+1) with e^0 = 0 -- errors add up over layers but do not grow."""
    X, a, diag, _ = _prepare(X, init)
    R = check_int(R, name="R", minimum=0)
    n, L, _ = X.shape
    _reserve(X, "forward_kernel_series", 2 * (L + 1) + 6)
    K = torch.ones((L + 1, n, n), dtype=torch.float64, device=X.device)
    bound = torch.zeros_like(K)
    for l in range(1, L + 1):
        Q = torch.sqrt(diag[l][:, None] * diag[l][None, :])
        Xl = X[:, l - 1]
        rho = (K[l - 1] + a * (Xl @ Xl.T)) / Q
        val, err = kappa_series(rho, R)
        K[l] = Q * val
        bound[l] = bound[l - 1] + Q * err
    return SeriesKernel(K, bound, R)


def normalized(K) -> torch.Tensor:
    """K_ij / sqrt(K_ii K_jj) for a kernel matrix or a stack of them (shape (..., n, n)): the
    correlations of the features, whose distance from the all-ones matrix says how well the kernel
    tells inputs apart.  A non-positive diagonal entry is a ``ValueError``."""
    K = as_tensor(K, name="K", dtype=torch.float64)
    if K.dim() < 2 or K.shape[-1] != K.shape[-2]:
        raise ValueError(f"K must be square in its last two dimensions, got {tuple(K.shape)}")
    d = torch.diagonal(K, dim1=-2, dim2=-1)
    if not bool((d > 0).all()):
        raise ValueError("K has a non-positive diagonal entry: cannot normalise")
    r = torch.sqrt(d)
    return K / r[..., :, None] / r[..., None, :]


# kappa(1 - eps) = 1 - eps + c eps^(3/2) + O(eps^2): the ReLU contracts nearby correlations.
_KAPPA_CUSP = 2 * math.sqrt(2) / (3 * math.pi)


def degeneracy_asymptote(l, *, case: str) -> torch.Tensor:
    """Leading large-l behaviour of 1 - rho^l (Remark 4.2) for a = 1 (``"algorithm1"``) and
    unit-norm inputs -- derived in the book, not in the paper.

    From kappa(1 - eps) = 1 - eps + c eps^(3/2) + ..., c = 2 sqrt(2) / (3 pi), and S^l_ii = 1 + l,
    eq. (25) gives exactly rho^{l+1} = ((l+1) kappa(rho^l) + X_{i,l+1}^T X_{j,l+1}) / (l+2), so
    eps_{l+1} = ((l+1)(1 - kappa(rho^l)) + 1 - X_{i,l+1}^T X_{j,l+1}) / (l+2):

    * ``case="first"`` (inputs differ only at position 1, equal after it):
      eps_{l+1} = (l+1)/(l+2) (eps_l - c eps_l^(3/2) + O(eps_l^2)), i.e. eps' = -eps/l - c eps^(3/2)
      to leading order, so eps ~ 1 / (c^2 l^2) = 9 pi^2 / (8 l^2);
    * ``case="fresh"`` (independent unit inputs at every position, E[1 - x^T y] = 1): each step
      injects about 1/l and the cusp removes c eps^(3/2), so eps ~ (c l)^(-2/3)."""
    lt = as_tensor(l, name="l")
    if not bool((lt > 0).all()):
        raise ValueError("l must be positive")
    if case == "first":
        return 1.0 / (_KAPPA_CUSP**2 * lt**2)
    if case == "fresh":
        return (_KAPPA_CUSP * lt) ** (-2.0 / 3.0)
    raise ValueError(f"case must be 'first' or 'fresh', got {case!r}")


def _paper_limit_integral() -> float:
    """int_0^1 sqrt(u(t)) dt for u' = 1 - c u^(3/2), u(0) = 0 (c the cusp constant), to ~1e-12."""
    from scipy.integrate import solve_ivp

    def rhs(t, y):
        u = max(y[0], 0.0)
        return [1.0 - _KAPPA_CUSP * u**1.5, math.sqrt(u)]

    sol = solve_ivp(rhs, (0.0, 1.0), [0.0, 0.0], rtol=1e-12, atol=1e-14)
    if not sol.success:  # pragma: no cover - a smooth two-dimensional ODE on [0, 1]
        raise RuntimeError(f"ODE solve failed: {sol.message}")
    return float(sol.y[1, -1])


def backward_asymptote(L, *, init: str) -> torch.Tensor:
    """Large-L behaviour of the first layer's normalised backward correlation 2 F^1_ij (Theorem 6)
    for unit-norm inputs drawn afresh at every position (E[X_i^T X_j] = 0) -- derived in the book,
    not in the paper.  With eps_k = 1 - rho^k and Sigma(1 - eps) = 1 - sqrt(2 eps)/pi + ...,
    -log 2F^1 = sum_{k<=L} sqrt(2 eps_k)/pi to leading order:

    * ``"algorithm1"`` (a = 1): eps_k ~ (c k)^(-2/3) (Remark 4.2's degeneracy), so
      2F^1 ~ exp(-C L^(2/3)), C = 3 c^(-1/3) / (sqrt(2) pi) ~ 1.009 -- faster than any power of L;
    * ``"paper"`` (a = 1/L^3): eps_k = u(k/L) / L^2 with u' = 1 - c u^(3/2) (one unit of distance
      in, the ReLU's cusp c eps^(3/2) out), so 2F^1 tends to the L-independent constant
      exp(-(sqrt(2)/pi) int_0^1 sqrt(u)) ~ 0.747.

    c = 2 sqrt(2)/(3 pi) is the cusp of kappa (see :func:`degeneracy_asymptote`)."""
    Lt = as_tensor(L, name="L")
    if not bool((Lt > 0).all()):
        raise ValueError("L must be positive")
    spec = get_init(init)
    if spec.name == "algorithm1":
        C = 3.0 * _KAPPA_CUSP ** (-1.0 / 3.0) / (math.sqrt(2.0) * math.pi)
        return torch.exp(-C * Lt ** (2.0 / 3.0))
    if spec.name == "paper":
        return torch.full_like(Lt, math.exp(-math.sqrt(2.0) / math.pi * _paper_limit_integral()))
    raise ValueError(f"no asymptote derived for init {spec.name!r}")  # pragma: no cover
