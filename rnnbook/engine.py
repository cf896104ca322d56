"""The sweep engine: heavy experiments as resumable sweeps.  A sweep is a list of units of work
(e.g. one width and one initialisation, all its random networks); each finished unit is written
to a JSON file at once (atomically: a temporary file, then a rename), so an interrupted run
resumes where it stopped and loses at most the unit in progress.  No pickle: the files are plain
JSON, readable anywhere.

Where results live:

* ``book/data/<name>.<profile>.json`` -- results committed to the repository (e.g. paper-profile
  runs made on a GPU).  Read, never written, by chapters: a unit found there is not recomputed.
* ``<directory>/<name>.<profile>.json`` -- the working store, by default ``_build/sweeps`` (or
  ``$RNNBOOK_SWEEP_DIR``); new units are written here.

Every unit records where and when it was computed, so a chapter can label what it shows.  From the
command line: ``python -m rnnbook sweep NAME --profile paper --device cuda``.

On a cluster: ``run(..., client=client)`` sends the units to the workers of a Dask
``distributed.Client`` (local processes, one worker per GPU, a Slurm allocation: whatever deployed
the scheduler; :mod:`rnnbook.cluster` starts the local kinds).  Workers compute units and return
records; only this process claims units and writes the store, so a dead worker or a killed client
loses at most the units in flight.  A unit's randomness depends only on its parameters, so the
records equal those of a serial run on the same kind of device with the same CPU threads per unit
(``threads``: BLAS reductions may round differently on another number of threads).

The engine knows nothing of the book's experiments: :mod:`rnnbook.experiments` defines and names
them (the registry) and calls :func:`run` with a :class:`Sweep`.  Layer 9 of the package: it
imports only :mod:`rnnbook.device`, :mod:`rnnbook.profiles`, :mod:`rnnbook.runtime` and
:mod:`rnnbook.store`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._version import __version__
from .device import get_device
from .profiles import Profile
from .profiles import get as get_profile
from .runtime import cpu_threads, progress_bar
from .store import FORMAT, ResultsFile, atomic_write_json, check_output_directory
from .store import canonical as _canonical

__all__ = ["Sweep", "SweepResult", "UnitsFailed", "compute_unit", "run", "committed", "best", "export",
           "inventory", "default_directory", "atomic_write_json", "COMMITTED_DIR", "ENV_VAR", "FORMAT"]

ENV_VAR = "RNNBOOK_SWEEP_DIR"


_REPO = Path(__file__).resolve().parents[1]
COMMITTED_DIR = _REPO / "book" / "data"


def default_directory() -> Path:
    """``$RNNBOOK_SWEEP_DIR`` or ``_build/sweeps`` of the repository."""
    env = os.environ.get(ENV_VAR, "").strip()
    return Path(env) if env else _REPO / "_build" / "sweeps"


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _where(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (cuda)"
    return f"{platform.processor() or platform.machine()} (cpu, {torch.get_num_threads()} threads)"


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A named experiment: ``config(profile)`` gives its sweep-wide settings (a JSON-able dict),
    ``units(profile)`` its units of work (JSON-able dicts of parameters), and
    ``run_unit(config, unit, device)`` computes one unit and returns JSON-able results."""

    name: str
    description: str
    config: Callable[[Profile], dict]
    units: Callable[[Profile], list[dict]]
    run_unit: Callable[[dict, dict, torch.device], Any]


def _check_sweep(sweep) -> None:
    if not isinstance(sweep, Sweep):
        raise TypeError(f"sweep must be a Sweep (a registered one: rnnbook.experiments.get_sweep(name)), "
                        f"got {type(sweep).__name__}")


def compute_unit(run_unit: Callable[[dict, dict, torch.device], Any], config: dict, unit: dict,
                 device=None, threads: int | None = None) -> dict:
    """Compute one unit where this function runs (this process, or a Dask worker) and return its
    record without the digest: ``{"unit", "value", "where", "when", "seconds"}``.  ``device``:
    None resolves on the worker (its ``RNNBOOK_DEVICE``, else its own GPU if it sees one, else the CPU);
    ``threads``: torch's CPU threads for the unit (None: unchanged), so that the workers of one
    machine do not oversubscribe its cores."""
    dev = get_device(device)
    start = _dt.datetime.now(_dt.timezone.utc)
    t0 = time.perf_counter()
    with cpu_threads(torch.device("cpu"), threads):  # restored afterwards
        value = _jsonable(run_unit(config, unit, dev))
        where = _where(dev)
    return {"unit": unit, "value": value, "where": where,
            "when": start.isoformat(timespec="seconds"), "seconds": round(time.perf_counter() - t0, 3)}


class UnitsFailed(RuntimeError):
    """Units of a distributed sweep that failed twice (a first try and one retry).  ``failures``
    maps each unit (canonical JSON) to its traceback; ``result`` holds every other unit, all of them
    stored, so a rerun computes only the failed ones."""

    def __init__(self, failures: dict[str, str], result: SweepResult):
        self.failures, self.result = failures, result
        names = "; ".join(sorted(failures))
        super().__init__(f"sweep {result.name} ({result.profile}): {len(failures)} unit(s) failed after a "
                         f"retry: {names}.  The other {len(result.records)} units are stored in "
                         f"{result.path}; run again to retry the failed ones.")


@dataclasses.dataclass
class SweepResult:
    """The results of a sweep: ``records`` maps each unit (canonical JSON of its parameters) to
    ``{"unit", "value", "where", "when", "seconds", "source"}``; ``source`` is ``"committed"`` for
    units read from ``book/data`` and the working store's path otherwise."""

    name: str
    profile: str
    config: dict
    records: dict[str, dict]
    path: Path
    #: Units of the current settings not in ``records``: those a run with a ``deadline`` left for
    #: the next run (0 when complete).
    missing: int = 0

    @property
    def complete(self) -> bool:
        """Whether every unit of the current settings is in ``records``."""
        return self.missing == 0

    def value(self, **unit) -> Any:
        """The stored value of the unit with exactly these parameters (``KeyError`` if missing)."""
        return self.records[_canonical(_jsonable(unit))]["value"]

    def units(self, **where) -> list[dict]:
        """The units (dicts of parameters) whose parameters equal ``where``'s, in stored order."""
        return [r["unit"] for r in self.records.values()
                if all(r["unit"].get(k) == v for k, v in where.items())]

    def axis(self, key: str, **where) -> list:
        """The sorted distinct values of parameter ``key`` over the units matching ``where``: a
        sweep's widths, step sizes or lengths, as run (a chapter never retypes them)."""
        values = {u[key] for u in self.units(**where) if key in u}
        if not values:
            raise KeyError(f"no unit of sweep {self.name!r} has parameter {key!r}"
                           + (f" among those with {where}" if where else ""))
        return sorted(values)

    def provenance_sentence(self) -> str:
        """Where and when the shown results were computed, and under which profile, as a chapter
        prints it: 'cpu (...), 2026-11-29; profile *quick*'."""
        return f"{'; '.join(self.provenance())}, profile *{self.profile}*"

    def provenance(self) -> list[str]:
        """Distinct 'where, when-date, source' labels of the records, for a chapter's caption."""
        labels = {f"{r['where']}, {r['when'][:10]}" + (" (committed)" if r["source"] == "committed" else "")
                  for r in self.records.values()}
        return sorted(labels)


def _settings(sweep: Sweep, prof: Profile) -> dict:
    """The sweep's settings under ``prof`` (a stored unit counts only under the same settings: the
    results file compares their hash, :class:`rnnbook.store.ResultsFile`)."""
    return _jsonable(sweep.config(prof))


def _file(sweep: Sweep, prof: Profile, config: dict, path: Path) -> ResultsFile:
    return ResultsFile(path, name=sweep.name, profile=prof.name, config=config,
                       description=sweep.description, version=__version__)


def _committed_records(sweep: Sweep, prof: Profile, config: dict) -> dict[str, dict]:
    # A committed file is part of the repository: a record that fails its checks is an error.
    path = COMMITTED_DIR / f"{sweep.name}.{prof.name}.json"
    records = _file(sweep, prof, config, path).read(strict=True).records
    return {k: dict(v, source="committed") for k, v in records.items()}


def run(sweep: Sweep, *, profile: Profile | str | None = None, device=None, directory=None,
        use_committed: bool = True, progress: bool = False, poll_seconds: float = 1.0,
        client=None, threads: int | None = None, deadline: float | None = None,
        unit_seconds: float | None = None) -> SweepResult:
    """Run (or resume) ``sweep`` under ``profile`` on ``device`` and return every unit.

    Units already in ``book/data/<name>.<profile>.json`` (if ``use_committed``) or in the working
    store ``<directory>/<name>.<profile>.json`` are not recomputed; each new unit is saved as soon
    as it is done (:class:`rnnbook.store.ResultsFile`).  Several processes may run the same sweep
    into the same directory: each claims one unit at a time under the file's lock, so no unit is
    computed twice, and each returns when every unit is stored (waiting, ``poll_seconds`` at a
    time, for units that another live process is computing).  A stored file of other settings is
    kept under another name, never overwritten.  The directory is checked before any work.

    ``client``: a Dask ``distributed.Client``; the units then run on its workers (``device`` None:
    each worker's own device; ``threads``: CPU threads per unit there), up to two per worker thread
    in flight, each retried once if it raises.  Units that fail twice are reported together at the
    end (:class:`UnitsFailed`, with their tracebacks) after every other unit is stored.  Without a
    client the units run here, one after the other, and the first failure raises.

    ``deadline`` (a ``time.monotonic()`` value; serial runs only): start no unit that would not end
    before it, by the longest unit this call has computed (before the first: ``unit_seconds``, an
    estimate; None: start it).  The units left are stored by a later run; the result says how
    many (:attr:`SweepResult.missing`).  A unit is never cut short: what is stored is complete."""
    _check_sweep(sweep)
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    if client is None:
        dev = get_device(device)
    elif device is not None:
        get_device(device)  # validated here; resolved on each worker
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be None or an int >= 1, got {threads!r}")
    if client is not None and not all(hasattr(client, a) for a in ("submit", "nthreads")):
        raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}")
    poll_seconds = float(poll_seconds)
    if not poll_seconds > 0:
        raise ValueError(f"poll_seconds must be positive, got {poll_seconds}")
    if deadline is not None:
        if client is not None:
            raise ValueError("deadline applies to serial runs (client=None) only")
        if isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or deadline != deadline:
            raise TypeError(f"deadline must be a time.monotonic() value, got {deadline!r}")
    if unit_seconds is not None and (isinstance(unit_seconds, bool)
                                     or not isinstance(unit_seconds, (int, float)) or not unit_seconds >= 0):
        raise ValueError(f"unit_seconds must be None or a number >= 0, got {unit_seconds!r}")
    config = _settings(sweep, prof)
    directory = check_output_directory(directory if directory is not None else default_directory(),
                                       what="sweep directory")
    path = directory / f"{sweep.name}.{prof.name}.json"
    units = {_canonical(u): u for u in (_jsonable(u) for u in sweep.units(prof))}
    records = {}
    if use_committed and (COMMITTED_DIR / path.name).resolve() != path.resolve():
        records.update(_committed_records(sweep, prof, config))
    todo = [k for k in units if k not in records]
    store = _file(sweep, prof, config, path)
    bar = progress_bar(range(len(todo)), f"sweep {sweep.name} ({prof.name})") if progress and todo else None
    ticks = iter(bar) if bar is not None else None
    waiter = _Waiter(sweep, prof, poll_seconds)
    if client is None:
        _run_here(sweep, config, units, todo, store, records, path, dev, threads, ticks, waiter,
                  (deadline, unit_seconds))
        failures = {}
    else:
        failures = _run_on_client(client, sweep, config, units, todo, store, records, path, device,
                                  threads, ticks, waiter)
    if ticks is not None:
        for _ in ticks:  # units another process finished, or that failed: close the bar
            pass
    result = SweepResult(sweep.name, prof.name, config, {k: records[k] for k in units if k in records}, path,
                         missing=sum(k not in records for k in units))
    if failures:
        raise UnitsFailed(failures, result)
    return result


class _Waiter:
    """What a process does when every unit left is claimed by others: take the ones they stored,
    say once whom it waits for, and sleep."""

    def __init__(self, sweep: Sweep, prof: Profile, poll_seconds: float):
        self.sweep, self.prof, self.poll_seconds, self.said = sweep, prof, poll_seconds, False

    def collect(self, todo: list[str], contents, records: dict, path: Path) -> list[str]:
        done = [k for k in todo if k in contents.records]
        records.update({k: dict(contents.records[k], source=str(path)) for k in done})
        todo = [k for k in todo if k not in contents.records]
        if todo:  # the rest is being computed by other live processes
            if not self.said:
                holders = sorted({f"pid {c.get('pid')} on {c.get('host')}" for c in contents.claims.values()})
                print(f"sweep {self.sweep.name} ({self.prof.name}): waiting for {len(todo)} units "
                      f"computed by {', '.join(holders)}", file=sys.stderr, flush=True)
                self.said = True
            time.sleep(self.poll_seconds)
        return todo


def _run_here(sweep, config, units, todo, store, records, path, dev, threads, ticks, waiter,
              limit=(None, None)) -> None:
    """The units of ``todo`` in this process, one claimed unit at a time; the first failure
    releases its claim and raises.  ``limit``: (deadline, first estimate) of :func:`run`."""
    todo = list(todo)
    deadline, longest = limit
    while todo:
        if deadline is not None and longest is not None and time.monotonic() + longest > deadline:
            # the next unit would end after the deadline: take what is stored, leave the rest
            stored = store.read().records
            records.update({k: dict(stored[k], source=str(path)) for k in todo if k in stored})
            return
        key, contents = store.claim(todo)
        if key is None:
            todo = waiter.collect(todo, contents, records, path)
            continue
        started = time.monotonic()
        try:
            record = compute_unit(sweep.run_unit, config, units[key], dev, threads)
        except BaseException:
            store.release(key)  # an interrupted or failed unit is free for the next run
            raise
        longest = max(longest or 0.0, time.monotonic() - started)
        records[key] = dict(store.store(key, record), source=str(path))
        todo.remove(key)
        if ticks is not None:
            next(ticks, None)


def _run_on_client(client, sweep, config, units, todo, store, records, path, device, threads, ticks,
                   waiter) -> dict[str, str]:
    """The units of ``todo`` on the workers of ``client``: claimed here, computed there, stored
    here as each completes.  Returns {unit: traceback} of the units that failed twice."""
    from distributed import as_completed  # only a distributed run needs Dask

    capacity = max(2, 2 * sum(client.nthreads().values()))
    pending = as_completed()
    in_flight = {}  # future -> unit key
    failures = {}
    todo = list(todo)
    try:
        while todo:
            while len(in_flight) < capacity:  # claim and send while workers have room
                key, contents = store.claim([k for k in todo if k not in in_flight.values()])
                if key is None:
                    break
                future = client.submit(compute_unit, sweep.run_unit, config, units[key], device, threads,
                                       pure=False, retries=1)
                in_flight[future] = key
                pending.add(future)
            if not in_flight:  # every unit left is claimed by another live process
                todo = waiter.collect(todo, contents, records, path)
                continue
            future = next(pending)
            key = in_flight.pop(future)
            todo.remove(key)
            if future.status == "finished":
                records[key] = dict(store.store(key, future.result()), source=str(path))
            else:
                failures[key] = _traceback(future)
                store.release(key)
            if ticks is not None:
                next(ticks, None)
    except BaseException:
        for future, key in in_flight.items():  # interrupted: what is in flight is free again
            future.cancel()
            store.release(key)
        raise
    return failures


def _traceback(future) -> str:
    import traceback

    if future.status == "cancelled":
        return "cancelled by the scheduler (its workers were lost)"
    exc = future.exception()
    return "".join(traceback.format_exception(type(exc), exc, future.traceback()))


def export(sweep: Sweep, result: SweepResult, path) -> Path:
    """Write every record of ``result`` (committed and new alike) into a sweep file at ``path``:
    the file to copy to ``book/data`` after a run elsewhere, complete or not (a partial committed
    file is resumed by :func:`run` and ignored by :func:`committed`).  Returns the path."""
    _check_sweep(sweep)
    if not isinstance(result, SweepResult) or result.name != sweep.name:
        raise ValueError(f"result must be a SweepResult of sweep {sweep.name!r}")
    prof = get_profile(result.profile)
    if _settings(sweep, prof) != result.config:
        raise ValueError(f"result's settings are not the current ones of sweep {sweep.name!r}")
    path = Path(path)
    records = {k: {f: v for f, v in r.items() if f != "source"} for k, r in result.records.items()}
    _file(sweep, prof, result.config, path).write(records, {})
    return path


def committed(sweep: Sweep, profile: Profile | str) -> SweepResult | None:
    """The committed results ``book/data/<name>.<profile>.json`` if they hold every unit of the
    current settings, else None.  Computes nothing; a committed record that fails its checks is a
    ``ValueError`` naming the file and the unit."""
    _check_sweep(sweep)
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    config = _settings(sweep, prof)
    records = _committed_records(sweep, prof, config)
    wanted = {_canonical(_jsonable(u)) for u in sweep.units(prof)}
    if not wanted or not wanted <= set(records):
        return None
    return SweepResult(sweep.name, prof.name, config, {k: records[k] for k in wanted},
                       COMMITTED_DIR / f"{sweep.name}.{prof.name}.json")


def inventory(directory=None) -> list[dict]:
    """One summary per sweep file in ``directory`` (default: the committed ``book/data``): sweep,
    profile, number of units, where and when they were computed, total compute seconds."""
    directory = Path(directory) if directory is not None else COMMITTED_DIR
    rows = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text())
        recs = data.get("records", {}).values()
        rows.append({
            "sweep": data.get("sweep"), "profile": data.get("profile"), "units": len(recs),
            "where": ", ".join(sorted({r["where"] for r in recs})),
            "when": ", ".join(sorted({r["when"][:10] for r in recs})),
            "compute seconds": round(sum(r.get("seconds", 0.0) for r in recs), 1),
            "file": path.name})
    return rows


def best(sweep: Sweep, *, profile: Profile | str | None = None, device=None, prefer: str = "paper",
         **kwargs) -> SweepResult:
    """What a chapter shows: complete committed results of the ``prefer`` profile (paper-scale runs
    made elsewhere) when they exist, else :func:`run` under ``profile``.  ``result.profile`` and
    the records' provenance say which."""
    found = committed(sweep, prefer)
    return found if found is not None else run(sweep, profile=profile, device=device, **kwargs)
