r"""The recurrent network of eq. (14): parameters, initialisation conventions, forward pass.

.. math::

    h_0 = \mathrm{relu}(M_0), \qquad
    h_l = \mathrm{relu}(W h_{l-1} + A X_l) \quad (l = 1, \dots, L), \qquad
    f(W, x) = B^\top h_L,

with :math:`h_0` the same for every input.  Only W is trained (Algorithm 1).  The paper gives two
initialisations that disagree about A (see :data:`INITS`): Section 3 draws A with variance
:math:`2/(L^3 m)`, the box of Algorithm 1 with :math:`2/m`.

Beyond the paper, the conventions of the literature on recurrent kernels (:data:`H0_CONVENTIONS`,
:data:`OUTPUTS`): the initial state ``h0="shared"`` (the paper's relu(M0)), ``"zero"``
(:math:`h_0 = 0`) or ``"independent"`` (a Gaussian :math:`h_0(x) \sim N(0, I/m)` drawn afresh for
each input, passed to :func:`forward` as ``initial``), and the output ``output="last"``
(:math:`B^\top h_L`) or ``"mean"`` (:math:`B^\top \tfrac1L \sum_l h_l`, average pooling), and
an optional bias ``bias=beta``: :math:`h_l = \mathrm{relu}(W h_{l-1} + A X_l + b)` with
:math:`b \sim N(0, 2\beta I/m)`, so that the bias enters the kernels as :math:`a \langle X_{i,l},
X_{j,l}\rangle` does, as a constant :math:`\beta` (:func:`check_bias`).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch

from .checks import check_int, check_sequences
from .device import DEFAULT_DTYPE, check_memory, get_device

__all__ = ["Init", "INITS", "get_init", "RNNParams", "PARAMETERS", "check_wrt", "H0_CONVENTIONS", "check_h0",
           "OUTPUTS", "check_output", "check_bias", "B_SCALINGS", "output_scale", "with_output_scaling",
           "init_params", "initial_states", "Trajectory", "check_inputs", "forward"]


@dataclasses.dataclass(frozen=True)
class Init:
    """Entry variances of one initialisation, each as (variance x m); A's may depend on L."""

    name: str
    source: str
    W: float
    M0: float
    B: float
    A_power_of_L: int  # A's variance x m is 2 / L**A_power_of_L

    def a_variance(self, L: int) -> float:
        """A's entry variance times m."""
        return 2.0 / float(L) ** self.A_power_of_L

    def a(self, L: int) -> float:
        """The input weight a of the kernel recursion: half of A's variance times m (paper: 1/L^3)."""
        return self.a_variance(L) / 2.0


#: The two initialisations of the paper by name: ``"paper"`` (Section 3) and ``"algorithm1"``.
INITS: dict[str, Init] = {
    "paper": Init("paper", "Section 3, below eq. (14)", W=2.0, M0=2.0, B=1.0, A_power_of_L=3),
    "algorithm1": Init("algorithm1", "the box of Algorithm 1", W=2.0, M0=2.0, B=1.0, A_power_of_L=0),
}


def get_init(init) -> Init:
    """The :class:`Init` called ``init`` (``"paper"`` or ``"algorithm1"``); else a ``ValueError``."""
    if isinstance(init, Init):
        return init
    if not isinstance(init, str):
        raise TypeError(f"init must be a str, got {type(init).__name__}")
    try:
        return INITS[init]
    except KeyError:
        raise ValueError(f"unknown init {init!r}; valid: {', '.join(sorted(INITS))}") from None


#: Initial states h_0 of the literature: ``"shared"`` (the paper: relu(M0), one for all inputs, so
#: K^0 = 1 1^T), ``"zero"`` (h_0 = 0: K^0 = 0) and ``"independent"`` (h_0(x_i) ~ N(0, I/m) drawn
#: afresh for each input i: K^0 = I).  Only ``"shared"`` has the weight M0.
H0_CONVENTIONS = ("shared", "zero", "independent")

#: Outputs: ``"last"`` (the paper: f = B^T h_L) and ``"mean"`` (f = B^T (1/L) sum_l h_l).
OUTPUTS = ("last", "mean")


def check_h0(h0) -> str:
    """``h0`` if it names one of :data:`H0_CONVENTIONS`, else a ``TypeError``/``ValueError``."""
    if not isinstance(h0, str):
        raise TypeError(f"h0 must be a str, one of {H0_CONVENTIONS}, got {type(h0).__name__}")
    if h0 not in H0_CONVENTIONS:
        raise ValueError(f"h0 must be one of {H0_CONVENTIONS}, got {h0!r}")
    return h0


def check_bias(bias) -> float:
    """The bias variance beta >= 0 (finite, a real number): the bias b has entries of variance
    2 beta / m, like W's 2/m and A's 2a/m, so that beta is to the bias what a is to the inputs
    (0: no bias, the paper's network)."""
    if isinstance(bias, bool) or not isinstance(bias, (int, float)) or hasattr(bias, "shape"):
        raise TypeError(f"bias must be a real number >= 0, got {type(bias).__name__}")
    bias = float(bias)
    if not (bias >= 0 and bias < float("inf")):
        raise ValueError(f"bias must be a finite real number >= 0, got {bias!r}")
    return bias


def check_output(output) -> str:
    """``output`` if it names one of :data:`OUTPUTS`, else a ``TypeError``/``ValueError``."""
    if not isinstance(output, str):
        raise TypeError(f"output must be a str, one of {OUTPUTS}, got {type(output).__name__}")
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    return output


@dataclasses.dataclass(frozen=True)
class RNNParams:
    """Weights of eq. (14): W (m, m), A (m, d), B (m,), M0 (m,).  ``init`` records the convention
    they were drawn under and ``L`` the sequence length it was scaled for; ``h0`` the initial state
    (:data:`H0_CONVENTIONS`): M0 is a tensor for ``"shared"`` and None otherwise; ``b`` (m,) the
    bias, None for none (the paper), drawn with variance 2 ``bias`` / m (:func:`check_bias`)."""

    W: torch.Tensor
    A: torch.Tensor
    B: torch.Tensor
    M0: torch.Tensor | None
    init: str = "paper"
    L: int | None = None
    h0: str = "shared"
    b: torch.Tensor | None = None
    bias: float = 0.0

    def __post_init__(self):
        check_h0(self.h0)
        check_bias(self.bias)
        if (self.b is None) != (self.bias == 0):
            raise ValueError(f"params.b must be a tensor when bias > 0 and None when bias = 0; got "
                             f"bias = {self.bias!r} and b {'None' if self.b is None else 'a tensor'}")
        if (self.M0 is None) != (self.h0 != "shared"):
            raise ValueError(f"params.M0 must be a tensor when h0 = 'shared' and None otherwise; "
                             f"got h0 = {self.h0!r} and M0 {'None' if self.M0 is None else 'a tensor'}")
        tensors = {"W": self.W, "A": self.A, "B": self.B}
        if self.M0 is not None:
            tensors["M0"] = self.M0
        if self.b is not None:
            tensors["b"] = self.b
        for name, t in tensors.items():
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"params.{name} must be a torch.Tensor, got {type(t).__name__}")
            if not t.is_floating_point():
                raise TypeError(f"params.{name} must be floating point, got {t.dtype}")
        m = self.W.shape[0] if self.W.dim() == 2 else -1
        if self.W.shape != (m, m):
            raise ValueError(f"params.W must be square (m, m), got {tuple(self.W.shape)}")
        if self.A.dim() != 2 or self.A.shape[0] != m:
            raise ValueError(f"params.A must be (m, d) with m = {m}, got {tuple(self.A.shape)}")
        for name in ("B", "M0", "b"):
            if name in tensors and tensors[name].shape != (m,):
                raise ValueError(f"params.{name} must have shape ({m},), got {tuple(tensors[name].shape)}")
        dtypes = {t.dtype for t in tensors.values()}
        devices = {t.device for t in tensors.values()}
        if len(dtypes) > 1 or len(devices) > 1:
            raise ValueError(f"params must share one dtype and device, got {dtypes} on {devices}")
        if m < 1 or self.A.shape[1] < 1:
            raise ValueError(f"params need m >= 1 and d >= 1, got m = {m}, d = {self.A.shape[1]}")
        if self.W.device.type == "meta":
            raise ValueError("params are meta tensors, which hold no values: draw them with init_params")
        for name, t in tensors.items():
            if not bool(torch.isfinite(t.detach()).all()):
                raise ValueError(f"params.{name} contains NaN or infinite entries")
        if self.L is not None and (isinstance(self.L, bool) or not isinstance(self.L, int) or self.L < 1):
            raise ValueError(f"params.L must be None or an int >= 1, got {self.L!r}")

    @property
    def m(self) -> int:
        return self.W.shape[0]

    @property
    def d(self) -> int:
        return self.A.shape[1]

    @property
    def dtype(self) -> torch.dtype:
        return self.W.dtype

    @property
    def device(self) -> torch.device:
        return self.W.device

    def to(self, *, dtype: torch.dtype | None = None, device=None) -> RNNParams:
        """The same weights in ``dtype`` on ``device`` (either may be None: unchanged)."""
        dev = get_device(device) if device is not None else None
        return self.replace(**{k: getattr(self, k).to(device=dev, dtype=dtype) for k in self.weights})

    def detach(self) -> RNNParams:
        """The same weights outside autograd's graph (what the hand-written backward passes of
        :mod:`rnnbook.empirical` and :mod:`rnnbook.train` compute on)."""
        if not any(getattr(self, k).requires_grad for k in self.weights):
            return self
        return self.replace(**{k: getattr(self, k).detach() for k in self.weights})

    @property
    def weights(self) -> tuple[str, ...]:
        """The names of the weights this network has: :data:`PARAMETERS`, without M0 unless
        ``h0 == "shared"`` and without b unless it has a bias."""
        return tuple(w for w in PARAMETERS if getattr(self, w) is not None)

    def replace(self, **changes) -> RNNParams:
        """A copy with some fields replaced (e.g. the trained W)."""
        return dataclasses.replace(self, **changes)


#: The weights of eq. (14) and the optional bias b, in the order of the "all" of ``wrt=``.
#: Algorithm 1 trains W only; the NTK with respect to any subset is the sum of the NTKs with
#: respect to each (the gradients of different weights are concatenated).
PARAMETERS = ("W", "A", "B", "M0", "b")


def check_wrt(wrt, h0: str = "shared", bias: float = 0.0) -> tuple[str, ...]:
    """The weights an NTK is taken with respect to: ``"W"`` (the paper's, default elsewhere),
    ``"A"``, ``"B"``, ``"M0"``, ``"b"``, a tuple of these, or ``"all"``; returned as a tuple in
    the order of :data:`PARAMETERS`.  Gradients are with respect to each weight as it is drawn
    (eq. 14's parameterisation, as for W).  Under ``h0="zero"`` or ``"independent"`` there is no
    M0, and without a bias (``bias=0``) no b: "all" leaves them out, and naming them is a
    ``ValueError``."""
    h0 = check_h0(h0)
    bias = check_bias(bias)
    names = PARAMETERS if wrt == "all" else (wrt,) if isinstance(wrt, str) else wrt
    if isinstance(names, (bytes, dict)) or not hasattr(names, "__iter__"):
        raise TypeError(f"wrt must be 'all', one of {PARAMETERS} or a tuple of them, got {wrt!r}")
    names = list(names)
    bad = [w for w in names if not isinstance(w, str) or w not in PARAMETERS]
    if bad or not names:
        raise ValueError(f"wrt must be 'all', one of {PARAMETERS} or a non-empty tuple of them, got {wrt!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"wrt names a weight twice: {wrt!r}")
    if h0 != "shared":
        if "M0" in names and wrt != "all":
            raise ValueError(f"wrt names M0, but with h0 = {h0!r} there is no M0 (only h0 = 'shared' "
                             f"has one)")
        names = [w for w in names if w != "M0"]
    if bias == 0:
        if "b" in names and wrt != "all":
            raise ValueError("wrt names b, but without a bias (bias = 0) there is no b")
        names = [w for w in names if w != "b"]
    return tuple(w for w in PARAMETERS if w in names)


#: The two scalings of the output weights B that the paper uses side by side: ``"section3"``,
#: B ~ N(0, 1/m) (Section 3 and Algorithm 1's box, what :func:`init_params` draws), and ``"unit"``,
#: B ~ N(0, 1), the scaling under which the 1/m of eq. (23) and Theorem 2's eta = O(1/m) fit.
B_SCALINGS = ("section3", "unit")


def output_scale(m: int, scaling: str) -> float:
    """The factor that turns B ~ N(0, 1/m) into the given scaling of :data:`B_SCALINGS`: 1 for
    ``"section3"``, sqrt(m) for ``"unit"``.  The NTK and the gradients scale by its square."""
    m = check_int(m, name="m", minimum=1)
    if scaling not in B_SCALINGS:
        raise ValueError(f"scaling must be one of {B_SCALINGS}, got {scaling!r}")
    return 1.0 if scaling == "section3" else float(m) ** 0.5


def with_output_scaling(params: RNNParams, scaling: str) -> RNNParams:
    """``params`` (drawn with B ~ N(0, 1/m)) with B rescaled to ``scaling``: the same network up
    to the factor :func:`output_scale` on its output."""
    if not isinstance(params, RNNParams):
        raise TypeError(f"params must be RNNParams, got {type(params).__name__}")
    return params.replace(B=params.B * output_scale(params.m, scaling))


def init_params(m, d, L, *, init="paper", h0="shared", bias=0.0, generator: torch.Generator | None = None,
                dtype: torch.dtype = DEFAULT_DTYPE, device=None) -> RNNParams:
    """Draw the weights of eq. (14) with i.i.d. centred Gaussian entries.

    Variances (times m): W 2, M0 2, B 1 in both conventions; A 2/L^3 under ``"paper"`` (Section 3)
    and 2 under ``"algorithm1"`` (Algorithm 1's box).  ``h0``: the initial state
    (:data:`H0_CONVENTIONS`); M0 is drawn for ``"shared"`` only.  ``bias``: the bias variance beta
    (:func:`check_bias`; b is drawn, with variance 2 beta / m, only when beta > 0).  ``generator``
    (on ``device``) makes the draw reproducible; the draw order is W, A, B, M0, b."""
    h0 = check_h0(h0)
    bias = check_bias(bias)
    m = check_int(m, name="m", minimum=1)
    d = check_int(d, name="d", minimum=1)
    L = check_int(L, name="L", minimum=1)
    spec = get_init(init)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    dev = get_device(device) if device is not None or generator is None else generator.device
    if generator is not None and generator.device.type != dev.type:
        raise ValueError(f"generator is on {generator.device} but device is {dev}")
    check_memory((m * m + m * d + 2 * m) * torch.finfo(dtype).bits / 8, device=dev,
                 what=f"init_params(m={m}, d={d})")

    def gauss(shape, var_times_m):
        return torch.randn(shape, generator=generator, dtype=dtype, device=dev) * (var_times_m / m) ** 0.5

    W = gauss((m, m), spec.W)
    A = gauss((m, d), spec.a_variance(L))
    B = gauss((m,), spec.B)
    M0 = gauss((m,), spec.M0) if h0 == "shared" else None
    b = gauss((m,), 2.0 * bias) if bias > 0 else None
    return RNNParams(W=W, A=A, B=B, M0=M0, init=spec.name, L=L, h0=h0, b=b, bias=bias)


def initial_states(params: RNNParams, n, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """The initial states of ``n`` inputs under ``h0="independent"``: an (n, m) matrix of i.i.d.
    N(0, 1/m) entries in params' dtype and device, so that ||h_0(x_i)||^2 -> 1 and
    <h_0(x_i), h_0(x_j)> -> 0 for i != j (K^0 = I).  Pass it to :func:`forward` as ``initial``."""
    if not isinstance(params, RNNParams):
        raise TypeError(f"params must be RNNParams, got {type(params).__name__}")
    if params.h0 != "independent":
        raise ValueError(f"params have h0 = {params.h0!r}; initial states are drawn for 'independent' only")
    n = check_int(n, name="n", minimum=1)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if generator is not None and generator.device.type != params.device.type:
        raise ValueError(f"generator is on {generator.device} but params are on {params.device}")
    check_memory(n * params.m * torch.finfo(params.dtype).bits / 8, device=params.device,
                 what=f"initial_states(n={n}, m={params.m})")
    return torch.randn((n, params.m), generator=generator, dtype=params.dtype,
                       device=params.device) / params.m ** 0.5


def _initial(params: RNNParams, initial, n: int) -> torch.Tensor:
    """h_0 for n inputs: relu(M0) broadcast, zeros, or the given (n, m) ``initial``."""
    if params.h0 != "independent":
        if initial is not None:
            raise ValueError(f"initial must be None when params.h0 = {params.h0!r} (only 'independent' "
                             f"takes per-input initial states)")
        if params.h0 == "zero":
            return torch.zeros((n, params.m), dtype=params.dtype, device=params.device)
        return torch.relu(params.M0).expand(n, params.m)
    if initial is None:
        raise ValueError("initial is required when params.h0 = 'independent': draw it with initial_states")
    if not isinstance(initial, torch.Tensor):
        raise TypeError(f"initial must be a torch.Tensor, got {type(initial).__name__}")
    if initial.shape != (n, params.m):
        raise ValueError(f"initial must have shape (n, m) = ({n}, {params.m}), got {tuple(initial.shape)}")
    if initial.dtype != params.dtype or initial.device != params.device:
        raise TypeError(f"initial must have params' dtype {params.dtype} on {params.device}, got "
                        f"{initial.dtype} on {initial.device}")
    if not bool(torch.isfinite(initial).all()):
        raise ValueError("initial contains NaN or infinite entries")
    return initial.detach()


class Trajectory(NamedTuple):
    """Every hidden state and activation pattern of a batch: h (L+1, n, m) holds h_0..h_L and
    D (L, n, m) the indicators 1{W h_{l-1} + A X_l > 0} of eq. (21) for l = 1..L."""

    h: torch.Tensor
    D: torch.Tensor


def check_inputs(X, params: RNNParams | None = None, *, name: str = "X") -> torch.Tensor:
    """Validate a batch of sequences X of shape (n, L, d); against ``params`` also its d, dtype and
    device (a numpy array is converted to the parameters' dtype and device, a tensor must match)."""
    if params is not None and not isinstance(params, RNNParams):
        raise TypeError(f"params must be RNNParams, got {type(params).__name__}")
    if params is not None and isinstance(X, torch.Tensor):
        if X.dtype != params.dtype:
            raise TypeError(f"{name} has dtype {X.dtype} but params have {params.dtype}")
        if X.device != params.device:
            raise ValueError(f"{name} is on {X.device} but params are on {params.device}")
    if params is None:
        return check_sequences(X, name=name)
    X = check_sequences(X, name=name, dtype=params.dtype, device=params.device)
    if X.shape[2] != params.d:
        raise ValueError(f"{name} has d = {X.shape[2]} but params.A has {params.d} columns")
    if params.L is not None and X.shape[1] != params.L and get_init(params.init).A_power_of_L:
        raise ValueError(f"{name} has length {X.shape[1]} but params were drawn for L = {params.L}, and "
                         f"the {params.init!r} initialisation scales A with L (variance 2/(L^"
                         f"{get_init(params.init).A_power_of_L} m)); to use them anyway, pass "
                         f"params.replace(L=None)")
    return X


def forward(params: RNNParams, X, *, output="last", initial=None, return_states: bool = False):
    """f(W, x) = B^T h_L(x) of eq. (14) for a batch X of shape (n, L, d); returns f of shape (n,).

    ``output="mean"``: f = B^T (1/L) sum_{l=1}^L h_l instead (:data:`OUTPUTS`).  ``initial``: the
    (n, m) initial states, required when ``params.h0 == "independent"`` (:func:`initial_states`)
    and None otherwise.  With ``return_states=True`` returns ``(f, Trajectory(h, D))`` with every
    hidden state h_0..h_L and activation pattern D_1..D_L (what the backward pass and the NTK
    need)."""
    if not isinstance(params, RNNParams):
        raise TypeError(f"params must be RNNParams, got {type(params).__name__}")
    output = check_output(output)
    X = check_inputs(X, params)
    n, L, _ = X.shape
    m, size = params.m, torch.finfo(params.dtype).bits // 8
    check_memory(size * n * m * (L + 3 + ((L + 1) + L / size if return_states else 0)),
                 device=params.device, what=f"forward of n = {n} sequences at width m = {m}")
    # Input drive A X_l (+ b) for all l at once: one (n L, d) x (d, m) product.
    drive = (X.reshape(n * L, -1) @ params.A.T).reshape(n, L, params.m)
    if params.b is not None:
        drive = drive + params.b
    h = _initial(params, initial, n)
    pooled = torch.zeros_like(h) if output == "mean" else None
    if return_states:
        hs = torch.empty((L + 1, n, params.m), dtype=params.dtype, device=params.device)
        Ds = torch.empty((L, n, params.m), dtype=torch.bool, device=params.device)
        hs[0] = h
    for layer in range(L):
        pre = torch.addmm(drive[:, layer], h, params.W.T)
        h = torch.relu(pre)
        if pooled is not None:
            pooled.add_(h)
        if return_states:
            hs[layer + 1] = h
            Ds[layer] = pre > 0
    f = h @ params.B if pooled is None else (pooled @ params.B) / L
    if not bool(torch.isfinite(f).all()):
        # Finite weights and inputs: only overflow of the hidden states (which grow with ||X||
        # and, for a large W, geometrically in L) makes f infinite or NaN.
        raise ValueError(f"X: the forward pass overflowed {params.dtype} (largest |h_l| "
                         f"{float(h.abs().max()):.3g}, largest |X| {float(X.abs().max()):.3g}); "
                         f"rescale X or use float64")
    if return_states:
        return f, Trajectory(hs, Ds)
    return f
