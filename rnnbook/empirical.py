"""Finite-width quantities of the RNN of eq. (14): hidden states, backward vectors, their
correlations and the empirical neural tangent kernel.

These are what the infinite-width kernels of :mod:`rnnbook.kernels` are limits of: Theorem 5
says <h_l(x_i), h_l(x_j)> -> K^l_ij as the width m grows, Theorem 6 that
<delta_l(x_i), delta_l'(x_j)> -> F^l_ij if l = l' and -> 0 otherwise.

Every function that runs the network takes ``initial``, the (n, m) initial states that a network
with ``h0="independent"`` needs (:func:`rnnbook.model.initial_states`; None otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .checks import as_array, check_int, check_ints
from .device import check_memory, get_device, make_generator
from .kernels import _store, backward_kernel, forward_diagonal, forward_kernel, ntk
from .model import (
    OUTPUTS,
    RNNParams,
    check_bias,
    check_h0,
    check_inputs,
    check_output,
    check_wrt,
    forward,
    init_params,
    initial_states,
)
from .runtime import cpu_threads, progress_bar

__all__ = ["hidden_states", "forward_correlations", "backward_vectors", "backward_correlations",
           "empirical_ntk", "printed_ntk", "jacobian_ntk", "Eq23Readings", "eq23_readings",
           "cross_forward_correlations", "output_backward_vectors", "output_ntk",
           "forward_kernel_errors", "backward_kernel_errors", "norm_ratios", "ntk_limits",
           "cross_rms_all_steps", "NETWORK_QUANTILES", "network_quantiles", "LimitDeviations",
           "limit_deviations"]


def hidden_states(params: RNNParams, X, *, initial=None) -> torch.Tensor:
    """h_0..h_L of eq. (14) for a batch X of shape (n, L, d): shape (L+1, n, m)."""
    return forward(params, X, initial=initial, return_states=True)[1].h


def forward_correlations(params: RNNParams, X, *, initial=None) -> torch.Tensor:
    """<h_l(x_i), h_l(x_j)> for l = 0..L and all pairs: shape (L+1, n, n), in params' dtype.

    The finite-width counterpart of :func:`rnnbook.kernels.forward_kernel` (Theorem 5, eq. 24):
    one batched Gram product over the stacked hidden states."""
    h = hidden_states(params, X, initial=initial)
    L1, n, _ = h.shape
    check_memory(torch.finfo(h.dtype).bits // 8 * L1 * n * n, device=h.device,
                 what=f"the forward correlations of n = {n} sequences")
    return _check_finite(torch.bmm(h, h.transpose(1, 2)), "a Gram product")


def backward_vectors(params: RNNParams, X, *, states=None, output="last", initial=None) -> torch.Tensor:
    """The backward vectors delta_1..delta_L of Theorem 6 for a batch X: shape (L, n, m).

    delta_l = df / d(W h_{l-1} + A X_l): delta_L = D_L B and delta_l = D_l W^T delta_{l+1}, the
    paper's Back_l D_l (eq. 22) as a vector.  For ``output="mean"`` (f = B^T (1/L) sum_l h_l)
    every step adds its own output: delta_L = D_L B / L, delta_l = D_l (B / L + W^T delta_{l+1}).
    ``states``: the ``Trajectory`` of ``forward(params, X, return_states=True)`` when the caller
    already has it (else it is computed, with ``initial``)."""
    params = _values(params)
    output = check_output(output)
    if states is None:
        states = forward(params, X, initial=initial, return_states=True)[1]
    D = states.D
    L, n, m = D.shape
    B = params.B / L if output == "mean" else params.B
    out = torch.empty((L, n, m), dtype=params.dtype, device=params.device)
    out[L - 1] = D[L - 1] * B
    for l in range(L - 2, -1, -1):
        # Row form of W^T delta: (delta^T W)^T.
        torch.mm(out[l + 1], params.W, out=out[l])
        if output == "mean":
            out[l].add_(B)
        out[l].mul_(D[l])
    return out


def backward_correlations(params: RNNParams, X, *, initial=None) -> torch.Tensor:
    """<delta_l(x_i), delta_l'(x_j)> for all l, l' = 1..L and all pairs: shape (L, L, n, n), in
    params' dtype (entry [l-1, l'-1, i, j]).  Theorem 6: the diagonal blocks l = l' tend to F^l of
    :func:`rnnbook.kernels.backward_kernel`, the others to 0 (eq. 26)."""
    return _layer_gram(backward_vectors(params, X, initial=initial))


def _layer_gram(v):
    """[l, l', i, j] = <v_l(i), v_l'(j)> for stacked vectors v of shape (L, n, m)."""
    L, n, m = v.shape
    check_memory(torch.finfo(v.dtype).bits // 8 * (L * n) ** 2, device=v.device,
                 what=f"the Gram matrix of {L} x {n} vectors")
    flat = v.reshape(L * n, m)
    return _check_finite(flat @ flat.T, "a Gram product").reshape(L, n, L, n).permute(0, 2, 1, 3)


# Entries of one Gram block of empirical_ntk (each of the two): 2^25 (256 MiB in float64).
_NTK_BLOCK_ENTRIES = 1 << 25


def empirical_ntk(params: RNNParams, X, *, wrt="W", output="last", initial=None,
                  block_rows=None) -> torch.Tensor:
    """The empirical neural tangent kernel at width m (eq. 23): H^(m)_ij = <grad f(x_i), grad f(x_j)>
    with respect to the weights ``wrt`` (:func:`rnnbook.model.check_wrt`: ``"W"``, the paper's,
    ``"A"``, ``"B"``, ``"M0"``, a tuple, or ``"all"``), shape (n, n), in params' dtype and device.

    From the backward vectors, never the Jacobian: grad_W f(x) = sum_l delta_l h_{l-1}^T (eq. 23
    has h_l: see the errata) and grad_A f = sum_l delta_l X_l^T, so
    H^W + H^A = sum_{l,l'} <delta_l(x_i), delta_l'(x_j)>
    (<h_{l-1}(x_i), h_{l'-1}(x_j)> + <X_{i,l}, X_{j,l'}>): two Gram products of (nL x m)
    matrices (and one of (nL x d)), O(n^2 L^2 m) time, never the (n x m^2) Jacobian;
    grad_B f = h_L and grad_{M0} f = 1{M0 > 0} o (W^T delta_1) add one Gram product of (n x m)
    each, and grad_b f = sum_l delta_l (with a bias) one more.  Rows are processed in blocks of
    ``block_rows`` inputs against the columns from the block on (the upper triangle; the result
    is mirrored, so exactly symmetric), so the work space is 2 block_rows L x n L entries -- by
    default about 2^25 each.

    ``output="mean"`` (f = B^T (1/L) sum_l h_l): the same formula with the backward vectors of
    that output (:func:`backward_vectors`) and grad_B f = (1/L) sum_l h_l.  ``initial``: the
    initial states of an ``h0="independent"`` network; a network without M0 (h0 other than
    ``"shared"``) takes ``wrt="all"`` as W, A, B."""
    params = _values(params)
    parts = check_wrt(wrt, params.h0, params.bias)
    output = check_output(output)
    X = check_inputs(X, params)
    _reserve_ntk(params, X, block_rows)
    states = forward(params, X, initial=initial, return_states=True)[1]
    delta = backward_vectors(params, X, states=states, output=output)
    H = _ntk(delta, states.h if "W" in parts else None, block_rows,
             X if "A" in parts else None) if {"W", "A"} & set(parts) else None
    extra = []
    if "B" in parts:
        extra.append(states.h[-1] if output == "last" else states.h[1:].mean(0))
    if "M0" in parts:
        extra.append((delta[0] @ params.W) * (params.M0 > 0))  # rows: (W^T delta_1)^T, masked by D_0
    if "b" in parts:
        extra.append(delta.sum(0))  # grad_b f = sum_l delta_l
    for v in extra:
        G = _check_finite(v @ v.T, "a Gram product")
        G = torch.triu(G) + torch.triu(G, 1).T  # exactly symmetric, as _ntk's
        H = G if H is None else H.add_(G)
    return H


def printed_ntk(params: RNNParams, X, *, block_rows=None) -> torch.Tensor:
    """Eq. (23) as printed, at width m: sum_{l,l'} <delta_l(x_i), delta_l'(x_j)> <h_l(x_i), h_l'(x_j)>,
    the two-Gram formula of :func:`empirical_ntk` with h_l in place of h_{l-1} (the errata's
    reading), shape (n, n), in params' dtype and device.  Not the Gram matrix of the gradients --
    :func:`jacobian_ntk` is the reference that decides between the two."""
    params = _values(params)
    X = check_inputs(X, params)
    _reserve_ntk(params, X, block_rows)
    states = forward(params, X, return_states=True)[1]
    return _ntk(backward_vectors(params, X, states=states), states.h[1:], block_rows)


# The largest Jacobian jacobian_ntk materialises: n m^2 entries (128 MiB in float64).
_JACOBIAN_ENTRIES = 1 << 24


def jacobian_ntk(params: RNNParams, X, *, wrt="W", output="last", initial=None) -> torch.Tensor:
    """<grad f(x_i), grad f(x_j)> with respect to the weights ``wrt`` (as :func:`empirical_ntk`)
    from the full Jacobian of f, by reverse-mode autodiff (``torch.func.jacrev``) through
    :func:`rnnbook.model.forward`: the brute-force reference for :func:`empirical_ntk`, independent
    of the backward vectors and of eq. (23).  Shape (n, n), in params' dtype and device.  It
    materialises the (n, P) Jacobian (P weights), so it is for small sizes only: n P > 2^24 is a
    ``ValueError``.  ``output`` and ``initial``: as in :func:`empirical_ntk`."""
    from torch.func import jacrev

    params = _values(params)
    parts = check_wrt(wrt, params.h0, params.bias)
    output = check_output(output)
    X = check_inputs(X, params)
    n = X.shape[0]
    size = sum(getattr(params, w).numel() for w in parts)
    if n * size > _JACOBIAN_ENTRIES:
        raise ValueError(f"X and params: the Jacobian would hold n P = {n * size} entries, more than "
                         f"{_JACOBIAN_ENTRIES}; use empirical_ntk")

    def f(*weights):
        return forward(params.replace(**dict(zip(parts, weights, strict=True))), X, output=output,
                       initial=initial)

    J = jacrev(f, argnums=tuple(range(len(parts))))(*(getattr(params, w) for w in parts))
    J = torch.cat([j.reshape(n, -1) for j in J], dim=1)
    return J @ J.T


@dataclass(frozen=True)
class Eq23Readings:
    """How far the two readings of eq. (23) are from the Gram matrix of the Jacobian at one width
    (see :func:`eq23_readings`): the largest entry difference relative to sqrt(J_ii J_jj) with
    h_{l-1} (the gradient's) and with h_l (as printed), and the rounding tolerance of the comparison."""

    error_previous: float
    error_printed: float
    tolerance: float


def eq23_readings(params: RNNParams, X) -> Eq23Readings:
    """Which hidden state eq. (23) pairs with the backward vectors, decided at finite width, where
    the NTK is an identity rather than a limit: the two-Gram formula with h_{l-1}
    (:func:`empirical_ntk`) and with h_l (:func:`printed_ntk`) against the Gram matrix J of the
    full Jacobian (:func:`jacobian_ntk`), entries relative to sqrt(J_ii J_jj) (which bounds every
    abs(J_ij)). The tolerance is a forward-error bound for both computations: a length-k dot product
    errs by at most k eps of the sum of its terms' magnitudes; the Jacobian Gram sums m^2 products and
    the two-Gram formula (L + 2) m, so (m^2 + (L + 2) m) eps of params' dtype. Small sizes only (as
    :func:`jacobian_ntk`)."""
    X = check_inputs(X, params)
    J = jacobian_ntk(params, X)
    scale = torch.sqrt(torch.diagonal(J))
    scale = scale[:, None] * scale[None, :]
    prev = float(((empirical_ntk(params, X) - J).abs() / scale).max())
    printed = float(((printed_ntk(params, X) - J).abs() / scale).max())
    m, L = params.m, X.shape[1]
    tol = (m * m + (L + 2) * m) * torch.finfo(params.W.dtype).eps
    return Eq23Readings(prev, printed, float(tol))


def _values(params) -> RNNParams:
    """The weights outside autograd (the backward passes here are written out, with out= buffers
    autograd refuses): the results carry no graph."""
    if not isinstance(params, RNNParams):
        raise TypeError(f"params must be RNNParams, got {type(params).__name__}")
    return params.detach()


def _ntk_rows(n: int, L: int, block_rows) -> int:
    if block_rows is None:
        return max(1, min(n, _NTK_BLOCK_ENTRIES // (L * L * n)))
    return check_int(block_rows, name="block_rows", minimum=1)


def _reserve_ntk(params: RNNParams, X: torch.Tensor, block_rows) -> None:
    """Refuse (MemoryError) an empirical NTK whose states, backward vectors, output and two Gram
    blocks cannot fit: (3L + 1) n m + n^2 + 2 (block_rows L) (n L) entries."""
    n, L, _ = X.shape
    rows = _ntk_rows(n, L, block_rows)
    size = torch.finfo(params.dtype).bits // 8
    check_memory(size * ((3 * L + 1) * n * params.m + n * n + 2 * rows * L * n * L),
                 device=params.device, what=f"the empirical NTK of n = {n} sequences at width "
                                            f"m = {params.m}")


def _check_finite(out: torch.Tensor, what: str) -> torch.Tensor:
    """Gram products of finite states can still overflow a narrow dtype (float32: 3.4e38)."""
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"X: {what} overflowed {out.dtype}; rescale X or use float64")
    return out


def _ntk(delta, h, block_rows, x=None):
    """The two-Gram formula of :func:`empirical_ntk` from delta_1..delta_L (L, n, m) and h_0..h_L
    (None: no W term), plus, with the inputs ``x`` (n, L, d), the A term."""
    L, n, m = delta.shape
    # Sequence-major rows: input i's L vectors are contiguous, so a block of inputs is a row slice.
    Dm = delta.transpose(0, 1).reshape(n * L, m)
    Hm = h[:L].transpose(0, 1).reshape(n * L, m) if h is not None else None
    Xm = x.reshape(n * L, -1) if x is not None else None  # x: (n, L, d), already sequence-major
    block_rows = _ntk_rows(n, L, block_rows)
    out = torch.empty((1, n, n), dtype=delta.dtype, device=delta.device)
    for s in range(0, n, block_rows):
        e = min(n, s + block_rows)
        rows = slice(s * L, e * L)
        G = Dm[rows] @ Dm[s * L:].T
        if Hm is None:
            G.mul_(Xm[rows] @ Xm[s * L:].T)
        elif Xm is None:
            G.mul_(Hm[rows] @ Hm[s * L:].T)
        else:
            G.mul_(torch.addmm(Hm[rows] @ Hm[s * L:].T, Xm[rows], Xm[s * L:].T))
        _store(out, 0, s, e, G.reshape(e - s, L, n - s, L).sum(dim=(1, 3)))
    return _check_finite(out[0], "the empirical NTK")


# ------------------------------------------------- every output f_l = B^T h_l (Remark 3.2)


def cross_forward_correlations(params: RNNParams, X, *, initial=None) -> torch.Tensor:
    """<h_k(x_i), h_k'(x_j)> for all k, k' = 0..L and all pairs: shape (L+1, L+1, n, n), in params'
    dtype (entry [k, k', i, j]).  The finite-width counterpart of
    :func:`rnnbook.kernels.cross_forward_kernel`; the blocks k = k' are :func:`forward_correlations`."""
    return _layer_gram(hidden_states(params, X, initial=initial))


def output_backward_vectors(params: RNNParams, X, *, states=None, initial=None) -> torch.Tensor:
    """The backward vectors of every output f_l = B^T h_l (Remark 3.2): entry [l-1, k-1] is
    delta^(l)_k = d f_l / d(W h_{k-1} + A X_k), shape (L, L, n, m), zero for k > l.

    delta^(l)_l = D_l B and delta^(l)_k = D_k W^T delta^(l)_{k+1}; the row l = L is
    :func:`backward_vectors`.  All outputs go back one step together (one (L - k) n x m by m x m
    product per step k), so O(L^2 n m^2) time; memory 8 L^2 n m bytes in float64 (the k > l half
    is zero).  ``states``: the ``Trajectory`` of ``forward(params, X, return_states=True)``."""
    params = _values(params)
    if states is None:
        states = forward(params, X, initial=initial, return_states=True)[1]
    D = states.D
    L, n, m = D.shape
    check_memory(torch.finfo(params.dtype).bits // 8 * L * L * n * m, device=params.device,
                 what=f"the backward vectors of all {L} outputs at width m = {m}")
    out = torch.zeros((L, L, n, m), dtype=params.dtype, device=params.device)
    for k in range(L - 1, -1, -1):  # step k + 1 (0-based k); outputs l = k + 1..L
        out[k, k] = D[k] * params.B
        if k < L - 1:
            # Row form of W^T delta for all outputs beyond this step at once.
            prev = out[k + 1:, k + 1].reshape(-1, m)
            out[k + 1:, k] = (prev @ params.W).reshape(L - k - 1, n, m) * D[k]
    return out


def output_ntk(params: RNNParams, X, *, initial=None) -> torch.Tensor:
    """The empirical NTKs of all outputs f_l = B^T h_l with respect to W at width m:
    H^(m)(l,l')_ij = <grad_W f_l(x_i), grad_W f_l'(x_j)>, shape (L, L, n, n), in params' dtype and
    device (entry [l-1, l'-1, i, j]; the finite-width counterpart of
    :func:`rnnbook.kernels.output_ntk`, Remark 3.2).  Block [L-1, L-1] is :func:`empirical_ntk`.

    grad_W f_l = sum_{k<=l} delta^(l)_k h_{k-1}^T, so
    H^(m)(l,l')_ij = sum_{k<=l, k'<=l'} <delta^(l)_k(x_i), delta^(l')_k'(x_j)> <h_{k-1}(x_i), h_{k'-1}(x_j)>:
    Gram products of the backward vectors of :func:`output_backward_vectors` and of the hidden
    states, never the (n x m^2) Jacobian.  Pair of outputs by pair: O(L^4 n^2 m) time for the
    Grams (plus O(L^2 n m^2) for the vectors); memory 8 L^2 n m bytes for the vectors (float64) and
    O(L^2 n^2) entries of work space."""
    params = _values(params)
    states = forward(params, X, initial=initial, return_states=True)[1]
    delta = output_backward_vectors(params, X, states=states)
    L, _, n, m = delta.shape
    Gh = _layer_gram(states.h[:L])  # [k, k', i, j] = <h_{k-1}(x_i), h_{k'-1}(x_j)>, k = 1..L
    # Rows (l, k, i) with k <= l: output l's vectors, flattened.
    rows = [delta[l, : l + 1].reshape((l + 1) * n, m) for l in range(L)]
    out = torch.empty((L, L, n, n), dtype=delta.dtype, device=delta.device)
    for l in range(L):
        for lp in range(l, L):
            G = (rows[l] @ rows[lp].T).reshape(l + 1, n, lp + 1, n)
            G.mul_(Gh[: l + 1, : lp + 1].permute(0, 2, 1, 3))
            block = G.sum(dim=(0, 2))
            if lp == l:
                block = torch.triu(block) + torch.triu(block, 1).T  # a Gram matrix: exactly symmetric
            out[l, lp] = block
            out[lp, l] = block.T
    return _check_finite(out, "the output NTK")


def forward_kernel_errors(X, widths, seeds, *, init="paper", seed=0, metric="rms", dtype=torch.float64,
                          device=None, progress: bool = False):
    """Finite-width error of Theorem 5 (eq. 24) over widths and independent networks.

    For each width m in ``widths`` and each of ``seeds`` networks (seeded ``seed``, ``seed + 1``,
    ...) and every layer l = 0..L, the normalised deviations
    e_ij = (<h_l(x_i), h_l(x_j)> - K^l_ij) / sqrt(K^l_ii K^l_jj) over pairs i <= j, summarised by
    ``metric``: ``"rms"`` (root mean square over pairs: the CLT scale, stable across seeds) or
    ``"max"`` (the largest, what eq. (24)'s "for fixed i, j" bound must cover for every pair).
    Normalising by the diagonal makes layers and initialisations comparable (K^l_ii grows with l).

    Returns a float64 numpy array of shape (len(widths), seeds, L+1)."""
    if metric not in ("rms", "max"):
        raise ValueError(f"metric must be 'rms' or 'max', got {metric!r}")
    widths, seeds, seed = _check_sweep_args(widths, seeds, seed)
    dev = get_device(device)
    X = check_inputs(X).to(device=dev, dtype=torch.float64)
    n, L, d = X.shape
    K = forward_kernel(X, init=init)
    diag = torch.diagonal(K, dim1=1, dim2=2)
    scale = torch.sqrt(diag[:, :, None] * diag[:, None, :])
    iu = torch.triu_indices(n, n, device=dev)
    out = np.empty((len(widths), seeds, L + 1))
    Xd = X.to(dtype)
    bar = progress and "Theorem 5 Monte Carlo"
    for w, s, p in _networks(widths, seeds, seed, d, L, init, dtype, dev, bar):
        C = forward_correlations(p, Xd).to(torch.float64)
        e = ((C - K) / scale)[:, iu[0], iu[1]]
        e = e.square().mean(dim=1).sqrt() if metric == "rms" else e.abs().amax(dim=1)
        out[w, s] = e.cpu().numpy()
    return out


def _check_sweep_args(widths, seeds, seed):
    seeds = check_int(seeds, name="seeds", minimum=1)
    seed = check_int(seed, name="seed", minimum=0)
    widths = check_ints(widths, name="widths", minimum=1, scalar=False)
    return widths, seeds, seed


def _networks(widths, seeds, seed, d, L, init, dtype, device, progress):
    """(width index, network index, parameters) for every width and network of a Monte Carlo sweep,
    network s seeded seed + s; ``progress``: a description for a progress bar, or False."""
    steps = [(w, s) for w in range(len(widths)) for s in range(seeds)]
    if progress:
        steps = progress_bar(steps, progress)
    for w, s in steps:
        yield w, s, init_params(widths[w], d, L, init=init, generator=make_generator(seed + s, device),
                                dtype=dtype, device=device)


def backward_kernel_errors(X, widths, seeds, *, init="paper", seed=0, dtype=torch.float64, device=None,
                           progress: bool = False) -> dict[str, np.ndarray]:
    """Finite-width errors of Theorem 6 and of the NTK (eq. 23) over widths and independent networks.

    For each width m in ``widths`` and each of ``seeds`` networks (seeded ``seed``, ``seed + 1``,
    ...), returns float64 numpy arrays indexed [width, network, ...]:

    * ``"diagonal"`` (W, S, L): root mean square over pairs i <= j of
      (<delta_l(x_i), delta_l(x_j)> - F^l_ij) / sqrt(F^l_ii F^l_jj), l = 1..L (eq. 27);
    * ``"cross"`` (W, S, L-1): root mean square over all pairs (i, j) and all l != l' with
      lag abs(l - l') = 1..L-1 of <delta_l(x_i), delta_l'(x_j)> / sqrt(F^l_ii F^l'_jj) (eq. 26: -> 0);
    * ``"ntk"`` (W, S): ||H^(m) - H||_F / ||H||_F with H = sum_l F^l o K^{l-1};
    * ``"ntk_literal"`` (W, S): the same against eq. (23) read literally, sum_l F^l o K^l (h_l in
      place of h_{l-1}) -- the errata's test of which kernel the finite network approaches."""
    widths, seeds, seed = _check_sweep_args(widths, seeds, seed)
    dev = get_device(device)
    X = check_inputs(X).to(device=dev, dtype=torch.float64)
    n, L, d = X.shape
    F = backward_kernel(X, init=init)
    H, H_literal = _ntk_limits(F, forward_kernel(X, init=init))
    Fd = torch.diagonal(F, dim1=1, dim2=2)  # (L, n): 1/2 in exact arithmetic
    iu = torch.triu_indices(n, n, device=dev)
    lag = (torch.arange(L, device=dev)[:, None] - torch.arange(L, device=dev)[None, :]).abs()
    out = {"diagonal": np.empty((len(widths), seeds, L)), "cross": np.empty((len(widths), seeds, L - 1)),
           "ntk": np.empty((len(widths), seeds)), "ntk_literal": np.empty((len(widths), seeds))}
    Xd = X.to(dtype)
    bar = progress and "Theorem 6 Monte Carlo"
    for w, s, p in _networks(widths, seeds, seed, d, L, init, dtype, dev, bar):
        states = forward(p, Xd, return_states=True)[1]
        delta = backward_vectors(p, Xd, states=states)
        C = _layer_gram(delta).to(torch.float64)  # (L, L, n, n)
        # Normalise entry [l, l', i, j] by sqrt(F^l_ii F^l'_jj).
        C = C / torch.sqrt(Fd[:, None, :, None] * Fd[None, :, None, :])
        diag = C[torch.arange(L), torch.arange(L)]  # (L, n, n)
        e = (diag - F / torch.sqrt(Fd[:, :, None] * Fd[:, None, :]))[:, iu[0], iu[1]]
        out["diagonal"][w, s] = e.square().mean(dim=1).sqrt().cpu().numpy()
        ms = C.square().mean(dim=(2, 3))  # (L, L)
        out["cross"][w, s] = [float(ms[lag == k].mean().sqrt()) for k in range(1, L)]
        Hm = _ntk(delta, states.h, None).to(torch.float64)
        out["ntk"][w, s] = float(torch.linalg.norm(Hm - H) / torch.linalg.norm(H))
        out["ntk_literal"][w, s] = float(torch.linalg.norm(Hm - H_literal) / torch.linalg.norm(H_literal))
    return out


def norm_ratios(params: RNNParams, X, *, init=None) -> torch.Tensor:
    """||h_l(x_i)||^2 / K^l_ii for l = 0..L and every sequence: shape (L+1, n), float64.

    Theorem 5 says each ratio tends to 1 as m grows.  Because W is the same matrix at every step,
    its deviations from the ideal random map compound along the sequence, and at small width the
    ratio of the last layer spreads over orders of magnitude.  ``init`` defaults to the one the
    parameters were drawn with."""
    init = params.init if init is None else init
    h = hidden_states(params, X)
    K_diag = forward_diagonal(check_inputs(X, params).to(torch.float64), init=init)
    return h.to(torch.float64).square().sum(-1) / K_diag


def _ntk_limits(F, K):
    """(sum_l F^l o K^{l-1}, sum_l F^l o K^l) from F^1..F^L and K^0..K^L (see :func:`ntk_limits`)."""
    return (F * K[:-1]).sum(0), (F * K[1:]).sum(0)


def ntk_limits(X, *, init="paper") -> tuple[torch.Tensor, torch.Tensor]:
    """The two infinite-width readings of eq. (23) for the sample X (n, L, d): ``(H, H_printed)``,
    each float64 of shape (n, n) on X's device.

    H = sum_l F^l o K^{l-1} (entrywise products; the gradient pairs delta_l with h_{l-1}) is the
    limit of :func:`empirical_ntk` (what :func:`rnnbook.kernels.ntk` computes by Horner's rule);
    H_printed = sum_l F^l o K^l is eq. (23) read literally, with h_l, the limit of
    :func:`printed_ntk`.  F^l from :func:`rnnbook.kernels.backward_kernel`, K^l from
    :func:`rnnbook.kernels.forward_kernel`; :func:`backward_kernel_errors` measures finite networks
    against both."""
    return _ntk_limits(backward_kernel(X, init=init), forward_kernel(X, init=init))


def cross_rms_all_steps(by_lag) -> np.ndarray:
    """The root mean square over all ordered pairs of steps l != l' (eq. 26's cross terms) from the
    root mean squares per lag k = abs(l - l') = 1..L-1 (the last axis of ``by_lag``, as
    :func:`backward_kernel_errors` returns them under ``"cross"``): lag k holds 2 (L - k) of the
    L (L - 1) ordered pairs, so the mean square over all of them is
    sum_k 2 (L - k) / (L (L - 1)) rms_k^2.  Returns float64 of ``by_lag``'s shape without its last
    axis."""
    by_lag = as_array(by_lag, name="by_lag", finite=False)
    if by_lag.ndim < 1 or by_lag.shape[-1] < 1:
        raise ValueError(f"by_lag must have a last axis of lags 1..L-1 (L >= 2), got shape {by_lag.shape}")
    L = by_lag.shape[-1] + 1
    weight = 2.0 * (L - np.arange(1, L)) / (L * (L - 1))
    return np.sqrt((by_lag**2 * weight).sum(axis=-1))


#: The quantiles over independent networks that the Monte Carlo chapters report and fit, by name:
#: Theorems 5 and 6 hold with high probability over the network, so their rates are statements
#: about such quantiles (the median: the typical network; the 90th percentile: all but a tenth).
NETWORK_QUANTILES = {"median": 0.5, "q90": 0.9}


def network_quantiles(errors, *, axis: int = 1) -> dict[str, np.ndarray]:
    """The :data:`NETWORK_QUANTILES` of Monte Carlo errors (eq. 24, eqs. 26-27) over the networks
    axis ``axis`` (axis 1 of the [width, network, ...] arrays of :func:`forward_kernel_errors` and
    :func:`backward_kernel_errors`): name -> float64 array without that axis (numpy's linear
    interpolation between order statistics)."""
    errors = as_array(errors, name="errors", finite=False)
    axis = check_int(axis, name="axis")
    if not -errors.ndim <= axis < errors.ndim or errors.shape[axis] < 1:
        raise ValueError(f"errors must have a non-empty networks axis {axis}, got shape {errors.shape}")
    return {name: np.quantile(errors, q, axis=axis) for name, q in NETWORK_QUANTILES.items()}


@dataclass(frozen=True)
class LimitDeviations:
    """Finite networks of one convention against the infinite-width kernels of one (possibly
    other) convention (see :func:`limit_deviations`).  ``names[q]`` says what quantity q is;
    ``mean[q]`` and ``se[q]`` hold, over the upper triangle of its (n, n) matrix (``rows``,
    ``cols``), the Richardson extrapolation of the normalised deviations and its standard error."""

    names: tuple[str, ...]
    mean: np.ndarray
    se: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    widths: tuple[int, int]
    networks: int

    @property
    def z(self) -> np.ndarray:
        """The z-scores mean / se (shape (quantities, entries))."""
        return self.mean / self.se


def limit_deviations(X, *, init="paper", h0="shared", limit_h0=None, bias=0.0, limit_bias=None,
                     outputs=OUTPUTS, widths=(64, 256), networks=600, seed=0, device=None) -> LimitDeviations:
    """Which infinite-width recursion describes networks of initial state ``h0``: the forward
    kernels K^1..K^L, the backward kernels F^1..F^L and the NTK of each weight (``wrt``) and each
    output in ``outputs``, measured on ``networks`` independent networks (and, for
    ``h0="independent"``, initial states) at each of the two ``widths`` m1 < m2, against
    :func:`rnnbook.kernels.forward_kernel`, :func:`~rnnbook.kernels.backward_kernel` and
    :func:`~rnnbook.kernels.ntk` computed with ``limit_h0`` (default: ``h0``); the networks have
    the bias variance ``bias`` (0: none), the limits ``limit_bias`` (default: ``bias``).

    Each deviation (finite - limit) is normalised by sqrt(limit_ii limit_jj).  Its mean is
    limit-shifted by b/m + O(1/m^2) at width m, so the Richardson extrapolation
    (m2 E2 - m1 E1)/(m2 - m1) estimates the deviation at infinite width, with the standard error of
    independent means (CLT over the networks).  :func:`rnnbook.verdicts.limit` decides.  The
    diagonals of the limits must be positive (under ``"zero"``: no sequence may start with a zero
    step).  float64 throughout; one CPU thread suits these small products."""
    h0 = check_h0(h0)
    limit_h0 = h0 if limit_h0 is None else check_h0(limit_h0)
    outputs = tuple(check_output(o) for o in ([outputs] if isinstance(outputs, str) else outputs))
    widths = tuple(check_ints(widths, name="widths", minimum=1))
    if len(widths) != 2 or widths[0] >= widths[1]:
        raise ValueError(f"widths must be two increasing widths m1 < m2, got {widths}")
    networks = check_int(networks, name="networks", minimum=2)
    seed = check_int(seed, name="seed", minimum=0)
    dev = get_device(device)
    X = check_inputs(X).to(device=dev, dtype=torch.float64)
    n, L, d = X.shape
    bias = check_bias(bias)
    limit_bias = bias if limit_bias is None else check_bias(limit_bias)
    # M0 and b only when both the networks and the limits have them
    weights = check_wrt("all", h0 if h0 == limit_h0 else "zero", min(bias, limit_bias))
    names, limits = [], []
    K = forward_kernel(X, init=init, h0=limit_h0, bias=limit_bias)
    F = backward_kernel(X, init=init, h0=limit_h0, bias=limit_bias)
    for l in range(1, L + 1):
        names.append(f"K^{l}")
        limits.append(K[l])
    for l in range(1, L + 1):
        names.append(f"F^{l}")
        limits.append(F[l - 1])
    for o in outputs:
        for w in weights:
            names.append(f"H^{w} ({o})")
            limits.append(ntk(X, init=init, h0=limit_h0, bias=limit_bias, wrt=w, output=o))
    limits = torch.stack(limits)
    diag = torch.diagonal(limits, dim1=1, dim2=2)
    if not bool((diag > 0).all()):
        raise ValueError("X: a limit has a zero diagonal entry (a sequence starting with a zero step "
                         "under h0 = 'zero'); the deviations cannot be normalised")
    scale = torch.sqrt(diag[:, :, None] * diag[:, None, :])
    iu = torch.triu_indices(n, n, device=dev)
    stats = []
    for w, m in enumerate(widths):
        devs = []
        with cpu_threads(dev, 1):  # products of a few rows: threads only add synchronisation
            for s in range(networks):
                gen = make_generator(seed + w * networks + s, dev)
                p = init_params(m, d, L, init=init, h0=h0, bias=bias, generator=gen, dtype=torch.float64,
                                device=dev)
                ini = initial_states(p, n, generator=gen) if h0 == "independent" else None
                states = forward(p, X, initial=ini, return_states=True)[1]
                delta = backward_vectors(p, X, states=states)
                h = states.h
                found = [h[l] @ h[l].T for l in range(1, L + 1)] + [v @ v.T for v in delta]
                found += [empirical_ntk(p, X, wrt=wt, output=o, initial=ini)
                          for o in outputs for wt in weights]
                devs.append(((torch.stack(found) - limits) / scale)[:, iu[0], iu[1]])
        devs = torch.stack(devs)
        stats.append((devs.mean(0), devs.std(0) / networks**0.5))
    (e1, s1), (e2, s2) = stats
    m1, m2 = widths
    ext = (m2 * e2 - m1 * e1) / (m2 - m1)
    se = torch.sqrt((m2 * s2) ** 2 + (m1 * s1) ** 2) / (m2 - m1)
    return LimitDeviations(tuple(names), ext.cpu().numpy(), se.cpu().numpy(), iu[0].cpu().numpy(),
                           iu[1].cpu().numpy(), widths, networks)
