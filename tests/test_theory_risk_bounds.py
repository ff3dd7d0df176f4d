"""Theorem 3.4's bound (rrlib.theory.risk_bounds): the paper's numbers, clipping, errors, and Fano on channels."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from rrlib.theory import (
    adversarial_accuracy_upper_bound,
    adversarial_risk_lower_bound,
    discrete_mutual_information,
    saturating_worst_case_mi,
)


def test_reproduces_the_papers_numbers_for_ten_classes():
    # Section 6.1: 30.1% accuracy bound at zero worst-case MI and 77.0% at 1.08 nats (robust DenseNet121)
    assert round(100 * adversarial_accuracy_upper_bound(0.0, 10), 1) == 30.1
    assert round(100 * adversarial_accuracy_upper_bound(1.08, 10), 1) == 77.0
    assert adversarial_accuracy_upper_bound(0.0, 10) == pytest.approx(math.log(2) / math.log(10), rel=1e-15)


def test_lower_bound_is_the_complement_until_clipping():
    for k in (3, 10, 100):
        for worst in np.linspace(0.0, saturating_worst_case_mi(k), 9):
            mi = worst + 0.4
            risk = adversarial_risk_lower_bound(mi, 0.4, k)
            assert risk == pytest.approx(1.0 - adversarial_accuracy_upper_bound(worst, k), abs=1e-14)
        # past log(|Y|/2) the raw bound is negative: clipped to 0, accuracy bound capped at 1
        assert adversarial_risk_lower_bound(saturating_worst_case_mi(k) + 0.5, 0.0, k) == 0.0
        assert adversarial_accuracy_upper_bound(saturating_worst_case_mi(k) + 0.5, k) == 1.0


def test_two_classes_is_always_vacuous():
    for worst in (0.0, 0.1, math.log(2)):
        assert adversarial_risk_lower_bound(worst, 0.0, 2) == 0.0


def test_vectorised():
    mi = np.array([0.5, 1.0, 2.0])
    rv = np.array([0.5, 0.2, 0.0])
    out = adversarial_risk_lower_bound(mi, rv, 10)
    assert out.shape == (3,)
    np.testing.assert_allclose(out, [adversarial_risk_lower_bound(a, b, 10) for a, b in zip(mi, rv, strict=True)])


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0.5, 0.6, 10), "exceeds mi"),
        ((-0.1, 0.0, 10), "non-negative"),
        ((0.5, -0.1, 10), "non-negative"),
        ((0.5, 0.1, 1), ">= 2"),
        ((0.5, 0.1, 2.5), ">= 2"),
        ((0.5, 0.1, True), ">= 2"),
        ((np.nan, 0.1, 10), "finite"),
    ],
)
def test_lower_bound_errors(args, match):
    with pytest.raises(ValueError, match=match):
        adversarial_risk_lower_bound(*args)


def test_accuracy_bound_errors():
    with pytest.raises(ValueError, match="non-negative"):
        adversarial_accuracy_upper_bound(-1e-3, 10)
    with pytest.raises(ValueError, match=">= 2"):
        adversarial_accuracy_upper_bound(0.1, 0)


def test_fano_step_on_random_channels():
    # The proof's core: for uniform Y and any estimate Ŷ, P[Ŷ ≠ Y] ≥ 1 - (I(Y; Ŷ) + log 2)/log K (exact tables)
    rng = np.random.default_rng(0)
    for k, alpha in itertools.product((3, 5, 10), (0.05, 0.3, 3.0)):
        for _ in range(20):
            channel = rng.dirichlet(np.full(k, alpha), size=k)  # P[Ŷ = j | Y = i]
            joint = channel / k
            error = 1.0 - np.trace(joint)
            bound = adversarial_risk_lower_bound(discrete_mutual_information(joint), 0.0, k)
            assert error >= bound - 1e-12
