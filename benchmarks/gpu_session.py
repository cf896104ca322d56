"""One GPU slot's work, in one command: the GPU checks, then the paper-profile sweeps, cheapest
first, each resumable, until the time budget is spent; everything written under one directory.

    PYTHONPATH=. python benchmarks/gpu_session.py --budget 780 --output "$OUT"
    PYTHONPATH=. python benchmarks/gpu_session.py --skip-check --profile quick --device cpu \\
        --budget 30 --output /tmp/session              # a dry run at small sizes on the CPU

Steps:

1. ``make gpu-check``'s two halves (unless ``--skip-check``): the test suite with CUDA as the
   default device, then ``run_all.py --size gpu`` into ``<output>/gpu.json``, each under a time
   limit taken from the budget.
2. Every registered sweep (or ``--sweeps``), in the order of a cost model (below), run with
   :func:`rnnbook.engine.run` and a ``deadline``: a unit starts only if it ends before the budget
   runs out, by the longest unit measured so far in that sweep (before the first, by the model's
   estimate), so nothing is cut short.  Units already committed in ``book/data`` are not
   recomputed (a partial committed file resumes).
3. ``<output>/data/<sweep>.<profile>.json``: the committed and the new records merged (complete
   or not): what to copy to ``book/data`` and commit; and ``<output>/session.json``: the device,
   the budget, each step's time and, per sweep, the units stored, measured and still missing,
   with the time the missing ones should take at the measured rate.

The cost model (seconds per unit, ``model_unit_seconds``) only orders the sweeps and bounds the
first unit; it is traffic and launches: Algorithm 1 (the ``sgd_*`` sweeps) reads W (runs x m^2
entries) about three times per step of the sequence (forward, backward, update) in about eight
kernel launches; the Monte Carlo sweeps run ``seeds`` networks of 2 L n m^2 flops forward and as
many backward; the complexity chapter's forms are an NTK of the pool and cubic solves.  The
constants (:data:`RATES`) are rough on purpose: a measured unit replaces them.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from rnnbook import engine, experiments, profiles  # noqa: E402
from rnnbook.device import describe, get_device  # noqa: E402
from rnnbook.store import atomic_write_json  # noqa: E402

#: Rough rates of the cost model, by device type: memory bandwidth (bytes/s), time per kernel
#: launch (s), arithmetic rate (flop/s).
RATES = {"cuda": {"bandwidth": 2.5e12, "launch": 1e-5, "flops": 2e13},
         "cpu": {"bandwidth": 1e10, "launch": 3e-6, "flops": 3e10}}


#: The model's seconds for a unit of a sweep it has no formula for (ordered last, started only
#: with this much time left until one is measured).
UNKNOWN_UNIT_SECONDS = 60.0


def model_unit_seconds(name: str, config: dict, unit: dict, device_type: str) -> float:
    """The cost model's seconds for one unit of sweep ``name`` (see the module docstring)."""
    rate = RATES.get(device_type, RATES["cpu"])
    m = unit.get("m", config.get("m"))
    L = unit.get("L", config.get("L"))
    if name.startswith("sgd_"):
        runs, steps = config["runs"], config["steps"]
        size = 8 if config.get("dtype") == "float64" else 4
        per_step = 3 * L * runs * m * m * size / rate["bandwidth"] + 8 * L * rate["launch"]
        test = 2 * config.get("test_n", 0) * L * runs * m * m / rate["flops"]
        return steps * per_step + test
    if name == "complexity_forms":
        # the NTK of the pool (about 50 flops per pair and step) and, per target (its label vectors
        # share it), one symmetric eigendecomposition and Cholesky per nested size (about 4 n^3 flops)
        pool = config["sizes"][-1] / (1 - config["quantile"]) + config["pool_reserve"]
        solves = len(config["targets"]) * sum(4 * n**3 for n in config["sizes"])
        return (50 * L * pool * pool + solves) / rate["flops"] + 10 * L * rate["launch"]
    if "seeds" in config and "n" in config:
        n, seeds = config["n"], config["seeds"]
        return seeds * (4 * L * n * m * m / rate["flops"] + 20 * L * rate["launch"])
    return UNKNOWN_UNIT_SECONDS


def _run(cmd: list[str], limit: float, log: Path, env: dict) -> dict:
    """Run ``cmd`` with a time limit, its output in ``log``: exit status and seconds."""
    start = time.monotonic()
    with log.open("w") as out:
        try:
            rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                timeout=max(limit, 1.0)).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    return {"command": " ".join(cmd), "returncode": rc, "seconds": round(time.monotonic() - start, 1),
            "log": log.name}


def checks(out: Path, device: str, remaining, share: float) -> list[dict]:
    """make gpu-check's tests and benchmarks, each limited to ``share`` of the time left."""
    env = dict(os.environ, RNNBOOK_DEVICE=device, PYTHONPATH=str(ROOT))
    steps = [([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-ra"], "tests.log"),
             ([sys.executable, "benchmarks/run_all.py", "--size", "gpu", "--device", device,
               "--output", str(out / "gpu.json")], "benchmarks.log")]
    return [_run(cmd, share * remaining(), out / log, env) for cmd, log in steps]


def order(names, prof, device_type: str) -> list[tuple[str, float, float]]:
    """(sweep, model seconds of all its units, of its longest unit), cheapest first."""
    rows = []
    for name in names:
        sweep = experiments.get_sweep(name)
        config = sweep.config(prof)
        costs = [model_unit_seconds(name, config, u, device_type) for u in sweep.units(prof)]
        rows.append((name, sum(costs), max(costs)))
    return sorted(rows, key=lambda r: r[1])


def session(budget: float, out: Path, *, profile: str = "paper", device: str = "cuda", check: bool = True,
            sweeps=None, check_share: float = 0.5) -> dict:
    """Everything the module docstring lists; returns (and writes) the summary."""
    start = time.monotonic()
    deadline = start + budget

    def remaining() -> float:
        return deadline - time.monotonic()

    out.mkdir(parents=True, exist_ok=True)
    (out / "data").mkdir(exist_ok=True)
    dev = get_device(device)
    prof = profiles.get(profile)
    info = describe()
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({info['cpu count']} cores)"
    summary = {"started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
               "device": str(dev), "device_name": name, "torch": info["torch"], "profile": prof.name,
               "budget_seconds": budget, "sweeps": [],
               "checks": checks(out, str(dev), remaining, check_share) if check else []}
    names = list(sweeps) if sweeps else sorted(experiments.SWEEPS)
    for name, model_total, model_longest in order(names, prof, dev.type):
        sweep = experiments.get_sweep(name)
        t0 = time.monotonic()
        result = engine.run(sweep, profile=prof, device=dev, directory=out / "sweeps", deadline=deadline,
                            unit_seconds=model_longest)
        new = [r for r in result.records.values() if r["source"] != "committed"]
        secs = [r["seconds"] for r in new]
        rate = sum(secs) / len(secs) if secs else None
        engine.export(sweep, result, out / "data" / f"{name}.{prof.name}.json")
        summary["sweeps"].append({
            "sweep": name, "units": len(result.records) + result.missing, "stored": len(result.records),
            "computed_now": len(new), "missing": result.missing, "seconds": round(time.monotonic() - t0, 1),
            "unit_seconds_mean": rate, "unit_seconds_max": max(secs) if secs else None,
            "model_seconds_total": round(model_total, 1), "model_unit_seconds_max": round(model_longest, 2),
            "missing_seconds_at_measured_rate": round(rate * result.missing, 1) if rate else None,
            "config": result.config})
        atomic_write_json(out / "session.json", summary)
    summary["seconds"] = round(time.monotonic() - start, 1)
    atomic_write_json(out / "session.json", summary)
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=780.0, help="seconds for everything (default 780)")
    p.add_argument("--output", default=os.environ.get("OUT") or str(ROOT / "_build" / "gpu_session"))
    p.add_argument("--profile", default="paper")
    p.add_argument("--device", default="cuda")
    p.add_argument("--skip-check", action="store_true", help="skip the tests and benchmarks")
    p.add_argument("--sweeps", default=None, help="comma-separated sweep names (default: all)")
    args = p.parse_args(argv)
    if not args.budget > 0:
        p.error(f"--budget must be positive, got {args.budget}")
    names = args.sweeps.split(",") if args.sweeps else None
    for name in names or ():
        if name not in experiments.SWEEPS:
            p.error(f"unknown sweep {name!r}; registered: {', '.join(sorted(experiments.SWEEPS))}")
    s = session(args.budget, Path(args.output), profile=args.profile, device=args.device,
                check=not args.skip_check, sweeps=names)
    for row in s["sweeps"]:
        print(f"{row['sweep']}: {row['stored']}/{row['units']} units stored ({row['computed_now']} now, "
              f"{row['seconds']} s); missing {row['missing']}"
              + (f", about {row['missing_seconds_at_measured_rate']} s more" if row["missing"] else ""))
    print(json.dumps({"checks": s["checks"], "seconds": s["seconds"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
