"""Bad input to any public function is a clear ``TypeError``, ``ValueError`` or ``MemoryError``
that names the offending argument -- never a traceback from deep inside torch, never a silently
wrong number (inf, NaN, a truncated stream).  One row per bad input, grouped by class:

* memory: work whose estimated peak exceeds the memory available is refused before allocating;
* overflow: inputs whose kernels, states or bounds overflow float64 (or float32) are refused;
* types and shapes; ranges; randomness (generator and seed); weights; training; bounds and fits.

Valid edge cases (half precision, numpy integers, weights that require grad, tiny norms) are
checked for the right value at the end.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch

from rnnbook import baselines as BL
from rnnbook import bounds as B
from rnnbook import concepts as C
from rnnbook import data as D
from rnnbook import empirical as E
from rnnbook import kernels as K
from rnnbook import linalg as LA
from rnnbook import model as M
from rnnbook import posdef as P
from rnnbook import report as R
from rnnbook import series as S
from rnnbook import train as T

f64 = torch.float64
# More than any machine has: 2e6 sequences make an (n, n) float64 kernel of 32 TB.
HUGE_N = 2 * 10**6


@functools.cache
def fx():
    """Small valid objects the rows below spoil one argument of."""
    X = D.sample_sequences(4, 3, 2, seed=0)
    gen = torch.Generator().manual_seed(0)
    p = M.init_params(8, 2, 3, generator=gen)
    pa = M.init_params(8, 2, 3, init="algorithm1", generator=gen)
    target = C.random_additive_target(3, 2, S.exp(), seed=0)
    return {"X": X, "p": p, "pa": pa, "y": torch.ones(4, dtype=f64), "target": target,
            "src": D.population(target)}


def X():
    return fx()["X"]


def huge(value=1e200, shape=(2, 3, 2), dtype=f64):
    return torch.full(shape, value, dtype=dtype)


def grad_params():
    p = fx()["p"]
    return p.replace(W=p.W.clone().requires_grad_(), A=p.A.clone().requires_grad_())


MEMORY = [
    ("forward_kernel", lambda: K.forward_kernel(torch.randn(HUGE_N, 2, 2, dtype=f64))),
    ("forward_correlation", lambda: K.forward_correlation(torch.randn(HUGE_N, 2, 2, dtype=f64))),
    ("backward_kernel", lambda: K.backward_kernel(torch.randn(HUGE_N, 2, 2, dtype=f64))),
    ("ntk", lambda: K.ntk(torch.randn(HUGE_N, 2, 2, dtype=f64))),
    ("cross_forward_kernel", lambda: K.cross_forward_kernel(torch.randn(HUGE_N // 10, 4, 2, dtype=f64))),
    ("output_ntk", lambda: K.output_ntk(torch.randn(HUGE_N // 10, 4, 2, dtype=f64))),
    ("forward_kernel_series", lambda: K.forward_kernel_series(torch.randn(HUGE_N, 2, 2, dtype=f64))),
    ("init_params", lambda: M.init_params(10**7, 2, 3, generator=torch.Generator())),
    ("sample_sequences", lambda: D.sample_sequences(10**12, 3, 2, seed=0)),
    ("sgd m", lambda: T.sgd(fx()["src"], m=10**7, steps=2, c=1.0)),
    ("sgd runs", lambda: T.sgd(fx()["src"], m=8, steps=2, runs=10**9, c=1.0)),
    ("empirical_ntk", lambda: E.empirical_ntk(fx()["p"], torch.randn(HUGE_N, 3, 2, dtype=f64))),
    ("printed_ntk", lambda: E.printed_ntk(fx()["p"], torch.randn(HUGE_N, 3, 2, dtype=f64))),
]

OVERFLOW = [  # (name, call, argument the message names)
    ("forward_kernel", lambda: K.forward_kernel(huge()), "X"),
    ("forward_correlation", lambda: K.forward_correlation(huge()), "X"),
    ("forward_diagonal", lambda: K.forward_diagonal(huge()), "X"),
    ("backward_kernel", lambda: K.backward_kernel(huge()), "X"),
    ("ntk", lambda: K.ntk(huge()), "X"),
    ("ntk, finite squares whose sum overflows", lambda: K.ntk(huge(1e154, (2, 3, 40))), "X"),
    ("ntk, K^L fits but L K^L does not", lambda: K.ntk(huge(1e153, (2, 200, 1)), init="algorithm1"),
     "X"),
    ("cross_forward_kernel", lambda: K.cross_forward_kernel(huge()), "X"),
    ("output_ntk", lambda: K.output_ntk(huge()), "X"),
    ("empirical_ntk float32", lambda: E.empirical_ntk(fx()["p"].to(dtype=torch.float32),
                                                      huge(1e30, dtype=torch.float32)), "X"),
    ("empirical_ntk float32 Gram", lambda: E.empirical_ntk(fx()["p"].to(dtype=torch.float32),
                                                           huge(1e21, dtype=torch.float32)), "X"),
    ("forward float32, a large W", lambda: M.forward(
        fx()["p"].replace(W=fx()["p"].W * 1e20).to(dtype=torch.float32), X().float()), "X"),
    ("forward_correlations float32", lambda: E.forward_correlations(
        fx()["p"].to(dtype=torch.float32), huge(1e21, dtype=torch.float32)), "X"),
    ("output_ntk empirical float32", lambda: E.output_ntk(fx()["p"].to(dtype=torch.float32),
                                                         huge(1e21, dtype=torch.float32)), "X"),
    ("generalization_bound", lambda: B.generalization_bound(1e300, 10, 0.1), "c_star"),
    ("samples_needed", lambda: B.samples_needed(1e-300, 1e300, 0.1), "c_star"),
    ("samples_needed beyond 2^200", lambda: B.samples_needed(1e-70, 1e20, 0.1), "eps"),
    ("remark31_steps", lambda: B.remark31_steps(1e-300, 1e300, 10), "eps"),
    ("claimed_xi33 underflow", lambda: B.claimed_xi33(10**6, 10**6), "L"),
    ("claimed_xi35 underflow", lambda: B.claimed_xi35(10**6, 10**6, 10**6), "L"),
]

ARGUMENTS = [  # (name, call, argument the message names)
    # -- types and shapes
    ("kernels X 2-D", lambda: K.forward_kernel(X()[0]), "X"),
    ("kernels X NaN", lambda: K.ntk(X() * math.nan), "X"),
    ("kernels X complex", lambda: K.ntk(X().to(torch.complex128)), "X"),
    ("kernels X str", lambda: K.ntk("abc"), "X"),
    ("kernels X empty", lambda: K.ntk(torch.zeros(0, 3, 2, dtype=f64)), "X"),
    ("kernels X ragged", lambda: K.ntk([[[1.0]], [[1.0, 2.0]]]), "X"),
    ("kernels init unknown", lambda: K.ntk(X(), init="nope"), "init"),
    ("kernels init None", lambda: K.ntk(X(), init=None), "init"),
    ("kernels block_rows 0", lambda: K.ntk(X(), block_rows=0), "block_rows"),
    ("kernels block_rows float", lambda: K.ntk(X(), block_rows=1.5), "block_rows"),
    ("layers float", lambda: K.forward_kernel(X(), layers=1.0), "layers"),
    ("layers str", lambda: K.forward_kernel(X(), layers="1"), "layers"),
    ("layers beyond L", lambda: K.forward_kernel(X(), layers=[4]), "layers"),
    ("layers negative", lambda: K.forward_kernel(X(), layers=[-1]), "layers"),
    ("layers empty", lambda: K.forward_kernel(X(), layers=[]), "layers"),
    ("layers bool", lambda: K.forward_kernel(X(), layers=True), "layers"),
    ("kappa rho 2", lambda: K.kappa(2.0), "rho"),
    ("kappa rho NaN", lambda: K.kappa(math.nan), "rho"),
    ("sigma rho -2", lambda: K.sigma(-2.0), "rho"),
    ("hermite R -1", lambda: K.hermite_coefficients(-1), "R"),
    ("hermite method", lambda: K.hermite_coefficients(3, method="x"), "method"),
    ("series_terms_needed tol 0", lambda: K.series_terms_needed(0.5, 0), "tol"),
    ("series_terms_needed rho 1.5", lambda: K.series_terms_needed(1.5, 1e-3), "rho"),
    ("degeneracy case", lambda: K.degeneracy_asymptote(3, case="x"), "case"),
    ("backward_asymptote L 0", lambda: K.backward_asymptote(0, init="paper"), "L"),
    ("output_ntk_matrix shape", lambda: K.output_ntk_matrix(torch.ones(2, 3, dtype=f64)), "H"),
    ("normalized non-square", lambda: K.normalized(torch.ones(2, 3, dtype=f64)), "K"),
    ("normalized zero diagonal", lambda: K.normalized(torch.zeros(2, 2, dtype=f64)), "K"),
    ("forward_kernel_series R -1", lambda: K.forward_kernel_series(X(), R=-1), "R"),
    # -- Monte Carlo sweeps
    ("widths int", lambda: E.forward_kernel_errors(X(), 8, 2), "widths"),
    ("widths empty", lambda: E.forward_kernel_errors(X(), [], 2), "widths"),
    ("widths 0", lambda: E.forward_kernel_errors(X(), [0], 2), "widths"),
    ("widths str", lambda: E.forward_kernel_errors(X(), "8", 2), "widths"),
    ("seeds 0", lambda: E.forward_kernel_errors(X(), [8], 0), "seeds"),
    ("seeds float", lambda: E.forward_kernel_errors(X(), [8], 1.5), "seeds"),
    ("metric", lambda: E.forward_kernel_errors(X(), [8], 2, metric="x"), "metric"),
    ("backward widths int", lambda: E.backward_kernel_errors(X(), 8, 2), "widths"),
    ("network_quantiles axis", lambda: E.network_quantiles(np.ones((2, 3)), axis=5), "axis"),
    ("network_quantiles str", lambda: E.network_quantiles("x"), "errors"),
    ("cross_rms_all_steps str", lambda: E.cross_rms_all_steps("x"), "by_lag"),
    ("eq23_readings params", lambda: E.eq23_readings("x", X()), "params"),
    ("norm_ratios init", lambda: E.norm_ratios(fx()["p"], X(), init="x"), "init"),
    ("jacobian_ntk length", lambda: E.jacobian_ntk(fx()["p"], D.sample_sequences(2, 4, 2, seed=0)), "L"),
    ("empirical_ntk params None", lambda: E.empirical_ntk(None, X()), "params"),
    ("backward_vectors params dict", lambda: E.backward_vectors({}, X()), "params"),
    ("empirical_ntk wrt unknown", lambda: E.empirical_ntk(fx()["p"], X(), wrt="h0"), "wrt"),
    ("empirical_ntk wrt empty", lambda: E.empirical_ntk(fx()["p"], X(), wrt=()), "wrt"),
    ("jacobian_ntk wrt repeated", lambda: E.jacobian_ntk(fx()["p"], X(), wrt=("A", "A")), "wrt"),
    ("ntk wrt int", lambda: K.ntk(X(), wrt=1), "wrt"),
    ("empirical_ntk block_rows 0", lambda: E.empirical_ntk(fx()["p"], X(), block_rows=0), "block_rows"),
    # -- conventions of the literature (h0, output, initial states)
    ("forward_kernel h0 unknown", lambda: K.forward_kernel(X(), h0="random"), "h0"),
    ("ntk h0 int", lambda: K.ntk(X(), h0=0), "h0"),
    ("ntk output unknown", lambda: K.ntk(X(), output="first"), "output"),
    ("ntk output None", lambda: K.ntk(X(), output=None), "output"),
    ("ntk wrt M0 without M0", lambda: K.ntk(X(), h0="zero", wrt="M0"), "wrt"),
    ("ntk mean block_rows", lambda: K.ntk(X(), output="mean", block_rows=2), "block_rows"),
    ("init_params h0 unknown", lambda: M.init_params(4, 2, 3, h0="x"), "h0"),
    ("RNNParams M0 with zero h0", lambda: fx()["p"].replace(h0="zero"), "M0"),
    ("RNNParams no M0 with shared h0", lambda: fx()["p"].replace(M0=None), "M0"),
    ("forward output unknown", lambda: M.forward(fx()["p"], X(), output="sum"), "output"),
    ("forward initial for shared", lambda: M.forward(fx()["p"], X(), initial=torch.zeros(4, 8, dtype=f64)),
     "initial"),
    ("forward initial missing", lambda: M.forward(M.init_params(8, 2, 3, h0="independent"), X()), "initial"),
    ("forward initial shape", lambda: M.forward(M.init_params(8, 2, 3, h0="independent"), X(),
                                                initial=torch.zeros(3, 8, dtype=f64)), "initial"),
    ("forward initial dtype", lambda: M.forward(M.init_params(8, 2, 3, h0="independent"), X(),
                                                initial=torch.zeros(4, 8, dtype=torch.float32)), "initial"),
    ("forward initial NaN", lambda: M.forward(M.init_params(8, 2, 3, h0="independent"), X(),
                                              initial=torch.full((4, 8), math.nan, dtype=f64)), "initial"),
    ("forward initial list", lambda: M.forward(M.init_params(8, 2, 3, h0="independent"), X(),
                                               initial=[[0.0] * 8] * 4), "initial"),
    ("initial_states shared", lambda: M.initial_states(fx()["p"], 4), "h0"),
    ("initial_states n 0", lambda: M.initial_states(M.init_params(8, 2, 3, h0="independent"), 0), "n"),
    ("empirical_ntk wrt M0 without M0", lambda: E.empirical_ntk(M.init_params(8, 2, 3, h0="zero"), X(),
                                                                wrt="M0"), "wrt"),
    ("empirical_ntk output unknown", lambda: E.empirical_ntk(fx()["p"], X(), output="x"), "output"),
    ("backward_vectors output unknown", lambda: E.backward_vectors(fx()["p"], X(), output=1), "output"),
    ("gradient zero h0", lambda: T.gradient(M.init_params(8, 2, 3, h0="zero"), X()[0], 1.0), "h0"),
    ("train_on_stream independent h0",
     lambda: T.train_on_stream(M.init_params(8, 2, 3, h0="independent"), X(), torch.ones(4, dtype=f64), 0.1),
     "h0"),
    ("limit_deviations widths", lambda: E.limit_deviations(X(), widths=(8,), networks=2), "widths"),
    ("forward_kernel bias negative", lambda: K.forward_kernel(X(), bias=-0.1), "bias"),
    ("ntk bias NaN", lambda: K.ntk(X(), bias=math.nan), "bias"),
    ("ntk bias str", lambda: K.ntk(X(), bias="0.1"), "bias"),
    ("ntk bias tensor", lambda: K.ntk(X(), bias=torch.tensor(0.1)), "bias"),
    ("ntk wrt b without bias", lambda: K.ntk(X(), wrt="b"), "wrt"),
    ("init_params bias inf", lambda: M.init_params(4, 2, 3, bias=math.inf), "bias"),
    ("RNNParams bias without b", lambda: fx()["p"].replace(bias=0.5), "b"),
    ("empirical_ntk wrt b without bias", lambda: E.empirical_ntk(fx()["p"], X(), wrt=("W", "b")), "wrt"),
    ("gradient with a bias", lambda: T.gradient(M.init_params(8, 2, 3, bias=0.5), X()[0], 1.0), "bias"),
    ("limit_deviations networks", lambda: E.limit_deviations(X(), networks=1), "networks"),
    # -- symmetric matrices
    ("psd_check non-symmetric", lambda: LA.psd_check(torch.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=f64)), "M"),
    ("psd_check non-square", lambda: LA.psd_check(torch.ones(2, 3, dtype=f64)), "M"),
    ("psd_check NaN", lambda: LA.psd_check(torch.full((2, 2), math.nan, dtype=f64)), "M"),
    ("psd_check empty", lambda: LA.psd_check(torch.ones(0, 0, dtype=f64)), "M"),
    ("psd_check str", lambda: LA.psd_check("a"), "M"),
    ("inverse_quadratic_form y", lambda: LA.inverse_quadratic_form(torch.eye(3, dtype=f64),
                                                                  torch.ones(2, dtype=f64)), "y"),
    ("inverse_quadratic_form no columns", lambda: LA.inverse_quadratic_form(torch.eye(3, dtype=f64),
                                                                           torch.ones(3, 0, dtype=f64)), "y"),
    ("inverse_quadratic_form 3-d y", lambda: LA.inverse_quadratic_form(torch.eye(3, dtype=f64),
                                                                      torch.ones(3, 2, 1, dtype=f64)), "y"),
    ("nested_quadratic_forms y rows",
     lambda: LA.nested_quadratic_forms(torch.eye(3, dtype=f64), torch.ones(2, 2, dtype=f64), [2]), "y"),
    ("inverse_quadratic_form singular", lambda: LA.inverse_quadratic_form(torch.ones(3, 3, dtype=f64),
                                                                         torch.ones(3, dtype=f64)), "M"),
    ("guarded_eigh ridge", lambda: LA.guarded_eigh(torch.eye(3, dtype=f64), ridge=-1.0), "ridge"),
    ("dominance_constant indefinite", lambda: LA.dominance_constant(-torch.eye(2, dtype=f64),
                                                                    torch.eye(2, dtype=f64)), "A"),
    ("backward_dominance duplicates", lambda: B.backward_dominance(torch.cat([X()[:1], X()[:1]])), "X"),
    ("backward_dominance one sequence", lambda: B.backward_dominance(X()[:1]), "X"),
    # -- fits
    ("loglog_slope equal x", lambda: R.loglog_slope([1, 1, 1], [1, 2, 3]), "x"),
    ("loglog_slope negative x", lambda: R.loglog_slope([-1, 1, 2], [1, 2, 3]), "x"),
    ("loglog_slope lengths", lambda: R.loglog_slope([1, 2], [1, 2, 3]), "y"),
    ("loglog_slope one point", lambda: R.loglog_slope([1], [1]), "x"),
    ("loglog_slope zero y", lambda: R.loglog_slope([1, 2], [0, 1]), "y"),
    ("loglog_slope NaN y", lambda: R.loglog_slope([1, 2], [math.nan, 1]), "y"),
    ("loglog_slope str x", lambda: R.loglog_slope(["a", "b"], [1, 2]), "x"),
    ("loglog_slope 2-D", lambda: R.loglog_slope([[1, 2]], [[1, 2]]), "x"),
    ("local_exponent negative x", lambda: R.local_exponent(lambda t: t, [-1.0, 2.0]), "x"),
    ("local_exponent scalar x", lambda: R.local_exponent(lambda t: t, 2.0), "x"),
    ("local_exponent fn", lambda: R.local_exponent(3, [1.0, 2.0]), "fn"),
    # -- randomness
    ("generator str", lambda: D.sample_sequences(2, 3, 2, generator="x"), "generator"),
    ("neither generator nor seed", lambda: D.sample_sequences(2, 3, 2), "seed"),
    ("generator and seed", lambda: D.sample_sequences(2, 3, 2, generator=torch.Generator(), seed=0),
     "seed"),
    ("seed 2^64", lambda: D.sample_sequences(2, 3, 2, seed=2**64), "seed"),
    ("seed -1", lambda: D.sample_sequences(2, 3, 2, seed=-1), "seed"),
    ("seed float", lambda: D.sample_sequences(2, 3, 2, seed=1.5), "seed"),
    ("seed str", lambda: D.sample_sequences(2, 3, 2, seed="a"), "seed"),
    ("init_params generator str", lambda: M.init_params(8, 2, 3, generator="x"), "generator"),
    # -- data
    ("sample n 0", lambda: D.sample_sequences(0, 3, 2, seed=0), "n"),
    ("sample L 0", lambda: D.sample_sequences(2, 0, 2, seed=0), "L"),
    ("sample d 0", lambda: D.sample_sequences(2, 3, 0, seed=0), "d"),
    ("sample n float", lambda: D.sample_sequences(2.0, 3, 2, seed=0), "n"),
    ("sample c_min > c_max", lambda: D.sample_sequences(2, 3, 2, c_min=2, c_max=1, seed=0), "c_min"),
    ("sample c_min 0", lambda: D.sample_sequences(2, 3, 2, c_min=0, seed=0), "c_min"),
    ("sample c_max inf", lambda: D.sample_sequences(2, 3, 2, c_max=math.inf, seed=0), "c_max"),
    ("sample dtype int", lambda: D.sample_sequences(2, 3, 2, seed=0, dtype=torch.int64), "dtype"),
    ("sample device gpu", lambda: D.sample_sequences(2, 3, 2, seed=0, device="gpu"), "device"),
    ("margin_threshold quantile", lambda: D.margin_threshold(fx()["target"], 1.5), "quantile"),
    ("labelled_data method", lambda: D.labelled_data(fx()["target"], 4, method="x", seed=0), "method"),
    ("labelled_data n 0", lambda: D.labelled_data(fx()["target"], 0, seed=0), "n"),
    ("population target", lambda: D.population("x"), "target"),
    ("finite data", lambda: D.finite("x"), "data"),
    ("additive_target position", lambda: C.additive_target(3, 2, [(5, S.exp(), [1.0, 0.0])]), "position"),
    ("additive_target beta", lambda: C.additive_target(3, 2, [(1, S.exp(), [1.0, 0.0, 0.0])]), "beta"),
    ("random_additive_target psi", lambda: C.random_additive_target(3, 2, S.exp, seed=0), "psi"),
    ("random_additive_target beta_norm", lambda: C.random_additive_target(3, 2, S.exp(), beta_norm=-1,
                                                                          seed=0), "beta_norm"),
    ("complexity R", lambda: S.complexity(S.exp(), -1.0), "R"),
    ("complexity psi", lambda: S.complexity("exp", 1.0), "psi"),
    ("complexity_n N", lambda: S.complexity_n(S.exp(), 1.0, N=0, L=3), "N"),
    ("gaussian_kernel bandwidth", lambda: P.gaussian_kernel(0.0), "bandwidth"),
    ("gram X", lambda: P.gram(P.gaussian_kernel(), "x"), "X"),
    ("min_eigenvalues trials", lambda: P.min_eigenvalues(P.gaussian_kernel(), n=3, d=2, trials=0,
                                                         generator=torch.Generator()), "trials"),
    # -- weights
    ("init_params m 0", lambda: M.init_params(0, 2, 3, generator=torch.Generator()), "m"),
    ("init_params d -1", lambda: M.init_params(8, -1, 3, generator=torch.Generator()), "d"),
    ("init_params L 0", lambda: M.init_params(8, 2, 0, generator=torch.Generator()), "L"),
    ("init_params init", lambda: M.init_params(8, 2, 3, init="x", generator=torch.Generator()), "init"),
    ("init_params dtype int", lambda: M.init_params(8, 2, 3, dtype=torch.int32, generator=torch.Generator()),
     "dtype"),
    ("init_params m float", lambda: M.init_params(8.0, 2, 3, generator=torch.Generator()), "m"),
    ("RNNParams NaN W", lambda: fx()["p"].replace(W=fx()["p"].W * math.nan), "W"),
    ("RNNParams inf B", lambda: fx()["p"].replace(B=fx()["p"].B / 0.0), "B"),
    ("RNNParams meta",
     lambda: M.RNNParams(*(torch.empty(*s, device="meta") for s in ((2, 2), (2, 1), (2,), (2,)))), "meta"),
    ("RNNParams m 0", lambda: M.RNNParams(W=torch.empty(0, 0), A=torch.empty(0, 1), B=torch.empty(0),
                                          M0=torch.empty(0)), "m"),
    ("RNNParams int W", lambda: M.RNNParams(W=torch.ones(2, 2, dtype=torch.int64), A=torch.ones(2, 1),
                                            B=torch.ones(2), M0=torch.ones(2)), "W"),
    ("RNNParams mixed dtypes", lambda: M.RNNParams(W=torch.ones(2, 2), A=torch.ones(2, 1, dtype=f64),
                                                   B=torch.ones(2), M0=torch.ones(2)), "dtype"),
    ("RNNParams numpy W", lambda: M.RNNParams(W=np.ones((2, 2)), A=torch.ones(2, 1), B=torch.ones(2),
                                              M0=torch.ones(2)), "W"),
    ("RNNParams A rows", lambda: M.RNNParams(W=torch.ones(2, 2), A=torch.ones(3, 1), B=torch.ones(2),
                                             M0=torch.ones(2)), "A"),
    ("RNNParams L 0", lambda: fx()["p"].replace(L=0), "L"),
    ("forward length under paper init",
     lambda: M.forward(fx()["p"], D.sample_sequences(2, 5, 2, seed=0)), "L"),
    ("forward d", lambda: M.forward(fx()["p"], D.sample_sequences(2, 3, 3, seed=0)), "d"),
    ("forward params None", lambda: M.forward(None, X()), "params"),
    ("forward X float32", lambda: M.forward(fx()["p"], X().float()), "dtype"),
    ("forward X str", lambda: M.forward(fx()["p"], [["a"]]), "X"),
    ("output_scale scaling", lambda: M.output_scale(8, "x"), "scaling"),
    ("output_scale m 0", lambda: M.output_scale(0, "section3"), "m"),
    ("with_output_scaling params", lambda: M.with_output_scaling("p", "unit"), "params"),
    # -- training
    ("algorithm1_loop params None", lambda: T.algorithm1_loop(None, X(), fx()["y"], 0.1), "params"),
    ("algorithm1_loop short y", lambda: T.algorithm1_loop(fx()["pa"], X(), fx()["y"][:2], 0.1), "y"),
    ("algorithm1_loop long y", lambda: T.algorithm1_loop(fx()["pa"], X(), torch.ones(9, dtype=f64), 0.1),
     "y"),
    ("algorithm1_loop eta NaN", lambda: T.algorithm1_loop(fx()["pa"], X(), fx()["y"], math.nan), "eta"),
    ("algorithm1_loop eta str", lambda: T.algorithm1_loop(fx()["pa"], X(), fx()["y"], "a"), "eta"),
    ("algorithm1_loop labels 3", lambda: T.algorithm1_loop(fx()["pa"], X(), 3 * fx()["y"], 0.1), "y"),
    ("algorithm1_loop X 2-D", lambda: T.algorithm1_loop(fx()["pa"], X()[0], fx()["y"], 0.1), "X"),
    ("algorithm1_loop labels NaN", lambda: T.algorithm1_loop(fx()["pa"], X(), math.nan * fx()["y"], 0.1),
     "y"),
    ("train_on_stream short y", lambda: T.train_on_stream(fx()["pa"], X(), fx()["y"][:2], 0.1), "y"),
    ("sgd steps 0", lambda: T.sgd(fx()["src"], m=8, steps=0, c=1.0), "steps"),
    ("sgd eta and c", lambda: T.sgd(fx()["src"], m=8, steps=2, eta=0.1, c=1.0), "eta"),
    ("sgd neither eta nor c", lambda: T.sgd(fx()["src"], m=8, steps=2), "eta"),
    ("sgd eta negative", lambda: T.sgd(fx()["src"], m=8, steps=2, eta=-0.1), "eta"),
    ("sgd loss", lambda: T.sgd(fx()["src"], m=8, steps=2, loss="x", c=1.0), "loss"),
    ("sgd labelling loss on a final-label source", lambda: T.sgd(fx()["src"], m=8, steps=2, c=1.0,
                                                                 loss="labelling"), "loss"),
    ("sgd source", lambda: T.sgd("x", m=8, steps=2, c=1.0), "source"),
    ("sgd runs 0", lambda: T.sgd(fx()["src"], m=8, steps=2, runs=0, c=1.0), "runs"),
    ("sgd threads 0", lambda: T.sgd(fx()["src"], m=8, steps=2, threads=0, c=1.0), "threads"),
    ("sgd test_n -1", lambda: T.sgd(fx()["src"], m=8, steps=2, test_n=-1, c=1.0), "test_n"),
    ("sgd init", lambda: T.sgd(fx()["src"], m=8, steps=2, init="x", c=1.0), "init"),
    ("sgd dtype int", lambda: T.sgd(fx()["src"], m=8, steps=2, dtype=torch.int64, c=1.0), "dtype"),
    ("gradient loss", lambda: T.gradient(fx()["p"], X()[0], 1.0, loss="x"), "loss"),
    ("gradient label 0.5", lambda: T.gradient(fx()["p"], X()[0], 0.5), "y"),
    ("log_steps 0", lambda: T.log_steps(0), "steps"),
    ("log_steps log_every 0", lambda: T.log_steps(10, log_every=0), "log_every"),
    ("held_out_sample n 0", lambda: T.held_out_sample(fx()["src"], 0), "n"),
    ("ntk_predictor ridge", lambda: BL.ntk_predictor(X(), fx()["y"], X(), ridge=-1.0), "ridge"),
    ("ntk_predictor y", lambda: BL.ntk_predictor(X(), fx()["y"][:2], X()), "y"),
    ("ntk_predictor duplicates", lambda: BL.ntk_predictor(torch.cat([X()[:1], X()[:1]]),
                                                          torch.tensor([1.0, -1.0], dtype=f64), X()), "H"),
    ("kernel_sgd y", lambda: BL.kernel_sgd(torch.eye(3, dtype=f64), torch.ones(2, 3, dtype=f64), fx()["y"],
                                           0.1, torch.zeros(3, dtype=f64), torch.zeros(2, dtype=f64)), "y"),
    ("ntk_diagonal init", lambda: BL.ntk_diagonal(3, 2, init="x"), "init"),
    # -- bounds
    ("generalization_bound delta 0", lambda: B.generalization_bound(1.0, 10, 0.0), "delta"),
    ("generalization_bound n 0", lambda: B.generalization_bound(1.0, 0, 0.1), "n"),
    ("generalization_bound constants",
     lambda: B.generalization_bound(1.0, 10, 0.1, constants=1), "constants"),
    ("samples_needed eps 0", lambda: B.samples_needed(0.0, 1.0, 0.1), "eps"),
    ("samples_needed eps 1", lambda: B.samples_needed(1.0, 1.0, 0.1), "eps"),
    ("claimed_xi32 L 0", lambda: B.claimed_xi32(0), "L"),
    ("claimed_xi33 k 0", lambda: B.claimed_xi33(3, 0), "k"),
    ("claimed_xi35 C1", lambda: B.claimed_xi35(3, 1, 1, C1=-1.0), "C1"),
    ("extrapolated_log_width NaN", lambda: B.extrapolated_log_width(math.nan, 1.0, 0.0, -0.5), "log10_m"),
    ("position_kernel scale", lambda: B.position_kernel(X(), [1], 1, scale="x"), "scale"),
    ("position_kernel positions", lambda: B.position_kernel(X(), [9], 1), "positions"),
    ("position_kernel p -1", lambda: B.position_kernel(X(), [1], -1), "p"),
    ("min_eq18_correction shapes", lambda: B.min_eq18_correction(torch.eye(2, dtype=f64),
                                                                 torch.eye(3, dtype=f64)), "H_inf"),
]


def _raises_naming(call, exceptions, argument):
    with pytest.raises(exceptions) as info:
        call()
    message = str(info.value)
    assert argument.lower() in message.lower(), f"message does not name {argument!r}: {message}"
    assert len(message) < 400, f"message too long to read: {message}"
    return message


@pytest.mark.parametrize("name,call", MEMORY, ids=[c[0] for c in MEMORY])
def test_work_that_cannot_fit_is_refused_before_allocating(name, call):
    message = _raises_naming(call, MemoryError, "needs about")
    assert "available" in message  # the estimate and what the device has, side by side


@pytest.mark.parametrize("name,call,argument", OVERFLOW, ids=[c[0] for c in OVERFLOW])
def test_overflow_is_an_error_not_inf(name, call, argument):
    _raises_naming(call, ValueError, argument)


@pytest.mark.parametrize("name,call,argument", ARGUMENTS, ids=[c[0] for c in ARGUMENTS])
def test_bad_argument_is_named(name, call, argument):
    _raises_naming(call, (TypeError, ValueError), argument)


def test_the_table_covers_over_a_hundred_bad_inputs():
    assert len(MEMORY) + len(OVERFLOW) + len(ARGUMENTS) >= 100


# ---------------------------------------------------------------- valid edge cases: the right value


def test_weights_that_require_grad_give_the_values_of_detached_ones():
    p, Xs = grad_params(), X()
    plain = p.detach()
    assert torch.equal(E.empirical_ntk(p, Xs), E.empirical_ntk(plain, Xs))
    assert torch.equal(E.backward_vectors(p, Xs), E.backward_vectors(plain, Xs))
    assert torch.equal(E.printed_ntk(p, Xs), E.printed_ntk(plain, Xs))
    assert torch.equal(E.output_ntk(p, Xs), E.output_ntk(plain, Xs))
    assert torch.equal(T.gradient(p, Xs[0], 1.0), T.gradient(plain, Xs[0], 1.0))


def test_half_precision_psd_check_is_widened():
    M16 = torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=torch.float16)
    check = LA.psd_check(M16)
    assert check.min_eigenvalue == pytest.approx(1.0, abs=1e-6)
    assert check.tolerance == pytest.approx(2 * torch.finfo(torch.float32).eps * 3.0)
    assert not LA.psd_check(-M16).is_psd


def test_numpy_integers_are_integers():
    Xs = X()
    assert torch.equal(K.forward_kernel(Xs, layers=np.int64(2)), K.forward_kernel(Xs, layers=2))
    assert torch.equal(K.forward_kernel(Xs, layers=[np.int32(0), 3]), K.forward_kernel(Xs, layers=[0, 3]))


def test_tiny_norms_give_the_kernel_of_zero_inputs():
    # 1e-200 squared underflows to 0: the kernel is that of zero inputs, which it equals to
    # rounding (1 + a 1e-400 = 1), not a wrong number.
    tiny = torch.full((2, 3, 2), 1e-200, dtype=f64)
    assert torch.equal(K.ntk(tiny), K.ntk(torch.zeros_like(tiny)))


def test_largest_inputs_that_fit_are_accepted():
    # Inside the overflow guard: (L + 1) max K^L_ii = (L + 1) (1 + L max / (4 (L + 1))) < max.
    L = 3
    x = math.sqrt(torch.finfo(f64).max / (8 * (L + 1)))  # ||X_l||^2 = max / (4 (L + 1))
    H = K.ntk(torch.full((2, L, 2), x, dtype=f64), init="algorithm1")
    assert bool(torch.isfinite(H).all())


def test_bounds_at_the_edge_of_float64_are_exact():
    # remark31_steps' square overflows on its own, the quotient does not: the value is still exact
    # to rounding (10^(2 log10(L C*) - log10 eps)).
    assert B.remark31_steps(1e20, 1e160, 1) == pytest.approx(1e300, rel=1e-12)
    assert B.claimed_xi33(10, 280) == pytest.approx(10.0 ** -287 / 280**2, rel=1e-12)
