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
from .runtime import progress_bar
from .store import FORMAT, ResultsFile, atomic_write_json, check_output_directory
from .store import canonical as _canonical

__all__ = ["Sweep", "SweepResult", "run", "committed", "best", "inventory", "default_directory",
           "atomic_write_json", "COMMITTED_DIR", "ENV_VAR", "FORMAT"]

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
        use_committed: bool = True, progress: bool = False, poll_seconds: float = 1.0) -> SweepResult:
    """Run (or resume) ``sweep`` under ``profile`` on ``device`` and return every unit.

    Units already in ``book/data/<name>.<profile>.json`` (if ``use_committed``) or in the working
    store ``<directory>/<name>.<profile>.json`` are not recomputed; each new unit is saved as soon
    as it is done (:class:`rnnbook.store.ResultsFile`).  Several processes may run the same sweep
    into the same directory: each claims one unit at a time under the file's lock, so no unit is
    computed twice, and each returns when every unit is stored (waiting, ``poll_seconds`` at a
    time, for units that another live process is computing).  A stored file of other settings is
    kept under another name, never overwritten.  The directory is checked before any work."""
    _check_sweep(sweep)
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    dev = get_device(device)
    poll_seconds = float(poll_seconds)
    if not poll_seconds > 0:
        raise ValueError(f"poll_seconds must be positive, got {poll_seconds}")
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
    waiting_said = False
    while todo:
        key, contents = store.claim(todo)
        if key is None:
            done = [k for k in todo if k in contents.records]
            records.update({k: dict(contents.records[k], source=str(path)) for k in done})
            todo = [k for k in todo if k not in contents.records]
            if todo:  # the rest is being computed by other live processes
                if not waiting_said:
                    holders = sorted({f"pid {c.get('pid')} on {c.get('host')}"
                                      for c in contents.claims.values()})
                    print(f"sweep {sweep.name} ({prof.name}): waiting for {len(todo)} units computed by "
                          f"{', '.join(holders)}", file=sys.stderr, flush=True)
                    waiting_said = True
                time.sleep(poll_seconds)
            continue
        unit = units[key]
        start = _dt.datetime.now(_dt.timezone.utc)
        t0 = time.perf_counter()
        try:
            value = _jsonable(sweep.run_unit(config, unit, dev))
        except BaseException:
            store.release(key)  # an interrupted or failed unit is free for the next run
            raise
        record = {"unit": unit, "value": value, "where": _where(dev),
                  "when": start.isoformat(timespec="seconds"),
                  "seconds": round(time.perf_counter() - t0, 3)}
        records[key] = dict(store.store(key, record), source=str(path))
        todo.remove(key)
        if ticks is not None:
            next(ticks, None)
    if ticks is not None:
        for _ in ticks:  # units another process finished: close the bar
            pass
    return SweepResult(sweep.name, prof.name, config, {k: records[k] for k in units}, path)


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
