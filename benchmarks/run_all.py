"""Run every benchmark at one size class and record the results, with the device, in a JSON file.

    python benchmarks/run_all.py --size gpu --device cuda --output benchmarks/results/gpu.json

``--size small`` is what the performance page runs during the book build; ``--size gpu`` is what
``make gpu-check`` runs on a GPU machine (its file is committed and shown on the performance page).
Each entry names its benchmark and holds the routine's time and, where the alternatives were run,
their times and the ratios (``ratio_vs_<alternative>``: the keys differ between benchmarks); entries
at sizes where the alternatives do not fit hold the routine's time and, on CUDA, its peak memory.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_empirical_ntk  # noqa: E402
import bench_kernels  # noqa: E402
import bench_sgd  # noqa: E402

from rnnbook.device import describe, get_device  # noqa: E402
from rnnbook.engine import atomic_write_json  # noqa: E402

SIZES = {
    "small": [("forward_kernel", bench_kernels.run, {"n": n, "L": 20, "d": 10, "repeat": 5})
              for n in (128, 256, 512, 1024, 2048)]
    + [("empirical_ntk", bench_empirical_ntk.run, {"n": n, "L": 10, "m": 256, "d": 10, "repeat": 3})
       for n in (8, 16, 32, 64)]
    + [("sgd", bench_sgd.run, {"m": 256, "L": 10, "d": 10, "steps": 200, "repeat": 3, "runs": (1, 2, 4)})],
    "gpu": [("forward_kernel", bench_kernels.run, {"n": n, "L": 50, "d": 10, "repeat": 3})
            for n in (1024, 4096)]
    + [("empirical_ntk", bench_empirical_ntk.run, {"n": 64, "L": 10, "m": 1024, "d": 10, "repeat": 3}),
       ("empirical_ntk", bench_empirical_ntk.run,
        {"n": 4096, "L": 20, "m": 4096, "d": 10, "repeat": 3, "references": False}),
       ("sgd", bench_sgd.run, {"m": 512, "L": 10, "d": 10, "steps": 200, "repeat": 3}),
       ("sgd", bench_sgd.run, {"m": 4096, "L": 10, "d": 10, "steps": 50, "repeat": 3, "autograd": False,
                               "bandwidth": True}),
       ("sgd", bench_sgd.run, {"m": 1024, "L": 10, "d": 10, "steps": 200, "repeat": 2, "autograd": False,
                               "runs": (1, 2, 4, 8, 16, 32)})],
}


def summary(r: dict) -> str:
    """One line for an entry: its time and every ratio it has (or its peak memory)."""
    parts = [f"{r['seconds']:.3f} s"]
    parts += [f"{k} {v:.2f}" for k, v in r.items() if k.startswith("ratio_vs_")]
    if "batched_speedup" in r:
        speedups = " ".join(f"R={R}: {v:.2f}" for R, v in r["batched_speedup"].items())
        parts.append(f"batched_speedup {speedups}")
    if "bandwidth_fraction" in r:
        parts.append(f"bandwidth_fraction {r['bandwidth_fraction']:.3f}")
    if "peak_memory_bytes" in r:
        parts.append(f"peak memory {r['peak_memory_bytes'] / 2**30:.2f} GiB")
    return ", ".join(parts)


def run_all(size: str, device=None) -> dict:
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    dev = get_device(device)
    when = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    out = {"size": size, "device": str(dev), "when": when, "system": describe(), "results": []}
    if dev.type == "cuda":
        out["device_name"] = torch.cuda.get_device_name(dev)
    for name, fn, kwargs in SIZES[size]:
        r = fn(device=dev, **kwargs)
        r["benchmark"] = name
        out["results"].append(r)
        print(f"{name} {kwargs}: {summary(r)}", flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="small", choices=sorted(SIZES))
    p.add_argument("--device", default=None)
    p.add_argument("--output", type=Path, required=True)
    args = p.parse_args()
    record = run_all(args.size, args.device)
    atomic_write_json(args.output, record)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
