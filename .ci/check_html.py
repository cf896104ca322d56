"""Structural checks of the built HTML (run by .ci/run after `make book`).

Fails (exit 1) when the pages under book/ are not exactly those in _toc.yml, when a chapter
shows no executed output, no figure, or has no downloadable .ipynb, when any page's text shows a
Python object's repr (e.g. a `{glue:text}` of a Markdown object renders as
"<IPython.core.display.Markdown object>") or TeX source (a "$" or "\\frac" outside math), or
when a verdict cell of a "What we found" table does not start with a word of
rnnbook.verdicts.WORDS. Everything a browser sees
(network requests, missing assets, MathJax, links) is checked by tests/test_browser.py.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from rnnbook.verdicts import WORDS  # noqa: E402

# What a Python object looks like when it is printed instead of rendered.
REPR = re.compile(r"<(?:IPython|matplotlib|pandas|numpy|torch|rnnbook)\.[\w.]+ object"
                  r"|object at 0x[0-9a-f]+|<Figure size \d+x\d+")


def visible_text(html: str) -> str:
    """The page's text as a reader sees it: no scripts, styles or tags, entities decoded."""
    import html as _html

    html = re.sub(r"<(script|style|pre|code)\b.*?</\1>", " ", html, flags=re.S | re.I)
    return _html.unescape(re.sub(r"<[^>]+>", " ", html))


def unrendered_math(text: str) -> list[str]:
    """TeX that reached the reader as source: a "$" (MyST math the page did not parse, e.g. inside a
    glued note read as CommonMark) or a TeX command such as "\\frac" outside MathJax's \\( \\) and
    \\[ \\] (e.g. a section title with math used as a link's text)."""
    prose = re.sub(r"\\\(.*?\\\)|\\\[.*?\\\]", " ", text, flags=re.S)
    return [prose[max(0, m.start() - 40): m.end() + 20]
            for m in re.finditer(r"\$|\\(?:[a-zA-Z]{2,}|[,;!])", prose)]


def verdict_cells(html: str) -> list[str]:
    """The text of the last cell of each body row of the table under "What we found"."""
    start = html.find('id="what-we-found"')
    if start < 0:
        return []
    table = re.search(r"<tbody>(.*?)</tbody>", html[start:], flags=re.S)
    if table is None:
        return []
    cells = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), flags=re.S):
        tds = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        if tds:
            cells.append(" ".join(visible_text(tds[-1]).split()))
    return cells


def main(root: Path) -> int:
    errors: list[str] = []
    pages = sorted(p for p in root.rglob("*.html") if "_static" not in p.parts)
    if not pages:
        print(f"no HTML pages under {root}")
        return 1
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    parts = {part["caption"]: [c["file"] for c in part["chapters"]] for part in toc["parts"]}
    toc_pages = {toc["root"], *(f for files in parts.values() for f in files)}
    # the chapters proper (executed, with figures) form the first part of the table of contents
    chapters = {Path(f).name for f in next(iter(parts.values()))}
    built = {str(p.relative_to(root).with_suffix("")) for p in pages if p.parent != root}
    if built != toc_pages:
        errors.append(f"pages built {sorted(built)} differ from _toc.yml {sorted(toc_pages)}")
    for page in pages:
        text = page.read_text(encoding="utf-8")
        rel = page.relative_to(root)
        seen = visible_text(text)
        for m in REPR.finditer(seen):
            errors.append(f"{rel}: a Python object's repr in the rendered text: {m.group(0)!r}")
        for snippet in unrendered_math(seen)[:3]:
            errors.append(f"{rel}: TeX source in the rendered text: {snippet!r}")
        for cell in verdict_cells(text):
            if not any(cell.startswith(w) for w in WORDS):
                errors.append(f"{rel}: verdict cell {cell[:80]!r} does not start with a verdict word")
        if page.stem not in chapters:
            continue
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
