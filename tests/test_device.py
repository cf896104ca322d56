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
