import pytest

from rnnbook.device import available_devices


def pytest_generate_tests(metafunc):
    # Any test taking a `device` argument runs once per device this machine has (cuda when present).
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", available_devices())


@pytest.fixture
def cuda_only():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("CUDA not available: the CPU == GPU agreement needs a GPU")
