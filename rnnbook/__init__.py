"""rnnbook: the computations behind the book on Wang, Shen, Hu & Cao (NeurIPS 2021),
"On the Provable Generalization of Recurrent Neural Networks".

Modules, one concept each: ``series`` (power series, C(psi, R), C_N(psi, R)), ``posdef``
(positive-definite functions), ``bounds`` (y^T M^-1 y, dominance constants), ``device``,
``profiles``, ``plotting``, ``report`` (numbers and verdicts glued into chapters).
"""

from . import bounds, device, plotting, posdef, profiles, report, series

__all__ = ["bounds", "device", "plotting", "posdef", "profiles", "report", "series"]
__version__ = "0.1.0"
