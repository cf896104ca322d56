"""Tests of rnnbook.device: the device/dtype/seed policy."""

import numpy as np
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


def test_as_tensor(device):
    t = D.as_tensor(np.arange(6).reshape(2, 3), name="X", device=device)
    assert t.dtype == torch.float64 and t.device.type == device
    assert D.as_tensor(torch.ones(2, dtype=torch.float32), name="X", dtype=None).dtype == torch.float32
    with pytest.raises(ValueError, match="X contains NaN"):
        D.as_tensor([1.0, float("inf")], name="X")
    with pytest.raises(TypeError, match="X must be numeric"):
        D.as_tensor(["a"], name="X")
    with pytest.raises(TypeError, match="X must be real"):
        D.as_tensor(torch.ones(2, dtype=torch.complex128), name="X", dtype=None)


def test_scalar_checks():
    assert D.check_real(2, name="R", positive=True) == 2.0
    with pytest.raises(TypeError, match="R"):
        D.check_real(True, name="R")
    with pytest.raises(ValueError, match="R must be > 0"):
        D.check_real(0.0, name="R", positive=True)
    with pytest.raises(ValueError, match="m must be >= 1"):
        D.check_int(0, name="m", minimum=1)


def test_describe_names_the_hardware():
    info = D.describe()
    assert info["torch"] == torch.__version__ and "default device" in info


def test_check_sequences_shape_and_expectations():
    check_sequences = D.check_sequences
    X = check_sequences(np.zeros((2, 3, 4)), name="X")
    assert X.shape == (2, 3, 4) and X.dtype == torch.float64
    with pytest.raises(ValueError, match=r"Z must have shape \(n, L, d\)"):
        check_sequences(np.zeros((2, 3)), name="Z")
    with pytest.raises(ValueError, match="X must have n, L, d >= 1"):
        check_sequences(np.zeros((2, 0, 4)))
    with pytest.raises(ValueError, match="sequence length 3, expected L=5"):
        check_sequences(np.zeros((2, 3, 4)), L=5)
    with pytest.raises(ValueError, match="input dimension 4, expected d=2"):
        check_sequences(np.zeros((2, 3, 4)), d=2)
    with pytest.raises(ValueError, match="X contains NaN"):
        check_sequences(np.full((1, 1, 1), np.nan))


def test_check_positions():
    from rnnbook.device import check_positions

    assert check_positions(3, L=4) == [3]
    assert check_positions((1, 4), L=4) == [1, 4]
    assert check_positions([2, 2], L=4, distinct=False) == [2, 2]
    with pytest.raises(ValueError, match="distinct"):
        check_positions([2, 2], L=4)
    with pytest.raises(ValueError, match=r"1\.\.L = 1\.\.4"):
        check_positions([0, 5], L=4)
    with pytest.raises(ValueError, match="empty"):
        check_positions([], L=4)
    with pytest.raises(TypeError, match="positions"):
        check_positions("12", L=4)
    with pytest.raises(TypeError, match="int"):
        check_positions([1.0], L=4)
