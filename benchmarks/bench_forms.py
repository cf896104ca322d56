"""linalg.nested_quadratic_forms with k label vectors at once against one vector at a time.

Theorem 4's quadratic form y^T H^-1 y on nested samples (the complexity chapter's sweep
``complexity_forms``): the target on every position gets three label vectors (F*/t, its signs, random
signs) on the same inputs.  Passed together as an (n, 3) matrix, each nested size is factored once;
the obvious alternative calls the routine once per vector and factors each size three times.  Both
must agree to within the stated error bounds of the two solves.

    python benchmarks/bench_forms.py [--n 2048] [--k 3] [--device cpu]

The last lines are ``seconds: <t>`` and ``ratio_vs_one_at_a_time: <number>``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from rnnbook import data, kernels, linalg
from rnnbook.device import describe, get_device, make_generator

sys.path.insert(0, str(Path(__file__).resolve().parent))  # when imported from elsewhere
from bench_kernels import _time  # noqa: E402  (one timer for every benchmark)


def run(n: int = 2048, k: int = 3, L: int = 8, d: int = 4, init: str = "algorithm1", device=None,
        repeat: int = 1) -> dict:
    """Both ways on the infinite-width NTK of n unit-norm sequences, nested sizes n/8, n/4, n/2, n;
    with ``repeat`` > 1 the best of that many runs of each."""
    dev = get_device(device)
    X = data.sample_sequences(n, L, d, seed=0, device="cpu").to(dev)
    H = kernels.ntk(X, init=init)
    Y = torch.randn((n, k), generator=make_generator(1, dev), dtype=torch.float64, device=dev)
    sizes = [n // 8, n // 4, n // 2, n]

    def together():
        return linalg.nested_quadratic_forms(H, Y, sizes, name="H")

    def one_at_a_time():
        return [linalg.nested_quadratic_forms(H, Y[:, j], sizes, name="H") for j in range(k)]

    ours, t_ours = _time(together, dev)
    ref, t_ref = _time(one_at_a_time, dev)
    for _ in range(repeat - 1):
        t_ours = min(t_ours, _time(together, dev)[1])
        t_ref = min(t_ref, _time(one_at_a_time, dev)[1])
    worst = 0.0  # the largest difference in units of the two solves' stated bounds
    for col, ref_col in zip(ours, ref, strict=True):
        for q, r in zip(col, ref_col, strict=True):
            worst = max(worst, abs(q.value - r.value) / (2 * r.relative_error_bound * r.value))
    if not worst <= 1.0:
        raise AssertionError(f"the forms differ by {worst:.3g} times their stated error bounds")
    return {"n": n, "k": k, "L": L, "d": d, "init": init, "device": str(dev), "repeat": repeat,
            "seconds": t_ours, "seconds_one_at_a_time": t_ref, "diff_in_bounds": worst,
            "ratio_vs_one_at_a_time": t_ref / t_ours}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2048)
    p.add_argument("--k", type=int, default=3)
    p.add_argument("--device", default=None)
    p.add_argument("--repeat", type=int, default=1)
    args = p.parse_args()
    info = describe()
    print(f"device: {get_device(args.device)}  torch {info['torch']}  threads {info['torch threads']}")
    r = run(args.n, args.k, device=args.device, repeat=args.repeat)
    print(f"n={r['n']} k={r['k']} L={r['L']} d={r['d']} init={r['init']}")
    print(f"one vector at a time: {r['seconds_one_at_a_time']:.2f} s")
    print(f"largest difference: {r['diff_in_bounds']:.2e} of the stated error bounds")
    print(f"seconds: {r['seconds']:.2f}")
    print(f"ratio_vs_one_at_a_time: {r['ratio_vs_one_at_a_time']:.2f}")


if __name__ == "__main__":
    main()
