"""Attacks: one threat model (:class:`ThreatModel`: an ℓ∞/ℓ2 ball ∩ an input box, and its PGD search) and one
generic projected-gradient routine (:func:`pgd`, returning an :class:`AttackResult`).

An attack never knows about mutual information: the worst-case MI estimator (:mod:`rrlib.mi.worst_case`) is
:func:`pgd` on an MI estimate with ``maximize=False``. Accuracy is measured once, by :func:`evaluate_accuracy`
(natural and PGD accuracy as fractions, keys ``natural_accuracy`` / ``adversarial_accuracy``).
"""

from __future__ import annotations

from rrlib.attacks.accuracy import ACCURACY_KEYS, Accuracy, evaluate_accuracy
from rrlib.attacks.pgd import (
    AttackResult,
    NonFiniteObjectiveError,
    ZeroGradientWarning,
    adversarial_accuracy,
    adversarial_examples,
    pgd,
)
from rrlib.attacks.threat_models import NORM_CHOICES, Ball, L2Ball, LinfBall, ThreatModel, ball, canonical_norm

__all__ = [
    "ACCURACY_KEYS",
    "NORM_CHOICES",
    "Accuracy",
    "AttackResult",
    "Ball",
    "L2Ball",
    "LinfBall",
    "NonFiniteObjectiveError",
    "ThreatModel",
    "ZeroGradientWarning",
    "adversarial_accuracy",
    "adversarial_examples",
    "ball",
    "canonical_norm",
    "evaluate_accuracy",
    "pgd",
]
