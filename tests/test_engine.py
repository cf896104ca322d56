"""Tests of rnnbook.engine: resumable, atomic JSON results of heavy experiments (through the
registry of rnnbook.experiments, which names them)."""

import json

import numpy as np
import pytest

from rnnbook import engine, experiments
from rnnbook.engine import Sweep

CALLS = []
FAIL_AT = []  # unit indices at which the toy sweep is "interrupted" (not part of its settings)


def _toy_run(config, unit, device):
    CALLS.append(unit["k"])
    if unit["k"] in FAIL_AT:
        raise KeyboardInterrupt  # an interruption in the middle of the sweep
    return np.arange(3) * unit["k"] + config["offset"]


def _toy(offset=0):
    return Sweep(name="toy", description="test sweep", config=lambda p: {"offset": offset},
                 units=lambda p: [{"k": k} for k in range(4)], run_unit=_toy_run)


@pytest.fixture
def toy(monkeypatch):
    registry = {}
    monkeypatch.setattr(experiments, "SWEEPS", registry)
    CALLS.clear()
    FAIL_AT.clear()
    return registry


def test_interrupted_sweep_resumes_without_recomputing(toy, tmp_path):
    toy["toy"] = _toy()
    FAIL_AT.append(2)
    with pytest.raises(KeyboardInterrupt):
        experiments.run("toy", profile="quick", device="cpu", directory=tmp_path, use_committed=False)
    saved = json.loads((tmp_path / "toy.quick.json").read_text())
    assert len(saved["records"]) == 2 and CALLS == [0, 1, 2]  # units 0 and 1 were kept
    assert not list(tmp_path.glob(".*.tmp"))  # no half-written file left behind
    FAIL_AT.clear()  # resume with the same settings
    CALLS.clear()
    res = experiments.run("toy", profile="quick", device="cpu", directory=tmp_path, use_committed=False)
    assert CALLS == [2, 3]  # only what was missing
    assert res.value(k=3) == [0, 3, 6] and len(res.records) == 4
    assert all(r["where"] and r["when"] for r in res.records.values())


def test_changed_settings_invalidate_stored_units(toy, tmp_path):
    toy["toy"] = _toy(offset=0)
    experiments.run("toy", profile="quick", device="cpu", directory=tmp_path, use_committed=False)
    toy["toy"] = _toy(offset=10)
    CALLS.clear()
    res = experiments.run("toy", profile="quick", device="cpu", directory=tmp_path, use_committed=False)
    assert CALLS == [0, 1, 2, 3] and res.value(k=1) == [10, 11, 12]


def test_committed_results_are_used_and_labelled(toy, tmp_path, monkeypatch):
    toy["toy"] = _toy()
    committed = tmp_path / "data"
    experiments.run("toy", profile="quick", device="cpu", directory=committed, use_committed=False)
    monkeypatch.setattr(engine, "COMMITTED_DIR", committed)
    CALLS.clear()
    res = experiments.run("toy", profile="quick", device="cpu", directory=tmp_path / "work")
    assert CALLS == [] and all(r["source"] == "committed" for r in res.records.values())
    assert all(label.endswith("(committed)") for label in res.provenance())


def test_bad_files_and_names_are_clear_errors(toy, tmp_path):
    toy["toy"] = _toy()
    (tmp_path / "toy.quick.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        experiments.run("toy", profile="quick", device="cpu", directory=tmp_path, use_committed=False)
    with pytest.raises(ValueError, match="unknown sweep 'nope'"):
        experiments.get_sweep("nope")


def test_best_prefers_complete_committed_results(toy, tmp_path, monkeypatch):
    toy["toy"] = _toy()
    monkeypatch.setattr(engine, "COMMITTED_DIR", tmp_path / "data")
    assert experiments.committed("toy", "paper") is None
    res = experiments.best("toy", profile="quick", device="cpu", directory=tmp_path / "work")
    assert res.profile == "quick" and CALLS == [0, 1, 2, 3]
    experiments.run("toy", profile="paper", device="cpu", directory=tmp_path / "data", use_committed=False)
    CALLS.clear()
    res = experiments.best("toy", profile="quick", device="cpu", directory=tmp_path / "work")
    assert res.profile == "paper" and CALLS == [] and len(res.records) == 4
    # an incomplete committed file is not shown
    data = json.loads((tmp_path / "data" / "toy.paper.json").read_text())
    data["records"].pop(next(iter(data["records"])))
    (tmp_path / "data" / "toy.paper.json").write_text(json.dumps(data))
    assert experiments.committed("toy", "paper") is None


def test_inventory_summarises_sweep_files(toy, tmp_path):
    toy["toy"] = _toy()
    experiments.run("toy", profile="paper", device="cpu", directory=tmp_path, use_committed=False)
    (row,) = engine.inventory(tmp_path)
    assert row["sweep"] == "toy" and row["profile"] == "paper" and row["units"] == 4
    assert row["file"] == "toy.paper.json" and row["where"] and row["compute seconds"] >= 0



def test_result_axes_units_and_provenance(toy, tmp_path):
    toy["toy"] = _toy()
    res = experiments.run("toy", profile="quick", device="cpu", directory=tmp_path, use_committed=False)
    assert res.axis("k") == [0, 1, 2, 3]
    assert res.units(k=2) == [{"k": 2}] and res.axis("k", k=3) == [3]
    with pytest.raises(KeyError, match="no unit of sweep 'toy' has parameter 'm'"):
        res.axis("m")
    (label,) = res.provenance()
    assert res.provenance_sentence() == f"{label}, profile *quick*"
    assert "cpu" in label and "(committed)" not in label


def test_engine_takes_a_sweep_not_a_name(tmp_path):
    with pytest.raises(TypeError, match="sweep must be a Sweep"):
        engine.run("toy", profile="quick", device="cpu", directory=tmp_path)
    with pytest.raises(TypeError, match="sweep must be a Sweep"):
        experiments.register("toy")


def _slow_run(config, unit, device):
    import time

    CALLS.append(unit["k"])
    time.sleep(config["sleep"])
    return unit["k"]


def test_a_deadline_starts_no_unit_that_would_end_after_it(toy, tmp_path):
    """With deadline = now + 2.5 units' time, units of 0.4 s each: the first unit's time (no
    estimate given) is measured, then units start while one more fits, so 2 are stored -- never a
    partial one -- and the result says how many are missing; a later run stores the rest only.
    (Each unit may overrun its sleep by up to 0.1 s before the count changes.)"""
    import time

    sweep = Sweep(name="toy", description="slow", config=lambda p: {"sleep": 0.4},
                  units=lambda p: [{"k": k} for k in range(5)], run_unit=_slow_run)
    toy["toy"] = sweep
    res = experiments.run("toy", profile="quick", device="cpu", directory=tmp_path, use_committed=False,
                          deadline=time.monotonic() + 1.0)
    assert CALLS == [0, 1] and res.missing == 3 and not res.complete and len(res.records) == 2
    # an estimate above the time left starts nothing
    CALLS.clear()
    res = experiments.run("toy", profile="quick", device="cpu", directory=tmp_path, use_committed=False,
                          deadline=time.monotonic() + 1.0, unit_seconds=5.0)
    assert CALLS == [] and res.missing == 3
    CALLS.clear()
    res = experiments.run("toy", profile="quick", device="cpu", directory=tmp_path, use_committed=False)
    assert CALLS == [2, 3, 4] and res.complete and [res.value(k=k) for k in range(5)] == list(range(5))
    with pytest.raises(ValueError, match="unit_seconds"):
        experiments.run("toy", profile="quick", device="cpu", directory=tmp_path, unit_seconds=-1.0)
    with pytest.raises(TypeError, match="deadline"):
        experiments.run("toy", profile="quick", device="cpu", directory=tmp_path, deadline="soon")
