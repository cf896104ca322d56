"""How work runs on this machine: progress bars and CPU threads.

A leaf of the package (it imports nothing from ``rnnbook``), so that every layer may use it.
"""

from __future__ import annotations

import contextlib
import functools

import torch

__all__ = ["progress_bar", "cpu_threads", "one_thread"]


def progress_bar(steps, desc: str):
    """``steps`` wrapped in a tqdm progress bar on stderr (the executed book drops stderr; a
    terminal shows it); a plain line per step where tqdm is not installed (the bare GPU image)."""
    try:
        from tqdm import tqdm
    except ImportError:
        import sys

        steps = list(steps)

        def plain():
            for k, step in enumerate(steps, 1):
                yield step
                print(f"{desc}: {k}/{len(steps)}", file=sys.stderr, flush=True)

        return plain()
    return tqdm(steps, desc=desc, leave=False)


@contextlib.contextmanager
def cpu_threads(dev: torch.device, threads: int | None):
    """Run the body with ``threads`` CPU threads (None: torch's setting) when ``dev`` is the CPU,
    restoring torch's setting afterwards.  Training is a chain of matrix-vector products, too small
    to gain from threads; on an oversubscribed machine a second spinning OpenMP thread made steps
    tens of times slower."""
    if dev.type != "cpu" or threads is None or threads == torch.get_num_threads():
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def one_thread(run_unit):
    """A unit of an SGD sweep on one CPU thread (no effect on CUDA).  Its work is many small
    tensor operations (training steps, sampling, scoring) that a second thread does not speed up,
    while on a busy 2-core machine a descheduled OpenMP thread stalls each of them (measured:
    a lazy-regime unit took 1.3 s of CPU on one thread and 6.8 s on two)."""
    @functools.wraps(run_unit)
    def wrapped(config, unit, device):
        with cpu_threads(torch.device(device), 1):
            return run_unit(config, unit, device)
    return wrapped
