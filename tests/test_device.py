"""Tests of rnnbook.device: the device/dtype/seed policy."""

import pytest
import torch

from rnnbook import device as D


def test_env_var_selects_cpu(monkeypatch):
    monkeypatch.setenv("RNNBOOK_DEVICE", "cpu")
    assert D.get_device() == torch.device("cpu")


def test_default_is_cuda_when_available(monkeypatch):
    monkeypatch.delenv("RNNBOOK_DEVICE", raising=False)
    assert D.get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "cpu:0", "tpu"])
def test_unknown_device_is_a_clear_error(monkeypatch, bad):
    monkeypatch.setenv("RNNBOOK_DEVICE", bad)
    with pytest.raises(ValueError, match="RNNBOOK_DEVICE"):
        D.get_device()


def test_unavailable_cuda_is_an_error():
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA device"):
            D.get_device(f"cuda:{torch.cuda.device_count()}")
    else:
        with pytest.raises(ValueError, match="CUDA is not available"):
            D.get_device("cuda")


def test_available_devices_lists_cpu_first():
    devs = D.available_devices()
    assert devs[0] == "cpu" and ("cuda" in devs) == torch.cuda.is_available()


def test_generator_is_deterministic(device):
    a = torch.randn(5, generator=D.make_generator(7, device), device=device)
    b = torch.randn(5, generator=D.make_generator(7, device), device=device)
    c = torch.randn(5, generator=D.make_generator(8, device), device=device)
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="seed"):
        D.make_generator(-1)
    with pytest.raises(TypeError, match="seed"):
        D.make_generator(1.5)


def test_describe_names_the_hardware():
    info = D.describe()
    assert info["torch"] == torch.__version__ and "default device" in info


def test_resolve_generator_is_the_one_seeding_rule():
    gen = D.make_generator(3, "cpu")
    assert D.resolve_generator(gen, None, None) is gen
    assert D.resolve_generator(gen, None, "cpu") is gen
    fresh = D.resolve_generator(None, 3, "cpu")
    assert torch.equal(torch.rand(4, generator=fresh), torch.rand(4, generator=D.make_generator(3, "cpu")))
    with pytest.raises(ValueError, match="either generator or seed"):
        D.resolve_generator(gen, 3, None)
    with pytest.raises(TypeError, match="always seeded"):
        D.resolve_generator(None, None, "cpu")
    with pytest.raises(TypeError, match="torch.Generator"):
        D.resolve_generator(3, None, None)


def test_unit_vectors_lie_on_the_sphere_and_are_rotation_invariant_in_mean():
    """Normalised Gaussians: unit norm to rounding; the mean of N directions has each coordinate
    with variance 1/(N d), so at N = 20000, d = 4 every coordinate is within 4.892 / sqrt(N d)
    of 0 (two-sided 1e-6 false-alarm rate per coordinate)."""
    n, d = 20000, 4
    u = D.unit_vectors((n,), d, D.make_generator(0, "cpu"), torch.float64)
    assert u.shape == (n, d)
    torch.testing.assert_close(u.norm(dim=1), torch.ones(n, dtype=torch.float64), rtol=0, atol=1e-15)
    assert float(u.mean(0).abs().max()) < 4.892 / (n * d) ** 0.5
