"""The results file of a sweep: plain JSON, written atomically, locked, validated on every read.

One file ``<name>.<profile>.json`` holds a sweep's settings (``config`` and its hash), its finished
units (``records``) and the units being computed now (``claims``).  Several processes may run the
same sweep into the same file: each takes the file's lock (a ``filelock`` lock file beside it)
only to read and rewrite it, claims one unit at a time, computes it without the lock, and stores it
with its digest.  So no unit is computed twice, no finished unit is lost, and a reader never sees a
half-written file.  A claim of a process that died (``kill -9``) is taken over: on the same host
when its pid is gone, from another host once it is older than ``STALE_CLAIM_SECONDS``.

Every read checks the file against a schema (types and keys) and each record against its digest (a
SHA-256 of its unit and value) and its key (the unit it is stored under): an edited, swapped or
truncated record is reported, naming the file and the unit, and computed again; a file that is not
a sweep file at all is an error.  A file whose settings differ from the current ones is kept, renamed
with its settings hash, and said so -- never overwritten.

Layer 0 of the package: it imports nothing from ``rnnbook``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import filelock

__all__ = ["FORMAT", "STALE_CLAIM_SECONDS", "LOCK_TIMEOUT_SECONDS", "canonical", "digest",
           "atomic_write_json", "check_output_directory", "StoreError", "Contents", "ResultsFile"]

#: Version of the file layout: 2 added the records' digests and the claims.
FORMAT = 2
#: A claim from another host counts as abandoned after this long without its unit being stored.
STALE_CLAIM_SECONDS = 24 * 3600.0
#: How long a process waits for the file's lock before it stops with an error.
LOCK_TIMEOUT_SECONDS = 120.0

_RECORD_KEYS = {"unit": dict, "value": object, "where": str, "when": str, "seconds": (int, float),
                "digest": str}


class StoreError(ValueError):
    """A results file that cannot be used: not JSON, not a sweep file, or another sweep's."""


def canonical(obj: Any) -> str:
    """The canonical JSON text of ``obj`` (sorted keys, no spaces): the key of a unit."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def digest(unit: dict, value: Any) -> str:
    """The SHA-256 of a record's unit and value (canonical JSON), stored with it."""
    return hashlib.sha256(canonical({"unit": unit, "value": value}).encode()).hexdigest()


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


def check_output_directory(directory, *, what: str = "output") -> Path:
    """``directory`` as a Path, created if missing, after checking that files can be written there
    -- before any work is done, so a wrong ``--output`` costs nothing.  A ``ValueError`` names
    the problem (a file in the way, no permission)."""
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"{what} must be a path, got {type(directory).__name__}")
    path = Path(directory)
    for parent in (path, *path.parents):
        if parent.exists() and not parent.is_dir():
            raise ValueError(f"{what} {str(path)!r}: {str(parent)!r} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"{what} {str(path)!r} is not writable: {exc.strerror or exc}") from None
    return path


@dataclasses.dataclass
class Contents:
    """What a results file holds once validated: its finished records (key -> record), the live
    claims of other processes (key -> claim), and the problems found (one line each)."""

    records: dict[str, dict]
    claims: dict[str, dict]
    problems: list[str]


def _me() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _alive(claim: dict, now: float) -> bool:
    if claim.get("host") == socket.gethostname():
        pid = claim.get("pid")
        if not isinstance(pid, int) or pid <= 0:
            return False
        if pid == os.getpid():
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # someone else's live process
        return True
    since = claim.get("since")
    return isinstance(since, (int, float)) and now - since < STALE_CLAIM_SECONDS


def _record_problem(key: str, record: Any) -> str | None:
    if not isinstance(record, dict):
        return f"is a {type(record).__name__}, not a record"
    for field, kind in _RECORD_KEYS.items():
        if field not in record:
            return f"has no {field!r}"
        if kind is not object and (not isinstance(record[field], kind) or isinstance(record[field], bool)):
            return f"has a {field!r} of type {type(record[field]).__name__}"
    if not math.isfinite(record["seconds"]) or record["seconds"] < 0:
        return f"has seconds = {record['seconds']!r}"
    if canonical(record["unit"]) != key:
        return f"is stored under another unit's key ({key}); its own unit is {canonical(record['unit'])}"
    if digest(record["unit"], record["value"]) != record["digest"]:
        return "does not match its digest (its unit or value was changed after it was computed)"
    return None


class ResultsFile:
    """One sweep's results file at ``path`` for ``(name, profile)`` under the settings ``config``."""

    def __init__(self, path, *, name: str, profile: str, config: dict, description: str = "",
                 version: str = ""):
        self.path = Path(path)
        self.name, self.profile, self.config, self.description = name, profile, config, description
        self.version = version
        self.config_hash = hashlib.sha256(canonical(config).encode()).hexdigest()[:16]
        self.lock = filelock.FileLock(str(self.path) + ".lock", timeout=LOCK_TIMEOUT_SECONDS)

    # -- reading ---------------------------------------------------------------------------------

    def _load_raw(self) -> dict | None:
        if not self.path.is_file():
            return None
        try:
            data = json.loads(self.path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StoreError(f"sweep file {self.path} is not valid JSON ({exc}); move it away to "
                             "start over") from None
        if not isinstance(data, dict):
            raise StoreError(f"sweep file {self.path} holds a {type(data).__name__}, not a sweep file")
        if data.get("sweep") != self.name or data.get("profile") != self.profile:
            raise StoreError(f"sweep file {self.path} belongs to sweep {data.get('sweep')!r}, profile "
                             f"{data.get('profile')!r}, not {self.name!r}, {self.profile!r}")
        return data

    def read(self, *, strict: bool = False) -> Contents:
        """The validated contents.  A record that fails its checks is left out and reported in
        ``problems`` (or, with ``strict``, is a :class:`StoreError`); a file of other settings or of
        an older format counts as empty (:meth:`set_aside` keeps it)."""
        data = self._load_raw()
        if data is None or self._foreign(data):
            return Contents({}, {}, [])
        if hashlib.sha256(canonical(data.get("config")).encode()).hexdigest()[:16] != self.config_hash:
            raise StoreError(f"sweep file {self.path}: its settings were edited (they no longer match "
                             f"their hash {data.get('config_hash')!r}); move it away to start over")
        records, claims, problems = data.get("records"), data.get("claims", {}), []
        if not isinstance(records, dict) or not isinstance(claims, dict):
            raise StoreError(f"sweep file {self.path}: 'records' and 'claims' must be JSON objects, got "
                             f"{type(records).__name__} and {type(claims).__name__}")
        good = {}
        for key, record in records.items():
            problem = _record_problem(key, record)
            if problem is None:
                good[key] = record
                continue
            line = f"sweep file {self.path}: the record of unit {key} {problem}"
            if strict:
                raise StoreError(line)
            problems.append(line + "; it will be computed again")
        now = time.time()
        live = {k: c for k, c in claims.items()
                if isinstance(c, dict) and k not in good and _alive(c, now)}
        return Contents(good, live, problems)

    def _foreign(self, data: dict) -> bool:
        """A file of other settings, or of an older format (which has no digests to check)."""
        return data.get("format") != FORMAT or data.get("config_hash") != self.config_hash

    # -- writing ---------------------------------------------------------------------------------

    def set_aside(self) -> Path | None:
        """If the file holds results of other settings (or an older format), rename it to
        ``<name>.<profile>.<its settings hash>.json`` so that no finished unit is ever deleted,
        print where it went, and return that path.  Call with the lock held."""
        data = self._load_raw()
        if data is None or not self._foreign(data):
            return None
        old_hash = data.get("config_hash")
        tag = old_hash if isinstance(old_hash, str) and old_hash.isalnum() else "unknown"
        target = self.path.with_name(f"{self.name}.{self.profile}.{tag}.json")
        k = 1
        while target.exists():
            target = self.path.with_name(f"{self.name}.{self.profile}.{tag}-{k}.json")
            k += 1
        os.replace(self.path, target)
        count = len(data["records"]) if isinstance(data.get("records"), dict) else 0
        why = "an older file format" if data.get("format") != FORMAT else "other settings"
        print(f"sweep {self.name} ({self.profile}): {self.path.name} holds {count} units of {why}; "
              f"kept as {target.name}, starting a new file", file=sys.stderr, flush=True)
        return target

    def write(self, records: dict[str, dict], claims: dict[str, dict]) -> None:
        """Replace the file's records and claims (call with the lock held)."""
        atomic_write_json(self.path, {
            "format": FORMAT, "sweep": self.name, "description": self.description,
            "profile": self.profile, "config": self.config, "config_hash": self.config_hash,
            "rnnbook": self.version, "records": records, "claims": claims})

    def claim(self, keys) -> tuple[str | None, Contents]:
        """Under the lock: the first of ``keys`` that is neither stored nor claimed by a live
        process, now claimed by this one (None if there is none), and the file's contents."""
        with self.lock:
            self.set_aside()
            contents = self.read()
            for line in contents.problems:
                print(line, file=sys.stderr, flush=True)
            for key in keys:
                if key not in contents.records and key not in contents.claims:
                    contents.claims[key] = {**_me(), "since": time.time()}
                    self.write(contents.records, contents.claims)
                    return key, contents
            if contents.problems:
                self.write(contents.records, contents.claims)  # drop the bad records from the file
            return None, contents

    def store(self, key: str, record: dict) -> dict:
        """Under the lock: add a finished record (its digest computed here) and drop its claim;
        returns the record as stored."""
        record = {**record, "digest": digest(record["unit"], record["value"])}
        with self.lock:
            contents = self.read()
            contents.records[key] = record
            contents.claims.pop(key, None)
            self.write(contents.records, contents.claims)
        return record

    def release(self, key: str) -> None:
        """Under the lock: give up this process's claim on ``key`` (an interrupted unit)."""
        with self.lock:
            contents = self.read()
            if contents.claims.get(key, {}).get("pid") == os.getpid():
                contents.claims.pop(key)
                self.write(contents.records, contents.claims)
