"""Exact results in float64 and nats: information measures, the Gaussian mixture (Theorem 3.2), Lemma 3.3 and
Theorem 3.4, plus brute-force ground truth on small discrete problems.

Nothing here estimates anything: these functions are the ground truth that the estimators, attacks and
chapters of the book are checked against.
"""

from __future__ import annotations

from rrlib.theory.discrete import DiscreteRobustnessProblem, FanoCheck
from rrlib.theory.gaussian_mixture import (
    BOUND_FORMS,
    GaussianMixture,
    normal_interval_probability,
    theorem_3_2_bounds_from_gap,
)
from rrlib.theory.information import (
    LOG2,
    binary_entropy,
    binary_entropy_deficit,
    binary_entropy_derivative,
    discrete_mutual_information,
    entropy,
    gaussian_mutual_information,
)
from rrlib.theory.norms import P_CHOICES, dual_exponent, dual_norm, holder_direction, lp_norm, p_key, parse_p
from rrlib.theory.risk_bounds import (
    adversarial_accuracy_upper_bound,
    adversarial_risk_lower_bound,
    saturating_worst_case_mi,
)

__all__ = [
    "BOUND_FORMS",
    "LOG2",
    "P_CHOICES",
    "DiscreteRobustnessProblem",
    "FanoCheck",
    "GaussianMixture",
    "adversarial_accuracy_upper_bound",
    "adversarial_risk_lower_bound",
    "binary_entropy",
    "binary_entropy_deficit",
    "binary_entropy_derivative",
    "discrete_mutual_information",
    "dual_exponent",
    "dual_norm",
    "entropy",
    "gaussian_mutual_information",
    "holder_direction",
    "lp_norm",
    "normal_interval_probability",
    "p_key",
    "parse_p",
    "saturating_worst_case_mi",
    "theorem_3_2_bounds_from_gap",
]
