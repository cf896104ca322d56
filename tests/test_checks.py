"""Tests of rnnbook.checks: a bad argument is a TypeError or ValueError naming it."""

import numpy as np
import pytest
import torch

from rnnbook import checks as C


def test_as_tensor(device):
    t = C.as_tensor(np.arange(6).reshape(2, 3), name="X", device=device)
    assert t.dtype == torch.float64 and t.device.type == device
    assert C.as_tensor(torch.ones(2, dtype=torch.float32), name="X", dtype=None).dtype == torch.float32
    with pytest.raises(ValueError, match="X contains NaN"):
        C.as_tensor([1.0, float("inf")], name="X")
    with pytest.raises(TypeError, match="X must be numeric"):
        C.as_tensor(["a"], name="X")
    with pytest.raises(TypeError, match="X must be real"):
        C.as_tensor(torch.ones(2, dtype=torch.complex128), name="X", dtype=None)


def test_scalar_checks():
    assert C.check_real(2, name="R", positive=True) == 2.0
    with pytest.raises(TypeError, match="R"):
        C.check_real(True, name="R")
    with pytest.raises(ValueError, match="R must be > 0"):
        C.check_real(0.0, name="R", positive=True)
    with pytest.raises(ValueError, match="m must be >= 1"):
        C.check_int(0, name="m", minimum=1)


def test_check_sequences_shape_and_expectations():
    check_sequences = C.check_sequences
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
    check_positions = C.check_positions
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



def test_check_norm_range():
    assert C.check_norm_range(0.5, 2) == (0.5, 2.0)
    with pytest.raises(ValueError, match="c_min must be <= c_max"):
        C.check_norm_range(2.0, 1.0)
    with pytest.raises(ValueError, match="c_min"):
        C.check_norm_range(0.0, 1.0)


def test_check_ints():
    assert C.check_ints(3, name="layers") == [3]
    assert C.check_ints((np.int64(1), 2), name="layers", minimum=0) == [1, 2]
    with pytest.raises(TypeError, match="widths must be a sequence of ints"):
        C.check_ints(8, name="widths", scalar=False)
    for bad in ("12", 1.0, None):
        with pytest.raises(TypeError, match="layers"):
            C.check_ints(bad, name="layers")
    with pytest.raises(ValueError, match="layers must not be empty"):
        C.check_ints([], name="layers")
    with pytest.raises(ValueError, match="widths must be >= 1"):
        C.check_ints([4, 0], name="widths", minimum=1, scalar=False)
