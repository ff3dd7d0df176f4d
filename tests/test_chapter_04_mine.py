"""Chapter 04 "How good is MINE?": the recorded numbers agree with what is known exactly."""

from __future__ import annotations

import math

import pytest

CHAPTER = "04_mine"


@pytest.mark.slow
def test_oracle_numbers(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    oracle, levels, batches = m["oracle"], m["levels"], m["oracle_batches"]
    assert len(oracle) == 5 * len(levels) * len(batches)
    for n in batches:
        for level in levels:
            # InfoNCE can never exceed log n, for any scores
            assert oracle[f"infonce_n{n}_I{level:g}"]["mean"] <= math.log(n) + 1e-9
    lo, hi, n_small, n_large = min(levels), max(levels), min(batches), max(batches)
    nwj = oracle[f"nwj_n{n_large}_I{lo:g}"]
    assert abs(nwj["mean"] - lo) < 5 * nwj["se"]  # exactly unbiased at its optimal critic; 5 standard errors
    dv = oracle[f"dv_n{n_small}_I{hi:g}"]
    assert dv["mean"] - hi > 5 * dv["se"]  # Jensen: the batch DV overshoots with a perfect critic
    assert dv["frac_above"] > 0.5
    h = m["headline"]
    # "+n" fillers: the shift is log(1 + 1/((n-1) M)) with E[M] = 1, convex in M, so it is at least
    # log(n/(n-1)) (Jensen) and, with Var(M) = (e^{2I} - 1)/(n(n-1)) ≈ 0.013 at I = 2, n = 64, about 1.3 % above
    assert 0.99 * h["filler_predicted"] <= h["filler_shift"] <= 1.1 * h["filler_predicted"]


@pytest.mark.slow
def test_trained_and_deterministic_numbers(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    hi = max(m["levels"])
    log64 = math.log(64)
    sep = {k.split("/")[0]: v for k, v in m["staircase"].items() if k.endswith("/separable")}
    assert set(sep) == {"dv", "nwj", "infonce", "js", "smile", "mine"}
    # trained InfoNCE is capped by log n as well: its top-level mean (bias + truth) stays below log 64
    assert sep["infonce"]["bias"][-1] + hi <= log64 + 1e-6
    # SMILE's clipping keeps it far closer to 10 nats than InfoNCE's ceiling allows
    assert sep["smile"]["mse"][-1] < sep["infonce"]["mse"][-1]
    assert m["deterministic_final"]["infonce"] <= log64 + 1e-6
    assert m["deterministic_final"]["dv"] > log64 + 1.0  # DV has no log n cap; the truth here is infinite
