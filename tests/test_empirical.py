"""Tests of rnnbook.empirical: finite-width hidden-state correlations against the forward kernel
of Theorem 5 (eq. 24), backward vectors and their correlations against Theorem 6 (eqs. 26-27).
The empirical NTK's brute-force reference is in test_ntk_reference.py."""

import math

import numpy as np
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


def assert_richardson_zero(e1, s1, m1, e2, s2, m2):
    """Richardson-extrapolate means e1, e2 (standard errors s1, s2) at widths m1 < m2 to m = oo,
    (m2 e2 - m1 e1)/(m2 - m1), and require every upper-triangle entry (all layers) to be zero within
    z standard errors, z from the family-wise false-alarm rate ALPHA (Bonferroni).  Returns the
    extrapolation's standard errors."""
    extrapolated = (m2 * e2 - m1 * e1) / (m2 - m1)
    se = torch.sqrt((m2 * s2) ** 2 + (m1 * s1) ** 2) / (m2 - m1)
    n = e1.shape[-1]
    iu = torch.triu_indices(n, n)
    z_scores = (extrapolated / se)[:, iu[0], iu[1]]  # layers, pairs i <= j
    z = norm.ppf(1 - ALPHA / (2 * z_scores.numel()))
    assert float(z_scores.abs().max()) <= z, (z_scores, z)
    return se


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
    se = assert_richardson_zero(e1, s1, m1, e2, s2, m2)
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


# ------------------------------------------------------------------ backward vectors (Theorem 6)


def autograd_backward_vectors(p, X):
    """df/d(pre-activation_l) for l = 1..L by autograd through an independent re-implementation of
    eq. (14): z_l = W h_{l-1} + A X_l, h_l = relu(z_l), f = B^T h_L.  Shape (L, n, m)."""
    n, L, _ = X.shape
    h = torch.relu(p.M0).expand(n, p.m)
    zs = []
    for l in range(L):
        z = h @ p.W.T + X[:, l] @ p.A.T
        if l == 0:
            z.requires_grad_()  # a leaf: every later pre-activation depends on it
        zs.append(z)
        h = torch.relu(z)
    f = h @ p.B
    # f_i depends on input i's pre-activations only, so the gradient of the sum is per input.
    return torch.stack(torch.autograd.grad(f.sum(), zs))


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
@pytest.mark.parametrize("L", [1, 5])
def test_backward_vectors_are_gradients_wrt_pre_activations(init, L, device):
    """The reading of eq. (22) in book/conventions.md ('Backward vectors and kernel'): delta_l = (Back_l
    D_l)^T = df / d(W h_{l-1} + A X_l), with delta_L = D_L B, delta_l = D_l W^T delta_{l+1}.  Autograd
    through the plain recurrence computes the same products of the same float64 numbers in possibly
    another order: each of the L - 1 steps is a length-m dot product (relative error <= m eps ~ 1e-14 of
    its terms at m = 40), so 1e-12 absolute on entries of size ~ m^(-1/2) leaves a margin while a wrong
    transpose (W for W^T) or a missing D_l changes entries at O(m^(-1/2))."""
    m, n, d = 40, 6, 3
    p = model.init_params(m, d, L, init=init, generator=make_generator(30 + L, device), device=device)
    X = torch.randn(n, L, d, generator=make_generator(31, device), dtype=torch.float64, device=device)
    delta = empirical.backward_vectors(p, X)
    assert delta.shape == (L, n, m) and delta.dtype == torch.float64 and delta.device == X.device
    ref = autograd_backward_vectors(p, X)
    torch.testing.assert_close(delta, ref, rtol=1e-12, atol=1e-12)
    # The last one is D_L B exactly, and states= passes the forward pass in without a change.
    f, states = model.forward(p, X, return_states=True)
    assert torch.equal(delta[-1], states.D[-1] * p.B)
    assert torch.equal(empirical.backward_vectors(p, X, states=states), delta)
    if L > 1:  # W^T, not W: the two differ by far more than the tolerance
        wrong = states.D[-2] * (delta[-1] @ p.W.T)
        assert float((wrong - ref[-2]).abs().max()) > 1e-2


def test_backward_correlations_are_the_gram_of_the_backward_vectors(device):
    """<delta_l(x_i), delta_l'(x_j)> of eqs. (26)-(27) (without the paper's 1/m: book/conventions.md, 'The
    scale of B'): entry [l-1, l'-1, i, j].  One (nL x m) Gram product against an einsum of the same
    vectors: rounding of length-m dot products, 1e-14 relative.  Swapping (l, i) with (l', j) transposes
    the Gram matrix, so C[l, l', i, j] = C[l', l, j, i] to the same rounding."""
    L, n, m = 4, 5, 48
    p = model.init_params(m, 3, L, init="algorithm1", generator=make_generator(32, device), device=device)
    X = unit_sequences(n, L, 3, seed=33, device=device)
    C = empirical.backward_correlations(p, X)
    assert C.shape == (L, L, n, n) and C.dtype == torch.float64 and C.device == X.device
    delta = empirical.backward_vectors(p, X)
    torch.testing.assert_close(C, torch.einsum("aim,bjm->abij", delta, delta), rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(C, C.permute(1, 0, 3, 2), rtol=1e-14, atol=1e-15)
    # The diagonal blocks' diagonals are squared norms: ||delta_l(x_i)||^2 (1/2 at infinite width).
    torch.testing.assert_close(torch.diagonal(torch.diagonal(C, dim1=0, dim2=1), dim1=0, dim2=1),
                               delta.square().sum(-1), rtol=1e-14, atol=0)


@pytest.mark.parametrize("fn", [empirical.backward_vectors, empirical.backward_correlations,
                                empirical.empirical_ntk])
def test_backward_quantities_reject_bad_input(fn):
    p = model.init_params(8, 3, 2, generator=make_generator(34, "cpu"))
    X = unit_sequences(2, 2, 3, seed=35)
    with pytest.raises(TypeError, match="X has dtype torch.float32 but params have torch.float64"):
        fn(p, X.float())
    with pytest.raises(ValueError, match="X has d = 2 but params.A has 3 columns"):
        fn(p, X[..., :2])
    with pytest.raises(ValueError, match=r"X must have shape \(n, L, d\)"):
        fn(p, X[0])
    with pytest.raises(ValueError, match="X contains NaN"):
        fn(p, torch.full_like(X, float("nan")))
    with pytest.raises(TypeError, match="params must be RNNParams, got dict"):
        fn({"W": p.W, "A": p.A, "B": p.B, "M0": p.M0}, X)
    if fn is empirical.empirical_ntk:
        with pytest.raises(ValueError, match="block_rows must be >= 1"):
            fn(p, X, block_rows=0)
        with pytest.raises(TypeError, match="block_rows must be an int"):
            fn(p, X, block_rows=1.0)


def backward_deviation(init, X, m, seeds, seed0):
    """<delta_l(x_i), delta_l(x_j)> - F^l_ij over independent networks (mean, standard error),
    shape (L, n, n) each.  |F^l_ij| <= F^l_ii = 1/2 for every input, so no normalisation."""
    F = kernels.backward_kernel(X, init=init)
    L = X.shape[1]
    devs = []
    for s in range(seeds):
        p = model.init_params(m, X.shape[2], L, init=init, generator=make_generator(seed0 + s, "cpu"))
        C = empirical.backward_correlations(p, X)
        devs.append(torch.diagonal(C, dim1=0, dim2=1).permute(2, 0, 1) - F)
    devs = torch.stack(devs)
    return devs.mean(0), devs.std(0) / seeds**0.5


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_monte_carlo_converges_to_the_backward_kernel(init):
    """Theorem 6, eq. (27) with the book's scaling (B ~ N(0, 1/m), no 1/m in front; book/conventions.md):
    E<delta_l(x_i), delta_l(x_j)> = F^l_ij + b/m + O(1/m^2), F^l_ij = 1/2 prod_{k=l..L} Sigma(rho^k).
    As for the forward kernel: means over many networks at m1 = 64 and m2 = 256, Richardson-
    extrapolated, (m2 E2 - m1 E1)/(m2 - m1), must be zero within z standard errors (CLT over
    independent seeds), z from the family-wise false-alarm rate ALPHA over the L n(n+1)/2 = 24
    tested entries (Bonferroni: z = 4.1).  Measured at these seeds: m x bias is about 1-2.5 in
    layer 1 and falls to about 0 at layer L (each step back through the shared W adds O(1/m)), the
    same at both widths within noise -- a b/m law; the bias is at most 0.02 at m = 64 (se <= 0.006)
    and 0.01 at m = 256 (se <= 0.0025, so resolved at 4 se), and the extrapolated standard error
    is at most 0.004, against which the O(1/m^2) remainder, c/(m1 m2), is negligible for any c
    below a few tens.

    Sensitivity: an entry off by more than (z + 2) se ~ 0.025 fails with probability >= 97.7%.
    At these inputs dropping the factor Sigma(rho^l) (product from l + 1) moves F by up to 0.05
    ("paper") and 0.18 ("algorithm1"), 1/2 Sigma(rho^l) alone (eq. 29's shape) by 0.12 and 0.27,
    and the paper's extra 1/m of eq. (27) by about 1/2 on the diagonal; doubling A's variance
    (0.045 and 0.018) is caught under "paper" only."""
    X = unit_sequences(3, 4, 3, seed=7)
    m1, r1, m2, r2 = 64, 4000, 256, 4000
    e1, s1 = backward_deviation(init, X, m1, r1, seed0=30_000)
    e2, s2 = backward_deviation(init, X, m2, r2, seed0=40_000)
    se = assert_richardson_zero(e1, s1, m1, e2, s2, m2)
    assert float(se.max()) < 0.006  # the power its docstring claims


def off_diagonal_mean_square(init, X, m, seeds, seed0):
    """Per network, the mean over l != l' and all i, j of <delta_l(x_i), delta_l'(x_j)>^2; returns
    the mean over networks and its standard error."""
    L = X.shape[1]
    off = ~torch.eye(L, dtype=torch.bool)
    ms = []
    for s in range(seeds):
        p = model.init_params(m, X.shape[2], L, init=init, generator=make_generator(seed0 + s, "cpu"))
        ms.append(empirical.backward_correlations(p, X)[off].square().mean())
    ms = torch.stack(ms)
    return float(ms.mean()), float(ms.std() / seeds**0.5)


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_cross_layer_backward_correlations_shrink_like_one_over_root_m(init):
    """Theorem 6, eq. (26): for l != l', <delta_l(x_i), delta_l'(x_j)> -> 0.  The paper bounds it by
    O~(m^(-1/4)).  Given W it is a quadratic form B^T M B (M a product of D's and at least one W)
    with mean tr(M)/m = O(1/m) and variance 2 ||M_sym||_F^2 / m^2 = O(1/m), so its mean square is
    c/m + O(1/m^2): the CLT rate m^(-1/2) in magnitude.
    With MS(m) the mean square over pairs, averaged over independent networks at m1 = 256 and
    m2 = 1024, the fitted exponent p = log(MS2/MS1) / log(m2/m1) must equal -1 within z standard
    errors (delta method: se_p^2 = ((s1/MS1)^2 + (s2/MS2)^2) / log(m2/m1)^2; z two-sided at ALPHA,
    3.3).  se_p is about 0.03, so the interval is about +-0.1: the paper's rate m^(-1/4) (p = -1/2)
    or no decay (p = 0) fail by more than 15 se.

    Why not m1 = 64: measured on other seeds, m MS(m) is 0.55 at 64 but 0.40-0.41 at 256 and
    1024 ("paper"; 0.42 against 0.354-0.358 under "algorithm1"), a finite-width correction that
    would bias p by -0.1 between 64 and 1024.  Between 256 and 1024 m MS(m) differs by less than
    5%, within two standard errors (at these seeds p = -1.03 +- 0.036 and -1.02 +- 0.022): a
    remaining correction of that size shifts p by at most 0.035, a third of the interval."""
    X = unit_sequences(3, 4, 3, seed=7)
    m1, r1, m2, r2 = 256, 1000, 1024, 200
    ms1, s1 = off_diagonal_mean_square(init, X, m1, r1, seed0=50_000)
    ms2, s2 = off_diagonal_mean_square(init, X, m2, r2, seed0=60_000)
    log_ratio = math.log(m2 / m1)
    p = math.log(ms2 / ms1) / log_ratio
    se_p = math.hypot(s1 / ms1, s2 / ms2) / log_ratio
    z = norm.ppf(1 - ALPHA / 2)
    assert abs(p + 1) <= z * se_p, (p, se_p, ms1, s1, ms2, s2)
    assert se_p < 0.05  # the power its docstring claims


def test_backward_vectors_and_empirical_ntk_cpu_equal_cuda(cuda_only):
    """The same float64 parameters on both devices: only the order of the BLAS sums differs
    (relative ~ m eps per product, 1e-13 at m = 256); an activation pattern could flip only for a
    pre-activation within that of 0, which these seeds do not produce.  1e-12, as for the forward
    correlations."""
    p = model.init_params(256, 3, 5, generator=make_generator(36, "cpu"), device="cpu")
    X = unit_sequences(6, 5, 3, seed=37)
    pc = p.replace(W=p.W.cuda(), A=p.A.cuda(), B=p.B.cuda(), M0=p.M0.cuda())
    torch.testing.assert_close(empirical.backward_vectors(pc, X.cuda()).cpu(),
                               empirical.backward_vectors(p, X), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(empirical.backward_correlations(pc, X.cuda()).cpu(),
                               empirical.backward_correlations(p, X), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(empirical.empirical_ntk(pc, X.cuda()).cpu(), empirical.empirical_ntk(p, X),
                               rtol=1e-12, atol=1e-12)


def test_backward_kernel_errors_match_a_direct_computation():
    """backward_kernel_errors (the Theorem 6 / eq. 23 sweep) against the same quantities computed
    directly from the public functions for one network: the normalised diagonal-block RMS, the
    RMS of the l != l' terms at lag 1 and the NTK's relative Frobenius error."""
    X = unit_sequences(5, 4, 3, seed=11)
    out = empirical.backward_kernel_errors(X, [48], 2, init="algorithm1", seed=30, device="cpu")
    assert out["diagonal"].shape == (1, 2, 4) and out["cross"].shape == (1, 2, 3)
    assert out["ntk"].shape == (1, 2) and out["ntk_literal"].shape == (1, 2)
    p = model.init_params(48, 3, 4, init="algorithm1", generator=make_generator(31, "cpu"))
    F = kernels.backward_kernel(X, init="algorithm1")
    K = kernels.forward_kernel(X, init="algorithm1")
    C = empirical.backward_correlations(p, X)
    iu = torch.triu_indices(5, 5)
    diag_rms = [float((2 * (C[l, l] - F[l])[iu[0], iu[1]]).square().mean().sqrt()) for l in range(4)]
    assert out["diagonal"][0, 1] == pytest.approx(diag_rms, rel=1e-10)
    lag1 = torch.stack([C[l, l + 1] for l in range(3)] + [C[l + 1, l] for l in range(3)])
    assert out["cross"][0, 1, 0] == pytest.approx(float((2 * lag1).square().mean().sqrt()), rel=1e-10)
    H = (F * K[:-1]).sum(0)
    ntk_err = float(torch.linalg.norm(empirical.empirical_ntk(p, X) - H) / torch.linalg.norm(H))
    assert out["ntk"][0, 1] == pytest.approx(ntk_err, rel=1e-10)


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_jacobian_ntk_is_the_gram_of_the_gradients(init):
    """jacobian_ntk (torch.func.jacrev) against the gradients of f(x_i) with respect to W one input at a
    time by torch.autograd.grad: the same numbers up to the rounding of m^2-term dot products (a
    forward-error bound m^2 eps relative to sqrt(H_ii H_jj), 1e-12 here)."""
    n, L, d, m = 4, 5, 3, 24
    p = model.init_params(m, d, L, init=init, generator=make_generator(60, "cpu"))
    X = unit_sequences(n, L, d, seed=61)
    grads = []
    for i in range(n):
        W = p.W.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(model.forward(p.replace(W=W), X[i:i + 1]).sum(), W)
        grads.append(g.reshape(-1))
    G = torch.stack(grads)
    ref = G @ G.T
    H = empirical.jacobian_ntk(p, X)
    scale = torch.sqrt(torch.diagonal(ref))
    tol = m * m * torch.finfo(torch.float64).eps
    assert H.shape == (n, n) and H.dtype == torch.float64
    assert float(((H - ref).abs() / (scale[:, None] * scale[None, :])).max()) <= tol
    with pytest.raises(ValueError, match="Jacobian would hold"):
        # n m^2 = 4 * 2100^2 > 2^24
        empirical.jacobian_ntk(model.init_params(2100, d, L, generator=make_generator(0, "cpu")), X)


def test_printed_ntk_pairs_the_backward_vectors_with_h_l():
    """printed_ntk is eq. (23) as printed, sum_{l,l'} <delta_l, delta_l'> <h_l, h_l'>, built here from
    backward_correlations and the hidden states by einsum (rounding 1e-12); it is far (> 1e-2
    relative) from the Gram matrix of the gradients, which empirical_ntk matches."""
    n, L, d, m = 5, 4, 3, 32
    p = model.init_params(m, d, L, generator=make_generator(62, "cpu"))
    X = unit_sequences(n, L, d, seed=63)
    dd = empirical.backward_correlations(p, X)                           # [l, l', i, j]
    h = empirical.hidden_states(p, X)[1:]                                  # h_1..h_L
    hh = torch.einsum("aim,bjm->abij", h, h)
    ref = (dd * hh).sum((0, 1))
    H = empirical.printed_ntk(p, X)
    torch.testing.assert_close(H, ref, rtol=1e-12, atol=1e-12 * float(ref.abs().max()))
    J = empirical.jacobian_ntk(p, X)
    scale = torch.sqrt(torch.diagonal(J))
    rel = lambda A: float(((A - J).abs() / (scale[:, None] * scale[None, :])).max())  # noqa: E731
    assert rel(H) > 1e-2 and rel(empirical.empirical_ntk(p, X)) < 1e-10
    # eq23_readings: the same two numbers, and its tolerance (m^2 + (L + 2) m) eps
    r = empirical.eq23_readings(p, X)
    assert r.error_previous == pytest.approx(rel(empirical.empirical_ntk(p, X)), abs=1e-15)
    assert r.error_printed == pytest.approx(rel(H), rel=1e-12)
    assert r.tolerance == pytest.approx((m * m + (L + 2) * m) * torch.finfo(torch.float64).eps)
    assert r.error_previous <= r.tolerance < r.error_printed


# ------------------------------------------ every output f_l = B^T h_l (Remark 3.2): finite width


def autograd_output_backward_vectors(p, X):
    """d f_l / d(pre-activation_k) for every output f_l = B^T h_l and step k by autograd through an
    independent re-implementation of eq. (14), one output at a time: shape (L, L, n, m), [l-1, k-1]."""
    n, L, _ = X.shape
    out = torch.zeros(L, L, n, p.m, dtype=X.dtype)
    for l in range(1, L + 1):
        h = torch.relu(p.M0).expand(n, p.m)
        zs = []
        for k in range(l):
            z = h @ p.W.T + X[:, k] @ p.A.T
            if k == 0:
                z.requires_grad_()
            zs.append(z)
            h = torch.relu(z)
        out[l - 1, :l] = torch.stack(torch.autograd.grad((h @ p.B).sum(), zs))
    return out


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_output_backward_vectors_are_gradients_of_every_output(init):
    """delta^(l)_k = d f_l / d(W h_{k-1} + A X_k) for f_l = B^T h_l (Remark 3.2): delta^(l)_l = D_l B,
    delta^(l)_k = D_k W^T delta^(l)_{k+1}, zero for k > l.  Autograd of each f_l through the plain
    recurrence: the same length-m dot products in another order, 1e-12 absolute on entries of size
    m^(-1/2) (as for backward_vectors); the last output's row is backward_vectors exactly."""
    m, n, L = 40, 5, 4
    p = model.init_params(m, 3, L, init=init, generator=make_generator(80, "cpu"))
    X = unit_sequences(n, L, 3, seed=81)
    delta = empirical.output_backward_vectors(p, X)
    assert delta.shape == (L, L, n, m) and delta.dtype == torch.float64
    torch.testing.assert_close(delta, autograd_output_backward_vectors(p, X), rtol=1e-12, atol=1e-12)
    assert torch.equal(delta[-1], empirical.backward_vectors(p, X))
    assert all(bool((delta[l, l + 1:] == 0).all()) for l in range(L))  # f_l does not see steps k > l


def test_cross_forward_correlations_are_the_gram_of_all_hidden_states():
    """<h_k(x_i), h_k'(x_j)> for all steps k, k' = 0..L: the diagonal blocks are forward_correlations
    exactly (the same products) and the rest an einsum of the hidden states to 1e-14."""
    p = model.init_params(48, 3, 4, generator=make_generator(82, "cpu"))
    X = unit_sequences(5, 4, 3, seed=83)
    C = empirical.cross_forward_correlations(p, X)
    h = empirical.hidden_states(p, X)
    assert C.shape == (5, 5, 5, 5)
    torch.testing.assert_close(C, torch.einsum("aim,bjm->abij", h, h), rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(torch.diagonal(C, dim1=0, dim2=1).permute(2, 0, 1),
                               empirical.forward_correlations(p, X), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("fn", [empirical.output_ntk, empirical.output_backward_vectors,
                                empirical.cross_forward_correlations])
def test_output_quantities_reject_bad_input(fn):
    p = model.init_params(8, 3, 2, generator=make_generator(84, "cpu"))
    X = unit_sequences(2, 2, 3, seed=85)
    with pytest.raises(TypeError, match="X has dtype torch.float32 but params have torch.float64"):
        fn(p, X.float())
    with pytest.raises(ValueError, match="X has d = 2 but params.A has 3 columns"):
        fn(p, X[..., :2])
    with pytest.raises(ValueError, match="X contains NaN"):
        fn(p, torch.full_like(X, float("nan")))
    with pytest.raises(TypeError, match="params must be RNNParams, got dict"):
        fn({"W": p.W}, X)


def output_deviations(init, X, m, seeds, seed0):
    """Normalised deviations of the finite-width kernels of every output and of every pair of
    steps from their infinite-width values, over independent networks (mean, standard error):
    (H^(m)(l,l')_ij - H^{(l,l')}_ij) / sqrt(H^{(l,l)}_ii H^{(l',l')}_jj), shape (L, L, n, n), and
    (<h_k(x_i), h_k'(x_j)> - K^{(k,k')}_ij) / sqrt(K^k_ii K^k'_jj), shape (L+1, L+1, n, n)."""
    H = kernels.output_ntk(X, init=init)
    K = kernels.cross_forward_kernel(X, init=init)
    sH = torch.sqrt(torch.diagonal(kernels.output_ntk_matrix(H)))
    sK = torch.sqrt(torch.diagonal(kernels.output_ntk_matrix(K)))
    L = X.shape[1]
    dH, dK = [], []
    for s in range(seeds):
        p = model.init_params(m, X.shape[2], L, init=init, generator=make_generator(seed0 + s, "cpu"))
        dH.append(kernels.output_ntk_matrix(empirical.output_ntk(p, X) - H) / sH[:, None] / sH[None, :])
        dK.append(kernels.output_ntk_matrix(empirical.cross_forward_correlations(p, X) - K)
                  / sK[:, None] / sK[None, :])
    dH, dK = torch.stack(dH), torch.stack(dK)
    return dH.mean(0), dH.std(0) / seeds**0.5, dK.mean(0), dK.std(0) / seeds**0.5


def richardson_z(e1, s1, m1, e2, s2, m2):
    """z-scores of the Richardson extrapolation (m2 e2 - m1 e1)/(m2 - m1) of two (N, N) symmetric
    block matrices of means (standard errors s1, s2), over the upper triangle; and its standard
    errors there."""
    iu = torch.triu_indices(e1.shape[0], e1.shape[0])
    ext = ((m2 * e2 - m1 * e1) / (m2 - m1))[iu[0], iu[1]]
    se = (torch.sqrt((m2 * s2) ** 2 + (m1 * s1) ** 2) / (m2 - m1))[iu[0], iu[1]]
    return ext / se, se, iu


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_monte_carlo_converges_to_the_output_kernels(init):
    """Remark 3.2's kernels of the outputs f_l = B^T h_l, derived in the book (kernels.output_ntk:
    gradient independence, cross-time forward kernels with K^{(0,k')} = sqrt(K^k')/pi).  As for
    Theorems 5 and 6 (test_monte_carlo_converges_to_the_forward_kernel): E[finite width] =
    limit + b/m + O(1/m^2), so the means over 600 networks at m1 = 64 and m2 = 256,
    Richardson-extrapolated, (m2 E2 - m1 E1)/(m2 - m1), must be zero within z standard errors
    (CLT over independent seeds), z two-sided from the family-wise false-alarm rate ALPHA,
    Bonferroni over the distinct entries of both block matrices ((L n)(L n + 1)/2 = 78 of H,
    ((L+1) n)((L+1) n + 1)/2 = 120 of K: z = 4.56).  Measured at these seeds: the extrapolation's
    standard errors are at most 0.021 (H) and 0.027 (K) -- asserted below at 0.035 -- so an entry
    off by (z + 2) 0.035 = 0.23 fails with probability >= 97.7%; the largest |z| is 2.9.

    The test can fail: at these inputs the normalised cross-output kernels H^{(l,l')}, l != l',
    reach 0.22 ("paper") and 0.40 ("algorithm1"), so Remark 3.2's "almost orthogonal" (all
    cross blocks 0) is rejected on the same data (checked: |z| up to 28 and 48); the cross-time
    forward kernel
    K^{(0,k')}/sqrt(K^0 K^k') = kappa(0) = 1/pi would be 0 if h_0 were orthogonal to h_k' and 1 if
    fully correlated -- both 0.32 or more away."""
    X = unit_sequences(3, 4, 3, seed=7)
    m1, r1, m2, r2 = 64, 600, 256, 600
    from rnnbook.runtime import cpu_threads

    # Products this small gain nothing from threads; on a loaded machine a second spinning thread
    # made this test 30 times slower.
    with cpu_threads(torch.device("cpu"), 1):
        eH1, sH1, eK1, sK1 = output_deviations(init, X, m1, r1, seed0=70_000)
        eH2, sH2, eK2, sK2 = output_deviations(init, X, m2, r2, seed0=80_000)
    zH, seH, iuH = richardson_z(eH1, sH1, m1, eH2, sH2, m2)
    zK, seK, _ = richardson_z(eK1, sK1, m1, eK2, sK2, m2)
    z = norm.ppf(1 - ALPHA / (2 * (zH.numel() + zK.numel())))
    assert float(zH.abs().max()) <= z, (zH, z)
    assert float(zK.abs().max()) <= z, (zK, z)
    assert float(seH.max()) < 0.035 and float(seK.max()) < 0.035  # the power its docstring claims
    # "Almost orthogonal" read as: the cross-output blocks tend to 0.  Same data, that limit:
    H = kernels.output_ntk_matrix(kernels.output_ntk(X, init=init))
    C = kernels.normalized(H)[iuH[0], iuH[1]]
    n = X.shape[0]
    cross = (iuH[0] // n) != (iuH[1] // n)
    z_orth = (zH * seH + C * cross) / seH  # deviations from the limit with the cross blocks set to 0
    assert float(z_orth.abs().max()) > z


def test_output_ntk_cpu_equals_cuda(cuda_only):
    """The same float64 parameters on both devices: BLAS summation order only (1e-12, as for
    empirical_ntk)."""
    p = model.init_params(256, 3, 5, generator=make_generator(86, "cpu"), device="cpu")
    X = unit_sequences(6, 5, 3, seed=87)
    pc = p.replace(W=p.W.cuda(), A=p.A.cuda(), B=p.B.cuda(), M0=p.M0.cuda())
    torch.testing.assert_close(empirical.output_ntk(pc, X.cuda()).cpu(), empirical.output_ntk(p, X),
                               rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(empirical.cross_forward_correlations(pc, X.cuda()).cpu(),
                               empirical.cross_forward_correlations(p, X), rtol=1e-12, atol=1e-12)


def closed_form_kernels(X, a):
    """K^0..K^L and F^1..F^L of eqs. (25) and (28) by their definitions, in numpy, one layer at a
    time: a reference independent of rnnbook.kernels' blocked recursion."""
    X = X.numpy()
    n, L, _ = X.shape
    K, Ks, sigmas = np.ones((n, n)), [np.ones((n, n))], []
    for l in range(L):
        S = K + a * X[:, l] @ X[:, l].T
        root = np.sqrt(np.diag(S))
        rho = np.clip(S / np.outer(root, root), -1.0, 1.0)
        np.fill_diagonal(rho, 1.0)  # exactly, by definition (arcsin amplifies rounding near 1)
        K = np.outer(root, root) * (np.sqrt(1 - rho**2) + (np.pi - np.arccos(rho)) * rho) / np.pi
        Ks.append(K)
        sigmas.append(0.5 + np.arcsin(rho) / np.pi)
    F = [0.5 * np.prod(sigmas[l:], axis=0) for l in range(L)]
    return np.array(Ks), np.array(F)


@pytest.mark.parametrize("init, a", [("paper", 1 / 5**3), ("algorithm1", 1.0)])
def test_ntk_limits_are_the_two_readings_of_eq23(init, a):
    """ntk_limits: H = sum_l F^l o K^{l-1} equals kernels.ntk (Horner's rule, another algorithm) and
    both H and eq. (23) as printed, sum_l F^l o K^l, equal the sums of a numpy reference built from
    the definitions (rounding 1e-12); the sweep backward_kernel_errors measures against the same two."""
    X = unit_sequences(6, 5, 3, seed=41)
    H, H_printed = empirical.ntk_limits(X, init=init)
    assert H.shape == H_printed.shape == (6, 6) and H.dtype == torch.float64
    torch.testing.assert_close(H, kernels.ntk(X, init=init), rtol=1e-12, atol=0)
    K, F = closed_form_kernels(X, a)
    torch.testing.assert_close(H, torch.from_numpy((F * K[:-1]).sum(0)), rtol=1e-12, atol=0)
    torch.testing.assert_close(H_printed, torch.from_numpy((F * K[1:]).sum(0)), rtol=1e-12, atol=0)
    assert float((H_printed - H).abs().max()) > 1e-3  # the two readings differ


def test_cross_rms_all_steps_is_the_rms_over_every_pair_of_steps():
    """cross_rms_all_steps combines the per-lag RMS of backward_kernel_errors into the RMS over all
    ordered l != l': against that RMS computed directly, for arbitrary mean squares per pair of
    steps and for a network's normalised backward correlations."""
    L = 6
    ms = torch.rand(2, L, L, generator=make_generator(5, "cpu"), dtype=torch.float64) ** 3
    lag = (torch.arange(L)[:, None] - torch.arange(L)[None, :]).abs()
    by_lag = torch.stack([ms[:, lag == k].mean(-1).sqrt() for k in range(1, L)], dim=-1)
    direct = ms[:, lag > 0].mean(-1).sqrt()
    torch.testing.assert_close(torch.from_numpy(empirical.cross_rms_all_steps(by_lag.numpy())), direct,
                               rtol=1e-14, atol=0)
    X = unit_sequences(4, 4, 3, seed=12)
    out = empirical.backward_kernel_errors(X, [32], 1, init="paper", seed=7, device="cpu")
    p = model.init_params(32, 3, 4, init="paper", generator=make_generator(7, "cpu"))
    Fd = torch.diagonal(kernels.backward_kernel(X, init="paper"), dim1=1, dim2=2)
    C = empirical.backward_correlations(p, X) / torch.sqrt(Fd[:, None, :, None] * Fd[None, :, None, :])
    off = torch.arange(4)[:, None] != torch.arange(4)[None, :]
    assert empirical.cross_rms_all_steps(out["cross"])[0, 0] == pytest.approx(
        float(C[off].square().mean().sqrt()), rel=1e-12)
    with pytest.raises(ValueError, match="last axis of lags"):
        empirical.cross_rms_all_steps(np.empty((3, 0)))


def test_network_quantiles_are_order_statistics_over_the_networks_axis():
    """network_quantiles: with 11 networks the median and the 90th percentile are the 6th and 10th
    smallest values exactly; with 8 they interpolate linearly between the order statistics at
    positions q (8 - 1) = 3.5 and 6.3."""
    g = np.random.default_rng(3)
    cases = {11: {"median": (5, 0.0), "q90": (9, 0.0)}, 8: {"median": (3, 0.5), "q90": (6, 0.3)}}
    for count, picks in cases.items():
        E = g.random((3, count, 2))
        s = np.sort(E, axis=1)
        out = empirical.network_quantiles(E)
        assert set(out) == set(empirical.NETWORK_QUANTILES) == set(picks)
        for name, (k, frac) in picks.items():
            expected = s[:, k] + frac * (s[:, min(k + 1, count - 1)] - s[:, k])
            assert out[name].shape == (3, 2)
            np.testing.assert_allclose(out[name], expected, rtol=1e-14, atol=0)
    with pytest.raises(ValueError, match="networks axis"):
        empirical.network_quantiles(np.zeros(3), axis=1)


# ------------------------------------------------------------------------------------------------
# The NTK with respect to each weight (wrt=): structured against torch.func, finite against the limit.

WRTS = ["W", "A", "B", "M0", ("W", "A"), ("B", "M0"), "all"]


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
@pytest.mark.parametrize("wrt", WRTS, ids=str)
def test_structured_ntk_equals_the_jacobian_gram_for_every_weight(wrt, init, device):
    """empirical_ntk(wrt=...) from the backward vectors against the Gram matrix of torch.func's
    Jacobian over the same weights: an identity at finite width, so equal up to rounding -- a
    forward-error bound (P + (L + 2) m) eps relative to sqrt(J_ii J_jj), P the number of weights
    (the Jacobian Gram's dot products have P terms, the structured ones (L + 2) m)."""
    n, L, d, m = 4, 5, 3, 24
    p = model.init_params(m, d, L, init=init, generator=make_generator(62, device), device=device)
    X = unit_sequences(n, L, d, seed=63, device=device)
    J = empirical.jacobian_ntk(p, X, wrt=wrt)
    H = empirical.empirical_ntk(p, X, wrt=wrt)
    assert torch.equal(H, H.T)
    P = sum(getattr(p, w).numel() for w in model.check_wrt(wrt))
    scale = torch.sqrt(torch.diagonal(J))
    err = float(((H - J).abs() / (scale[:, None] * scale[None, :])).max())
    assert err <= (P + (L + 2) * m) * torch.finfo(torch.float64).eps, err


def test_the_ntk_of_several_weights_is_the_sum_of_theirs():
    p = model.init_params(16, 3, 4, generator=make_generator(64, "cpu"))
    X = unit_sequences(5, 4, 3, seed=65)
    parts = sum(empirical.empirical_ntk(p, X, wrt=w) for w in p.weights)
    torch.testing.assert_close(empirical.empirical_ntk(p, X, wrt="all"), parts, rtol=1e-13, atol=0)
    assert torch.equal(empirical.empirical_ntk(p, X), empirical.empirical_ntk(p, X, wrt="W"))


def weight_deviations(init, X, m, seeds, seed0, wrts):
    """(H^(m) - H) / sqrt(H_ii H_jj) of the NTK of each weight in ``wrts`` over independent
    networks: mean and standard error, each of shape (len(wrts), n, n)."""
    limits = [kernels.ntk(X, init=init, wrt=w) for w in wrts]
    scales = [torch.sqrt(torch.diagonal(H)) for H in limits]
    devs = []
    for s in range(seeds):
        p = model.init_params(m, X.shape[2], X.shape[1], init=init,
                              generator=make_generator(seed0 + s, "cpu"))
        devs.append(torch.stack([(empirical.empirical_ntk(p, X, wrt=w) - H) / (r[:, None] * r[None, :])
                                 for w, H, r in zip(wrts, limits, scales, strict=True)]))
    devs = torch.stack(devs)
    return devs.mean(0), devs.std(0) / seeds**0.5


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_monte_carlo_converges_to_the_ntk_of_each_weight(init):
    """kernels.ntk(wrt=...) for A, B and M0 (H^A = sum_l F^l o P^l, H^B = K^L, H^{M0} = F^1, derived
    in its docstring) against finite width, as for Theorems 5 and 6: E[H^(m)] = H + b/m + O(1/m^2),
    so the means over 1500 networks at m1 = 64 and m2 = 256, Richardson-extrapolated,
    (m2 E2 - m1 E1)/(m2 - m1), must be zero within z standard errors (CLT over independent
    networks), z two-sided from the family-wise false-alarm rate ALPHA, Bonferroni over the
    3 x n(n+1)/2 = 18 distinct entries (z = 4.03).  Measured at these seeds: largest |z| 1.67
    ("paper") and 1.89 ("algorithm1"), standard errors at most 0.018.  Sensitivity: they are
    asserted below 0.03, so an entry off by (z + 2) 0.03 = 0.18 fails with probability >= 97.7%;
    H^{M0} without W's variance 2 in the last step back (F^1 / 2) or H^A with the lagged inputs
    P^{l-1} move normalised entries by 0.25 or more at these inputs and are rejected on the same
    data (the last lines)."""
    X = unit_sequences(3, 4, 3, seed=7)
    wrts = ["A", "B", "M0"]
    m1, r1, m2, r2 = 64, 1500, 256, 1500
    from rnnbook.runtime import cpu_threads

    with cpu_threads(torch.device("cpu"), 1):  # small products: one thread (see the output test)
        e1, s1 = weight_deviations(init, X, m1, r1, 90_000, wrts)
        e2, s2 = weight_deviations(init, X, m2, r2, 91_000, wrts)
    iu = torch.triu_indices(3, 3)
    ext = ((m2 * e2 - m1 * e1) / (m2 - m1))[:, iu[0], iu[1]]
    se = (torch.sqrt((m2 * s2) ** 2 + (m1 * s1) ** 2) / (m2 - m1))[:, iu[0], iu[1]]
    z = norm.ppf(1 - ALPHA / (2 * ext.numel()))
    assert float((ext / se).abs().max()) <= z, (ext / se, z)
    assert float(se.max()) < 0.03  # the power the docstring claims
    # The wrong limits named in the docstring would be rejected on the same data.
    F = kernels.backward_kernel(X, init=init)
    HM0 = kernels.ntk(X, init=init, wrt="M0")
    r = torch.sqrt(torch.diagonal(HM0))
    wrong = ((F[0] / 2 - HM0) / (r[:, None] * r[None, :]))[iu[0], iu[1]]
    assert float(((ext[2] - wrong) / se[2]).abs().max()) > z
    P = torch.einsum("ild,jld->lij", X, X)
    HA = kernels.ntk(X, init=init, wrt="A")
    lagged = (F[1:] * P[:-1]).sum(0)
    r = torch.sqrt(torch.diagonal(HA))
    wrong = ((lagged - HA) / (r[:, None] * r[None, :]))[iu[0], iu[1]]
    assert float(((ext[0] - wrong) / se[0]).abs().max()) > z
