"""Tests of rnnbook.empirical: finite-width hidden-state correlations against the forward kernel
of Theorem 5 (eq. 24)."""

import pytest
import torch
from scipy.stats import norm

from rnnbook import empirical, kernels, model
from rnnbook.device import make_generator

# Family-wise two-sided false-alarm rate of the Monte Carlo test, split over its entries (Bonferroni).
ALPHA = 1e-3


def unit_sequences(n, L, d, seed, device="cpu"):
    X = torch.randn(n, L, d, generator=make_generator(seed, device), dtype=torch.float64, device=device)
    return X / X.norm(dim=-1, keepdim=True)


def test_forward_correlations_are_gram_matrices_of_hidden_states(device):
    p = model.init_params(50, 3, 4, generator=make_generator(0, device), device=device)
    X = unit_sequences(6, 4, 3, seed=1, device=device)
    C = empirical.forward_correlations(p, X)
    h = empirical.hidden_states(p, X)
    assert C.shape == (5, 6, 6) and h.shape == (5, 6, 50)
    for l in range(5):
        torch.testing.assert_close(C[l], h[l] @ h[l].T, rtol=1e-14, atol=1e-14)
    # h_0 = relu(M0) does not depend on the input: C^0 is the constant ||relu(M0)||^2.
    torch.testing.assert_close(C[0], torch.full((6, 6), float(torch.relu(p.M0).square().sum()),
                                                dtype=torch.float64, device=device))


def normalised_deviation(init, X, m, seeds, seed0):
    """(<h_l(x_i), h_l(x_j)> - K^l_ij) / sqrt(K^l_ii K^l_jj) over independent networks."""
    K = kernels.forward_kernel(X, init=init)
    d = torch.diagonal(K, dim1=1, dim2=2)
    scale = torch.sqrt(d[:, :, None] * d[:, None, :])
    L = X.shape[1]
    devs = []
    for s in range(seeds):
        p = model.init_params(m, X.shape[2], L, init=init, generator=make_generator(seed0 + s, "cpu"))
        devs.append((empirical.forward_correlations(p, X) - K) / scale)
    devs = torch.stack(devs)
    return devs.mean(0), devs.std(0) / seeds**0.5


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_monte_carlo_converges_to_the_forward_kernel(init):
    """Theorem 5: E<h_l(x_i), h_l(x_j)> = K^l_ij + b/m + O(1/m^2).  The mean over many networks at
    widths m1 < m2, Richardson-extrapolated, (m2 E2 - m1 E1)/(m2 - m1), removes the O(1/m) bias
    and must be zero within z standard errors (CLT over independent seeds), z from a family-wise
    false-alarm rate ALPHA over the tested entries.  The standard error is about 0.01, so a kernel
    off by more than about 2 z se ~ 0.08 fails with high probability (doubling A's variance moves
    these entries by up to 0.06 under "paper" and 0.8 under "algorithm1")."""
    X = unit_sequences(3, 4, 3, seed=7)
    m1, r1, m2, r2 = 64, 4000, 256, 4000
    e1, s1 = normalised_deviation(init, X, m1, r1, seed0=10_000)
    e2, s2 = normalised_deviation(init, X, m2, r2, seed0=20_000)
    extrapolated = (m2 * e2 - m1 * e1) / (m2 - m1)
    se = torch.sqrt((m2 * s2) ** 2 + (m1 * s1) ** 2) / (m2 - m1)
    iu = torch.triu_indices(3, 3)
    z_scores = (extrapolated / se)[:, iu[0], iu[1]]  # layers 0..L, pairs i <= j
    z = norm.ppf(1 - ALPHA / (2 * z_scores.numel()))
    assert float(z_scores.abs().max()) <= z, (z_scores, z)
    assert float(se.max()) < 0.015  # the power its docstring claims
    # And the mean bias really is O(1/m): a quarter of it at 8x the width would be generous.
    assert float(e2.abs().max()) < float(e1.abs().max())


def test_cpu_equals_cuda(cuda_only):
    p = model.init_params(256, 3, 5, generator=make_generator(3, "cpu"), device="cpu")
    X = unit_sequences(4, 5, 3, seed=4)
    pc = p.replace(W=p.W.cuda(), A=p.A.cuda(), B=p.B.cuda(), M0=p.M0.cuda())
    torch.testing.assert_close(empirical.forward_correlations(pc, X.cuda()).cpu(),
                               empirical.forward_correlations(p, X), rtol=1e-12, atol=1e-12)


def test_forward_kernel_errors_shape_metrics_and_bad_input():
    X = unit_sequences(3, 2, 2, seed=5)
    E = empirical.forward_kernel_errors(X, [8, 16], 3, init="algorithm1", seed=1, device="cpu")
    M = empirical.forward_kernel_errors(X, [8, 16], 3, init="algorithm1", seed=1, metric="max", device="cpu")
    assert E.shape == M.shape == (2, 3, 3) and (E >= 0).all()
    assert (M >= E - 1e-15).all()  # the largest deviation bounds the root mean square
    # seed s of width m is the network init_params(m, ..., generator=make_generator(seed + s))
    p = model.init_params(16, 2, 2, init="algorithm1", generator=make_generator(1 + 2, "cpu"))
    K = kernels.forward_kernel(X, init="algorithm1")
    d = torch.diagonal(K, dim1=1, dim2=2)
    dev = (empirical.forward_correlations(p, X) - K) / torch.sqrt(d[:, :, None] * d[:, None, :])
    iu = torch.triu_indices(3, 3)
    expected = dev[:, iu[0], iu[1]].abs().amax(1)
    torch.testing.assert_close(torch.from_numpy(M[1, 2]), expected, rtol=1e-14, atol=0)
    with pytest.raises(ValueError, match="metric must be"):
        empirical.forward_kernel_errors(X, [8], 2, metric="mean")
    with pytest.raises(ValueError, match="widths must not be empty"):
        empirical.forward_kernel_errors(X, [], 2)
    with pytest.raises(ValueError, match="seeds must be >= 1"):
        empirical.forward_kernel_errors(X, [8], 0)


def test_norm_ratios(device):
    p = model.init_params(64, 3, 4, init="algorithm1", generator=make_generator(6, device), device=device)
    X = unit_sequences(5, 4, 3, seed=7, device=device)
    r = empirical.norm_ratios(p, X)
    h = empirical.hidden_states(p, X)
    d = kernels.forward_diagonal(X, init="algorithm1")
    assert r.shape == (5, 5)
    torch.testing.assert_close(r, h.square().sum(-1) / d, rtol=1e-14, atol=0)
    # l = 0: ||relu(M0)||^2 / K^0_ii with K^0_ii = 1, the same for every input
    torch.testing.assert_close(r[0], torch.relu(p.M0).square().sum().expand(5), rtol=1e-14, atol=0)
