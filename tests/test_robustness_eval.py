"""AutoAttack wrapper (torchattacks, standard version): AutoAttack ≤ PGD ≤ natural accuracy on the same points,
no change at ε = 0, points inside the ball and the box, modes restored, clear errors (also without torchattacks).

A small MLP trained for a second on a synthetic 10-class problem of 1×4×4 "images"; 64 points.
"""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rrlib.attacks import ThreatModel
from rrlib.robustness_eval import INSTALL_HINT, autoattack_examples, robustness_report

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def problem():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, 4, 4, generator=gen)
    y = (x.flatten(1) @ torch.randn(16, 10, generator=gen)).argmax(1)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model.train(), x, y


def test_autoattack_is_at_least_as_strong_as_pgd(problem):
    pytest.importorskip("torchattacks")
    model, x, y = problem
    threat = ThreatModel("linf", 0.15, 10, 0.03)
    report = robustness_report(model, x, y, threat, seed=0)
    assert report.n == 64 and report.autoattack_version == "standard" and report.threat == threat
    assert report.as_dict()["threat"]["eps"] == 0.15
    assert 0.0 <= report.autoattack <= report.pgd <= report.natural <= 1.0
    assert report.natural > 0.5 and report.pgd < report.natural  # a real gap, so the ordering is not vacuous
    assert model.training and all(m.training for m in model.modules())  # modes restored
    x_adv = autoattack_examples(model, x, y, eps=0.15, seed=0)
    assert float((x_adv - x).abs().max()) <= 0.15 + 1e-6 and 0.0 <= float(x_adv.min()) <= float(x_adv.max()) <= 1
    with torch.no_grad():  # seeded: the same points again (robustness_report calls autoattack_accuracy)
        assert (model.eval()(x_adv).argmax(1) == y).float().mean().item() == report.autoattack
    model.train()


def test_eps_zero_changes_nothing(problem):
    pytest.importorskip("torchattacks")
    model, x, y = problem
    x, y = x[:8], y[:8]  # at ε = 0 nothing breaks, so all four attacks run on every point: keep it small
    assert torch.equal(autoattack_examples(model, x, y, eps=0.0, seed=0), x)
    report = robustness_report(model, x, y, ThreatModel("linf", 0.0, 10, 0.01))
    assert report.autoattack == report.pgd == report.natural


def test_bad_inputs_raise_clear_errors(problem):
    model, x, y = problem
    with pytest.raises(ValueError, match=r"unknown norm 'l1'.*linf"):
        autoattack_examples(model, x, y, eps=0.1, norm="l1")
    with pytest.raises(ValueError, match=r"pixels in \[0, 1\]"):
        autoattack_examples(model, x * 2, y, eps=0.1)
    with pytest.raises(ValueError, match="n_classes must be an integer >= 4"):
        autoattack_examples(model, x, y, eps=0.1, n_classes=3)
    with pytest.raises(ValueError, match="unknown AutoAttack version 'fast'"):
        autoattack_examples(model, x, y, eps=0.1, version="fast")
    with pytest.raises(ValueError, match="eps must be a finite number >= 0"):
        autoattack_examples(model, x, y, eps=-0.1)
    with pytest.raises(TypeError, match="threat must be a rrlib.attacks.ThreatModel"):
        robustness_report(model, x, y, 0.1)


def test_missing_torchattacks_says_how_to_install(problem, monkeypatch):
    model, x, y = problem
    monkeypatch.setitem(sys.modules, "torchattacks", None)  # `import torchattacks` now raises ImportError
    with pytest.raises(ImportError, match="pip install --no-deps torchattacks==3.5.1"):
        autoattack_examples(model, x, y, eps=0.1)
    assert INSTALL_HINT == "pip install --no-deps torchattacks==3.5.1"


def test_attack_ladder_scores_every_rung_on_the_same_points(problem):
    pytest.importorskip("torchattacks")
    from rrlib.robustness_eval import attack_ladder

    model, x, y = problem
    ladder = attack_ladder(model, x, y, ThreatModel("linf", 0.15, 10, 0.03), seed=0)
    assert list(ladder) == ["natural", "paper_pgd", "longer_pgd", "longer_pgd_restarts", "autoattack"]
    # robust means right on the clean and the attacked point, so no rung is above natural accuracy; steps of a
    # multiple of 1/64 since every rung counts the same 64 points
    assert all(0.0 <= v <= ladder["natural"] and (64 * v) == round(64 * v) for v in ladder.values())
    assert ladder["paper_pgd"] < ladder["natural"]  # the attack does something, so the bounds are not vacuous
    assert model.training  # modes restored
