"""Print the execution time of every chapter from the book's jupyter-cache (run after `make book`)."""

from __future__ import annotations

import sys
from pathlib import Path

from jupyter_cache import get_cache


def main(cache_dir: str) -> int:
    root = Path.cwd().resolve()
    records = get_cache(cache_dir).list_cache_records()
    if not records:
        print(f"no executed chapters recorded in {cache_dir}")
        return 1
    total = 0.0
    for rec in sorted(records, key=lambda r: r.uri):
        secs = float(rec.data.get("execution_seconds", float("nan")))
        total += secs
        uri = Path(rec.uri)
        name = uri.relative_to(root) if uri.is_relative_to(root) else uri.name
        print(f"{secs:9.1f} s  {name}")
    print(f"{total:9.1f} s  total")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "_build/.jupyter_cache"))
