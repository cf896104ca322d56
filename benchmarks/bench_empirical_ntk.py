"""empirical_ntk (eq. 23 at width m) against two torch.func references, same inputs, float64.

rnnbook's version uses the structure of the RNN: grad_W f(x) = sum_l delta_l h_{l-1}^T, so
H^(m)_ij = sum_{l,l'} <delta_l(x_i), delta_l'(x_j)> <h_{l-1}(x_i), h_{l'-1}(x_j)> -- two Gram
products of (nL x m) matrices, O(n^2 L^2 m + n L m^2).  The references know nothing of the
structure and differentiate f(W; x) = B^T h_L with torch.func:

* Jacobian contraction: per-sequence Jacobians J = vmap(jacrev(f)) of shape (n, m, m), then
  H = J J^T over the m^2 entries of W -- O(n L m^2) to build J, O(n^2 m^2) to contract it;
* NTK-vector products (the torch.func NTK tutorial's second method): for each output basis vector
  e_i, the vjp J^T e_i = grad_W f(x_i) and then the jvp J (J^T e_i), which is row i of H; vmapped
  over the e_i in chunks, so J is never held whole.

All three must agree to 1e-12, measured as max_ij |H_ij - R_ij| / sqrt(R_ii R_jj) (entries can be
near zero, the diagonal cannot; |H_ij| <= sqrt(H_ii H_jj)).  torch.func cannot vmap over the inputs
of rnnbook.model.forward (it validates them, which is data-dependent control flow), so the
references differentiate a plain functional copy of eq. (14), checked against it first.

    python benchmarks/bench_empirical_ntk.py [--n 64] [--L 10] [--m 1024] [--d 10] [--device cpu]
                                             [--repeat 3] [--skip-references]

The last line is ``ratio_vs_jacobian: <number>`` (``seconds: <t>`` with --skip-references).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.func import jacrev, jvp, vjp, vmap

sys.path.insert(0, str(Path(__file__).resolve().parent))  # when imported from elsewhere (the book)
from bench_kernels import _time  # noqa: E402  (one timer for every benchmark)

from rnnbook.device import describe, get_device, make_generator
from rnnbook.empirical import empirical_ntk
from rnnbook.model import forward, init_params, initial_states

TOLERANCE = 1e-12
# Entries of W-shaped tangents held at once by the NTK-vector products: 2^25 (256 MiB in float64).
_VP_CHUNK_ENTRIES = 1 << 25


def plain_forward(W, A, B, M0, X):
    """Eq. (14) for X of shape (..., L, d): h_0 = relu(M0), h_l = relu(W h_{l-1} + A X_l),
    f = B^T h_L -- no input checks, so torch.func can transform it in every argument."""
    h = torch.relu(M0).expand(*X.shape[:-2], M0.shape[0])
    for l in range(X.shape[-2]):
        h = torch.relu(h @ W.T + X[..., l, :] @ A.T)
    return h @ B


def ntk_jacobian(W, A, B, M0, X):
    """H = J J^T with the per-sequence Jacobians J (n, m, m) of f over W from vmap(jacrev)."""
    J = vmap(jacrev(plain_forward), in_dims=(None, None, None, None, 0))(W, A, B, M0, X)
    J = J.reshape(X.shape[0], -1)
    return J @ J.T


def ntk_vector_products(W, A, B, M0, X, chunk_size=None):
    """H = J (J^T e_i) for every output basis vector e_i: a vjp then a jvp, vmapped over the e_i
    ``chunk_size`` at a time (by default so that about 2^25 tangent entries are live)."""
    n, m = X.shape[0], W.shape[0]

    def f(W_):
        return plain_forward(W_, A, B, M0, X)

    _, vjp_fn = vjp(f, W)

    def row(e):
        (g,) = vjp_fn(e)
        return jvp(f, (W,), (g,))[1]

    if chunk_size is None:
        chunk_size = max(1, min(n, _VP_CHUNK_ENTRIES // (m * m)))
    basis = torch.eye(n, dtype=W.dtype, device=W.device)
    return vmap(row, chunk_size=chunk_size)(basis)


def _best(fn, device, repeat):
    """One untimed warm-up run, then the best of ``repeat`` timed runs: (result, seconds)."""
    out = fn()
    best = float("inf")
    for _ in range(repeat):
        del out
        out, t = _time(fn, device)
        best = min(best, t)
    return out, best


def _rel_diff(H, R) -> float:
    d = torch.sqrt(torch.diagonal(R)).clamp_min(1e-300)
    return float(((H - R).abs() / (d[:, None] * d[None, :])).max())


def run(n: int = 64, L: int = 10, m: int = 1024, d: int = 10, init: str = "paper", device=None,
        repeat: int = 3, references: bool = True) -> dict:
    """Time empirical_ntk and (with ``references``) both torch.func references on the same
    inputs: one warm-up run each, then the best of ``repeat``.  Raises if they differ by more than
    1e-12.  On CUDA also records the peak memory of empirical_ntk (bytes, over the timed runs)."""
    dev = get_device(device)
    gen = make_generator(0, dev)
    params = init_params(m, d, L, init=init, generator=gen, dtype=torch.float64, device=dev)
    X = torch.randn((n, L, d), generator=gen, dtype=torch.float64, device=dev)
    X = X / X.norm(dim=-1, keepdim=True)
    out = {"benchmark": "empirical_ntk", "n": n, "L": L, "m": m, "d": d, "init": init, "device": str(dev),
           "repeat": repeat}
    if dev.type == "cuda":
        out["device_name"] = torch.cuda.get_device_name(dev)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
    ours, out["seconds"] = _best(lambda: empirical_ntk(params, X), dev, repeat)
    if dev.type == "cuda":
        out["peak_memory_bytes"] = torch.cuda.max_memory_allocated(dev)
        out["peak_memory_above_inputs_bytes"] = out["peak_memory_bytes"] - base
    # The NTK of every weight (W, A, B, M0) against W's alone: the A, B and M0 terms add one
    # (nL x d) and two (n x m) Gram products to W's two (nL x m) ones.
    _, out["seconds_all"] = _best(lambda: empirical_ntk(params, X, wrt="all"), dev, repeat)
    out["ratio_all_vs_W"] = out["seconds_all"] / out["seconds"]
    # The literature's conventions, every weight: the mean output (one more addition per step back)
    # and independent initial states (an (n, m) h_0 instead of a broadcast one; no M0).
    _, out["seconds_all_mean"] = _best(lambda: empirical_ntk(params, X, wrt="all", output="mean"),
                                       dev, repeat)
    indep = params.replace(M0=None, h0="independent")
    start = initial_states(indep, n, generator=gen)
    _, out["seconds_all_independent"] = _best(lambda: empirical_ntk(indep, X, wrt="all", initial=start),
                                              dev, repeat)
    out["ratio_all_mean_vs_W"] = out["seconds_all_mean"] / out["seconds"]
    out["ratio_all_independent_vs_W"] = out["seconds_all_independent"] / out["seconds"]
    if not references:
        return out

    f_plain = plain_forward(params.W, params.A, params.B, params.M0, X)
    f_model = forward(params, X)
    err_f = float(((f_plain - f_model).abs() / f_model.abs().max()).max())
    if not err_f <= TOLERANCE:
        raise AssertionError(f"plain_forward and rnnbook.model.forward differ by {err_f:.3g} (relative)")
    args = (params.W, params.A, params.B, params.M0, X)
    jac, out["seconds_jacobian"] = _best(lambda: ntk_jacobian(*args), dev, repeat)
    err = _rel_diff(ours, jac)
    del jac
    vp, out["seconds_ntk_vp"] = _best(lambda: ntk_vector_products(*args), dev, repeat)
    err = max(err, _rel_diff(ours, vp))
    del vp
    if not err <= TOLERANCE:
        raise AssertionError(f"empirical_ntk and the torch.func references differ by {err:.3g} (relative)")
    out["max_rel_diff"] = err
    out["ratio_vs_jacobian"] = out["seconds_jacobian"] / out["seconds"]
    out["ratio_vs_ntk_vp"] = out["seconds_ntk_vp"] / out["seconds"]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--L", type=int, default=10)
    p.add_argument("--m", type=int, default=1024)
    p.add_argument("--d", type=int, default=10)
    p.add_argument("--init", default="paper")
    p.add_argument("--device", default=None)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--skip-references", action="store_true",
                   help="time empirical_ntk only (sizes where the references do not fit)")
    args = p.parse_args()
    info = describe()
    dev = get_device(args.device)
    name = f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else ""
    print(f"device: {dev}{name}  torch {info['torch']}  threads {info['torch threads']}")
    r = run(args.n, args.L, args.m, args.d, args.init, dev, args.repeat, not args.skip_references)
    print(f"n={r['n']} L={r['L']} m={r['m']} d={r['d']} init={r['init']}, best of {r['repeat']}")
    if "peak_memory_bytes" in r:
        print(f"peak memory: {r['peak_memory_bytes'] / 2**30:.2f} GiB")
    print(f"wrt='all' / wrt='W': {r['ratio_all_vs_W']:.2f}; with output='mean': "
          f"{r['ratio_all_mean_vs_W']:.2f}; with h0='independent': {r['ratio_all_independent_vs_W']:.2f}")
    if args.skip_references:
        print(f"seconds: {r['seconds']:.4f}")
        return
    print(f"Jacobian contraction: {r['seconds_jacobian']:.4f} s")
    print(f"NTK-vector products: {r['seconds_ntk_vp']:.4f} s")
    print(f"max relative difference: {r['max_rel_diff']:.2e}")
    print(f"empirical_ntk_seconds: {r['seconds']:.4f}")
    print(f"ratio_vs_ntk_vp: {r['ratio_vs_ntk_vp']:.2f}")
    print(f"ratio_vs_jacobian: {r['ratio_vs_jacobian']:.2f}")


if __name__ == "__main__":
    main()
