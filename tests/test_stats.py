"""rrlib.stats against closed forms, hand-computed samples and scipy; the thresholds are defined once and read."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from scipy import stats as scipy_stats

from rrlib import report, stats, verdicts
from rrlib.book import REPO_ROOT
from rrlib.rendering import section5 as rendering_section5

# a textbook sample: mean 5, Σ(x − x̄)² = 32, so s = √(32/7) and SE = s/√8 = √(4/7)
SAMPLE = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]


def test_one_sample_by_hand():
    assert stats.mean(SAMPLE) == 5.0
    assert stats.sample_sd(SAMPLE) == pytest.approx(math.sqrt(32 / 7), rel=1e-15)
    assert stats.standard_error(SAMPLE) == pytest.approx(math.sqrt(4 / 7), rel=1e-15)
    assert stats.mean_sd(SAMPLE) == (5.0, stats.sample_sd(SAMPLE))
    s = stats.summarize(SAMPLE)
    assert (s.mean, s.n, s.df) == (5.0, 8, 7)
    assert s.sd == pytest.approx(math.sqrt(32 / 7), rel=1e-15) and s.se == pytest.approx(math.sqrt(4 / 7), rel=1e-15)
    # ddof = 1, not 0: the population sd of this sample is exactly 2
    assert float(np.std(SAMPLE)) == 2.0 and stats.sample_sd(SAMPLE) > 2.0


def test_inputs_tensors_iterables_and_non_finite_values():
    t = torch.tensor([0.2, 0.4, 0.6, math.nan], dtype=torch.float32)
    s = stats.summarize(t, finite_only=True)
    assert s.n == 3 and s.mean == pytest.approx(0.4, rel=1e-7)
    assert s.se == pytest.approx(0.2 / math.sqrt(3), rel=1e-6)  # s = 0.2 for 0.2, 0.4, 0.6
    assert math.isnan(stats.mean(t))  # without finite_only a NaN propagates
    assert stats.mean(x for x in (1.0, 2.0, 6.0)) == 3.0


def test_a_single_value_has_no_spread_unless_the_caller_says_so():
    assert math.isnan(stats.sample_sd([3.0])) and math.isnan(stats.standard_error([3.0]))
    assert stats.sample_sd([3.0], of_one=0.0) == 0.0 and stats.mean_sd([3.0], of_one=0.0) == (3.0, 0.0)
    assert math.isnan(stats.summarize([3.0]).se)
    with pytest.raises(ValueError, match="empty"):
        stats.mean([])
    with pytest.raises(ValueError, match="empty"):
        stats.summarize(np.array([math.nan]), finite_only=True)


def test_standard_errors_along_the_first_axis():
    values = np.array([[1.0, 10.0, 0.0], [3.0, 10.0, 1.0], [5.0, 13.0, 2.0]])  # k = 3 batches, 3 quantities
    expected = np.array([2.0, math.sqrt(3.0), 1.0]) / math.sqrt(3)  # column sds 2, √3, 1
    np.testing.assert_allclose(stats.standard_errors(values), expected, rtol=1e-15)
    assert stats.standard_errors(values[:1]).tolist() == [0.0, 0.0, 0.0]
    assert float(stats.standard_errors(np.array([1.0, 3.0]))) == pytest.approx(1.0)  # s = √2, k = 2
    # float32 stays float32 (the per-neuron estimates), bit for bit what NumPy gives in that dtype
    f32 = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    se32 = stats.standard_errors(f32)
    assert se32.dtype == np.float32 and np.array_equal(se32, f32.std(axis=0, ddof=1) / math.sqrt(4))
    assert stats.standard_errors([[1, 2], [3, 2]]).dtype == np.float64  # integers become float64


def test_t_quantiles_closed_forms_and_scipy():
    # df = 1 (Cauchy): tan(π (q − 1/2)); df = 2: (2q − 1) / √(2 q (1 − q)); df = ∞: the normal quantile
    assert stats.t_quantile(0.95, 1) == pytest.approx(math.tan(math.pi * 0.475), rel=1e-12)
    assert stats.t_quantile(0.95, 2) == pytest.approx(0.95 / math.sqrt(2 * 0.975 * 0.025), rel=1e-12)
    assert stats.t_quantile(0.95, math.inf) == pytest.approx(1.959963984540054, rel=1e-12)
    assert stats.t_quantile(0.90, 3) == pytest.approx(2.353363434801823, rel=1e-12)  # printed t tables: 2.353
    assert math.isnan(stats.t_quantile(0.95, 0)) and math.isnan(stats.t_quantile(0.95, math.nan))
    with pytest.raises(ValueError, match="level"):
        stats.t_quantile(1.0, 3)


def test_small_sample_interval_is_students_t_not_normal():
    four = [0.71, 0.74, 0.69, 0.78]  # e.g. four seeds
    s = stats.summarize(four)
    lo, hi = s.interval(0.95)
    ref = scipy_stats.t.interval(0.95, df=3, loc=np.mean(four), scale=scipy_stats.sem(four))
    assert (lo, hi) == pytest.approx(ref, rel=1e-12)
    assert (hi - lo) / 2 == pytest.approx(3.182446305284263 * s.se, rel=1e-12)  # t_{0.975, 3}, not 1.96
    assert (hi - lo) / 2 > 1.6 * 1.959963984540054 * s.se


def test_paired_and_unpaired_differences():
    # four seeds, two models per seed: large seed-to-seed spread, small and steady model difference
    a = np.array([10.0, 20.0, 30.0, 40.0])
    b = np.array([9.0, 19.5, 28.0, 39.5])
    paired = stats.paired_difference(a, b)
    # d = 1, 0.5, 2, 0.5: mean 1, Σ(d − 1)² = 1.5, s_d = √(1.5/3) = √0.5, SE = √0.5 / 2
    assert (paired.mean, paired.n, paired.df) == (1.0, 4, 3.0)
    assert paired.se == pytest.approx(math.sqrt(0.5) / 2, rel=1e-15)
    assert paired.z == pytest.approx(scipy_stats.ttest_rel(a, b).statistic, rel=1e-12)
    lo, hi = paired.interval()
    assert (lo, hi) == pytest.approx((1.0 - 3.182446305284263 * paired.se, 1.0 + 3.182446305284263 * paired.se))
    unpaired = stats.unpaired_difference(stats.summarize(a), stats.summarize(b))
    welch = scipy_stats.ttest_ind(a, b, equal_var=False)
    assert unpaired.mean == pytest.approx(1.0) and unpaired.n == 8
    assert unpaired.z == pytest.approx(welch.statistic, rel=1e-12)
    assert unpaired.df == pytest.approx(welch.df, rel=1e-12)
    assert unpaired.se == pytest.approx(math.hypot(stats.standard_error(a), stats.standard_error(b)), rel=1e-15)
    assert unpaired.se > 20 * paired.se  # the seeds' spread cancels only in the paired design
    with pytest.raises(ValueError, match="one shape"):
        stats.paired_difference(a, b[:3])


def test_combined_se_z_and_the_strict_threshold_rule():
    assert stats.combined_se(0.3, 0.4) == pytest.approx(0.5, rel=1e-15)
    assert stats.exceeds(0.3, 0.1, 2.0) and not stats.exceeds(0.2, 0.1, 2.0)  # strictly more than z SE
    assert not stats.exceeds(-1.0, 0.1, 2.0)
    assert stats.Difference(1.0, 0.0, 3.0, 4).z == math.inf and stats.Difference(-1.0, 0.0, 3.0, 4).z == -math.inf
    assert math.isnan(stats.unpaired_difference(stats.Summary(1.0, 0.0, 1), stats.Summary(0.0, 0.0, 1)).df)


# ---------------------------------------------------------------------------------------------- thresholds
def test_thresholds_values_and_their_readers():
    assert (stats.TOLERANCE_Z, stats.MI_CLAIM_Z, stats.ACCURACY_CLAIM_Z) == (2.0, 3.0, 5.0)
    assert (stats.CLAIM_LEVEL, stats.MIN_REPLICATES, stats.COMPARABLE_POINTS) == (0.95, 3, 5.0)
    assert (stats.ZERO_WORST_MI_NATS, stats.ZERO_ADVERSARIAL_ACCURACY, stats.KEPT_WORST_MI_NATS) == (0.1, 0.1, 0.2)
    # the readers hold the very objects of rrlib.stats, not copies of the numbers
    assert report.CLAIM_LEVEL is stats.CLAIM_LEVEL and report.TOLERANCE_Z is stats.TOLERANCE_Z
    assert report.MIN_REPLICATES is stats.MIN_REPLICATES and report.COMPARABLE_POINTS is stats.COMPARABLE_POINTS
    assert verdicts.MI_CLAIM_Z is stats.MI_CLAIM_Z and verdicts.ACCURACY_CLAIM_Z is stats.ACCURACY_CLAIM_Z
    assert rendering_section5.CLAIM_LEVEL is stats.CLAIM_LEVEL


# ---------------------------------------------------------------------------------------------- the claims' rule
def test_difference_verdict_is_a_student_t_interval():
    # d = (1, 2, 3): mean 2, sd 1, SE 1/√3, t_{0.975, 2} = 4.303 → interval 2 ± 2.484 contains 0: undecided
    verdict, d = stats.paired_verdict([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert d.n == 3 and d.df == 2 and verdict == stats.UNDECIDED
    assert d.interval()[0] == pytest.approx(2 - 4.302652729 / math.sqrt(3), rel=1e-9)
    # a normal 2 SE rule would have called it supported (2 > 2 · 0.577): t with n − 1 dof is wider
    assert stats.exceeds(d.mean, d.se, 2.0)
    assert stats.paired_verdict([3.0, 3.1, 2.9, 3.0], [0.0] * 4)[0] == stats.SUPPORTED
    assert stats.paired_verdict([0.0] * 4, [3.0, 3.1, 2.9, 3.0])[0] == stats.CONTRADICTED
    # a tie is not an ordering, even with no spread at all
    assert stats.paired_verdict([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])[0] == stats.UNDECIDED
    # one or two seeds are too few to judge, however large the effect
    assert stats.paired_verdict([9.0, 9.0], [0.0, 0.0])[0] == stats.TOO_FEW
    assert stats.paired_verdict([9.0], [0.0])[0] == stats.TOO_FEW


def test_pairing_removes_the_shared_seed_effect():
    # each seed moves both models by the same amount: paired, the difference is exact; unpaired, it drowns
    seed = [-3.0, -1.0, 1.0, 3.0]
    a, b = [1.0 + s for s in seed], [s for s in seed]
    assert stats.paired_verdict(a, b)[0] == stats.SUPPORTED
    unpaired = stats.unpaired_difference(stats.summarize(a), stats.summarize(b))
    assert stats.difference_verdict(unpaired) == stats.UNDECIDED


def test_comparable_verdict():
    assert stats.comparable_verdict([70.0, 71.0, 69.5, 70.5], [70.5, 70.0, 70.0, 71.0])[0] == stats.SUPPORTED
    assert stats.comparable_verdict([50.0, 51.0, 52.0], [70.0, 70.5, 71.0])[0] == stats.CONTRADICTED
    # an interval that reaches past the margin on one side only: undecided
    assert stats.comparable_verdict([60.0, 72.0, 68.0, 66.0], [70.0] * 4)[0] == stats.UNDECIDED
    assert stats.comparable_verdict([70.0, 70.0], [70.0, 70.0])[0] == stats.TOO_FEW


def test_no_threshold_is_written_as_a_literal_in_the_verdict_code():
    literal = re.compile(r"\b\d+(\.\d+)?\s*\*\s*\w*se\b|\bz\w*\s*[<>]=?\s*\d|[<>]=?\s*\d+(\.\d+)?\s*\*\s*\w*se\b")
    assignment = re.compile(r"^\s*(\w*_)?Z\s*(:\s*float\s*)?=", re.MULTILINE)
    paths = [REPO_ROOT / "rrlib" / "verdicts.py", *sorted((REPO_ROOT / "rrlib" / "report").glob("*.py")),
             *sorted((REPO_ROOT / "rrlib" / "rendering").glob("*.py"))]
    assert len(paths) > 10
    for path in paths:
        name, text = path.name, path.read_text()
        assert not literal.search(text), f"{name}: {literal.search(text).group(0)!r}"
        assert not assignment.search(text), f"{name} defines a threshold; define it in rrlib/stats.py"
