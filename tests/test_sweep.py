"""Tests of rnnbook.sweep: resumable, atomic JSON results of heavy experiments."""

import json

import numpy as np
import pytest

from rnnbook import profiles, sweep
from rnnbook.sweep import Sweep

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
    monkeypatch.setattr(sweep, "SWEEPS", registry)
    monkeypatch.setattr(sweep, "_load_builtin", lambda: None)
    CALLS.clear()
    FAIL_AT.clear()
    return registry


def test_interrupted_sweep_resumes_without_recomputing(toy, tmp_path):
    toy["toy"] = _toy()
    FAIL_AT.append(2)
    with pytest.raises(KeyboardInterrupt):
        sweep.run("toy", profile="quick", device="cpu", directory=tmp_path, use_committed=False)
    saved = json.loads((tmp_path / "toy.quick.json").read_text())
    assert len(saved["records"]) == 2 and CALLS == [0, 1, 2]  # units 0 and 1 were kept
    assert not list(tmp_path.glob(".*.tmp"))  # no half-written file left behind
    FAIL_AT.clear()  # resume with the same settings
    CALLS.clear()
    res = sweep.run("toy", profile="quick", device="cpu", directory=tmp_path, use_committed=False)
    assert CALLS == [2, 3]  # only what was missing
    assert res.value(k=3) == [0, 3, 6] and len(res.records) == 4
    assert all(r["where"] and r["when"] for r in res.records.values())


def test_changed_settings_invalidate_stored_units(toy, tmp_path):
    toy["toy"] = _toy(offset=0)
    sweep.run("toy", profile="quick", device="cpu", directory=tmp_path, use_committed=False)
    toy["toy"] = _toy(offset=10)
    CALLS.clear()
    res = sweep.run("toy", profile="quick", device="cpu", directory=tmp_path, use_committed=False)
    assert CALLS == [0, 1, 2, 3] and res.value(k=1) == [10, 11, 12]


def test_committed_results_are_used_and_labelled(toy, tmp_path, monkeypatch):
    toy["toy"] = _toy()
    committed = tmp_path / "data"
    sweep.run("toy", profile="quick", device="cpu", directory=committed, use_committed=False)
    monkeypatch.setattr(sweep, "COMMITTED_DIR", committed)
    CALLS.clear()
    res = sweep.run("toy", profile="quick", device="cpu", directory=tmp_path / "work")
    assert CALLS == [] and all(r["source"] == "committed" for r in res.records.values())
    assert all(label.endswith("(committed)") for label in res.provenance())


def test_bad_files_and_names_are_clear_errors(toy, tmp_path):
    toy["toy"] = _toy()
    (tmp_path / "toy.quick.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        sweep.run("toy", profile="quick", device="cpu", directory=tmp_path, use_committed=False)
    with pytest.raises(ValueError, match="unknown sweep 'nope'"):
        sweep.get_sweep("nope")


def test_forward_kernel_sweep_matches_a_direct_computation(tmp_path):
    """The registered sweep computes exactly what empirical.forward_kernel_errors gives."""
    from rnnbook import concepts, empirical
    from rnnbook.sweeps import SEED

    tiny = profiles.Profile(**{**profiles.get("quick").__dict__, "name": "quick", "fk_widths": (16,),
                               "fk_seeds": 2, "fk_n": 3, "fk_L": 3})
    res = sweep.run("forward_kernel_mc", profile=tiny, device="cpu", directory=tmp_path, use_committed=False)
    X = concepts.sample_sequences(3, 3, tiny.fk_d, c_min=0.5, c_max=1.5, seed=SEED, device="cpu")
    direct = empirical.forward_kernel_errors(X, [16], 2, init="paper", seed=SEED + 200_000, device="cpu")[0]
    np.testing.assert_allclose(res.value(init="paper", m=16), direct, rtol=0, atol=0)


def test_backward_kernel_sweep_matches_a_direct_computation(tmp_path):
    """The registered Theorem 6 sweep computes exactly what empirical.backward_kernel_errors gives,
    with its networks seeded apart from the forward sweep's."""
    from rnnbook import concepts, empirical
    from rnnbook.sweeps import SEED

    tiny = profiles.Profile(**{**profiles.get("quick").__dict__, "name": "quick", "fk_widths": (16,),
                               "fk_seeds": 2, "fk_n": 3, "fk_L": 3})
    res = sweep.run("backward_kernel_mc", profile=tiny, device="cpu", directory=tmp_path, use_committed=False)
    X = concepts.sample_sequences(3, 3, tiny.fk_d, c_min=0.5, c_max=1.5, seed=SEED, device="cpu")
    direct = empirical.backward_kernel_errors(X, [16], 2, init="algorithm1", seed=SEED + 150_000,
                                              device="cpu")
    got = res.value(init="algorithm1", m=16)
    assert sorted(got) == sorted(direct)
    for key, value in direct.items():
        np.testing.assert_allclose(got[key], value[0], rtol=0, atol=0)


def test_best_prefers_complete_committed_results(toy, tmp_path, monkeypatch):
    toy["toy"] = _toy()
    monkeypatch.setattr(sweep, "COMMITTED_DIR", tmp_path / "data")
    assert sweep.committed("toy", "paper") is None
    res = sweep.best("toy", profile="quick", device="cpu", directory=tmp_path / "work")
    assert res.profile == "quick" and CALLS == [0, 1, 2, 3]
    sweep.run("toy", profile="paper", device="cpu", directory=tmp_path / "data", use_committed=False)
    CALLS.clear()
    res = sweep.best("toy", profile="quick", device="cpu", directory=tmp_path / "work")
    assert res.profile == "paper" and CALLS == [] and len(res.records) == 4
    # an incomplete committed file is not shown
    data = json.loads((tmp_path / "data" / "toy.paper.json").read_text())
    data["records"].pop(next(iter(data["records"])))
    (tmp_path / "data" / "toy.paper.json").write_text(json.dumps(data))
    assert sweep.committed("toy", "paper") is None


def test_inventory_summarises_sweep_files(toy, tmp_path):
    toy["toy"] = _toy()
    sweep.run("toy", profile="paper", device="cpu", directory=tmp_path, use_committed=False)
    (row,) = sweep.inventory(tmp_path)
    assert row["sweep"] == "toy" and row["profile"] == "paper" and row["units"] == 4
    assert row["file"] == "toy.paper.json" and row["where"] and row["compute seconds"] >= 0


def test_progress_bar_without_tqdm(monkeypatch, capsys):
    """On a machine without tqdm (the bare GPU image) the sweep still reports progress: every step
    is yielded, in order, and a line per step goes to stderr."""
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `from tqdm import tqdm` raise ImportError
    assert list(sweep.progress_bar(iter(["a", "b", "c"]), "toy")) == ["a", "b", "c"]
    assert capsys.readouterr().err.splitlines() == ["toy: 1/3", "toy: 2/3", "toy: 3/3"]
