"""The concept classes of Section 2.2 of the paper: input sequences, targets, complexities, labels.

* Inputs: ``X`` of shape (n, L, d), n sequences x = (X_1, ..., X_L) with
  ``c_min <= norm(X_l) <= c_max`` (:func:`rnnbook.data.sample_sequences`); C0 = c_max / c_min.
* Additive class, eq. (9): F*(x) = sum_l sum_r psi_{l,r}(beta_{l,r}^T X_l / norm(X_l)), with
  complexity (10): C(F*) = L^3.5 sum_{l,r} C(psi_{l,r}, C0 sqrt(L))  (:class:`AdditiveTarget`).
* N-variable class, eq. (11): F*(x) = sum_r psi_r(<beta_r, [X_{l_1}, ..., X_{l_N}]> /
  (sqrt(N) max_n norm(X_{l_n}))), with complexity (12):
  min(L^2 sum_r C_N(psi_r, C0 sqrt(L)), L^3.5 sum_r C(psi_r, 2^l0 C0 sqrt(L))),
  l0 = max_n l_n - min_n l_n  (:class:`NVariableTarget`).
* Labelled data for Theorem 2, which needs y_i F*(x_i) >= 1 for every sample
  (:func:`rnnbook.data.labelled_data`).

Positions are 1-based, as in the paper: position l is ``X[:, l - 1, :]``.

Complexities are carried as natural logarithms (:class:`Complexity`): the second branch of (12)
charges C(psi, 2^l0 C0 sqrt(L)), which for psi = exp is about exp(2^l0 sqrt(L)) and overflows
float64 already for l0 around 8 at L = 10.  Sums over terms are log-sum-exp; an infinite term
(R at or beyond the radius of convergence of its psi) makes the sum infinite.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from . import series
from .checks import as_tensor, check_int, check_positions, check_real, check_sequences
from .device import DEFAULT_DTYPE, resolve_generator, unit_vectors
from .series import PowerSeries

__all__ = ["BETA_NORM_SLACK", "Complexity", "AdditiveTerm", "AdditiveTarget", "NVariableTerm",
           "NVariableTarget", "Target", "additive_target", "n_variable_target",
           "random_additive_target", "random_n_variable_target", "long_range_pair", "complexity",
           "log_complexity_exponent", "input_law_z_scores", "sphere_coordinate_density",
           "spread_positions"]

# A vector normalised in floating point has norm 1 + O(eps); the constraint norm(beta) <= 1 of
# eqs. (9) and (11) is checked with this much slack so that such vectors are accepted.
BETA_NORM_SLACK = 1e-12
_LOG_FLOAT_MAX = math.log(sys.float_info.max)


# ----------------------------------------------------------------------------------------------
# Seeds and devices.


# ----------------------------------------------------------------------------------------------
# Input sequences.


def input_law_z_scores(X, c_min: float, c_max: float) -> dict[str, float]:
    """How far a sample of input sequences X (n, L, d) is from the law the book draws them from
    (Section 2.2 fixes only C_min <= norm(X_l) <= C_max; :func:`rnnbook.data.sample_sequences`
    draws every X_l independently, its direction u uniform on the sphere S^(d-1) and its norm
    uniform on [c_min, c_max]).  Three sample means over the m = n L vectors, each minus its
    expectation and divided by its standard error under that law:

    * the mean norm: E = (c_min + c_max) / 2, Var = (c_max - c_min)^2 / 12;
    * the mean of the direction's first coordinate u_1: E = 0, Var = 1/d;
    * the mean of u_1^2: E = 1/d, Var = E u_1^4 - 1/d^2 = 3/(d(d+2)) - 1/d^2.

    Returns ``{"mean norm": z, "mean u_1": z, "mean u_1^2": z}``; each is about standard normal
    when X follows the law (central limit theorem)."""
    X = check_sequences(X, name="X")
    c_min = check_real(c_min, name="c_min", positive=True)
    c_max = check_real(c_max, name="c_max", positive=True)
    if c_max <= c_min:
        raise ValueError(f"c_max must exceed c_min, got [{c_min}, {c_max}]")
    d = X.shape[-1]
    norms = torch.linalg.vector_norm(X, dim=-1).flatten().cpu().numpy()
    u1 = X[..., 0].flatten().cpu().numpy() / norms
    m = norms.size
    return {
        "mean norm": (norms.mean() - (c_min + c_max) / 2) / math.sqrt((c_max - c_min) ** 2 / 12 / m),
        "mean u_1": u1.mean() / math.sqrt(1 / d / m),
        "mean u_1^2": (np.mean(u1**2) - 1 / d) / math.sqrt((3 / (d * (d + 2)) - 1 / d**2) / m),
    }


def sphere_coordinate_density(t, d: int):
    """The density of one coordinate u_1 of a point uniform on the unit sphere S^(d-1) of R^d,
    Gamma(d/2) / (sqrt(pi) Gamma((d-1)/2)) (1 - t^2)^((d-3)/2) on (-1, 1): uniform for d = 3, the
    arcsine law for d = 2, close to N(0, 1/d) for large d.  ``t`` is a float or numpy array."""
    d = check_int(d, name="d", minimum=2)
    t = np.asarray(t, dtype=np.float64)
    return (math.gamma(d / 2) / (math.sqrt(math.pi) * math.gamma((d - 1) / 2))
            * (1 - t**2) ** ((d - 3) / 2))


def spread_positions(L: int, N: int) -> list[int]:
    """N positions (1-based) spread evenly over 1..L, from 1 to L: round(1 + k (L-1)/(N-1)),
    k = 0..N-1 (just position 1 for N = 1), for N-variable targets of eq. (11) whose span
    l0 = L - 1 is the largest a sequence of length L allows.  Needs 1 <= N <= L (then the N
    positions are distinct)."""
    L = check_int(L, name="L", minimum=1)
    N = check_int(N, name="N", minimum=1)
    if N > L:
        raise ValueError(f"N must be at most L = {L} (distinct positions), got {N}")
    return sorted({int(round(1 + k * (L - 1) / max(N - 1, 1))) for k in range(N)})


# ----------------------------------------------------------------------------------------------
# Complexities.


def _logsumexp(values: Iterable[float]) -> float:
    vals = list(values)
    if any(math.isinf(v) for v in vals):
        return math.inf
    m = max(vals)
    return m + math.log(math.fsum(math.exp(v - m) for v in vals))


@dataclasses.dataclass(frozen=True)
class Complexity:
    """C(F*) of eq. (10) or (12), kept as a natural logarithm.

    For eq. (12) both branches are kept: ``log_n_branch`` = log(L^2 sum_r C_N(psi_r, C0 sqrt(L)))
    (exponential in N) and ``log_l0_branch`` = log(L^3.5 sum_r C(psi_r, 2^l0 C0 sqrt(L)))
    (exponential in l0 or worse); ``winner`` is ``"N"`` or ``"l0"``, the branch attaining the
    minimum (``"N"`` on a tie, None when both are infinite).  For eq. (10) the three are None.
    ``math.inf`` means infinite (a radius of convergence was reached), never "too large"."""

    equation: str
    log_value: float
    log_n_branch: float | None = None
    log_l0_branch: float | None = None
    winner: str | None = None

    @property
    def value(self) -> float:
        """C(F*) as a float; ``OverflowError`` when finite but beyond float64."""
        return _exp_or_overflow(self.log_value, f"C(F*) of eq. {self.equation}")

    @property
    def log10(self) -> float:
        """log10 C(F*)."""
        return self.log_value / math.log(10)


def _exp_or_overflow(log_value: float, what: str) -> float:
    if math.isinf(log_value):
        return math.inf
    if log_value > _LOG_FLOAT_MAX:
        raise OverflowError(f"{what} = 10^{log_value / math.log(10):.1f} exceeds float64; use the "
                            "log_value")
    return math.exp(log_value)


def _check_c0(c0: Any) -> float:
    c0 = check_real(c0, name="c0", positive=True)
    if c0 < 1:
        raise ValueError(f"c0 = c_max / c_min must be >= 1, got {c0}")
    return c0


# ----------------------------------------------------------------------------------------------
# Targets.


def _check_psi(psi: Any, *, name: str) -> PowerSeries:
    if not isinstance(psi, PowerSeries):
        raise TypeError(f"{name} must be a rnnbook.series.PowerSeries, got {type(psi).__name__}")
    return psi


def _check_beta(beta: Any, *, name: str, length: int, psi: PowerSeries) -> torch.Tensor:
    # Stored on the CPU, whatever the default device, so that every term of a target lives in one
    # place; evaluation moves the stacked betas to the inputs' device.
    b = as_tensor(beta, name=name, dtype=DEFAULT_DTYPE, device="cpu")
    if b.ndim != 1 or b.shape[0] != length:
        raise ValueError(f"{name} must be a vector of length {length}, got shape {tuple(b.shape)}")
    norm = float(torch.linalg.vector_norm(b))
    if norm > 1 + BETA_NORM_SLACK:
        raise ValueError(f"{name} must have norm(beta) <= 1 (eqs. (9), (11)), got {norm:.6g}")
    # The argument of psi ranges over [-norm(beta), norm(beta)]; the series must converge there
    # for F* to be the analytic function the class is made of.
    if psi.degree is None and not norm < psi.radius:
        raise ValueError(f"{name}: norm(beta) = {norm:.6g} reaches the radius of convergence "
                         f"{psi.radius:g} of psi = {psi.name}")
    return b


def _evaluate(psis: Sequence[PowerSeries], z: torch.Tensor) -> torch.Tensor:
    """sum_r psis[r](z[:, r]), evaluating each distinct psi once on all of its columns."""
    out = torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
    groups: dict[int, list[int]] = {}
    for r, psi in enumerate(psis):
        groups.setdefault(id(psi), []).append(r)
    for cols in groups.values():
        psi = psis[cols[0]]
        out = out + psi(z[:, cols]).sum(dim=1)
    return out


def _scaled_psis(psis: Sequence[PowerSeries], s: float) -> list[PowerSeries]:
    cache: dict[int, PowerSeries] = {}
    return [cache.setdefault(id(p), p.times(s)) for p in psis]


def _sup_bound(psis: Sequence[PowerSeries], betas: Sequence[torch.Tensor]) -> float:
    # abs(psi(z)) <= psi~(abs(z)) <= psi~(norm(beta)): the majorant is increasing on [0, radius).
    total = series.mp.fsum(p.majorant(series.mp.mpf(float(torch.linalg.vector_norm(b))))
                           for p, b in zip(psis, betas, strict=True))
    return float(total)


@dataclasses.dataclass(frozen=True, eq=False)
class AdditiveTerm:
    """One term psi(beta^T X_l / norm(X_l)) of eq. (9); ``position`` l is 1-based."""

    position: int
    psi: PowerSeries
    beta: torch.Tensor


@dataclasses.dataclass(frozen=True, eq=False)
class AdditiveTarget:
    """F*(x) = sum_l sum_r psi_{l,r}(beta_{l,r}^T X_l / norm(X_l)), eq. (9).

    ``terms`` is a tuple of :class:`AdditiveTerm` (any number per position, positions 1..L);
    every beta has length d and norm at most 1.  Build with :func:`additive_target` or
    :func:`random_additive_target`."""

    L: int
    d: int
    terms: tuple[AdditiveTerm, ...]

    def __post_init__(self):
        L = check_int(self.L, name="L", minimum=1)
        d = check_int(self.d, name="d", minimum=1)
        terms = tuple(self.terms)
        if not terms:
            raise ValueError("terms must contain at least one term (F* = 0 has no labels)")
        checked = []
        for k, t in enumerate(terms):
            if not isinstance(t, AdditiveTerm):
                raise TypeError(f"terms[{k}] must be an AdditiveTerm, got {type(t).__name__}")
            pos = check_int(t.position, name=f"terms[{k}].position")
            if not 1 <= pos <= L:
                raise ValueError(f"terms[{k}].position must be in 1..L = 1..{L} (1-based, as in "
                                 f"the paper), got {pos}")
            psi = _check_psi(t.psi, name=f"terms[{k}].psi")
            beta = _check_beta(t.beta, name=f"terms[{k}].beta", length=d, psi=psi)
            checked.append(AdditiveTerm(pos, psi, beta))
        object.__setattr__(self, "L", L)
        object.__setattr__(self, "d", d)
        object.__setattr__(self, "terms", tuple(checked))

    def __call__(self, X) -> torch.Tensor:
        """F*(x) for every sequence of ``X`` (n, L, d); shape (n,), on X's device and dtype."""
        X = check_sequences(X, name="X", L=self.L, d=self.d)
        pos = torch.tensor([t.position - 1 for t in self.terms], device=X.device)
        B = torch.stack([t.beta for t in self.terms]).to(device=X.device, dtype=X.dtype)
        U = X[:, pos, :]  # (n, T, d): the input each term reads
        norms = torch.linalg.vector_norm(U, dim=-1)
        if bool((norms == 0).any()):
            raise ValueError("X has a zero vector: X_l / norm(X_l) in eq. (9) is undefined")
        z = (U * B).sum(dim=-1) / norms
        return _evaluate([t.psi for t in self.terms], z)

    def complexity(self, c0: float, *, c1: float = 100.0) -> Complexity:
        """C(F*) = L^3.5 sum_{l,r} C(psi_{l,r}, C0 sqrt(L)), eq. (10).

        ``c1`` is accepted for a signature shared with :meth:`NVariableTarget.complexity` and is
        not used by eq. (10)."""
        c0 = _check_c0(c0)
        check_real(c1, name="c1", positive=True)
        R = c0 * math.sqrt(self.L)
        logs = [series.log_complexity(t.psi, R) for t in self.terms]
        return Complexity("(10)", 3.5 * math.log(self.L) + _logsumexp(logs))

    def scaled(self, s: float) -> AdditiveTarget:
        """s F*: every psi replaced by s psi (betas unchanged)."""
        s = check_real(s, name="s", positive=True)
        psis = _scaled_psis([t.psi for t in self.terms], s)
        return AdditiveTarget(self.L, self.d, tuple(AdditiveTerm(t.position, p, t.beta)
                                                    for t, p in zip(self.terms, psis, strict=True)))

    def sup_bound(self) -> float:
        """An upper bound on sup abs(F*): sum of psi~(norm(beta)) over the terms (majorants)."""
        return _sup_bound([t.psi for t in self.terms], [t.beta for t in self.terms])


@dataclasses.dataclass(frozen=True, eq=False)
class NVariableTerm:
    """One term psi(<beta, [X_{l_1}, ..., X_{l_N}]> / (sqrt(N) max_n norm(X_{l_n}))) of eq. (11)."""

    psi: PowerSeries
    beta: torch.Tensor


@dataclasses.dataclass(frozen=True, eq=False)
class NVariableTarget:
    """F*(x) = sum_r psi_r(<beta_r, [X_{l_1}, ..., X_{l_N}]> / (sqrt(N) max_n norm(X_{l_n}))), eq. (11).

    ``positions`` (l_1, ..., l_N) are distinct and 1-based; beta_r has length d N, laid out as the
    concatenation [X_{l_1}, ..., X_{l_N}] (in the order of ``positions``), and norm at most 1.
    Build with :func:`n_variable_target`, :func:`random_n_variable_target` or
    :func:`long_range_pair`."""

    L: int
    d: int
    positions: tuple[int, ...]
    terms: tuple[NVariableTerm, ...]

    def __post_init__(self):
        L = check_int(self.L, name="L", minimum=1)
        d = check_int(self.d, name="d", minimum=1)
        if isinstance(self.positions, (int, str, bytes)) or not hasattr(self.positions, "__len__"):
            raise TypeError("positions must be a sequence of ints")
        positions = tuple(check_positions(self.positions, L=L))
        terms = tuple(self.terms)
        if not terms:
            raise ValueError("terms must contain at least one term (F* = 0 has no labels)")
        checked = []
        for k, t in enumerate(terms):
            if not isinstance(t, NVariableTerm):
                raise TypeError(f"terms[{k}] must be an NVariableTerm, got {type(t).__name__}")
            psi = _check_psi(t.psi, name=f"terms[{k}].psi")
            beta = _check_beta(t.beta, name=f"terms[{k}].beta", length=d * len(positions), psi=psi)
            checked.append(NVariableTerm(psi, beta))
        object.__setattr__(self, "L", L)
        object.__setattr__(self, "d", d)
        object.__setattr__(self, "positions", positions)
        object.__setattr__(self, "terms", tuple(checked))

    @property
    def N(self) -> int:
        """The number of positions the target reads."""
        return len(self.positions)

    @property
    def l0(self) -> int:
        """l0 = max(l_1..l_N) - min(l_1..l_N), the span of the positions (Section 2.2)."""
        return max(self.positions) - min(self.positions)

    def __call__(self, X) -> torch.Tensor:
        """F*(x) for every sequence of ``X`` (n, L, d); shape (n,), on X's device and dtype."""
        X = check_sequences(X, name="X", L=self.L, d=self.d)
        idx = torch.tensor([p - 1 for p in self.positions], device=X.device)
        Z = X[:, idx, :]  # (n, N, d)
        scale = math.sqrt(self.N) * torch.linalg.vector_norm(Z, dim=-1).amax(dim=1)
        if bool((scale == 0).any()):
            raise ValueError("X is zero at every position of the target: eq. (11) is undefined")
        B = torch.stack([t.beta for t in self.terms]).to(device=X.device, dtype=X.dtype)
        z = (Z.reshape(Z.shape[0], -1) @ B.T) / scale[:, None]
        return _evaluate([t.psi for t in self.terms], z)

    def complexity(self, c0: float, *, c1: float = 100.0) -> Complexity:
        """C(F*) = min(L^2 sum_r C_N(psi_r, C0 sqrt(L)), L^3.5 sum_r C(psi_r, 2^l0 C0 sqrt(L))), eq. (12).

        C_N is eq. (7) with the target's L and the constant ``c1`` (the paper's C1 > 100; 100 is
        the infimum) and the reading n_k >= 0 of :func:`rnnbook.series.complexity_n`.  The paper
        writes C_N(psi_r, ...) without a sum over r inside the min; the sum is what the proof
        (eqs. (35)-(37)) bounds for a sum of terms, and for a single term the two agree.
        ``OverflowError`` if 2^l0 C0 sqrt(L) itself exceeds float64 (l0 above about 1000)."""
        c0 = _check_c0(c0)
        c1 = check_real(c1, name="c1", positive=True)
        L, N = self.L, self.N
        R = c0 * math.sqrt(L)
        try:
            R_shift = math.ldexp(R, self.l0)
        except OverflowError:
            raise OverflowError(f"2^l0 C0 sqrt(L) with l0 = {self.l0} exceeds float64") from None
        psis = [t.psi for t in self.terms]
        log_n = 2 * math.log(L) + _logsumexp(
            series.log_complexity_n(p, R, N=N, L=L, C1=c1) for p in psis)
        log_l0 = 3.5 * math.log(L) + _logsumexp(series.log_complexity(p, R_shift) for p in psis)
        if math.isinf(log_n) and math.isinf(log_l0):
            winner = None
        else:
            winner = "N" if log_n <= log_l0 else "l0"
        return Complexity("(12)", min(log_n, log_l0), log_n, log_l0, winner)

    def scaled(self, s: float) -> NVariableTarget:
        """s F*: every psi replaced by s psi (betas unchanged)."""
        s = check_real(s, name="s", positive=True)
        psis = _scaled_psis([t.psi for t in self.terms], s)
        return NVariableTarget(self.L, self.d, self.positions,
                               tuple(NVariableTerm(p, t.beta) for t, p in zip(self.terms, psis, strict=True)))

    def sup_bound(self) -> float:
        """An upper bound on sup abs(F*): sum of psi~(norm(beta)) over the terms (majorants)."""
        return _sup_bound([t.psi for t in self.terms], [t.beta for t in self.terms])


Target = AdditiveTarget | NVariableTarget


def _pairs(terms: Any, *, arity: int, what: str) -> list[tuple]:
    if isinstance(terms, (str, bytes)) or not isinstance(terms, Iterable):
        raise TypeError(f"terms must be an iterable of {what} tuples")
    out = []
    for k, t in enumerate(terms):
        if not isinstance(t, (tuple, list)) or len(t) != arity:
            raise TypeError(f"terms[{k}] must be a {what} tuple, got {t!r}")
        out.append(tuple(t))
    return out


def additive_target(L: int, d: int, terms: Iterable[tuple[int, PowerSeries, Any]]) -> AdditiveTarget:
    """The additive target of eq. (9) from ``(l, psi, beta)`` triples (l 1-based, beta of length d)."""
    triples = _pairs(terms, arity=3, what="(l, psi, beta)")
    return AdditiveTarget(L, d, tuple(AdditiveTerm(pos, psi, beta) for pos, psi, beta in triples))


def n_variable_target(L: int, d: int, positions: Sequence[int],
                      terms: Iterable[tuple[PowerSeries, Any]]) -> NVariableTarget:
    """The N-variable target of eq. (11) from 1-based ``positions`` and ``(psi, beta)`` pairs."""
    pairs = _pairs(terms, arity=2, what="(psi, beta)")
    return NVariableTarget(L, d, positions, tuple(NVariableTerm(psi, beta) for psi, beta in pairs))


def _psi_choices(psi: Any) -> list[PowerSeries]:
    if isinstance(psi, PowerSeries):
        return [psi]
    if isinstance(psi, (str, bytes)) or not isinstance(psi, Sequence) or not psi:
        raise TypeError("psi must be a PowerSeries or a non-empty sequence of them")
    return [_check_psi(p, name=f"psi[{k}]") for k, p in enumerate(psi)]


def _target_generator(generator: torch.Generator | None, seed: int | None) -> torch.Generator:
    # Seeded targets are drawn on the CPU so that a seed names the same target on every machine.
    return resolve_generator(generator, seed, "cpu" if generator is None else None)


def _random_terms(count: int, length: int, psi: Any, beta_norm: float,
                  gen: torch.Generator) -> tuple[list[PowerSeries], torch.Tensor]:
    choices = _psi_choices(psi)
    if len(choices) == 1:
        picked = choices * count
    else:
        idx = torch.randint(len(choices), (count,), generator=gen, device=gen.device)
        picked = [choices[int(i)] for i in idx]
    betas = beta_norm * unit_vectors((count,), length, gen, DEFAULT_DTYPE)
    return picked, betas


def _check_beta_norm(beta_norm: Any) -> float:
    b = check_real(beta_norm, name="beta_norm", positive=True)
    if b > 1:
        raise ValueError(f"beta_norm must be <= 1 (norm(beta) <= 1 in eqs. (9), (11)), got {b}")
    return b


def random_additive_target(L: int, d: int, psi: PowerSeries | Sequence[PowerSeries], *,
                           terms_per_position: int = 1, positions: Sequence[int] | None = None,
                           beta_norm: float = 1.0, generator: torch.Generator | None = None,
                           seed: int | None = None) -> AdditiveTarget:
    """A random additive target, eq. (9): ``terms_per_position`` terms at each of ``positions``
    (default: every position 1..L), each with beta uniform on the sphere of radius ``beta_norm``
    and psi drawn uniformly from ``psi`` (a PowerSeries or a sequence of them)."""
    L = check_int(L, name="L", minimum=1)
    d = check_int(d, name="d", minimum=1)
    k = check_int(terms_per_position, name="terms_per_position", minimum=1)
    beta_norm = _check_beta_norm(beta_norm)
    if positions is None:
        positions = range(1, L + 1)
    positions = check_positions(positions, L=L, distinct=False)
    gen = _target_generator(generator, seed)
    ls = [p for p in positions for _ in range(k)]
    psis, betas = _random_terms(len(ls), d, psi, beta_norm, gen)
    return AdditiveTarget(L, d, tuple(AdditiveTerm(pos, p, b)
                                      for pos, p, b in zip(ls, psis, betas, strict=True)))


def random_n_variable_target(L: int, d: int, positions: Sequence[int],
                             psi: PowerSeries | Sequence[PowerSeries], *, n_terms: int = 1,
                             beta_norm: float = 1.0, generator: torch.Generator | None = None,
                             seed: int | None = None) -> NVariableTarget:
    """A random N-variable target, eq. (11), on the 1-based ``positions``: ``n_terms`` terms, each
    with beta in R^{dN} uniform on the sphere of radius ``beta_norm`` and psi drawn uniformly from
    ``psi``."""
    n_terms = check_int(n_terms, name="n_terms", minimum=1)
    beta_norm = _check_beta_norm(beta_norm)
    if isinstance(positions, (str, bytes)) or not hasattr(positions, "__len__"):
        raise TypeError("positions must be a sequence of ints")
    d = check_int(d, name="d", minimum=1)
    gen = _target_generator(generator, seed)
    psis, betas = _random_terms(n_terms, d * len(positions), psi, beta_norm, gen)
    return NVariableTarget(L, d, tuple(positions),
                           tuple(NVariableTerm(p, b) for p, b in zip(psis, betas, strict=True)))


def long_range_pair(L: int, d: int, l0: int, psi: PowerSeries, *, start: int = 1,
                    beta_norm: float = 1.0, generator: torch.Generator | None = None,
                    seed: int | None = None) -> NVariableTarget:
    """The pair target of Remark 2.2, psi(beta^T [X_l, X_{l+l0}] / (sqrt(2) max norm)), l = ``start``.

    Remark 2.2 writes f(beta^T [X_l, X_{l+l0}]) without the normalisation; as a member of the
    class (11) it carries it.  Needs 1 <= l0 and start + l0 <= L (1-based positions)."""
    L = check_int(L, name="L", minimum=2)
    l0 = check_int(l0, name="l0", minimum=1)
    start = check_int(start, name="start", minimum=1)
    if start + l0 > L:
        raise ValueError(f"l0 must satisfy start + l0 <= L, got start={start}, l0={l0}, L={L}")
    return random_n_variable_target(L, d, (start, start + l0), _check_psi(psi, name="psi"),
                                    beta_norm=beta_norm, generator=generator, seed=seed)


def complexity(target: Target, c0: float, *, c1: float = 100.0) -> Complexity:
    """C(F*) of eq. (10) (additive target) or eq. (12) (N-variable target); see :class:`Complexity`."""
    if not isinstance(target, (AdditiveTarget, NVariableTarget)):
        raise TypeError(f"target must be an AdditiveTarget or NVariableTarget, got {type(target).__name__}")
    return target.complexity(c0, c1=c1)


def log_complexity_exponent(psi: PowerSeries) -> float:
    """The exponent e with log C(F*) = L^(e + o(1)) as L -> infinity, for targets built from one
    ``psi`` with C0, N and the number of terms per position fixed: e = rho / 2, rho the order of
    growth of C(psi, R) in R (:func:`rnnbook.series.growth_order`).

    How L enters: eq. (10) is L^3.5 sum_{l,r} C(psi, C0 sqrt(L)), so log C(F*) = O(log L) +
    (C0 sqrt(L))^(rho + o(1)). In eq. (12) the N-branch L^2 C_N(psi, C0 sqrt(L)) of eq. (7) carries
    L^(1.5N) C1^N (log: O(log L)) times sum_i sqrt(C_{N,i}) (i/N)^N abs(c_i) R^i, which lies between
    sum_i i^N abs(c_i) R^i N^-N and the same with sqrt(N) R (1 <= sqrt(C_{N,i}) <= N^(i/2)); both
    have the order rho of psi~, so this branch also grows like sqrt(L)^rho. The l0-branch
    L^3.5 C(psi, 2^l0 C0 sqrt(L)) does the same for a fixed l0 and is larger for l0 growing with L,
    and C(F*) is the minimum. Hence e = rho / 2 for eq. (10) and for eq. (12) at every span: 0 for
    a polynomial psi (C(F*) is then a polynomial in L), 1/2 for exp, sin, cos (exp(c sqrt(L)));
    exponential growth in L would give 1. ``math.inf`` for a finite radius of convergence: then
    C(F*) is infinite once C0 sqrt(L) (or sqrt(N) C0 sqrt(L)) reaches it."""
    return series.growth_order(_check_psi(psi, name="psi")) / 2


# ----------------------------------------------------------------------------------------------
# Labelled data with a margin (Theorem 2 needs y_i F*(x_i) >= 1 for every sample).


