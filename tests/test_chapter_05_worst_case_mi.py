"""Chapter 05 (quick profile): the numbers its prose relies on, checked against exact answers."""

from __future__ import annotations

import math

import pytest

CHAPTER = "05_worst_case_mi"


@pytest.mark.slow
def test_pgd_reaches_the_closed_form_adversarial_risk(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    assert {r["norm"] for r in m["risk"]} == {"linf", "l2"}
    for r in m["risk"]:  # binomial sampling error of the PGD risk: 5 standard errors
        assert abs(r["pgd"] - r["exact"]) < 5 * r["se"], r


@pytest.mark.slow
def test_gradient_masking_demo(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    assert m["mask_sign_grad"] == 0.0 and m["mask_sign_moved"] == 0.0 and m["masking_warned"]
    assert m["mask_st_grad"] > 0 and m["mask_st_moved"] > 0
    for row in m["masking"]:  # keeping the best iterate never ends above the clean estimate
        assert row["estimate"] <= m["mask_clean"] + 1e-6
        # a feasible attack cannot beat the exact worst case of its own batch (boundary points: < 2/n nats)
        assert row["true_mi"] >= m["mask_sample_worst"] - 2 / m["mask_batch"]


@pytest.mark.slow
def test_three_numbers_on_the_gaussian_mixture(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    assert m["normal_exact"] == pytest.approx(math.log(2))
    # an attack is a feasible transport: the true MI of the attacked test set is at least the exact worst case of
    # that sample (one point on the boundary moves H2 by < 2/n nats)
    assert m["attack_slack"] >= -2 / m["n_test"]
    n = m["n_seeds"]
    for s in m["gaussian"]:
        # held-out DV estimates do not exceed the truth beyond sampling error (5 standard errors over seeds)
        assert s["normal_estimate_mean"] <= m["normal_exact"] + 5 * s["normal_estimate_std"] / math.sqrt(n) + 1e-3
        if "oracle_estimate_mean" in s:
            assert s["oracle_estimate_mean"] <= s["exact"] + 5 * s["oracle_estimate_std"] / math.sqrt(n) + 1e-3
        # the chapter's finding: a positive search error and a negative estimation error in every setting
        assert s["search_error_mean"] > 0, s
        assert s["estimation_error_mean"] < 0, s
        assert s["total_error_mean"] == pytest.approx(s["estimation_error_mean"] + s["search_error_mean"])


@pytest.mark.slow
def test_claims_of_the_prose(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    # at the base setting the two errors nearly cancel: the estimate looks right for the wrong reasons
    assert abs(m["base_total_error"]) < abs(m["base_estimation_error"]) / 2
    # with the exact worst-case distribution given (no search), the same estimator is much closer to the truth
    assert abs(m["base_oracle_error"]) < abs(m["base_estimation_error"]) / 2
    # more PGD steps lower the estimate more than they lower the true MI of the attacked data
    assert m["s_estimate_drop"] > m["s_true_drop"]
    # a short-trained critic reports less than the exact worst case for data whose true MI is far above it
    assert m["t_low_estimate"] < m["base_exact"] < m["t_low_true"]


@pytest.mark.slow
def test_digits_robust_network_is_less_vulnerable(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    eps = m["digits_train_eps"]
    rows = {(r["model"], r["eps"]): r for r in m["digits"]}
    standard, robust = rows[("standard", eps)], rows[("robust", eps)]
    assert robust["adv_acc"] > standard["adv_acc"]
    assert robust["rv"] < standard["rv"]
    assert m["digits_normal_robust"] > m["digits_normal_standard"]


@pytest.mark.slow
def test_cost_counts_are_exact(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    for r in m["cost"]:
        # S attack steps with a backward pass, one scoring pass of the last iterate, one pass for the critic step
        assert r["plain_forward"] == 1
        assert r["worst_forward"] == r["steps"] + 2
        assert r["worst_input_backward"] == r["steps"]
        assert r["ratio"] > 1
