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


def _fk_run(config: dict, unit: dict, device: torch.device):
    X = concepts.sample_sequences(config["n"], config["L"], config["d"], c_min=config["c_min"],
                                  c_max=config["c_max"], seed=config["input_seed"], device="cpu").to(device)
    k = sorted(INITS).index(unit["init"])
    E = empirical.forward_kernel_errors(X, [unit["m"]], config["seeds"], init=unit["init"],
                                        seed=config["input_seed"] + 100_000 * (k + 1),
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
