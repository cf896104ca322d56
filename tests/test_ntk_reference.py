"""The structured empirical NTK of rnnbook.empirical against a brute-force reference: the Jacobian
of f with respect to W by torch.func.jacrev, shape (n, m, m), contracted to <grad_W f(x_i),
grad_W f(x_j)> (eq. 23).  Small sizes only: the reference materialises the (n x m^2) Jacobian."""

import pytest
import torch
from torch.func import jacrev

from rnnbook import empirical, linalg, model
from rnnbook.device import make_generator


def jacobian_ntk(p, X):
    """<grad_W f(x_i), grad_W f(x_j)> with f as a function of W alone, by reverse-mode autodiff
    through rnnbook.model.forward."""
    J = jacrev(lambda W: model.forward(p.replace(W=W), X))(p.W)
    assert J.shape == (X.shape[0], p.m, p.m)
    J = J.reshape(X.shape[0], -1)
    return J @ J.T


def tolerance(p, L):
    """A forward-error bound for both computations, relative to sqrt(H_ii H_jj) (Cauchy-Schwarz
    bounds every |H_ij| by it): a length-k dot product errs by at most k eps of the sum of its
    terms' magnitudes.  The reference sums m^2 products of Jacobian entries, the structured form
    runs L - 1 backward steps and two Gram products of length m: (m^2 + (L + 2) m) eps, about 1e-12
    in float64 at m = 64 (tighter than 1e-10) and 1.5e-4 in float32 at m = 32.  Every formula slip
    (h_l for h_{l-1}, dropping the l != l' terms) moves entries by 1e-2 or more."""
    return (p.m**2 + (L + 2) * p.m) * torch.finfo(p.dtype).eps


def assert_close_relative(H, ref, tol):
    d = torch.sqrt(torch.diagonal(ref))
    err = ((H - ref).abs() / (d[:, None] * d[None, :])).max()
    assert float(err) <= tol, (float(err), tol)


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
@pytest.mark.parametrize("m", [32, 64])
def test_empirical_ntk_equals_the_jacobian_gram(init, m, device):
    """Eq. (23) at width m, with h_{l-1} (book/conventions.md, 'Neural tangent kernel'): H^(m)_ij =
    sum_{l,l'} <delta_l(x_i), delta_l'(x_j)> <h_{l-1}(x_i), h_{l'-1}(x_j)> equals <grad_W f(x_i), grad_W
    f(x_j)> from the full Jacobian, for the default block size and blocks of 1 and 2 rows (see
    :func:`tolerance`)."""
    n, L, d = 5, 4, 3
    p = model.init_params(m, d, L, init=init, generator=make_generator(40 + m, device), device=device)
    X = torch.randn(n, L, d, generator=make_generator(41, device), dtype=torch.float64, device=device)
    ref = jacobian_ntk(p, X)
    tol = tolerance(p, L)
    for rows in (None, 1, 2):
        H = empirical.empirical_ntk(p, X, block_rows=rows)
        assert H.shape == (n, n) and H.dtype == torch.float64 and H.device == X.device
        assert_close_relative(H, ref, tol)
    # The test can fail: eq. (23) as printed (h_l in place of h_{l-1}) and the l = l' terms alone
    # are both far from the reference.
    f, states = model.forward(p, X, return_states=True)
    delta = empirical.backward_vectors(p, X, states=states)
    dd = torch.einsum("aim,bjm->abij", delta, delta)
    printed = (dd * torch.einsum("aim,bjm->abij", states.h[1:], states.h[1:])).sum((0, 1))
    same_layer = torch.diagonal(dd * torch.einsum("aim,bjm->abij", states.h[:-1], states.h[:-1]),
                                dim1=0, dim2=1).sum(-1)
    for wrong in (printed, same_layer):
        with pytest.raises(AssertionError):
            assert_close_relative(wrong, ref, 1e-2)


def test_empirical_ntk_float32():
    """The same identity in float32: both sides see the same float32 forward pass (so the same
    activation patterns) and differ only by rounding, within (m^2 + (L + 2) m) eps_32 ~ 1.5e-4
    relative (see :func:`tolerance`); the result stays float32."""
    n, L, d, m = 5, 4, 3, 32
    p = model.init_params(m, d, L, init="algorithm1", generator=make_generator(42, "cpu"),
                          dtype=torch.float32)
    X = torch.randn(n, L, d, generator=make_generator(43, "cpu"), dtype=torch.float32)
    ref = jacobian_ntk(p, X)
    for rows in (None, 1, 2):
        H = empirical.empirical_ntk(p, X, block_rows=rows)
        assert H.dtype == torch.float32
        assert_close_relative(H, ref, tolerance(p, L))


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_empirical_ntk_is_symmetric_psd(init):
    """H^(m) = J J^T is a Gram matrix: exactly symmetric (the upper triangle is mirrored) and PSD up
    to the eigensolver's rounding n eps ||H||_2 -- also with more inputs (40) than W has entries
    (m^2 = 36), where H^(m) is singular and its smallest eigenvalues sit at rounding level."""
    for n, m in ((12, 32), (40, 6)):
        L = 3
        p = model.init_params(m, 3, L, init=init, generator=make_generator(44 + n, "cpu"))
        X = torch.randn(n, L, 3, generator=make_generator(45, "cpu"), dtype=torch.float64)
        for rows in (None, 1, 7):
            H = empirical.empirical_ntk(p, X, block_rows=rows)
            assert torch.equal(H, H.T)
            assert linalg.psd_check(H).is_psd, (n, m, rows)
            assert bool((torch.diagonal(H) > 0).all())


def jacobian_output_ntk(p, X):
    """<grad_W f_l(x_i), grad_W f_l'(x_j)> for every pair of outputs f_l = B^T h_l (Remark 3.2), from
    the (n, L, m, m) Jacobian of an independent re-implementation of eq. (14) that returns every
    output, by torch.func.jacrev: shape (L, L, n, n), [l-1, l'-1, i, j]."""
    n, L, _ = X.shape

    def outputs(W):
        h = torch.relu(p.M0).expand(n, p.m)
        f = []
        for k in range(L):
            h = torch.relu(h @ W.T + X[:, k] @ p.A.T)
            f.append(h @ p.B)
        return torch.stack(f, dim=1)

    J = jacrev(outputs)(p.W)
    assert J.shape == (n, L, p.m, p.m)
    J = J.reshape(n, L, -1)
    return torch.einsum("iap,jbp->abij", J, J)


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
@pytest.mark.parametrize("m", [32, 64])
def test_output_ntk_equals_the_jacobian_grams(init, m):
    """Remark 3.2's kernels at width m: H^(m)(l,l')_ij = sum_{k<=l, k'<=l'} <delta^(l)_k(x_i),
    delta^(l')_k'(x_j)> <h_{k-1}(x_i), h_{k'-1}(x_j)> (empirical.output_ntk, no Jacobian) equals the
    Gram matrix of the Jacobians of all outputs, every block, relative to
    sqrt(H^(l,l)_ii H^(l',l')_jj) within the forward-error bound of :func:`tolerance` (both
    computations are at most as long as for the last output).  The last block is empirical_ntk.
    The test can fail: the cross-output blocks are not small (dropping them, or the chains'
    cross-step terms k != k', moves entries by more than 1e-2)."""
    from rnnbook import kernels

    n, L, d = 4, 4, 3
    p = model.init_params(m, d, L, init=init, generator=make_generator(90 + m, "cpu"))
    X = torch.randn(n, L, d, generator=make_generator(91, "cpu"), dtype=torch.float64)
    ref = jacobian_output_ntk(p, X)
    H = empirical.output_ntk(p, X)
    assert H.shape == (L, L, n, n) and H.dtype == torch.float64
    scale = torch.sqrt(torch.diagonal(kernels.output_ntk_matrix(ref)))

    def err(A):
        D = kernels.output_ntk_matrix(A - ref)
        return float((D.abs() / scale[:, None] / scale[None, :]).max())

    assert err(H) <= tolerance(p, L), (err(H), tolerance(p, L))
    assert_close_relative(H[-1, -1], empirical.empirical_ntk(p, X), tolerance(p, L))
    assert torch.equal(kernels.output_ntk_matrix(H), kernels.output_ntk_matrix(H).T)
    block_diagonal = H * torch.eye(L, dtype=H.dtype)[:, :, None, None]
    delta = empirical.output_backward_vectors(p, X)
    hs = empirical.hidden_states(p, X)[:L]
    same_step = torch.einsum("akim,bkjm,kij->abij", delta, delta, torch.einsum("kim,kjm->kij", hs, hs))
    assert err(block_diagonal) > 1e-2 and err(same_step) > 1e-2
