"""The one accuracy evaluator (:func:`rrlib.attacks.evaluate_accuracy`): one key scheme, fractions, and every other
accuracy in rrlib (training histories, heads, the AutoAttack report, chapter 06's masks) computed by it."""

from __future__ import annotations

import importlib

import pytest
import torch
from torch import nn

from rrlib.attacks import ACCURACY_KEYS, ThreatModel, adversarial_accuracy, evaluate_accuracy
from rrlib.data import ImageDataset
from rrlib.robustness_eval import _accuracy, _correct
from rrlib.train.downstream import evaluate_classifier
from rrlib.train.supervised import evaluate

THREAT = ThreatModel("linf", 0.1, 3, 0.05)


@pytest.fixture(scope="module")
def problem():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()
    x = torch.rand(50, 1, 4, 4)
    y = model(x).argmax(1).detach()
    y[:10] = (y[:10] + 1) % 3  # ten points misclassified clean
    return model, x, y


def _by_hand(model, x, y, threat):
    with torch.no_grad():
        clean = model(x).argmax(1) == y
    x_adv = torch.cat([torch.stack([_pgd_point(model, x[i:i + 1], y[i:i + 1], threat)]) for i in range(len(y))])
    with torch.no_grad():
        attacked = model(x_adv.squeeze(1)).argmax(1) == y
    return clean, attacked


def _pgd_point(model, x, y, threat):
    from rrlib.attacks import adversarial_examples

    return adversarial_examples(model, x, y, threat)[0]


def test_fractions_under_one_key_scheme(problem):
    model, x, y = problem
    scored = evaluate_accuracy(model, (x, y), THREAT, batch_size=7, losses=True)
    clean, attacked = _by_hand(model, x, y, THREAT)
    assert scored.n == 50 and torch.equal(scored.natural_correct, clean) and torch.equal(scored.adversarial_correct,
                                                                                         attacked)
    assert tuple(scored.fractions()) == ACCURACY_KEYS
    assert scored.fractions() == {"natural_accuracy": int(clean.sum()) / 50,
                                  "adversarial_accuracy": int(attacked.sum()) / 50}
    assert 0 <= scored.fractions()["adversarial_accuracy"] <= scored.fractions()["natural_accuracy"] <= 0.8
    assert scored.natural_loss > 0 and scored.adversarial_loss >= scored.natural_loss
    natural_only = evaluate_accuracy(model, (x, y))
    assert natural_only.adversarial_correct is None and set(natural_only.fractions()) == {"natural_accuracy"}
    assert evaluate_accuracy(model, (x[:0], y[:0])).fractions() == {"natural_accuracy": 0.0}


def test_every_other_accuracy_is_the_one_evaluators(problem):
    model, x, y = problem
    fr = evaluate_accuracy(model, (x, y), THREAT).fractions()
    assert adversarial_accuracy(model, x, y, THREAT, batch_size=9) == fr["adversarial_accuracy"]
    assert _accuracy(model, x, y) == fr["natural_accuracy"]
    assert torch.equal(_correct(model, x, y), evaluate_accuracy(model, (x, y)).natural_correct)
    head = evaluate_classifier(model, x, y, THREAT, batch_size=11)
    assert head == {"nat_acc": fr["natural_accuracy"], "adv_acc": fr["adversarial_accuracy"]}
    data = ImageDataset((x * 255).round().to(torch.uint8), y, scale=255.0, name="toy")
    q = data.tensors()[0]
    fq = evaluate_accuracy(model, (q, y), THREAT).fractions()
    sup = evaluate(model, data, threat=THREAT, device="cpu", batch_size=13)
    assert (sup["nat_acc"], sup["adv_acc"]) == (fq["natural_accuracy"], fq["adversarial_accuracy"])
    measure = importlib.import_module("rrlib.experiments.vulnerability.measure")
    assert torch.equal(measure._robust_mask(model, x, y, THREAT, chunk=8),
                       evaluate_accuracy(model, (x, y), THREAT).adversarial_correct)


def test_modes_are_restored_and_train_mode_draws_no_clean_pass(problem):
    model, x, y = problem
    net = nn.Sequential(model, nn.Dropout(0.5)).train()
    evaluate_accuracy(net, (x, y), THREAT)
    assert net.training and net[1].training
    torch.manual_seed(1)
    a = evaluate_accuracy(net, (x, y), THREAT, natural=False, eval_mode=False, generator=torch.Generator())
    torch.manual_seed(1)
    b = adversarial_accuracy(net, x, y, THREAT, eval_mode=False, generator=torch.Generator())
    assert a.natural_correct is None and a.fractions()["adversarial_accuracy"] == b
