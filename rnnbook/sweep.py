"""Deprecated: the sweep engine is :mod:`rnnbook.engine` and the registry of the book's experiments
:mod:`rnnbook.experiments` (the names ``sweep`` and ``sweeps`` differed by one letter).  Importing
this module warns; every name it had still works."""

import warnings

from .engine import (  # noqa: F401
    COMMITTED_DIR,
    ENV_VAR,
    FORMAT,
    Sweep,
    SweepResult,
    atomic_write_json,
    default_directory,
    inventory,
)
from .experiments import SWEEPS, best, committed, get_sweep, register, run  # noqa: F401
from .runtime import progress_bar  # noqa: F401

warnings.warn("rnnbook.sweep is deprecated; use rnnbook.experiments (run, best, committed, register, "
              "get_sweep) and rnnbook.engine (Sweep, SweepResult)", DeprecationWarning, stacklevel=2)
