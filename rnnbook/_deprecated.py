"""Deprecated names: every public name that moved to another module in the redesign of
2026-12 still works at its old address, with a ``DeprecationWarning`` that names the new one.

Installed by ``rnnbook/__init__.py`` after every module is imported (so that no module imports
upwards for the sake of an alias); the README lists the table.  Functions warn when called; classes
and constants are the same objects at both addresses (an alias of a class cannot warn).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import warnings

#: (old module, old name) -> (new module, new name), all inside ``rnnbook``.
MOVED: dict[tuple[str, str], tuple[str, str]] = {
    **{("device", n): ("checks", n) for n in (
        "as_tensor", "check_sequences", "check_real", "check_int", "check_positions")},
    **{("posdef", n): ("linalg", n) for n in (
        "check_symmetric", "psd_tolerance", "PSDCheck", "psd_check", "is_psd")},
    **{("bounds", n): ("linalg", n) for n in (
        "QuadraticForm", "inverse_quadratic_form", "dominance_constant", "dominance_constants",
        "nested_quadratic_forms")},
    **{("concepts", n): ("data", n) for n in (
        "sample_sequences", "norm_ratio", "LabelledData", "labelled_data", "MarginSample",
        "margin_sample")},
    **{("train", n): ("data", n) for n in (
        "DataSource", "population", "MARGIN_POOL", "margin_threshold", "rejection_sample",
        "population_margin", "population_labelling", "finite")},
    **{("train", n): ("baselines", n) for n in (
        "ntk_diagonal", "kernel_sgd", "NTKPrediction", "ntk_predictor")},
    ("train", "cpu_threads"): ("runtime", "cpu_threads"),
    ("kernels", "kappa_prime"): ("kernels", "sigma"),
}


def _warning(old: str, new: str) -> str:
    return f"rnnbook.{old} is deprecated; use rnnbook.{new} (same behaviour)"


def _alias(obj, old: str, new: str):
    if not inspect.isfunction(obj):
        return obj

    @functools.wraps(obj)
    def alias(*args, **kwargs):
        warnings.warn(_warning(old, new), DeprecationWarning, stacklevel=2)
        return obj(*args, **kwargs)

    alias.__doc__ = f"Deprecated alias of :func:`rnnbook.{new}`."
    return alias


def install() -> None:
    """Put every alias of :data:`MOVED` at its old address.  A module that still holds the old
    function itself (imported for internal use) is an error: its callers would get no warning."""
    for (old_mod, old_name), (new_mod, new_name) in MOVED.items():
        old = importlib.import_module(f"rnnbook.{old_mod}")
        obj = getattr(importlib.import_module(f"rnnbook.{new_mod}"), new_name)
        if inspect.isfunction(obj) and vars(old).get(old_name) is obj:
            raise RuntimeError(f"rnnbook.{old_mod} defines {old_name!r} itself; refer to "
                               f"rnnbook.{new_mod}.{new_name} through its module instead")
        setattr(old, old_name, _alias(obj, f"{old_mod}.{old_name}", f"{new_mod}.{new_name}"))
