"""Tests of rnnbook.store: the results file of a sweep loses no finished unit and accepts no
altered one -- with real concurrent processes, a process killed with SIGKILL, and hand-edited
files."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rnnbook import engine, store
from rnnbook.engine import Sweep

ROOT = Path(__file__).resolve().parents[1]

# A toy sweep in its own module, so that separate processes can run it.  Each unit appends
# "k pid" to LOG when it starts (O_APPEND: whole lines from concurrent writers) and sleeps; unit
# HANG sleeps for a minute, long enough to be killed in the middle of it.
TOY = textwrap.dedent("""
    import json, os, sys, time
    from rnnbook import engine
    from rnnbook.engine import Sweep

    LOG, OUT, HANG = sys.argv[1], sys.argv[2], int(sys.argv[3])

    def run_unit(config, unit, device):
        with open(LOG, "a") as fh:
            fh.write(f"{unit['k']} {os.getpid()}\\n")
        time.sleep(60 if unit["k"] == HANG else 0.2)
        return {"k": unit["k"], "square": unit["k"] ** 2}

    toy = Sweep("toy", "a toy sweep", lambda p: {"n": 8}, lambda p: [{"k": k} for k in range(8)], run_unit)
    res = engine.run(toy, profile="quick", device="cpu", directory=OUT, use_committed=False,
                     poll_seconds=0.05)
    print(json.dumps({k: r["value"] for k, r in sorted(res.records.items())}))
""")


def _spawn(tmp_path, hang=-1):
    script = tmp_path / "toy_sweep.py"
    script.write_text(TOY)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "log"), str(tmp_path / "out"),
                             str(hang)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _log(tmp_path):
    lines = (tmp_path / "log").read_text().split() if (tmp_path / "log").exists() else []
    return [(int(k), int(pid)) for k, pid in zip(lines[::2], lines[1::2], strict=True)]


def _stored(tmp_path):
    return json.loads((tmp_path / "out" / "toy.quick.json").read_text())


def test_two_processes_share_the_units_and_compute_none_twice(tmp_path):
    a, b = _spawn(tmp_path), _spawn(tmp_path)
    out_a, err_a = a.communicate(timeout=120)
    out_b, err_b = b.communicate(timeout=120)
    assert a.returncode == 0 and b.returncode == 0, err_a + err_b
    started = [k for k, _ in _log(tmp_path)]
    assert sorted(started) == list(range(8))  # every unit computed exactly once
    assert {pid for _, pid in _log(tmp_path)} <= {a.pid, b.pid}
    assert json.loads(out_a) == json.loads(out_b)  # both return every unit
    data = _stored(tmp_path)
    assert len(data["records"]) == 8 and data["claims"] == {}


def test_a_killed_process_loses_nothing_and_its_unit_is_taken_over(tmp_path):
    a = _spawn(tmp_path, hang=3)
    deadline = time.time() + 60
    while not any(k == 3 for k, _ in _log(tmp_path)):
        assert time.time() < deadline and a.poll() is None
        time.sleep(0.05)
    os.kill(a.pid, signal.SIGKILL)
    a.wait()
    before = _stored(tmp_path)
    assert len(before["records"]) == 3 and list(before["claims"].values())[0]["pid"] == a.pid
    b = _spawn(tmp_path, hang=-1)
    out, err = b.communicate(timeout=120)
    assert b.returncode == 0, err
    log = _log(tmp_path)
    assert [k for k, pid in log if pid == a.pid] == [0, 1, 2, 3]
    assert sorted(k for k, pid in log if pid == b.pid) == [3, 4, 5, 6, 7]  # 0..2 were kept
    assert len(json.loads(out)) == 8 and _stored(tmp_path)["claims"] == {}


# ------------------------------------------------------------------------------------------------
# Hand-edited and foreign files.

CALLS = []


def _toy(n=4, setting=0):
    def run_unit(config, unit, device):
        CALLS.append(unit["k"])
        return {"k": unit["k"], "x": [unit["k"] + 0.5, 2.0]}
    return Sweep("toy", "toy", lambda p: {"setting": setting}, lambda p: [{"k": k} for k in range(n)],
                 run_unit)


def _run(tmp_path, **kw):
    return engine.run(_toy(**kw), profile="quick", device="cpu", directory=tmp_path, use_committed=False)


def _edit(tmp_path, change):
    path = tmp_path / "toy.quick.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _first(data):
    return data["records"][next(iter(sorted(data["records"])))]


@pytest.mark.parametrize("what, change", [
    ("an edited value", lambda d: _first(d)["value"]["x"].__setitem__(0, 9.0)),
    ("a NaN", lambda d: _first(d)["value"]["x"].__setitem__(1, float("nan"))),
    ("a string value", lambda d: _first(d).__setitem__("value", "oops")),
    ("a missing value", lambda d: _first(d).pop("value")),
    ("a missing where", lambda d: _first(d).pop("where")),
    ("a record that is a list", lambda d: d["records"].__setitem__(sorted(d["records"])[0], [1, 2])),
    ("two records swapped", lambda d: d["records"].update(
        {sorted(d["records"])[0]: d["records"][sorted(d["records"])[1]],
         sorted(d["records"])[1]: d["records"][sorted(d["records"])[0]]})),
])
def test_an_altered_record_is_reported_and_computed_again(tmp_path, capsys, what, change):
    _run(tmp_path)
    _edit(tmp_path, change)
    CALLS.clear()
    res = _run(tmp_path)
    err = capsys.readouterr().err
    assert "toy.quick.json: the record of unit" in err and "computed again" in err, what
    assert 1 <= len(CALLS) <= 2  # only the altered record(s)
    assert [res.value(k=k)["x"][0] for k in range(4)] == [0.5, 1.5, 2.5, 3.5]
    assert store.ResultsFile(tmp_path / "toy.quick.json", name="toy", profile="quick",
                             config={"setting": 0}).read(strict=True).problems == []


@pytest.mark.parametrize("what, change, message", [
    ("an edited config", lambda d: d["config"].__setitem__("setting", 7), "settings were edited"),
    ("records as a list", lambda d: d.__setitem__("records", []), "must be JSON objects"),
])
def test_a_broken_file_is_a_clear_error(tmp_path, what, change, message):
    _run(tmp_path)
    _edit(tmp_path, change)
    with pytest.raises(store.StoreError, match=message):
        _run(tmp_path)


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", "holds a list"), ("null", "holds a NoneType"), ("{", "not valid JSON"),
    ('{"sweep": "other"}', "belongs to sweep")])
def test_a_file_that_is_not_this_sweeps_is_a_clear_error(tmp_path, text, message):
    (tmp_path / "toy.quick.json").write_text(text)
    with pytest.raises(store.StoreError, match=message):
        _run(tmp_path)


def test_a_committed_record_that_fails_its_checks_is_an_error(tmp_path, monkeypatch):
    _run(tmp_path / "data")
    _edit(tmp_path / "data", lambda d: _first(d)["value"]["x"].__setitem__(0, 9.0))
    monkeypatch.setattr(engine, "COMMITTED_DIR", tmp_path / "data")
    with pytest.raises(store.StoreError, match="does not match its digest"):
        engine.committed(_toy(), "quick")


def test_changed_settings_keep_the_old_file(tmp_path, capsys):
    _run(tmp_path, setting=0)
    old = json.loads((tmp_path / "toy.quick.json").read_text())
    CALLS.clear()
    _run(tmp_path, setting=1)
    assert CALLS == [0, 1, 2, 3]
    kept = tmp_path / f"toy.quick.{old['config_hash']}.json"
    assert json.loads(kept.read_text())["records"] == old["records"]
    assert f"holds 4 units of other settings; kept as {kept.name}" in capsys.readouterr().err
    _run(tmp_path, setting=0)  # and back: the other file is set aside in turn, nothing deleted
    assert len(list(tmp_path.glob("toy.quick.*.json"))) == 2


def test_an_older_format_is_kept_not_trusted(tmp_path, capsys):
    _run(tmp_path)
    _edit(tmp_path, lambda d: d.__setitem__("format", 1))
    CALLS.clear()
    _run(tmp_path)
    assert CALLS == [0, 1, 2, 3] and "an older file format" in capsys.readouterr().err


def test_the_output_directory_is_checked_before_any_work(tmp_path):
    (tmp_path / "file").write_text("x")
    CALLS.clear()
    with pytest.raises(ValueError, match="is a file, not a folder"):
        engine.run(_toy(), profile="quick", device="cpu", directory=tmp_path / "file" / "sub",
                   use_committed=False)
    assert CALLS == []
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(ValueError, match="not writable"):
            store.check_output_directory(locked)
    with pytest.raises(TypeError, match="output must be a path"):
        store.check_output_directory(3)


def test_digest_and_canonical_form():
    assert store.canonical({"b": 1, "a": [1.5, None]}) == '{"a":[1.5,null],"b":1}'
    d = store.digest({"k": 1}, {"x": [1.0, float("nan")]})
    assert d == store.digest({"k": 1}, {"x": [1.0, float("nan")]}) and len(d) == 64
    assert d != store.digest({"k": 1}, {"x": [1.0, 2.0]})
