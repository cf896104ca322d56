"""Device, dtype and seed policy: the one place that decides where tensors live.

``RNNBOOK_DEVICE`` selects the device (``cpu``, ``cuda`` or ``cuda:N``); by default CUDA is used
when it is available.  Kernels and bounds are computed in float64 (``DEFAULT_DTYPE``); float32 is
only used where a function says so and measures the error it causes.
"""

from __future__ import annotations

import os
import platform

import numpy as np
import torch

__all__ = ["DEFAULT_DTYPE", "ENV_VAR", "get_device", "available_devices", "make_generator",
           "describe", "resolve_generator", "unit_vectors", "available_memory", "MEMORY_CHECK_FLOOR",
           "check_memory"]

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
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must lie in [0, 2^64), got {seed}")
    gen = torch.Generator(device=get_device(device))
    gen.manual_seed(int(seed))
    return gen


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


def _same_device(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    # "cuda" means the current CUDA device, which is what a bare torch.Generator("cuda") uses too.
    return a.type == "cpu" or (a.index or 0) == (b.index or 0)


def resolve_generator(generator: torch.Generator | None, seed: int | None,
                      device: str | torch.device | None) -> torch.Generator:
    """The one rule every sampler of the package follows: draw from ``generator`` as given (on its
    own device; a different ``device`` is a ``ValueError``), or from a fresh generator seeded with
    ``seed`` on ``device``.  Exactly one of the two: an unseeded draw is a ``TypeError``, since
    every draw of the book is reproducible."""
    if generator is not None and seed is not None:
        raise ValueError("pass either generator or seed, not both")
    if generator is not None:
        if not isinstance(generator, torch.Generator):  # also a str or a number passed by mistake
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        if device is not None and not _same_device(get_device(device), generator.device):
            raise ValueError(f"device {device!r} differs from the generator's device "
                             f"{generator.device}; draw on the generator's device")
        return generator
    if seed is None:
        # Every draw in the book is reproducible, so an unseeded draw is a mistake, not a default.
        raise TypeError("pass generator= or seed=: samples and random targets are always seeded")
    return make_generator(seed, device)


def unit_vectors(shape: tuple[int, ...], d: int, gen: torch.Generator,
                  dtype: torch.dtype) -> torch.Tensor:
    """Directions uniform on the sphere S^{d-1}: normalised standard Gaussians (rotation invariant)."""
    g = torch.randn(*shape, d, generator=gen, device=gen.device, dtype=dtype)
    return g / torch.linalg.vector_norm(g, dim=-1, keepdim=True)


def available_memory(device: str | torch.device | None = None) -> int:
    """Bytes that can still be allocated on ``device``: free CUDA memory there, or the available
    system memory on the CPU (``psutil`` when installed, else ``/proc/meminfo``)."""
    dev = get_device(device)
    if dev.type == "cuda":
        return int(torch.cuda.mem_get_info(dev)[0])
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # the bare GPU image
        with open("/proc/meminfo") as fh:
            info = dict(line.split(":", 1) for line in fh)
        return int(info["MemAvailable"].split()[0]) * 1024


#: Estimates below this many bytes are not checked: querying the free memory costs more than the
#: work it guards (tens of microseconds), and no machine that runs the book has less available.
MEMORY_CHECK_FLOOR = 1 << 28


def check_memory(nbytes: float, *, what: str, device: str | torch.device | None = None) -> None:
    """Refuse, before allocating, work whose estimated peak ``nbytes`` exceeds what ``device`` has
    available: a ``MemoryError`` that states the estimate, the memory available and ``what``.
    Estimates under :data:`MEMORY_CHECK_FLOOR` (256 MiB) pass without a query."""
    if nbytes < MEMORY_CHECK_FLOOR:
        return
    avail = available_memory(device)
    if nbytes > avail:
        raise MemoryError(f"{what} needs about {_size(nbytes)} but {get_device(device)} has "
                          f"{_size(avail)} available; use fewer or smaller inputs")


def _size(nbytes: float) -> str:
    for unit, scale in (("TB", 2.0**40), ("GB", 2.0**30), ("MB", 2.0**20)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{int(nbytes)} bytes"

