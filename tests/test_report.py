"""Tests of rnnbook.report: what chapters glue into their prose."""

import numpy as np
import pytest

from rnnbook import report


def test_loglog_slope_recovers_power_law():
    x = np.geomspace(1, 1e3, 17)
    assert report.loglog_slope(x, 3.7 * x**-0.5) == pytest.approx(-0.5, abs=1e-12)
    assert report.loglog_slope(x, 2 * x**3) == pytest.approx(3.0, abs=1e-12)


def test_loglog_slope_bad_input():
    with pytest.raises(ValueError, match="positive"):
        report.loglog_slope([1, 2], [1, 0])
    with pytest.raises(ValueError, match="equal length"):
        report.loglog_slope([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="two points"):
        report.loglog_slope([1], [1])
    with pytest.raises(ValueError, match="finite"):
        report.loglog_slope([1, np.inf], [1, 2])


def test_plain_numbers():
    assert type(report.plain(np.float64(1.5))) is float
    assert type(report.plain(np.int64(3))) is int
    assert report.plain(2) == 2
    with pytest.raises(TypeError, match="number"):
        report.plain("1.5")
