"""Deprecated: the registry of the book's experiments is :mod:`rnnbook.experiments`.  Importing
this module warns; every name it had still works."""

import warnings

from .experiments import *  # noqa: F401,F403
from .experiments import __all__  # noqa: F401

warnings.warn("rnnbook.sweeps is deprecated; use rnnbook.experiments", DeprecationWarning, stacklevel=2)
