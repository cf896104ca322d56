"""Tests of rnnbook.model: the RNN of eq. (14) and its two initialisations (Section 3 and
Algorithm 1)."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from rnnbook import model
from rnnbook.device import make_generator

# Two-sided false-alarm rate of every statistical check in this file.
ALPHA = 1e-6
Z = norm.ppf(1 - ALPHA / 2)


def naive_forward(p, X):
    """Eq. (14) one sequence and one step at a time, straight from the formula."""
    out, states = [], []
    for x in X:
        h = torch.clamp(p.M0, min=0)
        hs = [h]
        for Xl in x:
            h = torch.clamp(p.W @ h + p.A @ Xl, min=0)
            hs.append(h)
        out.append(p.B @ h)
        states.append(torch.stack(hs))
    return torch.stack(out), torch.stack(states, dim=1)


@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_init_variances_match_section_3_and_algorithm_1(init, device):
    m, d, L = 512, 7, 5
    p = model.init_params(m, d, L, init=init, generator=make_generator(1, device), device=device)
    expected = {"W": 2 / m, "M0": 2 / m, "B": 1 / m, "A": (2 / L**3 if init == "paper" else 2) / m}
    for name, var in expected.items():
        x = getattr(p, name).flatten()
        # The sample variance of N Gaussians has relative standard error sqrt(2 / N).
        rel = abs(float(x.var()) / var - 1)
        assert rel <= Z * math.sqrt(2 / x.numel()), (name, rel)
        assert abs(float(x.mean())) <= Z * math.sqrt(var / x.numel()), name
    assert (p.m, p.d, p.L, p.init, p.device.type) == (m, d, L, init, torch.device(device).type)


def test_init_a_of_the_kernel_recursion():
    assert model.get_init("paper").a(10) == pytest.approx(1e-3, rel=1e-15)
    assert model.get_init("algorithm1").a(10) == 1.0


def test_init_is_deterministic_by_seed(device):
    a = model.init_params(64, 3, 4, generator=make_generator(5, device), device=device)
    b = model.init_params(64, 3, 4, generator=make_generator(5, device), device=device)
    c = model.init_params(64, 3, 4, generator=make_generator(6, device), device=device)
    assert all(torch.equal(getattr(a, f), getattr(b, f)) for f in "W A B M0".split())
    assert not torch.equal(a.W, c.W)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("init", ["paper", "algorithm1"])
def test_forward_matches_the_formula_step_by_step(init, dtype, device):
    p = model.init_params(40, 3, 6, init=init, generator=make_generator(2, device), dtype=dtype,
                          device=device)
    X = torch.randn(5, 6, 3, generator=make_generator(3, device), dtype=dtype, device=device)
    f, traj = model.forward(p, X, return_states=True)
    f_ref, h_ref = naive_forward(p, X)
    tol = {torch.float32: 1e-5, torch.float64: 1e-12}[dtype]
    torch.testing.assert_close(f, f_ref, rtol=tol, atol=tol)
    torch.testing.assert_close(traj.h, h_ref, rtol=tol, atol=tol)
    assert torch.equal(model.forward(p, X), f)
    assert f.dtype == dtype and traj.h.shape == (7, 5, 40) and traj.D.shape == (6, 5, 40)
    # h_0 = relu(M0) for every input; D_l marks exactly the positive pre-activations of eq. (21).
    assert torch.equal(traj.h[0], torch.relu(p.M0).expand(5, 40))
    assert torch.equal(traj.D, traj.h[1:] > 0)


def test_forward_accepts_numpy_in_the_params_dtype():
    p = model.init_params(16, 2, 3, generator=make_generator(4, "cpu"), device="cpu")
    X = np.random.default_rng(0).normal(size=(4, 3, 2))
    f = model.forward(p, X)
    assert torch.equal(f, model.forward(p, torch.as_tensor(X)))


def test_cpu_equals_cuda(cuda_only):
    p = model.init_params(128, 3, 5, generator=make_generator(7, "cpu"), device="cpu")
    X = torch.randn(6, 5, 3, generator=make_generator(8, "cpu"), dtype=torch.float64)
    pc = model.RNNParams(*(t.cuda() for t in (p.W, p.A, p.B, p.M0)), init=p.init, L=p.L)
    torch.testing.assert_close(model.forward(pc, X.cuda()).cpu(), model.forward(p, X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"m": 0}, ValueError, "m must be >= 1"),
        ({"m": 2.0}, TypeError, "m must be an int"),
        ({"d": 0}, ValueError, "d must be >= 1"),
        ({"L": 0}, ValueError, "L must be >= 1"),
        ({"init": "xavier"}, ValueError, "unknown init 'xavier'"),
        ({"dtype": torch.int64}, TypeError, "dtype"),
    ],
)
def test_init_params_rejects_bad_input(kwargs, exc, match):
    args = {"m": 8, "d": 2, "L": 3} | kwargs
    m, d, L = args.pop("m"), args.pop("d"), args.pop("L")
    with pytest.raises(exc, match=match):
        model.init_params(m, d, L, **args)


def test_forward_rejects_bad_input():
    p = model.init_params(8, 2, 3, generator=make_generator(0, "cpu"), device="cpu")
    with pytest.raises(ValueError, match=r"X must have shape \(n, L, d\)"):
        model.forward(p, torch.zeros(3, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="X must have n, L, d >= 1"):
        model.forward(p, torch.zeros(3, 0, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="X contains NaN"):
        model.forward(p, torch.full((1, 3, 2), math.nan, dtype=torch.float64))
    with pytest.raises(ValueError, match="X has d = 5"):
        model.forward(p, torch.zeros(1, 3, 5, dtype=torch.float64))
    with pytest.raises(TypeError, match="X has dtype torch.float32"):
        model.forward(p, torch.zeros(1, 3, 2, dtype=torch.float32))
    with pytest.raises(TypeError, match="params must be RNNParams"):
        model.forward({"W": p.W}, torch.zeros(1, 3, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="params.A must be"):
        model.RNNParams(W=p.W, A=p.A[:4], B=p.B, M0=p.M0)
    with pytest.raises(ValueError, match="share one dtype"):
        model.RNNParams(W=p.W, A=p.A.float(), B=p.B, M0=p.M0)


def test_params_refuse_non_finite_meta_and_empty_weights():
    p = model.init_params(4, 2, 3, generator=make_generator(0, "cpu"))
    for name in ("W", "A", "B", "M0"):
        bad = getattr(p, name).clone()
        bad.view(-1)[0] = float("nan")
        with pytest.raises(ValueError, match=f"params.{name} contains NaN"):
            p.replace(**{name: bad})
    with pytest.raises(ValueError, match="meta tensors"):
        p.replace(**{k: getattr(p, k).to("meta") for k in ("W", "A", "B", "M0")})
    with pytest.raises(ValueError, match="d >= 1"):
        p.replace(A=p.A[:, :0])
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        model.init_params(4, 2, 3, generator="x")


def test_inputs_of_another_length_need_an_explicit_override():
    """Section 3's A has variance 2/(L^3 m): inputs of another length would silently use the wrong
    scale.  Algorithm 1's A does not depend on L, and params.replace(L=None) is the override."""
    X = torch.randn(2, 5, 2, generator=make_generator(1, "cpu"), dtype=torch.float64)
    p = model.init_params(4, 2, 3, init="paper", generator=make_generator(0, "cpu"))
    with pytest.raises(ValueError, match="drawn for L = 3"):
        model.forward(p, X)
    assert model.forward(p.replace(L=None), X).shape == (2,)
    q = model.init_params(4, 2, 3, init="algorithm1", generator=make_generator(0, "cpu"))
    assert model.forward(q, X).shape == (2,)


def test_detached_params_and_memory_refusal():
    p = model.init_params(4, 2, 3, generator=make_generator(0, "cpu"))
    g = p.replace(W=p.W.clone().requires_grad_(True))
    assert not g.detach().W.requires_grad and torch.equal(g.detach().W, p.W)
    assert p.detach() is p
    with pytest.raises(MemoryError, match=r"init_params\(m=10000000, d=2\) needs about"):
        model.init_params(10**7, 2, 3, device="cpu")
