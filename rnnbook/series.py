"""Analytic functions as power series, and the complexities of Section 2.1 of the paper.

A :class:`PowerSeries` psi(z) = sum_i c_i z^i carries its coefficients (exact to ``MP_DPS``
decimal digits through mpmath), its radius of convergence, a closed form for evaluation, and its
*majorant* psi~(r) = sum_i abs(c_i) r^i in closed form.  The majorant is what makes the complexity of
eq. (6) exact:

    C(psi, R) = 1 + sum_{i>=1} i abs(c_i) R^i = 1 + R psi~'(R),

so for every family here C(psi, R) is a closed form, infinite once R reaches the radius of
convergence.  C_N(psi, R) of eq. (7) has no closed form; it is summed term by term with a
certified bound on the tail (see :func:`complexity_n_series`).  The majorant also certifies tails:
each term obeys abs(c_i) rho^i <= psi~(rho) for any rho below the radius (Cauchy-type bound).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

import mpmath
import numpy as np
import torch

from .checks import check_int, check_real

__all__ = ["MP_DPS", "Majorant", "PowerSeries", "exp", "sin", "cos", "arctan", "arcsin", "log1p",
           "geometric", "polynomial", "monomial", "FAMILIES", "SeriesSum", "log_complexity",
           "complexity", "growth_order", "complexity_series", "closed_form_discrepancy",
           "largest_multinomial",
           "complexity_n_series", "complexity_n", "log_complexity_n"]

MP_DPS = 40  # working precision of coefficient arithmetic, in decimal digits
# A private context, so that importing rnnbook leaves mpmath's global precision alone.
mp = mpmath.MPContext()
mp.dps = MP_DPS

Majorant = Callable[[Any], Any]


def _apply(z: Any, np_fn: Callable, torch_fn: Callable):
    """Evaluate with torch for tensors (keeping device and dtype) and numpy otherwise."""
    if isinstance(z, torch.Tensor):
        return torch_fn(z)
    return np_fn(np.asarray(z, dtype=np.float64))


@dataclasses.dataclass(frozen=True)
class PowerSeries:
    """psi(z) = sum_{i>=0} c_i z^i.

    Fields:

    * ``name``: how the book prints it, e.g. ``"arctan(z/2)"``.
    * ``coefficient``: i -> c_i as an mpmath number (exact to ``MP_DPS`` digits).
    * ``radius``: radius of convergence (``math.inf`` for entire functions).
    * ``majorant``: r -> sum_i abs(c_i) r^i for 0 <= r < radius, in closed form.
    * ``majorant_derivative``: r -> sum_i i abs(c_i) r^(i-1), in closed form.
    * ``func``: closed form of psi for float arrays / tensors (None: evaluate by partial sums).
    * ``degree``: the degree for a polynomial, None for an infinite series.
    * ``order``: for an entire infinite series, the order rho of its majorant,
      log psi~(r) = r^(rho + o(1)) as r -> infinity (1 for exp, sin, cos); None when not known.
      See :func:`growth_order`.
    """

    name: str
    coefficient: Callable[[int], Any]
    radius: float
    majorant: Majorant
    majorant_derivative: Majorant
    func: Callable[[Any], Any] | None = None
    degree: int | None = None
    order: float | None = None

    def __repr__(self) -> str:
        return f"PowerSeries({self.name}, radius={self.radius})"

    def coefficients(self, n: int) -> np.ndarray:
        """c_0..c_{n-1} as float64."""
        n = check_int(n, name="n", minimum=0)
        return np.array([float(self.coefficient(i)) for i in range(n)], dtype=np.float64)

    def __call__(self, z):
        """psi(z) for a scalar, numpy array or torch tensor (closed form)."""
        if self.func is None:
            if self.degree is None:
                raise ValueError(f"{self.name} has no closed form; use partial_sum")
            return self.partial_sum(z, self.degree + 1)
        return self.func(z)

    def partial_sum(self, z, n_terms: int):
        """sum_{i<n_terms} c_i z^i by Horner's rule (numpy or torch, like ``z``)."""
        n_terms = check_int(n_terms, name="n_terms", minimum=1)
        coeffs = [float(self.coefficient(i)) for i in range(n_terms)]
        zz = z if isinstance(z, torch.Tensor) else np.asarray(z, dtype=np.float64)
        acc = zz * 0.0 + coeffs[-1]
        for c in reversed(coeffs[:-1]):
            acc = acc * zz + c
        return acc

    def scaled(self, a: float) -> PowerSeries:
        """z -> psi(a z): coefficients c_i a^i, radius / abs(a)."""
        a = check_real(a, name="a")
        if a == 0:
            raise ValueError("a must be non-zero (psi(0 z) is the constant c_0)")
        am = mp.mpf(a)
        aa = abs(am)
        f = self.func
        return PowerSeries(
            name=f"{self.name}[z -> {a:g} z]",
            coefficient=lambda i: self.coefficient(i) * am**i,
            radius=self.radius / abs(a),
            majorant=lambda r: self.majorant(aa * r),
            majorant_derivative=lambda r: aa * self.majorant_derivative(aa * r),
            func=None if f is None else (lambda z: f(z * a)),
            degree=self.degree,
            order=self.order,
        )

    def times(self, c: float) -> PowerSeries:
        """c * psi (e.g. a target rescaled to reach a margin)."""
        c = check_real(c, name="c")
        cm = mp.mpf(c)
        ac = abs(cm)
        f = self.func
        return PowerSeries(
            name=f"{c:g}*{self.name}",
            coefficient=lambda i: cm * self.coefficient(i),
            radius=self.radius if c != 0 else math.inf,
            majorant=lambda r: ac * self.majorant(r),
            majorant_derivative=lambda r: ac * self.majorant_derivative(r),
            func=None if f is None else (lambda z: c * f(z)),
            degree=self.degree if c != 0 else 0,
            order=self.order if c != 0 else None,
        )


# ----------------------------------------------------------------------------------------------
# Families.  Each majorant below is sum abs(c_i) r^i summed in closed form; tests check it against the
# coefficients term by term.


def exp() -> PowerSeries:
    """exp(z) = sum z^i / i!; majorant e^r, so C(exp, R) = 1 + R e^R."""
    return PowerSeries(
        name="exp(z)",
        coefficient=lambda i: 1 / mp.factorial(i),
        radius=math.inf,
        majorant=mp.exp,
        majorant_derivative=mp.exp,
        func=lambda z: _apply(z, np.exp, torch.exp),
        order=1.0,
    )


def sin() -> PowerSeries:
    """sin(z); majorant sinh r, so C(sin, R) = 1 + R cosh R."""

    def c(i: int):
        return mp.mpf(0) if i % 2 == 0 else (-1) ** ((i - 1) // 2) / mp.factorial(i)

    return PowerSeries("sin(z)", c, math.inf, mp.sinh, mp.cosh,
                       func=lambda z: _apply(z, np.sin, torch.sin), order=1.0)


def cos() -> PowerSeries:
    """cos(z); majorant cosh r, so C(cos, R) = 1 + R sinh R."""

    def c(i: int):
        return mp.mpf(0) if i % 2 == 1 else (-1) ** (i // 2) / mp.factorial(i)

    return PowerSeries("cos(z)", c, math.inf, mp.cosh, mp.sinh,
                       func=lambda z: _apply(z, np.cos, torch.cos), order=1.0)


def arctan(scale: float = 1.0) -> PowerSeries:
    """arctan(z / scale) = sum_k (-1)^k z^(2k+1) / ((2k+1) scale^(2k+1)), radius ``scale``.

    Majorant artanh(r / scale), so C = 1 + scale R / (scale^2 - R^2) for R < scale.  Example 2.1 of
    the paper is ``arctan(2)``."""
    s = check_real(scale, name="scale", positive=True)
    sm = mp.mpf(s)

    def c(i: int):
        if i % 2 == 0:
            return mp.mpf(0)
        return (-1) ** ((i - 1) // 2) / (i * sm**i)

    return PowerSeries(
        name=f"arctan(z/{s:g})" if s != 1 else "arctan(z)",
        coefficient=c,
        radius=s,
        majorant=lambda r: mp.atanh(r / sm),
        majorant_derivative=lambda r: sm / (sm**2 - r**2),
        func=lambda z: _apply(z, lambda x: np.arctan(x / s), lambda x: torch.atan(x / s)),
    )


def arcsin() -> PowerSeries:
    """arcsin(z) = sum_k binom(2k, k) z^(2k+1) / (4^k (2k+1)), radius 1, all c_i >= 0.

    Its coefficients are non-negative, so by Proposition 2.3 Sigma(rho) = 1/2 + arcsin(rho)/pi of
    eq. (28) is positive definite on the sphere."""

    def c(i: int):
        if i % 2 == 0:
            return mp.mpf(0)
        k = (i - 1) // 2
        return mp.binomial(2 * k, k) / (mp.mpf(4) ** k * i)

    return PowerSeries("arcsin(z)", c, 1.0, mp.asin, lambda r: 1 / mp.sqrt(1 - r**2),
                       func=lambda z: _apply(z, np.arcsin, torch.asin))


def log1p() -> PowerSeries:
    """log(1 + z) = sum_{i>=1} (-1)^(i+1) z^i / i, radius 1; majorant -log(1 - r)."""

    def c(i: int):
        return mp.mpf(0) if i == 0 else mp.mpf((-1) ** (i + 1)) / i

    return PowerSeries("log(1+z)", c, 1.0, lambda r: -mp.log(1 - r), lambda r: 1 / (1 - r),
                       func=lambda z: _apply(z, np.log1p, torch.log1p))


def geometric() -> PowerSeries:
    """1 / (1 - z) = sum z^i, radius 1; its own majorant."""
    return PowerSeries("1/(1-z)", lambda i: mp.mpf(1), 1.0, lambda r: 1 / (1 - r),
                       lambda r: 1 / (1 - r) ** 2,
                       func=lambda z: _apply(z, lambda x: 1 / (1 - x), lambda x: 1 / (1 - x)))


def polynomial(coeffs: Sequence[float], name: str | None = None) -> PowerSeries:
    """The polynomial sum_i coeffs[i] z^i (entire; complexities are finite sums)."""
    if isinstance(coeffs, (str, bytes)) or not hasattr(coeffs, "__len__"):
        raise TypeError("coeffs must be a sequence of real numbers")
    cs = [check_real(c, name=f"coeffs[{i}]") for i, c in enumerate(coeffs)]
    if not cs:
        raise ValueError("coeffs must contain at least one coefficient")
    while len(cs) > 1 and cs[-1] == 0.0:
        cs.pop()
    mp_cs = [mp.mpf(c) for c in cs]
    deg = len(cs) - 1

    def c(i: int):
        return mp_cs[i] if i <= deg else mp.mpf(0)

    if name is None:
        name = " + ".join(f"{v:g} z^{i}" for i, v in enumerate(cs) if v != 0) or "0"
    return PowerSeries(
        name=name,
        coefficient=c,
        radius=math.inf,
        majorant=lambda r: mp.fsum(abs(a) * r**i for i, a in enumerate(mp_cs)),
        majorant_derivative=lambda r: mp.fsum(i * abs(a) * r ** (i - 1)
                                                  for i, a in enumerate(mp_cs) if i > 0),
        func=None,
        degree=deg,
    )


def monomial(p: int, c: float = 1.0) -> PowerSeries:
    """c z^p; C(c z^p, R) = 1 + p abs(c) R^p."""
    p = check_int(p, name="p", minimum=0)
    c = check_real(c, name="c")
    return polynomial([0.0] * p + [c], name=f"{c:g} z^{p}" if c != 1 else f"z^{p}")


FAMILIES: dict[str, Callable[[], PowerSeries]] = {
    "exp": exp,
    "sin": sin,
    "cos": cos,
    "arctan(z/2)": lambda: arctan(2.0),
    "arcsin": arcsin,
    "log1p": log1p,
    "geometric": geometric,
}


# ----------------------------------------------------------------------------------------------
# Complexities.


@dataclasses.dataclass(frozen=True)
class SeriesSum:
    """A non-negative series summed to ``n_terms`` terms with a certified tail bound.

    The true sum lies in [partial, partial + tail_bound]; ``value`` is the partial sum."""

    value: Any
    tail_bound: Any
    n_terms: int

    @property
    def relative_error_bound(self) -> float:
        return float(self.tail_bound / self.value) if self.value > 0 else 0.0


def _check_psi(psi: Any) -> PowerSeries:
    if not isinstance(psi, PowerSeries):
        raise TypeError(f"psi must be a PowerSeries, got {type(psi).__name__}")
    return psi


def _to_float(x: mp.mpf, what: str) -> float:
    if x > sys.float_info.max:
        raise OverflowError(f"{what} = 10^{float(mp.log10(x)):.1f} exceeds float64; use the "
                            "log_ variant of this function")
    return float(x)


def _certified_sum(term: Callable[[int], Any], bound: Callable[[int], Any],
                   ratio: Callable[[int], Any], *, start: int, rtol: float,
                   max_terms: int) -> SeriesSum:
    """Sum term(i), i >= start, until the tail after K is provably below rtol * partial sum.

    ``bound(i) >= term(i)`` for all i, and for i > K the bounds decay at least geometrically with
    ratio ``ratio(K) < 1``, so the tail is at most bound(K+1) / (1 - ratio(K))."""
    total = mp.mpf(0)
    i = start
    while True:
        total += term(i)
        if i - start + 1 >= 4:
            q = ratio(i)
            if q < 1:
                tail = bound(i + 1) / (1 - q)
                if tail <= rtol * total or (total == 0 and tail == 0):
                    return SeriesSum(total, tail, i - start + 1)
        if i - start + 1 >= max_terms:
            raise RuntimeError(f"series did not reach rtol={rtol} within max_terms={max_terms} terms")
        i += 1


def _cauchy_radius(psi: PowerSeries, r: float) -> Any:
    """A rho in (r, radius) for the tail bound abs(c_i) <= psi~(rho) / rho^i."""
    if math.isinf(psi.radius):
        return mp.mpf(2 * r + 1)
    return (mp.mpf(r) + mp.mpf(psi.radius)) / 2


def _check_R(R: Any) -> float:
    return check_real(R, name="R", nonnegative=True)


def _complexity_mp(psi, R):
    """1 + R psi~'(R) in mpmath; inf at or beyond the radius of convergence."""
    psi = _check_psi(psi)
    r = _check_R(R)
    if psi.degree is None and r >= psi.radius:
        return mp.inf
    rm = mp.mpf(r)
    return 1 + rm * psi.majorant_derivative(rm)


def log_complexity(psi: PowerSeries, R: float) -> float:
    """log C(psi, R) (natural log), finite even where C(psi, R) overflows float64; eq. (6)."""
    c = _complexity_mp(psi, R)
    return math.inf if mp.isinf(c) else float(mp.log(c))


def complexity(psi: PowerSeries, R: float) -> float:
    """C(psi, R) = 1 + sum_{i>=1} i abs(c_i) R^i, eq. (6) of the paper, exactly.

    Evaluated as 1 + R psi~'(R) with the closed-form majorant derivative; ``math.inf`` when R is at
    or beyond the radius of convergence (for every family in this module the series diverges at
    the radius).  Raises ``OverflowError`` when the value exceeds float64 (see
    :func:`log_complexity`).
    """
    c = _complexity_mp(psi, R)
    return math.inf if mp.isinf(c) else _to_float(c, f"C({psi.name}, {R:g})")


def growth_order(psi: PowerSeries) -> float:
    """The order rho of growth of C(psi, R) of eq. (6) in R: log C(psi, R) = R^(rho + o(1)) as
    R -> infinity.

    Since C(psi, R) = 1 + R psi~'(R), this is the order of the majorant psi~ as an entire function
    (a derivative does not change the order): 0 for a polynomial (log C = O(log R)), 1 for exp,
    sin and cos (C(exp, R) = 1 + R e^R), and ``math.inf`` for a finite radius of convergence, where
    C(psi, R) is infinite from the radius on. Scaling psi(a z) or c psi keeps the order. An entire
    infinite series built without an ``order`` is a ``ValueError``."""
    psi = _check_psi(psi)
    if psi.degree is not None:
        return 0.0
    if math.isfinite(psi.radius):
        return math.inf
    if psi.order is None:
        raise ValueError(f"the order of {psi.name} is not known (PowerSeries.order is None)")
    return float(psi.order)


def complexity_series(psi: PowerSeries, R: float, *, rtol: float = 1e-12,
                      max_terms: int = 200_000) -> SeriesSum:
    """sum_{i>=1} i abs(c_i) R^i term by term with a certified tail (an independent route to eq. 6).

    Tail: for rho in (R, radius), abs(c_i) <= psi~(rho) rho^-i, so term i <= i psi~(rho) q^i with
    q = R / rho, and the bounds decay with ratio ((K+2)/(K+1)) q after term K."""
    psi = _check_psi(psi)
    r = _check_R(R)
    rtol = check_real(rtol, name="rtol", positive=True)
    if psi.degree is None and r >= psi.radius:
        raise ValueError(f"R={r:g} is not inside the radius of convergence {psi.radius:g} of {psi.name}")
    rm = mp.mpf(r)
    if psi.degree is not None:
        total = mp.fsum(i * abs(psi.coefficient(i)) * rm**i for i in range(1, psi.degree + 1))
        return SeriesSum(total, mp.mpf(0), psi.degree)
    if r == 0:
        return SeriesSum(mp.mpf(0), mp.mpf(0), 0)
    rho = _cauchy_radius(psi, r)
    m = psi.majorant(rho)
    q = rm / rho
    return _certified_sum(
        term=lambda i: i * abs(psi.coefficient(i)) * rm**i,
        bound=lambda i: i * m * q**i,
        ratio=lambda k: mp.mpf(k + 2) / (k + 1) * q,
        start=1, rtol=rtol, max_terms=max_terms)


def closed_form_discrepancy(psi: PowerSeries, R: float, *, rtol: float = 1e-13) -> float:
    """The relative difference between the two routes to eq. (6): the closed form
    C(psi, R) = 1 + R psi~'(R) (:func:`complexity`) and 1 + the term-by-term sum with a certified
    tail (:func:`complexity_series` to relative ``rtol``), each rounded to float64 first:
    abs(C - (1 + S)) / C.  Both routes are exact up to the tail and rounding, so the result is at
    most about ``rtol`` plus a few float64 epsilons.  R must lie inside the radius of convergence."""
    closed = complexity(psi, R)
    summed = complexity_series(psi, R, rtol=rtol)
    return abs(closed - (1 + float(summed.value))) / closed


def largest_multinomial(i: int, N: int, *, positive: bool = False) -> int:
    """C_{N,i}: the largest multinomial coefficient i! / (n_1! ... n_N!) with n_1 + ... + n_N = i.

    The maximum is attained at the most balanced split (parts differing by at most one), computed
    exactly in integers.  The paper asks n_k > 0 (``positive=True``); that set is empty for i < N,
    which is a ``ValueError``.  For i >= N both readings give the same number, because the balanced
    split then has no zero part.  With n_k >= 0 and i < N the value is i!.
    """
    i = check_int(i, name="i", minimum=0)
    N = check_int(N, name="N", minimum=1)
    if positive and i < N:
        raise ValueError(f"no split of i={i} into N={N} positive parts (the paper's n_k > 0)")
    q, rem = divmod(i, N)
    return math.factorial(i) // (math.factorial(q + 1) ** rem * math.factorial(q) ** (N - rem))


_PARTS = ("nonnegative", "positive")


def complexity_n_series(psi: PowerSeries, R: float, *, N: int, parts: str = "nonnegative",
                        rtol: float = 1e-12, max_terms: int = 200_000) -> SeriesSum:
    """S_N(psi, R) = sum_{i>=1} sqrt(C_{N,i}) (i/N)^N abs(c_i) R^i, so C_N = 1 + L^(1.5N) C1^N S_N.

    ``parts="positive"`` is the paper's literal n_k > 0: C_{N,i} is then undefined for i < N and
    those terms are dropped (C_{N,i} := 0, the maximum over an empty set); ``"nonnegative"``
    (default) keeps them with C_{N,i} = i!.

    Tail: sqrt(C_{N,i}) <= N^(i/2) (the multinomial coefficients sum to N^i) and
    abs(c_i) <= psi~(rho) rho^-i, so term i <= (i/N)^N psi~(rho) s^i, s = sqrt(N) R / rho < 1.
    The sum is infinite when sqrt(N) R >= radius: then sqrt(C_{N,i}) abs(c_i) R^i does not decay
    (sqrt(C_{N,i}) ~ N^(i/2) up to a power of i)."""
    psi = _check_psi(psi)
    r = _check_R(R)
    N = check_int(N, name="N", minimum=1)
    if parts not in _PARTS:
        raise ValueError(f"parts must be one of {_PARTS}, got {parts!r}")
    rtol = check_real(rtol, name="rtol", positive=True)
    rm = mp.mpf(r)
    sqrt_n = mp.sqrt(N)

    def term(i: int):
        if parts == "positive" and i < N:
            return mp.mpf(0)
        c = abs(psi.coefficient(i))
        if c == 0:
            return mp.mpf(0)
        return mp.sqrt(largest_multinomial(i, N)) * (mp.mpf(i) / N) ** N * c * rm**i

    if psi.degree is not None:
        return SeriesSum(mp.fsum(term(i) for i in range(1, psi.degree + 1)), mp.mpf(0),
                         psi.degree)
    if r == 0:
        return SeriesSum(mp.mpf(0), mp.mpf(0), 0)
    if sqrt_n * rm >= psi.radius:
        return SeriesSum(mp.inf, mp.mpf(0), 0)
    rho = _cauchy_radius(psi, float(sqrt_n * rm))
    m = psi.majorant(rho)
    s = sqrt_n * rm / rho
    return _certified_sum(
        term=term,
        bound=lambda i: (mp.mpf(i) / N) ** N * m * s**i,
        ratio=lambda k: (mp.mpf(k + 2) / (k + 1)) ** N * s,
        start=1, rtol=rtol, max_terms=max_terms)


def _complexity_n_mp(psi, R, N, L, C1, parts, rtol):
    L = check_real(L, name="L", positive=True)
    C1 = check_real(C1, name="C1", positive=True)
    s = complexity_n_series(psi, R, N=N, parts=parts, rtol=rtol)
    if mp.isinf(s.value):
        return mp.inf
    return 1 + mp.mpf(L) ** (mp.mpf(1.5) * N) * mp.mpf(C1) ** N * s.value


def complexity_n(psi: PowerSeries, R: float, *, N: int, L: float, C1: float = 100.0,
                 parts: str = "nonnegative", rtol: float = 1e-12) -> float:
    """C_N(psi, R) = 1 + sum_i L^(1.5N) C1^N sqrt(C_{N,i}) (i/N)^N abs(c_i) R^i, eq. (7).

    ``C1`` is the paper's "large absolute constant C1 > 100"; the default 100 is the infimum of the
    admissible values, so the result is a lower limit of the paper's C_N.  Relative accuracy
    ``rtol`` is certified (:func:`complexity_n_series`).  ``math.inf`` when sqrt(N) R reaches the
    radius of convergence."""
    v = _complexity_n_mp(psi, R, N, L, C1, parts, rtol)
    return math.inf if mp.isinf(v) else _to_float(v, f"C_{N}({psi.name}, {R:g})")


def log_complexity_n(psi: PowerSeries, R: float, *, N: int, L: float, C1: float = 100.0,
                     parts: str = "nonnegative", rtol: float = 1e-12) -> float:
    """log C_N(psi, R) (natural log); eq. (7)."""
    v = _complexity_n_mp(psi, R, N, L, C1, parts, rtol)
    return math.inf if mp.isinf(v) else float(mp.log(v))
