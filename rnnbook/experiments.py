"""The book's experiments, registered by name: the heavy computations of the chapters, each a
function of the profile only, so that ``python -m rnnbook sweep NAME --profile paper`` on a GPU
computes exactly what the chapter would.  The engine that runs, stores and resumes them is
:mod:`rnnbook.engine`; a chapter calls ``experiments.best(name, profile=..., device=...)``.

Layer 10 of the package, the top of the computations: it imports every layer below."""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import torch

from . import baselines, concepts, data, empirical, engine, kernels, model, series, train, verdicts
from .device import make_generator
from .engine import Sweep
from .linalg import QuadraticForm, inverse_quadratic_form, nested_quadratic_forms
from .model import INITS
from .runtime import one_thread

__all__ = ["SWEEPS", "register", "get_sweep", "run", "committed", "best", "SEED", "VALIDATION_SEED",
           "FORWARD_KERNEL_MC", "BACKWARD_KERNEL_MC", "SGD_STEPSIZE", "SGD_LENGTH", "SGD_SPAN",
           "SGD_LABELLING", "SGD_LAZY", "COMPLEXITY_FORMS", "form_record", "complexity_targets", "LAWS",
           "B_SCALINGS", "paired_errors", "length_source",
           "span_target", "single_position_mistakes", "single_position_error", "labelling_targets",
           "position_errors", "lazy_data", "final_errors", "learned_record",
           "grid_subset_text", "per_length_text", "metric_curves", "lazy_summary"]

# ----------------------------------------------------------------------------------------------
# The registry.

SWEEPS: dict[str, Sweep] = {}


def register(sweep: Sweep) -> Sweep:
    """Add ``sweep`` to the registry under its name (a name is registered once)."""
    if not isinstance(sweep, Sweep):
        raise TypeError(f"sweep must be a Sweep, got {type(sweep).__name__}")
    if sweep.name in SWEEPS:
        raise ValueError(f"a sweep named {sweep.name!r} is already registered")
    SWEEPS[sweep.name] = sweep
    return sweep


def get_sweep(name: str) -> Sweep:
    """The registered sweep called ``name``."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    try:
        return SWEEPS[name]
    except KeyError:
        raise ValueError(f"unknown sweep {name!r}; valid: {', '.join(sorted(SWEEPS))}") from None

def run(name: str, **kwargs) -> engine.SweepResult:
    """Run (or resume) the registered sweep ``name``: :func:`rnnbook.engine.run` of
    ``get_sweep(name)`` (same keyword arguments: profile, device, directory, use_committed,
    progress)."""
    return engine.run(get_sweep(name), **kwargs)


def committed(name: str, profile) -> engine.SweepResult | None:
    """:func:`rnnbook.engine.committed` of the registered sweep ``name``."""
    return engine.committed(get_sweep(name), profile)


def best(name: str, **kwargs) -> engine.SweepResult:
    """What a chapter shows for the registered sweep ``name``: :func:`rnnbook.engine.best`."""
    return engine.best(get_sweep(name), **kwargs)


# The chapters' seed; the sweep's networks are seeded from it.
SEED = 2021
#: The seed of the stepsize sweep's validation sample (held_out_sample draws it apart from the
#: test sample of seed SEED and from every run's stream).
VALIDATION_SEED = SEED + 1


def _fk_config(profile) -> dict:
    # "version": bump whenever the computation changes, so stored results are not reused.
    return {"version": 1, "n": profile.fk_n, "L": profile.fk_L, "d": profile.fk_d, "c_min": 0.5, "c_max": 1.5,
            "seeds": profile.fk_seeds, "input_seed": SEED, "metric": "rms"}


def _fk_units(profile) -> list[dict]:
    return [{"init": init, "m": m} for init in INITS for m in profile.fk_widths]


def _mc_inputs(config: dict, unit: dict, device: torch.device):
    """The sweep's inputs (drawn on the CPU, so identical on every device) and its networks' first
    seed, distinct per initialisation."""
    X = data.sample_sequences(config["n"], config["L"], config["d"], c_min=config["c_min"],
                                  c_max=config["c_max"], seed=config["input_seed"], device="cpu").to(device)
    return X, config["input_seed"] + 100_000 * (sorted(INITS).index(unit["init"]) + 1)


def _fk_run(config: dict, unit: dict, device: torch.device):
    X, seed = _mc_inputs(config, unit, device)
    E = empirical.forward_kernel_errors(X, [unit["m"]], config["seeds"], init=unit["init"], seed=seed,
                                        metric=config["metric"], device=device)
    return E[0]  # (seeds, L+1)


FORWARD_KERNEL_MC = register(Sweep(
    name="forward_kernel_mc",
    description="Theorem 5: RMS normalised error of <h_l(x_i), h_l(x_j)> against K^l over pairs, "
                "for every layer, per width, initialisation and random network",
    config=_fk_config,
    units=_fk_units,
    run_unit=_fk_run,
))


def _bk_config(profile) -> dict:
    config = _fk_config(profile)
    del config["metric"]
    return config


def _bk_run(config: dict, unit: dict, device: torch.device):
    X, seed = _mc_inputs(config, unit, device)
    # Networks seeded apart from the forward sweep's, so the two are independent experiments.
    out = empirical.backward_kernel_errors(X, [unit["m"]], config["seeds"], init=unit["init"],
                                           seed=seed + 50_000, device=device)
    return {key: value[0] for key, value in out.items()}


BACKWARD_KERNEL_MC = register(Sweep(
    name="backward_kernel_mc",
    description="Theorem 6 and eq. (23): RMS normalised error of <delta_l(x_i), delta_l(x_j)> against "
                "F^l, RMS of the l != l' correlations by lag, and the relative Frobenius error of the "
                "empirical NTK (against sum F^l K^{l-1} and against eq. (23) read literally), per width, "
                "initialisation and random network",
    config=_bk_config,
    units=_fk_units,
    run_unit=_bk_run,
))


# ----------------------------------------------------------------------------------------------
# Algorithm 1 (the SGD chapter).  Every run draws its weights and data through rnnbook.train from
# seeds derived from SEED; float32 everywhere (the GPU default), so the quick profile on a CPU and
# the paper profile on a GPU compute the same thing at different sizes.

_SGD_DTYPE = "float32"


def _sin_additive(L: int, d: int):
    return concepts.random_additive_target(L, d, series.sin(), seed=SEED)


def _curves(res, majority: float | None = None) -> dict:
    out = {"steps": res.steps, "test_error": res.test_error, "online_error": res.online_error,
           "w_distance": res.w_distance, "diverged": res.diverged, "eta": res.eta, "c": res.c,
           "seconds": res.seconds}
    if majority is not None:
        out["majority"] = majority
    return out


def _final_mistakes(res, source, config) -> torch.Tensor:
    """Per input of the held-out sample that sgd scored (``held_out_sample(source, test_n,
    seed=SEED)``), how many of the R runs' final networks err on it (a NaN output errs): ints in
    0..R, shape (test_n,).  Kept so that two settings measured on the same test inputs can be
    compared as paired samples (:func:`paired_errors`)."""
    X, y = train.held_out_sample(source, config["test_n"], seed=SEED)
    z = train.final_margins(res, X, y)
    return ((z < 0) | torch.isnan(z)).sum(0).to(torch.int64)


def paired_errors(first: dict, second: dict | None = None) -> tuple[float, float, float]:
    """Two final test errors measured on the SAME test inputs, as a paired difference:
    ``(e1, se, e2)``, e1 and e2 the mean final test errors over runs of two sweep records (their
    ``test_error``: curves (R, K), the last column taken, or final errors (R,))
    (``second=None``: the record's best single-position predictor, ``single_mistakes``) and se the
    standard error of e1 - e2.  With R1, R2 runs and n shared test inputs,

        se^2 = var_r(e1_r)/R1 + var_r(e2_r)/R2 + var_i(D_i)/n,
        D_i = (fraction of the first's runs wrong on input i) - (the same for the second),

    the spread between runs plus the test sample's noise of the paired difference (the split of
    :func:`rnnbook.verdicts.error_estimate`, with the binomial term replaced by the variance of the
    paired differences, which accounts for the correlation between the two errors on shared
    inputs; a predictor without runs, like the single position, has no run term)."""
    def final(value):
        e = torch.as_tensor(value["test_error"], dtype=torch.float64)
        e = e[:, -1] if e.dim() == 2 else e  # curves (R, K) or final errors (R,)
        counts = torch.as_tensor(value["test_mistakes"], dtype=torch.float64)
        if abs(float(counts.sum()) / (e.numel() * counts.numel()) - float(e.mean())) > 1e-9:
            raise ValueError("test_mistakes do not add up to the logged final test errors")
        return e, counts / e.numel()

    e1, c1 = final(first)
    var = float(e1.var(unbiased=True)) / e1.numel() if e1.numel() > 1 else 0.0
    if second is None:
        c2 = torch.as_tensor(first["single_mistakes"], dtype=torch.float64)
        m2 = float(c2.mean())
    else:
        e2, c2 = final(second)
        var += float(e2.var(unbiased=True)) / e2.numel() if e2.numel() > 1 else 0.0
        m2 = float(e2.mean())
    if c1.shape != c2.shape:
        raise ValueError(f"the two records were measured on different test samples ({c1.numel()} and "
                         f"{c2.numel()} inputs)")
    var += float((c1 - c2).var(unbiased=True)) / c1.numel()
    return float(e1.mean()), math.sqrt(var), m2


def _majority(source, config) -> float:
    """The majority-class error rate of the chapter's test sample (what a constant predicts)."""
    _, y = train.held_out_sample(source, config["test_n"], seed=SEED)
    p = float((y > 0).double().mean())
    return min(p, 1.0 - p)


def _sgd(source, config, unit, device, *, eta=None, c=None, steps=None, loss="final"):
    return train.sgd(source, m=unit.get("m", config.get("m")), steps=steps or config["steps"], eta=eta,
                         c=c, init=unit["init"], runs=config["runs"], seed=SEED, test_n=config["test_n"],
                         log_points=config.get("log_points", 20), loss=loss,
                         dtype=getattr(torch, _SGD_DTYPE), device=device)


def _c_config(profile) -> dict:
    return {"version": 2, "L": profile.sgd_c_L, "d": profile.sgd_d, "steps": profile.sgd_c_steps,
            "runs": profile.sgd_c_runs, "test_n": profile.sgd_test_n, "target": "additive sin",
            "log_points": 2, "dtype": _SGD_DTYPE}


def _c_units(profile) -> list[dict]:
    return [{"init": init, "m": m, "c": c} for init in INITS for m in profile.sgd_c_widths
            for c in profile.sgd_c_grid]


def _c_run(config: dict, unit: dict, device: torch.device):
    source = data.population(_sin_additive(config["L"], config["d"]))
    res = _sgd(source, config, unit, device, c=unit["c"])
    out = {key: value[:, -1] if key in ("test_error", "online_error", "w_distance") else value
           for key, value in _curves(res, _majority(source, config)).items()}
    out["test_mistakes"] = _final_mistakes(res, source, config)
    # A second held-out sample, drawn apart from the test sample: choices made on it (e.g. which c
    # to compare widths at) leave the test sample free for the comparison itself.
    Xv, yv = train.held_out_sample(source, config["test_n"], seed=VALIDATION_SEED)
    z = train.final_margins(res, Xv, yv)
    out["validation_error"] = ((z < 0) | torch.isnan(z)).double().mean(1)
    return out


SGD_STEPSIZE = register(Sweep(
    name="sgd_stepsize",
    description="Algorithm 1 with eta = c / m: final test error (with the mistakes per test input), "
                "error on a second held-out sample, running online error (eq. 17), ||W - W_0||_F and "
                "divergence per run, over a grid of c, two or more widths and both initialisations, "
                "for a random additive sin target",
    config=_c_config,
    units=_c_units,
    run_unit=one_thread(_c_run),
))


#: The two data laws of the error-against-n sweep: ``"margin"`` meets Theorem 2's hypothesis
#: y F* >= 1 on every sample (:func:`rnnbook.data.population_margin`); ``"plain"`` has no margin
#: (:func:`rnnbook.data.population`).
LAWS = ("margin", "plain")


@functools.lru_cache(maxsize=32)
def _margin_population(L: int, d: int, quantile: float) -> data.DataSource:
    # Cached: the threshold is estimated on a pool of inputs, the same for every unit of one target.
    return data.population_margin(_sin_additive(L, d), quantile=quantile, seed=SEED)


def length_source(config: dict, L: int, law: str) -> data.DataSource:
    """The data law of the ``sgd_length`` sweep for the additive sin target of length L: the margin
    law (inputs with abs(F*) below the ``margin_quantile`` of abs(F*) rejected; its ``target`` is
    F*/t, which meets y F*/t >= 1 on every sample) or the plain law (no margin)."""
    if law == "margin":
        return _margin_population(L, config["d"], config["margin_quantile"])
    if law == "plain":
        return data.population(_sin_additive(L, config["d"]))
    raise ValueError(f"law must be one of {LAWS}, got {law!r}")


def _len_config(profile) -> dict:
    return {"version": 2, "m": profile.sgd_m, "d": profile.sgd_d, "steps": profile.sgd_steps,
            "runs": profile.sgd_len_runs, "test_n": profile.sgd_test_n,
            "step_grid": list(profile.sgd_step_grid),
            "plain_step": profile.sgd_step, "margin_quantile": profile.sgd_margin_q,
            "target": "additive sin", "log_points": 16, "dtype": _SGD_DTYPE}


def _len_units(profile) -> list[dict]:
    # The margin law (Theorem 2's hypothesis) at every step of the grid, both initialisations; the
    # plain law, for contrast, at one step under Algorithm 1's initialisation.
    return ([{"init": init, "L": L, "law": "margin", "s": s} for init in INITS for L in profile.sgd_lengths
             for s in profile.sgd_step_grid]
            + [{"init": "algorithm1", "L": L, "law": "plain", "s": profile.sgd_step}
               for L in profile.sgd_lengths])


def _len_run(config: dict, unit: dict, device: torch.device):
    L, d = unit["L"], config["d"]
    source = length_source(config, L, unit["law"])
    eta = unit["s"] / baselines.ntk_diagonal(L, d, init=unit["init"])
    res = _sgd(source, config, unit, device, eta=eta)
    out = _curves(res, _majority(source, config))
    out["threshold"] = source.threshold  # None for the plain law
    out["test_mistakes"] = _final_mistakes(res, source, config)
    return out


SGD_LENGTH = register(Sweep(
    name="sgd_length",
    description="Algorithm 1 on fresh samples (steps = samples) for random additive sin targets of "
                "several lengths L, eta = s / Hbar over a grid of s, under a law with Theorem 2's "
                "margin (and, for contrast, one without): test error, running online error (eq. 17) "
                "and ||W_k - W_0||_F against k, per run and initialisation",
    config=_len_config,
    units=_len_units,
    run_unit=one_thread(_len_run),
))


def span_target(L: int, d: int, kind: str, k: int):
    """The chapter's N-variable targets, psi = sin: ``kind="pair"`` the pair of Remark 2.2 ending at
    the last position, sin(beta^T [X_{L-k}, X_L] / (sqrt 2 max norm)) (l0 = k); ``kind="last"`` the
    last k positions (N = k, l0 = k - 1)."""
    if kind == "pair":
        return concepts.long_range_pair(L, d, k, series.sin(), start=L - k, seed=SEED)
    if kind == "last":
        return concepts.random_n_variable_target(L, d, tuple(range(L - k + 1, L + 1)), series.sin(),
                                                 seed=SEED)
    raise ValueError(f"kind must be 'pair' or 'last', got {kind!r}")


def single_position_mistakes(target, X, y) -> torch.Tensor:
    """The mistakes (n,) bool on (X, y) of the best predictor that reads one position only, for a
    one-term N-variable target psi(beta^T [X_{l_1}, ..., X_{l_N}] / (sqrt N max norm)) with psi
    odd and increasing on [-1, 1] (sin): then sign F* = sign sum_n beta_n^T X_{l_n}, and position
    l_n alone predicts sign(beta_n^T X_{l_n}); the position whose predictor errs least on (X, y)
    (the first on a tie).  What a network that ignored all but the most informative position
    would reach."""
    (term,) = target.terms
    beta = term.beta.reshape(target.N, target.d).to(X.dtype)
    wrong = [torch.sign(X[:, l - 1] @ b) != y for l, b in zip(target.positions, beta, strict=True)]
    counts = [int(w.sum()) for w in wrong]
    return wrong[counts.index(min(counts))]


def single_position_error(target, X, y) -> float:
    """The test error of :func:`single_position_mistakes`: the minimum over the positions l_n of the
    one-position predictor's error on (X, y)."""
    return float(single_position_mistakes(target, X, y).double().mean())


def _span_config(profile) -> dict:
    return {"version": 3, "m": profile.sgd_m, "d": profile.sgd_d, "steps": profile.sgd_steps,
            "runs": profile.sgd_runs, "test_n": profile.sgd_test_n, "step": profile.sgd_step,
            "L": profile.sgd_span_L, "target": "N-variable sin", "log_points": 16, "dtype": _SGD_DTYPE}


def _span_units(profile) -> list[dict]:
    return ([{"init": init, "kind": "pair", "k": l0} for init in INITS for l0 in profile.sgd_spans]
            + [{"init": init, "kind": "last", "k": N} for init in INITS for N in profile.sgd_n_vars])


def _span_run(config: dict, unit: dict, device: torch.device):
    L, d = config["L"], config["d"]
    target = span_target(L, d, unit["kind"], unit["k"])
    source = data.population(target)
    eta = config["step"] / baselines.ntk_diagonal(L, d, init=unit["init"])
    res = _sgd(source, config, unit, device, eta=eta)
    out = _curves(res, _majority(source, config))
    X, y = train.held_out_sample(source, config["test_n"], seed=SEED)
    single = single_position_mistakes(target, X, y)
    out["single_position"] = float(single.double().mean())
    out["single_mistakes"] = single.to(torch.int64)
    out["test_mistakes"] = _final_mistakes(res, source, config)
    return out


SGD_SPAN = register(Sweep(
    name="sgd_span",
    description="Algorithm 1 on N-variable sin targets: the pair f(beta^T [X_{L-l0}, X_L]) for several "
                "spans l0, and targets on the last N positions; test and online error against the "
                "number of samples, per run and initialisation, with the majority-class rate",
    config=_span_config,
    units=_span_units,
    run_unit=one_thread(_span_run),
))


def labelling_targets(L: int, d: int) -> list:
    """Remark 3.2's per-position targets: F*_l = sin(beta^T X_{l-1} / norm(X_{l-1})) +
    sin(beta'^T X_l / norm(X_l)) (F*_1 reads X_1 only), each with its own random directions."""
    return [concepts.random_additive_target(L, d, series.sin(), positions=sorted({max(1, l - 1), l}),
                                            seed=SEED + l) for l in range(1, L + 1)]


def position_errors(result, source, test_n: int, seed: int) -> torch.Tensor:
    """0-1 test error of every run at every position l, 1{y_l f_l < 0} with f_l = B^T h_l (a NaN
    output counts as a mistake): shape (R, L).  The test sample is the one :func:`rnnbook.train.sgd`
    drew (``held_out_sample(source, test_n, seed=seed)``)."""
    X, y = train.held_out_sample(source, test_n, seed=seed)
    errors = []
    for r in range(len(result.runs)):
        p = result.params(r)
        _, states = model.forward(p, X.to(device=p.device, dtype=p.dtype), return_states=True)
        z = (states.h[1:] @ p.B).T.to("cpu", torch.float64) * y  # (n, L)
        errors.append(((z < 0) | torch.isnan(z)).double().mean(0))
    return torch.stack(errors)


def _label_config(profile) -> dict:
    return {"version": 1, "m": profile.sgd_m, "L": profile.sgd_label_L, "d": profile.sgd_d,
            "steps": profile.sgd_label_steps, "runs": profile.sgd_runs, "test_n": profile.sgd_test_n,
            "step": profile.sgd_step, "log_points": 12, "dtype": _SGD_DTYPE}


def _label_units(profile) -> list[dict]:
    return [{"init": init} for init in INITS]


def _label_run(config: dict, unit: dict, device: torch.device):
    L, d = config["L"], config["d"]
    source = data.population_labelling(labelling_targets(L, d))
    eta = config["step"] / baselines.ntk_diagonal(L, d, init=unit["init"])
    res = _sgd(source, config, unit, device, eta=eta, loss="labelling")
    out = _curves(res)
    out["position_error"] = position_errors(res, source, config["test_n"], SEED)
    _, y = train.held_out_sample(source, config["test_n"], seed=SEED)
    p = (y > 0).double().mean(0)
    out["majority"] = torch.minimum(p, 1 - p)
    return out


SGD_LABELLING = register(Sweep(
    name="sgd_labelling",
    description="Remark 3.2: Algorithm 1 with the sequence-labelling loss sum_l l(y_l f_l), "
                "f_l = B^T h_l, on per-position targets; test error per position at the end and "
                "the running online error, per run and initialisation",
    config=_label_config,
    units=_label_units,
    run_unit=one_thread(_label_run),
))


# The lazy regime.  The same index stream into one finite training set for every width and both
# scalings of B, so that the network and its infinite-width limit see exactly the same samples.

#: The two scalings of B compared in the lazy-regime sweep: Section 3's B ~ N(0, 1/m), and
#: B ~ N(0, 1), the scaling under which Theorem 2's eta = O(1/m) and the 1/m of eq. (23) fit.
B_SCALINGS = model.B_SCALINGS


def _lazy_config(profile) -> dict:
    return {"version": 2, "n": profile.sgd_lazy_n, "L": profile.sgd_lazy_L, "d": profile.sgd_d,
            "steps": profile.sgd_lazy_steps, "runs": profile.sgd_lazy_runs, "test_n": profile.sgd_test_n,
            "step": profile.sgd_lazy_step, "init": "algorithm1", "dtype": "float64"}


def _lazy_units(profile) -> list[dict]:
    return [{"B": b, "m": m} for b in B_SCALINGS for m in profile.sgd_lazy_widths]


def lazy_data(config: dict):
    """The lazy-regime sweep's training set (X, y, F*) of the additive sin target and its test
    sample, float64 on the CPU."""
    target = _sin_additive(config["L"], config["d"])
    pop = data.population(target)
    X, y = pop.sample(config["n"], seed=SEED + 1)
    Xt, yt = train.held_out_sample(pop, config["test_n"], seed=SEED)
    return X, y, target(X), Xt, yt


@functools.lru_cache(maxsize=4)
def _lazy_kernel(key: str) -> torch.Tensor:
    # The infinite-width NTK of the training and test inputs: the same for every unit of a config.
    config = json.loads(key)
    X, _, _, Xt, _ = lazy_data(config)
    return kernels.ntk(torch.cat([X, Xt]), init=config["init"])


def _lazy_run(config: dict, unit: dict, device: torch.device):
    X, y, fstar, Xt, yt = lazy_data(config)
    n, L, d = X.shape
    init = config["init"]
    H = _lazy_kernel(json.dumps(config, sort_keys=True))
    # Theorem 2's margin on the training set: F* scaled by 1 / min_i abs(F*(x_i)).
    ytilde = fstar / fstar.abs().min()
    Hbar = baselines.ntk_diagonal(L, d, init=init)
    m = unit["m"]
    scale = model.output_scale(m, unit["B"])
    # The same function-space step under both scalings: the NTK of B ~ N(0, 1) is m times larger.
    eta = config["step"] / Hbar / scale**2
    out = {key: [] for key in ("net_error", "kernel_error", "correlation", "agreement", "w_distance",
                               "kernel_distance", "w_operator", "w0_operator", "f0_rms", "margin_norm")}
    Hs = H[:n, :n] * scale**2  # the NTK of this scaling of B on the training set
    for r in range(config["runs"]):
        gen = make_generator(SEED + 1000 + r, "cpu")
        idx = torch.randint(n, (config["steps"],), generator=gen)
        drawn = model.init_params(m, d, L, init=init, generator=make_generator(SEED + 2000 + r, "cpu"))
        p0 = model.with_output_scaling(drawn, unit["B"]).to(device=device)
        Xd, Xtd = X.to(device), Xt.to(device)
        p = train.train_on_stream(p0, Xd[idx], y[idx].to(device), eta)
        f0, f0t = model.forward(p0, Xd).cpu(), model.forward(p0, Xtd).cpu()
        f = model.forward(p, Xtd).cpu()
        a, fk = baselines.kernel_sgd(H[:n, :n][idx][:, idx] * scale**2, H[n:, :n][:, idx] * scale**2,
                                     y[idx], eta, f0[idx], f0t)
        dW = (p.W - p0.W).cpu()
        out["net_error"].append(float(((f * yt < 0) | torch.isnan(f)).double().mean()))
        out["kernel_error"].append(float((fk * yt < 0).double().mean()))
        out["correlation"].append(float(torch.corrcoef(torch.stack([f - f0t, fk - f0t]))[0, 1])
                                  if bool(torch.isfinite(f).all()) else math.nan)
        out["agreement"].append(float((torch.sign(f) == torch.sign(fk)).double().mean()))
        out["w_distance"].append(float(torch.linalg.matrix_norm(dW)))
        out["kernel_distance"].append(float((a @ (H[:n, :n][idx][:, idx] * scale**2) @ a).sqrt()))
        # a diverged run (non-finite W) has no operator norm
        out["w_operator"].append(float(torch.linalg.matrix_norm(dW, ord=2)) if bool(torch.isfinite(dW).all())
                                 else math.nan)
        out["w0_operator"].append(float(torch.linalg.matrix_norm(p0.W.cpu(), ord=2)))
        out["f0_rms"].append(float(f0t.square().mean().sqrt()))
        # An upper bound on the ||W - W_0||_F the linearised network needs to reach the margin
        # y_i f(x_i) >= 1 on the whole training set from its initial outputs f_0: the norm of the
        # change that interpolates ytilde - f_0 (then f = ytilde, and y_i ytilde_i >= 1).
        out["margin_norm"].append(_interpolation_norm(Hs, ytilde - f0))
    return out


def _interpolation_norm(H: torch.Tensor, v: torch.Tensor) -> float:
    """sqrt(v^T H^-1 v) (float64, through H's eigendecomposition): the smallest RKHS norm of a
    function of the kernel H taking the values v on its points; inf if H is numerically singular."""
    try:
        return math.sqrt(inverse_quadratic_form(H.to(torch.float64), v.to(torch.float64)).value)
    except ValueError:
        return math.inf


SGD_LAZY = register(Sweep(
    name="sgd_lazy",
    description="The lazy regime: Algorithm 1 on a finite training set (the same index stream at "
                "every width) with B ~ N(0, 1/m) (Section 3) and B ~ N(0, 1), the same step in "
                "function space; the trained network against its infinite-width limit (kernel SGD "
                "with the NTK, from the same initial outputs): test errors, correlation of the "
                "learned parts of the outputs, sign agreement, ||W - W_0|| (Frobenius, operator) "
                "against the limit's, and the norm of the change that interpolates the "
                "margin-scaled F* - f_0 (an upper bound on what reaching the margin needs), per "
                "width and run",
    config=_lazy_config,
    units=_lazy_units,
    run_unit=one_thread(_lazy_run),
))


# ----------------------------------------------------------------------------------------------
# What the SGD chapter reads off these sweeps: small, tested helpers, so that the chapter's cells
# state the computation and not the bookkeeping.

def final_errors(value: dict, key: str = "test_error") -> np.ndarray:
    """The final value per run of a logged quantity of an SGD sweep record: ``value[key]`` holds
    curves (R, K) over the logged steps k (the last column, W_n after all n steps, is taken: e.g.
    the test 0-1 error of W_n, or the running online error at k = n, the left side of eq. (17)) or
    values already final, (R,).  float64, shape (R,)."""
    e = np.asarray(value[key], dtype=np.float64)
    if e.ndim == 2:
        return e[:, -1]
    if e.ndim == 1:
        return e
    raise ValueError(f"{key!r} must be curves (R, K) or final values (R,), got shape {e.shape}")


def learned_record(value: dict, config: dict, *, alpha: float, what: str, key: str = "test_error",
                   chance: float | None = None) -> verdicts.Verdict:
    """The chapter's rule *learned* (:func:`rnnbook.verdicts.learned`) for one record of an SGD
    sweep: its final errors (:func:`final_errors` of ``value[key]``) over the R runs, measured on
    ``config["test_n"]`` held-out inputs -- the run's own test-sample size, never a profile's, since
    :func:`best` may show another profile's results -- against ``chance``, by default the record's
    majority-class rate ``value["majority"]`` (what a constant predictor errs)."""
    return verdicts.learned(final_errors(value, key), n_test=config["test_n"],
                            chance=value["majority"] if chance is None else chance, alpha=alpha, what=what)


def grid_subset_text(values, grid) -> str:
    """Some values of a sweep's grid (e.g. the stepsizes c of eta = c / m that train) in words:
    ``"none"``; a run of more than two consecutive grid values as ``"a to b (all k grid values)"``;
    else the values listed, ``"a, b"``."""
    values, grid = list(values), list(grid)
    if not values:
        return "none"
    idx = [grid.index(v) for v in values]
    if len(values) > 2 and idx == list(range(idx[0], idx[-1] + 1)):
        return f"{values[0]:g} to {values[-1]:g} (all {len(values)} grid values)"
    return ", ".join(f"{v:g}" for v in values)


def per_length_text(values: dict, fmt: str = ".3f") -> str:
    """Values by length L in words, in the order given: ``"0.123 ($L = 5$), 0.234 ($L = 10$)"``;
    a value ``(estimate, low, high)`` (a fitted exponent with its interval) reads
    ``"-0.41 [-0.52, -0.30] ($L = 5$)"``."""
    def one(v):
        if isinstance(v, tuple):
            est, lo, hi = v
            return f"{est:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"
        return f"{v:{fmt}}"

    return ", ".join(f"{one(v)} ($L = {L}$)" for L, v in values.items())


def metric_curves(result, over: str, **where) -> dict[str, np.ndarray]:
    """Every quantity of the records matching ``where`` stacked along the sweep's axis ``over``
    (``result.axis(over, **where)``, sorted): ``{key: array (len(axis), ...)}``; e.g. the lazy-regime
    sweep's per-run metrics of one scaling of B, ``metric_curves(run, "m", B="unit")``, each
    (widths, runs)."""
    axis = result.axis(over, **where)
    records = [result.value(**where, **{over: v}) for v in axis]
    return {key: np.array([r[key] for r in records]) for key in records[0]}


def lazy_summary(curves: dict[str, np.ndarray]) -> dict[str, float]:
    """What the chapter reports of one scaling of B in the lazy-regime sweep (``curves`` from
    :func:`metric_curves` over the widths m, each (widths, runs)): at the largest width the medians
    over runs of the Frobenius norm of W_n - W_0 (``dist_max``), of the kernel limit's
    sqrt(a^T H a) (``kdist_max``), of the operator norm of W_n - W_0 over that of W_0
    (``op_ratio``), of the upper bound on the change that reaches the margin
    (``margin_norm_max``), of the correlation with kernel SGD
    (``corr_max``; ``corr_min`` at the smallest width), of the sign agreement (``agree_max``) and of
    the RMS initial output (``f0_max``), and the mean test errors of the network and of kernel SGD
    (``net_err_max``, ``ker_err_max``)."""
    last = {key: value[-1] for key, value in curves.items()}
    return {"op_ratio": float(np.median(last["w_operator"] / last["w0_operator"])),
            "dist_max": float(np.median(last["w_distance"])),
            "kdist_max": float(np.median(last["kernel_distance"])),
            "margin_norm_max": float(np.median(last["margin_norm"])),
            "corr_min": float(np.median(curves["correlation"][0])),
            "corr_max": float(np.median(last["correlation"])),
            "agree_max": float(np.median(last["agreement"])),
            "net_err_max": float(np.mean(last["net_error"])),
            "ker_err_max": float(np.mean(last["kernel_error"])),
            "f0_max": float(np.median(last["f0_rms"]))}


# ----------------------------------------------------------------------------------------------
# Theorem 4's sqrt(y^T H^-1 y) over n and L (the complexity chapter): one unit per (L, init).

def _cf_config(profile) -> dict:
    return {"version": 1, "d": profile.cb_d, "sizes": list(profile.cb_sizes), "quantile": 0.2,
            "pool_reserve": 64, "seed": SEED, "psi": "sin", "targets": ["first", "last", "all"]}


def _cf_units(profile) -> list[dict]:
    return [{"L": L, "init": init} for L in profile.cb_lengths for init in ("paper", "algorithm1")]


def complexity_targets(L: int, d: int, seed: int) -> dict:
    """Additive sin targets of class (9): one term at the first position, one at the last, one at
    every position."""
    psi = series.sin()
    return {"first": concepts.random_additive_target(L, d, psi, positions=[1], seed=seed),
            "last": concepts.random_additive_target(L, d, psi, positions=[L], seed=seed),
            "all": concepts.random_additive_target(L, d, psi, seed=seed)}


def form_record(q: QuadraticForm) -> dict:
    """A QuadraticForm as the sweep stores it (``QuadraticForm(**record)`` rebuilds it)."""
    return {"value": q.value, "condition": q.condition, "relative_error_bound": q.relative_error_bound,
            "method": q.method}


def _cf_run(config: dict, unit: dict, device: torch.device):
    """For one length and initialisation: H on a pool of unit-norm inputs (the same pool and targets
    for both initialisations), each target's margin sample (nested over the sizes) and its nested
    forms with y = F*/t; for the target on every position also with y = sign F*/t and with random
    signs (drawn from a seed of the unit)."""
    L, sizes, q = unit["L"], config["sizes"], config["quantile"]
    n_max = sizes[-1]
    seed = config["seed"] + L
    X = data.sample_sequences(int(n_max / (1 - q)) + config["pool_reserve"], L, config["d"], seed=seed,
                              device="cpu").to(device)
    H = kernels.ntk(X, init=unit["init"])
    out = {"forms": {}, "log10_C": {}, "labels": {}}
    for name, target in complexity_targets(L, config["d"], seed).items():
        sample = data.margin_sample(target, X, n_max, quantile=q)
        Hs = H[sample.index][:, sample.index]
        ys = {"F*": sample.f_star.to(Hs)}
        if name == "all":
            gen = torch.Generator().manual_seed(seed * 2 + ("paper", "algorithm1").index(unit["init"]))
            ys["sign F*"] = torch.sign(ys["F*"])
            ys["random"] = torch.randint(0, 2, (n_max,), generator=gen).to(Hs) * 2 - 1
        # the label vectors of one target share its inputs, so one factorisation per size serves all
        columns = nested_quadratic_forms(Hs, torch.stack(list(ys.values()), 1), sizes, name="H")
        forms = dict(zip(ys, columns, strict=True))
        out["forms"][name] = [form_record(f) for f in forms.pop("F*")]
        out["log10_C"][name] = sample.target.complexity(1.0).log10
        if forms:
            out["labels"] = {label: [form_record(f) for f in recs] for label, recs in forms.items()}
    return out


COMPLEXITY_FORMS = register(Sweep(
    name="complexity_forms",
    description="Theorem 4: sqrt(y^T H^-1 y) with H the infinite-width NTK, nested over the sample "
                "sizes, for additive sin targets on the first, the last and every position (y = F*/t "
                "on the margin sample), with sign and random labels for the last, per length and "
                "initialisation; with the condition numbers and error bounds of each solve",
    config=_cf_config,
    units=_cf_units,
    run_unit=_cf_run,
))
