"""Argument checks shared by every public function: a bad argument is a ``TypeError`` or a
``ValueError`` that names it, never a silently wrong number.

Layer 1 of the package: it imports only :mod:`rnnbook.device`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .device import DEFAULT_DTYPE, get_device

__all__ = ["as_tensor", "as_array", "check_sequences", "check_real", "check_int", "check_ints",
           "check_positions",
           "check_norm_range"]


def as_tensor(
    x: Any,
    *,
    name: str,
    dtype: torch.dtype | None = DEFAULT_DTYPE,
    device: str | torch.device | None = None,
    finite: bool = True,
) -> torch.Tensor:
    """Convert a numpy array, torch tensor or nested sequence to a tensor.

    ``dtype=None`` keeps a tensor's floating dtype (and makes other input float64).  ``device=None``
    keeps a tensor where it is and puts other input on :func:`rnnbook.device.get_device`.  With
    ``finite`` a NaN or infinite entry is a ``ValueError`` naming ``name``.
    """
    if isinstance(x, torch.Tensor):
        t = x
        if device is not None:
            t = t.to(get_device(device))
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:  # pragma: no cover - numpy's own message is kept
            raise TypeError(f"{name} must be array-like, got {type(x).__name__}") from exc
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
        t = torch.as_tensor(arr, device=get_device(device))
    if t.is_complex():
        raise TypeError(f"{name} must be real, got {t.dtype}")
    if dtype is not None:
        t = t.to(dtype)
    elif not t.is_floating_point():
        t = t.to(DEFAULT_DTYPE)
    if finite and not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return t


def as_array(x: Any, *, name: str, finite: bool = True) -> np.ndarray:
    """A float64 numpy array of ``x`` (array-like or a CPU/GPU tensor), or a ``TypeError`` naming
    ``name`` for what is not real numbers; with ``finite`` a NaN or infinite entry is a
    ``ValueError``.  For the summaries that work on the host (fits, quantiles)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.is_complex():
            raise TypeError(f"{name} must be real, got {x.dtype}")
        x = x.to(torch.float64).numpy()
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged nesting and the like
        raise TypeError(f"{name} must be an array of real numbers ({exc})") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) \
            or np.iscomplexobj(arr):
        raise TypeError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def check_sequences(X: Any, *, name: str = "X", L: int | None = None, d: int | None = None,
                    dtype: torch.dtype | None = None,
                    device: str | torch.device | None = None) -> torch.Tensor:
    """A batch of input sequences as a finite tensor of shape (n, L, d) with n, L, d >= 1 (the
    layout of the whole package); with ``L`` or ``d`` given, those must match.  ``dtype`` and
    ``device`` as in :func:`as_tensor`."""
    X = as_tensor(X, name=name, dtype=dtype, device=device)
    if X.dim() != 3:
        raise ValueError(f"{name} must have shape (n, L, d), got {tuple(X.shape)}")
    if min(X.shape) < 1:
        raise ValueError(f"{name} must have n, L, d >= 1, got shape {tuple(X.shape)}")
    if L is not None and X.shape[1] != L:
        raise ValueError(f"{name} has sequence length {X.shape[1]}, expected L={L}")
    if d is not None and X.shape[2] != d:
        raise ValueError(f"{name} has input dimension {X.shape[2]}, expected d={d}")
    return X


def check_real(value: Any, *, name: str, positive: bool = False, nonnegative: bool = False,
               allow_inf: bool = False) -> float:
    """Validate a real scalar argument and return it as float (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and not v > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if nonnegative and not v >= 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return v


def check_int(value: Any, *, name: str, minimum: int | None = None) -> int:
    """Validate an integer argument (bools and integral floats are rejected: say what you mean)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    v = int(value)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return v


def check_ints(values: Any, *, name: str, minimum: int | None = None, scalar: bool = True) -> list[int]:
    """A non-empty list of ints from a sequence of ints (or, with ``scalar``, a single int); a
    ``TypeError`` naming ``name`` for anything else (a str, a float, a non-iterable)."""
    if scalar and isinstance(values, (int, np.integer)) and not isinstance(values, bool):
        values = [values]
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        what = "an int or a sequence of ints" if scalar else "a sequence of ints"
        raise TypeError(f"{name} must be {what}, got {type(values).__name__} {values!r}")
    out = [check_int(v, name=name, minimum=minimum) for v in values]
    if not out:
        raise ValueError(f"{name} must not be empty")
    return out


def check_positions(positions: Any, *, L: int, name: str = "positions", distinct: bool = True) -> list[int]:
    """1-based sequence positions (an int or a sequence of ints) in 1..L, as a non-empty list;
    repeated positions are an error when ``distinct``."""
    out = check_ints(positions, name=name)
    bad = [p for p in out if not 1 <= p <= L]
    if bad:
        raise ValueError(f"{name} must lie in 1..L = 1..{L} (1-based, as in the paper), got {bad}")
    if distinct and len(set(out)) != len(out):
        raise ValueError(f"{name} must be distinct, got {out}")
    return out


def check_norm_range(c_min: Any, c_max: Any) -> tuple[float, float]:
    c_min = check_real(c_min, name="c_min", positive=True)
    c_max = check_real(c_max, name="c_max", positive=True)
    if c_min > c_max:
        raise ValueError(f"c_min must be <= c_max, got c_min={c_min} > c_max={c_max}")
    return c_min, c_max
