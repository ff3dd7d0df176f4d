"""Chapter 03 (Theorem 3.4): the recorded metrics of the executed notebook, in the quick profile."""

from __future__ import annotations

import math

import pytest

CHAPTER = "03_theorem_3_4"


@pytest.mark.slow
def test_reproduces_the_papers_numbers(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    assert m["bound_at_0"] == pytest.approx(math.log(2) / math.log(10), rel=1e-14)
    assert m["bound_at_1_08"] == pytest.approx((1.08 + math.log(2)) / math.log(10), rel=1e-14)
    assert round(m["bound_at_0_percent"], 1) == m["paper_bound_at_0_percent"] == 30.1
    assert round(m["bound_at_1_08_percent"], 1) == m["paper_bound_at_1_08_percent"] == 77.0
    assert m["paper_points_violations"] == 0


@pytest.mark.slow
def test_bruteforce_check(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    assert m["n_problems"] >= 300
    assert m["n_violations"] == 0
    assert m["n_label_free_violations"] == 0
    assert m["n_label_free_above_adv"] == 0
    assert m["min_margin"] >= -1e-12
    assert m["n_nonvacuous"] > m["n_problems"] / 2  # the check is not won on vacuous bounds
    assert m["n_kernels"] >= 1000 and m["min_kernel_gap"] >= -1e-12
    assert m["zero_worst_mi_risk_equals_chance"] == m["n_zero_worst_mi"] > 0
