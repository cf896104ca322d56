"""Heavy experiments as resumable sweeps: a sweep is a list of units of work (e.g. one width and
one initialisation, all its random networks); each finished unit is written to a JSON file at once
(atomically: a temporary file, then a rename), so an interrupted run resumes where it stopped and
loses at most the unit in progress.  No pickle: the files are plain JSON, readable anywhere.

Where results live:

* ``book/data/<name>.<profile>.json`` -- results committed to the repository (e.g. paper-profile
  runs made on a GPU).  Read, never written, by chapters: a unit found there is not recomputed.
* ``<directory>/<name>.<profile>.json`` -- the working store, by default ``_build/sweeps`` (or
  ``$RNNBOOK_SWEEP_DIR``); new units are written here.

Every unit records where and when it was computed, so a chapter can label what it shows.  From the
command line: ``python -m rnnbook sweep NAME --profile paper --device cuda``.
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

from . import __version__
from .device import get_device
from .profiles import Profile
from .profiles import get as get_profile

FORMAT = 1
ENV_VAR = "RNNBOOK_SWEEP_DIR"


def progress_bar(steps, desc: str):
    """``steps`` wrapped in a tqdm progress bar on stderr (the executed book drops stderr; a
    terminal shows it); a plain line per step where tqdm is not installed (the bare GPU image)."""
    try:
        from tqdm import tqdm
    except ImportError:
        import sys

        steps = list(steps)

        def plain():
            for k, step in enumerate(steps, 1):
                yield step
                print(f"{desc}: {k}/{len(steps)}", file=sys.stderr, flush=True)

        return plain()
    return tqdm(steps, desc=desc, leave=False)
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


SWEEPS: dict[str, Sweep] = {}


def register(sweep: Sweep) -> Sweep:
    if sweep.name in SWEEPS:
        raise ValueError(f"a sweep named {sweep.name!r} is already registered")
    SWEEPS[sweep.name] = sweep
    return sweep


def get_sweep(name: str) -> Sweep:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    _load_builtin()
    try:
        return SWEEPS[name]
    except KeyError:
        raise ValueError(f"unknown sweep {name!r}; valid: {', '.join(sorted(SWEEPS))}") from None


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


def run(name: str, *, profile: Profile | str | None = None, device=None, directory=None,
        use_committed: bool = True, progress: bool = False) -> SweepResult:
    """Run (or resume) the sweep ``name`` under ``profile`` on ``device`` and return every unit.

    Units already in ``book/data/<name>.<profile>.json`` (if ``use_committed``) or in the working
    store ``<directory>/<name>.<profile>.json`` are not recomputed; each new unit is saved as soon
    as it is done.  A stored file whose sweep settings differ from the current ones is ignored (and
    overwritten by the working store)."""
    sweep = get_sweep(name)
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


def committed(name: str, profile: Profile | str) -> SweepResult | None:
    """The committed results ``book/data/<name>.<profile>.json`` if they hold every unit of the
    current settings, else None.  Computes nothing."""
    sweep = get_sweep(name)
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


def best(name: str, *, profile: Profile | str | None = None, device=None, prefer: str = "paper",
         **kwargs) -> SweepResult:
    """What a chapter shows: complete committed results of the ``prefer`` profile (paper-scale runs
    made elsewhere) when they exist, else :func:`run` under ``profile``.  ``result.profile`` and
    the records' provenance say which."""
    found = committed(name, prefer)
    return found if found is not None else run(name, profile=profile, device=device, **kwargs)


def _load_builtin() -> None:
    # The book's sweeps live next to the functions they call; importing registers them.
    from . import sweeps  # noqa: F401
