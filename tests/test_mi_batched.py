"""Stacked critics (torch.func) give the sequential staircase's numbers, up to a float32 tolerance derived below."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rrlib.mi.batched import StackedCritics, run_staircase_batched, train_steps_batched
from rrlib.mi.bounds import Bound, make_bound
from rrlib.mi.estimator import StaircaseConfig, build_critic, run_staircase
from rrlib.runtime import torch_generator
from rrlib.synthetic import CorrelatedGaussian

DIM, HIDDEN, EMBED = 20, 32, 8
CONFIG = StaircaseConfig(levels=(2.0, 6.0), steps_per_level=25, dim=DIM, hidden=HIDDEN, embed=EMBED, eval_batches=2)
BOUNDS = ["dv", "nwj", "infonce", "js", "smile", "mine"]

# Tolerance (nats). The two paths compute the same sums in float32, in a possibly different order (a batched
# matrix product against K single ones), so they differ by rounding only. A sum of m products is exact up to
# gamma_m = m*u relative to the sum of absolute terms (Higham, Accuracy and Stability, Sec. 3.1), u = 2^-24. A
# separable score passes through sums of fan-in 20 + HIDDEN + HIDDEN (the MLP) and EMBED (the dot product):
# m = 92, so one forward pass agrees to m*u*max(1, |scores|), about 5.5e-6 for scores of order 1; the bounds
# (means and log-mean-exps of the scores) keep that absolute size. Training feeds the difference back: each Adam
# step moves a weight by at most lr and changes it by a relative error of the gradient's size, so over T steps
# the errors add up, at most T times the one-pass error: T = 50 training steps gives 50*92*u ~= 2.7e-4 nats per
# unit of score scale. Measured on one CPU thread: 0 after the first step, <= 1.0e-6 after 50.
U = 2.0 ** -24
M = DIM + 2 * HIDDEN + EMBED


def _tolerance(steps: int, scale: float) -> float:
    return steps * M * U * max(1.0, scale)


def test_batched_staircase_matches_the_sequential_loop():
    sequential = [run_staircase(CONFIG, b, "separable", seed=3, show_progress=False) for b in BOUNDS]
    batched = run_staircase_batched(CONFIG, BOUNDS, "separable", seed=3, show_progress=False)
    assert [r.bound for r in batched] == BOUNDS
    for seq, bat in zip(sequential, batched, strict=True):
        scale = float(np.nanmax(np.abs(seq.estimates)))
        assert seq.diverged_at is None and bat.diverged_at is None
        assert np.all(np.isfinite(bat.estimates))
        # first step: same weights, same batch, one forward pass
        assert abs(bat.estimates[0] - seq.estimates[0]) <= _tolerance(1, scale), seq.bound
        np.testing.assert_allclose(bat.estimates, seq.estimates, rtol=0, atol=_tolerance(CONFIG.total_steps, scale),
                                   err_msg=seq.bound)
        np.testing.assert_allclose(bat.heldout, seq.heldout, rtol=0, atol=_tolerance(CONFIG.total_steps, scale))
        for a, b in zip(bat.stats, seq.stats, strict=True):
            assert a.true_mi == b.true_mi
            assert math.isclose(a.mean, b.mean, abs_tol=_tolerance(CONFIG.total_steps, scale))


def test_a_diverging_critic_stops_alone():
    """A bound that turns non-finite stops its own critic (NaN from then on); the others train as alone."""
    dist = CorrelatedGaussian.from_mi(2.0, DIM)
    critics = [build_critic("separable", DIM, DIM, hidden=HIDDEN, embed=EMBED, seed=0) for _ in range(2)]
    broken = Bound("broken", lambda s: s.diag().mean() * math.nan, lambda s: s.diag().mean() * math.nan)
    net = StackedCritics(critics)
    optimizer = torch.optim.Adam(net.parameters(), lr=5e-4)
    active = [True, True]
    values = train_steps_batched(net, [make_bound("dv"), broken], optimizer, dist.sample, torch_generator(0), 10,
                                 16, active)
    assert active == [True, False]
    assert np.all(np.isnan(values[1])) and np.all(np.isfinite(values[0]))

    alone = build_critic("separable", DIM, DIM, hidden=HIDDEN, embed=EMBED, seed=0)
    opt = torch.optim.Adam(alone.parameters(), lr=5e-4)
    generator, bound, expected = torch_generator(0), make_bound("dv"), []
    for _ in range(10):
        result = bound(alone(*dist.sample(16, generator)))
        opt.zero_grad()
        result.loss.backward()
        opt.step()
        expected.append(float(result.value.detach()))
    np.testing.assert_allclose(values[0], expected, rtol=0, atol=_tolerance(10, max(map(abs, expected))))


def test_stacked_critics_unstack_and_check_their_input():
    critics = [build_critic("separable", 3, 3, hidden=8, embed=4, seed=s) for s in (0, 1)]
    net = StackedCritics(critics)
    x, z = torch.randn(5, 3), torch.randn(5, 3)
    scores = net(x, z)
    assert scores.shape == (2, 5, 5)
    for k, critic in enumerate(critics):
        torch.testing.assert_close(scores[k], critic(x, z))
        torch.testing.assert_close(net.critic(k)(x, z), critic(x, z))
    assert len(list(net.parameters())) == len(list(critics[0].parameters()))
    with pytest.raises(ValueError, match="non-empty sequence"):
        StackedCritics([])
    with pytest.raises(ValueError, match="one architecture"):
        StackedCritics([critics[0], build_critic("separable", 3, 3, hidden=16, embed=4)])
    with pytest.raises(ValueError, match=r"critic index must be an integer in \[0, 2\), got 2"):
        net.critic(2)
    with pytest.raises(ValueError, match="distinct bound names"):
        run_staircase_batched(CONFIG, ["dv", "dv"], "separable", show_progress=False)
    with pytest.raises(ValueError, match="unknown critic"):
        run_staircase_batched(CONFIG, ["dv"], "mlp", show_progress=False)
