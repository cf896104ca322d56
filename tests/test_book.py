"""The book's configuration stays strict and offline (the build itself is checked by .ci/run)."""

import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")  # a book dependency; absent on a bare GPU image

ROOT = Path(__file__).resolve().parents[1]


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
