"""Structural checks of the built HTML (run by .ci/run after `make book`).

Fails (exit 1) when the pages under book/ are not exactly those in _toc.yml, or when a chapter
shows no executed output, no figure, or has no downloadable .ipynb. Everything a browser sees
(network requests, missing assets, MathJax, links) is checked by tests/test_browser.py.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml


def main(root: Path) -> int:
    errors: list[str] = []
    pages = sorted(p for p in root.rglob("*.html") if "_static" not in p.parts)
    if not pages:
        print(f"no HTML pages under {root}")
        return 1
    toc = yaml.safe_load((Path(__file__).resolve().parents[1] / "_toc.yml").read_text(encoding="utf-8"))
    parts = {part["caption"]: [c["file"] for c in part["chapters"]] for part in toc["parts"]}
    toc_pages = {toc["root"], *(f for files in parts.values() for f in files)}
    # the chapters proper (executed, with figures) form the first part of the table of contents
    chapters = {Path(f).name for f in next(iter(parts.values()))}
    built = {str(p.relative_to(root).with_suffix("")) for p in pages if p.parent != root}
    if built != toc_pages:
        errors.append(f"pages built {sorted(built)} differ from _toc.yml {sorted(toc_pages)}")
    for page in pages:
        if page.stem not in chapters:
            continue
        text = page.read_text(encoding="utf-8")
        rel = page.relative_to(root)
        if not re.search(r'class="[^"]*\bcell_output\b', text):
            errors.append(f"{rel}: no executed cell output")
        if not re.search(r'<img[^>]+src="[^"]+\.png"', text):
            errors.append(f"{rel}: no figure")
        if not (root / "_sources" / rel.with_suffix(".ipynb")).is_file():
            errors.append(f"{rel}: no downloadable .ipynb")
    for e in errors:
        print("ERROR", e)
    print(f"checked {len(pages)} pages: {len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "_build/html")))
