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


def test_integer_ticks_on_a_log_axis():
    import pytest

    fig, ax = plotting.figure()
    ax.loglog([2, 64], [1, 10])
    plotting.integer_ticks(ax, [2, 4, 8, 16, 32, 64])
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "4", "8", "16", "32", "64"]
    assert all(t.get_text() == "" for t in ax.xaxis.get_minorticklabels())
    with pytest.raises(ValueError, match="axis"):
        plotting.integer_ticks(ax, [1], axis="z")
    matplotlib.pyplot.close(fig)
