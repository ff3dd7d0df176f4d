"""Flag MI estimates that no distribution can have (negative MI, RV above I, negative RV).

Mutual information is never negative, and the worst-case MI lies between 0 and the normal MI, so
``0 ≤ RV_ε = I - I_worst ≤ I`` (Definition 3.1). A trained estimate can still land outside these limits: a batch
DV estimate fluctuates around its expectation, and the worst-case estimator's adversary can fool the critic it is
trained against (chapter 05 measures this "estimation error" on the Gaussian mixture), which drives the
worst-case estimate below zero for vulnerable representations. Such a number is not a measurement of the
representation; the book never prints one without a flag and an explanation.

:func:`check_estimates` returns the flags; :func:`clip_to_valid` maps an estimate pair to the nearest valid
values (``I ≥ 0``, ``0 ≤ I_worst ≤ I``), which is what a figure may plot *next to* the raw estimate, marked.

>>> flags = check_estimates(normal=0.83, worst=-0.134)
>>> flags.impossible, flags.codes
(True, ('negative_worst', 'rv_above_normal'))
>>> clip_to_valid(0.83, -0.134)
(0.83, 0.0, 0.83)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["EstimateFlags", "check_estimates", "clip_to_valid"]

_EXPLANATIONS = {
    "negative_normal": "the normal MI estimate is negative, but I(X; g(X)) >= 0",
    "negative_worst": "the worst-case MI estimate is negative, but every MI is >= 0 (the adversary fooled the critic)",
    "rv_above_normal": "RV exceeds the normal MI, i.e. the worst-case MI would be negative",
    "negative_rv": "the worst-case MI estimate exceeds the normal one, but the infimum over the ball includes the "
                   "clean distribution, so RV >= 0",
}


@dataclass(frozen=True)
class EstimateFlags:
    """Which validity limits a (normal, worst-case) MI estimate pair breaks, with reasons (nats)."""

    normal: float
    worst: float
    codes: tuple[str, ...]

    @property
    def impossible(self) -> bool:
        """True when any limit is broken."""
        return bool(self.codes)

    @property
    def explanations(self) -> tuple[str, ...]:
        """One sentence per broken limit."""
        return tuple(_EXPLANATIONS[code] for code in self.codes)


def _finite(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of nats, got {value!r}")
    return float(value)


def check_estimates(normal: float, worst: float, *, tolerance: float = 0.0) -> EstimateFlags:
    """Flag a normal / worst-case MI estimate pair that breaks ``0 ≤ I_worst ≤ I``.

    ``tolerance`` (nats, ≥ 0) forgives violations up to that size (e.g. rounding); the default flags every
    violation, however small, because a printed negative MI is wrong whatever its size.
    """
    normal, worst = _finite("normal", normal), _finite("worst", worst)
    tolerance = _finite("tolerance", tolerance)
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance!r}")
    codes = []
    if normal < -tolerance:
        codes.append("negative_normal")
    if worst < -tolerance:
        codes.extend(["negative_worst", "rv_above_normal"] if normal >= -tolerance else ["negative_worst"])
    if worst > normal + tolerance:
        codes.append("negative_rv")
    return EstimateFlags(normal=normal, worst=worst, codes=tuple(codes))


def clip_to_valid(normal: float, worst: float) -> tuple[float, float, float]:
    """``(I, I_worst, RV)`` moved to the nearest valid values: ``I ≥ 0`` and ``0 ≤ I_worst ≤ I``."""
    normal_c = max(_finite("normal", normal), 0.0)
    worst_c = min(max(_finite("worst", worst), 0.0), normal_c)
    return normal_c, worst_c, normal_c - worst_c
