"""Attacks: threat models (ℓ∞ and ℓ2 balls ∩ an input box) and one generic projected-gradient routine.

An attack never knows about mutual information: the worst-case MI estimator (:mod:`rrlib.mi.worst_case`) is
:func:`pgd` on an MI estimate with ``maximize=False``.
"""

from __future__ import annotations

from rrlib.attacks.pgd import (
    NonFiniteObjectiveError,
    ZeroGradientWarning,
    adversarial_accuracy,
    adversarial_examples,
    managed_modes,
    pgd,
)
from rrlib.attacks.threat_models import NORM_CHOICES, L2Ball, LinfBall, ThreatModel, canonical_norm, threat_model

__all__ = [
    "NORM_CHOICES",
    "L2Ball",
    "LinfBall",
    "NonFiniteObjectiveError",
    "ThreatModel",
    "ZeroGradientWarning",
    "adversarial_accuracy",
    "adversarial_examples",
    "canonical_norm",
    "managed_modes",
    "pgd",
    "threat_model",
]
