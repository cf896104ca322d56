"""Property-based tests (Hypothesis): statements that hold for every input, tried on inputs
Hypothesis generates -- including duplicated sequences, near-duplicates 1e-12..1e-6 apart, shared
prefixes and zero steps, where the kernels' recursions are most delicate.

Derandomised by the "ci" profile of conftest.py, so every run tries the same examples.

Rounding.  The kernels are computed entry by entry; ``kernels.NEAR_ONE``'s note bounds the error
of Sigma, F and H by 1e-13 per layer relative to sqrt(M_ii M_jj), the forward kernel errs less.
An entrywise perturbation with abs(E_ij) <= e sqrt(M_ii M_jj) has spectral norm at most e tr(M)
(it is dominated by e r r^T with r_i = sqrt(M_ii)), so a kernel that is PSD in exact arithmetic
has a computed smallest eigenvalue >= -(e tr(M) + t), t the eigensolver's own rounding
(``linalg.psd_tolerance``).  That is the tolerance below, with e = L * ENTRY_ERROR.
"""

from __future__ import annotations

import pytest

pytest.importorskip("hypothesis")

import torch  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from rnnbook import concepts, data, empirical, kernels, linalg, model, series, train  # noqa: E402

f64 = torch.float64
ENTRY_ERROR = 1e-13  # per layer, relative to sqrt(M_ii M_jj): see the module docstring
INITS = sorted(model.INITS)


@st.composite
def sequences(draw, max_n=6, max_L=5, max_d=3):
    """A batch X (n, L, d) of bounded entries, with some rows made duplicates, near-duplicates,
    shared prefixes of others, or zero steps."""
    n = draw(st.integers(1, max_n))
    L = draw(st.integers(1, max_L))
    d = draw(st.integers(1, max_d))
    entries = st.floats(-3.0, 3.0, allow_nan=False, allow_subnormal=False)
    X = torch.tensor(draw(st.lists(entries, min_size=n * L * d, max_size=n * L * d)),
                     dtype=f64).reshape(n, L, d)
    for _ in range(draw(st.integers(0, n))):
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        kind = draw(st.sampled_from(["same", "near", "prefix", "zero"]))
        if kind == "same":
            X[i] = X[j]
        elif kind == "near":
            X[i] = X[j] + 10.0 ** draw(st.integers(-12, -6)) * torch.cos(torch.arange(L * d, dtype=f64)
                                                                        ).reshape(L, d)
        elif kind == "prefix":
            t = draw(st.integers(1, L))
            X[i, :t] = X[j, :t]
        else:
            X[i, draw(st.integers(0, L - 1))] = 0.0
    return X


def _scale(M):
    r = torch.sqrt(torch.diagonal(M, dim1=-2, dim2=-1).clamp_min(0))
    return r[..., :, None] * r[..., None, :]


def _close(A, B, L):
    """Entrywise within twice the rounding bound of either computation."""
    tol = 2 * L * ENTRY_ERROR * torch.maximum(_scale(A), _scale(B))
    assert bool(((A - B).abs() <= tol).all()), float(((A - B).abs() / tol.clamp_min(1e-300)).max())


def _assert_psd(M, L):
    check = linalg.psd_check(M)
    e = L * ENTRY_ERROR * float(torch.diagonal(M).sum())
    assert check.min_eigenvalue >= -(e + check.tolerance), (check, e)


@given(X=sequences(), init=st.sampled_from(INITS))
def test_kernels_are_symmetric_and_bounded(X, init):
    rho = kernels.forward_correlation(X, init=init)
    K = kernels.forward_kernel(X, init=init)
    F = kernels.backward_kernel(X, init=init)
    H = kernels.ntk(X, init=init)
    for M in (rho, K, F, H):
        assert torch.equal(M, M.transpose(-1, -2))
    assert float(rho.abs().max()) <= 1.0  # |rho| <= 1
    assert float(F.min()) >= 0.0 and float(F.max()) <= 0.5  # 0 <= F^l <= 1/2 (eq. 28: Sigma in [0, 1])
    assert bool((torch.diagonal(F, dim1=1, dim2=2) == 0.5).all())  # F^l_ii = 1/2 exactly
    diag = kernels.forward_diagonal(X, init=init)
    torch.testing.assert_close(torch.diagonal(K, dim1=1, dim2=2), diag, rtol=4e-16, atol=0)


@given(X=sequences(), init=st.sampled_from(INITS))
def test_kernels_are_psd_to_rounding(X, init):
    L = X.shape[1]
    for l, Kl in enumerate(kernels.forward_kernel(X, init=init)):
        _assert_psd(Kl, max(l, 1))
    for Fl in kernels.backward_kernel(X, init=init):
        _assert_psd(Fl, L)
    _assert_psd(kernels.ntk(X, init=init), L)


@given(data_=st.data(), X=sequences(), init=st.sampled_from(INITS))
def test_kernels_are_equivariant_and_restrict_to_sub_batches(data_, X, init):
    n, L, _ = X.shape
    perm = torch.tensor(data_.draw(st.permutations(range(n))))
    sub = torch.tensor(data_.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True)))
    for kernel in (kernels.forward_kernel, kernels.backward_kernel):
        full = kernel(X, init=init)
        _close(kernel(X[perm], init=init), full[:, perm][:, :, perm], L)
        _close(kernel(X[sub], init=init), full[:, sub][:, :, sub], L)
    H = kernels.ntk(X, init=init)
    _close(kernels.ntk(X[perm], init=init), H[perm][:, perm], L)
    _close(kernels.ntk(X[sub], init=init), H[sub][:, sub], L)


@given(data_=st.data(), X=sequences(), init=st.sampled_from(INITS), h0=st.sampled_from(model.H0_CONVENTIONS),
       output=st.sampled_from(model.OUTPUTS))
def test_every_convention_gives_symmetric_psd_equivariant_kernels(data_, X, init, h0, output):
    """The literature's initial states and outputs (test_conventions.py): K^l, F^l and the NTK of
    every weight exactly symmetric, finite, 0 <= F <= 1/2, PSD to rounding (the mean output sums
    L^2 blocks: L^2 in the rounding allowance), and permutation-equivariant -- also for
    "independent", whose K^0 = I is by row -- and equal on sub-batches.  The drawn sequences
    include zero steps, so under "zero" some states are exactly 0 (rho = -1 by convention)."""
    n, L, _ = X.shape
    K = kernels.forward_kernel(X, init=init, h0=h0)
    F = kernels.backward_kernel(X, init=init, h0=h0)
    H = kernels.ntk(X, init=init, h0=h0, wrt="all", output=output)
    for M in (K, F, H):
        assert torch.equal(M, M.transpose(-1, -2)) and bool(torch.isfinite(M).all())
    assert float(F.min()) >= 0.0 and float(F.max()) <= 0.5
    for l, Kl in enumerate(K):
        _assert_psd(Kl, max(l, 1))
    terms = L * L if output == "mean" else L
    _assert_psd(H, terms)
    perm = torch.tensor(data_.draw(st.permutations(range(n))))
    sub = torch.tensor(data_.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True)))
    _close(kernels.ntk(X[perm], init=init, h0=h0, wrt="all", output=output), H[perm][:, perm], terms)
    _close(kernels.ntk(X[sub], init=init, h0=h0, wrt="all", output=output), H[sub][:, sub], terms)
    _close(kernels.forward_kernel(X[perm], init=init, h0=h0), K[:, perm][:, :, perm], L)


@given(X=sequences(), m=st.integers(1, 24), seed=st.integers(0, 2**32), init=st.sampled_from(INITS))
def test_empirical_ntk_is_a_symmetric_psd_gram_matrix(X, m, seed, init):
    n, L, d = X.shape
    p = model.init_params(m, d, L, init=init, generator=torch.Generator().manual_seed(seed))
    H = empirical.empirical_ntk(p, X)
    assert torch.equal(H, H.T)
    # Forward error of the two-Gram formula: each <delta, delta'> and <h, h'> is a length-m dot
    # product, and L^2 of their products are summed, so abs(E_ij) <= (2m + L^2) eps a_i a_j with
    # a_i = sum_l ||delta_l(x_i)|| ||h_{l-1}(x_i)||, and ||E||_2 <= (2m + L^2) eps ||a||^2.
    delta = empirical.backward_vectors(p, X)
    h = empirical.hidden_states(p, X)[:L]
    a = (delta.norm(dim=-1) * h.norm(dim=-1)).sum(0)
    eps = torch.finfo(f64).eps
    check = linalg.psd_check(H)
    assert check.min_eigenvalue >= -((2 * m + L * L) * eps * float(a @ a) + check.tolerance), check


@given(m=st.integers(2, 12), L=st.integers(1, 4), d=st.integers(1, 3), runs=st.integers(2, 4),
       steps=st.integers(1, 40), c=st.floats(0.1, 4.0), seed=st.integers(0, 2**32),
       init=st.sampled_from(INITS))
def test_batched_training_runs_equal_separate_runs(m, L, d, runs, steps, c, seed, init):
    target = concepts.random_additive_target(L, d, series.exp(), seed=seed)
    source = data.population(target)
    kw = dict(m=m, steps=steps, c=c, init=init, seed=seed, test_n=0, log_every=max(1, steps // 3))
    batched = train.sgd(source, runs=runs, **kw)
    for r in range(runs):
        single = train.sgd(source, runs=1, first_run=r, **kw)
        # The same weights, samples and operations: run r's numbers do not depend on the runs
        # batched with it, to the last bit.
        assert torch.equal(single.W[0], batched.W[r])
        eq = dict(atol=0, equal_nan=True)  # NaN at k = 0 on both sides
        torch.testing.assert_close(single.online_error[0], batched.online_error[r], rtol=0, **eq)
        # Logged sums are reduced over a batch of runs or over one: the order of the additions may
        # differ, by at most (terms) eps relative -- steps losses, m^2 squares in ||W - W_0||.
        eps = torch.finfo(f64).eps
        torch.testing.assert_close(single.train_loss[0], batched.train_loss[r], rtol=steps * eps, **eq)
        torch.testing.assert_close(single.w_distance[0], batched.w_distance[r], rtol=m * m * eps, **eq)


# ------------------------------------------------------------------------------------------------
# The sweep store under kills, resumes and concurrent writers.

# A toy sweep of UNITS units run by separate processes; each unit logs "k pid" when it starts
# (O_APPEND: whole lines from concurrent writers) and takes 0.15 s, so kills land mid-unit.
UNITS = 6
STORE_TOY = """
import json, os, sys, time
from rnnbook import engine
from rnnbook.engine import Sweep

LOG, OUT = sys.argv[1], sys.argv[2]

def run_unit(config, unit, device):
    with open(LOG, "a") as fh:
        fh.write(f"{unit['k']} {os.getpid()}\\n")
    time.sleep(0.15)
    return {"k": unit["k"], "square": unit["k"] ** 2}

toy = Sweep("toy", "a toy sweep", lambda p: {"n": UNITS}, lambda p: [{"k": k} for k in range(UNITS)],
            run_unit)
res = engine.run(toy, profile="quick", device="cpu", directory=OUT, use_committed=False, poll_seconds=0.05)
print(json.dumps({k: r["value"] for k, r in sorted(res.records.items())}))
""".replace("UNITS", str(UNITS))


def _started(log):
    words = log.read_text().split() if log.exists() else []
    return [(int(k), int(pid)) for k, pid in zip(words[::2], words[1::2], strict=True)]


def _episode(script, log, out, kill_after):
    """Start one worker per entry of ``kill_after`` at once; SIGKILL a worker once it has started
    that many units (None: let it finish).  Returns the pids killed."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    procs = [subprocess.Popen([sys.executable, str(script), str(log), str(out)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for _ in kill_after]
    killed = set()
    deadline = time.time() + 120
    while any(p.poll() is None for p in procs):
        assert time.time() < deadline, "workers did not finish"
        counts = {}
        for _, pid in _started(log):
            counts[pid] = counts.get(pid, 0) + 1
        for p, limit in zip(procs, kill_after, strict=True):
            if limit is not None and p.poll() is None and counts.get(p.pid, 0) >= limit:
                os.kill(p.pid, signal.SIGKILL)
                killed.add(p.pid)
        time.sleep(0.02)
    for p in procs:
        err = p.stderr.read()
        assert p.pid in killed or p.returncode == 0, err
    return killed


@given(episodes=st.lists(st.lists(st.one_of(st.none(), st.integers(1, UNITS)), min_size=1, max_size=3),
                         min_size=1, max_size=2))
@settings(max_examples=6)
def test_the_store_loses_nothing_under_kills_resumes_and_concurrent_writers(episodes):
    import json
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        script, log, out = tmp / "toy.py", tmp / "log", tmp / "out"
        script.write_text(STORE_TOY)
        killed = set()
        for kill_after in [*episodes, [None]]:  # then one worker that resumes to the end
            killed |= _episode(script, log, out, kill_after)
        stored = json.loads((out / "toy.quick.json").read_text())
        assert len(stored["records"]) == UNITS
        values = {r["unit"]["k"]: r["value"] for r in stored["records"].values()}
        assert values == {k: {"k": k, "square": k * k} for k in range(UNITS)}  # nothing lost
        assert stored["claims"] == {}
        # A unit is computed again only after everyone who started it before was killed: no
        # finished unit is recomputed and no two live workers compute the same one.
        starters = {}
        for k, pid in _started(log):
            starters.setdefault(k, []).append(pid)
        for k, pids in starters.items():
            assert set(pids[:-1]) <= killed, (k, pids, killed)
