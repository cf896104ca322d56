"""Tests of `python -m rnnbook`: executing a chapter with a profile."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rnnbook.__main__ import chapters, main

ROOT = Path(__file__).resolve().parents[1]


def test_chapters_lists_executable_chapters():
    names = chapters()
    assert "preliminaries" in names and "intro" not in names  # intro has no code cells


def test_bad_chapter_and_profile_are_clear_errors(capsys):
    assert main(["run", "no-such-chapter"]) == 2
    assert "executable chapters: " in capsys.readouterr().err
    assert main(["run", "preliminaries", "--profile", "huge"]) == 2
    assert "valid: paper, quick" in capsys.readouterr().err


def test_run_writes_executed_notebook(tmp_path):
    pytest.importorskip("jupytext")
    pytest.importorskip("nbclient")
    proc = subprocess.run(
        [sys.executable, "-m", "rnnbook", "run", "preliminaries", "--profile", "quick",
         "--device", "cpu", "--output", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "preliminaries.quick.ipynb"
    assert proc.stdout.strip().endswith(str(out))
    nb = json.loads(out.read_text())
    meta = nb["metadata"]["rnnbook"]
    assert meta["profile"] == "quick" and meta["device"] == "cpu" and meta["seconds"] > 0
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c.get("execution_count") for c in code)
    # the profile reached the kernel: the setup cell prints it
    printed = "".join("".join(o.get("text", "")) for o in code[0]["outputs"])
    assert "profile: quick; device: cpu" in printed


def test_sweep_lists_and_rejects_unknown_names(capsys):
    assert main(["sweeps"]) == 0
    assert "forward_kernel_mc:" in capsys.readouterr().out
    assert main(["sweep", "no-such-sweep"]) == 2
    assert "unknown sweep 'no-such-sweep'; valid: " in capsys.readouterr().err
