"""Worst-case MI estimation (Algorithms 1–2): mechanics checked exactly, estimates against the Gaussian mixture."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from rrlib.attacks import ThreatModel, ZeroGradientWarning, ball
from rrlib.mi.bounds import dv
from rrlib.mi.critics import FlatCritic, SeparableCritic
from rrlib.mi.worst_case import (
    EstimatorConfig,
    critic_step,
    estimate_mutual_information,
    mi_objective,
    representation_vulnerability,
    worst_case_batch,
)
from rrlib.models.surrogates import SignRepresentation, StraightThroughSign
from rrlib.theory import GaussianMixture, binary_entropy

# The Gaussian mixture of Theorem 3.2 with a large exact RV: ‖θ‖ = 0.5 against unit noise, ℓ∞ threat in d = 2.
THETA = np.array([0.5, 0.5]) / math.sqrt(2)
W = THETA / np.linalg.norm(THETA)
GM = GaussianMixture(THETA, np.eye(2))


def _data(n: int, seed: int) -> torch.Tensor:
    x, _ = GM.sample(n, np.random.default_rng(seed))
    return torch.as_tensor(x, dtype=torch.float32)


def _critic(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return SeparableCritic(2, 1, hidden=32, embed=8)


# --- straight-through sign ---------------------------------------------------------------------------------------
def test_straight_through_sign_forward_is_exact_and_backward_is_tanh():
    s = torch.tensor([-1.0, -0.1, 0.0, 0.2, 3.0], dtype=torch.float64, requires_grad=True)
    out = StraightThroughSign.apply(s, 2.0)
    assert torch.equal(out.detach(), torch.tensor([-1.0, -1.0, 1.0, 1.0, 1.0], dtype=torch.float64))
    (grad,) = torch.autograd.grad(out.sum(), s)
    s2 = s.detach().clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(torch.tanh(2.0 * s2).sum(), s2)
    assert torch.allclose(grad, expected)
    # the representation agrees with the theory's g(x) = sgn(wᵀx) (sgn(0) = +1)
    x = _data(500, 1)
    rep = SignRepresentation(W, 3.0)
    assert np.array_equal(rep(x).reshape(-1).numpy().astype(int), GM.represent(x.double().numpy(), W))
    with pytest.raises(ValueError, match="sharpness"):
        SignRepresentation(W, -1.0)


def test_true_sign_masks_the_gradient_and_pgd_does_not_move():
    x = _data(128, 2)
    critic = _critic()
    rep = SignRepresentation(W, None)
    attack = ThreatModel("linf", 0.5, 3, 0.25, box=None)
    with pytest.warns(ZeroGradientWarning):
        x_adv, value = worst_case_batch(critic, rep, x, attack)
    assert torch.equal(x_adv, x)
    with torch.no_grad():
        assert float(value) == pytest.approx(float(dv(critic(x, rep(x)))), abs=1e-6)


# --- Algorithm 1 ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gradient", ["representation", "full"])
def test_algorithm_1_is_pgd_descent_on_the_estimate(gradient):
    x = _data(128, 3)
    critic = _critic(1)
    rep = SignRepresentation(W, 3.0)
    attack = ThreatModel("linf", 0.5, 5, 0.25, box=None)
    with torch.no_grad():
        clean = float(dv(critic(x, rep(x))))
    x_adv, v1 = worst_case_batch(critic, rep, x, attack, gradient=gradient)
    assert ball("linf", 0.5, None).contains(x_adv, x).all()
    with torch.no_grad():
        recomputed = float(dv(critic(x_adv, rep(x_adv))))
    assert float(v1) == pytest.approx(recomputed, abs=1e-5)  # V1 = J(x′)
    assert float(v1) <= clean + 1e-6  # the start is an iterate: keeping the best never ends above J(x)


def test_gradient_paths_differ_exactly_as_documented():
    # a constant representation: ∇ₓJ through g is zero, so only the critic's x-branch can carry a gradient
    class Constant(nn.Module):
        def forward(self, x):
            return torch.zeros(x.shape[0], 1) + 0.0 * x[:, :1]

    x = _data(64, 4)
    critic = _critic(2)
    grads = {}
    for gradient in ("representation", "full"):
        xr = x.clone().requires_grad_(True)
        value = mi_objective(critic, Constant(), gradient=gradient)(xr)
        (grads[gradient],) = torch.autograd.grad(value, xr)
    assert torch.count_nonzero(grads["representation"]) == 0
    assert torch.count_nonzero(grads["full"]) > 0
    with pytest.raises(ValueError, match="valid choices"):
        mi_objective(critic, Constant(), gradient="input")


def test_modes_are_managed_and_restored():
    class BNRep(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 1)
            self.bn = nn.BatchNorm1d(1)
            self.modes: list[bool] = []

        def forward(self, x):
            self.modes.append(self.training)
            return self.bn(self.lin(x))

    rep = BNRep().train()
    critic = _critic(3).train()
    x = _data(256, 5)
    est = estimate_mutual_information(rep, critic, x, x, threat=ThreatModel("linf", 0.1, 2, 0.1, box=None),
                                      config=EstimatorConfig(iterations=3, batch_size=64, test_batches=1),
                                      generator=torch.Generator().manual_seed(0))
    assert rep.training and all(m.training for m in critic.modules())
    assert not any(rep.modes)  # the representation is evaluated in eval mode throughout
    assert est.critic is not critic
    running = rep.bn.running_mean.clone()
    assert torch.equal(running, torch.zeros(1))  # eval mode: batch-norm statistics untouched


# --- Algorithm 2 ------------------------------------------------------------------------------------------------
def test_eps_zero_reproduces_the_normal_estimate_exactly():
    x_train, x_test = _data(1024, 6), _data(512, 7)
    rep = SignRepresentation(W, 3.0)
    cfg = EstimatorConfig(iterations=20, batch_size=64, lr=1e-3)
    normal = estimate_mutual_information(rep, _critic(4), x_train, x_test, threat=None, config=cfg,
                                         generator=torch.Generator().manual_seed(3))
    worst0 = estimate_mutual_information(rep, _critic(4), x_train, x_test,
                                         threat=ThreatModel("linf", 0.0, 5, 0.1, box=None), config=cfg,
                                         generator=torch.Generator().manual_seed(3))
    assert np.array_equal(normal.train_values, worst0.train_values)
    assert normal.estimate == worst0.estimate
    assert normal.estimate == pytest.approx(float(np.mean(normal.test_values)))
    assert normal.test_values.shape == (512 // 64,)


def test_theta_opt_is_the_critic_with_the_largest_training_value():
    x_train, x_test = _data(512, 8), _data(256, 9)
    rep = SignRepresentation(W, 3.0)
    cfg = EstimatorConfig(iterations=12, batch_size=64, lr=3e-2, select="best")
    est = estimate_mutual_information(rep, _critic(5), x_train, x_test, threat=None, config=cfg,
                                      generator=torch.Generator().manual_seed(11))
    assert est.best_iteration == int(np.argmax(est.train_values))
    # replay the batch order to find the batch of the best iteration: V1(t) was computed with θ_t (before its step)
    gen = torch.Generator().manual_seed(11)
    epochs = [torch.randperm(512, generator=gen).reshape(8, 64) for _ in range(2)]  # 12 iterations: 2 epochs of 8
    xb = x_train[epochs[est.best_iteration // 8][est.best_iteration % 8]]
    with torch.no_grad():
        value = float(dv(est.critic(xb, rep(xb))))
    assert value == pytest.approx(est.train_values[est.best_iteration], abs=1e-5)
    last = estimate_mutual_information(rep, _critic(5), x_train, x_test, threat=None,
                                       config=EstimatorConfig(iterations=12, batch_size=64, lr=3e-2, select="last"),
                                       generator=torch.Generator().manual_seed(11))
    assert last.best_iteration == 11


def test_critic_step_ascends_and_returns_the_value_before_the_step():
    x = _data(128, 10)
    rep = SignRepresentation(W, 3.0)
    critic = _critic(6)
    opt = torch.optim.SGD(critic.parameters(), lr=1e-2)
    with torch.no_grad():
        before = float(dv(critic(x, rep(x))))
    v1 = critic_step(critic, opt, rep, x)
    with torch.no_grad():
        after = float(dv(critic(x, rep(x))))
    assert v1 == pytest.approx(before, abs=1e-6)
    assert after > before  # a small gradient-ascent step increases a smooth objective


def test_estimates_on_the_gaussian_mixture_respect_the_exact_answers():
    """Normal MI is log 2; the worst case inside the ε-ball is H2(1/2 − P/2) (Theorem 3.2's proof).

    Checks that hold for any estimator and any attack (up to sampling error):
    * a DV estimate on held-out batches is a lower bound: normal estimate ≤ log 2 + 5 SE (SE over test batches);
    * an attack is a feasible transport, so the true MI of the attacked data, H2(P̂[Z′ = 1]), is at least the
      exact worst case *on the same sample* (hard inequality, up to float32 rounding of points on the boundary);
    * the sample's worst case is within 5 SE of the population's (SE of P̂ is sqrt(p(1−p)/n), times |H2′|).
    """
    eps, n_test = 1.0, 1024
    x_train, x_test = _data(2048, 12), _data(n_test, 13)
    rep = SignRepresentation(W, 3.0)
    cfg = EstimatorConfig(iterations=60, batch_size=128, lr=1e-3, gradient="full")
    attack = ThreatModel("linf", eps, 5, 0.5, box=None)
    vul = representation_vulnerability(rep, lambda: SeparableCritic(2, 1, hidden=32, embed=8), x_train, x_test,
                                       threat=attack, config=cfg, seeds=(0, 1))
    for normal, worst in vul.runs:
        se = normal.test_values.std(ddof=1) / math.sqrt(normal.test_values.size)
        assert normal.estimate <= math.log(2) + 5 * se
        margin = worst.x_perturbed.double() @ torch.as_tensor(W)
        clean_margin = worst.x_test.double() @ torch.as_tensor(W)
        budget = eps * np.abs(W).sum()
        low = float((clean_margin >= budget).double().mean())
        high = float((clean_margin >= -budget).double().mean())
        sample_worst = min(binary_entropy(low), binary_entropy(high))
        positive = float((margin >= 0).double().mean())
        assert binary_entropy(positive) >= sample_worst - 1e-9
        exact = GM.worst_case_mutual_information(W, eps, math.inf)
        p_low = 0.5 - 0.5 * GM.flip_probability_width(W, eps, math.inf)
        se_h = math.sqrt(p_low * (1 - p_low) / n_test) * abs(math.log((1 - p_low) / p_low))
        assert abs(sample_worst - exact) < 5 * se_h
    assert vul.rv.shape == (2,) and np.allclose(vul.rv, vul.normal - vul.worst)
    assert vul.rv_std >= 0 and vul.normal_mean == pytest.approx(vul.normal.mean())


def test_flat_critic_works_on_images_with_a_box():
    torch.manual_seed(0)
    rep = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    critic = FlatCritic(SeparableCritic(16, 3, hidden=16, embed=4))
    x = torch.rand(256, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    attack = ThreatModel("linf", 0.1, 3, 0.05, box=(0.0, 1.0))
    est = estimate_mutual_information(rep, critic, x, x, threat=attack,
                                      config=EstimatorConfig(iterations=4, batch_size=64),
                                      generator=torch.Generator().manual_seed(1))
    assert est.x_perturbed.shape == est.x_test.shape == (256, 1, 4, 4)
    assert ball("linf", 0.1, (0.0, 1.0)).contains(est.x_perturbed, est.x_test).all()
    assert np.isfinite(est.estimate)


# --- bad inputs -----------------------------------------------------------------------------------------------
def test_bad_configurations_raise_clear_errors():
    with pytest.raises(ValueError, match=r"unknown gradient='both'; valid choices: \('representation', 'full'\)"):
        EstimatorConfig(gradient="both")
    with pytest.raises(TypeError, match="attack_keep_best must be a bool"):
        EstimatorConfig(attack_keep_best="yes")
    with pytest.raises(ValueError, match=r"test_batches must be None or an integer >= 1, got 0"):
        EstimatorConfig(test_batches=0)
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0, got 0"):
        EstimatorConfig(lr=0)
    with pytest.raises(ValueError, match="unknown norm"):
        ThreatModel("l1", 0.1, 1, 0.1)
    with pytest.raises(ValueError, match="eps"):
        ThreatModel("linf", -1.0, 1, 0.1)
    with pytest.raises(ValueError, match="iterations"):
        EstimatorConfig(iterations=0)
    with pytest.raises(ValueError, match="select"):
        EstimatorConfig(select="median")
    with pytest.raises(ValueError, match="batch_size"):
        EstimatorConfig(batch_size=1)
    rep = SignRepresentation(W, 3.0)
    x = _data(100, 14)
    with pytest.raises(ValueError, match="fewer than one batch"):
        estimate_mutual_information(rep, _critic(), x, x, threat=None, config=EstimatorConfig(batch_size=128),
                                    generator=torch.Generator())
    with pytest.raises(TypeError, match="generator"):
        estimate_mutual_information(rep, _critic(), x, x, threat=None, config=EstimatorConfig(batch_size=32),
                                    generator=0)
    with pytest.raises(ValueError, match="test_batches"):
        estimate_mutual_information(rep, _critic(), x, x, threat=None,
                                    config=EstimatorConfig(iterations=1, batch_size=32, test_batches=9),
                                    generator=torch.Generator())
    with pytest.raises(ValueError, match="seeds"):
        representation_vulnerability(rep, _critic, x, x, threat=ThreatModel("linf", 0.1, 1, 0.1),
                                     seeds=())
    with pytest.raises(TypeError, match="representation"):
        worst_case_batch(_critic(), "g", x, ThreatModel("linf", 0.1, 1, 0.1, box=None))
    with pytest.raises(TypeError, match="threat must be a rrlib.attacks.ThreatModel or None"):
        estimate_mutual_information(rep, _critic(), x, x, threat={"eps": 0.1}, config=EstimatorConfig(batch_size=32),
                                    generator=torch.Generator())


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_worst_case_estimation_runs_on_cuda():
    dev = torch.device("cuda")
    x = _data(512, 15).to(dev)
    rep = SignRepresentation(W, 3.0).to(dev)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ZeroGradientWarning)
        est = estimate_mutual_information(rep, _critic(), x, x,
                                          threat=ThreatModel("linf", 0.5, 3, 0.25, box=None),
                                          config=EstimatorConfig(iterations=5, batch_size=128),
                                          generator=torch.Generator().manual_seed(0))
    assert est.x_perturbed.device.type == "cuda" and np.isfinite(est.estimate)
