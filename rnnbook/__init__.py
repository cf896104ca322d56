"""rnnbook: the computations behind the book on Wang, Shen, Hu & Cao (NeurIPS 2021),
"On the Provable Generalization of Recurrent Neural Networks".

Modules, one concept each, in layers; a module imports only from layers below it (the README draws
the layers; ``tests/test_layers.py`` enforces them):

0. ``device`` (device, dtype and seed policy), ``runtime`` (progress, CPU threads), ``profiles``,
   ``plotting``, ``verdicts`` (the tested rules that decide every verdict the book prints)
1. ``checks`` (argument checks)
2. ``series`` (power series, C(psi, R), C_N(psi, R)), ``linalg`` (guarded symmetric linear algebra)
3. ``concepts`` (the concept classes of Section 2.2, C(F*)), ``posdef`` (positive-definite functions)
4. ``data`` (input sequences, labelled data, margins, data sources), ``model`` (the RNN of eq. (14))
5. ``kernels`` (infinite-width kernels, Theorems 5 and 6)
6. ``empirical`` (their finite-width counterparts), ``bounds`` (Theorem 4, Proposition 2.4, (17))
7. ``train`` (Algorithm 1: online SGD on W, batched runs), ``baselines`` (its infinite-width limit)
8. ``engine`` (resumable sweeps), then ``experiments`` (the book's registered sweeps)
9. ``report`` (numbers and verdicts glued into chapters)
"""

from . import (  # noqa: E402
    baselines,
    bounds,
    checks,
    concepts,
    data,
    device,
    empirical,
    engine,
    experiments,
    kernels,
    linalg,
    model,
    plotting,
    posdef,
    profiles,
    report,
    runtime,
    series,
    train,
    verdicts,
)
from ._deprecated import install as _install_deprecated  # noqa: E402
from ._version import __version__

_install_deprecated()

__all__ = ["baselines", "bounds", "checks", "concepts", "data", "device", "empirical", "engine",
           "experiments", "kernels", "linalg", "model", "plotting", "posdef", "profiles", "report",
           "runtime", "series", "train", "verdicts", "__version__"]
