r"""Algorithm 1 of the paper: online SGD on W, with batched independent runs and their evaluation.

Algorithm 1 trains only W of the network (14), one fresh sample per step:

.. math::

    W_t = W_{t-1} - \eta\,\nabla_W \ell\big(y_t f(W_{t-1}, x_t)\big), \qquad
    \ell(z) = \log(1 + e^{-z}) \qquad \text{(eqs. 15-16)},

and Theorem 2 bounds :math:`\frac1n \sum_k L^{0-1}_D(W_k)` (eq. 17) for :math:`\eta = O(1/m)`.
:func:`sgd` runs it exactly (batch size 1, no autograd): the gradient is written out,
:math:`\nabla_W \ell(y f) = \ell'(y f)\, y \sum_l \delta_l h_{l-1}^\top` with the backward
vectors :math:`\delta_L = D_L B`, :math:`\delta_l = D_l W^\top \delta_{l+1}` of
:mod:`rnnbook.empirical`, so one step costs L products with W forward, L - 1 backward and one
rank-L update (about (3L - 1) m^2 multiply-adds, (2L + 2) m^2 entries of W read or written).

Remark 3.2's sequence-labelling loss sum_l l(y_l f_l), f_l = B^T h_l, is ``loss="labelling"``:
its backward pass is the usual one through time, e_L = D_L g_L B, e_l = D_l (W^T e_{l+1} + g_l B)
with g_l = l'(y_l f_l) y_l.

Scale.  Under B ~ N(0, 1/m) the NTK diagonal Hbar = <grad_W f, grad_W f> of a unit-norm sequence
is Hbar = L/2 + a L (L - 1)/4 (:func:`rnnbook.baselines.ntk_diagonal`, the H_ii of
:func:`rnnbook.kernels.ntk`):
a = 1/L^3 under Section 3's initialisation (Hbar about L/2), a = 1 under Algorithm 1's (Hbar =
L/2 + L (L - 1)/4, about L^2/4).  One step with eta = c/m moves f on its own sample by
eta abs(l') Hbar, about c Hbar / (2m) at the start (abs(l') = 1/2 at f = 0), so at fixed c the step in
function space shrinks like 1/m.  Both ``eta`` and ``c`` are exposed; nothing is rescaled behind
the caller's back.

Reproducibility.  Run r of ``sgd(..., seed=s)`` draws its weights (A, B, M0, W_0) and then its
data stream from one CPU generator seeded from (s, r) (:func:`run_seed`), in float64, in chunks of
:data:`DATA_CHUNK` samples, and only then moves them to the compute device and dtype.  So a run
is the same whatever the number of runs batched with it, the number of steps (a shorter run is a
prefix of a longer one) or the device; :func:`run_stream` returns exactly what run r sees.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import runtime
from .checks import as_tensor, check_int, check_real, check_sequences
from .data import DataSource, _check_labels, _check_source
from .device import check_memory, get_device, make_generator
from .empirical import backward_vectors
from .model import RNNParams, check_inputs, forward, get_init, init_params
from .runtime import progress_bar

__all__ = ["LOSSES", "DATA_CHUNK", "CPU_SPLIT_WIDTH", "logistic_loss", "gradient", "mean_loss",
           "zero_one_error", "run_seed", "held_out_sample", "run_stream", "log_steps",
           "TrainResult", "sgd", "algorithm1_loop", "train_on_stream", "final_margins"]

#: The two losses: ``"final"`` l(y f(W, x)) of eqs. (15)-(16), ``"labelling"`` sum_l l(y_l f_l) of
#: Remark 3.2 (f_l = B^T h_l, one label per position).
LOSSES = ("final", "labelling")

#: Samples drawn per run at a time.  Fixed (not chosen from memory or the number of runs) so that
#: the numbers a run sees never depend on how it was batched.
DATA_CHUNK = 1024

# logistic_loss: softplus(x) = log1p(e^x) up to x = 40, x beyond (e^-40 / 40 < 1e-19).
_SOFTPLUS_SWITCH = 40.0

# Entries of the hidden states held at once while evaluating on a test set: 2^24.
_EVAL_ENTRIES = 1 << 24

#: On the CPU, widths from which the batched runs of :func:`sgd` are advanced one run at a time
#: (below it, as one batch; see ``_Trainer``).
CPU_SPLIT_WIDTH = 256


# ----------------------------------------------------------------------------------------------
# The loss and its gradient.


def logistic_loss(z) -> torch.Tensor:
    """l(z) = log(1 + e^-z) (eqs. 15-16), elementwise: softplus(-z) switching to -z only beyond
    -z > 40, where log1p(e^-40) / 40 < 1e-19 (torch's default switch at 20 costs 1e-10 relative),
    so accurate to rounding for every z (l(-1000) = 1000, l(1000) = 0 = e^-1000 rounded), with the
    autograd derivative l'(z) = -sigmoid(-z) everywhere, z = 0 included.  (Not -logsigmoid(z): on
    the CPU torch's log_sigmoid kernel took milliseconds on a 3-element tensor on a busy 2-core
    machine.)"""
    if not isinstance(z, torch.Tensor):
        z = as_tensor(z, name="z", dtype=None, finite=False)
    if not z.is_floating_point():
        raise TypeError(f"z must be floating point, got {z.dtype}")
    return F.softplus(-z, threshold=_SOFTPLUS_SWITCH)


def _check_loss(loss) -> str:
    if not isinstance(loss, str):
        raise TypeError(f"loss must be a str, got {type(loss).__name__}")
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid: {', '.join(LOSSES)}")
    return loss


def _labels_for(params: RNNParams, X: torch.Tensor, y, loss: str) -> torch.Tensor:
    n, L, _ = X.shape
    shape = (n,) if loss == "final" else (n, L)
    return _check_labels(y, shape, dtype=params.dtype, device=params.device)


def _paper_network(params) -> None:
    """Algorithm 1 trains the paper's network: reject the literature's other initial states."""
    if not isinstance(params, RNNParams):
        raise TypeError(f"params must be RNNParams, got {type(params).__name__}")
    if params.h0 != "shared":
        raise ValueError(f"params have h0 = {params.h0!r}; Algorithm 1 is the paper's network, "
                         f"with the shared h_0 = relu(M0)")
    if params.b is not None:
        raise ValueError(f"params have a bias (bias = {params.bias!r}); Algorithm 1 is the paper's "
                         f"network, without one")


def _prepare(params, x, y, loss):
    _paper_network(params)
    loss = _check_loss(loss)
    xt = x if isinstance(x, torch.Tensor) else as_tensor(x, name="x", dtype=params.dtype,
                                                         device=params.device)
    single = xt.dim() == 2
    if single:
        xt = xt[None]
        yt = y if isinstance(y, torch.Tensor) else as_tensor(y, name="y", dtype=params.dtype,
                                                             device=params.device)
        y = yt[None]
    X = check_inputs(xt, params, name="x")
    if params.L is not None and X.shape[1] != params.L:
        raise ValueError(f"x has sequence length {X.shape[1]} but params were drawn for L = {params.L}")
    return X, _labels_for(params, X, y, loss), loss


def gradient(params: RNNParams, x, y, *, loss: str = "final") -> torch.Tensor:
    """grad_W of the loss, written out (no autograd), shape (m, m) in params' dtype and device.

    ``x``: one sequence (L, d) with ``y`` a label in {-1, +1} (shape ()), or a batch (n, L, d)
    with ``y`` of shape (n,): the gradient of l(y f(W, x)), averaged over the batch.  With
    ``loss="labelling"`` the labels are per position, shape (L,) or (n, L), and the loss is
    Remark 3.2's sum_l l(y_l f_l(W, x)), f_l = B^T h_l (averaged over the batch, summed over l).

    The whole batch and all layers go into one (m, nL) x (nL, m) product:
    grad = (1/n) sum_i sum_l e_l(x_i) h_{l-1}(x_i)^T."""
    X, y, loss = _prepare(params, x, y, loss)
    params = params.detach()  # the gradient is written out: autograd's graph is not needed
    n, L, _ = X.shape
    _, states = forward(params, X, return_states=True)
    h, B = states.h, params.B
    if loss == "final":
        # l(y f) depends on W through f only: e_l = l'(y f) y delta_l, delta_l of Theorem 6.
        g = -y * torch.sigmoid(-y * (h[L] @ B)) / n
        E = backward_vectors(params, X, states=states).mul_(g[:, None])
    else:
        # Backpropagation through time with a loss at every position: e_l gets g_l B directly.
        Y = y.T
        gl = -Y * torch.sigmoid(-Y * (h[1:] @ B)) / n  # (L, n)
        D = states.D.to(params.dtype)
        E = torch.empty((L, n, params.m), dtype=params.dtype, device=params.device)
        torch.mul(gl[L - 1][:, None], B, out=E[L - 1])
        E[L - 1].mul_(D[L - 1])
        for l in range(L - 2, -1, -1):
            torch.mm(E[l + 1], params.W, out=E[l])
            E[l].addcmul_(gl[l][:, None], B[None, :])
            E[l].mul_(D[l])
    return E.reshape(L * n, -1).T @ h[:L].reshape(L * n, -1)


def mean_loss(params: RNNParams, x, y, *, loss: str = "final") -> float:
    """The loss that :func:`gradient` differentiates: the mean over the batch of l(y f) or, for
    ``loss="labelling"``, of sum_l l(y_l f_l)."""
    X, y, loss = _prepare(params, x, y, loss)
    z = _margins(params, X, y, loss)
    return float(logistic_loss(z).sum() / X.shape[0])


def zero_one_error(params: RNNParams, x, y, *, loss: str = "final") -> float:
    """The fraction of mistakes 1{y f < 0} (the paper's L^{0-1}, strict inequality); for
    ``loss="labelling"`` over all sequences and positions."""
    X, y, loss = _prepare(params, x, y, loss)
    return float((_margins(params, X, y, loss) < 0).to(torch.float64).mean())


def _margins(params, X, y, loss):
    if loss == "final":
        return y * forward(params, X)
    _, states = forward(params, X, return_states=True)
    return y * (states.h[1:] @ params.B).T


# ----------------------------------------------------------------------------------------------
# Data sources.


# ----------------------------------------------------------------------------------------------
# Seeds and streams.


def run_seed(seed: int, run: int) -> int:
    """The seed of run ``run`` of ``sgd(..., seed=seed)``: a hash of (seed, run) (numpy's
    SeedSequence), so that runs and seeds never share a stream."""
    seed = check_int(seed, name="seed", minimum=0)
    run = check_int(run, name="run", minimum=0)
    return _hash_seed(seed, (0, run))


def _hash_seed(seed: int, key: tuple[int, ...]) -> int:
    state = np.random.SeedSequence(seed, spawn_key=key).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])  # 63 bits


def held_out_sample(source: DataSource, n: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The test set of ``sgd(source, ..., test_n=n, seed=seed)``: n samples of ``source.test``
    (float64, CPU) from a generator seeded from ``seed`` apart from every run's."""
    _check_source(source)
    if source.test is None:
        raise ValueError("source has no population to draw a test set from (source.test is None)")
    seed = check_int(seed, name="seed", minimum=0)
    return source.test.sample(n, seed=_hash_seed(seed, (1,)))


class _Stream:
    """Run r's CPU generator: its initial weights (float64, CPU), then its data in chunks."""

    def __init__(self, source: DataSource, m: int, init: str, seed: int, run: int):
        self.seed = run_seed(seed, run)
        self.gen = make_generator(self.seed, "cpu")
        self.params = init_params(m, source.d, source.L, init=init, generator=self.gen,
                                  dtype=torch.float64, device="cpu")
        self.source = source

    def chunk(self) -> tuple[torch.Tensor, torch.Tensor]:
        X, y = self.source.draw(DATA_CHUNK, self.gen)
        return X.to(torch.float64), y.to(torch.float64)


def run_stream(source: DataSource, *, m: int, steps: int, init: str = "algorithm1", seed: int = 0,
               run: int = 0, dtype=None, device=None) -> tuple[RNNParams, torch.Tensor, torch.Tensor]:
    """What run ``run`` of ``sgd(source, m=m, steps=steps, init=init, seed=seed)`` sees: its initial
    parameters and its ``steps`` samples X (steps, L, d), y (steps,) or (steps, L), in ``dtype``
    on ``device`` (defaults as in :func:`sgd`).  For reference implementations and tests."""
    _check_source(source)
    m = check_int(m, name="m", minimum=1)
    steps = check_int(steps, name="steps", minimum=1)
    init = get_init(init).name
    dev, dtype = _device_dtype(device, dtype)
    stream = _Stream(source, m, init, check_int(seed, name="seed", minimum=0),
                     check_int(run, name="run", minimum=0))
    Xs, ys = zip(*(stream.chunk() for _ in range(-(-steps // DATA_CHUNK))), strict=True)
    p = stream.params
    params = RNNParams(*(t.to(device=dev, dtype=dtype) for t in (p.W, p.A, p.B, p.M0)),
                       init=p.init, L=p.L)
    return (params, torch.cat(Xs)[:steps].to(device=dev, dtype=dtype),
            torch.cat(ys)[:steps].to(device=dev, dtype=dtype))


def _reserve(source: DataSource, m: int, runs: int, test_n: int, dev: torch.device,
             dtype: torch.dtype) -> None:
    """Refuse (MemoryError) an :func:`sgd` call whose weights and buffers cannot fit: on the CPU
    each run's float64 stream (its initial weights and a chunk of data), on the compute device W_0,
    W, A, B, M0 and the trainer's buffers of every run, the current data chunks and the test set."""
    L, d = source.L, source.d
    chunk = DATA_CHUNK * L * (d + 1)
    host = 8.0 * runs * (m * m + m * d + 2 * m + 2 * chunk)
    size = torch.finfo(dtype).bits // 8
    work = size * (runs * (2 * m * m + m * d + (3 * L + 6) * m + chunk) + test_n * L * (d + 1)
                   + min(_EVAL_ENTRIES, runs * m * max(test_n, 1)))
    what = f"sgd with m = {m} and {runs} runs"
    if dev.type == "cpu":
        check_memory(host + work, device=dev, what=what)
    else:
        check_memory(host, device="cpu", what=what + " (the runs' streams, on the CPU)")
        check_memory(work, device=dev, what=what)


def _device_dtype(device, dtype):
    dev = get_device(device)
    if dtype is None:
        dtype = torch.float64 if dev.type == "cpu" else torch.float32
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    return dev, dtype


def log_steps(steps: int, *, log_every: int | None = None, log_points: int = 20) -> list[int]:
    """The steps k at which :func:`sgd` records: 0, then every ``log_every`` steps, or else about
    ``log_points`` geometrically spaced steps; always the last."""
    steps = check_int(steps, name="steps", minimum=1)
    if log_every is not None:
        log_every = check_int(log_every, name="log_every", minimum=1)
        ks = set(range(0, steps + 1, log_every))
    else:
        log_points = check_int(log_points, name="log_points", minimum=1)
        ks = {int(round(v)) for v in np.geomspace(1, steps, log_points)} | {0}
    return sorted(ks | {steps})


# ----------------------------------------------------------------------------------------------
# The batched trainer.


class _Trainer:
    """R runs of Algorithm 1 advanced together: W (R, m, m) and fixed A, B, M0 (stacked).

    Every buffer is allocated once; one step is 4L + 8 tensor operations (on CUDA whatever R is;
    on the CPU per run, see ``parts``): the drive
    A x_l for all layers (one batched product), L forward products and ReLUs in place, the
    activation pattern, the loss derivative, L - 1 backward products, and the rank-L update
    W -= eta E^T H (one in-place baddbmm)."""

    def __init__(self, W, A, B, M0, eta: float, labelling: bool, *, split: bool | None = None):
        R, m, _ = W.shape
        self.R, self.m, self.eta, self.labelling = R, m, eta, labelling
        # On the CPU a batched product over R runs of (1, m) x (m, m) is slower than R separate
        # ones for large m (measured 3x at m = 1024, even at m = 256), while for small m the
        # per-operation overhead dominates and batching wins (2-2.5x faster per run-step at
        # m = 64 and 128, R = 8): below CPU_SPLIT_WIDTH the R runs go as one batch, from it on one
        # after the other, each on views of the shared W.  Either way a run's numbers do not
        # depend on the runs batched with it (a test checks batched == single).  ``split``
        # forces one path, for the tests.
        self.parts = None
        if split is None:
            split = W.device.type == "cpu" and m >= CPU_SPLIT_WIDTH
        if split and R > 1:
            self.parts = [_Trainer(W[r:r + 1], A[r:r + 1], B[r:r + 1], M0[r:r + 1], eta, labelling)
                          for r in range(R)]
            return
        self.W, self.WT, self.AT = W, W.transpose(1, 2), A.transpose(1, 2)
        self.Bcol, self.Brow = B[:, :, None], B[:, None, :]
        self.h0 = torch.relu(M0)
        self._L = None

    def _buffers(self, L):
        R, m, W = self.R, self.m, self.W
        self._L = L
        self.H = torch.empty((R, L + 1, m), dtype=W.dtype, device=W.device)
        self.H[:, 0] = self.h0
        self.hv = [self.H[:, l:l + 1] for l in range(L + 1)]
        self.H1, self.Hprev = self.H[:, 1:], self.H[:, :L]
        self.D = torch.empty((R, L, m), dtype=W.dtype, device=W.device)
        self.Dv = [self.D[:, l:l + 1] for l in range(L)]
        self.E = torch.empty((R, L, m), dtype=W.dtype, device=W.device)
        self.ev = [self.E[:, l:l + 1] for l in range(L)]
        self.ET = self.E.transpose(1, 2)
        k = L if self.labelling else 1
        self.f = torch.empty((R, k, 1), dtype=W.dtype, device=W.device)
        self.g = torch.empty((R, k, 1), dtype=W.dtype, device=W.device)

    def step(self, x, y, ny, z):
        """One step of every run on x (R, L, d) with labels y, ny = -y (R, k, 1); writes the
        margins y f(W_{t-1}, x) (before the update) into z (R, k, 1)."""
        if self.parts is not None:
            for r, part in enumerate(self.parts):
                part.step(x[r:r + 1], y[r:r + 1], ny[r:r + 1], z[r:r + 1])
            return
        L = x.shape[1]
        if self._L != L:
            self._buffers(L)
        W, hv, ev, Dv = self.W, self.hv, self.ev, self.Dv
        self.H1.baddbmm_(x, self.AT, beta=0)  # A x_l for every layer
        for l in range(1, L + 1):
            hv[l].baddbmm_(hv[l - 1], self.WT).relu_()
        torch.sign(self.H1, out=self.D)  # D_l = 1{pre-activation > 0}: h_l >= 0
        g = self.g
        if not self.labelling:
            torch.bmm(hv[L], self.Bcol, out=self.f)
            torch.mul(self.f, y, out=z)
            torch.neg(z, out=g).sigmoid_().mul_(ny)  # l'(y f) y = -y sigmoid(-y f)
            torch.mul(self.Brow, g, out=ev[L - 1]).mul_(Dv[L - 1])
            for l in range(L - 1, 0, -1):
                torch.bmm(ev[l], W, out=ev[l - 1]).mul_(Dv[l - 1])  # row form of W^T e
        else:
            torch.bmm(self.H1, self.Bcol, out=self.f)
            torch.mul(self.f, y, out=z)
            torch.neg(z, out=g).sigmoid_().mul_(ny)
            torch.mul(g, self.Brow, out=self.E)  # g_l B for every l
            ev[L - 1].mul_(Dv[L - 1])
            for l in range(L - 1, 0, -1):
                ev[l - 1].baddbmm_(ev[l], W).mul_(Dv[l - 1])
        W.baddbmm_(self.ET, self.Hprev, alpha=-self.eta)


def _batched_margins(W, A, B, M0, X, y, labelling):
    """y f(W_r, x_i) for every run r and test input i: (R, n) or (R, n, L) for labelling, in blocks
    of inputs so that about 2^24 hidden-state entries are live."""
    R, m, _ = W.shape
    n, L, _ = X.shape
    WT = W.transpose(1, 2)
    block = max(1, min(n, _EVAL_ENTRIES // (R * m)))
    out = torch.empty((R, n, L) if labelling else (R, n), dtype=W.dtype, device=W.device)
    h0 = torch.relu(M0)[:, None, :]
    for s in range(0, n, block):
        e = min(n, s + block)
        h = h0.expand(R, e - s, m)
        for l in range(L):
            h = torch.baddbmm(torch.matmul(X[s:e, l], A.transpose(1, 2)), h, WT).relu_()
            if labelling:
                out[:, s:e, l] = torch.bmm(h, B[:, :, None])[..., 0]
        if not labelling:
            out[:, s:e] = torch.bmm(h, B[:, :, None])[..., 0]
    return out * y[None]


def _mistakes(z: torch.Tensor) -> torch.Tensor:
    """1{y f < 0} for margins z = y f; a NaN margin (a diverged run) counts as a mistake."""
    return (z < 0) | torch.isnan(z)


@dataclasses.dataclass(frozen=True, eq=False)
class TrainResult:
    """The record of :func:`sgd`: R runs logged at K steps.

    * ``steps`` (K,) int64: the logged steps k, 0 and the last included.
    * ``test_error`` (R, K): 0-1 error of W_k on one held-out sample of ``test_n`` inputs, drawn
      once (the same for every run) from the source's population; None without one.
    * ``online_error`` (R, K): (1/k) sum_{t=1..k} 1{y_t f(W_{t-1}, x_t) < 0}.  Each fresh sample is
      scored with the weights *before* its update, so with a population source this is an unbiased
      estimate of (1/k) sum_{t=0..k-1} L^{0-1}_D(W_t): the left side of eq. (17), whose sum runs
      over W_1..W_n, shifted by one step.  NaN at k = 0.
    * ``train_loss`` (R, K): mean loss of the samples seen in steps (k_prev, k] (NaN at k = 0).
    * ``w_distance`` (R, K): ||W_k - W_0||_F.
    * ``W`` (R, m, m): the final weights; ``params0``: the R initial RNNParams (W_0, A, B, M0).
    * ``diverged`` (R,) bool: W_k has a non-finite entry at the end (too large a step: the
      hidden states grow geometrically in L once W's norm does, and one wrong sample with a huge
      f then throws W to infinity).  A NaN prediction counts as a mistake in both errors.

    For ``loss="labelling"`` errors count positions: the fraction of (sample, position) pairs
    with y_l f_l < 0; losses sum over positions."""

    steps: torch.Tensor
    test_error: torch.Tensor | None
    online_error: torch.Tensor
    train_loss: torch.Tensor
    w_distance: torch.Tensor
    W: torch.Tensor
    diverged: torch.Tensor
    params0: tuple[RNNParams, ...]
    eta: float
    m: int
    init: str
    seed: int
    seeds: tuple[int, ...]
    runs: tuple[int, ...]
    loss: str
    test_n: int
    device: torch.device
    dtype: torch.dtype
    seconds: float = float("nan")

    @property
    def c(self) -> float:
        """eta m: the constant of eta = c / m."""
        return self.eta * self.m

    def params(self, r: int = 0) -> RNNParams:
        """Run r's network with its trained W."""
        return self.params0[r].replace(W=self.W[r])


def sgd(source: DataSource, *, m: int, steps: int, eta: float | None = None, c: float | None = None,
        init: str = "algorithm1", runs: int = 1, seed: int = 0, first_run: int = 0,
        log_every: int | None = None, log_points: int = 20, test_n: int = 1000, loss: str = "final",
        dtype=None, device=None, progress: bool = False, threads: int | None = 1) -> TrainResult:
    """Algorithm 1: ``steps`` steps of online SGD on W with batch size 1,
    W_t = W_{t-1} - eta grad_W l(y_t f(W_{t-1}, x_t)), for ``runs`` independent runs at once.

    * Exactly one of ``eta`` and ``c`` (then eta = c / m); eta must be > 0.  See the module
      docstring on the scale: eta = c/m moves f by about c Hbar / (2m) per step, Hbar =
      :func:`rnnbook.baselines.ntk_diagonal` (about L/2 under Section 3's initialisation,
      L/2 + L(L-1)/4 under Algorithm 1's).
    * ``init``: ``"algorithm1"`` (A ~ N(0, 2/m), the box) or ``"paper"`` (A ~ N(0, 2/(L^3 m))).
    * Runs ``first_run .. first_run + runs - 1``; run r draws its weights and data from a CPU
      generator seeded with ``run_seed(seed, r)`` (see the module docstring): the batched runs
      equal the same runs made one at a time.
    * ``loss``: ``"final"`` or ``"labelling"`` (Remark 3.2; needs a per-position source).
    * Logged at :func:`log_steps` (``log_every`` or about ``log_points`` geometric steps).
    * ``test_n`` inputs (0: none) drawn once from ``source.test`` with a seed derived from ``seed``.
    * ``dtype``: float64 on the CPU, float32 on CUDA by default.
    * ``threads``: CPU threads for the loop (None: torch's setting).  Default 1: a step is a
      chain of matrix-vector products that a second thread hardly speeds up (under 5% measured at
      m = 2048 on 2 cores), while on a busy machine a descheduled OpenMP thread stalls every
      small operation (steps 10-100x slower were measured).

    All R runs advance as one batched computation, W of shape (R, m, m), with no autograd."""
    _check_source(source)
    loss = _check_loss(loss)
    m = check_int(m, name="m", minimum=1)
    steps = check_int(steps, name="steps", minimum=1)
    runs = check_int(runs, name="runs", minimum=1)
    seed = check_int(seed, name="seed", minimum=0)
    first_run = check_int(first_run, name="first_run", minimum=0)
    test_n = check_int(test_n, name="test_n", minimum=0)
    if threads is not None:
        threads = check_int(threads, name="threads", minimum=1)
    init = get_init(init).name
    if (eta is None) == (c is None):
        raise ValueError("pass exactly one of eta and c (eta = c / m)")
    if eta is None:
        eta = check_real(c, name="c", positive=True) / m
    else:
        eta = check_real(eta, name="eta", positive=True)
    labelling = loss == "labelling"
    if labelling != source.labelling:
        raise ValueError(f"loss={loss!r} needs a source with "
                         f"{'per-position' if labelling else 'one label per sequence'} labels; this "
                         f"source gives {'per-position' if source.labelling else 'one per sequence'} "
                         f"(use population_labelling / population)")
    logged = log_steps(steps, log_every=log_every, log_points=log_points)
    dev, dtype = _device_dtype(device, dtype)
    L = source.L
    K = len(logged)
    _reserve(source, m, runs, test_n, dev, dtype)

    run_ids = tuple(range(first_run, first_run + runs))
    streams = [_Stream(source, m, init, seed, r) for r in run_ids]

    def stack(name):
        return torch.stack([getattr(s.params, name) for s in streams]).to(device=dev, dtype=dtype)

    W0, A, B, M0 = stack("W"), stack("A"), stack("B"), stack("M0")
    params0 = tuple(RNNParams(W0[r], A[r], B[r], M0[r], init=init, L=L) for r in range(runs))
    W = W0.clone()
    trainer = _Trainer(W, A, B, M0, eta, labelling)

    test = None
    if test_n and source.test is not None:
        Xt, yt = held_out_sample(source, test_n, seed=seed)
        test = (Xt.to(device=dev, dtype=dtype), yt.to(device=dev, dtype=dtype))

    acc = torch.float64 if dev.type == "cpu" or dtype == torch.float64 else torch.float32
    rec = torch.full((4, runs, K), math.nan, dtype=acc, device=dev)  # test, online, loss, distance
    mistakes = torch.zeros(runs, dtype=acc, device=dev)
    loss_sum = torch.zeros(runs, dtype=acc, device=dev)
    per_sample = L if labelling else 1

    def record(i, k, seen):
        if test is not None:
            z = _batched_margins(W, A, B, M0, test[0], test[1], labelling)
            rec[0, :, i] = _mistakes(z).to(acc).flatten(1).mean(1)
        if k > 0:
            rec[1, :, i] = mistakes / (k * per_sample)
            rec[2, :, i] = loss_sum / seen
        rec[3, :, i] = torch.linalg.vector_norm((W - W0).flatten(1), dim=1).to(acc)
        loss_sum.zero_()

    with runtime.cpu_threads(dev, threads):
        t0 = time.perf_counter()
        record(0, 0, 0)
        k = 0
        nxt = 1
        seen = 0
        shape = (runs, DATA_CHUNK, per_sample)
        segments = progress_bar(range(1, K), "Algorithm 1") if progress else range(1, K)
        Xc = yc = nyc = zc = None
        offset = 0  # step index at the start of the current chunk
        for nxt in segments:
            target_k = logged[nxt]
            while k < target_k:
                if Xc is None or k - offset >= DATA_CHUNK:
                    if Xc is not None:
                        offset += DATA_CHUNK
                    chunks = [s.chunk() for s in streams]
                    Xc = torch.stack([c_[0] for c_ in chunks]).to(device=dev, dtype=dtype)
                    yc = torch.stack([c_[1] for c_ in chunks]).to(device=dev, dtype=dtype).reshape(shape)
                    nyc = -yc
                    zc = torch.empty(shape, dtype=dtype, device=dev)
                a = k - offset
                b = min(DATA_CHUNK, target_k - offset)
                for t in range(a, b):
                    trainer.step(Xc[:, t], yc[:, t, :, None], nyc[:, t, :, None], zc[:, t, :, None])
                z = zc[:, a:b]
                mistakes.add_(_mistakes(z).to(acc).sum(dim=(1, 2)))
                loss_sum.add_(logistic_loss(z).to(acc).sum(dim=(1, 2)))
                seen += b - a
                k = offset + b
            record(nxt, k, seen)
            seen = 0
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        seconds = time.perf_counter() - t0

    rec = rec.to("cpu", torch.float64)
    return TrainResult(
        steps=torch.tensor(logged, dtype=torch.int64), test_error=rec[0] if test is not None else None,
        online_error=rec[1], train_loss=rec[2], w_distance=rec[3], W=W,
        diverged=~torch.isfinite(W).flatten(1).all(1).cpu(), params0=params0, eta=eta, m=m,
        init=init, seed=seed, seeds=tuple(s.seed for s in streams), runs=run_ids, loss=loss,
        test_n=test_n if test is not None else 0, device=dev, dtype=dtype, seconds=seconds)


# ----------------------------------------------------------------------------------------------
# The step size in function space, the literal loop, and Algorithm 1's infinite-width limit.


def algorithm1_loop(params, X, y, eta: float):
    """Algorithm 1 written literally, one sample at a time through :func:`gradient`:
    W_t = W_{t-1} - eta grad_W l(y_t f(W_{t-1}, x_t)).  For networks :func:`sgd`
    does not draw (here: B ~ N(0, 1)); on the same stream and weights it computes what sgd does."""
    _paper_network(params)
    eta = check_real(eta, name="eta", positive=True)
    X = check_inputs(X, params)
    y = _check_labels(y, (X.shape[0],), dtype=params.dtype, device=params.device)
    params = params.detach()
    W = params.W.clone()
    for t in range(X.shape[0]):
        W -= eta * gradient(params.replace(W=W), X[t], y[t])
    return params.replace(W=W)


def train_on_stream(params: RNNParams, X, y, eta: float) -> RNNParams:
    """Algorithm 1 on a given stream, for one network: what :func:`algorithm1_loop` computes, with
    the batched trainer of :func:`sgd` (no autograd, buffers allocated once, one thread on the
    CPU), so many times faster.  ``X`` (n, L, d) and ``y`` (n,) in {-1, +1} are converted to
    params' dtype and device; returns params with the trained W."""
    _paper_network(params)
    eta = check_real(eta, name="eta", positive=True)
    Xs = check_sequences(X, name="X", d=params.A.shape[1], dtype=params.dtype, device=params.device)
    if params.L is not None and Xs.shape[1] != params.L:
        raise ValueError(f"X has sequence length {Xs.shape[1]} but params were drawn for L = {params.L}")
    n = Xs.shape[0]
    ys = _check_labels(y, (n,), dtype=params.dtype, device=params.device)
    W = params.W.clone()[None]
    trainer = _Trainer(W, params.A[None], params.B[None], params.M0[None], eta, False)
    yv = ys.reshape(1, n, 1, 1)
    z = torch.empty((1, n, 1, 1), dtype=params.dtype, device=params.device)
    with runtime.cpu_threads(params.device, 1):
        for t in range(n):
            trainer.step(Xs[None, t], yv[:, t], -yv[:, t], z[:, t])
    return params.replace(W=W[0])


def final_margins(result: TrainResult, X, y) -> torch.Tensor:
    """y f(W_r, x_i) of every run r's final network on inputs ``X`` (n, L, d) with labels ``y`` (n,):
    shape (R, n), float64 on the CPU (NaN for a diverged run).  On the held-out sample of
    :func:`sgd`, the fraction of margins < 0 or NaN is the last entry of ``result.test_error``."""
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult, got {type(result).__name__}")
    if result.loss != "final":
        raise ValueError("final_margins needs a run with loss='final'")
    p0 = result.params0[0]
    Xs = check_sequences(X, name="X", d=p0.A.shape[1], dtype=p0.dtype, device=p0.device)
    ys = _check_labels(y, (Xs.shape[0],), dtype=p0.dtype, device=p0.device)
    A, B, M0 = (torch.stack([getattr(p, k) for p in result.params0]) for k in ("A", "B", "M0"))
    return _batched_margins(result.W, A, B, M0, Xs, ys, False).to("cpu", torch.float64)


# ----------------------------------------------------------------------------------------------
# The kernel-regression baseline.


