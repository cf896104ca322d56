"""Every verdict of a built book, read from its executed notebooks (run by .ci/run after `make book`).

    python .ci/verdicts.py [_build/jupyter_execute] [--json FILE]

Prints one line per glued verdict (keys starting with ``v_``, glued by ``rnnbook.report.verdict``):
chapter, key, word, sentence. With ``--json`` also writes them as a list of objects, so two builds
(e.g. the quick and the paper profile, or two commits) can be compared word by word.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path


def _outputs(root: Path):
    """(chapter, glue output) pairs: myst-nb keeps a chapter's glued outputs in
    ``<chapter>.glue.json`` beside the executed notebook; older layouts keep them in the notebook."""
    for path in sorted(root.rglob("*.glue.json")):
        for output in json.loads(path.read_text(encoding="utf-8")).values():
            yield path.name[: -len(".glue.json")], output
    for path in sorted(root.rglob("*.ipynb")):
        if path.with_name(path.stem + ".glue.json").is_file():
            continue
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb.get("cells", []):
            for output in cell.get("outputs", []):
                yield path.stem, output


def verdicts(root: Path) -> list[dict]:
    out = []
    for chapter, output in _outputs(root):
        name = output.get("metadata", {}).get("scrapbook", {}).get("name", "")
        if not name.startswith("v_") or name.endswith("__brief"):  # the short form of a verdict
            continue
        data = output.get("data", {})
        text = next((v for k, v in data.items() if k.endswith("text/markdown")), None)
        if text is None:
            continue
        text = "".join(text) if isinstance(text, list) else str(text)
        m = re.match(r"\*\*(.+?)\*\*:?\s*(.*)", text.strip(), flags=re.S)
        word, sentence = (m.group(1), m.group(2)) if m else ("", text.strip())
        out.append({"chapter": chapter, "key": name, "word": word, "sentence": sentence})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", default="_build/jupyter_execute", type=Path)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    found = verdicts(args.root)
    if not found:
        print(f"no verdicts found under {args.root}", file=sys.stderr)
        return 1
    for v in found:
        print(f"{v['chapter']:18s} {v['key']:26s} {v['word']}: {v['sentence']}")
    if args.json:
        args.json.write_text(json.dumps(found, indent=1), encoding="utf-8")
    print(f"{len(found)} verdicts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
