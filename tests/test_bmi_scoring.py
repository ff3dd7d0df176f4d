"""bmi's scoring rules (:mod:`rrlib.mi.bmi_scoring`) on hand-computed cells.

Every expected value is worked out by hand in the comment beside it. Inputs are chosen so that the arithmetic is
exact in binary floating point (0.5, 0.75, 1.5, 2.0 ...) wherever a test sits on a threshold; elsewhere the expected
value is the same floating-point expression the rule evaluates, so the comparison is exact (``==``), not
approximate.
"""

from __future__ import annotations

import math

import pytest

from rrlib.mi.bmi_scoring import (
    FAIL_FRACTION,
    WITHIN_LN_RATIO,
    CellScore,
    failed_runs,
    log_ratio,
    samples_needed,
    score_cell,
    solved,
)

NAN, INF = math.nan, math.inf


def test_thresholds_are_bmis():
    # _common_figure_utils.py: "0.1 * data_idx['mi_estimate_max']" and "np.log(1.5)"
    assert FAIL_FRACTION == 0.1
    assert WITHIN_LN_RATIO == math.log(1.5)


# ------------------------------------------------------------------------------------------- rule 1: failed runs
def test_failed_runs_negative_small_and_non_finite():
    # best finite estimate 1.0 (inf is not finite, so not the best); 10 % of it is 0.1:
    # 1.0 ok, 0.2 ok, 0.05 < 0.1 fails, -0.1 < 0 fails, NaN and inf fail as non-finite
    assert failed_runs([1.0, 0.2, 0.05, -0.1, NAN, INF]) == [False, False, True, True, True, True]


def test_failed_runs_threshold_is_strict():
    # 0.1 * 2.0 == 0.2 exactly: an estimate of exactly 10 % of the best is kept (bmi: "<", not "<=")
    assert 0.1 * 2.0 == 0.2
    assert failed_runs([2.0, 0.2]) == [False, False]
    assert failed_runs([2.0, 0.19999999999999998]) == [False, True]


def test_failed_runs_all_negative_and_zero():
    # all negative: every run fails by "< 0"; a zero estimate with best 0 is not below 10 % of 0
    assert failed_runs([-0.5, -0.2]) == [True, True]
    assert failed_runs([0.0, -1.0]) == [False, True]


# ------------------------------------------------------------------------------------------- rule 2: log ratio
def test_log_ratio_values():
    assert log_ratio(0.25, 0.5) == math.log(0.5)  # 0.25 / 0.5 = 0.5 exactly
    assert log_ratio(0.75, 0.5) == math.log(1.5)  # 0.75 / 0.5 = 1.5 exactly
    assert log_ratio(0.0, 1.0) == -INF
    assert math.isnan(log_ratio(-0.1, 1.0)) and math.isnan(log_ratio(NAN, 1.0))


@pytest.mark.parametrize("bad", [0.0, -1.0, NAN, INF])
def test_true_mi_must_be_positive_and_finite(bad):
    with pytest.raises(ValueError, match=rf"true_mi must be .* got {bad!r}"):
        log_ratio(0.5, bad)
    with pytest.raises(ValueError, match="true_mi"):
        score_cell([0.5], bad)


# ------------------------------------------------------------------------------------------- rule 3: the cell
def test_mean_of_log_ratios_is_not_log_of_mean():
    # estimates 0.5 and 2.0 of a true MI of 1: none fails (0.5 > 0.1 * 2.0 = 0.2);
    # mean estimate (0.5 + 2.0) / 2 = 1.25; bmi's ln ratio (ln 0.5 + ln 2) / 2 = 0 exactly (ln 0.5 == -ln 2 in
    # floating point); the log of the mean is ln 1.25 > 0 (Jensen)
    s = score_cell([0.5, 2.0], true_mi=1.0)
    assert s == CellScore(n_runs=2, n_failed=0, mean_estimate=1.25, ln_ratio=0.0, ln_ratio_of_mean=math.log(1.25),
                          within=True)


def test_failed_runs_leave_the_mean_and_are_counted():
    # best 0.75; 0.05 < 0.075 fails, -1.0 fails: kept [0.75]; mean 0.75; ln(0.75 / 0.5) = ln 1.5 exactly,
    # which is NOT within (strict "<"): a factor of exactly 1.5 is not solved
    s = score_cell([0.75, 0.05, -1.0], true_mi=0.5)
    assert (s.n_runs, s.n_failed, s.mean_estimate) == (3, 2, 0.75)
    assert s.ln_ratio == math.log(1.5) and s.ln_ratio_of_mean == math.log(1.5)
    assert s.within is False


def test_three_kept_runs():
    # true 0.5; estimates 0.25, 0.5, 1.0 (best 1.0, 10 % = 0.1: none fails)
    # mean (0.25 + 0.5 + 1.0) / 3 = 1.75 / 3; ln ratios ln 0.5, 0, ln 2 -> mean (ln 0.5 + 0 + ln 2) / 3 = 0
    s = score_cell([0.25, 0.5, 1.0], true_mi=0.5)
    assert s.n_failed == 0 and s.mean_estimate == 1.75 / 3
    assert s.ln_ratio == (math.log(0.5) + 0.0 + math.log(2.0)) / 3 == 0.0
    assert s.ln_ratio_of_mean == math.log((1.75 / 3) / 0.5)
    assert s.within


def test_every_run_failed():
    s = score_cell([NAN, -0.1], true_mi=1.0)
    assert (s.n_runs, s.n_failed, s.within) == (2, 2, False)
    assert math.isnan(s.mean_estimate) and math.isnan(s.ln_ratio) and math.isnan(s.ln_ratio_of_mean)


def test_a_cell_needs_a_run():
    with pytest.raises(ValueError, match="at least one run"):
        score_cell([], true_mi=1.0)


# ------------------------------------------------------------------------------------------- rule 4: samples needed
def test_solved_is_strict_and_symmetric():
    assert not solved(math.log(1.5)) and not solved(-math.log(1.5))
    assert solved(math.nextafter(math.log(1.5), 0.0)) and solved(-math.nextafter(math.log(1.5), 0.0))
    assert solved(0.0) and not solved(None) and not solved(NAN) and not solved(-INF)


@pytest.mark.parametrize(("ln_ratios", "needed"), [
    ({1000: 0.1, 2500: -0.2}, 1000),                       # all solved: the smallest size
    ({1000: 0.9, 2500: 0.1, 5000: -0.1}, 2500),            # unsolved at 1,000 only
    ({1000: 0.1, 2500: 0.9, 5000: 0.1, 10000: 0.2}, 5000),  # solved at 1,000 but not at 2,500: from 5,000 on
    ({1000: 0.1, 5000: 0.5}, None),                        # unsolved at the largest size: none (bmi: inf)
    ({1000: None, 5000: 0.1}, 5000),                       # every run failed at 1,000: unsolved there
    ({1000: 0.1, 5000: NAN}, None),
    ({10000: 0.0, 1000: -0.5, 5000: 0.3}, 5000),           # order of the mapping does not matter
    ({5000: 0.0}, 5000),
])
def test_samples_needed(ln_ratios, needed):
    assert samples_needed(ln_ratios) == needed


def test_samples_needed_needs_a_size():
    with pytest.raises(ValueError, match="at least one sample size"):
        samples_needed({})
