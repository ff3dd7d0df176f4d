"""Theorem 3.4: worst-case mutual information limits adversarial accuracy (Fano + data processing).

For uniform labels over ``|Y|`` classes, any representation ``g`` and ε ≥ 0,

    inf_h AdvRisk_ε(h∘g) ≥ 1 - (I(X; g(X)) - RV_ε(g) + log 2) / log|Y|,

and ``I - RV_ε = inf_{μ' ∈ B_W∞(μ_X, ε)} I(X'; g(X'))`` is the worst-case mutual information. Equivalently,
every downstream classifier has adversarial accuracy at most ``(I_worst + log 2) / log|Y|``. All MI in nats.

>>> round(adversarial_accuracy_upper_bound(0.0, 10), 4)  # log 2 / log 10, the paper's 30.1%
0.301
>>> round(adversarial_accuracy_upper_bound(1.08, 10), 4)  # the paper's 77.0% for robust DenseNet121
0.7701
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from rrlib.theory.information import LOG2

#: Absolute tolerance when checking ``rv ≤ mi`` (estimates computed as ``mi - worst`` round at this level).
RV_TOLERANCE = 1e-12

__all__ = [
    "RV_TOLERANCE",
    "adversarial_accuracy_upper_bound",
    "adversarial_risk_lower_bound",
    "saturating_worst_case_mi",
]


def _check_classes(n_classes: int) -> int:
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2 (the number of labels |Y|), got {n_classes!r}")
    return int(n_classes)


def _check_nonnegative(value: ArrayLike, name: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a real number or array in nats, got {value!r}") from error
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"{name} must be finite and non-negative (nats), got {value!r}")
    return array


def _out(array: np.ndarray) -> float | np.ndarray:
    return float(array) if array.ndim == 0 else array


def adversarial_risk_lower_bound(mi: ArrayLike, rv: ArrayLike, n_classes: int) -> float | np.ndarray:
    """Theorem 3.4's lower bound on ``inf_h AdvRisk_ε(h∘g)``: ``1 - (mi - rv + log 2) / log n_classes``.

    ``mi = I(X; g(X))`` and ``rv = RV_ε(g)`` in nats (scalars or broadcastable arrays) with ``0 ≤ rv ≤ mi``
    (``rv > mi`` would mean a negative worst-case MI: a ``ValueError``).

    Clipping: the result is clipped to [0, 1]. The raw expression is below 0 whenever the worst-case MI
    exceeds ``log(|Y| / 2)`` (then the theorem says nothing: a risk is always ≥ 0); it can never exceed
    ``1 - log 2 / log|Y| < 1`` for valid inputs, so the upper clip only guards against rounding. Note that for
    ``|Y| = 2`` the bound is always 0 (vacuous): Fano's ``log 2`` slack equals ``log|Y|``.
    """
    k = _check_classes(n_classes)
    mi_arr = _check_nonnegative(mi, "mi")
    rv_arr = _check_nonnegative(rv, "rv")
    if (rv_arr > mi_arr + RV_TOLERANCE).any():
        raise ValueError(f"rv={rv!r} exceeds mi={mi!r}; valid: 0 <= rv <= mi (the worst-case MI mi - rv is >= 0)")
    worst = np.maximum(mi_arr - rv_arr, 0.0)
    return _out(np.clip(1.0 - (worst + LOG2) / np.log(k), 0.0, 1.0))


def adversarial_accuracy_upper_bound(worst_case_mi: ArrayLike, n_classes: int) -> float | np.ndarray:
    """The complement: every ``h`` has adversarial accuracy ``≤ min(1, (I_worst + log 2) / log n_classes)``.

    ``worst_case_mi`` is ``inf_{μ' ∈ B_W∞(μ_X, ε)} I(X'; g(X'))`` in nats (≥ 0).
    """
    k = _check_classes(n_classes)
    worst = _check_nonnegative(worst_case_mi, "worst_case_mi")
    return _out(np.minimum(1.0, (worst + LOG2) / np.log(k)))


def saturating_worst_case_mi(n_classes: int) -> float:
    """``log(|Y| / 2)``: the worst-case MI above which Theorem 3.4 no longer limits accuracy (bound = 1)."""
    return float(np.log(_check_classes(n_classes) / 2.0))
