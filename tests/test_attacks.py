"""Threat models and the generic PGD: projections, steps, best-iterate selection, modes, bad inputs."""

from __future__ import annotations

import dataclasses
import math
import warnings

import pytest
import torch
from torch import nn

from rrlib.attacks import (
    AttackResult,
    L2Ball,
    LinfBall,
    NonFiniteObjectiveError,
    ThreatModel,
    ZeroGradientWarning,
    adversarial_accuracy,
    adversarial_examples,
    ball,
    pgd,
)
from rrlib.runtime import managed_modes


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- threat models ----------------------------------------------------------------------------------------------
def test_linf_projection_is_exact_clip_of_ball_and_box():
    g = _gen(1)
    x = torch.rand(64, 5, generator=g, dtype=torch.float64)
    far = x + 0.5 * torch.randn(64, 5, generator=g, dtype=torch.float64)
    tm = LinfBall(0.1, box=(0.0, 1.0))
    proj = tm.project(far, x)
    # the intersection of two boxes is a box: the exact projection is the coordinate-wise clip onto it
    lo = torch.maximum(x - 0.1, torch.zeros_like(x))
    hi = torch.minimum(x + 0.1, torch.ones_like(x))
    assert torch.equal(proj, torch.minimum(torch.maximum(far, lo), hi))
    assert tm.contains(proj, x, atol=1e-12).all()
    # a point already inside is a fixed point
    inside = tm.project(x + 0.05 * (2 * torch.rand(64, 5, generator=g, dtype=torch.float64) - 1), x)
    assert torch.equal(tm.project(inside, x), inside)


def test_l2_projection_without_box_is_the_euclidean_projection():
    g = _gen(2)
    x = torch.randn(200, 3, generator=g, dtype=torch.float64)
    far = x + torch.randn(200, 3, generator=g, dtype=torch.float64)
    tm = L2Ball(0.3, box=None)
    proj = tm.project(far, x)
    dist = (far - x).norm(dim=1)
    outside = dist > 0.3
    # outside points land on the sphere along the ray from the centre; inside points are unchanged
    assert torch.allclose((proj - x).norm(dim=1)[outside], torch.full_like(dist[outside], 0.3), atol=1e-12)
    assert torch.allclose(proj[~outside], far[~outside])
    cos = torch.nn.functional.cosine_similarity(proj - x, far - x, dim=1)
    assert torch.allclose(cos, torch.ones_like(cos), atol=1e-12)
    # brute force: no point of the ball (1000 random candidates per example) is closer to `far`
    cand = x[:, None, :] + 0.3 * torch.nn.functional.normalize(
        torch.randn(200, 1000, 3, generator=g, dtype=torch.float64), dim=2
    ) * torch.rand(200, 1000, 1, generator=g, dtype=torch.float64) ** (1 / 3)
    best = (cand - far[:, None, :]).norm(dim=2).amin(dim=1)
    assert ((proj - far).norm(dim=1) <= best + 1e-12).all()


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("box", [None, (0.0, 1.0)])
def test_precomputed_projector_equals_project(norm, box):
    g = _gen(15)
    x = torch.rand(32, 6, generator=g)
    far = x + torch.randn(32, 6, generator=g)
    tm = ball(norm, 0.2, box)
    assert torch.allclose(tm.projector(x)(far), tm.project(far, x), atol=1e-7)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_projection_with_box_is_feasible(norm):
    g = _gen(3)
    x = torch.rand(128, 2, 4, generator=g)
    far = x + 2 * torch.randn(128, 2, 4, generator=g)
    tm = ball(norm, 0.25, box=(0.0, 1.0))
    proj = tm.project(far, x)
    assert tm.contains(proj, x).all()
    assert proj.min() >= 0 and proj.max() <= 1


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_random_start_is_uniform_in_the_ball(norm):
    d, n, eps = 4, 20000, 0.5
    tm = ball(norm, eps, box=None)
    x = torch.zeros(n, d, dtype=torch.float64)
    start = tm.random_start(x, _gen(4))
    assert tm.contains(start, x, atol=1e-12).all()
    if norm == "linf":
        # coordinates are Uniform[-ε, ε]: E|δ_j| = ε/2, sd ε/√12 per coordinate; 5 standard errors
        stat, mean, sd = start.abs().mean(), eps / 2, eps / math.sqrt(12) / math.sqrt(n * d)
    else:
        # uniform in the d-ball: (‖δ‖/ε)^d ~ Uniform[0, 1], mean 1/2, sd 1/√12
        stat, mean, sd = ((start.norm(dim=1) / eps) ** d).mean(), 0.5, 1 / math.sqrt(12 * n)
    assert abs(float(stat) - mean) < 5 * sd
    # reproducible from the generator, and the caller's tensor is untouched
    assert torch.equal(start, tm.random_start(x, _gen(4)))
    assert torch.count_nonzero(x) == 0


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_on_a_linear_objective_reaches_the_dual_norm_optimum(norm):
    # max_{‖δ‖_p ≤ ε} wᵀ(x + δ) = wᵀx + ε‖w‖_q (Hölder, q the dual exponent); PGD attains it exactly
    g = _gen(5)
    w = torch.randn(6, generator=g, dtype=torch.float64)
    x = torch.randn(10, 6, generator=g, dtype=torch.float64)
    eps = 0.2
    x_adv, values = pgd(lambda xa: xa @ w, x, ThreatModel(norm, eps, 5, 0.1, box=None))
    dual = w.abs().sum() if norm == "linf" else w.norm()
    assert torch.allclose(values, x @ w + eps * dual, atol=1e-10)
    # minimising reaches wᵀx − ε‖w‖_q
    _, low = pgd(lambda xa: xa @ w, x, ThreatModel(norm, eps, 5, 0.1, box=None), maximize=False)
    assert torch.allclose(low, x @ w - eps * dual, atol=1e-10)


# --- best-iterate selection -------------------------------------------------------------------------------------
# 1-d objective J_i(x) = -(x - c_i)^2 from x0 = 0 with ℓ∞ steps of 0.2 (ε = 1, no box), c = (0.25, 0.47).
# The gradient of example i depends only on x_i, so both objectives follow the same iterates:
#   example 1: 0 → 0.2 → 0.4 → 0.2 → 0.4        example 2: 0 → 0.2 → 0.4 → 0.6 → 0.4
# Per-example best: (0.2, 0.4) with J = (-0.0025, -0.0049). Best batch iterate (J summed): (0.2, 0.6) with
# J = -0.0194 (the others: -0.0754, -0.0274, -0.0274). Last iterate: (0.4, 0.4). All three differ.
_C = torch.tensor([[0.25], [0.47]], dtype=torch.float64)
_X0 = torch.zeros(2, 1, dtype=torch.float64)


def _run(objective, **kw):
    return pgd(objective, _X0, ThreatModel("linf", 1.0, 4, 0.2, box=None), **kw)


def _col(a, b):
    return torch.tensor([[a], [b]], dtype=torch.float64)


def test_best_iterate_per_example():
    x_adv, values = _run(lambda xa: -((xa - _C) ** 2).reshape(-1))
    assert torch.allclose(x_adv, _col(0.2, 0.4))
    assert torch.allclose(values, torch.tensor([-0.0025, -0.0049], dtype=torch.float64))


def test_best_iterate_per_batch():
    x_adv, value = _run(lambda xa: -((xa - _C) ** 2).sum())
    assert value.dim() == 0
    assert torch.allclose(x_adv, _col(0.2, 0.6))
    assert math.isclose(float(value), -0.0194, abs_tol=1e-12)


def test_keep_best_false_returns_the_last_iterate():
    last = _run(lambda xa: -((xa - _C) ** 2).reshape(-1), keep_best=False)
    assert torch.allclose(last.x, _col(0.4, 0.4))
    # the value is the objective at the returned (last) iterate, computed by hand: -(0.4 - c)^2
    assert torch.allclose(last.value, torch.tensor([-0.0225, -0.0049], dtype=torch.float64))
    assert torch.allclose(_run(lambda xa: -((xa - _C) ** 2).sum(), keep_best=False).x, _col(0.4, 0.4))


def test_minimize_mirrors_maximize():
    assert torch.allclose(_run(lambda xa: ((xa - _C) ** 2).reshape(-1), maximize=False).x, _col(0.2, 0.4))
    assert torch.allclose(_run(lambda xa: ((xa - _C) ** 2).sum(), maximize=False).x, _col(0.2, 0.6))


def test_restarts_never_do_worse_than_the_first_run():
    # a per-example objective with many local maxima; run 0 (no random start) is deterministic
    g = _gen(6)
    x = torch.rand(256, 3, generator=g)

    def objective(xa):
        return torch.sin(25 * xa).sum(dim=1)

    threat = ThreatModel("linf", 0.2, 5, 0.05)
    _, single = pgd(objective, x, threat)
    _, multi = pgd(objective, x, dataclasses.replace(threat, restarts=3), generator=_gen(7))
    assert (multi >= single).all() and (multi > single).any()


def test_pgd_does_not_modify_the_input_and_stays_in_the_ball():
    g = _gen(8)
    x = torch.rand(32, 8, generator=g)
    keep = x.clone()
    w = torch.randn(8, generator=g)
    for norm in ("linf", "l2"):
        result = pgd(lambda xa, w=w: (xa @ w).exp(), x, ThreatModel(norm, 0.3, 4, 0.1, random_start=True),
                     generator=_gen(9))
        assert isinstance(result, AttackResult)
        x_adv = result.x
        assert torch.equal(x, keep)
        assert ball(norm, 0.3, (0.0, 1.0)).contains(x_adv, x).all()
        assert x_adv.dtype == x.dtype and x_adv.device == x.device and not x_adv.requires_grad


# --- modes --------------------------------------------------------------------------------------------------
class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5))
        self.head = nn.Linear(8, 3)
        self.seen_training: list[bool] = []

    def forward(self, x):
        self.seen_training.append(self.training)
        return self.head(self.body(x))


def test_modes_are_set_to_eval_and_restored_per_submodule():
    net = _Net().train()
    net.head.eval()  # a mixed configuration must come back exactly
    before = [m.training for m in net.modules()]
    x = torch.rand(16, 4, generator=_gen(10))
    y = torch.randint(0, 3, (16,), generator=_gen(11))
    grads_before = [p.grad for p in net.parameters()]
    adversarial_examples(net, x, y, ThreatModel("linf", 0.1, 2, 0.05))
    assert net.seen_training and not any(net.seen_training)
    assert [m.training for m in net.modules()] == before
    assert [p.grad for p in net.parameters()] == grads_before  # autograd.grad never fills .grad
    # eval_mode=False leaves the modes alone during the attack
    net.seen_training.clear()
    adversarial_examples(net, x, y, ThreatModel("linf", 0.1, 2, 0.05), eval_mode=False)
    assert all(net.seen_training)


def test_modes_are_restored_when_the_objective_raises():
    net = _Net().train()

    def boom(xa):
        net(xa)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        pgd(boom, torch.rand(4, 4), ThreatModel("linf", 0.1, 1, 0.1), modules=net)
    assert all(m.training for m in net.modules())
    with managed_modes([net]):
        assert not net.training
    assert net.training


# --- gradient masking ---------------------------------------------------------------------------------------
def test_zero_gradient_is_reported_and_pgd_does_not_move():
    w = torch.tensor([1.0, -1.0])
    x = torch.rand(8, 2, generator=_gen(12))
    with pytest.warns(ZeroGradientWarning, match="gradient masking"):
        x_adv = pgd(lambda xa: torch.sign(xa @ w), x, ThreatModel("linf", 0.2, 3, 0.1)).x
    assert torch.equal(x_adv, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pgd(lambda xa: torch.sign(xa @ w), x, ThreatModel("linf", 0.2, 1, 0.1), warn_zero_grad=False)


# --- classification -----------------------------------------------------------------------------------------
def test_adversarial_accuracy_on_a_linear_model_matches_the_margin_rule():
    # logits (−s, s) with s = wᵀx + b: the ℓ∞ attack succeeds iff the margin y·s is at most ε‖w‖₁ (no box)
    g = _gen(13)
    lin = nn.Linear(5, 1, dtype=torch.float64)
    model = nn.Sequential(lin, _Antisym())
    x = torch.randn(500, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (500,), generator=g)
    eps = 0.1
    acc = adversarial_accuracy(model, x, y, ThreatModel("linf", eps, 4, 0.05, box=None), batch_size=128)
    with torch.no_grad():
        s = lin(x).reshape(-1)
    margin = torch.where(y == 1, s, -s)
    expected = float((margin > eps * lin.weight.abs().sum()).double().mean())
    assert acc == pytest.approx(expected, abs=1e-12)


class _Antisym(nn.Module):
    def forward(self, s):
        return torch.cat([-s, s], dim=1)


# --- bad inputs -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"eps": -0.1}, "eps must be"),
        ({"steps": 0}, "steps must be"),
        ({"steps": 2.5}, "steps must be"),
        ({"step_size": 0.0}, "step_size must be"),
        ({"step_size": 0.5}, "diameter"),
        ({"norm": "l1"}, "unknown norm"),
        ({"box": (1.0, 0.0)}, "low < high"),
        ({"restarts": -1}, "restarts must be"),
    ],
)
def test_bad_threat_models_raise_clear_errors(kwargs, message):
    args = {"norm": "linf", "eps": 0.1, "steps": 2, "step_size": 0.05}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        ThreatModel(**args)


def test_threat_model_validation_messages_are_pinned():
    with pytest.raises(ValueError, match=r"eps must be a finite number >= 0, got -0.1"):
        ThreatModel("linf", -0.1, 2, 0.05)
    with pytest.raises(ValueError, match=r"steps must be an integer >= 1, got 0"):
        ThreatModel("linf", 0.1, 0, 0.05)
    with pytest.raises(ValueError, match=r"step_size must be a finite number > 0, got 0.0"):
        ThreatModel("linf", 0.1, 2, 0.0)
    with pytest.raises(ValueError, match=r"step_size=0.5 exceeds the diameter 2\*eps=0.2 of the ball"):
        ThreatModel("linf", 0.1, 2, 0.5)
    with pytest.raises(ValueError, match=r"restarts must be an integer >= 0, got -1"):
        ThreatModel("linf", 0.1, 2, 0.05, restarts=-1)
    with pytest.raises(ValueError, match=r"box must satisfy low < high"):
        ThreatModel("linf", 0.1, 2, 0.05, box=(1.0, 0.0))
    with pytest.raises(ValueError, match=r"unknown norm 'l1'; valid choices: \('linf', 'l2'\)"):
        ThreatModel("l1", 0.1, 2, 0.05)
    with pytest.raises(TypeError, match="random_start must be a bool"):
        ThreatModel("linf", 0.1, 2, 0.05, random_start=1)
    with pytest.raises(TypeError, match="threat must be a rrlib.attacks.ThreatModel"):
        pgd(lambda xa: xa.sum(), torch.rand(4, 3), {"eps": 0.1})


def test_threat_model_is_canonical_frozen_and_derivable():
    threat = ThreatModel(math.inf, 1, 10, 0.02, box=[0, 1])
    assert (threat.norm, threat.eps, threat.box) == ("linf", 1.0, (0.0, 1.0))
    assert ThreatModel("2", 0.5, 3, 0.1).norm == "l2"
    with pytest.raises(dataclasses.FrozenInstanceError):
        threat.eps = 0.2
    assert threat.with_eps(0.5) == ThreatModel("linf", 0.5, 10, 0.02)
    assert dataclasses.replace(threat, restarts=2).restarts == 2
    assert isinstance(threat.ball(), LinfBall) and isinstance(ThreatModel("l2", 1, 1, 1).ball(), L2Ball)
    assert threat.ball().eps == 1.0 and threat.ball().box == (0.0, 1.0)


def test_inputs_outside_the_box_are_rejected():
    with pytest.raises(ValueError, match=r"outside the valid box \(0.0, 1.0\)"):
        pgd(lambda xa: xa.sum(), torch.full((2, 3), 1.5), ThreatModel("linf", 0.1, 1, 0.1))
    with pytest.raises(TypeError, match="floating-point"):
        pgd(lambda xa: xa.sum(), torch.ones(2, 3, dtype=torch.long), ThreatModel("linf", 0.1, 1, 0.1))


def test_bad_objective_shapes_and_nonfinite_values():
    x = torch.rand(4, 3)
    with pytest.raises(ValueError, match="shape"):
        pgd(lambda xa: xa.sum(dim=0), x, ThreatModel("linf", 0.1, 1, 0.1))
    with pytest.raises(NonFiniteObjectiveError, match="non-finite"):
        pgd(lambda xa: xa.sum() / 0.0 * 0.0, x, ThreatModel("linf", 0.1, 1, 0.1))


def test_nonfinite_model_outputs_and_bad_labels():
    class Broken(nn.Module):
        def forward(self, x):
            return torch.full((x.shape[0], 3), float("nan")) + 0 * x.sum()

    x = torch.rand(4, 3)
    with pytest.raises(NonFiniteObjectiveError, match="model returned non-finite"):
        adversarial_accuracy(Broken(), x, torch.zeros(4, dtype=torch.long), ThreatModel("linf", 0.1, 1, 0.1))
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        adversarial_examples(nn.Linear(3, 2), x, torch.zeros(3, dtype=torch.long), ThreatModel("linf", 0.1, 1, 0.1))
    with pytest.raises(ValueError, match="logits of shape"):
        adversarial_examples(nn.Linear(3, 1), x, torch.zeros(4, dtype=torch.long), ThreatModel("linf", 0.1, 1, 0.1))


def test_eps_zero_returns_the_input():
    x = torch.rand(4, 3, generator=_gen(14))
    result = pgd(lambda xa: (xa ** 2).sum(), x, ThreatModel("linf", 0.0, 2, 0.1))
    assert torch.equal(result.x, x) and float(result.value) == pytest.approx(float((x ** 2).sum()))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_runs_on_cuda(norm):
    dev = torch.device("cuda")
    w = torch.randn(6, device=dev)
    x = torch.rand(10, 6, device=dev)
    gen = torch.Generator(device=dev).manual_seed(0)
    x_adv = pgd(lambda xa: xa @ w, x, ThreatModel(norm, 0.1, 3, 0.05, random_start=True, restarts=1),
                generator=gen).x
    assert x_adv.device.type == "cuda"
    assert ball(norm, 0.1).contains(x_adv, x).all()


# --- runtime helper: train/eval modes ------------------------------------------------------------------------
def test_managed_modes_restores_every_submodule_flag_also_when_the_body_raises():
    net = _Net().train()
    net.body[1].eval()  # a mixed state: model.train(was) would lose it
    before = [m.training for m in net.modules()]
    with managed_modes(net):
        assert not any(m.training for m in net.modules())
    assert [m.training for m in net.modules()] == before
    with pytest.raises(KeyError), managed_modes(net):
        raise KeyError("boom")
    assert [m.training for m in net.modules()] == before
    net.eval()
    with managed_modes(net, train=True):
        assert all(m.training for m in net.modules())
    assert not any(m.training for m in net.modules())
    with pytest.raises(TypeError, match="nn.Module"):
        with managed_modes([net, "not a module"]):
            pass
