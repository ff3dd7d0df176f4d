"""ℓp threat models for the theory: parsing ``p``, dual norms and the Hölder-optimal perturbation direction.

For an ℓp ball of radius ε, Hölder's inequality gives ``max_{‖δ‖_p ≤ ε} wᵀδ = ε‖w‖_q`` with ``1/p + 1/q = 1``
and the maximiser ``δ = ε·u`` with ``u = holder_direction(w, p)``:

- ``p = 2``: ``u = w / ‖w‖₂`` (q = 2);
- ``p = ∞``: ``u = sgn(w)`` (q = 1; coordinates with ``w_i = 0`` are left at 0, any value in [-1, 1] is optimal);
- ``p = 1``: ``u = sgn(w_k) e_k`` with ``k = argmax |w_i|`` (q = ∞; ties go to the first index).

>>> holder_direction([3.0, -4.0], 2)
array([ 0.6, -0.8])
>>> float(dual_norm([3.0, -4.0], "inf"))  # ‖w‖₁
7.0
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

#: The norms ``p`` that :func:`parse_p` accepts, as its error messages name them.
P_CHOICES = "1, 2 or infinity (math.inf, numpy.inf or the string 'inf')"

__all__ = ["P_CHOICES", "dual_exponent", "dual_norm", "holder_direction", "lp_norm", "p_key", "parse_p"]


def parse_p(p: object) -> float:
    """Return ``p`` as one of ``1.0, 2.0, math.inf``; anything else raises ``ValueError`` naming the choices."""
    if isinstance(p, str):
        if p.strip().lower() in ("inf", "infinity", "linf"):
            return math.inf
        raise ValueError(f"unknown norm p={p!r}; valid choices: {P_CHOICES}")
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise ValueError(f"unknown norm p={p!r}; valid choices: {P_CHOICES}")
    value = float(p)
    if value in (1.0, 2.0, math.inf):
        return value
    raise ValueError(f"unsupported norm p={p!r}; valid choices: {P_CHOICES}")


def p_key(p: object) -> str:
    """``"1"``, ``"2"`` or ``"inf"``: a stable name for a norm (dictionary keys, JSON, figure legends)."""
    value = parse_p(p)
    return "inf" if math.isinf(value) else str(int(value))


def dual_exponent(p: object) -> float:
    """The Hölder conjugate ``q`` with ``1/p + 1/q = 1``: 1 ↔ ∞, 2 ↔ 2."""
    value = parse_p(p)
    return {1.0: math.inf, 2.0: 2.0, math.inf: 1.0}[value]


def lp_norm(v: ArrayLike, p: object) -> float | np.ndarray:
    """The ℓp norm of ``v`` over its last axis (``p`` in {1, 2, ∞})."""
    value = parse_p(p)
    array = np.asarray(v, dtype=np.float64)
    result = np.linalg.norm(array, ord=value, axis=-1)
    return float(result) if np.ndim(result) == 0 else result


def dual_norm(w: ArrayLike, p: object) -> float | np.ndarray:
    """``‖w‖_q = max_{‖u‖_p ≤ 1} wᵀu`` over the last axis of ``w``."""
    return lp_norm(w, dual_exponent(p))


def holder_direction(w: ArrayLike, p: object) -> np.ndarray:
    """A unit-ℓp vector ``u`` maximising ``wᵀu`` (so ``wᵀu = ‖w‖_q``), over the last axis of ``w``.

    ``w`` has shape ``(..., d)`` with no all-zero row; the result has the same shape, float64. The negative,
    ``-u``, minimises ``wᵀu``. This is the per-sample perturbation direction used by the optimal
    ∞-Wasserstein transport maps of :class:`rrlib.theory.GaussianMixture` and by attack tests.
    """
    value = parse_p(p)
    array = np.asarray(w, dtype=np.float64)
    if array.ndim == 0 or array.shape[-1] == 0:
        raise ValueError(f"w must have shape (..., d) with d >= 1, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("w must be finite")
    if (np.abs(array).max(axis=-1) == 0).any():
        raise ValueError("w must be non-zero: the direction maximising wᵀu is undefined for w = 0")
    if value == 2.0:
        return array / np.linalg.norm(array, axis=-1, keepdims=True)
    if value == math.inf:
        return np.sign(array)
    index = np.argmax(np.abs(array), axis=-1)[..., None]
    u = np.zeros_like(array)
    np.put_along_axis(u, index, np.sign(np.take_along_axis(array, index, axis=-1)), axis=-1)
    return u
