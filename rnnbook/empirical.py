"""Finite-width quantities of the RNN of eq. (14): hidden states and their correlations.

These are what the infinite-width kernels of :mod:`rnnbook.kernels` are limits of: Theorem 5
says <h_l(x_i), h_l(x_j)> -> K^l_ij as the width m grows.
"""

from __future__ import annotations

import torch

from .model import RNNParams, forward


def hidden_states(params: RNNParams, X) -> torch.Tensor:
    """h_0..h_L of eq. (14) for a batch X of shape (n, L, d): shape (L+1, n, m)."""
    return forward(params, X, return_states=True)[1].h


def forward_correlations(params: RNNParams, X) -> torch.Tensor:
    """<h_l(x_i), h_l(x_j)> for l = 0..L and all pairs: shape (L+1, n, n), in params' dtype.

    The finite-width counterpart of :func:`rnnbook.kernels.forward_kernel` (Theorem 5, eq. 24):
    one batched Gram product over the stacked hidden states."""
    h = hidden_states(params, X)
    return torch.bmm(h, h.transpose(1, 2))
