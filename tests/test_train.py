"""Tests of rnnbook.train: Algorithm 1 (online SGD on W), its hand-written gradient against
autograd, one step against an independent numpy computation, the batched runs against single runs
and a slow reference loop, and the NTK kernel-regression baseline."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from rnnbook import baselines, concepts, data, kernels, model, series, train
from rnnbook.device import make_generator

F64 = torch.float64


def tiny_source(L=3, d=2, seed=0, positions=None):
    return data.population(concepts.random_additive_target(L, d, series.sin(), positions=positions,
                                                            seed=seed))


def labelling_source(L=3, d=2):
    # Target l reads X_l only (an additive term at position l), so it reads only X_1..X_l.
    return data.population_labelling(
        [concepts.random_additive_target(L, d, series.sin(), positions=[l], seed=l) for l in range(1, L + 1)])


def unit_sequences(n, L, d, seed, device="cpu"):
    X = torch.randn(n, L, d, generator=make_generator(seed, device), dtype=F64, device=device)
    return X / X.norm(dim=-1, keepdim=True)


# ----------------------------------------------------------------------------------------------
# The loss and the gradient.


def test_logistic_loss_is_stable_and_accurate():
    z = torch.tensor([-1000.0, -50.0, -20.0, -1.0, 0.0, 1e-8, 1.0, 20.0, 50.0, 700.0, 1000.0], dtype=F64)
    out = train.logistic_loss(z)
    assert bool(torch.isfinite(out).all())
    assert float(out[0]) == 1000.0 and float(out[-1]) >= 0.0
    ok = torch.isfinite(torch.exp(-z))
    ref = torch.log1p(torch.exp(-z[ok]))
    torch.testing.assert_close(out[ok], ref, rtol=1e-15, atol=0)
    # Where exp(-z) overflows, log(1 + e^-z) = -z + log1p(e^z) = -z to double precision.
    torch.testing.assert_close(out[~ok], -z[~ok], rtol=1e-15, atol=0)
    assert float(train.logistic_loss(0.0)) == pytest.approx(math.log(2), rel=1e-15)
    # Its autograd derivative is -sigmoid(-z), also at z = 0.
    zg = z.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(train.logistic_loss(zg).sum(), zg)
    torch.testing.assert_close(g, -torch.sigmoid(-z), rtol=1e-15, atol=1e-300)


def autograd_gradient(params, X, y, loss):
    W = params.W.clone().requires_grad_(True)
    p = params.replace(W=W)
    if loss == "final":
        obj = train.logistic_loss(y * model.forward(p, X)).mean()
    else:
        _, states = model.forward(p, X, return_states=True)
        f_l = (states.h[1:] @ p.B).T  # (n, L)
        obj = train.logistic_loss(y * f_l).sum() / X.shape[0]
    (g,) = torch.autograd.grad(obj, W)
    return g


@pytest.mark.parametrize("init", ["algorithm1", "paper"])
@pytest.mark.parametrize("loss", ["final", "labelling"])
def test_gradient_equals_autograd(device, init, loss):
    m, L, d, n = 40, 5, 3, 7
    p = model.init_params(m, d, L, init=init, generator=make_generator(1, device), device=device)
    X = unit_sequences(n, L, d, seed=2, device=device)
    gen = make_generator(3, device)
    shape = (n,) if loss == "final" else (n, L)
    y = torch.randint(0, 2, shape, generator=gen, device=device).to(F64) * 2 - 1
    g = train.gradient(p, X, y, loss=loss)
    ref = autograd_gradient(p, X, y, loss)
    assert g.shape == (m, m) and g.device == p.device
    assert float((g - ref).abs().max() / ref.abs().max()) < 1e-12
    # A single sequence: shape (L, d) and a scalar label (or (L,) labels).
    g1 = train.gradient(p, X[2], y[2], loss=loss)
    ref1 = autograd_gradient(p, X[2:3], y[2:3], loss)
    assert float((g1 - ref1).abs().max() / ref1.abs().max()) < 1e-12
    assert train.mean_loss(p, X, y, loss=loss) == pytest.approx(
        float(train.logistic_loss(y * (model.forward(p, X) if loss == "final" else
                                       (model.forward(p, X, return_states=True)[1].h[1:] @ p.B).T)).sum())
        / n, rel=1e-14)


# ----------------------------------------------------------------------------------------------
# One step against an independent computation.


def numpy_step(W, A, B, M0, x, y, eta):
    """Algorithm 1's update by explicit loops in numpy: forward (14), f, l'(y f) y, backward vectors
    delta_L = D_L B, delta_l = D_l W^T delta_{l+1}, W - eta l'(y f) y sum_l delta_l h_{l-1}^T."""
    m = W.shape[0]
    L = x.shape[0]
    relu = lambda v: max(v, 0.0)
    h = [[relu(M0[i]) for i in range(m)]]
    act = []
    for l in range(L):
        pre = [sum(W[i, j] * h[-1][j] for j in range(m)) + sum(A[i, k] * x[l, k] for k in range(x.shape[1]))
               for i in range(m)]
        act.append([1.0 if v > 0 else 0.0 for v in pre])
        h.append([relu(v) for v in pre])
    f = sum(B[i] * h[L][i] for i in range(m))
    dl = -y / (1.0 + math.exp(y * f))  # d/df log(1 + exp(-y f))
    delta = [None] * L
    delta[L - 1] = [act[L - 1][i] * B[i] for i in range(m)]
    for l in range(L - 2, -1, -1):
        delta[l] = [act[l][i] * sum(W[j, i] * delta[l + 1][j] for j in range(m)) for i in range(m)]
    W1 = W.copy()
    for i in range(m):
        for j in range(m):
            W1[i, j] -= eta * dl * sum(delta[l][i] * h[l][j] for l in range(L))
    return W1, f


def test_one_step_matches_a_hand_computation():
    src = tiny_source(L=2, d=2)
    res = train.sgd(src, m=3, steps=1, eta=0.5, test_n=0, device="cpu")
    p, X, y = train.run_stream(src, m=3, steps=1, device="cpu")
    torch.testing.assert_close(p.W, res.params0[0].W, rtol=0, atol=0)
    W1, f = numpy_step(*(t.numpy() for t in (p.W, p.A, p.B, p.M0)), X[0].numpy(), float(y[0]), 0.5)
    np.testing.assert_allclose(res.W[0].numpy(), W1, rtol=1e-13, atol=1e-15)
    assert not np.allclose(W1, p.W.numpy())  # the step did something
    assert float(res.online_error[0, -1]) == (1.0 if float(y[0]) * f < 0 else 0.0)


def test_one_step_explicit_numbers():
    # m = 3, L = 2, d = 2 with hand-picked weights, so every intermediate is a short fraction.
    W = torch.tensor([[0.5, -1.0, 0.0], [1.0, 0.5, -0.5], [0.0, 1.0, 1.0]], dtype=F64)
    A = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]], dtype=F64)
    B = torch.tensor([1.0, -1.0, 0.5], dtype=F64)
    M0 = torch.tensor([1.0, -1.0, 2.0], dtype=F64)
    p = model.RNNParams(W, A, B, M0, init="algorithm1", L=2)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=F64)
    # h0 = (1, 0, 2); pre1 = W h0 + A x1 = (0.5, 0, 2) + (1, 0, 1) = (1.5, 0, 3): h1 = (1.5, 0, 3),
    # D1 = (1, 0, 1); pre2 = W h1 + A x2 = (0.75, 0, 3) + (0, 1, -1) = (0.75, 1, 2): D2 = (1, 1, 1),
    # f = 0.75 - 1 + 1 = 0.75.  With y = -1: dl/df = -y sigmoid(-y f) = sigmoid(0.75).
    s = 1.0 / (1.0 + math.exp(-0.75))
    d2 = np.array([1.0, -1.0, 0.5])                                  # D2 B
    d1 = np.array([1.0, 0.0, 1.0]) * (W.numpy().T @ d2)              # D1 W^T d2 = D1 (-0.5, -1, 1)
    np.testing.assert_allclose(d1, [-0.5, 0.0, 1.0])
    grad = s * (np.outer(d2, [1.5, 0.0, 3.0]) + np.outer(d1, [1.0, 0.0, 2.0]))
    expected = W.numpy() - 0.1 * grad
    g = train.gradient(p, x, -1.0)
    np.testing.assert_allclose(g.numpy(), grad, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose((p.W - 0.1 * g).numpy(), expected, rtol=1e-15, atol=1e-15)
    assert float(model.forward(p, x[None])[0]) == 0.75


# ----------------------------------------------------------------------------------------------
# SGD: determinism, batching, bookkeeping.


def test_determinism_and_batched_runs_equal_single_runs(device):
    src = tiny_source(L=4, d=3)
    kw = dict(m=24, steps=60, c=3.0, seed=7, log_every=20, test_n=50, dtype=F64, device=device)
    a = train.sgd(src, runs=3, **kw)
    b = train.sgd(src, runs=3, **kw)
    assert torch.equal(a.W, b.W)
    torch.testing.assert_close(a.online_error, b.online_error, rtol=0, atol=0, equal_nan=True)
    assert a.W.shape == (3, 24, 24) and a.W.device.type == torch.device(device).type
    for r in range(3):
        single = train.sgd(src, runs=1, first_run=r, **kw)
        assert single.seeds == (a.seeds[r],) and single.runs == (r,)
        assert float((single.W[0] - a.W[r]).abs().max()) < 1e-12
        torch.testing.assert_close(single.params0[0].A, a.params0[r].A, rtol=0, atol=0)
        for field in ("online_error", "train_loss", "w_distance", "test_error"):
            torch.testing.assert_close(getattr(single, field)[0], getattr(a, field)[r], rtol=1e-10,
                                       atol=1e-12, equal_nan=True)
    assert not torch.equal(a.W[0], a.W[1])  # runs differ
    other = train.sgd(src, runs=1, **{**kw, "seed": 8})
    assert not torch.equal(other.W[0], a.W[0])
    # A shorter run is a prefix of a longer one: its W_20 is what the literal one-sample loop
    # (gradient() per step, an independent computation) reaches on the first 20 samples of the
    # stream, and its ||W_20 - W_0|| is the one the longer run logged at k = 20.
    short = train.sgd(src, runs=1, **{**kw, "steps": 20})
    p0, X, y = train.run_stream(src, m=24, steps=20, seed=7, run=0, dtype=F64, device=device)
    loop = train.algorithm1_loop(p0, X, y, 3.0 / 24)
    assert float((short.W[0] - loop.W).abs().max()) < 1e-12
    assert a.steps.tolist()[1] == 20
    assert float((short.w_distance[0, -1] - a.w_distance[0, 1]).abs()) < 1e-12
    assert float((short.w_distance[0, -1] - (loop.W - p0.W).norm()).abs()) < 1e-12


@pytest.mark.parametrize("m", [train.CPU_SPLIT_WIDTH // 2, train.CPU_SPLIT_WIDTH])
def test_a_run_does_not_depend_on_its_batch_on_the_cpu(m):
    """Below CPU_SPLIT_WIDTH the CPU advances the runs as one batch, from it one at a time: either
    way run r's float32 weights are bitwise those of run r made alone."""
    src = tiny_source(L=4, d=3)
    kw = dict(m=m, steps=40, c=2.0, seed=2, test_n=0, dtype=torch.float32, device="cpu")
    both = train.sgd(src, runs=3, **kw)
    for r in range(3):
        assert torch.equal(train.sgd(src, runs=1, first_run=r, **kw).W[0], both.W[r])


@pytest.mark.parametrize("loss", ["final", "labelling"])
def test_sgd_matches_a_slow_reference_loop(loss):
    """The recorded online error, train loss, test error and distance against a plain loop over
    run_stream's samples with gradient(); steps cross a data-chunk boundary."""
    src = tiny_source(L=3, d=2) if loss == "final" else labelling_source(L=3, d=2)
    steps, eta, m = train.DATA_CHUNK + 76, 0.2, 10
    res = train.sgd(src, m=m, steps=steps, eta=eta, runs=2, seed=3, log_points=8, test_n=40, loss=loss,
                    device="cpu")
    ks = res.steps.tolist()
    assert ks[0] == 0 and ks[-1] == steps and len(ks) >= 6
    Xt, yt = train.held_out_sample(src, 40, seed=3)
    for r in range(2):
        p, X, y = train.run_stream(src, m=m, steps=steps, seed=3, run=r, device="cpu")
        W = p.W.clone()
        mistakes, losses = [], []
        online, train_loss, test_err, dist = [], [], [], []
        for t in range(steps + 1):
            if t in ks:
                i = ks.index(t)
                q = p.replace(W=W)
                online.append(np.mean(mistakes) if t else math.nan)
                prev = ks[i - 1] if i else 0
                train_loss.append(np.mean(losses[prev:t]) if t else math.nan)
                test_err.append(train.zero_one_error(q, Xt, yt, loss=loss))
                dist.append(float((W - p.W).norm()))
            if t == steps:
                break
            q = p.replace(W=W)
            z = y[t] * (model.forward(q, X[t:t + 1])[0] if loss == "final" else
                        model.forward(q, X[t:t + 1], return_states=True)[1].h[1:, 0] @ p.B)
            mistakes.append(float((z < 0).double().mean()))
            losses.append(float(train.logistic_loss(z).sum()))
            W = W - eta * train.gradient(q, X[t], y[t], loss=loss)
        assert float((W - res.W[r]).abs().max()) < 1e-12
        torch.testing.assert_close(res.online_error[r], torch.tensor(online, dtype=F64), rtol=1e-12,
                                   atol=1e-14, equal_nan=True)
        torch.testing.assert_close(res.train_loss[r], torch.tensor(train_loss, dtype=F64), rtol=1e-10,
                                   atol=1e-14, equal_nan=True)
        torch.testing.assert_close(res.test_error[r], torch.tensor(test_err, dtype=F64), rtol=0, atol=1e-14)
        torch.testing.assert_close(res.w_distance[r], torch.tensor(dist, dtype=F64), rtol=1e-10, atol=1e-14)


def test_eta_from_c_and_result_fields(device):
    src = tiny_source()
    res = train.sgd(src, m=16, steps=5, c=2.0, test_n=10, device=device)
    assert res.eta == 2.0 / 16 and res.c == pytest.approx(2.0)
    assert res.dtype == (F64 if torch.device(device).type == "cpu" else torch.float32)
    assert res.steps.tolist() == sorted(set(res.steps.tolist()))
    assert res.online_error.shape == res.test_error.shape == (1, len(res.steps))
    assert math.isnan(float(res.online_error[0, 0])) and float(res.w_distance[0, 0]) == 0.0
    assert res.params(0).W is not None and torch.equal(res.params(0).W, res.W[0])
    assert train.log_steps(100, log_every=30) == [0, 30, 60, 90, 100]
    ks = train.log_steps(10_000, log_points=20)
    assert ks[0] == 0 and ks[-1] == 10_000 and 15 <= len(ks) <= 21


def test_cpu_equals_cuda(cuda_only):
    src = tiny_source(L=5, d=3)
    kw = dict(m=64, steps=20, c=4.0, runs=2, seed=1, test_n=100, dtype=F64)
    cpu = train.sgd(src, device="cpu", **kw)
    gpu = train.sgd(src, device="cuda", **kw)
    assert gpu.W.device.type == "cuda"
    assert float((gpu.W.cpu() - cpu.W).abs().max()) < 1e-9
    torch.testing.assert_close(gpu.test_error, cpu.test_error, rtol=0, atol=0)
    lab = labelling_source(L=3, d=2)
    kw = dict(m=32, steps=20, c=4.0, runs=2, test_n=0, dtype=F64, loss="labelling")
    assert float((train.sgd(lab, device="cuda", **kw).W.cpu() - train.sgd(lab, device="cpu", **kw).W)
                 .abs().max()) < 1e-9


# ----------------------------------------------------------------------------------------------
# Learning: a statistical statement.


def test_sgd_learns_a_linearly_separable_toy_problem():
    """F* = sin(beta^T X_L) (the last input only): sign F* is a half-space.  After 3000 steps at
    m = 128 with c = 30 (c = 300 diverges here) the test error must be below 1/2, and below the
    error at W_0 (paired: same test set), by more than chance allows: under 'no learning' the mean
    error of R runs on n test points has standard deviation at most 1/(2 sqrt(n)), and a one-sided
    z-test at false-alarm rate 1e-6 needs a margin of z/(2 sqrt(n)) ~ 0.075 for n = 1000.
    (Seeded, so the outcome is fixed; the rate says how unlikely a pass by luck would be.  Seen:
    0.26 from 0.42.)  The train loss must fall too: the mean over runs of the last log interval's
    loss below log 2 (the loss at f = 0) by more than 3 standard errors across runs."""
    L, d, m, R, n = 5, 4, 128, 4, 1000
    src = tiny_source(L=L, d=d, positions=[L], seed=5)
    res = train.sgd(src, m=m, steps=3000, c=30.0, runs=R, seed=0, test_n=n, log_points=10, device="cpu")
    z = norm.ppf(1 - 1e-6)
    err = res.test_error[:, -1]
    assert float(err.mean()) < 0.5 - z / (2 * math.sqrt(n))
    assert float(err.mean()) < float(res.test_error[:, 0].mean()) - z / (2 * math.sqrt(n))
    last = res.train_loss[:, -1]
    assert float(last.mean()) < math.log(2) - 3 * float(last.std()) / math.sqrt(R)
    assert float(res.online_error[:, -1].mean()) < 0.5


# ----------------------------------------------------------------------------------------------
# Data sources.


def test_population_labels_are_signs_of_the_target():
    tgt = concepts.random_additive_target(4, 3, series.sin(), seed=2)
    src = data.population(tgt)
    X, y = src.sample(200, seed=0)
    assert X.shape == (200, 4, 3) and y.shape == (200,)
    torch.testing.assert_close(y, torch.sign(tgt(X)))
    assert src.test is src and src.kind == "population" and not src.labelling
    # A rescaled target gives the same labels (and, on this law, no rescaling gives a margin).
    scaled = data.population(tgt.scaled(7.0))
    torch.testing.assert_close(scaled.sample(200, seed=0)[1], y)


def test_population_margin_meets_theorem_2s_hypothesis():
    """The margin law: every sample has y F*/t >= 1 with y = sign F*, t the q-quantile of abs(F*);
    the rejection sampler accepts a fraction 1 - q of the candidates; the threshold is the
    quantile.  Tolerances: the threshold is estimated on a pool of N inputs, so P(abs(F*) >= t)
    differs from 1 - q by a coverage error of standard deviation sqrt(q (1 - q) / N); a fraction
    measured on k candidates adds a binomial sqrt(q (1 - q) / k).  Both checks are z-tests at a
    two-sided false-alarm rate of 1e-6 (z = 4.89)."""
    q, L, d = 0.3, 4, 3
    tgt = concepts.random_additive_target(L, d, series.sin(), seed=4)
    src = data.population_margin(tgt, quantile=q, seed=9)
    t = src.threshold
    assert src.quantile == q and src.test is src and src.kind == "population" and t > 0
    assert t == data.margin_threshold(tgt, q, seed=9)
    X, y = src.sample(4000, seed=1)
    f = tgt(X)
    torch.testing.assert_close(y, torch.sign(f), rtol=0, atol=0)
    assert float((y * f).min()) >= t  # the margin, on every sample...
    assert float((y * src.target(X)).min()) >= 1 - 1e-12  # ...is y F*/t >= 1 for the source's target
    torch.testing.assert_close(src.target(X), f / t, rtol=1e-12, atol=0)
    z = norm.ppf(1 - 0.5e-6)
    pool = data.MARGIN_POOL
    k = 20_000
    Xk, yk, drawn = data.rejection_sample(tgt, t, k, make_generator(2, "cpu"))
    assert Xk.shape == (k, L, d) and float((yk * tgt(Xk)).min()) >= t
    assert abs(k / drawn - (1 - q)) < z * math.sqrt(q * (1 - q) * (1 / drawn + 1 / pool))
    # The threshold against fresh draws of the plain law: P(abs(F*) >= t) = 1 - q.
    fresh = tgt(data.sample_sequences(k, L, d, seed=3)).abs()
    tolerance = z * math.sqrt(q * (1 - q) * (1 / k + 1 / pool))
    assert abs(float((fresh >= t).double().mean()) - (1 - q)) < tolerance
    # Reproducible (sgd always draws DATA_CHUNK samples at a time), and sgd runs on it.
    torch.testing.assert_close(src.sample(4000, seed=1)[0], X, rtol=0, atol=0)
    res = train.sgd(src, m=8, steps=30, c=1.0, test_n=20, device="cpu")
    assert res.test_error is not None
    with pytest.raises(ValueError, match="quantile must lie in"):
        data.population_margin(tgt, quantile=1.0)
    with pytest.raises(ValueError, match="quantile must be > 0"):
        data.margin_threshold(tgt, 0.0)
    with pytest.raises(ValueError, match="threshold must be > 0"):
        data.rejection_sample(tgt, 0.0, 3, make_generator(0, "cpu"))
    # One term per position, each at most sin(1) in absolute value: abs(F*) <= L sin(1) < 4 L.
    with pytest.raises(ValueError, match="above sup"):
        data.rejection_sample(tgt, 4.0 * L, 2, make_generator(0, "cpu"))
    with pytest.raises(TypeError, match="target must be"):
        data.population_margin("sin", quantile=0.2)


def test_population_labelling_reads_prefixes():
    L, d = 3, 2
    # Target l of length l, evaluated on the prefix x_1..x_l.
    prefixes = [concepts.random_additive_target(l, d, series.sin(), seed=l) for l in range(1, L + 1)]
    src = data.population_labelling(prefixes)
    X, y = src.sample(50, seed=1)
    assert y.shape == (50, L)
    for l in range(1, L + 1):
        torch.testing.assert_close(y[:, l - 1], torch.sign(prefixes[l - 1](X[:, :l])))
    future = concepts.random_additive_target(L, d, series.sin(), positions=[3], seed=0)
    with pytest.raises(ValueError, match="only read X_1..X_l"):
        data.population_labelling([future, future, future])
    with pytest.raises(ValueError, match="must have L = l"):
        data.population_labelling([prefixes[1], prefixes[1], prefixes[2]])


def test_finite_source_samples_the_set_with_replacement():
    labelled = data.labelled_data(concepts.random_additive_target(3, 2, series.sin(), seed=0), 10, seed=1)
    src = data.finite(labelled)
    assert src.kind == "finite" and src.n == 10 and src.test is not None
    X, y = src.sample(500, seed=2)
    rows = {tuple(r.tolist()) for r in labelled.X.reshape(10, -1)}
    assert {tuple(r.tolist()) for r in X.reshape(500, -1)} == rows  # all 10 drawn, nothing else
    res = train.sgd(src, m=8, steps=30, c=1.0, test_n=20, device="cpu")
    assert res.test_error is not None
    bare = data.finite((labelled.X, labelled.y))
    assert bare.test is None
    assert train.sgd(bare, m=8, steps=5, c=1.0, device="cpu").test_error is None
    with pytest.raises(ValueError, match=r"\{-1, \+1\}"):
        data.finite((labelled.X, labelled.y * 2))
    with pytest.raises(ValueError, match="shape"):
        data.finite((labelled.X, labelled.y[:5]))
    bad = labelled.X.clone()
    bad[1, 1, 1] = math.inf
    with pytest.raises(ValueError, match="X contains NaN or infinite"):
        data.finite((bad, labelled.y))


def test_a_nan_margin_is_a_mistake():
    # A diverged run (W non-finite) predicts NaN: it is wrong, not right.
    z = torch.tensor([math.nan, -1.0, -0.0, 0.0, 2.0], dtype=F64)
    assert train._mistakes(z).tolist() == [True, True, False, False, False]


# ----------------------------------------------------------------------------------------------
# The NTK baseline.


def test_ntk_predictor_equals_a_direct_solve():
    Xtr, Xte = unit_sequences(12, 3, 2, seed=0), unit_sequences(5, 3, 2, seed=1)
    y = torch.sign(torch.randn(12, generator=make_generator(2, "cpu"), dtype=F64))
    out = baselines.ntk_predictor(Xtr, y, Xte, init="algorithm1")
    H = kernels.ntk(torch.cat([Xtr, Xte]), init="algorithm1")
    alpha = torch.linalg.solve(H[:12, :12], y)
    torch.testing.assert_close(out.predictions, H[12:, :12] @ alpha, rtol=1e-9, atol=1e-12)
    assert out.rkhs_norm == pytest.approx(math.sqrt(float(y @ alpha)), rel=1e-9)
    assert out.condition == pytest.approx(float(torch.linalg.cond(H[:12, :12])), rel=1e-6)
    # Interpolation: at the training inputs the predictor returns the labels.
    train_fit = baselines.ntk_predictor(Xtr, y, Xtr)
    torch.testing.assert_close(train_fit.predictions, y, rtol=1e-8, atol=1e-8)
    assert train_fit.test_error is None
    assert baselines.ntk_predictor(Xtr, y, Xtr, y_test=y).test_error == 0.0
    ridged = baselines.ntk_predictor(Xtr, y, Xte, ridge=0.5)
    alpha_r = torch.linalg.solve(H[:12, :12] + 0.5 * torch.eye(12, dtype=F64), y)
    torch.testing.assert_close(ridged.predictions, H[12:, :12] @ alpha_r, rtol=1e-9, atol=1e-12)


def test_ntk_predictor_singular_without_ridge():
    Xtr = unit_sequences(6, 3, 2, seed=0)
    Xtr = torch.cat([Xtr, Xtr[:2]])  # duplicate inputs: H(X, X) is singular
    y = torch.tensor([1, -1, 1, 1, -1, -1, 1, -1], dtype=F64)
    with pytest.raises(ValueError, match="pass a ridge > 0"):
        baselines.ntk_predictor(Xtr, y, Xtr[:3])
    out = baselines.ntk_predictor(Xtr, y, Xtr[:3], ridge=1e-3)
    assert bool(torch.isfinite(out.predictions).all()) and math.isfinite(out.rkhs_norm)


# ----------------------------------------------------------------------------------------------
# Input checking.


def test_bad_inputs_give_clear_errors():
    src = tiny_source()
    ok = dict(m=4, steps=3, eta=0.1, device="cpu")
    with pytest.raises(ValueError, match="exactly one of eta and c"):
        train.sgd(src, m=4, steps=3)
    with pytest.raises(ValueError, match="exactly one of eta and c"):
        train.sgd(src, m=4, steps=3, eta=0.1, c=1.0)
    with pytest.raises(ValueError, match="eta must be > 0"):
        train.sgd(src, **{**ok, "eta": 0.0})
    with pytest.raises(ValueError, match="c must be > 0"):
        train.sgd(src, m=4, steps=3, c=-1.0)
    with pytest.raises(ValueError, match="eta must be finite"):
        train.sgd(src, **{**ok, "eta": math.nan})
    for name in ("m", "steps", "runs"):
        with pytest.raises(ValueError, match=f"{name} must be >= 1"):
            train.sgd(src, **{**ok, name: 0})
    with pytest.raises(TypeError, match="m must be an int"):
        train.sgd(src, **{**ok, "m": 4.0})
    with pytest.raises(ValueError, match="unknown loss"):
        train.sgd(src, **ok, loss="hinge")
    with pytest.raises(ValueError, match="unknown init"):
        train.sgd(src, **ok, init="xavier")
    with pytest.raises(ValueError, match="per-position"):
        train.sgd(src, **ok, loss="labelling")
    with pytest.raises(TypeError, match="source must be a DataSource"):
        train.sgd("data", **ok)
    with pytest.raises(TypeError, match="target must be"):
        data.population("sin")

    p = model.init_params(5, 2, 3, init="algorithm1", generator=make_generator(0, "cpu"))
    X = unit_sequences(4, 3, 2, seed=0)
    y = torch.tensor([1.0, -1.0, 1.0, 1.0], dtype=F64)
    with pytest.raises(ValueError, match=r"y must hold labels in \{-1, \+1\}"):
        train.gradient(p, X, torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=F64))
    with pytest.raises(ValueError, match="y must have shape"):
        train.gradient(p, X, y[:3])
    with pytest.raises(ValueError, match="y must have shape"):
        train.gradient(p, X, y, loss="labelling")
    with pytest.raises(ValueError, match="d = 3"):
        train.gradient(p, unit_sequences(4, 3, 3, seed=0), y)
    with pytest.raises(ValueError, match="sequence length 4"):
        train.gradient(p, unit_sequences(4, 4, 2, seed=0), y)
    bad = X.clone()
    bad[0, 0, 0] = math.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        train.gradient(p, bad, y)
    with pytest.raises(ValueError, match="unknown loss"):
        train.gradient(p, X, y, loss="squared")
    with pytest.raises(TypeError, match="params must be RNNParams"):
        train.gradient(p.W, X, y)
    with pytest.raises(ValueError, match="X_test has sequence length"):
        baselines.ntk_predictor(X, y, unit_sequences(2, 4, 2, seed=1))
    with pytest.raises(ValueError, match="ridge must be >= 0"):
        baselines.ntk_predictor(X, y, X, ridge=-1.0)
    with pytest.raises(ValueError, match="y_train must have shape"):
        baselines.ntk_predictor(X, y[:2], X)


# ------------------------------------------------- function-space step, literal loop, kernel SGD


def test_ntk_diagonal_closed_form():
    """Hbar = sum_l F^l_ii K^{l-1}_ii = L/2 + a L (L-1)/4 for unit-norm inputs."""
    for L in (1, 4, 9):
        for init, a in (("algorithm1", 1.0), ("paper", L**-3)):
            expected = L / 2 + a * L * (L - 1) / 4
            assert baselines.ntk_diagonal(L, 3, init=init) == pytest.approx(expected, rel=1e-12)


def test_algorithm1_loop_equals_batched_sgd():
    """The literal one-sample loop (used where sgd does not draw the network) and train.sgd agree on
    the same weights and stream."""
    source = data.population(concepts.random_additive_target(4, 3, series.sin(), seed=1))
    res = train.sgd(source, m=12, steps=37, eta=0.3, runs=1, seed=5, test_n=0, dtype=torch.float64,
                    device="cpu")
    p0, X, y = train.run_stream(source, m=12, steps=37, seed=5, run=0, dtype=torch.float64, device="cpu")
    p = train.algorithm1_loop(p0, X, y, 0.3)
    torch.testing.assert_close(p.W, res.W[0], rtol=1e-12, atol=1e-12)


def test_train_on_stream_equals_the_literal_loop():
    """The batched trainer on a given stream (used where sgd does not draw the network, e.g. with
    B ~ N(0, 1)) equals the literal loop of gradient() steps, for a network sgd cannot draw."""
    p = model.init_params(10, 3, 4, init="algorithm1", generator=make_generator(2, "cpu"))
    p = p.replace(B=p.B * math.sqrt(10))  # B ~ N(0, 1)
    X = unit_sequences(40, 4, 3, seed=5)
    y = torch.sign(torch.randn(40, generator=make_generator(6, "cpu"), dtype=F64))
    a = train.train_on_stream(p, X, y, 0.05)
    b = train.algorithm1_loop(p, X, y, 0.05)
    torch.testing.assert_close(a.W, b.W, rtol=1e-12, atol=1e-13)
    assert not torch.equal(a.W, p.W) and torch.equal(a.B, p.B)
    with pytest.raises(ValueError, match="eta"):
        train.train_on_stream(p, X, y, 0.0)
    with pytest.raises(ValueError, match="sequence length"):
        train.train_on_stream(p, unit_sequences(5, 3, 3, seed=0), y[:5], 0.1)
    with pytest.raises(ValueError, match="labels"):
        train.train_on_stream(p, X, y * 2, 0.1)
    with pytest.raises(TypeError, match="params must be RNNParams"):
        train.train_on_stream(p.W, X, y, 0.1)


def test_final_margins_give_the_logged_test_error():
    """final_margins on sgd's held-out sample: the fraction of negative (or NaN) margins is the last
    logged test error of every run, and each margin is y f(W_r, x) by model.forward."""
    src = tiny_source(L=3, d=2)
    res = train.sgd(src, m=12, steps=40, c=2.0, runs=3, seed=4, test_n=64, device="cpu")
    Xt, yt = train.held_out_sample(src, 64, seed=4)
    z = train.final_margins(res, Xt, yt)
    assert z.shape == (3, 64)
    torch.testing.assert_close(((z < 0) | z.isnan()).double().mean(1), res.test_error[:, -1], rtol=0, atol=0)
    for r in range(3):
        torch.testing.assert_close(z[r], yt * model.forward(res.params(r), Xt), rtol=1e-12, atol=1e-12)
    with pytest.raises(TypeError, match="TrainResult"):
        train.final_margins("run", Xt, yt)
    with pytest.raises(ValueError, match="labels"):
        train.final_margins(res, Xt, yt * 3)
    lab = train.sgd(labelling_source(L=3, d=2), m=8, steps=5, c=1.0, loss="labelling", test_n=0, device="cpu")
    with pytest.raises(ValueError, match="loss='final'"):
        train.final_margins(lab, Xt, yt)


def test_kernel_sgd_is_the_linearised_network():
    """With the empirical NTK of W_0, kernel_sgd equals SGD on f_0 + <grad f_0, W - W_0> (Jacobians by
    autograd), outputs and ||W - W_0||_F."""
    L, d, m, n, k = 3, 2, 7, 9, 4
    p0 = model.init_params(m, d, L, init="algorithm1", generator=make_generator(3, "cpu"))
    X = data.sample_sequences(n + k, L, d, seed=4)
    y = torch.tensor([1.0, -1, -1, 1, 1, -1, 1, 1, -1], dtype=torch.float64)

    def jac(x):
        W = p0.W.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(model.forward(p0.replace(W=W), x[None])[0], W)
        return g

    G = torch.stack([jac(x) for x in X]).reshape(n + k, -1)
    f0 = model.forward(p0, X)
    eta = 0.7
    w = torch.zeros(m * m, dtype=torch.float64)
    for t in range(n):
        z = y[t] * (f0[t] + G[t] @ w)
        w += eta * y[t] * torch.sigmoid(-z) * G[t]
    H = G @ G.T
    a, f = baselines.kernel_sgd(H[:n, :n], H[n:, :n], y, eta, f0[:n], f0[n:])
    torch.testing.assert_close(f, f0[n:] + G[n:] @ w, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close((a @ H[:n, :n] @ a).sqrt(), w.norm(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("loss", ["final", "labelling"])
def test_the_batched_step_equals_separate_steps(loss):
    """The batched (R, m, m) step that CUDA runs -- forced on the CPU here, where sgd otherwise runs
    the runs one after the other -- equals R single-run steps on the same weights and samples."""
    from rnnbook.train import _Trainer

    source = labelling_source(L=4, d=3) if loss == "labelling" else tiny_source(L=4, d=3)
    R, m, steps = 3, 9, 25
    streams = [train.run_stream(source, m=m, steps=steps, seed=7, run=r, dtype=F64, device="cpu")
               for r in range(R)]

    def stacked(i, name=None):
        return torch.stack([getattr(s[0], name) if name else s[i] for s in streams])

    A, B, M0 = stacked(0, "A"), stacked(0, "B"), stacked(0, "M0")
    X, y = stacked(1), stacked(2).reshape(R, steps, -1)
    Ws = {}
    for split in (True, False):
        W = stacked(0, "W").clone()
        trainer = _Trainer(W, A, B, M0, 0.4, loss == "labelling", split=split)
        z = torch.empty_like(y)
        for t in range(steps):
            trainer.step(X[:, t], y[:, t, :, None], -y[:, t, :, None], z[:, t, :, None])
        Ws[split] = (W, z)
    torch.testing.assert_close(Ws[False][0], Ws[True][0], rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(Ws[False][1], Ws[True][1], rtol=1e-12, atol=1e-13)
    assert not torch.equal(Ws[True][0], stacked(0, "W"))  # the step did something


def test_kernel_sgd_and_the_loop_reject_bad_input():
    H = torch.eye(3, dtype=F64)
    y = torch.tensor([1.0, -1.0, 1.0], dtype=F64)
    with pytest.raises(ValueError, match="eta"):
        baselines.kernel_sgd(H, H[:2], y, 0.0, torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="square"):
        baselines.kernel_sgd(H[:2], H[:2], y, 0.1, torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="labels"):
        baselines.kernel_sgd(H, H[:2], y * 2, 0.1, torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="H_test"):
        baselines.kernel_sgd(H, H[:2, :2], y, 0.1, torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="f0_stream"):
        baselines.kernel_sgd(H, H[:2], y, 0.1, torch.zeros(4), torch.zeros(2))
    p0 = model.init_params(4, 2, 3, generator=make_generator(0, "cpu"))
    with pytest.raises(ValueError, match="eta"):
        train.algorithm1_loop(p0, torch.ones(2, 3, 2, dtype=F64), torch.ones(2, dtype=F64), -1.0)


def test_gradient_of_weights_that_require_grad():
    p = model.init_params(6, 2, 3, init="algorithm1", generator=make_generator(0, "cpu"))
    X = torch.randn(4, 3, 2, generator=make_generator(1, "cpu"), dtype=torch.float64)
    y = torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
    g = p.replace(W=p.W.clone().requires_grad_(True))
    torch.testing.assert_close(train.gradient(g, X, y), train.gradient(p, X, y), rtol=0, atol=0)
