"""Finite-width quantities of the RNN of eq. (14): hidden states and their correlations.

These are what the infinite-width kernels of :mod:`rnnbook.kernels` are limits of: Theorem 5
says <h_l(x_i), h_l(x_j)> -> K^l_ij as the width m grows.
"""

from __future__ import annotations

import numpy as np
import torch

from .device import check_int, get_device, make_generator
from .kernels import forward_diagonal, forward_kernel
from .model import RNNParams, check_inputs, forward, init_params


def hidden_states(params: RNNParams, X) -> torch.Tensor:
    """h_0..h_L of eq. (14) for a batch X of shape (n, L, d): shape (L+1, n, m)."""
    return forward(params, X, return_states=True)[1].h


def forward_correlations(params: RNNParams, X) -> torch.Tensor:
    """<h_l(x_i), h_l(x_j)> for l = 0..L and all pairs: shape (L+1, n, n), in params' dtype.

    The finite-width counterpart of :func:`rnnbook.kernels.forward_kernel` (Theorem 5, eq. 24):
    one batched Gram product over the stacked hidden states."""
    h = hidden_states(params, X)
    return torch.bmm(h, h.transpose(1, 2))


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
    seeds = check_int(seeds, name="seeds", minimum=1)
    seed = check_int(seed, name="seed", minimum=0)
    widths = [check_int(m, name="widths", minimum=1) for m in widths]
    if not widths:
        raise ValueError("widths must not be empty")
    dev = get_device(device)
    X = check_inputs(X).to(device=dev, dtype=torch.float64)
    n, L, d = X.shape
    K = forward_kernel(X, init=init)
    diag = torch.diagonal(K, dim1=1, dim2=2)
    scale = torch.sqrt(diag[:, :, None] * diag[:, None, :])
    iu = torch.triu_indices(n, n, device=dev)
    out = np.empty((len(widths), seeds, L + 1))
    steps = [(w, s) for w in range(len(widths)) for s in range(seeds)]
    if progress:
        # Plain text on stderr: the executed book drops it (tag remove-stderr), a terminal shows it.
        from tqdm import tqdm

        steps = tqdm(steps, desc="Theorem 5 Monte Carlo", leave=False)
    Xd = X.to(dtype)
    for w, s in steps:
        p = init_params(widths[w], d, L, init=init, generator=make_generator(seed + s, dev), dtype=dtype,
                        device=dev)
        C = forward_correlations(p, Xd).to(torch.float64)
        e = ((C - K) / scale)[:, iu[0], iu[1]]
        e = e.square().mean(dim=1).sqrt() if metric == "rms" else e.abs().amax(dim=1)
        out[w, s] = e.cpu().numpy()
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
