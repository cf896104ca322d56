"""forward_kernel (eq. 25) against the obvious full-matrix recursion, same inputs, float64.

The alternative is what one writes straight from the formula: one (n, n) matrix per layer,
S = K + a X_l X_l^T, rho = S / Q, K = Q kappa(rho).  rnnbook's version runs the same recursion
over cache-sized row blocks of the upper triangle.  Both results must agree to 1e-12.

    python benchmarks/bench_kernels.py [--n 4096] [--L 50] [--d 10] [--device cpu]

Prints both times; the last lines are ``forward_kernel_seconds: <t>`` and
``ratio_vs_full_matrix: <number>``.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from rnnbook import kernels
from rnnbook.device import describe, get_device, make_generator
from rnnbook.model import get_init


def full_matrix(X: torch.Tensor, a: float) -> torch.Tensor:
    n, L, _ = X.shape
    out = torch.empty((L + 1, n, n), dtype=X.dtype, device=X.device)
    out[0] = 1.0
    diag = 1.0 + a * torch.cumsum((X * X).sum(-1), dim=1)  # (n, L)
    for l in range(1, L + 1):
        Q = torch.sqrt(diag[:, l - 1, None] * diag[None, :, l - 1])
        rho = ((out[l - 1] + a * X[:, l - 1] @ X[:, l - 1].T) / Q).clamp(-1, 1)
        out[l] = Q * (torch.sqrt(1 - rho**2) + (math.pi - torch.arccos(rho)) * rho) / math.pi
    return out


def _time(fn, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return out, time.perf_counter() - t


def run(n: int = 4096, L: int = 50, d: int = 10, init: str = "paper", device=None, repeat: int = 1) -> dict:
    """Time both on the same inputs; with ``repeat`` > 1 the best of that many runs of each (after
    one untimed warm-up run) -- the usual guard against a busy machine."""
    dev = get_device(device)
    X = torch.randn((n, L, d), generator=make_generator(0, dev), dtype=torch.float64, device=dev)
    X = X / X.norm(dim=-1, keepdim=True)
    a = get_init(init).a(L)
    if repeat > 1:
        kernels.forward_kernel(X, init=init)
        full_matrix(X, a)
    ours, t_ours = _time(lambda: kernels.forward_kernel(X, init=init), dev)
    ref, t_ref = _time(lambda: full_matrix(X, a), dev)
    for _ in range(repeat - 1):
        t_ours = min(t_ours, _time(lambda: kernels.forward_kernel(X, init=init), dev)[1])
        t_ref = min(t_ref, _time(lambda: full_matrix(X, a), dev)[1])
    # Layer by layer: at n = 4096, L = 50 each result is 6.8 GB and a whole-array difference
    # would need two more.
    err = max(float(((o - r).abs() / r.abs().clamp_min(1e-300)).max())
              for o, r in zip(ours, ref, strict=True))
    del ours, ref
    if not err <= 1e-12:
        raise AssertionError(f"forward_kernel and the full-matrix recursion differ by {err:.3g} (relative)")
    return {"n": n, "L": L, "d": d, "init": init, "device": str(dev), "repeat": repeat, "seconds": t_ours,
            "seconds_full_matrix": t_ref, "max_rel_diff": err, "ratio_vs_full_matrix": t_ref / t_ours}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=4096)
    p.add_argument("--L", type=int, default=50)
    p.add_argument("--d", type=int, default=10)
    p.add_argument("--init", default="paper")
    p.add_argument("--device", default=None)
    args = p.parse_args()
    info = describe()
    print(f"device: {get_device(args.device)}  torch {info['torch']}  threads {info['torch threads']}")
    r = run(args.n, args.L, args.d, args.init, args.device)
    gib = (r["L"] + 1) * r["n"] ** 2 * 8 / 2**30
    print(f"n={r['n']} L={r['L']} d={r['d']} init={r['init']}: output {gib:.2f} GiB")
    print(f"full-matrix recursion: {r['seconds_full_matrix']:.2f} s")
    print(f"max relative difference: {r['max_rel_diff']:.2e}")
    print(f"forward_kernel_seconds: {r['seconds']:.2f}")
    print(f"ratio_vs_full_matrix: {r['ratio_vs_full_matrix']:.2f}")


if __name__ == "__main__":
    main()
