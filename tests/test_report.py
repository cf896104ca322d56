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


def test_bootstrap_slope_without_noise_collapses_to_the_exact_slope():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    samples = np.repeat((3 * x**-0.5)[:, None], 5, axis=1)
    slope, lo, hi = report.bootstrap_loglog_slope(x, samples)
    assert slope == pytest.approx(-0.5, abs=1e-12) and lo == pytest.approx(-0.5, abs=1e-12)
    assert hi == pytest.approx(-0.5, abs=1e-12)


def test_bootstrap_slope_interval_has_its_nominal_coverage():
    """Gaussian replicates with standard deviation x^-0.5, so the RMS ~ x^-0.5.  Over 200
    independent data sets the 95% interval must contain -0.5 in 190 +- 4 binomial standard
    deviations (sd 3.1; false-alarm rate below 1e-4, if the bootstrap's coverage is nominal)."""
    x = np.array([64.0, 256.0, 1024.0, 4096.0])
    reps, covered = 200, 0
    for r in range(reps):
        samples = np.random.default_rng(100 + r).normal(size=(4, 400)) * x[:, None] ** -0.5
        slope, lo, hi = report.bootstrap_loglog_slope(x, samples, seed=r, n_boot=500)
        assert lo <= slope <= hi
        covered += lo < -0.5 < hi
    sd = (reps * 0.95 * 0.05) ** 0.5
    assert abs(covered - 0.95 * reps) <= 4 * sd, covered
    with pytest.raises(ValueError, match="samples must have shape"):
        report.bootstrap_loglog_slope(x, samples[:3])


def test_bootstrap_median_statistic_and_bad_statistic():
    x = np.array([1.0, 4.0, 16.0])
    samples = np.array([[1.0, -2.0, 3.0], [0.5, -1.0, 1.5], [0.25, 0.5, -0.75]])  # medians 2, 1, 0.5
    slope, lo, hi = report.bootstrap_loglog_slope(x, samples, statistic="median", n_boot=50)
    assert slope == pytest.approx(-0.5, abs=1e-12)
    with pytest.raises(ValueError, match="statistic must be"):
        report.bootstrap_loglog_slope(x, samples, statistic="mean")


def test_bootstrap_quantile_statistic():
    x = np.array([1.0, 4.0, 16.0])
    rng = np.random.default_rng(3)
    base = np.abs(rng.normal(size=200))
    samples = base[None, :] * x[:, None] ** -0.5  # every quantile scales like x^-1/2
    slope, lo, hi = report.bootstrap_loglog_slope(x, samples, statistic="quantile", q=0.9, n_boot=50)
    assert slope == pytest.approx(-0.5, abs=1e-12) and lo == pytest.approx(-0.5, abs=1e-12)
    with pytest.raises(ValueError, match="needs q"):
        report.bootstrap_loglog_slope(x, samples, statistic="quantile")


def test_replicate_slope_t_interval_has_its_nominal_coverage():
    """Four replicate curves with Gaussian slopes around -0.3 (sd 0.1): the 95% t-interval must
    contain -0.3 in 95% of 1000 data sets, within 5 binomial sd (6.9; false-alarm below 1e-6)."""
    x = np.geomspace(100, 10000, 8)
    rng = np.random.default_rng(5)
    reps, covered = 1000, 0
    for _ in range(reps):
        b = -0.3 + 0.1 * rng.normal(size=4)
        Y = np.exp(np.log(x)[:, None] * b[None, :])
        mean, lo, hi = report.replicate_loglog_slope(x, Y, level=0.95)
        assert mean == pytest.approx(b.mean(), abs=1e-9)
        covered += lo < -0.3 < hi
    assert abs(covered - 0.95 * reps) <= 5 * (reps * 0.95 * 0.05) ** 0.5, covered
    with pytest.raises(ValueError, match="two replicates"):
        report.replicate_loglog_slope(x, Y[:, :1])


def test_local_exponent_of_a_log_factor():
    """log^2 m / sqrt m has local exponent -1/2 + 2/ln m; over one point pair it is the secant."""
    m = np.array([1024.0, 4096.0])
    expected = (np.log(np.log(4096) ** 2 / 64) - np.log(np.log(1024) ** 2 / 32)) / np.log(4)
    assert report.local_exponent(lambda v: np.log(v) ** 2 / np.sqrt(v), m) == pytest.approx(expected)
    assert report.local_exponent(lambda v: v**-0.25, np.geomspace(1, 100, 5)) == pytest.approx(-0.25)


def test_verdict_glue_takes_only_verdicts_and_v_keys():
    pytest.importorskip("myst_nb")
    from rnnbook.verdicts import HOLDS, Verdict

    with pytest.raises(TypeError, match="Verdict"):
        report.verdict("v_x", "holds")
    v = Verdict(HOLDS, "the interval contains -1/2", "rate", 0.01)
    with pytest.raises(ValueError, match="start with 'v_'"):
        report.verdict("x", v)
    with pytest.raises(ValueError, match="report.verdict"):
        report.note("v_x", "**holds**")
    report.verdict("v_test", v)
    assert report.VERDICTS["v_test"] is v
    with pytest.raises(ValueError, match="__brief"):
        report.verdict("v_test__brief", v)


def test_glue_run_glues_provenance_and_the_run_settings(monkeypatch):
    """glue_run glues the provenance sentence and each named setting from the run's own config
    (so a chapter never types a size), and names a setting the run does not have."""
    glued = {}
    monkeypatch.setattr(report, "note", lambda key, text: glued.__setitem__(key, text))
    monkeypatch.setattr(report, "number", lambda key, value: glued.__setitem__(key, value))

    class Run:
        name, config = "toy", {"L": 40, "steps": 2000, "step": 0.5}

        def provenance_sentence(self):
            return "cpu, 2026-12-04, profile *paper*"

    assert report.glue_run(Run(), "c", "L", "steps", numbers={"lazy_s": "step"}) is Run.config
    assert glued == {"c_where": "cpu, 2026-12-04, profile *paper*", "c_L": 40, "c_steps": 2000,
                     "lazy_s": 0.5}
    with pytest.raises(KeyError, match=r"no setting \['n'\]"):
        report.glue_run(Run(), "c", "n")
    with pytest.raises(ValueError, match="prefix"):
        report.glue_run(Run(), "not a prefix", "L")


def test_numbers_glues_each_keyword(monkeypatch):
    glued = []
    monkeypatch.setattr(report, "number", lambda key, value: glued.append((key, value)))
    report.numbers(n=8, L=40)
    assert glued == [("n", 8), ("L", 40)]
