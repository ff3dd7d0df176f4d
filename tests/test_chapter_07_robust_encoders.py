"""Chapter 07 (quick profile): the numbers its prose relies on."""

from __future__ import annotations

import math

import pytest

from rrlib.experiments.downstream_tables import load_committed
from rrlib.mi.plausibility import check_estimates

CHAPTER = "07_robust_encoders"


@pytest.mark.slow
def test_both_encoders_trained_and_measured(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    for loss in ("normal", "worst"):
        enc = m["encoders"][loss]
        assert [h["epoch"] for h in enc["history"]] == list(range(1, m["config"]["epochs"] + 1))
        for h in enc["history"]:  # RV of the own critic is the difference of the two recorded estimates
            assert h["heldout_rv"] == pytest.approx(h["heldout_mi_normal"] - h["heldout_mi_worst"], abs=1e-12)
        n = len(m["config"]["rv_seeds"])
        assert len(enc["normal"]["values"]) == len(enc["worst"]["values"]) == n
        assert enc["rv"]["values"] == pytest.approx([a - b for a, b in zip(enc["normal"]["values"],
                                                                            enc["worst"]["values"], strict=True)])
        flags = [check_estimates(a, b) for a, b in zip(enc["normal"]["values"], enc["worst"]["values"], strict=True)]
        assert enc["impossible"] == any(f.impossible for f in flags)


@pytest.mark.slow
def test_worst_step_costs_more_but_at_most_s_plus_one_passes_plus_slack(chapter_metrics):
    cost = chapter_metrics(CHAPTER)["cost"]
    assert cost["passes_ratio"] == cost["attack_steps"] + 1 == 11
    # a worst step does S attack passes plus the training pass: it cannot be cheaper than one DIM step
    assert cost["ratio"] > 1.0 and math.isfinite(cost["ratio"])


@pytest.mark.slow
def test_medium_summary_is_the_committed_run(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    committed = load_committed("fashion-mnist")["encoders"]
    for loss in ("normal", "worst"):
        seeds = sorted(committed[loss])
        finals = [committed[loss][s]["history"][-1] for s in seeds]
        med = m["medium"]["encoders"][loss]
        assert med["heldout_normal"]["values"] == [f["heldout_mi_normal"] for f in finals]
        assert med["heldout_worst"]["values"] == [f["heldout_mi_worst"] for f in finals]
        assert med["impossible_seeds"] == [s for s, f in zip(seeds, finals, strict=True)
                                           if check_estimates(f["heldout_mi_normal"], f["heldout_mi_worst"]).impossible]
