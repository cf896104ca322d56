"""Tests of benchmarks/gpu_session.py, the one command a GPU slot runs (issue: paper-scale results):
the sweeps run cheapest first under a time budget, no unit is cut short, the files to commit hold
every stored record, a later session resumes from them, and the checks' time limits hold.  Toy
sweeps with units of known duration stand in for the registered ones."""

import importlib.util
import json
import sys
import time
from pathlib import Path

import pytest

from rnnbook import engine, experiments
from rnnbook.engine import Sweep

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def gpu_session():
    spec = importlib.util.spec_from_file_location("gpu_session", ROOT / "benchmarks" / "gpu_session.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CALLS = []


def _sleep_unit(config, unit, device):
    CALLS.append((config["name"], unit["k"]))
    time.sleep(config["sleep"])
    return unit["k"]


def _toy(name, units, sleep, steps):
    config = {"name": name, "sleep": sleep, "runs": 1, "steps": steps, "m": 8, "L": 2, "test_n": 0}
    return Sweep(name=name, description="toy", config=lambda p: config,
                 units=lambda p: [{"k": k} for k in range(units)], run_unit=_sleep_unit)


@pytest.fixture
def toys(monkeypatch, tmp_path):
    # the model orders sgd_big after sgd_small (ten times the steps per unit)
    registry = {"sgd_big": _toy("sgd_big", 6, 0.2, 1000), "sgd_small": _toy("sgd_small", 3, 0.1, 100)}
    monkeypatch.setattr(experiments, "SWEEPS", registry)
    monkeypatch.setattr(engine, "COMMITTED_DIR", tmp_path / "committed")
    (tmp_path / "committed").mkdir()
    CALLS.clear()
    return registry


def test_sweeps_run_cheapest_first_within_the_budget_and_resume(gpu_session, toys, tmp_path):
    out = tmp_path / "out"
    start = time.monotonic()
    s = gpu_session.session(1.0, out, profile="quick", device="cpu", check=False)
    elapsed = time.monotonic() - start
    assert [r["sweep"] for r in s["sweeps"]] == ["sgd_small", "sgd_big"]
    assert CALLS[:3] == [("sgd_small", 0), ("sgd_small", 1), ("sgd_small", 2)]
    assert elapsed < 1.0 + 0.2  # units start only if they end in time (one unit of slack for timing)
    small, big = s["sweeps"]
    assert small["missing"] == 0 and 0 < big["stored"] < 6 and big["stored"] + big["missing"] == 6
    saved = json.loads((out / "data" / "sgd_big.quick.json").read_text())
    assert len(saved["records"]) == big["stored"] and json.loads((out / "session.json").read_text()) == s
    # the next slot: the exported files committed, the rest computed, nothing twice
    for f in (out / "data").glob("*.json"):
        (engine.COMMITTED_DIR / f.name).write_text(f.read_text())
    done = list(CALLS)
    s2 = gpu_session.session(10.0, tmp_path / "out2", profile="quick", device="cpu", check=False)
    assert all(r["missing"] == 0 for r in s2["sweeps"])
    assert sorted(CALLS[len(done):]) == sorted(set((n, k) for n, k in
                                                   [("sgd_big", k) for k in range(6)]) - set(done))
    assert experiments.committed("sgd_big", "quick") is None  # the committed file is still partial
    final = json.loads((tmp_path / "out2" / "data" / "sgd_big.quick.json").read_text())
    assert len(final["records"]) == 6


def test_checks_respect_their_time_limit(gpu_session, tmp_path):
    r = gpu_session._run([sys.executable, "-c", "import time; time.sleep(30)"], 0.5, tmp_path / "x.log", {})
    assert r["returncode"] == "timeout" and r["seconds"] < 10
    ok = gpu_session._run([sys.executable, "-c", "print('hi')"], 10, tmp_path / "y.log", {})
    assert ok["returncode"] == 0 and (tmp_path / "y.log").read_text().strip() == "hi"


def test_the_cost_model_scales_with_traffic(gpu_session):
    base = {"runs": 4, "steps": 100, "m": 256, "L": 10, "test_n": 0}
    one = gpu_session.model_unit_seconds("sgd_x", base, {}, "cuda")
    twice = gpu_session.model_unit_seconds("sgd_x", dict(base, steps=200), {}, "cuda")
    assert twice == pytest.approx(2 * one)
    big = gpu_session.model_unit_seconds("sgd_x", base, {"m": 4096}, "cuda")
    traffic = 3 * 10 * 4 * (4096**2 - 256**2) * 4 * 100 / gpu_session.RATES["cuda"]["bandwidth"]
    assert big - one == pytest.approx(traffic)  # W's traffic grows with m^2, the launches do not
    assert gpu_session.model_unit_seconds("new_sweep", {}, {}, "cuda") == gpu_session.UNKNOWN_UNIT_SECONDS
    cf = {"sizes": [32, 64], "quantile": 0.2, "pool_reserve": 64, "targets": ["first", "last", "all"]}
    assert gpu_session.model_unit_seconds("complexity_forms", cf, {"L": 8}, "cpu") < \
        gpu_session.model_unit_seconds("complexity_forms", dict(cf, sizes=[32, 64, 128]), {"L": 8}, "cpu")
    mc = {"n": 16, "L": 20, "seeds": 128}
    assert gpu_session.model_unit_seconds("forward_kernel_mc", mc, {"m": 8192}, "cuda") > \
        gpu_session.model_unit_seconds("forward_kernel_mc", mc, {"m": 64}, "cuda")


def test_export_refuses_a_result_of_other_settings(toys, tmp_path):
    res = experiments.run("sgd_small", profile="quick", device="cpu", directory=tmp_path / "w")
    path = engine.export(toys["sgd_small"], res, tmp_path / "e.json")
    assert len(json.loads(path.read_text())["records"]) == 3
    with pytest.raises(ValueError, match="SweepResult of sweep"):
        engine.export(toys["sgd_big"], res, tmp_path / "f.json")
