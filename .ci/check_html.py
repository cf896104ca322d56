"""Static checks of the built HTML (run by .ci/run after `make book`).

Fails (exit 1) when the pages under book/ are not exactly those in _toc.yml, when a page loads a
script or stylesheet from the network, when a page with math does not load the local MathJax, when
a local asset it references is missing, or when a chapter shows no executed output or figure or
has no downloadable .ipynb.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import yaml


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.classes: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.refs.append(("script", a["src"]))
        if tag == "link" and a.get("rel") in ("stylesheet", "preload") and a.get("href"):
            self.refs.append(("link", a["href"]))
        if tag == "img" and a.get("src"):
            self.refs.append(("img", a["src"]))
        if a.get("class"):
            self.classes.extend(a["class"].split())


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
        text = page.read_text(encoding="utf-8")
        parser = _Assets()
        parser.feed(text)
        rel = page.relative_to(root)
        for kind, ref in parser.refs:
            url = urlparse(ref)
            if url.scheme in ("http", "https") or ref.startswith("//"):
                errors.append(f"{rel}: {kind} loads from the network: {ref}")
                continue
            if url.scheme == "data":
                continue
            target = (page.parent / url.path).resolve()
            if not target.exists():
                errors.append(f"{rel}: {kind} {ref} does not exist in the build")
        has_math = "math notranslate" in text or 'class="math' in text
        mathjax = [r for k, r in parser.refs if k == "script" and "mathjax" in r.lower()]
        if has_math and not any("_static/mathjax/es5/tex-mml-chtml.js" in r for r in mathjax):
            errors.append(f"{rel}: has math but does not load the local MathJax ({mathjax})")
        if page.stem in chapters:
            if "cell_output" not in parser.classes:
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
