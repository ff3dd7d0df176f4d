"""Chapter 02 (Theorem 3.2): the recorded metrics of the executed notebook, in the quick profile."""

from __future__ import annotations

import pytest

CHAPTER = "02_theorem_3_2"
ROUNDING = 1e-12  # closed forms are accurate to ~1e-15 nats; bounds are tight, so slacks reach 0 up to rounding


@pytest.mark.slow
def test_corrected_sandwich_holds_on_every_instance(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    assert m["n_instances"] >= 1000
    assert m["corrected_violations"] == 0
    assert m["worst_slack_lower"] >= -ROUNDING
    assert m["worst_slack_upper"] >= -ROUNDING
    assert m["worst_slack_upper"] < 1e-6  # tight: attained when w ⟂ θ
    assert m["orthogonal_upper_minus_rv"] == pytest.approx(0.0, abs=ROUNDING)
    assert 1.0 - 1e-9 <= m["width_ratio_min"] and m["width_ratio_max"] <= 2.0 + 1e-9
    assert m["gap_above_half"] > 0  # the cap at log 2 is exercised


@pytest.mark.slow
def test_printed_form_fails_whenever_the_gap_is_positive(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    assert m["printed_form_checked"] > 0.9 * m["n_instances"]
    assert m["printed_form_violations"] == m["printed_form_checked"]


@pytest.mark.slow
def test_closed_forms_match_quadrature_and_monte_carlo(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    assert m["quad_max_abs_err"] < 1e-8
    assert m["mc_n_checks"] >= 30
    # 5 binomial standard errors: false-alarm probability below 3e-5 over 45 checks
    assert m["mc_max_abs_z"] < 5.0
    assert m["mc_clean_not_adversarial"] == 0.0  # the adversarial map never repairs an error
