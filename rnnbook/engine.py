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
imports only :mod:`rnnbook.device`, :mod:`rnnbook.profiles` and :mod:`rnnbook.runtime`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import platform
import tempfile
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

__all__ = ["Sweep", "SweepResult", "run", "committed", "best", "inventory", "default_directory",
           "atomic_write_json", "COMMITTED_DIR", "ENV_VAR", "FORMAT"]

FORMAT = 1
ENV_VAR = "RNNBOOK_SWEEP_DIR"


_REPO = Path(__file__).resolve().parents[1]
COMMITTED_DIR = _REPO / "book" / "data"


def default_directory() -> Path:
    """``$RNNBOOK_SWEEP_DIR`` or ``_build/sweeps`` of the repository."""
    env = os.environ.get(ENV_VAR, "").strip()
    return Path(env) if env else _REPO / "_build" / "sweeps"


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


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


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` through a temporary file in the same directory and a rename,
    so that a reader (or an interrupted writer) never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            # compact: a paper-profile sweep holds tens of thousands of numbers
            json.dump(obj, fh, sort_keys=True, separators=(",", ":"), allow_nan=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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


def _settings(sweep: Sweep, prof: Profile) -> tuple[dict, str]:
    """The sweep's settings under ``prof`` and their hash (stored units count only if it matches)."""
    config = _jsonable(sweep.config(prof))
    return config, hashlib.sha256(_canonical(config).encode()).hexdigest()[:16]


def _read(path: Path, name: str, profile: str, config_hash: str) -> dict[str, dict]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"sweep file {path} is not valid JSON ({exc}); delete it to start over") from None
    if data.get("format") != FORMAT or data.get("sweep") != name or data.get("profile") != profile:
        raise ValueError(f"sweep file {path} belongs to another sweep, profile or format")
    if data.get("config_hash") != config_hash:
        return {}  # the experiment changed since: its old units answer a different question
    return data.get("records", {})


def run(sweep: Sweep, *, profile: Profile | str | None = None, device=None, directory=None,
        use_committed: bool = True, progress: bool = False) -> SweepResult:
    """Run (or resume) ``sweep`` under ``profile`` on ``device`` and return every unit.

    Units already in ``book/data/<name>.<profile>.json`` (if ``use_committed``) or in the working
    store ``<directory>/<name>.<profile>.json`` are not recomputed; each new unit is saved as soon
    as it is done.  A stored file whose sweep settings differ from the current ones is ignored (and
    overwritten by the working store)."""
    _check_sweep(sweep)
    name = sweep.name
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    dev = get_device(device)
    config, config_hash = _settings(sweep, prof)
    directory = Path(directory) if directory is not None else default_directory()
    path = directory / f"{name}.{prof.name}.json"
    committed = COMMITTED_DIR / f"{name}.{prof.name}.json"

    records = {}
    if use_committed and committed.resolve() != path.resolve():
        records.update({k: dict(v, source="committed")
                        for k, v in _read(committed, name, prof.name, config_hash).items()})
    own = _read(path, name, prof.name, config_hash)
    records.update({k: v for k, v in own.items() if k not in records})

    def save():
        atomic_write_json(path, {
            "format": FORMAT, "sweep": name, "description": sweep.description, "profile": prof.name,
            "config": config, "config_hash": config_hash, "rnnbook": __version__,
            "records": {k: v for k, v in records.items() if v.get("source") != "committed"},
        })

    units = [_jsonable(u) for u in sweep.units(prof)]
    todo = [u for u in units if _canonical(u) not in records]
    if todo:
        steps = todo
        if progress:
            steps = progress_bar(todo, f"sweep {name} ({prof.name})")
        for unit in steps:
            start = _dt.datetime.now(_dt.timezone.utc)
            t0 = _dt.datetime.now().timestamp()
            value = _jsonable(sweep.run_unit(config, unit, dev))
            records[_canonical(unit)] = {
                "unit": unit, "value": value, "where": _where(dev),
                "when": start.isoformat(timespec="seconds"),
                "seconds": round(_dt.datetime.now().timestamp() - t0, 3), "source": str(path)}
            save()
    wanted = {_canonical(u) for u in units}
    return SweepResult(name, prof.name, config, {k: v for k, v in records.items() if k in wanted}, path)


def committed(sweep: Sweep, profile: Profile | str) -> SweepResult | None:
    """The committed results ``book/data/<name>.<profile>.json`` if they hold every unit of the
    current settings, else None.  Computes nothing."""
    _check_sweep(sweep)
    name = sweep.name
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    config, config_hash = _settings(sweep, prof)
    path = COMMITTED_DIR / f"{name}.{prof.name}.json"
    records = {k: dict(v, source="committed") for k, v in _read(path, name, prof.name, config_hash).items()}
    wanted = {_canonical(_jsonable(u)) for u in sweep.units(prof)}
    if not wanted or not wanted <= set(records):
        return None
    return SweepResult(name, prof.name, config, {k: records[k] for k in wanted}, path)


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
