"""The package version (a leaf module: the sweep engine records it with every unit)."""

__version__ = "0.1.0"
