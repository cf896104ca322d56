"""Tests of rnnbook.experiments: the book's registered sweeps compute what a direct call of the
package computes, at tiny sizes."""


import numpy as np
import pytest

from rnnbook import data, experiments, profiles


def test_forward_kernel_sweep_matches_a_direct_computation(tmp_path):
    """The registered sweep computes exactly what empirical.forward_kernel_errors gives."""
    from rnnbook import empirical
    from rnnbook.experiments import SEED

    tiny = profiles.Profile(**{**profiles.get("quick").__dict__, "name": "quick", "fk_widths": (16,),
                               "fk_seeds": 2, "fk_n": 3, "fk_L": 3})
    res = experiments.run("forward_kernel_mc", profile=tiny, device="cpu",
                          directory=tmp_path, use_committed=False)
    X = data.sample_sequences(3, 3, tiny.fk_d, c_min=0.5, c_max=1.5, seed=SEED, device="cpu")
    direct = empirical.forward_kernel_errors(X, [16], 2, init="paper", seed=SEED + 200_000, device="cpu")[0]
    np.testing.assert_allclose(res.value(init="paper", m=16), direct, rtol=0, atol=0)


def test_backward_kernel_sweep_matches_a_direct_computation(tmp_path):
    """The registered Theorem 6 sweep computes exactly what empirical.backward_kernel_errors gives,
    with its networks seeded apart from the forward sweep's."""
    from rnnbook import empirical
    from rnnbook.experiments import SEED

    tiny = profiles.Profile(**{**profiles.get("quick").__dict__, "name": "quick", "fk_widths": (16,),
                               "fk_seeds": 2, "fk_n": 3, "fk_L": 3})
    res = experiments.run("backward_kernel_mc", profile=tiny, device="cpu",
                          directory=tmp_path, use_committed=False)
    X = data.sample_sequences(3, 3, tiny.fk_d, c_min=0.5, c_max=1.5, seed=SEED, device="cpu")
    direct = empirical.backward_kernel_errors(X, [16], 2, init="algorithm1", seed=SEED + 150_000,
                                              device="cpu")
    got = res.value(init="algorithm1", m=16)
    assert sorted(got) == sorted(direct)
    for key, value in direct.items():
        np.testing.assert_allclose(got[key], value[0], rtol=0, atol=0)


def _tiny_sgd_profile(**changes):
    base = {**profiles.get("quick").__dict__, "name": "quick", "sgd_d": 3, "sgd_runs": 2, "sgd_test_n": 50,
            "sgd_m": 16, "sgd_steps": 40, "sgd_lengths": (3,), "sgd_step_grid": (0.25, 1.0),
            "sgd_margin_q": 0.2, "sgd_c_runs": 2, "sgd_len_runs": 2,
            "sgd_c_L": 3, "sgd_c_steps": 30,
            "sgd_c_widths": (16,), "sgd_c_grid": (1.0, 4.0), "sgd_span_L": 4, "sgd_spans": (1, 3),
            "sgd_n_vars": (2,), "sgd_lazy_n": 10, "sgd_lazy_steps": 25, "sgd_lazy_L": 3,
            "sgd_lazy_widths": (8, 16), "sgd_lazy_runs": 2, "sgd_label_L": 3, "sgd_label_steps": 30}
    base.update(changes)
    return profiles.Profile(**base)


def test_sgd_sweeps_run_and_match_a_direct_call(tmp_path):
    """The SGD sweeps run end to end on a tiny profile; sgd_length's curves are train.sgd's, under
    the margin law (whose samples all meet y F*/t >= 1) and the plain law."""
    import torch

    from rnnbook import train
    from rnnbook.baselines import ntk_diagonal
    from rnnbook.experiments import SEED, _sin_additive, length_source

    tiny = _tiny_sgd_profile()
    for name in ("sgd_stepsize", "sgd_length", "sgd_span", "sgd_labelling", "sgd_lazy"):
        res = experiments.run(name, profile=tiny, device="cpu", directory=tmp_path, use_committed=False)
        assert len(res.records) == len(experiments.get_sweep(name).units(tiny))
    res = experiments.run("sgd_length", profile=tiny, device="cpu", directory=tmp_path, use_committed=False)
    assert {(u["law"], u["s"]) for u in (r["unit"] for r in res.records.values())} == {
        ("margin", 0.25), ("margin", 1.0), ("plain", tiny.sgd_step)}
    margin = length_source(res.config, 3, "margin")
    assert margin.quantile == 0.2 and margin.threshold > 0
    X, y = margin.sample(500, seed=0)
    assert float((y * margin.target(X)).min()) >= 1 - 1e-12
    for init, law, s in (("paper", "margin", 1.0), ("algorithm1", "plain", tiny.sgd_step)):
        got = res.value(init=init, L=3, law=law, s=s)
        source = margin if law == "margin" else data.population(_sin_additive(3, 3))
        direct = train.sgd(source, m=16, steps=40, eta=s / ntk_diagonal(3, 3, init=init), init=init, runs=2,
                           seed=SEED, test_n=50, log_points=16, dtype=torch.float32, device="cpu")
        np.testing.assert_allclose(got["test_error"], direct.test_error.numpy(), rtol=0, atol=0)
        np.testing.assert_allclose(got["online_error"], direct.online_error.numpy(), rtol=0, atol=0)
        assert (got["threshold"] is None) == (law == "plain")
    with pytest.raises(ValueError, match="law must be"):
        length_source(res.config, 3, "uniform")
    # The stepsize sweep's second held-out sample: the final networks' error on it.
    from rnnbook.experiments import VALIDATION_SEED

    step = experiments.run("sgd_stepsize", profile=tiny, device="cpu",
                           directory=tmp_path, use_committed=False)
    got = step.value(init="algorithm1", m=16, c=4.0)
    source = data.population(_sin_additive(3, 3))
    direct = train.sgd(source, m=16, steps=30, c=4.0, init="algorithm1", runs=2, seed=SEED, test_n=50,
                       log_points=2, dtype=torch.float32, device="cpu")
    Xv, yv = train.held_out_sample(source, 50, seed=VALIDATION_SEED)
    Xt, _ = train.held_out_sample(source, 50, seed=SEED)
    assert not torch.equal(Xv, Xt)
    z = train.final_margins(direct, Xv, yv)
    np.testing.assert_allclose(got["validation_error"], ((z < 0) | z.isnan()).double().mean(1).numpy(),
                               rtol=0, atol=0)
    np.testing.assert_allclose(got["test_error"], direct.test_error[:, -1].numpy(), rtol=0, atol=0)
    lab = experiments.run("sgd_labelling", profile=tiny, device="cpu", directory=tmp_path,
                    use_committed=False).value(init="algorithm1")
    assert np.array(lab["position_error"]).shape == (2, 3)


def test_lazy_sweep_metrics_recomputed_independently(tmp_path):
    """Every metric of one sgd_lazy unit (B ~ N(0, 1), run 0) recomputed another way: the network
    by Algorithm 1's literal loop (train.algorithm1_loop, through train.gradient), the kernel
    limit by a plain loop over f_t(x) = f_0(x) + sum_{s<t} a_s H(x, x_s), the norms by dense
    solves and SVDs."""
    import math

    import torch

    from rnnbook import baselines, kernels, model, train
    from rnnbook.device import make_generator
    from rnnbook.experiments import SEED, lazy_data

    tiny = _tiny_sgd_profile()
    res = experiments.run("sgd_lazy", profile=tiny, device="cpu", directory=tmp_path, use_committed=False)
    assert res.axis("m") == [8, 16] and res.axis("B") == ["section3", "unit"]
    cfg, m = res.config, 16
    got = res.value(B="unit", m=m)
    assert all(len(v) == cfg["runs"] for v in got.values())
    X, y, fstar, Xt, yt = lazy_data(cfg)
    n, L, d = X.shape
    H = kernels.ntk(torch.cat([X, Xt]), init=cfg["init"]) * m  # B ~ N(0, 1): m times the NTK
    eta = cfg["step"] / baselines.ntk_diagonal(L, d, init=cfg["init"]) / m
    idx = torch.randint(n, (cfg["steps"],), generator=make_generator(SEED + 1000, "cpu"))
    p0 = model.init_params(m, d, L, init=cfg["init"], generator=make_generator(SEED + 2000, "cpu"))
    p0 = p0.replace(B=p0.B * math.sqrt(m))
    p = train.algorithm1_loop(p0, X[idx], y[idx], eta)
    f0, f0t, f = model.forward(p0, X), model.forward(p0, Xt), model.forward(p, Xt)
    a = torch.zeros(len(idx), dtype=torch.float64)
    for t, i in enumerate(idx.tolist()):
        ft = f0[i] + sum(a[s] * H[i, j] for s, j in enumerate(idx[:t].tolist()))
        a[t] = eta * y[i] / (1 + math.exp(float(y[i] * ft)))
    fk = f0t + H[n:, idx] @ a
    dW = p.W - p0.W
    v = fstar / fstar.abs().min() - f0
    want = {
        "net_error": float((f * yt < 0).double().mean()),
        "kernel_error": float((fk * yt < 0).double().mean()),
        "correlation": float(np.corrcoef((f - f0t).numpy(), (fk - f0t).numpy())[0, 1]),
        "agreement": float((f.sign() == fk.sign()).double().mean()),
        "w_distance": float(dW.square().sum().sqrt()),
        "kernel_distance": math.sqrt(float(a @ H[idx][:, idx] @ a)),
        "w_operator": float(torch.linalg.svdvals(dW)[0]),
        "w0_operator": float(torch.linalg.svdvals(p0.W)[0]),
        "f0_rms": float(f0t.square().mean().sqrt()),
        "margin_norm": math.sqrt(float(v @ torch.linalg.solve(H[:n, :n], v))),
    }
    assert set(got) == set(want)
    for key, value in want.items():
        # error rates and agreement are counts over the test sample: identical; the rest agree to
        # rounding of two different orders of summation (the literal loop vs the batched trainer).
        tol = 0 if key in ("net_error", "kernel_error", "agreement") else 1e-8
        assert got[key][0] == pytest.approx(value, rel=tol, abs=tol), key


def test_span_sweep_pairs_the_network_with_one_position(tmp_path):
    """sgd_span's paired statistics, recomputed from a direct train.sgd run: per held-out input the
    number of runs whose final network errs (final_margins), adding up to the logged test errors,
    and the single position's mistakes; paired_errors' se is
    sqrt(var_r(e_r)/R + var_i(D_i)/n), D_i = (runs wrong on i)/R - (single position wrong on i)."""
    import math

    import torch

    from rnnbook import train
    from rnnbook.baselines import ntk_diagonal
    from rnnbook.experiments import SEED, paired_errors, single_position_mistakes, span_target

    tiny = _tiny_sgd_profile(sgd_spans=(2,), sgd_n_vars=())
    res = experiments.run("sgd_span", profile=tiny, device="cpu", directory=tmp_path, use_committed=False)
    got = res.value(init="algorithm1", kind="pair", k=2)
    target = span_target(4, 3, "pair", 2)
    source = data.population(target)
    direct = train.sgd(source, m=16, steps=40, eta=tiny.sgd_step / ntk_diagonal(4, 3, init="algorithm1"),
                       init="algorithm1", runs=2, seed=SEED, test_n=50, log_points=16, dtype=torch.float32,
                       device="cpu")
    X, y = train.held_out_sample(source, 50, seed=SEED)
    z = train.final_margins(direct, X, y)
    net = ((z < 0) | z.isnan()).double()
    np.testing.assert_allclose(net.mean(1).numpy(), np.array(got["test_error"])[:, -1], rtol=0, atol=0)
    assert got["test_mistakes"] == net.sum(0).to(torch.int64).tolist()
    single = single_position_mistakes(target, X, y).double()
    assert got["single_mistakes"] == single.to(torch.int64).tolist()
    assert got["single_position"] == float(single.mean())
    e = np.array(got["test_error"])[:, -1]
    mean, se, one = paired_errors(got)
    assert mean == pytest.approx(e.mean()) and one == got["single_position"]
    D = net.mean(0) - single
    assert se == pytest.approx(math.sqrt(e.var(ddof=1) / 2 + float(D.var()) / 50), rel=1e-12)
    other = res.value(init="paper", kind="pair", k=2)
    e2 = np.array(other["test_error"])[:, -1]
    D2 = net.mean(0) - torch.tensor(other["test_mistakes"], dtype=torch.float64) / 2
    m1, se2, m2 = paired_errors(got, other)
    assert (m1, m2) == (pytest.approx(e.mean()), pytest.approx(e2.mean()))
    assert se2 == pytest.approx(math.sqrt(e.var(ddof=1) / 2 + e2.var(ddof=1) / 2 + float(D2.var()) / 50),
                                rel=1e-12)
    with pytest.raises(ValueError, match="add up"):
        paired_errors({**got, "test_mistakes": [0] * 50})
    with pytest.raises(ValueError, match="different test samples"):
        paired_errors(got, {"test_error": [[0.0], [0.0]], "test_mistakes": [0] * 7})


def test_interpolation_norm_is_a_direct_solve():
    import math

    import torch

    from rnnbook.device import make_generator
    from rnnbook.experiments import _interpolation_norm

    G = torch.randn(6, 9, generator=make_generator(0, "cpu"), dtype=torch.float64)
    H = G @ G.T
    v = torch.randn(6, generator=make_generator(1, "cpu"), dtype=torch.float64)
    direct = math.sqrt(float(v @ torch.linalg.solve(H, v)))
    assert _interpolation_norm(H, v) == pytest.approx(direct, rel=1e-10)
    assert _interpolation_norm(torch.ones(3, 3, dtype=torch.float64), v[:3]) == math.inf  # singular


def test_span_and_labelling_targets():
    from rnnbook.experiments import labelling_targets, span_target

    pair = span_target(10, 3, "pair", 4)
    assert pair.positions == (6, 10) and pair.l0 == 4
    assert span_target(10, 3, "last", 3).positions == (8, 9, 10)
    with pytest.raises(ValueError, match="kind"):
        span_target(10, 3, "middle", 2)
    targets = labelling_targets(5, 3)
    assert [sorted({t.position for t in tg.terms}) for tg in targets] == [[1], [1, 2], [2, 3], [3, 4], [4, 5]]


def test_single_position_error():
    """For a sin pair, sign F* = sign(beta_a X_a + beta_b X_b); one position predicts with the sign of
    its own half, and the best of the two is what single_position_error reports."""
    import torch

    from rnnbook.experiments import single_position_error, single_position_mistakes, span_target

    target = span_target(6, 3, "pair", 2)
    X = data.sample_sequences(400, 6, 3, seed=8)
    y = torch.sign(target(X))
    beta = target.terms[0].beta.reshape(2, 3)
    u, v = X[:, 3] @ beta[0], X[:, 5] @ beta[1]
    assert torch.equal(y, torch.sign(u + v))
    expected = min(float((torch.sign(u) != y).double().mean()), float((torch.sign(v) != y).double().mean()))
    assert single_position_error(target, X, y) == expected
    assert 0 < expected < 0.5
    wrong_u, wrong_v = torch.sign(u) != y, torch.sign(v) != y
    best = wrong_u if int(wrong_u.sum()) <= int(wrong_v.sum()) else wrong_v
    assert torch.equal(single_position_mistakes(target, X, y), best)


def test_final_errors_and_learned_record():
    """final_errors takes the last logged column of (R, K) curves and keeps final (R,) values;
    learned_record is the rule 'learned' on them with the run's own test_n: holds exactly when the
    one-sided t upper bound mean + t_{R-1, 1-alpha} sqrt(s^2/R + e(1-e)/n) is below chance."""
    import math

    from scipy import stats

    from rnnbook import verdicts
    from rnnbook.experiments import final_errors, learned_record

    curves = [[0.5, 0.40, 0.30], [0.5, 0.35, 0.20], [0.5, 0.45, 0.25]]
    assert final_errors({"test_error": curves}).tolist() == [0.30, 0.20, 0.25]
    assert final_errors({"e": [0.1, 0.2]}, "e").tolist() == [0.1, 0.2]
    with pytest.raises(ValueError, match="curves"):
        final_errors({"test_error": [[[0.1]]]})

    def by_hand(e, n, chance, alpha):
        e = np.array(e)
        se = math.sqrt(e.var(ddof=1) / e.size + e.mean() * (1 - e.mean()) / n)
        return e.mean() + stats.t.ppf(1 - alpha, e.size - 1) * se < chance

    for n, majority in ((200, 0.5), (200, 0.27), (20, 0.4), (5000, 0.27)):
        record = {"test_error": curves, "majority": majority}
        got = learned_record(record, {"test_n": n}, alpha=0.01, what="x")
        assert (got.word == verdicts.HOLDS) == by_hand([0.30, 0.20, 0.25], n, majority, 0.01)
        assert got == verdicts.learned([0.30, 0.20, 0.25], n_test=n, chance=majority, alpha=0.01, what="x")
    assert {learned_record({"test_error": curves, "majority": 0.5}, {"test_n": n}, alpha=0.01, what="x").word
            for n in (20, 5000)} == {verdicts.HOLDS, verdicts.INCONCLUSIVE}  # the cases above differ
    # chance given explicitly replaces the record's majority; another key is read the same way
    rec = {"validation_error": [0.2, 0.25, 0.3], "majority": 0.01}
    assert learned_record(rec, {"test_n": 1000}, key="validation_error", chance=0.5, alpha=0.01,
                          what="x").word == verdicts.HOLDS


def test_grid_subset_and_per_length_text():
    from rnnbook.experiments import grid_subset_text, per_length_text

    grid = [0.25, 0.5, 1.0, 2.0, 4.0]
    assert grid_subset_text([], grid) == "none"
    assert grid_subset_text([0.5, 1.0, 2.0], grid) == "0.5 to 2 (all 3 grid values)"
    assert grid_subset_text([0.5, 1.0], grid) == "0.5, 1"  # two values are listed
    assert grid_subset_text([0.25, 1.0, 2.0], grid) == "0.25, 1, 2"  # a gap
    with pytest.raises(ValueError):
        grid_subset_text([3.0], grid)
    assert per_length_text({5: 0.1234, 10: 0.5}) == "0.123 ($L = 5$), 0.500 ($L = 10$)"
    assert per_length_text({20: (-0.412, -0.5, -0.3)}, ".2f") == "-0.41 [-0.50, -0.30] ($L = 20$)"


def test_metric_curves_and_lazy_summary(tmp_path):
    """metric_curves stacks a sweep's records along an axis; lazy_summary's numbers recomputed from
    the records of the largest and smallest width one by one."""
    from rnnbook.experiments import lazy_summary, metric_curves

    tiny = _tiny_sgd_profile()
    res = experiments.run("sgd_lazy", profile=tiny, device="cpu", directory=tmp_path, use_committed=False)
    curves = metric_curves(res, "m", B="section3")
    assert set(curves) == set(res.value(B="section3", m=8))
    for key, value in curves.items():
        assert value.shape == (2, tiny.sgd_lazy_runs)
        np.testing.assert_array_equal(value[1], np.array(res.value(B="section3", m=16)[key]))
    got = lazy_summary(curves)
    big, small = res.value(B="section3", m=16), res.value(B="section3", m=8)

    def median(xs):
        xs = sorted(xs)
        k = len(xs)
        return xs[k // 2] if k % 2 else (xs[k // 2 - 1] + xs[k // 2]) / 2

    want = {"op_ratio": median([a / b for a, b in zip(big["w_operator"], big["w0_operator"], strict=True)]),
            "dist_max": median(big["w_distance"]), "kdist_max": median(big["kernel_distance"]),
            "margin_norm_max": median(big["margin_norm"]), "corr_min": median(small["correlation"]),
            "corr_max": median(big["correlation"]), "agree_max": median(big["agreement"]),
            "net_err_max": sum(big["net_error"]) / len(big["net_error"]),
            "ker_err_max": sum(big["kernel_error"]) / len(big["kernel_error"]),
            "f0_max": median(big["f0_rms"])}
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12, nan_ok=True), key


def _same_forms(records, forms):
    """Stored form records against forms computed one label vector at a time: the same
    factorisation (condition, method, bound), values within the two solves' stated bounds (the
    sweep solves a target's label vectors together)."""
    for rec, q in zip(records, forms, strict=True):
        assert (rec["condition"], rec["method"], rec["relative_error_bound"]) == (
            q.condition, q.method, q.relative_error_bound)
        assert abs(rec["value"] - q.value) <= 2 * q.relative_error_bound * q.value


def test_complexity_forms_sweep_matches_a_direct_computation(tmp_path):
    """The Theorem 4 sweep of the complexity chapter: for each (L, init), the nested forms of
    each target equal linalg.nested_quadratic_forms on H = kernels.ntk of the unit's pool restricted
    to the target's margin sample; the label forms use the signs of F*/t and random signs."""
    import torch

    from rnnbook import kernels, linalg
    from rnnbook.experiments import SEED

    tiny = profiles.Profile(**{**profiles.get("quick").__dict__, "cb_sizes": (8, 16), "cb_lengths": (3,)})
    res = experiments.run("complexity_forms", profile=tiny, device="cpu", directory=tmp_path,
                          use_committed=False)
    assert sorted((u["L"], u["init"]) for u in res.units()) == [(3, "algorithm1"), (3, "paper")]
    X = data.sample_sequences(int(16 / 0.8) + 64, 3, tiny.cb_d, seed=SEED + 3, device="cpu")
    targets = experiments.complexity_targets(3, tiny.cb_d, SEED + 3)
    for init in ("paper", "algorithm1"):
        H = kernels.ntk(X, init=init)
        got = res.value(L=3, init=init)
        for name, target in targets.items():
            sample = data.margin_sample(target, X, 16, quantile=0.2)
            Hs = H[sample.index][:, sample.index]
            direct = linalg.nested_quadratic_forms(Hs, sample.f_star, [8, 16], name="H")
            _same_forms(got["forms"][name], direct)
            assert got["log10_C"][name] == sample.target.complexity(1.0).log10
            if name == "all":
                signs = linalg.nested_quadratic_forms(Hs, torch.sign(sample.f_star), [8, 16], name="H")
                _same_forms(got["labels"]["sign F*"], signs)
                rand = got["labels"]["random"]
                assert len(rand) == 2 and rand != got["labels"]["sign F*"]
    # a stored form rebuilds the QuadraticForm it came from
    assert linalg.QuadraticForm(**got["forms"]["all"][0]).value == got["forms"]["all"][0]["value"]
