"""Experiment sizes.  ``quick`` (the default) executes the whole book on a 2-core CPU in minutes;
``paper`` is sized for one GPU.  Select with ``RNNBOOK_PROFILE`` or :func:`get`.

Each chapter reads only the fields it needs; a chapter that adds an experiment adds its sizes here,
for both profiles, so that ``quick`` and ``paper`` differ only in numbers, never in code paths.
"""

from __future__ import annotations

import dataclasses
import os

ENV_VAR = "RNNBOOK_PROFILE"


@dataclasses.dataclass(frozen=True)
class Profile:
    """Sizes of the book's experiments."""

    name: str
    description: str
    # Preliminaries, Propositions 2.1-2.3: random point sets per kernel, points per set, dimension.
    pd_trials: int
    pd_points: int
    pd_dim: int
    # Preliminaries, Proposition 2.4: sample sizes n and random repetitions per (n, p).
    prop24_sizes: tuple[int, ...]
    prop24_trials: int


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        description="default; the whole book on a 2-core CPU",
        pd_trials=20,
        pd_points=40,
        pd_dim=5,
        prop24_sizes=(5, 10, 20, 40, 80, 160),
        prop24_trials=10,
    ),
    "paper": Profile(
        name="paper",
        description="paper-scale sizes for one GPU",
        pd_trials=200,
        pd_points=200,
        pd_dim=5,
        prop24_sizes=(5, 10, 20, 40, 80, 160, 320, 640),
        prop24_trials=50,
    ),
}


def get(name: str | None = None) -> Profile:
    """The profile called ``name``, else ``$RNNBOOK_PROFILE``, else ``quick``.

    An unknown name is a ``ValueError`` that lists the valid ones."""
    if name is None:
        name = os.environ.get(ENV_VAR, "").strip() or "quick"
    if not isinstance(name, str):
        raise TypeError(f"profile name must be a str, got {type(name).__name__}")
    try:
        return PROFILES[name]
    except KeyError:
        valid = ", ".join(sorted(PROFILES))
        raise ValueError(f"unknown profile {name!r} (from argument or {ENV_VAR}); valid: {valid}") from None
