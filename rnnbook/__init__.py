"""rnnbook: the computations behind the book on Wang, Shen, Hu & Cao (NeurIPS 2021),
"On the Provable Generalization of Recurrent Neural Networks".

Modules, one concept each: ``series`` (power series, C(psi, R), C_N(psi, R)), ``concepts``
(input sequences, the concept classes of Section 2.2, C(F*), labels), ``posdef``
(positive-definite functions), ``bounds`` (y^T M^-1 y, dominance constants), ``model`` (the RNN
of eq. (14)), ``kernels`` (infinite-width kernels), ``empirical`` (their finite-width
counterparts), ``train`` (Algorithm 1: online SGD on W, batched runs, the NTK baseline),
``sweep`` (resumable heavy experiments), ``device``, ``profiles``, ``plotting``, ``report``
(numbers and verdicts glued into chapters), ``verdicts`` (the tested rules that decide every
verdict the book prints).
"""

__version__ = "0.1.0"  # before the submodules: sweep records it

from . import (  # noqa: E402
    bounds,
    concepts,
    device,
    empirical,
    kernels,
    model,
    plotting,
    posdef,
    profiles,
    report,
    series,
    sweep,
    train,
    verdicts,
)

__all__ = ["bounds", "concepts", "device", "empirical", "kernels", "model", "plotting", "posdef",
           "profiles", "report", "series", "sweep", "train", "verdicts"]
