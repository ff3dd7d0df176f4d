"""Chapter 01 (preliminaries): the recorded metrics of the executed notebook, in the quick profile."""

from __future__ import annotations

import math

import pytest

CHAPTER = "01_preliminaries"
# Every Monte Carlo check is a z-score against an exact value; 5 standard errors over ~20 checks has a false-alarm
# probability below 1e-5.
Z_MAX = 5.0


def normal_cdf(t: float) -> float:
    return 0.5 * math.erfc(-t / math.sqrt(2.0))


@pytest.mark.slow
def test_mutual_information_checks(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    assert m["mc_samples"] >= 10_000
    assert m["mi_n_checks"] >= 10
    assert m["mi_mc_max_abs_z"] < Z_MAX
    assert abs(m["discrete_mi_mc_z"]) < Z_MAX
    # d = 2 pairs: -(2/2) log(1 - rho^2), computed here independently of rrlib
    assert m["gaussian_mi_at_max_rho"] == pytest.approx(-math.log(1 - m["max_rho"] ** 2), rel=1e-12)


@pytest.mark.slow
def test_transport_stays_in_the_wasserstein_ball(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    assert m["transport_distance_ratio_max"] == pytest.approx(1.0, abs=1e-12)
    assert m["transport_distance_ratio_min"] == pytest.approx(1.0, abs=1e-12)
    # ℓ∞ budget ε‖w‖₁ for the chapter's w = (1, 0.4)
    assert m["margin_shift_inf"] == pytest.approx(m["transport_eps"] * 1.4, rel=1e-12)


@pytest.mark.slow
def test_lemma_3_3(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    assert m["lemma_3_3_n_checks"] >= 15
    assert m["lemma_3_3_max_abs_z"] < Z_MAX
    # closed forms recomputed by hand for θ = (1, 0.5), Σ = [[1, .3], [.3, .6]], w = (1, .4)
    mean = 1.0 * 1.0 + 0.4 * 0.5
    sigma = math.sqrt(1.0 + 2 * 0.4 * 0.3 + 0.4**2 * 0.6)
    assert m["clean_risk_exact"] == pytest.approx(normal_cdf(-mean / sigma), rel=1e-12)
    assert m["adversarial_risk_inf_at_max_eps"] == pytest.approx(
        normal_cdf((m["max_eps"] * 1.4 - mean) / sigma), rel=1e-12
    )
