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


def test_bad_output_device_and_timeout_fail_before_any_work(tmp_path, capsys, monkeypatch):
    """A wrong --output, device or --timeout is one line on stderr and exit 2, before the chapter
    or a unit runs (the notebook client and the sweep units are never reached)."""
    import rnnbook.experiments as experiments

    monkeypatch.setattr("nbclient.NotebookClient.execute", lambda self: pytest.fail("executed"),
                        raising=False)
    (tmp_path / "file").write_text("x")
    bad_out = str(tmp_path / "file" / "out")
    assert main(["run", "preliminaries", "--output", bad_out]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    monkeypatch.setenv("RNNBOOK_DEVICE", "gpu")
    assert main(["run", "preliminaries", "--output", str(tmp_path)]) == 2
    assert "device 'gpu' is not one of" in capsys.readouterr().err
    monkeypatch.delenv("RNNBOOK_DEVICE")
    assert main(["run", "preliminaries", "--timeout", "0", "--output", str(tmp_path)]) == 2
    assert "timeout must be a positive" in capsys.readouterr().err
    import dataclasses

    sweep = experiments.get_sweep("forward_kernel_mc")
    monkeypatch.setitem(experiments.SWEEPS, sweep.name,
                        dataclasses.replace(sweep, run_unit=lambda *a: pytest.fail("computed")))
    assert main(["sweep", "forward_kernel_mc", "--output", bad_out]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is a file, not a folder" in err and len(err.splitlines()) == 1


def test_cli_honours_rnnbook_profile(capsys, monkeypatch):
    monkeypatch.setenv("RNNBOOK_PROFILE", "huge")
    assert main(["sweep", "forward_kernel_mc"]) == 2
    assert "unknown profile 'huge' (from argument or RNNBOOK_PROFILE)" in capsys.readouterr().err
    assert main(["run", "preliminaries"]) == 2
    assert "unknown profile 'huge'" in capsys.readouterr().err
