"""Tests of rnnbook.plotting: one style for the book."""

import matplotlib

matplotlib.use("Agg")

from rnnbook import plotting  # noqa: E402


def test_figure_applies_style():
    fig, axes = plotting.figure(ncols=2)
    assert len(axes) == 2
    assert matplotlib.rcParams["axes.spines.top"] is False
    assert fig.get_size_inches()[0] == 7.2
    matplotlib.pyplot.close(fig)
