"""ℓp threat-model helpers: parsing p, dual norms and the Hölder-optimal direction (checked by LP and sampling)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import linprog

from rrlib.theory import dual_exponent, dual_norm, holder_direction, lp_norm, p_key, parse_p


@pytest.mark.parametrize(("p", "expected"), [(1, 1.0), (2, 2.0), (2.0, 2.0), (math.inf, math.inf),
                                             (np.inf, math.inf), ("inf", math.inf), ("Inf", math.inf)])
def test_parse_p_accepts_the_three_norms(p, expected):
    assert parse_p(p) == expected


@pytest.mark.parametrize("p", [3, 0.5, 0, "l2", "two", None, True, [2]])
def test_parse_p_rejects_others_and_names_choices(p):
    with pytest.raises(ValueError, match="valid choices: 1, 2 or infinity"):
        parse_p(p)


def test_dual_exponents():
    assert (dual_exponent(1), dual_exponent(2), dual_exponent("inf")) == (math.inf, 2.0, 1.0)


@pytest.mark.parametrize("p", [1, 2, math.inf])
def test_holder_direction_is_unit_and_attains_the_dual_norm(p):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((50, 7))
    u = holder_direction(w, p)
    np.testing.assert_allclose(lp_norm(u, p), 1.0, rtol=1e-14)
    np.testing.assert_allclose(np.sum(w * u, axis=1), dual_norm(w, p), rtol=1e-13)


@pytest.mark.parametrize("p", [1, 2, math.inf])
def test_no_random_unit_vector_beats_the_holder_direction(p):
    rng = np.random.default_rng(1)
    w = rng.standard_normal(6)
    candidates = rng.standard_normal((20_000, 6)) * rng.exponential(1.0, (20_000, 6)) ** 2
    candidates /= np.asarray(lp_norm(candidates, p))[:, None]
    best = float(w @ holder_direction(w, p))
    assert (candidates @ w).max() <= best + 1e-12


@pytest.mark.parametrize("p", [1, math.inf])
def test_holder_direction_matches_linear_programming(p):
    # max wᵀu s.t. ‖u‖_p ≤ 1 as an LP in (u, |u|) variables
    rng = np.random.default_rng(2)
    w = rng.standard_normal(5)
    d = w.size
    c = np.concatenate([-w, np.zeros(d)])
    a_abs = np.block([[np.eye(d), -np.eye(d)], [-np.eye(d), -np.eye(d)]])  # ±u_i ≤ t_i
    b_abs = np.zeros(2 * d)
    if p == 1:
        a_ub = np.vstack([a_abs, np.concatenate([np.zeros(d), np.ones(d)])])
        b_ub = np.concatenate([b_abs, [1.0]])
    else:
        a_ub = np.vstack([a_abs, np.hstack([np.zeros((d, d)), np.eye(d)])])
        b_ub = np.concatenate([b_abs, np.ones(d)])
    result = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=[(None, None)] * (2 * d))
    assert result.status == 0
    assert -result.fun == pytest.approx(float(w @ holder_direction(w, p)), rel=1e-9)


def test_holder_direction_errors():
    with pytest.raises(ValueError, match="non-zero"):
        holder_direction(np.zeros(3), 2)
    with pytest.raises(ValueError, match="non-zero"):
        holder_direction([[1.0, 0.0], [0.0, 0.0]], "inf")
    with pytest.raises(ValueError, match="valid choices"):
        holder_direction([1.0, 2.0], 3)
    with pytest.raises(ValueError, match="finite"):
        holder_direction([1.0, np.nan], 2)


def test_p_key_names_each_norm_once():
    assert [p_key(p) for p in (1, 2.0, math.inf, np.inf, "inf")] == ["1", "2", "inf", "inf", "inf"]
    with pytest.raises(ValueError, match="valid choices"):
        p_key(3)
