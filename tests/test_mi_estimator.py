"""rrlib.mi.estimator: a short trained run reaches the true MI; staircase bookkeeping; divergence; errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from rrlib.mi.estimator import (
    StaircaseConfig,
    build_critic,
    fit_critic,
    level_stats,
    limit_threads,
    run_staircase,
)
from rrlib.synthetic import CorrelatedGaussian


@pytest.mark.parametrize("bound", ["dv", "nwj"])
def test_short_training_reaches_two_nats(bound):
    # Concat critic on d = 2 correlated Gaussians with I = 2 nats, 800 Adam steps (about 3 s on one core).
    # Tolerance: at most 0.1 nats below the truth (the critic's approximation error after 800 steps; measured
    # 0.01-0.04 over seeds 0-2) and at most 5 standard errors above it (a lower bound exceeds the truth only by
    # sampling error, plus DV's Jensen bias (e^{2I} - 1) / (2 n (n - 1)) ≈ 0.007 nats here).
    with limit_threads(1):
        dist = CorrelatedGaussian.from_mi(2.0, 2)
        critic = build_critic("concat", 2, 2, hidden=64, seed=0)
        fit = fit_critic(critic, bound, dist.sample, steps=800, batch=64, lr=2e-3, seed=0, eval_batches=64,
                         show_progress=False)
    assert not fit.diverged and fit.history.shape == (800,)
    assert 2.0 - 0.1 <= fit.heldout <= 2.0 + 5 * fit.heldout_se + 0.01
    assert np.mean(fit.history[:50]) < 1.0 < np.mean(fit.history[-100:])  # it actually learned


def test_staircase_bookkeeping_and_statistics():
    config = StaircaseConfig(levels=(1.0, 3.0), steps_per_level=30, dim=4, batch=16, hidden=16, embed=8,
                             eval_batches=2, tail_fraction=0.5)
    result = run_staircase(config, "infonce", "separable", seed=3, show_progress=False)
    assert result.estimates.shape == (60,) and result.true_mi.shape == (60,)
    assert np.all(result.true_mi[:30] == 1.0) and np.all(result.true_mi[30:] == 3.0)
    assert np.all(result.estimates <= math.log(16) + 1e-6)  # InfoNCE ceiling holds for trained critics too
    assert len(result.stats) == 2 and result.diverged_at is None
    for i, s in enumerate(result.stats):
        tail = result.estimates[i * 30 + 15:(i + 1) * 30]
        assert s.mean == pytest.approx(tail.mean()) and s.variance == pytest.approx(tail.var())
        assert s.mse == pytest.approx(s.bias**2 + s.variance)
    again = run_staircase(config, "infonce", "separable", seed=3, show_progress=False)
    assert np.array_equal(again.estimates, result.estimates)  # seeded: bit-for-bit reproducible on CPU
    other = run_staircase(config, "infonce", "separable", seed=4, show_progress=False)
    assert not np.array_equal(other.estimates, result.estimates)
    assert result.to_dict()["levels"][1]["true_mi"] == 3.0


def test_level_stats_exact():
    s = level_stats(np.array([1.0, 2.0, 3.0, np.nan]), true_mi=2.5, heldout=2.0)
    assert (s.mean, s.bias, s.variance) == pytest.approx((2.0, -0.5, 2.0 / 3.0))
    assert s.mse == pytest.approx(np.mean((np.array([1.0, 2.0, 3.0]) - 2.5) ** 2))
    assert math.isnan(level_stats(np.array([np.nan]), 1.0).mse)


class _Exploding(nn.Module):
    """A critic whose scores become infinite after two steps."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))
        self.calls = 0

    def forward(self, x, z):
        self.calls += 1
        scale = math.inf if self.calls > 2 else 1.0
        return (x @ z.T) * scale + self.w


def test_divergence_is_recorded_not_hidden():
    dist = CorrelatedGaussian.from_mi(1.0, 3)
    fit = fit_critic(_Exploding(), "dv", dist.sample, steps=10, batch=8, eval_batches=2, show_progress=False)
    assert fit.diverged
    assert np.all(np.isfinite(fit.history[:2])) and np.all(np.isnan(fit.history[2:]))
    assert math.isnan(fit.heldout)


def test_mine_and_smile_train_through_the_generic_loop():
    dist = CorrelatedGaussian.from_mi(1.0, 3)
    for bound, kwargs in (("mine", {"rate": 0.05}), ("smile", {"tau": 2.0}), ("js", None)):
        critic = build_critic("separable", 3, 3, hidden=16, embed=8, seed=1)
        fit = fit_critic(critic, bound, dist.sample, steps=20, batch=16, eval_batches=2, bound_kwargs=kwargs,
                         show_progress=False)
        assert not fit.diverged and np.all(np.isfinite(fit.history))


def test_limit_threads_restores_the_setting():
    before = torch.get_num_threads()
    with limit_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="num_threads"):
        with limit_threads(0):
            pass


@pytest.mark.parametrize("call,match", [
    (lambda: build_critic("bilinear", 2, 2), "valid choices"),
    (lambda: run_staircase(StaircaseConfig(steps_per_level=1), "kl", "separable"), "valid choices"),
    (lambda: StaircaseConfig(levels=()), "levels"),
    (lambda: StaircaseConfig(tail_fraction=0.0), "tail_fraction"),
    (lambda: fit_critic(build_critic("separable", 2, 2), "dv", CorrelatedGaussian(2, 0.5).sample, steps=0),
     "steps"),
    (lambda: fit_critic(build_critic("separable", 2, 2), "dv", CorrelatedGaussian(2, 0.5).sample, steps=1,
                        batch=1), "batch"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
