"""Experiment sizes.  ``quick`` (the default) executes the whole book on a 2-core CPU in minutes;
``paper`` is sized for one GPU.  Select with ``RNNBOOK_PROFILE`` or :func:`get`.

Each chapter reads only the fields it needs; a chapter that adds an experiment adds its sizes here,
for both profiles, so that ``quick`` and ``paper`` differ only in numbers, never in code paths.
"""

from __future__ import annotations

import dataclasses
import os

__all__ = ["ENV_VAR", "Profile", "PROFILES", "get"]

ENV_VAR = "RNNBOOK_PROFILE"


@dataclasses.dataclass(frozen=True)
class Profile:
    """Sizes of the book's experiments."""

    name: str
    description: str
    # Preliminaries, Propositions 2.1-2.3: random point sets per kernel, points per set, dimension.
    pd_trials: int
    pd_points: int
    pd_dim: int
    # Preliminaries, Proposition 2.4: sample sizes n and random repetitions per (n, p).
    prop24_sizes: tuple[int, ...]
    prop24_trials: int
    # Forward kernel: inputs (n sequences of length L in R^d), widths m and independent networks per
    # width of the Monte Carlo check of Theorem 5; lengths of the distinguishability sweep and its
    # sample size; the length of the degeneracy (Remark 4.2) recursion.
    fk_n: int
    fk_L: int
    fk_d: int
    fk_widths: tuple[int, ...]
    fk_seeds: int
    fk_lengths: tuple[int, ...]
    fk_lengths_n: int
    fk_degeneracy_L: int
    # Backward kernel: sequence lengths of the inequality-(29) and decay sweeps, the sample size
    # there, and the sample sizes of the n-dependence of (29)'s constant (at the largest length).
    # The Monte Carlo of Theorem 6 and the NTK reuses the forward kernel's fk_* sizes.
    bk_lengths: tuple[int, ...]
    bk_n: int
    bk_sizes: tuple[int, ...]
    bk_sizes_L: int
    # Complexity bounds (Theorem 4): input dimension; sequence lengths; nested sample sizes of
    # sqrt(y^T H^-1 y) (the largest is also the sample of the L-sweep); the sample size of the
    # dominance constants of eqs. (32)-(36) and the powers p of (33); the length of the N-variable
    # experiments, its spans l0 and its numbers of positions N.
    cb_d: int
    cb_lengths: tuple[int, ...]
    cb_sizes: tuple[int, ...]
    cb_dominance_n: int
    cb_powers: tuple[int, ...]
    cb_nvar_L: int
    cb_l0s: tuple[int, ...]
    cb_Ns: tuple[int, ...]
    # Random against true labels: independent replicates (input pools, random labels) at the largest
    # length, and their nested sample sizes (the exponent in n is fitted over all of them).
    cb_label_reps: int
    cb_label_sizes: tuple[int, ...]
    # Condition (18) with the empirical NTK: inputs, length, widths m and networks per width.
    cb_eq18_n: int
    cb_eq18_L: int
    cb_eq18_widths: tuple[int, ...]
    cb_eq18_nets: int
    # Concept classes: input dimension and samples per picture; sequence lengths of the complexity
    # sweeps; sample sizes and repetitions of the margin-by-rescaling experiment.
    concept_dim: int
    concept_samples: int
    concept_lengths: tuple[int, ...]
    margin_sizes: tuple[int, ...]
    margin_trials: int
    # SGD training (Algorithm 1, Theorem 2): input dimension, independent runs per setting, test set.
    # The function-space step s: eta = s / Hbar, Hbar the NTK diagonal H(x, x) of unit-norm inputs
    # (about L/2 under Section 3's initialisation, L/2 + L(L-1)/4 under Algorithm 1's).
    sgd_d: int
    sgd_runs: int
    sgd_test_n: int
    sgd_step: float
    # The stepsize sweep: length, steps, widths, the grid of c in eta = c / m, and runs per point
    # (a c is "trainable" by a test at level 0.01 / len(grid): a handful of runs has little power).
    sgd_c_runs: int
    sgd_c_L: int
    sgd_c_steps: int
    sgd_c_widths: tuple[int, ...]
    sgd_c_grid: tuple[float, ...]
    # Error against n (steps = samples): width, steps, lengths of the additive targets; the grid of
    # function-space steps s each (init, L) is run at (its best is chosen on the online error); the
    # quantile q of abs(F*) below which the margin law (Theorem 2's y F* >= 1) rejects inputs.
    sgd_m: int
    sgd_steps: int
    sgd_lengths: tuple[int, ...]
    sgd_step_grid: tuple[float, ...]
    sgd_margin_q: float
    # Runs per (init, L, law, s) of the error-against-n sweep (per-run slopes give its t-intervals).
    sgd_len_runs: int
    # N-variable targets: length, spans l0 of the pair f(beta^T [X_{L-l0}, X_L]), numbers N of
    # positions (the last N) of the larger targets.
    sgd_span_L: int
    sgd_spans: tuple[int, ...]
    sgd_n_vars: tuple[int, ...]
    # The lazy regime: a finite training set of sgd_lazy_n samples, steps, length, widths, runs,
    # and the function-space step (larger than sgd_step, so that B ~ N(0, 1) learns within the steps).
    sgd_lazy_n: int
    sgd_lazy_steps: int
    sgd_lazy_L: int
    sgd_lazy_widths: tuple[int, ...]
    sgd_lazy_runs: int
    sgd_lazy_step: float
    # Remark 3.2's sequence-labelling loss: length and steps.
    sgd_label_L: int
    sgd_label_steps: int
    # Recurrent kernels of the literature: independent networks per width of the Monte Carlo that
    # decides which recursion describes which network (widths 64 and 256); the lengths and sample
    # size of the comparison of the initial states.
    lit_networks: int = 400
    lit_lengths: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128)
    lit_n: int = 64


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        description="default; the whole book on a 2-core CPU",
        pd_trials=20,
        pd_points=40,
        pd_dim=5,
        prop24_sizes=(5, 10, 20, 40, 80, 160),
        prop24_trials=10,
        fk_n=8,
        fk_L=10,
        fk_d=5,
        fk_widths=(64, 128, 256, 512, 1024, 2048, 4096),
        fk_seeds=48,
        fk_lengths=(2, 4, 8, 16, 32, 64, 128),
        fk_lengths_n=32,
        fk_degeneracy_L=1000,
        bk_lengths=(2, 4, 8, 16, 32, 64, 128, 256),
        bk_n=32,
        bk_sizes=(8, 16, 32, 64, 128, 256),
        bk_sizes_L=64,
        cb_d=4,
        cb_lengths=(2, 4, 8, 16, 32, 64),
        cb_sizes=(32, 64, 128, 256, 512, 1024),
        cb_dominance_n=384,
        cb_powers=(0, 1, 2, 3, 4, 5),
        cb_nvar_L=16,
        cb_l0s=(1, 2, 3, 5, 8, 11, 15),
        cb_Ns=(1, 2, 3, 4, 6),
        cb_label_reps=8,
        cb_label_sizes=(128, 256, 512),
        cb_eq18_n=64,
        cb_eq18_L=8,
        cb_eq18_widths=(128, 256, 512, 1024, 2048),
        cb_eq18_nets=16,
        concept_dim=8,
        concept_samples=4000,
        concept_lengths=(2, 3, 5, 7, 10, 14, 20, 28, 40, 56, 80),
        margin_sizes=(100, 300, 1000, 3000, 10000),
        margin_trials=100,  # a 99% bootstrap interval of the exponent of s(n) within 0.25 of 1
        sgd_d=5,
        sgd_runs=4,
        sgd_test_n=1000,
        sgd_step=0.25,
        sgd_c_runs=8,
        sgd_c_L=5,
        sgd_c_steps=2048,
        sgd_c_widths=(32, 128),
        sgd_c_grid=tuple(2.0**k for k in range(-5, 9)),
        sgd_m=128,
        sgd_steps=8192,
        sgd_lengths=(5, 10, 20),
        sgd_step_grid=(0.0625, 0.25, 1.0),
        sgd_margin_q=0.2,
        sgd_len_runs=4,
        sgd_span_L=10,
        sgd_spans=(1, 5, 9),
        sgd_n_vars=(3, 5),
        sgd_lazy_n=128,
        sgd_lazy_steps=1024,
        sgd_lazy_L=10,
        sgd_lazy_widths=(32, 64, 128, 256),
        sgd_lazy_runs=8,
        sgd_lazy_step=1.0,
        sgd_label_L=10,
        sgd_label_steps=4096,
    ),
    "paper": Profile(
        name="paper",
        description="paper-scale sizes for one GPU",
        pd_trials=200,
        pd_points=200,
        pd_dim=5,
        prop24_sizes=(5, 10, 20, 40, 80, 160, 320, 640),
        prop24_trials=50,
        fk_n=16,
        fk_L=20,
        fk_d=5,
        fk_widths=(64, 128, 256, 512, 1024, 2048, 4096, 8192),
        fk_seeds=128,
        fk_lengths=(2, 4, 8, 16, 32, 64, 128, 256, 512),
        fk_lengths_n=128,
        fk_degeneracy_L=10000,
        bk_lengths=(2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
        bk_n=64,
        bk_sizes=(8, 16, 32, 64, 128, 256, 512, 1024),
        bk_sizes_L=128,
        cb_d=4,
        cb_lengths=(2, 4, 8, 16, 32, 64, 128, 256),
        cb_sizes=(32, 64, 128, 256, 512, 1024, 2048, 4096),
        cb_dominance_n=1024,
        cb_powers=(0, 1, 2, 3, 4, 5, 6, 7),
        cb_nvar_L=32,
        cb_l0s=(1, 2, 3, 5, 8, 12, 16, 24, 31),
        cb_Ns=(1, 2, 3, 4, 6, 8),
        cb_label_reps=16,
        cb_label_sizes=(512, 1024, 2048, 4096),
        cb_eq18_n=256,
        cb_eq18_L=16,
        cb_eq18_widths=(256, 512, 1024, 2048, 4096, 8192, 16384),
        cb_eq18_nets=32,
        concept_dim=8,
        concept_samples=100000,
        concept_lengths=(2, 3, 5, 7, 10, 14, 20, 28, 40, 56, 80, 113, 160, 226, 320),
        margin_sizes=(100, 300, 1000, 3000, 10000, 30000, 100000),
        margin_trials=200,
        # Sized from a traffic model (one step reads or writes R (2L+2) m^2 float32 entries of W;
        # about 3 TB/s and 0.2 ms of launches per step on an H100), not yet measured on a GPU:
        # sgd_stepsize about 4.3 minutes, sgd_length 8.8 (18 margin-law units over the step grid
        # and 3 plain-law ones), sgd_span 8.7, sgd_labelling 0.6, sgd_lazy 1.1 (one run at a time):
        # each fits one 10-minute `run` of a device session, all of them about 24 minutes; the
        # sweeps resume unit by unit, so they may be spread over several sessions.
        sgd_d=5,
        sgd_runs=16,
        sgd_test_n=10000,
        sgd_step=0.25,
        sgd_c_runs=16,
        sgd_c_L=10,
        sgd_c_steps=8192,
        sgd_c_widths=(256, 1024),
        sgd_c_grid=tuple(2.0**k for k in range(-3, 14)),
        sgd_m=1024,
        sgd_steps=32768,
        sgd_lengths=(5, 10, 20),
        sgd_step_grid=(0.0625, 0.25, 1.0),
        sgd_margin_q=0.2,
        sgd_len_runs=16,
        sgd_span_L=20,
        sgd_spans=(1, 3, 7, 12, 19),
        sgd_n_vars=(3, 8),
        sgd_lazy_n=512,
        sgd_lazy_steps=4096,
        sgd_lazy_L=10,
        sgd_lazy_widths=(256, 512, 1024, 2048),
        sgd_lazy_runs=8,
        sgd_lazy_step=1.0,
        sgd_label_L=20,
        sgd_label_steps=16384,
        lit_networks=2000,
        lit_lengths=(2, 4, 8, 16, 32, 64, 128, 256, 512),
        lit_n=256,
    ),
}


def get(name: str | None = None) -> Profile:
    """The profile called ``name``, else ``$RNNBOOK_PROFILE``, else ``quick``.

    An unknown name is a ``ValueError`` that lists the valid ones."""
    if name is None:
        name = os.environ.get(ENV_VAR, "").strip() or "quick"
    if not isinstance(name, str):
        raise TypeError(f"profile name must be a str, got {type(name).__name__}")
    try:
        return PROFILES[name]
    except KeyError:
        valid = ", ".join(sorted(PROFILES))
        raise ValueError(f"unknown profile {name!r} (from argument or {ENV_VAR}); valid: {valid}") from None
