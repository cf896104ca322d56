"""Tests of rnnbook.runtime: progress bars and CPU threads."""

import torch

from rnnbook import runtime


def test_progress_bar_without_tqdm(monkeypatch, capsys):
    """On a machine without tqdm (the bare GPU image) the sweep still reports progress: every step
    is yielded, in order, and a line per step goes to stderr."""
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `from tqdm import tqdm` raise ImportError
    assert list(runtime.progress_bar(iter(["a", "b", "c"]), "toy")) == ["a", "b", "c"]
    assert capsys.readouterr().err.splitlines() == ["toy: 1/3", "toy: 2/3", "toy: 3/3"]


def test_cpu_threads_sets_and_restores():
    before = torch.get_num_threads()
    with runtime.cpu_threads(torch.device("cpu"), 1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_one_thread_wraps_a_unit():
    seen = []

    @runtime.one_thread
    def unit(config, unit, device):
        seen.append(torch.get_num_threads())
        return config["x"] + unit["y"]

    assert unit({"x": 1}, {"y": 2}, "cpu") == 3 and seen == [1]
