"""Algorithm 1 (rnnbook.train.sgd) against the plain autograd loop a user would write.

Same initial weights, same samples (``train.run_stream``), float64: the autograd loop does, per
step, f = model.forward(params, x), loss = logistic_loss(y f), loss.backward(), then
W -= eta W.grad under no_grad.  Both final W must agree to 1e-10 (relative to max |W|).  sgd
writes the gradient out -- L products with W forward, L - 1 backward, one rank-L update in place
-- where autograd builds L rank-one outer products and accumulates them.  Only the step loops are
timed (sgd's own clock, ``TrainResult.seconds``, which includes drawing its data in chunks; the
data come from a pre-drawn finite pool so both sides pay nothing for the target).

Two more modes:

* ``--runs 1,2,4,...``: R independent runs batched (W of shape (R, m, m)) against R separate runs,
  as throughput: ``batched_speedup`` = (R steps / batched time) / (1 step / single-run time).
* ``--bandwidth``: the fraction of the memory-bandwidth bound reached.  One step reads or writes
  W (2L + 2) times (L products forward, L - 1 backward, read and write in the update), so it
  moves at least (2L + 2) m^2 x itemsize bytes; the denominator is a measured device-to-device
  copy bandwidth (2 x bytes / time of cloning a 1 GiB tensor).

    python benchmarks/bench_sgd.py [--m 512] [--L 10] [--d 10] [--steps 200] [--device cpu]
                                   [--repeat 3] [--threads N] [--runs 1,2,4] [--bandwidth]

The last line is ``ratio_vs_autograd: <number>``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # when imported from elsewhere (the book)
from bench_kernels import _time  # noqa: E402  (one timer for every benchmark)

from rnnbook import concepts, data, series, train  # noqa: E402
from rnnbook.device import describe, get_device  # noqa: E402
from rnnbook.model import forward  # noqa: E402

TOLERANCE = 1e-10
POOL = 4096  # size of the pre-drawn data pool


def autograd_loop(params, X, y, eta):
    """The loop a user would write: forward, loss, backward, W -= eta W.grad, one sample a step."""
    W = params.W.clone().requires_grad_(True)
    p = params.replace(W=W)
    for t in range(X.shape[0]):
        f = forward(p, X[t:t + 1])
        loss = train.logistic_loss(y[t] * f).sum()
        loss.backward()
        with torch.no_grad():
            W -= eta * W.grad
        W.grad = None
    return W.detach()


def source(L: int, d: int) -> data.DataSource:
    """A finite pool of POOL sequences labelled by a fixed additive target (sin on every position)."""
    tgt = concepts.random_additive_target(L, d, series.sin(), seed=0)
    X = data.sample_sequences(POOL, L, d, seed=1)
    return data.finite((X, torch.where(tgt(X) >= 0, 1.0, -1.0)))


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _sgd_seconds(src, dev, repeat, **kw) -> tuple[float, train.TrainResult]:
    """One untimed warm-up, then the best of ``repeat`` of sgd's loop time."""
    res = train.sgd(src, device=dev, test_n=0, log_points=1, **kw)
    best = float("inf")
    for _ in range(repeat):
        res = train.sgd(src, device=dev, test_n=0, log_points=1, **kw)
        best = min(best, res.seconds)
    return best, res


def copy_bandwidth(dev, nbytes: int = 1 << 30, repeat: int = 5) -> float:
    """Bytes per second of a device-to-device copy (x.clone(): reads and writes nbytes)."""
    x = torch.empty(nbytes // 4, dtype=torch.float32, device=dev).fill_(1.0)
    x.clone()
    best = float("inf")
    for _ in range(repeat):
        _, t = _time(lambda: x.clone(), dev)
        best = min(best, t)
    return 2 * nbytes / best


def matvec_floor(W: torch.Tensor, L: int, steps: int, dev) -> float:
    """Seconds for the (2L - 1) steps of dependent matrix-vector products with W that any
    implementation of a step needs (L forward, L - 1 backward), best of three: a lower bound on
    the step loop, with nothing else in it."""
    v = torch.ones(W.shape[0], dtype=W.dtype, device=dev)

    def chain():
        u = v
        for _ in range(steps * (2 * L - 1)):
            u = torch.mv(W, u).mul_(0.5)  # keep the values bounded
        return u

    chain()
    return min(_time(chain, dev)[1] for _ in range(3))


def run(m: int = 512, L: int = 10, d: int = 10, steps: int = 200, c: float = 1.0, init: str = "algorithm1",
        device=None, repeat: int = 3, threads: int | None = None, autograd: bool = True,
        runs: tuple[int, ...] = (), bandwidth: bool = False, dtype=None) -> dict:
    """Time sgd (and, with ``autograd``, the autograd loop, in float64) at width m; with ``runs``
    the batched speedup for each R; with ``bandwidth`` the fraction of the copy bandwidth.

    ``threads``: CPU threads for both sides (default: 1, sgd's default; the autograd loop gets the
    same number).  On the CPU sgd runs batched runs one after the other (a batched (1, m) x (m, m)
    product is slower there), so ``batched_speedup`` is about 1 by construction; it is a GPU
    measure.  ``dtype`` for the batched and bandwidth modes (default:
    sgd's, float64 on the CPU, float32 on CUDA)."""
    dev = get_device(device)
    src = source(L, d)
    out = {"benchmark": "sgd", "m": m, "L": L, "d": d, "steps": steps, "c": c, "init": init,
           "device": str(dev), "repeat": repeat}
    if dev.type == "cuda":
        out["device_name"] = torch.cuda.get_device_name(dev)
    if threads is None:
        threads = 1 if dev.type == "cpu" else None
    kw = dict(m=m, steps=steps, c=c, init=init, threads=threads)
    old_threads = torch.get_num_threads()
    if autograd:
        out["seconds"], res = _sgd_seconds(src, dev, repeat, dtype=torch.float64, **kw)
        params, X, y = train.run_stream(src, m=m, steps=steps, init=init, dtype=torch.float64, device=dev)
        eta = c / m
        try:
            if threads is not None and dev.type == "cpu":
                torch.set_num_threads(threads)
            W, _ = _time(lambda: autograd_loop(params, X, y, eta), dev)  # warm-up
            best = float("inf")
            for _ in range(repeat):
                W, t = _time(lambda: autograd_loop(params, X, y, eta), dev)
                best = min(best, t)
        finally:
            torch.set_num_threads(old_threads)
        err = float((W - res.W[0]).abs().max() / W.abs().max())
        if not err <= TOLERANCE:
            raise AssertionError(f"sgd and the autograd loop differ by {err:.3g} (relative) after "
                                 f"{steps} steps")
        out["max_rel_diff"] = err
        out["seconds_autograd"] = best
        out["ratio_vs_autograd"] = best / out["seconds"]
        try:
            if threads is not None and dev.type == "cpu":
                torch.set_num_threads(threads)
            out["seconds_matvec_floor"] = matvec_floor(params.W, L, steps, dev)
        finally:
            torch.set_num_threads(old_threads)
        out["floor_fraction"] = out["seconds_matvec_floor"] / out["seconds"]
        out["step_seconds"] = out["seconds"] / steps
        out["threads"] = threads if threads is not None else old_threads
    if runs:
        times = {}
        for R in runs:
            times[R], _ = _sgd_seconds(src, dev, repeat, runs=R, dtype=dtype, **kw)
        if "seconds" not in out:
            out["seconds"] = times[runs[0]]
        base = times[1] if 1 in times else None
        out["seconds_batched"] = {str(R): t for R, t in times.items()}
        if base is not None:
            out["batched_speedup"] = {str(R): R * base / t for R, t in times.items()}
    if bandwidth:
        t, res = _sgd_seconds(src, dev, repeat, dtype=dtype, **kw)
        itemsize = torch.empty((), dtype=res.dtype).element_size()
        moved = (2 * L + 2) * m * m * itemsize
        bw = copy_bandwidth(dev)
        out.setdefault("seconds", t)
        out["bandwidth_step_seconds"] = t / steps
        out["bytes_per_step"] = moved
        out["copy_bandwidth"] = bw
        out["bandwidth_fraction"] = moved / (t / steps) / bw
        out["bandwidth_dtype"] = str(res.dtype)
    _sync(dev)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--m", type=int, default=512)
    p.add_argument("--L", type=int, default=10)
    p.add_argument("--d", type=int, default=10)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--c", type=float, default=1.0)
    p.add_argument("--init", default="algorithm1")
    p.add_argument("--device", default=None)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--runs", default="", help="comma-separated R values for the batched mode, e.g. 1,2,4")
    p.add_argument("--bandwidth", action="store_true", help="also report the fraction of copy bandwidth")
    args = p.parse_args()
    info = describe()
    dev = get_device(args.device)
    name = f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else ""
    print(f"device: {dev}{name}  torch {info['torch']}  threads {info['torch threads']}")
    runs = tuple(int(r) for r in args.runs.split(",") if r)
    r = run(args.m, args.L, args.d, args.steps, args.c, args.init, dev, args.repeat, args.threads,
            True, runs, args.bandwidth)
    print(f"m={r['m']} L={r['L']} d={r['d']} steps={r['steps']} init={r['init']}, best of {r['repeat']}, "
          f"{r['threads']} thread(s) on the CPU")
    for R, s in r.get("batched_speedup", {}).items():
        print(f"R={R}: batched {r['seconds_batched'][R]:.4f} s, speedup over {R} single runs {s:.2f}")
    if "bandwidth_fraction" in r:
        rate = r["bytes_per_step"] / r["bandwidth_step_seconds"]
        print(f"bandwidth: {rate / 1e9:.1f} GB/s of {r['copy_bandwidth'] / 1e9:.1f} GB/s (copy), "
              f"bandwidth_fraction: {r['bandwidth_fraction']:.3f}")
    print(f"max relative difference: {r['max_rel_diff']:.2e}")
    per_step = r["seconds_autograd"] / r["steps"]
    print(f"autograd loop: {r['seconds_autograd']:.4f} s ({per_step * 1e6:.0f} us/step)")
    print(f"sgd_seconds: {r['seconds']:.4f} ({r['step_seconds'] * 1e6:.0f} us/step); the {2 * r['L'] - 1} "
          f"matrix-vector products alone: {r['seconds_matvec_floor']:.4f} s "
          f"({r['floor_fraction']:.0%} of sgd's time)")
    print(f"ratio_vs_autograd: {r['ratio_vs_autograd']:.2f}")


if __name__ == "__main__":
    main()
