"""Device, dtype and seed policy: the one place that decides where tensors live.

``RNNBOOK_DEVICE`` selects the device (``cpu``, ``cuda`` or ``cuda:N``); by default CUDA is used
when it is available.  Kernels and bounds are computed in float64 (``DEFAULT_DTYPE``); float32 is
only used where a function says so and measures the error it causes.
"""

from __future__ import annotations

import math
import os
import platform
from typing import Any

import numpy as np
import torch

DEFAULT_DTYPE = torch.float64
ENV_VAR = "RNNBOOK_DEVICE"
_VALID_KINDS = ("cpu", "cuda")


def _parse(spec: str) -> torch.device:
    if not isinstance(spec, str):
        raise TypeError(f"device must be a str or torch.device, got {type(spec).__name__}")
    text = spec.strip().lower()
    kind, _, index = text.partition(":")
    if kind not in _VALID_KINDS or (index and not index.isdigit()) or (kind == "cpu" and index):
        raise ValueError(
            f"device {spec!r} is not one of 'cpu', 'cuda', 'cuda:N' (set via {ENV_VAR} or the "
            "device argument)"
        )
    dev = torch.device(text)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {spec!r} requested but CUDA is not available on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {spec!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist"
            )
    return dev


def get_device(device: str | torch.device | None = None) -> torch.device:
    """The device to compute on: ``device`` if given, else ``$RNNBOOK_DEVICE``, else cuda if
    available, else cpu.  An unknown name or an unavailable CUDA device is a ``ValueError``."""
    if isinstance(device, torch.device):
        return _parse(str(device))
    if device is not None:
        return _parse(device)
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return _parse(env)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def available_devices() -> list[str]:
    """Device names this machine can run on; tests parametrize over these."""
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def make_generator(seed: int, device: str | torch.device | None = None) -> torch.Generator:
    """A torch generator on ``device`` seeded with ``seed`` (a non-negative int)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    gen = torch.Generator(device=get_device(device))
    gen.manual_seed(int(seed))
    return gen


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
    keeps a tensor where it is and puts other input on :func:`get_device`.  With ``finite`` a NaN or
    infinite entry is a ``ValueError`` naming ``name``.
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


def check_positions(positions: Any, *, L: int, name: str = "positions", distinct: bool = True) -> list[int]:
    """1-based sequence positions (an int or a sequence of ints) in 1..L, as a non-empty list;
    repeated positions are an error when ``distinct``."""
    if isinstance(positions, (int, np.integer)) and not isinstance(positions, bool):
        positions = [positions]
    if isinstance(positions, (str, bytes)) or not hasattr(positions, "__iter__"):
        raise TypeError(f"{name} must be an int or a sequence of ints (1-based)")
    out = [check_int(p, name=name) for p in positions]
    if not out:
        raise ValueError(f"{name} must not be empty")
    bad = [p for p in out if not 1 <= p <= L]
    if bad:
        raise ValueError(f"{name} must lie in 1..L = 1..{L} (1-based, as in the paper), got {bad}")
    if distinct and len(set(out)) != len(out):
        raise ValueError(f"{name} must be distinct, got {out}")
    return out


def describe() -> dict[str, str]:
    """Hardware and software facts for the status page and benchmark records."""
    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpu count": str(os.cpu_count()),
        "torch threads": str(torch.get_num_threads()),
        "default device": str(get_device()),
        "cuda": "available" if torch.cuda.is_available() else "not available",
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
