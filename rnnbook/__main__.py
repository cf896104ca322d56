"""Command line: execute one chapter of the book, or run one heavy experiment, with a chosen
profile and device.

    python -m rnnbook run preliminaries --profile paper --device cuda --output runs/
    python -m rnnbook sweep forward_kernel_mc --profile paper --device cuda --output book/data

writes ``runs/preliminaries.paper.ipynb``: the executed notebook, with the profile, device, host
and run time recorded in its metadata (``rnnbook`` key). This is how paper-scale results are
produced away from the book build. The chapter is read as a file (jupytext) and executed in a fresh
kernel with ``RNNBOOK_PROFILE`` and ``RNNBOOK_DEVICE`` set; needs the book's dependencies
(jupytext, nbclient, ipykernel).

``sweep NAME`` runs a registered experiment (:mod:`rnnbook.experiments`) with a progress bar, saving each
finished unit to ``<output>/NAME.<profile>.json`` at once; run it again to resume after an
interruption.  It needs only torch, numpy and scipy (e.g. on a bare GPU machine).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
import time
from pathlib import Path

from . import profiles
from .store import check_output_directory

BOOK_DIR = Path(__file__).resolve().parents[1] / "book"


def chapters(book_dir: Path = BOOK_DIR) -> dict[str, Path]:
    """Chapter name -> notebook file, for every executable chapter (a .md with code cells)."""
    out = {}
    for path in sorted(book_dir.glob("*.md")):
        if "```{code-cell}" in path.read_text(encoding="utf-8"):
            out[path.stem] = path
    return out


def run_chapter(name: str, *, profile: str | None, device: str | None, output: Path,
                timeout: int = 3600, book_dir: Path = BOOK_DIR) -> Path:
    """Execute chapter ``name`` and write ``output/<name>.<profile>.ipynb``; return its path.
    ``profile`` and ``device`` None: ``$RNNBOOK_PROFILE`` and ``$RNNBOOK_DEVICE``, as in the book.

    A raising cell raises (nbclient's ``CellExecutionError``) and nothing is written."""
    known = chapters(book_dir)
    if name not in known:
        raise ValueError(f"unknown chapter {name!r}; executable chapters: {', '.join(known)}")
    profile = profiles.get(profile).name  # validates; None: $RNNBOOK_PROFILE, as in the book
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    from .device import get_device

    # Everything is checked before the chapter runs: a wrong device or output costs nothing.
    device = str(get_device(device))  # None: $RNNBOOK_DEVICE, else cuda if available, else cpu
    output = check_output_directory(output, what="--output")

    import jupytext  # the book's dependencies, needed only from here on
    import nbformat
    from nbclient import NotebookClient
    env_before = {k: os.environ.get(k) for k in ("RNNBOOK_PROFILE", "RNNBOOK_DEVICE")}
    os.environ["RNNBOOK_PROFILE"] = profile
    os.environ["RNNBOOK_DEVICE"] = device
    try:
        nb = jupytext.read(known[name])
        start = time.perf_counter()
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(book_dir)}}).execute()
        seconds = time.perf_counter() - start
    finally:
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    nb.metadata["rnnbook"] = {
        "chapter": name,
        "profile": profile,
        "device": device,
        "host": platform.node(),
        "executed_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 2),
    }
    target = output / f"{name}.{profile}.ipynb"
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        nbformat.write(nb, fh)
    os.replace(tmp, target)  # atomic: a reader never sees a half-written notebook
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnnbook", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute one chapter and write the executed notebook")
    run.add_argument("chapter", help=f"one of: {', '.join(chapters())}")
    run.add_argument("--profile", default=None,
                     help=f"one of: {', '.join(profiles.PROFILES)} (default: $RNNBOOK_PROFILE, else quick)")
    run.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda if available)")
    run.add_argument("--output", type=Path, default=Path("_build/runs"), help="folder for the notebook")
    run.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    sub.add_parser("chapters", help="list the executable chapters")
    sw = sub.add_parser("sweep", help="run or resume a heavy experiment, saving each unit as it finishes")
    sw.add_argument("name", help="a registered sweep (see `python -m rnnbook sweeps`)")
    sw.add_argument("--profile", default=None,
                    help=f"one of: {', '.join(profiles.PROFILES)} (default: $RNNBOOK_PROFILE, else quick)")
    sw.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda if available)")
    sw.add_argument("--output", type=Path, default=None,
                    help="folder of the results file (default: $RNNBOOK_SWEEP_DIR or _build/sweeps)")
    sw.add_argument("--threads", type=int, default=None,
                    help="CPU threads per unit (default: torch's setting here; cores / N with --workers N). "
                         "Records are bit-identical between runs with equal threads per unit")
    where = sw.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None,
                       help="run the units on a local Dask cluster of this many worker processes")
    where.add_argument("--scheduler", default=None,
                       help="run the units on the workers of this running Dask scheduler "
                            "(tcp://host:port, or a scheduler file .json)")
    sub.add_parser("sweeps", help="list the registered sweeps")
    args = parser.parse_args(argv)
    if args.command == "chapters":
        print("\n".join(chapters()))
        return 0
    if args.command in ("sweep", "sweeps"):
        from . import experiments

        if args.command == "sweeps":
            for s in experiments.SWEEPS.values():
                print(f"{s.name}: {s.description}")
            return 0
        return _sweep(args, experiments)
    try:
        path = run_chapter(args.chapter, profile=args.profile, device=args.device,
                           output=args.output, timeout=args.timeout)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


def _sweep(args, experiments) -> int:
    """``sweep NAME``: in this process, or on a Dask cluster (--workers / --scheduler).  Exit 2 on
    a bad argument (before any work), 1 when units failed (each named, with its traceback)."""
    from . import cluster
    from .engine import UnitsFailed

    kwargs = dict(profile=args.profile, device=args.device, directory=args.output, use_committed=False,
                  progress=True, threads=args.threads)
    client = None
    try:
        experiments.get_sweep(args.name)
        if args.threads is not None and args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        if args.workers is not None or args.scheduler is not None:
            # A bad sweep, profile, device or output costs nothing, not a cluster's start.
            from .device import get_device
            from .engine import default_directory

            profiles.get(args.profile)
            get_device(args.device)
            check_output_directory(args.output if args.output is not None else default_directory(),
                                   what="--output")
        if args.workers is not None:
            if args.workers < 1:
                raise ValueError(f"--workers must be >= 1, got {args.workers}")
            client = cluster.local_client(args.workers)
            kwargs.update(client=client, threads=args.threads or cluster.threads_per_worker(args.workers))
        elif args.scheduler is not None:
            client = cluster.connect(args.scheduler)
            kwargs.update(client=client)
        result = experiments.run(args.name, **kwargs)
    except UnitsFailed as exc:
        for unit, trace in exc.failures.items():
            print(f"unit {unit} failed:\n{trace}", file=sys.stderr)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ValueError, TypeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if client is not None:
            client.close()
    print(f"{len(result.records)} units of {args.name} ({result.profile}) in {result.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
