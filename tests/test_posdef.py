"""Tests of rnnbook.posdef: Propositions 2.1-2.4 of the paper."""

import math

import pytest
import torch

from rnnbook import linalg, posdef, series
from rnnbook.device import make_generator

PD_KERNELS = {
    "linear": posdef.linear_kernel(),
    "gaussian": posdef.gaussian_kernel(0.7),
    "exp(<x,y>)": posdef.dot_product_kernel(series.exp()),
    "arcsin(<x,y>)": posdef.dot_product_kernel(series.arcsin().scaled(0.99)),
    "1/(1-<x,y>/2)": posdef.dot_product_kernel(series.geometric().scaled(0.5)),
}


@pytest.mark.parametrize("name", sorted(PD_KERNELS))
def test_prop_2_1_gram_of_pd_kernel_is_psd(name, device):
    g = make_generator(11, device)
    for chk in posdef.min_eigenvalues(PD_KERNELS[name], n=30, d=4, trials=5, generator=g):
        assert chk.is_psd, (name, chk)


def test_prop_2_2_schur_product_is_psd(device):
    g = make_generator(12, device)
    k = posdef.product_kernel(posdef.gaussian_kernel(1.3),
                              posdef.dot_product_kernel(series.arcsin().scaled(0.9)))
    assert all(c.is_psd for c in posdef.min_eigenvalues(k, n=30, d=3, trials=5, generator=g))


def test_prop_2_3_negative_coefficient_breaks_pd(device):
    # 1 - z^2 of <x, y> on the sphere: zero diagonal, non-zero off-diagonal, so trace 0 and some
    # eigenvalue is negative -- far beyond rounding.
    g = make_generator(13, device)
    k = posdef.dot_product_kernel(series.polynomial([1.0, 0.0, -1.0]))
    for chk in posdef.min_eigenvalues(k, n=20, d=50, trials=3, generator=g):
        assert chk.margin < -1e6


def test_psd_check_tolerance_is_rounding_scale():
    # A rank-1 Gram matrix u u^T is PSD but eigvalsh may return -1e-17: within tolerance.
    u = torch.linspace(-1, 1, 50, dtype=torch.float64)
    chk = linalg.psd_check(torch.outer(u, u))
    assert chk.is_psd and abs(chk.min_eigenvalue) <= chk.tolerance
    assert chk.tolerance == pytest.approx(50 * 2.0**-52 * float(u @ u), rel=1e-12)
    assert not linalg.is_psd(torch.diag(torch.tensor([1.0, -1e-6], dtype=torch.float64)))


def test_monomial_kernel_and_targets_by_hand():
    X = torch.tensor([[1.0, 0.0], [0.6, 0.8]], dtype=torch.float64)
    assert torch.allclose(posdef.monomial_kernel(X, 3), torch.tensor([[1.0, 0.216], [0.216, 1.0]],
                                                                 dtype=torch.float64))
    assert torch.allclose(posdef.monomial_targets(X, [0.0, 1.0], 2), torch.tensor([0.0, 0.64],
                                                                             dtype=torch.float64))


@pytest.mark.parametrize("p", [1, 2, 3])
def test_prop_2_4_holds_and_is_tight_once_n_exceeds_rank(p):
    # sqrt(y^T M^-1 y) <= ||beta||^p / alpha; with n >> binom(d+p-1, p) the tensor beta^(x)p lies in
    # the span of the x_i^(x)p and the ridge is tiny, so the ratio approaches 1 from below.
    g = make_generator(14, "cpu")
    for n in (4, 60):
        t = posdef.prop24_trial(n=n, d=3, p=p, alpha=0.5, ridge=1e-8, generator=g)
        assert t.ratio <= 1 + 1e-9
        assert t.alpha_max >= t.alpha * (1 - 1e-12)
    assert t.ratio > 1 - 1e-4


def test_bad_input():
    with pytest.raises(ValueError, match="square"):
        linalg.psd_check(torch.ones(2, 3))
    with pytest.raises(ValueError, match="symmetric"):
        linalg.psd_check(torch.tensor([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="NaN"):
        linalg.psd_check(torch.tensor([[1.0, math.nan], [math.nan, 1.0]]))
    with pytest.raises(ValueError, match="X must have shape"):
        posdef.gram(posdef.linear_kernel(), torch.ones(3))
    with pytest.raises(ValueError, match="beta"):
        posdef.monomial_targets(torch.ones(3, 2), [1.0, 0.0, 0.0], 2)
    with pytest.raises(ValueError, match="radius"):
        posdef.gram(posdef.dot_product_kernel(series.geometric()), torch.eye(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="bandwidth"):
        posdef.gaussian_kernel(0.0)
    with pytest.raises(ValueError, match="ridge"):
        posdef.prop24_trial(n=3, d=2, p=1, alpha=1.0, ridge=0.0, generator=make_generator(0, "cpu"))


def test_cpu_and_cuda_agree(cuda_only):
    X = posdef.sphere(25, 4, generator=make_generator(5, "cpu"))
    k = posdef.product_kernel(posdef.gaussian_kernel(), posdef.dot_product_kernel(series.exp()))
    a, b = posdef.gram(k, X), posdef.gram(k, X.cuda()).cpu()
    assert torch.allclose(a, b, rtol=1e-12, atol=1e-14)
    assert linalg.psd_check(a).min_eigenvalue == pytest.approx(linalg.psd_check(b).min_eigenvalue,
                                                           rel=1e-8, abs=1e-13)


@pytest.mark.parametrize(("d", "p"), [(3, 1), (3, 2), (3, 4), (2, 5), (4, 3)])
def test_symmetric_power_dim_is_the_rank_of_k_p(d, p):
    # binom(d+p-1, p) against the numerical rank of K_p on many more points than that.
    assert posdef.symmetric_power_dim(d, p) == math.comb(d + p - 1, p)
    X = posdef.sphere(120, d, generator=make_generator(21, "cpu"))
    lam = torch.linalg.eigvalsh(posdef.monomial_kernel(X, p))
    rank = int((lam > 1e-9 * lam[-1]).sum())
    assert rank == posdef.symmetric_power_dim(d, p)
    assert posdef.symmetric_power_dim(5, 0) == 1  # K_0 is the all-ones matrix


def test_prop24_trial_reports_the_solves_rounding_bound():
    t = posdef.prop24_trial(n=30, d=3, p=2, alpha=0.5, ridge=1e-6, generator=make_generator(3, "cpu"))
    assert t.relative_error_bound == 30 * torch.finfo(torch.float64).eps * t.condition
