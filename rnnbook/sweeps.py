"""The book's registered sweeps (see :mod:`rnnbook.sweep`): the heavy experiments of the chapters,
each a function of the profile only, so that ``python -m rnnbook sweep NAME --profile paper`` on a
GPU computes exactly what the chapter would."""

from __future__ import annotations

import torch

from . import concepts, empirical
from .model import INITS
from .sweep import Sweep, register

# The chapters' seed; the sweep's networks are seeded from it.
SEED = 2021


def _fk_config(profile) -> dict:
    # "version": bump whenever the computation changes, so stored results are not reused.
    return {"version": 1, "n": profile.fk_n, "L": profile.fk_L, "d": profile.fk_d, "c_min": 0.5, "c_max": 1.5,
            "seeds": profile.fk_seeds, "input_seed": SEED, "metric": "rms"}


def _fk_units(profile) -> list[dict]:
    return [{"init": init, "m": m} for init in INITS for m in profile.fk_widths]


def _mc_inputs(config: dict, unit: dict, device: torch.device):
    """The sweep's inputs (drawn on the CPU, so identical on every device) and its networks' first
    seed, distinct per initialisation."""
    X = concepts.sample_sequences(config["n"], config["L"], config["d"], c_min=config["c_min"],
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
