"""The book's configuration stays strict and offline (the build itself is checked by .ci/run)."""

import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")  # a book dependency; absent on a bare GPU image

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def _config():
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def test_execution_is_strict():
    ex = _config()["execute"]
    assert ex["raise_on_error"] is True and ex["allow_errors"] is False


def test_only_toc_files_and_no_intersphinx():
    cfg = _config()
    assert cfg["only_build_toc_files"] is True
    assert "intersphinx_mapping" not in cfg.get("sphinx", {}).get("config", {})


def test_make_book_is_strict():
    make = (ROOT / "Makefile").read_text()
    assert re.search(r"jupyter-book build \. .*--builder html -W -n --keep-going", make)


def test_every_toc_entry_exists_and_chapters_are_labelled_notebooks():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    for f in files:
        path = ROOT / f"{f}.md"
        assert path.is_file(), f
        text = path.read_text()
        assert re.search(r"^\(\w[\w-]*\)=\n# ", text, flags=re.M), f"{f}: no (label)= title"
        # Titles appear in every page's sidebar, and pages without math of their own do not load
        # MathJax: math in a title would show as raw TeX there (the browser check caught this).
        title = re.search(r"^\(\w[\w-]*\)=\n# (.*)$", text, flags=re.M).group(1)
        assert "$" not in title and "{math}" not in title, f"{f}: math in the title {title!r}"
        if "```{code-cell}" in text:
            assert text.startswith("---\njupytext:"), f"{f}: code cells without a jupytext header"


def _chapters():
    return sorted((ROOT / "book").glob("*.md"))


def _prose_and_code(text: str):
    """Split a MyST notebook into its markdown (outside code cells) and its code cells."""
    prose, code, inside = [], [], False
    for line in text.splitlines():
        if line.startswith("```{code-cell}"):
            inside = True
            continue
        if inside and line.startswith("```"):
            inside = False
            continue
        (code if inside else prose).append(line)
    return "\n".join(prose), "\n".join(code)


def _verdict_keys(code: str):
    """Regexes of the keys a chapter glues with report.verdict (f-string fields match anything)."""
    out = []
    for f, key in re.findall(r"\bverdict\(\s*(f?)\"([^\"]+)\"", code):
        if f:
            parts = re.split(r"\{[^}]*\}", key)
            out.append(re.compile("^" + ".+".join(re.escape(p) for p in parts) + "$"))
        else:
            out.append(re.compile("^" + re.escape(key) + "$"))
    return out


GLUED_VERDICT = re.compile(r"^\{glue:md\}`(v_[A-Za-z0-9_]+)`$")


@pytest.mark.parametrize("path", _chapters(), ids=lambda p: p.name)
def test_every_verdict_is_glued_from_a_rule(path):
    """No verdict word typed by hand: each row of a "What we found" table ends in exactly one
    `{glue:md}` of a key that a code cell of the same chapter glues with report.verdict (which
    accepts only a rnnbook.verdicts.Verdict), and every "Verdict:" in the prose is such a glue."""
    text = path.read_text(encoding="utf-8")
    prose, code = _prose_and_code(text)
    keys = _verdict_keys(code)

    def glued(key):
        return any(k.match(key) for k in keys)

    found = re.search(r"^## What we found\n(.*?)(?=^## |\Z)", prose, flags=re.M | re.S)
    if found is None:
        assert not keys or path.stem in ("errata",), f"{path.name}: verdicts but no 'What we found' table"
        return
    rows = [r for r in found.group(1).splitlines() if r.startswith("|")]
    assert len(rows) >= 3, f"{path.name}: no table under 'What we found'"
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    assert header[-1] == "verdict", f"{path.name}: the last column must be the verdict"
    for row in rows[2:]:
        cell = row.rstrip().rstrip("|").rsplit("|", 1)[-1].strip()
        m = GLUED_VERDICT.match(cell)
        assert m, f"{path.name}: verdict cell {cell!r} is not one glued verdict"
        key = m.group(1).removesuffix("__brief")  # report.verdict glues the short form too
        assert glued(key), f"{path.name}: {key} is not glued by report.verdict"
        if key != m.group(1):  # a short form in the table: the full sentence is in the text
            assert f"{{glue:md}}`{key}`" in prose[: found.start()], \
                f"{path.name}: the table shows {key}'s short form, but the text never shows it in full"
    for after in re.findall(r"\bVerdicts?(?: on [^:#]{1,80})?:\s*(\S+)", prose):
        key = re.match(r"\{glue:md\}`(v_[A-Za-z0-9_]+)`", after)
        assert key and glued(key.group(1)), \
            f"{path.name}: 'Verdict:' followed by {after!r}, not a glued verdict"


def test_no_hand_typed_verdict_words_in_code():
    """report.verdict is never called with a plain string: every chapter builds its verdicts with
    rnnbook.verdicts (a str would raise at build time; this catches it before)."""
    for path in _chapters():
        _, code = _prose_and_code(path.read_text(encoding="utf-8"))
        for arg in re.findall(r"\bverdict\(\s*f?\"[^\"]+\"\s*,\s*(.{0,12})", code):
            assert not arg.startswith(('"', "f\"", "'")), f"{path.name}: verdict glued from a string literal"


def _code_cells(text: str) -> list[list[str]]:
    """The non-blank lines of each code cell of a MyST notebook, its `---` metadata block left out."""
    import re

    cells = []
    for body in re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text, re.S):
        lines = body.split("\n")
        if lines and lines[0].strip() == "---":
            lines = lines[lines.index("---", 1) + 1:]
        cells.append([line for line in lines if line.strip() and not line.startswith(":tags:")])
    return cells


@pytest.mark.parametrize("path", sorted(BOOK.glob("*.md")), ids=lambda p: p.stem)
def test_code_cells_do_one_job(path):
    """A chapter reads like a paper with its computations beside it: no code cell above 30
    non-blank lines (the style rule is about 15; bookkeeping goes in collapsed cells or the
    package)."""
    long = [len(c) for c in _code_cells(path.read_text()) if len(c) > 30]
    assert not long, f"{path.name}: code cells of {long} lines"


def test_cell_reader_counts_lines():
    text = "```{code-cell} ipython3\n---\nmystnb:\n  figure: x\n---\na = 1\n\nb = 2\n```\n"
    assert _code_cells(text) == [["a = 1", "b = 2"]]
