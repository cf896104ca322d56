import os

import pytest

from rnnbook.device import available_devices

try:  # the property tests' settings; the bare GPU image has no Hypothesis (those tests skip there)
    from hypothesis import settings
except ImportError:
    pass
else:
    # "ci" (the default): derandomised -- the examples are a function of the test alone, so every
    # run of the suite tries the same ones and CI stays deterministic -- and no example database.
    # HYPOTHESIS_PROFILE=explore searches at random with ten times the examples, to hunt for bugs.
    settings.register_profile("ci", derandomize=True, database=None, deadline=None, max_examples=40,
                              print_blob=True)
    settings.register_profile("explore", deadline=None, max_examples=400)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_generate_tests(metafunc):
    # Any test taking a `device` argument runs once per device this machine has (cuda when present).
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", available_devices())


@pytest.fixture
def cuda_only():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("CUDA not available: the CPU == GPU agreement needs a GPU")
