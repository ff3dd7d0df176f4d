"""Mutual-information estimation: bounds (pure functions of a score matrix), critics, trained estimators.

* :mod:`rrlib.mi.bounds` – DV, NWJ, InfoNCE, JS, SMILE and MINE on ``scores[..., i, j] = T(x_i, z_j)``;
* :mod:`rrlib.mi.critics` – separable, concatenated and the paper's encode-and-dot-product critics;
* :mod:`rrlib.mi.estimator` – fitting a critic on samples, and the staircase benchmark protocol.

All values are in nats.
"""

from __future__ import annotations

from rrlib.mi.bounds import BOUND_NAMES, MINE, Bound, BoundResult, dv, infonce, js, js_objective, make_bound, nwj, smile
from rrlib.mi.critics import ConcatCritic, EncodeAndDotCritic, SeparableCritic

__all__ = [
    "BOUND_NAMES",
    "MINE",
    "Bound",
    "BoundResult",
    "ConcatCritic",
    "EncodeAndDotCritic",
    "SeparableCritic",
    "dv",
    "infonce",
    "js",
    "js_objective",
    "make_bound",
    "nwj",
    "smile",
]
