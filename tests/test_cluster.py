"""Sweeps on a Dask cluster (rnnbook.cluster, engine.run(client=...)): records identical to a
serial run, failed units retried once and reported, lost workers and a killed client losing
nothing but the units in flight.  With real worker processes (a local cluster of two)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")
import cloudpickle  # noqa: E402  (a dependency of distributed)

from rnnbook import cluster, engine  # noqa: E402
from rnnbook.engine import Sweep, UnitsFailed  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# The toy sweeps below are defined in this module, which the workers cannot import: send them by
# value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT))


def _values(directory, name, profile="quick"):
    """Each record's value without the wall-clock time a unit may report (its "seconds"), which no
    two runs share; everything else must be equal to the last bit."""
    data = json.loads((Path(directory) / f"{name}.{profile}.json").read_text())

    def computed(value):
        return {k: v for k, v in value.items() if k != "seconds"} if isinstance(value, dict) else value

    return {k: computed(r["value"]) for k, r in data["records"].items()}, data


def test_threads_per_worker_and_arguments():
    assert cluster.threads_per_worker(2, cores=2) == 1
    assert cluster.threads_per_worker(3, cores=16) == 5
    assert cluster.threads_per_worker(8, cores=2) == 1  # never 0
    with pytest.raises(ValueError, match="workers"):
        cluster.threads_per_worker(0)
    with pytest.raises(TypeError, match="workers"):
        cluster.local_client(2.0)
    with pytest.raises(TypeError, match="address"):
        cluster.connect("")


def test_cli_workers_2_gives_the_records_of_a_serial_run(tmp_path):
    """The CI check of the issue: a registered sweep, serial and on two local workers."""
    base = [sys.executable, "-m", "rnnbook", "sweep", "sgd_labelling", "--profile", "quick",
            "--device", "cpu"]
    t0 = time.perf_counter()
    # One CPU thread per unit, as each of two workers on two cores gets (a BLAS reduction may round
    # differently on another number of threads; SGD units run on one thread anyway).
    serial = subprocess.run([*base, "--threads", "1", "--output", str(tmp_path / "serial")],
                            capture_output=True, text=True, env=_env(), timeout=600)
    t1 = time.perf_counter()
    dist = subprocess.run([*base, "--workers", "2", "--output", str(tmp_path / "dist")], capture_output=True,
                          text=True, env=_env(), timeout=600)
    t2 = time.perf_counter()
    assert serial.returncode == 0, serial.stderr
    assert dist.returncode == 0, dist.stderr
    a, _ = _values(tmp_path / "serial", "sgd_labelling")
    b, data = _values(tmp_path / "dist", "sgd_labelling")
    assert a == b and len(a) > 1  # every value, bit for bit
    assert data["claims"] == {}
    assert all("cpu, 1 threads" in r["where"] for r in data["records"].values())  # 2 workers, 2 cores
    print(f"serial {t1 - t0:.1f} s, --workers 2 {t2 - t1:.1f} s (wall, including start-up)")


def test_cli_rejects_bad_cluster_arguments_before_starting_one(tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "rnnbook", "sweep", *args], capture_output=True,
                              text=True, env=_env(), timeout=120)

    out = cli("sgd_labelling", "--workers", "0", "--output", str(tmp_path))
    assert out.returncode == 2 and "--workers must be >= 1" in out.stderr
    out = cli("sgd_labelling", "--workers", "2", "--threads", "0", "--output", str(tmp_path))
    assert out.returncode == 2 and "--threads must be >= 1" in out.stderr
    out = cli("sgd_labelling", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1")
    assert out.returncode == 2 and "not allowed with" in out.stderr
    out = cli("sgd_labelling", "--workers", "2", "--output", str(tmp_path / "f" / "x"), "--profile", "nope")
    assert out.returncode == 2 and "profile" in out.stderr
    (tmp_path / "file").write_text("")
    out = cli("sgd_labelling", "--workers", "2", "--output", str(tmp_path / "file"))
    assert out.returncode == 2 and "--output" in out.stderr and "Traceback" not in out.stderr


# ------------------------------------------------------------------------------------------------
# Python API, on one local cluster of two worker processes.


@pytest.fixture(scope="module")
def client():
    with cluster.local_client(2) as c:
        yield c


def _attempts(log: Path) -> list[int]:
    return [int(k) for k in log.read_text().split()] if log.exists() else []


def _toy_unit(config, unit, device):
    """Unit k: logs its attempt; kind "fails" raises every time, "flaky" on its first attempt,
    "dies" kills its worker process on its first attempt."""
    log = Path(config["log"])
    k = unit["k"]
    first = k not in _attempts(log)
    with open(log, "a") as fh:
        fh.write(f"{k}\n")
    kind = config["kinds"].get(str(k))
    if kind == "fails" or (kind == "flaky" and first):
        raise RuntimeError(f"unit {k} cannot be computed")
    if kind == "dies" and first:
        os._exit(1)
    return {"k": k, "cube": k**3}


def _toy(tmp_path, kinds=None, n=6):
    config = {"log": str(tmp_path / "attempts"), "kinds": {str(k): v for k, v in (kinds or {}).items()}}
    return Sweep("toy", "toy", lambda p: config, lambda p: [{"k": k} for k in range(n)], _toy_unit)


def _run(sweep, tmp_path, **kw):
    return engine.run(sweep, profile="quick", directory=tmp_path / "out", use_committed=False, **kw)


def test_records_equal_a_serial_run_and_resume(tmp_path, client):
    dist = _run(_toy(tmp_path), tmp_path, client=client)
    serial = engine.run(_toy(tmp_path), profile="quick", directory=tmp_path / "serial", use_committed=False)
    values = [{k: r["value"] for k, r in res.records.items()} for res in (dist, serial)]
    assert values[0] == values[1]
    assert sorted(_attempts(tmp_path / "attempts")) == sorted(list(range(6)) * 2)  # each once per run
    again = _run(_toy(tmp_path), tmp_path, client=client)  # everything stored: nothing computed
    assert len(_attempts(tmp_path / "attempts")) == 12 and again.records.keys() == dist.records.keys()


def test_a_failing_unit_is_retried_once_then_reported_and_the_rest_kept(tmp_path, client):
    with pytest.raises(UnitsFailed) as info:
        _run(_toy(tmp_path, {2: "fails", 4: "flaky"}), tmp_path, client=client)
    attempts = _attempts(tmp_path / "attempts")
    assert attempts.count(2) == 2  # a first try and one retry
    assert attempts.count(4) == 2  # failed once, then succeeded
    exc = info.value
    assert list(exc.failures) == ['{"k":2}']
    assert "unit 2 cannot be computed" in exc.failures['{"k":2}'] and "Traceback" in exc.failures['{"k":2}']
    assert '{"k":2}' in str(exc)
    assert sorted(exc.result.records) == sorted(f'{{"k":{k}}}' for k in (0, 1, 3, 4, 5))
    stored, data = _values(tmp_path / "out", "toy")
    assert len(stored) == 5 and data["claims"] == {}  # the failed unit's claim is released
    # A rerun (same settings) computes only the failed unit.
    with pytest.raises(UnitsFailed):
        _run(_toy(tmp_path, {2: "fails", 4: "flaky"}), tmp_path, client=client)
    assert _attempts(tmp_path / "attempts")[len(attempts):] == [2, 2]


def test_a_lost_worker_loses_only_its_unit(tmp_path, client):
    result = _run(_toy(tmp_path, {3: "dies"}), tmp_path, client=client)
    assert result.value(k=3) == {"k": 3, "cube": 27}  # rescheduled on a live (or restarted) worker
    assert _attempts(tmp_path / "attempts").count(3) == 2
    assert len(result.records) == 6


# A client process that runs a slow toy sweep on two local workers, to be killed.
KILLED_CLIENT = textwrap.dedent("""
    import os, sys, time
    from rnnbook import cluster, engine
    from rnnbook.engine import Sweep

    def unit(config, unit, device):
        with open(os.environ["SLOW_SWEEP_LOG"], "a") as fh:
            fh.write(f"{unit['k']} {os.getpid()}\\n")
        time.sleep(0.4)
        return {"k": unit["k"]}

    toy = Sweep("slow", "slow", lambda p: {"n": 12}, lambda p: [{"k": k} for k in range(12)], unit)
    if __name__ == "__main__":
        with cluster.local_client(2) as client:
            engine.run(toy, profile="quick", directory=sys.argv[1], use_committed=False, client=client)
""")


def test_a_killed_client_loses_only_the_units_in_flight(tmp_path, monkeypatch):
    script = tmp_path / "slow_client_sweep.py"
    script.write_text(KILLED_CLIENT)
    log, out = tmp_path / "log", tmp_path / "out"
    monkeypatch.setenv("SLOW_SWEEP_LOG", str(log))  # for the workers and for the rerun here
    proc = subprocess.Popen([sys.executable, str(script), str(out)], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    stored_file = out / "slow.quick.json"
    deadline = time.time() + 180
    while not (stored_file.exists() and len(json.loads(stored_file.read_text())["records"]) >= 3):
        assert time.time() < deadline and proc.poll() is None, proc.stderr.read() if proc.poll() else "slow"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the client and its cluster, at once
    proc.wait()
    before = json.loads(stored_file.read_text())
    assert before["claims"]  # the dead client's claims on the units in flight
    # A serial rerun takes over the dead claims and computes exactly the units not stored.
    sys.path.insert(0, str(tmp_path))
    try:
        import slow_client_sweep as toy_module  # the same sweep definition
    finally:
        sys.path.remove(str(tmp_path))
    n_before = len(log.read_text().split()) // 2
    result = engine.run(toy_module.toy, profile="quick", directory=out, use_committed=False)
    after = json.loads(stored_file.read_text())
    assert len(result.records) == 12 and after["claims"] == {}
    for key, record in before["records"].items():  # nothing stored was lost or recomputed
        assert after["records"][key] == record
    rerun = [int(k) for k, pid in zip(*[iter(log.read_text().split()[2 * n_before:])] * 2, strict=True)
             if int(pid) == os.getpid()]
    assert sorted(rerun) == sorted(json.loads(k)["k"] for k in after["records"] if k not in before["records"])
