"""The Gaussian mixture (3.1) and Theorem 3.2: closed forms vs numerical integration and Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from rrlib.theory import (
    GaussianMixture,
    binary_entropy,
    binary_entropy_derivative,
    dual_norm,
    holder_direction,
    lp_norm,
    theorem_3_2_bounds_from_gap,
)

P_VALUES = [1, 2, math.inf]
LOG2 = math.log(2.0)


def random_instance(rng: np.random.Generator, d: int | None = None):
    d = int(rng.integers(1, 8)) if d is None else d
    a = rng.standard_normal((d, d))
    cov = a @ a.T / d + 0.2 * np.eye(d)
    theta = rng.standard_normal(d) * rng.uniform(0.1, 2.0)
    w = rng.standard_normal(d)
    return GaussianMixture(theta, cov), w


def quad_tail(gm: GaussianMixture, w, c: float) -> float:
    """P[wᵀx ≥ c] by integrating the mixture density of wᵀx (independent of the closed forms)."""
    m, s = float(w @ gm.theta), math.sqrt(w @ gm.cov @ w)
    density = lambda t: 0.5 * (stats.norm.pdf(t, m, s) + stats.norm.pdf(t, -m, s))  # noqa: E731
    value, _ = integrate.quad(density, c, np.inf, epsabs=1e-13, epsrel=1e-12)
    return value


@pytest.fixture
def mixture():
    return GaussianMixture(theta=[0.8, -0.3, 0.5], cov=[[1.0, 0.3, 0.0], [0.3, 1.5, -0.2], [0.0, -0.2, 0.7]])


W = np.array([0.9, -0.4, 0.6])


# ------------------------------------------------------------------------------------------ construction
@pytest.mark.parametrize(
    ("theta", "cov", "match"),
    [
        ([1.0, 0.0], [[1.0, 0.5], [0.0, 1.0]], "symmetric"),
        ([1.0, 0.0], [[1.0, 2.0], [2.0, 1.0]], "positive definite"),
        ([1.0, 0.0], np.eye(3), r"shape \(2, 2\)"),
        ([[1.0, 0.0]], np.eye(2), r"shape \(d,\)"),
        ([1.0, np.inf], np.eye(2), "finite"),
    ],
)
def test_construction_errors(theta, cov, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(theta, cov)


def test_inputs_are_copied_and_read_only():
    theta = np.array([1.0, 2.0])
    gm = GaussianMixture(theta, np.eye(2))
    theta[0] = 5.0
    assert gm.theta[0] == 1.0
    with pytest.raises(ValueError):
        gm.theta[0] = 3.0


def test_sample_moments(mixture):
    rng = np.random.default_rng(0)
    n = 40_000
    x, y = mixture.sample(n, rng)
    assert x.shape == (n, 3) and y.shape == (n,) and x.dtype == np.float64
    assert set(np.unique(y)) == {-1, 1}
    assert abs((y == 1).mean() - 0.5) < 5 * math.sqrt(0.25 / n)  # 5 binomial standard errors
    z = x - y[:, None] * mixture.theta  # the noise, N(0, Σ)
    se = np.sqrt(np.diag(mixture.cov) / n)
    assert np.all(np.abs(z.mean(axis=0)) < 5 * se)
    # sample covariance entries have standard error sqrt((Σii Σjj + Σij²) / n)
    se_cov = np.sqrt((np.outer(np.diag(mixture.cov), np.diag(mixture.cov)) + mixture.cov**2) / n)
    assert np.all(np.abs(np.cov(z.T) - mixture.cov) < 5 * se_cov)


def test_sample_errors(mixture):
    with pytest.raises(TypeError, match="Generator"):
        mixture.sample(10, 0)
    with pytest.raises(ValueError, match="positive integer"):
        mixture.sample(0, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(w=np.zeros(3), eps=0.1, p=2), "non-zero"),
        (dict(w=np.ones(2), eps=0.1, p=2), r"shape \(3,\)"),
        (dict(w=W, eps=-0.1, p=2), "non-negative"),
        (dict(w=W, eps=np.inf, p=2), "finite"),
        (dict(w=W, eps=0.1, p=3), "valid choices"),
        (dict(w=W, eps=0.1, p="l2"), "valid choices"),
    ],
)
def test_bad_arguments_name_the_value(mixture, kwargs, match):
    for method in ("representation_vulnerability", "adversarial_gap", "adversarial_risk",
                   "worst_case_mutual_information", "theorem_3_2_bounds"):
        with pytest.raises(ValueError, match=match):
            getattr(mixture, method)(**kwargs)


def test_bad_form(mixture):
    with pytest.raises(ValueError, match="valid choices"):
        mixture.theorem_3_2_bounds(W, 0.1, 2, form="swapped")


# ----------------------------------------------------------------------------------- exact quantities
@pytest.mark.parametrize("p", P_VALUES)
def test_scale_invariance(mixture, p):
    for name in ("representation_vulnerability", "adversarial_gap", "adversarial_risk"):
        method = getattr(mixture, name)
        assert method(3.7 * W, 0.4, p) == pytest.approx(method(W, 0.4, p), rel=1e-13)
    assert mixture.risk(0.01 * W) == pytest.approx(mixture.risk(W), rel=1e-13)


def test_mutual_information_is_log2_and_decomposes(mixture):
    assert mixture.mutual_information(W) == pytest.approx(LOG2, rel=1e-15)
    for p in P_VALUES:
        eps = np.array([0.0, 0.1, 0.7, 3.0])
        total = mixture.worst_case_mutual_information(W, eps, p) + mixture.representation_vulnerability(W, eps, p)
        np.testing.assert_allclose(total, LOG2, rtol=1e-14)
    assert mixture.representation_vulnerability(W, 0.0, 2) == 0.0
    assert mixture.adversarial_gap(W, 0.0, 2) == 0.0


@pytest.mark.parametrize("p", P_VALUES)
def test_vectorised_over_eps_matches_scalar_calls(mixture, p):
    eps = np.linspace(0.0, 2.0, 7)
    for name in ("representation_vulnerability", "adversarial_gap", "adversarial_risk"):
        method = getattr(mixture, name)
        np.testing.assert_allclose(method(W, eps, p), [method(W, float(e), p) for e in eps], rtol=1e-14)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("p", P_VALUES)
def test_closed_forms_match_numerical_integration(seed, p):
    rng = np.random.default_rng(seed)
    gm, w = random_instance(rng)
    eps = float(rng.uniform(0.05, 1.5))
    c = eps * dual_norm(w, p)
    m, s = float(w @ gm.theta), math.sqrt(w @ gm.cov @ w)
    sign = 1.0 if m >= 0 else -1.0
    low, high = gm.positive_probability_range(w, eps, p)
    assert low == pytest.approx(quad_tail(gm, w, c), abs=1e-10)
    assert high == pytest.approx(quad_tail(gm, w, -c), abs=1e-10)
    # RV = ∫_{low}^{1/2} H2'(θ) dθ (Definition 3.1 with H(g(X)) = log 2)
    rv_quad, _ = integrate.quad(lambda t: float(binary_entropy_derivative(t)), quad_tail(gm, w, c), 0.5)
    assert gm.representation_vulnerability(w, eps, p) == pytest.approx(rv_quad, abs=1e-9)
    # f* = sgn(m)·g misclassifies (x, y) adversarially iff y·sgn(m)·wᵀx < c; y·sgn(m)·wᵀx ~ N(|m|, s²)
    adv, _ = integrate.quad(lambda t: stats.norm.pdf(t, abs(m), s), -np.inf, c, epsabs=1e-13)
    clean, _ = integrate.quad(lambda t: stats.norm.pdf(t, abs(m), s), -np.inf, 0.0, epsabs=1e-13)
    assert gm.adversarial_risk(w, eps, p) == pytest.approx(adv, abs=1e-10)
    assert gm.risk(w) == pytest.approx(clean, abs=1e-10)
    assert gm.adversarial_gap(w, eps, p) == pytest.approx(adv - clean, abs=1e-10)
    # the other downstream classifier (-sgn(m)·g) is never better
    other, _ = integrate.quad(lambda t: stats.norm.pdf(t, -abs(m), s), -np.inf, c, epsabs=1e-13)
    assert other >= adv - 1e-12
    assert gm.downstream_sign(w) == sign


@pytest.mark.parametrize("p", P_VALUES)
def test_monte_carlo_transport_maps_attain_the_closed_forms(mixture, p):
    rng = np.random.default_rng(7)
    n, eps = 60_000, 0.45
    x, y = mixture.sample(n, rng)
    x_adv = mixture.adversarial_transport(x, y, W, eps, p)
    x_low = mixture.worst_case_transport(x, W, eps, p)
    for moved in (x_adv, x_low):  # every sample moves by exactly ε: the coupling certifies W∞ ≤ ε
        np.testing.assert_allclose(lp_norm(moved - x, p), eps, rtol=1e-12)

    def check(rate: float, exact: float) -> None:
        assert abs(rate - exact) < 5 * math.sqrt(exact * (1 - exact) / n)  # 5 binomial standard errors

    check(float(np.mean(mixture.predict(x, W) != y)), mixture.risk(W))
    check(float(np.mean(mixture.predict(x_adv, W) != y)), mixture.adversarial_risk(W, eps, p))
    low, high = mixture.positive_probability_range(W, eps, p)
    check(float(np.mean(mixture.represent(x_low, W) == 1)), low)
    x_high = x + eps * holder_direction(W, p)
    check(float(np.mean(mixture.represent(x_high, W) == 1)), high)


def test_printed_equation_a1_is_refuted_by_monte_carlo():
    # (A.1) prints RV = log 2 - H2(1/2 - P); the derivation gives log 2 - H2(1/2 - P/2)
    gm = GaussianMixture([0.3, 0.0], np.eye(2))
    w, eps, p = np.array([1.0, 0.2]), 0.5, 2
    rng = np.random.default_rng(1)
    n = 100_000
    x, _ = gm.sample(n, rng)
    rate = float(np.mean(gm.represent(gm.worst_case_transport(x, w, eps, p), w) == 1))
    width = gm.flip_probability_width(w, eps, p)
    se = math.sqrt(rate * (1 - rate) / n)
    assert abs(rate - (0.5 - width / 2)) < 5 * se
    assert abs(rate - (0.5 - width)) > 50 * se
    printed = LOG2 - binary_entropy(0.5 - width)
    assert printed > 2 * gm.representation_vulnerability(w, eps, p)


def test_x_is_not_modified(mixture):
    x, y = mixture.sample(5, np.random.default_rng(0))
    before = x.copy()
    mixture.adversarial_transport(x, y, W, 0.3, 2)
    mixture.worst_case_transport(x, W, 0.3, "inf")
    np.testing.assert_array_equal(x, before)


# -------------------------------------------------------------------------------------------- Theorem 3.2
def random_case(rng: np.random.Generator):
    gm, w = random_instance(rng)
    if gm.dim > 1 and rng.random() < 0.2:  # w orthogonal to θ: margin a = 0, the extreme case P = 2·AG
        w = w - (w @ gm.theta) / (gm.theta @ gm.theta) * gm.theta
    eps = float(np.exp(rng.uniform(np.log(1e-3), np.log(10.0))))
    p = P_VALUES[int(rng.integers(3))]
    return gm, w, eps, p


def test_gap_sandwiches_the_flip_width_and_the_corrected_bounds_hold():
    rng = np.random.default_rng(2024)
    for _ in range(300):
        gm, w, eps, p = random_case(rng)
        ag = gm.adversarial_gap(w, eps, p)
        width = gm.flip_probability_width(w, eps, p)
        assert ag - 1e-14 <= width <= 2 * ag + 1e-14
        rv = gm.representation_vulnerability(w, eps, p)
        lower, upper = gm.theorem_3_2_bounds(w, eps, p)
        assert lower - 1e-12 <= rv <= upper + 1e-12
        assert 0.0 <= rv <= LOG2


def test_printed_bounds_fail_whenever_the_gap_is_positive():
    rng = np.random.default_rng(99)
    checked = failures = 0
    for _ in range(200):
        gm, w, eps, p = random_case(rng)
        rv = gm.representation_vulnerability(w, eps, p)
        lower, upper = gm.theorem_3_2_bounds(w, eps, p, form="printed")
        assert lower >= upper  # limits swapped: the printed interval is empty (or a point)
        if gm.adversarial_gap(w, eps, p) > 1e-4:  # one side fails by >= 3·AG²/4 > 7e-9, far above rounding
            checked += 1
            failures += bool(rv < lower - 1e-12 or rv > upper + 1e-12)
    assert checked > 100
    assert failures == checked


def test_orthogonal_w_makes_the_corrected_upper_bound_tight():
    gm = GaussianMixture([1.0, 0.0], np.eye(2))
    w = np.array([0.0, 1.0])
    for p in P_VALUES:
        ag = gm.adversarial_gap(w, 0.3, p)
        assert gm.flip_probability_width(w, 0.3, p) == pytest.approx(2 * ag, rel=1e-14)
        assert gm.representation_vulnerability(w, 0.3, p) == pytest.approx(gm.theorem_3_2_bounds(w, 0.3, p)[1])


def test_gap_above_one_half_caps_the_upper_bound_at_log2():
    gm = GaussianMixture([3.0], [[1.0]])
    ag = gm.adversarial_gap([1.0], 6.0, 2)
    assert ag > 0.5
    lower, upper = gm.theorem_3_2_bounds([1.0], 6.0, 2)
    assert upper == LOG2
    assert lower <= gm.representation_vulnerability([1.0], 6.0, 2) <= upper


def test_bounds_from_gap_validation_and_monotonicity():
    gaps = np.linspace(0, 1, 41)
    lower, upper = theorem_3_2_bounds_from_gap(gaps)
    assert np.all(np.diff(lower) > 0) and np.all(np.diff(upper) >= 0)
    assert lower[0] == upper[0] == 0.0 and upper[-1] == LOG2
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        theorem_3_2_bounds_from_gap(1.2)
    with pytest.raises(ValueError, match="valid choices"):
        theorem_3_2_bounds_from_gap(0.2, form="other")


def test_which_side_of_the_corrected_sandwich_rv_meets():
    """Analytic limits (Taylor expansion, not the code's formula): as ε → 0, P/AG → 2, RV/upper → 1, RV/lower → 4;
    at a large margin with b = a, P/AG → 1 and RV/lower → 1. Errors are O(ε) and O(φ(2a)/φ(0)) respectively."""
    from rrlib.experiments.theorem_3_2 import Theorem32Config, base_mixture, tightness

    mixture, w = base_mixture(Theorem32Config.quick(0))
    t = tightness(mixture, w, small_eps=1e-4, margin=5.0)
    assert t["small_eps_width_ratio"] == pytest.approx(2.0, abs=1e-3)
    assert t["small_eps_rv_over_upper"] == pytest.approx(1.0, abs=1e-3)
    assert t["small_eps_rv_over_lower"] == pytest.approx(4.0, abs=4e-3)
    assert t["large_margin_width_ratio"] == pytest.approx(1.0, abs=1e-5)
    assert t["large_margin_rv_over_lower"] == pytest.approx(1.0, abs=1e-5)
