"""Data: input sequences, labelled samples of a concept, margins, and the data sources that
Algorithm 1 draws from.

Inputs (Section 2.2): X_l with a direction uniform on the unit sphere of R^d and a norm uniform
on [c_min, c_max], so C0 = c_max / c_min.  Labels are y = sign F*(x) for a target F* of
:mod:`rnnbook.concepts` (Theorem 2's data), or one label per position (Remark 3.2).  A
:class:`DataSource` is a law to sample from (a population, or a finite set sampled with
replacement), with the population a test set is drawn from.

Layer 4 of the package: it imports :mod:`rnnbook.concepts` and the layers below it.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

import torch

from . import concepts
from .checks import as_tensor, check_int, check_norm_range, check_real, check_sequences
from .concepts import AdditiveTarget, Complexity, NVariableTarget, Target
from .device import DEFAULT_DTYPE, check_memory, make_generator, resolve_generator, unit_vectors

__all__ = ["sample_sequences", "norm_ratio", "LabelledData", "labelled_data", "MarginSample",
           "margin_sample", "DataSource", "population", "MARGIN_POOL", "margin_threshold",
           "rejection_sample", "population_margin", "population_labelling", "finite"]


# ----------------------------------------------------------------------------------------------
# Input sequences.


def sample_sequences(n: int, L: int, d: int, *, c_min: float = 1.0, c_max: float = 1.0,
                     generator: torch.Generator | None = None, seed: int | None = None,
                     dtype: torch.dtype = DEFAULT_DTYPE,
                     device: str | torch.device | None = None) -> torch.Tensor:
    """n input sequences of Section 2.2, as a tensor of shape (n, L, d).

    Each X_l has a direction uniform on the unit sphere of R^d and a norm uniform on
    [c_min, c_max], independently over sequences and positions, so that
    ``c_min <= norm(X_l) <= c_max`` (up to one rounding of the normalisation) and
    C0 = c_max / c_min.  Draws from ``generator`` (on its device) or from a generator seeded with
    ``seed`` on ``device``; exactly one of the two is required."""
    n = check_int(n, name="n", minimum=1)
    L = check_int(L, name="L", minimum=1)
    d = check_int(d, name="d", minimum=1)
    c_min, c_max = check_norm_range(c_min, c_max)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    gen = resolve_generator(generator, seed, device)
    # The directions, their norms and the product are live at once: about 3 n L d entries.
    check_memory(3.0 * n * L * (d + 1) * torch.finfo(dtype).bits / 8, device=gen.device,
                 what=f"sample_sequences(n={n}, L={L}, d={d})")
    u = unit_vectors((n, L), d, gen, dtype)
    r = torch.rand(n, L, 1, generator=gen, device=gen.device, dtype=dtype)
    return u * (c_min + (c_max - c_min) * r)


def norm_ratio(X) -> float:
    """max norm(X_l) / min norm(X_l) over every sequence and position of ``X``: the empirical C0."""
    X = check_sequences(X, name="X")
    norms = torch.linalg.vector_norm(X, dim=-1)
    lo = float(norms.min())
    if lo == 0:
        raise ValueError("X has a zero vector: C0 = c_max / c_min is infinite")
    return float(norms.max()) / lo


# ----------------------------------------------------------------------------------------------
# Labelled samples and margins of a target.


@dataclasses.dataclass(frozen=True, eq=False)
class LabelledData:
    """A data set for Theorem 2: inputs, labels y = sign(F*), and F* with y F* >= 1.

    * ``X`` (n, L, d), ``y`` (n,) in {-1, +1}, ``f_star`` (n,) = ``target``(X) and
      ``y * f_star >= 1`` for every sample.
    * ``target`` is the target that attains the margin: ``scale`` times ``base_target``.
      ``complexity`` is its C(F*), ``base_complexity`` that of ``base_target``.  Since
      C(s psi, R) = 1 + s (C(psi, R) - 1), scaling multiplies the complexity by at most s.
    * ``method`` is ``"rescale"`` (all draws kept, F* multiplied by 1 / min abs(F*), the smallest
      factor that reaches the margin) or ``"reject"`` (draws with abs(F*) < ``threshold`` are
      discarded and F* multiplied by 1 / ``threshold``).  Rejection changes the input
      distribution to the law of x conditioned on abs(F*(x)) >= threshold.
    * ``n_drawn`` inputs were drawn in all; ``acceptance_rate`` is the fraction kept over all
      draws (1 for ``"rescale"``).
    """

    X: torch.Tensor
    y: torch.Tensor
    f_star: torch.Tensor
    target: Target
    base_target: Target
    method: str
    scale: float
    threshold: float | None
    n_drawn: int
    acceptance_rate: float
    c_min: float
    c_max: float
    complexity: Complexity
    base_complexity: Complexity

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def c0(self) -> float:
        return self.c_max / self.c_min

    @property
    def label_balance(self) -> float:
        """The fraction of samples labelled +1."""
        return float((self.y > 0).double().mean())

    @property
    def margin(self) -> float:
        """min_i y_i F*(x_i); at least 1 by construction."""
        return float((self.y * self.f_star).min())


_METHODS = ("rescale", "reject")


def _check_values(f: torch.Tensor) -> None:
    if not bool(torch.isfinite(f).all()):
        raise ValueError("target: F* is not finite on some samples")


def _scale_to_margin(target: Target, X: torch.Tensor, s: float) -> tuple[Target, torch.Tensor, float]:
    """Scale ``target`` by s or, where rounding leaves some s abs(F*) a hair below 1, a few ulps more."""
    for _ in range(64):
        scaled = target.scaled(s)
        f = scaled(X)
        if bool((f.abs() >= 1).all()):
            return scaled, f, s
        s = math.nextafter(s, math.inf) * (1 + 2 * sys.float_info.epsilon)
    raise RuntimeError("could not reach the margin abs(F*) >= 1 by rescaling (rounding)")


def labelled_data(target: Target, n: int, *, c_min: float = 1.0, c_max: float = 1.0,
                  method: str = "rescale", threshold: float | None = None,
                  max_draws: int | None = None, generator: torch.Generator | None = None,
                  seed: int | None = None, dtype: torch.dtype = DEFAULT_DTYPE,
                  device: str | torch.device | None = None, c1: float = 100.0) -> LabelledData:
    """n labelled samples (x_i, y_i = sign F*(x_i)) with the margin y_i F*(x_i) >= 1 of Theorem 2.

    Inputs come from :func:`sample_sequences` with norms in [c_min, c_max].  ``method``:

    * ``"rescale"``: draw n inputs, multiply F* by s = 1 / min_i abs(F*(x_i)).  A sample with
      F*(x_i) = 0 has no label and is a ``ValueError``.  ``threshold`` must be None.
    * ``"reject"``: draw inputs in batches, keep those with abs(F*) >= ``threshold`` (default 1)
      until n are kept, then multiply F* by 1 / threshold.  ``max_draws`` (default
      max(100 n, 100000)) caps the number of draws; reaching it raises ``RuntimeError`` with the
      acceptance rate seen.  A threshold above the majorant bound on sup abs(F*) (so that no
      sample can ever be accepted) is a ``ValueError`` before anything is drawn.

    A target that is identically zero is a ``ValueError``.  The complexities use C0 = c_max / c_min
    and ``c1`` (eq. (12) only).  See :class:`LabelledData`."""
    if not isinstance(target, (AdditiveTarget, NVariableTarget)):
        raise TypeError(f"target must be an AdditiveTarget or NVariableTarget, got {type(target).__name__}")
    n = check_int(n, name="n", minimum=1)
    c_min, c_max = check_norm_range(c_min, c_max)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    c1 = check_real(c1, name="c1", positive=True)
    sup = target.sup_bound()
    if sup == 0:
        raise ValueError("target: F* is identically zero (every psi vanishes on the range of its "
                         "argument), so sign(F*) labels nothing")
    gen = resolve_generator(generator, seed, device)

    def draw(k: int) -> tuple[torch.Tensor, torch.Tensor]:
        X = sample_sequences(k, target.L, target.d, c_min=c_min, c_max=c_max, generator=gen,
                             dtype=dtype)
        f = target(X)
        _check_values(f)
        return X, f

    if method == "rescale":
        if threshold is not None:
            raise ValueError("threshold applies to method='reject' only")
        if max_draws is not None:
            raise ValueError("max_draws applies to method='reject' only")
        X, f = draw(n)
        absf = f.abs()
        zero = torch.nonzero(absf == 0)
        if zero.numel():
            raise ValueError(f"target: F*(x_i) = 0 for sample i = {int(zero[0])}; sign(F*) gives no "
                             "label and no rescaling reaches the margin (use method='reject')")
        s0 = 1.0 / float(absf.min())
        if not math.isfinite(s0):
            raise ValueError("target: min abs(F*) is so small that 1 / min abs(F*) overflows float64")
        n_drawn, rate, thr = n, 1.0, None
    else:
        thr = 1.0 if threshold is None else check_real(threshold, name="threshold", positive=True)
        if thr > sup:
            raise ValueError(f"threshold = {thr:g} exceeds the bound {sup:.6g} on sup abs(F*) (sum of "
                             "the majorants psi~(norm(beta))): rejection would accept nothing")
        max_draws = (max(100 * n, 100_000) if max_draws is None
                     else check_int(max_draws, name="max_draws", minimum=1))
        batch = max(n, 1024)
        kept_X: list[torch.Tensor] = []
        kept_f: list[torch.Tensor] = []
        kept = drawn = 0
        while kept < n:
            if drawn >= max_draws:
                rate = kept / drawn
                raise RuntimeError(
                    f"rejection sampling kept {kept} of the {drawn} draws allowed by max_draws "
                    f"(acceptance rate {rate:.3g}); n = {n} needs about "
                    f"{'infinitely many' if kept == 0 else f'{n / rate:.3g}'} draws. Lower the "
                    "threshold, raise max_draws, or use method='rescale'")
            k = min(batch, max_draws - drawn)
            X, f = draw(k)
            drawn += k
            ok = f.abs() >= thr
            kept += int(ok.sum())
            kept_X.append(X[ok])
            kept_f.append(f[ok])
        X, f = torch.cat(kept_X)[:n], torch.cat(kept_f)[:n]
        n_drawn, rate = drawn, kept / drawn
        s0 = 1.0 / thr

    c0 = c_max / c_min
    if s0 == 1.0:
        scaled, f_scaled, s = target, f, 1.0
        if not bool((f.abs() >= 1).all()):  # pragma: no cover - threshold 1 accepts abs(F*) >= 1 only
            raise RuntimeError("margin not reached")
    else:
        scaled, f_scaled, s = _scale_to_margin(target, X, s0)
    y = torch.sign(f)
    return LabelledData(
        X=X, y=y, f_star=f_scaled, target=scaled, base_target=target, method=method, scale=s,
        threshold=thr, n_drawn=n_drawn, acceptance_rate=rate, c_min=c_min, c_max=c_max,
        complexity=scaled.complexity(c0, c1=c1), base_complexity=target.complexity(c0, c1=c1))


@dataclasses.dataclass(frozen=True, eq=False)
class MarginSample:
    """The first n inputs of a pool with abs(F*) >= t, t a quantile of abs(F*) over the pool.

    ``index`` (n,): positions in the pool, increasing (so the samples of two sizes are nested);
    ``f_star`` (n,): F*/t there, with abs(F*/t) >= 1 (Theorem 2's margin); ``target``: F*/t;
    ``threshold``: t."""

    index: torch.Tensor
    f_star: torch.Tensor
    target: Target
    threshold: float


def margin_sample(target: Target, X, n: int, *, quantile: float = 0.2) -> MarginSample:
    """Theorem 2's margin y F* >= 1 on a pool ``X`` (N, L, d) by conditioning, not by rescaling to
    the sample's minimum: t = the ``quantile`` of abs(F*) over the pool, keep the first n inputs
    with abs(F*) >= t, and scale F* by 1/t.  Rescaling by 1 / min_i abs(F*(x_i)) (see
    :func:`labelled_data`) makes the scale, and every quantity quadratic in F*, grow with n (the
    minimum of n draws of a continuous law shrinks like 1/n); a fixed quantile does not.  The kept
    inputs follow the law of x conditioned on abs(F*(x)) >= t, as with ``method="reject"``.  Too
    few inputs above t in the pool is a ``ValueError``."""
    if not isinstance(target, (AdditiveTarget, NVariableTarget)):
        raise TypeError(f"target must be an AdditiveTarget or NVariableTarget, got {type(target).__name__}")
    n = check_int(n, name="n", minimum=1)
    q = check_real(quantile, name="quantile", nonnegative=True)
    if q >= 1:
        raise ValueError(f"quantile must lie in [0, 1), got {quantile}")
    f = target(X)
    _check_values(f)
    t = float(torch.quantile(f.abs().to(torch.float64), q))
    if t <= 0:
        raise ValueError(f"the {q:g} quantile of abs(F*) over the pool is 0: no margin to condition on")
    keep = torch.nonzero(f.abs() >= t)[:n, 0]
    if keep.numel() < n:
        raise ValueError(f"the pool holds {keep.numel()} inputs with abs(F*) >= t, fewer than n = {n}: "
                         "draw a larger pool")
    scaled = target.scaled(1 / t)
    return MarginSample(keep, scaled(X[keep]), scaled, t)


# ----------------------------------------------------------------------------------------------
# Data sources for Algorithm 1.


def _check_labels(y, shape: tuple[int, ...], *, name: str = "y", dtype=torch.float64,
                  device=None) -> torch.Tensor:
    """Labels as a float tensor of ``shape`` with every entry -1 or +1; else a ValueError."""
    y = as_tensor(y, name=name, dtype=dtype, device=device)
    if tuple(y.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(y.shape)}")
    if not bool(((y == 1) | (y == -1)).all()):
        bad = y[(y != 1) & (y != -1)][:3].tolist()
        raise ValueError(f"{name} must hold labels in {{-1, +1}}, got values such as {bad}")
    return y


@dataclasses.dataclass(frozen=True, eq=False)
class DataSource:
    """Where Algorithm 1's samples come from.

    ``draw(k, generator)`` returns k labelled samples, float64 on the CPU: X (k, L, d) and y (k,)
    in {-1, +1}, or (k, L) for a per-position (``labelling``) source.  ``kind`` is
    ``"population"`` (fresh draws) or ``"finite"`` (a fixed set, sampled with replacement).
    ``test`` is the source test sets are drawn from (the population itself, a finite source's
    population when known, else None); ``target`` the F* (or tuple of F*_l) labelling it (for
    :func:`population_margin`, F*/t, which meets y F*/t >= 1 on every sample)."""

    L: int
    d: int
    labelling: bool
    kind: str
    draw: Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]
    test: DataSource | None = None
    target: Any = None
    n: int | None = None
    description: str = ""
    #: For :func:`population_margin`: the threshold t on abs(F*) and the quantile q it estimates.
    threshold: float | None = None
    quantile: float | None = None

    def sample(self, n: int, *, seed: int | None = None,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """n samples (X, y) from a CPU generator (or one seeded with ``seed``), float64 on the CPU."""
        n = check_int(n, name="n", minimum=1)
        if (seed is None) == (generator is None):
            raise TypeError("pass exactly one of seed= and generator=")
        gen = make_generator(seed, "cpu") if generator is None else generator
        if gen.device.type != "cpu":
            raise ValueError(f"generator must be a CPU generator, got one on {gen.device}")
        return self.draw(n, gen)


def _check_target(target, name="target"):
    if not isinstance(target, (concepts.AdditiveTarget, concepts.NVariableTarget)):
        raise TypeError(f"{name} must be an AdditiveTarget or NVariableTarget, got {type(target).__name__}")
    return target


def _signs(f: torch.Tensor, what: str) -> torch.Tensor:
    if not bool(torch.isfinite(f).all()):
        raise ValueError(f"{what}: F* is not finite on some samples")
    # sign F*; the null set F* = 0 (excluded by Theorem 2's margin) is labelled +1.
    return torch.where(f >= 0, 1.0, -1.0).to(torch.float64)


def population(target, *, c_min: float = 1.0, c_max: float = 1.0) -> DataSource:
    """A distribution D without a margin: x from :func:`rnnbook.data.sample_sequences` (norms in
    [c_min, c_max]), y = sign F*(x).  Rescaling F* changes no label, so any positive multiple of the
    target gives the same source -- but no multiple meets Theorem 2's hypothesis y F*(x) >= 1 for
    every sample: abs(F*(x)) takes values arbitrarily close to 0 under this law, so inf y s F* = 0
    for every s.  (On a finite sample the scale s = 1 / min_i abs(F*(x_i)) does it, and grows
    with the sample size; the complexity C* of that scaled target is then only a lower bound on
    what the law needs, which is infinite.)  For a law that meets the hypothesis see
    :func:`population_margin`."""
    target = _check_target(target)
    c_min, c_max = check_norm_range(c_min, c_max)
    L, d = target.L, target.d

    def draw(k, gen):
        X = sample_sequences(k, L, d, c_min=c_min, c_max=c_max, generator=gen)
        return X, _signs(target(X), "target")

    src = DataSource(L, d, False, "population", draw, target=target,
                     description=f"population, norms in [{c_min:g}, {c_max:g}]")
    object.__setattr__(src, "test", src)  # test sets come from the population itself
    return src


#: Inputs drawn to estimate the threshold of :func:`population_margin` (its quantile's coverage
#: then has standard deviation sqrt(q (1 - q) / 2^16) < 0.002).
MARGIN_POOL = 1 << 16


def margin_threshold(target, quantile: float, *, c_min: float = 1.0, c_max: float = 1.0,
                     pool: int = MARGIN_POOL, seed: int = 0) -> float:
    """t = the ``quantile`` q of abs(F*(x)) under the input law of :func:`population`, estimated on
    ``pool`` inputs drawn with ``seed`` (float64, CPU).  P(abs(F*) >= t) is then 1 - q up to the
    estimate's error, of standard deviation about sqrt(q (1 - q) / pool)."""
    target = _check_target(target)
    q = check_real(quantile, name="quantile", positive=True)
    if q >= 1:
        raise ValueError(f"quantile must lie in (0, 1), got {quantile}")
    c_min, c_max = check_norm_range(c_min, c_max)
    pool = check_int(pool, name="pool", minimum=2)
    seed = check_int(seed, name="seed", minimum=0)
    gen = make_generator(seed, "cpu")
    # In blocks of 2^14 inputs, so that memory stays small at any L.
    f = torch.cat([target(sample_sequences(min(1 << 14, pool - s), target.L, target.d, c_min=c_min,
                                                    c_max=c_max, generator=gen)).abs()
                   for s in range(0, pool, 1 << 14)])
    if not bool(torch.isfinite(f).all()):
        raise ValueError("target: F* is not finite on some pool inputs")
    t = float(torch.quantile(f, q))
    if t <= 0:
        raise ValueError(f"the {q:g} quantile of abs(F*) is 0: no margin to condition on")
    return t


def rejection_sample(target, threshold: float, k: int, generator: torch.Generator, *,
                     c_min: float = 1.0, c_max: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, int]:
    """k draws of the law of x conditioned on abs(F*(x)) >= ``threshold``, by rejection: inputs of
    :func:`rnnbook.data.sample_sequences` are drawn from ``generator`` in batches of k and kept
    when abs(F*) >= threshold, until k are kept.  Returns X (k, L, d), y = sign F* (k,) (float64,
    CPU) and the number of candidates drawn up to and including the k-th kept one (so
    k / drawn estimates the acceptance probability P(abs(F*) >= threshold)).  A ``ValueError`` when
    more than 1000 k candidates give fewer than k kept ones (a threshold near or above sup abs(F*))."""
    target = _check_target(target)
    threshold = check_real(threshold, name="threshold", positive=True)
    k = check_int(k, name="k", minimum=1)
    c_min, c_max = check_norm_range(c_min, c_max)
    kept, got, drawn = [], 0, 0
    while got < k:
        X = sample_sequences(k, target.L, target.d, c_min=c_min, c_max=c_max, generator=generator)
        f = target(X)
        if not bool(torch.isfinite(f).all()):
            raise ValueError("target: F* is not finite on some samples")
        idx = torch.nonzero(f.abs() >= threshold)[:, 0]
        need = k - got
        if idx.numel() >= need:
            drawn += int(idx[need - 1]) + 1
            idx = idx[:need]
        else:
            drawn += k
        kept.append((X[idx], f[idx]))
        got += idx.numel()
        if got < k and drawn >= 1000 * k:
            raise ValueError(f"only {got} of {drawn} candidates have abs(F*) >= threshold = {threshold:g}: "
                             "the threshold is near or above sup abs(F*)")
    X = torch.cat([x for x, _ in kept])
    f = torch.cat([v for _, v in kept])
    return X, torch.where(f > 0, 1.0, -1.0).to(torch.float64), drawn


def population_margin(target, *, quantile: float, c_min: float = 1.0, c_max: float = 1.0,
                      pool: int = MARGIN_POOL, seed: int = 0) -> DataSource:
    """Theorem 2's hypothesis as a law: x as in :func:`population` conditioned on abs(F*(x)) >= t,
    t the ``quantile`` q of abs(F*) (:func:`margin_threshold` on ``pool`` inputs drawn with
    ``seed``), y = sign F*(x).  The source's ``target`` is F*/t, in the same class as F* (its
    psi scaled by 1/t), with y F*(x)/t >= 1 on every sample: the margin holds with probability 1,
    not just on a finite sample, and C* of F*/t is the complexity the theorem charges.  Samples
    come by :func:`rejection_sample` (acceptance probability 1 - q); test sets from the same
    conditioned law.  The stream version of :func:`rnnbook.data.margin_sample`."""
    target = _check_target(target)
    t = margin_threshold(target, quantile, c_min=c_min, c_max=c_max, pool=pool, seed=seed)
    c_min, c_max = check_norm_range(c_min, c_max)

    def draw(k, gen):
        X, y, _ = rejection_sample(target, t, k, gen, c_min=c_min, c_max=c_max)
        return X, y

    src = DataSource(target.L, target.d, False, "population", draw, target=target.scaled(1 / t),
                     description=f"population conditioned on abs(F*) >= t = {t:.4g} (the {quantile:g} "
                                 f"quantile), norms in [{c_min:g}, {c_max:g}]",
                     threshold=t, quantile=float(quantile))
    object.__setattr__(src, "test", src)
    return src


def _positions(target) -> set[int]:
    if isinstance(target, concepts.NVariableTarget):
        return set(target.positions)
    return {t.position for t in target.terms}


def population_labelling(targets: Sequence, *, c_min: float = 1.0, c_max: float = 1.0) -> DataSource:
    """Remark 3.2's per-position labels: x as in :func:`population`, y_l = sign F*_l(x) for
    l = 1..L, from a list of L targets.  Target l may only read X_1..X_l: either its length is l
    (it is evaluated on the prefix x_{1..l}) or it is L and every position it reads is <= l."""
    if isinstance(targets, (str, bytes)) or not isinstance(targets, Sequence):
        raise TypeError("targets must be a sequence of L targets (one per position)")
    targets = tuple(_check_target(t, name=f"targets[{k}]") for k, t in enumerate(targets))
    L = len(targets)
    if L == 0:
        raise ValueError("targets must not be empty")
    c_min, c_max = check_norm_range(c_min, c_max)
    d = targets[0].d
    prefix = []
    for l, t in enumerate(targets, start=1):
        if t.d != d:
            raise ValueError(f"targets[{l - 1}] has d = {t.d}, targets[0] has d = {d}")
        if t.L == l and l != L:
            prefix.append(True)
        elif t.L == L:
            late = sorted(p for p in _positions(t) if p > l)
            if late:
                raise ValueError(f"targets[{l - 1}] (position {l}) reads X at positions {late}: "
                                 f"target l may only read X_1..X_l")
            prefix.append(False)
        else:
            raise ValueError(f"targets[{l - 1}] has L = {t.L}; target l must have L = l ({l}) or "
                             f"L = len(targets) ({L})")

    def draw(k, gen):
        X = sample_sequences(k, L, d, c_min=c_min, c_max=c_max, generator=gen)
        y = torch.stack([_signs(t(X[:, :l] if pre else X), f"targets[{l - 1}]")
                         for l, (t, pre) in enumerate(zip(targets, prefix, strict=True), start=1)],
                        dim=1)
        return X, y

    src = DataSource(L, d, True, "population", draw, target=targets,
                     description=f"per-position population, norms in [{c_min:g}, {c_max:g}]")
    object.__setattr__(src, "test", src)
    return src


def finite(data, *, test: DataSource | None = None) -> DataSource:
    """A finite training set sampled uniformly with replacement (Algorithm 1's "randomly sample
    (x_t, y_t) from the data set").  ``data``: a :class:`rnnbook.data.LabelledData` or a
    tuple (X, y) with X (n, L, d) and y (n,) -- or (n, L) for per-position labels -- in {-1, +1}.

    Test sets come from ``test`` if given, else, for LabelledData drawn with ``method="rescale"``,
    from the population of its target (``method="reject"`` conditions the inputs on abs(F*) >=
    threshold, a law :func:`population` does not reproduce: pass ``test`` explicitly), else none."""
    target = None
    if isinstance(data, LabelledData):
        X = data.X.detach().to("cpu", torch.float64)
        y = _check_labels(data.y.detach().to("cpu"), (X.shape[0],), name="data.y", device="cpu")
        target = data.target
        if test is None and data.method == "rescale":
            test = population(data.target, c_min=data.c_min, c_max=data.c_max)
    elif isinstance(data, tuple) and len(data) == 2:
        X = check_sequences(data[0], name="X", dtype=torch.float64, device="cpu")
        n, L, _ = X.shape
        yy = as_tensor(data[1], name="y", dtype=torch.float64, device="cpu")
        y = _check_labels(yy, (n,) if yy.dim() <= 1 else (n, L), device="cpu")
    else:
        raise TypeError(f"data must be LabelledData or a tuple (X, y), got {type(data).__name__}")
    n, L, d = X.shape
    labelling = y.dim() == 2
    if test is not None:
        if not isinstance(test, DataSource):
            raise TypeError(f"test must be a DataSource, got {type(test).__name__}")
        if (test.L, test.d, test.labelling) != (L, d, labelling):
            raise ValueError(f"test gives (L, d, labelling) = {(test.L, test.d, test.labelling)}, the "
                             f"data {(L, d, labelling)}")

    def draw(k, gen):
        idx = torch.randint(n, (k,), generator=gen)
        return X[idx], y[idx]

    return DataSource(L, d, labelling, "finite", draw, test=test, target=target, n=n,
                      description=f"finite set of n = {n}, sampled with replacement")


def _check_source(source):
    if not isinstance(source, DataSource):
        raise TypeError(f"source must be a DataSource (population(...), population_labelling(...) or "
                        f"finite(...)), got {type(source).__name__}")
