"""Tests of rnnbook.data: input sequences of Section 2.2, labelled data with Theorem 2's margin,
and conditioned samples."""

import math

import pytest
import torch

from rnnbook import concepts as C
from rnnbook import data
from rnnbook import series as S
from rnnbook.device import make_generator

# Two-sided standard-normal quantile for a false-alarm rate of 1e-6 per Monte Carlo check:
# P(abs(Z) > 4.892) = 1e-6.
Z_1E6 = 4.892


# ----------------------------------------------------------------------------------------------
# Input sequences (Section 2.2: c_min <= norm(X_l) <= c_max).


def test_sequences_shape_dtype_device_and_norm_bounds(device):
    X = data.sample_sequences(500, 7, 4, c_min=0.5, c_max=3.0, seed=1, device=device)
    assert X.shape == (500, 7, 4) and X.dtype == torch.float64 and X.device.type == device
    norms = torch.linalg.vector_norm(X, dim=-1)
    # one rounding of the normalisation: relative 1e-12 is generous
    assert float(norms.min()) >= 0.5 * (1 - 1e-12)
    assert float(norms.max()) <= 3.0 * (1 + 1e-12)
    assert 1 <= data.norm_ratio(X) <= 6.0 * (1 + 1e-12)


def test_sequences_unit_norm_when_c_min_equals_c_max(device):
    X = data.sample_sequences(50, 3, 5, seed=0, device=device)
    torch.testing.assert_close(torch.linalg.vector_norm(X, dim=-1),
                               torch.ones(50, 3, dtype=torch.float64, device=device),
                               rtol=0, atol=1e-14)


def test_sequences_float32(device):
    X = data.sample_sequences(10, 2, 3, seed=0, device=device, dtype=torch.float32)
    assert X.dtype == torch.float32


def test_sequences_monte_carlo_moments(device):
    # Norms uniform on [a, b]: mean (a+b)/2, variance (b-a)^2/12.  Directions uniform on S^{d-1}:
    # E u_1 = 0 with Var u_1 = 1/d, and E u_1^2 = 1/d with Var u_1^2 = E u_1^4 - 1/d^2
    # = 3/(d(d+2)) - 1/d^2.  Each check: tolerance Z_1E6 standard errors (false alarm 1e-6).
    a, b, d, n = 0.5, 2.0, 5, 20_000
    X = data.sample_sequences(n, 1, d, c_min=a, c_max=b, seed=7, device=device)[:, 0, :]
    r = torch.linalg.vector_norm(X, dim=-1)
    u1 = (X[:, 0] / r)
    assert abs(float(r.mean()) - (a + b) / 2) <= Z_1E6 * math.sqrt((b - a) ** 2 / 12 / n)
    assert abs(float(u1.mean())) <= Z_1E6 * math.sqrt(1 / d / n)
    var_u1sq = 3 / (d * (d + 2)) - 1 / d**2
    assert abs(float((u1**2).mean()) - 1 / d) <= Z_1E6 * math.sqrt(var_u1sq / n)


def test_sequences_deterministic_by_seed(device):
    a = data.sample_sequences(20, 4, 3, c_min=1, c_max=2, seed=5, device=device)
    b = data.sample_sequences(20, 4, 3, c_min=1, c_max=2, seed=5, device=device)
    c = data.sample_sequences(20, 4, 3, c_min=1, c_max=2, seed=6, device=device)
    g = data.sample_sequences(20, 4, 3, c_min=1, c_max=2, generator=make_generator(5, device))
    assert torch.equal(a, b) and torch.equal(a, g) and not torch.equal(a, c)


@pytest.mark.parametrize("kwargs, match", [
    (dict(c_min=0.0), "c_min"),
    (dict(c_min=-1.0), "c_min"),
    (dict(c_min=2.0, c_max=1.0), "c_min"),
    (dict(c_max=math.inf), "c_max"),
    (dict(c_min=math.nan), "c_min"),
])
def test_sequences_bad_norm_range(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.sample_sequences(3, 2, 2, seed=0, **kwargs)


def test_sequences_bad_sizes_and_seeds():
    with pytest.raises(ValueError, match="n"):
        data.sample_sequences(0, 2, 2, seed=0)
    with pytest.raises(ValueError, match="L"):
        data.sample_sequences(2, 0, 2, seed=0)
    with pytest.raises(TypeError, match="seed"):
        data.sample_sequences(2, 2, 2)
    with pytest.raises(ValueError, match="generator or seed"):
        data.sample_sequences(2, 2, 2, seed=1, generator=make_generator(1, "cpu"))
    with pytest.raises(TypeError, match="dtype"):
        data.sample_sequences(2, 2, 2, seed=1, dtype=torch.int64)


# ----------------------------------------------------------------------------------------------
# Labelled data with margin (Theorem 2: y_i F*(x_i) >= 1 for all i).


@pytest.mark.parametrize("method", ["rescale", "reject"])
def test_margin_holds_for_every_sample(method, device):
    t = C.random_additive_target(6, 4, S.sin(), seed=2)
    D = data.labelled_data(t, 500, c_min=0.5, c_max=2.0, method=method, seed=3, device=device)
    assert D.X.shape == (500, 6, 4) and D.X.device.type == device
    assert bool(((D.y * D.f_star) >= 1).all()) and D.margin >= 1
    assert set(D.y.unique().tolist()) <= {-1.0, 1.0}
    torch.testing.assert_close(D.f_star, D.target(D.X), rtol=0, atol=0)
    torch.testing.assert_close(D.y, torch.sign(D.base_target(D.X)))
    norms = torch.linalg.vector_norm(D.X, dim=-1)
    assert float(norms.min()) >= 0.5 * (1 - 1e-12) and float(norms.max()) <= 2.0 * (1 + 1e-12)
    assert D.c0 == 4.0
    assert D.complexity.log_value == pytest.approx(D.target.complexity(4.0).log_value)
    if method == "rescale":
        # the smallest admissible factor: 1 / min abs(F*), up to the few ulps rounding may add
        assert D.scale == pytest.approx(1 / float(D.base_target(D.X).abs().min()), rel=1e-13)
        assert D.margin == pytest.approx(1.0, rel=1e-13)
        assert D.acceptance_rate == 1.0 and D.n_drawn == 500
    else:
        assert D.scale == 1.0 and D.threshold == 1.0 and D.n_drawn >= 500
        assert 0 < D.acceptance_rate <= 1 and round(D.acceptance_rate * D.n_drawn) >= 500


def test_labelled_data_deterministic_by_seed():
    t = C.random_n_variable_target(5, 3, (1, 5), S.sin(), n_terms=2, seed=0)
    for method in ("rescale", "reject"):
        kw = dict(threshold=0.3) if method == "reject" else {}
        a = data.labelled_data(t, 200, method=method, seed=4, device="cpu", **kw)
        b = data.labelled_data(t, 200, method=method, seed=4, device="cpu", **kw)
        assert torch.equal(a.X, b.X) and torch.equal(a.f_star, b.f_star) and a.scale == b.scale


def test_rejection_threshold_rescales_target():
    t = C.random_additive_target(4, 3, S.sin(), seed=0)
    D = data.labelled_data(t, 300, method="reject", threshold=0.5, seed=1)
    assert D.scale == pytest.approx(2.0, rel=1e-14)
    assert float(D.base_target(D.X).abs().min()) >= 0.5
    assert D.margin >= 1


def test_scaled_complexity_reported():
    # C(s F*) = L^3.5 sum (1 + s (C(psi, R) - 1)): the data set reports it exactly.
    t = C.random_additive_target(3, 2, S.sin(), seed=0)
    D = data.labelled_data(t, 100, seed=5)
    R = math.sqrt(3)
    want = 3**3.5 * 3 * (1 + D.scale * R * math.cosh(R))
    assert D.complexity.value == pytest.approx(want, rel=1e-12)
    assert D.base_complexity.value == pytest.approx(3**3.5 * 3 * (1 + R * math.cosh(R)), rel=1e-12)


def test_label_balance_and_acceptance_monte_carlo():
    # sin is odd and the input law is symmetric (x -> -x), so P(y = +1) = 1/2: the label balance
    # of n samples is within Z_1E6 sqrt(1/(4n)) of 1/2 (false alarm 1e-6).  The acceptance rate of
    # rejection (threshold 1) estimates p = P(abs(F*) >= 1); an independent sample of m draws
    # estimates the same p, and the two differ by at most Z_1E6 sqrt(p(1-p)(1/n_drawn + 1/m)).
    t = C.random_additive_target(10, 8, S.sin(), seed=0)
    n = 4000
    D = data.labelled_data(t, n, seed=1)
    assert abs(D.label_balance - 0.5) <= Z_1E6 * math.sqrt(0.25 / n)
    R = data.labelled_data(t, 2000, method="reject", seed=2)
    m = 20_000
    X = data.sample_sequences(m, 10, 8, seed=3, device="cpu")
    p = float((t(X).abs() >= 1).double().mean())
    sd = math.sqrt(p * (1 - p) * (1 / R.n_drawn + 1 / m))
    assert abs(R.acceptance_rate - p) <= Z_1E6 * sd


def _sign_difference_target():
    # L = 2, d = 1: X_l / norm(X_l) = +-1, F* = u_1 - u_2 in {-2, 0, 2}: zero half the time.
    return C.additive_target(2, 1, [(1, S.polynomial([0.0, 1.0]), [1.0]),
                                    (2, S.polynomial([0.0, -1.0]), [1.0])])


def test_zero_f_star_is_an_error():
    with pytest.raises(ValueError, match="identically zero"):
        data.labelled_data(C.additive_target(3, 2, [(1, S.polynomial([0.0]), [1.0, 0.0])]), 10, seed=0)
    with pytest.raises(ValueError, match="identically zero"):
        data.labelled_data(C.additive_target(3, 2, [(1, S.sin(), [0.0, 0.0])]), 10, seed=0,
                        method="reject")
    with pytest.raises(ValueError, match=r"F\*\(x_i\) = 0"):
        data.labelled_data(_sign_difference_target(), 50, seed=0)
    # rejection simply discards the zeros
    D = data.labelled_data(_sign_difference_target(), 50, seed=0, method="reject")
    assert bool((D.f_star.abs() == 2).all())


def test_impossible_rejection_is_an_error():
    t = C.additive_target(2, 8, [(1, S.polynomial([0.0, 1.0]), [1.0] + [0.0] * 7)])  # F* = u_1
    with pytest.raises(ValueError, match="threshold"):
        data.labelled_data(t, 10, method="reject", threshold=1.5, seed=0)  # sup abs(F*) = 1
    # P(u_1 >= 0.9999) on S^7 is about 1e-14: the draw cap is reached with nothing accepted
    with pytest.raises(RuntimeError, match="acceptance rate 0"):
        data.labelled_data(t, 10, method="reject", threshold=0.9999, max_draws=5000, seed=0)
    # P(abs(u_1) >= 0.5) is about 0.15 on S^7: 100 draws cannot give 90 samples
    with pytest.raises(RuntimeError, match="max_draws"):
        data.labelled_data(t, 90, method="reject", threshold=0.5, max_draws=100, seed=0)


def test_labelled_data_bad_arguments():
    t = C.random_additive_target(3, 2, S.sin(), seed=0)
    with pytest.raises(ValueError, match="method"):
        data.labelled_data(t, 10, method="clip", seed=0)
    with pytest.raises(ValueError, match="threshold"):
        data.labelled_data(t, 10, threshold=0.5, seed=0)
    with pytest.raises(ValueError, match="threshold"):
        data.labelled_data(t, 10, method="reject", threshold=-1.0, seed=0)
    with pytest.raises(ValueError, match="c_min"):
        data.labelled_data(t, 10, c_min=2.0, c_max=1.0, seed=0)
    with pytest.raises(ValueError, match="n"):
        data.labelled_data(t, 0, seed=0)
    with pytest.raises(TypeError, match="target"):
        data.labelled_data("F*", 10, seed=0)
    with pytest.raises(TypeError, match="seed"):
        data.labelled_data(t, 10)


def test_margin_sample_conditions_on_a_quantile():
    """Theorem 2's margin by conditioning: kept inputs are exactly the first n with abs(F*) >= t,
    t the quantile of abs(F*) over the pool, and F*/t >= 1 in absolute value there."""
    target = C.random_additive_target(4, 3, S.sin(), seed=0)
    X = data.sample_sequences(500, 4, 3, seed=1)
    f = target(X)
    s = data.margin_sample(target, X, 100, quantile=0.3)
    t = float(torch.quantile(f.abs(), 0.3))
    assert s.threshold == pytest.approx(t, rel=1e-15)
    expected = [i for i in range(500) if abs(float(f[i])) >= t][:100]
    assert s.index.tolist() == expected
    assert bool((s.f_star.abs() >= 1).all())
    torch.testing.assert_close(s.f_star, f[s.index] / t, rtol=1e-13, atol=0)
    # nested: a smaller n is a prefix
    assert data.margin_sample(target, X, 40, quantile=0.3).index.tolist() == expected[:40]
    with pytest.raises(ValueError, match="fewer than n"):
        data.margin_sample(target, X, 450, quantile=0.3)
    with pytest.raises(ValueError, match="quantile"):
        data.margin_sample(target, X, 10, quantile=1.0)
    with pytest.raises(TypeError, match="target"):
        data.margin_sample("sin", X, 10)
