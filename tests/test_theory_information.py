"""Exact information measures (rrlib.theory.information) against independent computations and Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from rrlib.theory import (
    binary_entropy,
    binary_entropy_deficit,
    binary_entropy_derivative,
    discrete_mutual_information,
    entropy,
    gaussian_mutual_information,
)


def test_binary_entropy_matches_scipy_and_edge_values():
    t = np.linspace(0.0, 1.0, 101)
    expected = np.array([stats.entropy([v, 1.0 - v]) for v in t])  # scipy uses nats
    np.testing.assert_allclose(binary_entropy(t), expected, rtol=1e-13, atol=1e-15)
    assert binary_entropy(0.0) == 0.0 and binary_entropy(1.0) == 0.0
    assert binary_entropy(0.5) == pytest.approx(math.log(2.0), rel=1e-15)
    assert isinstance(binary_entropy(0.3), float)
    assert np.asarray(binary_entropy(np.full((2, 3), 0.2))).shape == (2, 3)


@pytest.mark.parametrize("bad", [-0.1, 1.0000001, float("nan"), [0.2, 1.5]])
def test_binary_entropy_rejects_values_outside_unit_interval(bad):
    with pytest.raises(ValueError, match=r"\[0, 1\]|NaN"):
        binary_entropy(bad)
    with pytest.raises(ValueError, match=r"\[0, 1\]|NaN"):
        binary_entropy_derivative(bad)


def test_binary_entropy_derivative_matches_finite_differences():
    t = np.linspace(0.02, 0.98, 49)
    h = 1e-5
    numeric = (np.asarray(binary_entropy(t + h)) - np.asarray(binary_entropy(t - h))) / (2 * h)
    # central difference error is h^2/6 |H2'''| <= 1e-10 * 6e4 on [0.02, 0.98]; 1e-6 leaves room for rounding
    np.testing.assert_allclose(binary_entropy_derivative(t), numeric, atol=1e-6)
    assert binary_entropy_derivative(0.5) == 0.0
    assert binary_entropy_derivative(0.0) == math.inf


@pytest.mark.parametrize("t", [1e-8, 1e-3, 0.2, 0.49, 0.5, 0.77, 0.999, 1.0])
def test_binary_entropy_deficit_is_the_integral_of_the_derivative(t):
    lower = 0.5 - t / 2
    numeric, error = integrate.quad(lambda v: float(binary_entropy_derivative(v)), lower, 0.5, limit=200)
    assert binary_entropy_deficit(t) == pytest.approx(numeric, abs=max(10 * error, 1e-12))
    assert binary_entropy_deficit(t) == pytest.approx(math.log(2) - binary_entropy(lower), abs=1e-15)


def test_binary_entropy_deficit_small_argument_series():
    # log 2 - H2(1/2 - t/2) = sum_k t^{2k} / (2k (2k - 1)): relative accuracy where direct subtraction fails
    for t in (1e-9, 1e-6, 1e-3):
        series = t**2 / 2 + t**4 / 12 + t**6 / 30
        assert binary_entropy_deficit(t) == pytest.approx(series, rel=1e-12)


def test_entropy_validates_and_matches_definition():
    p = np.array([0.5, 0.25, 0.25, 0.0])
    assert entropy(p) == pytest.approx(1.5 * math.log(2.0), rel=1e-15)
    rows = np.array([[0.5, 0.5], [1.0, 0.0]])
    np.testing.assert_allclose(entropy(rows, axis=1), [math.log(2.0), 0.0])
    with pytest.raises(ValueError, match="sum to 1"):
        entropy([0.5, 0.4])
    with pytest.raises(ValueError, match="non-negative"):
        entropy([1.5, -0.5])


def test_discrete_mutual_information_special_cases():
    assert discrete_mutual_information(np.outer([0.3, 0.7], [0.1, 0.6, 0.3])) == pytest.approx(0.0, abs=1e-15)
    diag = np.diag([0.2, 0.3, 0.5])
    assert discrete_mutual_information(diag) == pytest.approx(entropy([0.2, 0.3, 0.5]), rel=1e-14)
    flip = 0.11  # binary symmetric channel with uniform input: I = log 2 - H2(flip)
    bsc = 0.5 * np.array([[1 - flip, flip], [flip, 1 - flip]])
    assert discrete_mutual_information(bsc) == pytest.approx(math.log(2) - binary_entropy(flip), rel=1e-13)


def test_discrete_mutual_information_equals_entropy_identity_on_random_tables():
    rng = np.random.default_rng(3)
    for _ in range(20):
        joint = rng.dirichlet(np.full(12, 0.7)).reshape(3, 4)
        identity = entropy(joint.sum(1)) + entropy(joint.sum(0)) - entropy(joint.ravel())
        assert discrete_mutual_information(joint) == pytest.approx(identity, abs=1e-13)


def test_discrete_mutual_information_monte_carlo():
    rng = np.random.default_rng(11)
    joint = rng.dirichlet(np.full(12, 0.5)).reshape(4, 3)
    exact = discrete_mutual_information(joint)
    n = 40_000
    cells = rng.choice(joint.size, size=n, p=joint.ravel())
    i, j = np.unravel_index(cells, joint.shape)
    log_ratio = np.log(joint[i, j] / (joint.sum(1)[i] * joint.sum(0)[j]))
    # I = E[log p(x,y)/(p(x)p(y))]: an unbiased mean; 5 standard errors
    assert abs(log_ratio.mean() - exact) < 5 * log_ratio.std(ddof=1) / math.sqrt(n)


@pytest.mark.parametrize("bad", [np.ones(4) / 4, np.array([[0.6, 0.6], [-0.2, 0.0]]), np.array([[0.5, 0.2]])])
def test_discrete_mutual_information_rejects_bad_tables(bad):
    with pytest.raises(ValueError, match="2-D|non-negative|sum to 1"):
        discrete_mutual_information(bad)


def test_gaussian_mutual_information_closed_forms_agree():
    rho = np.array([0.0, 0.3, -0.9, 0.999])
    np.testing.assert_allclose(gaussian_mutual_information(rho=rho, dim=3), -1.5 * np.log(1 - rho**2))
    # log-det form on a block matrix [[I, rho I], [rho I, I]] gives the per-dimension form
    d = 3
    cov = np.block([[np.eye(d), 0.6 * np.eye(d)], [0.6 * np.eye(d), np.eye(d)]])
    assert gaussian_mutual_information(cov=cov, dim_x=d) == pytest.approx(
        gaussian_mutual_information(rho=0.6, dim=d), rel=1e-13
    )


def test_gaussian_mutual_information_monte_carlo_general_covariance():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((5, 5))
    cov = a @ a.T + 0.5 * np.eye(5)
    exact = gaussian_mutual_information(cov=cov, dim_x=2)
    n = 20_000
    sample = rng.multivariate_normal(np.zeros(5), cov, size=n)
    log_ratio = (
        stats.multivariate_normal(np.zeros(5), cov).logpdf(sample)
        - stats.multivariate_normal(np.zeros(2), cov[:2, :2]).logpdf(sample[:, :2])
        - stats.multivariate_normal(np.zeros(3), cov[2:, 2:]).logpdf(sample[:, 2:])
    )
    assert abs(log_ratio.mean() - exact) < 5 * log_ratio.std(ddof=1) / math.sqrt(n)  # 5 standard errors


def test_gaussian_mutual_information_errors():
    with pytest.raises(ValueError, match="exactly one"):
        gaussian_mutual_information()
    with pytest.raises(ValueError, match="exactly one"):
        gaussian_mutual_information(rho=0.5, cov=np.eye(2), dim_x=1)
    with pytest.raises(ValueError, match=r"\(-1, 1\)"):
        gaussian_mutual_information(rho=1.0)
    with pytest.raises(ValueError, match="positive integer"):
        gaussian_mutual_information(rho=0.5, dim=0)
    with pytest.raises(ValueError, match="symmetric"):
        gaussian_mutual_information(cov=[[1.0, 0.5], [0.2, 1.0]], dim_x=1)
    with pytest.raises(ValueError, match="positive definite"):
        gaussian_mutual_information(cov=[[1.0, 2.0], [2.0, 1.0]], dim_x=1)
    with pytest.raises(ValueError, match="dim_x"):
        gaussian_mutual_information(cov=np.eye(3), dim_x=3)
