"""Downstream heads on a frozen encoder (paper §6): robust training at ε = 0 is standard training exactly, g never
changes, PGD attacks h∘g, E.S. picks the epoch of best validation adversarial accuracy, exact resumption, trials,
and one clear error for every bad encoder folder.

Data: a tiny Fashion-MNIST folder in the true gzipped-IDX format; a width-0.125 encoder trained for one epoch.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, replace

import pytest
import torch

import rrlib.attacks
from rrlib.attacks import ThreatModel
from rrlib.data import dataset_threat_model
from rrlib.train.checkpoint import CheckpointError
from rrlib.train.downstream import (
    CHECKPOINT_FILE,
    TIMING_KEYS,
    ClassifierConfig,
    FrozenEncoderClassifier,
    evaluate_classifier,
    load_classifier,
    mean_std,
    run_trials,
    train_classifier,
)
from rrlib.train.encoder import EncoderConfig, load_encoder, train_encoder

ENCODER = EncoderConfig(dataset="fashion-mnist", width=0.125, critic_hidden=16, epochs=1, batch_size=16, lr=1e-3,
                        estimator_loss="normal", steps=2, step_size=0.05, heldout_batches=1)
HEAD = ClassifierConfig(dataset="fashion-mnist", head="mlp", classifier_loss="robust", epochs=3, batch_size=16,
                        lr=3e-3, val_size=16, steps=2, step_size=0.05, seed=1)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def encoder_dir(tiny_fmnist_root, tmp_path_factory):
    folder = tmp_path_factory.mktemp("enc") / "g"
    train_encoder(ENCODER, folder, device="cpu", data_root=tiny_fmnist_root, show_progress=False)
    return folder


def _train(config, encoder_dir, out_dir, root, **kwargs):
    return train_classifier(config, encoder_dir, out_dir, device="cpu", data_root=root, show_progress=False,
                            **kwargs)


def _numbers(history):
    return [{k: v for k, v in rec.items() if k not in TIMING_KEYS} for rec in history]


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def reference(encoder_dir, tiny_fmnist_root, tmp_path_factory):
    return _train(HEAD, encoder_dir, tmp_path_factory.mktemp("cls") / "h", tiny_fmnist_root)


def test_config_validates_names():
    with pytest.raises(ValueError, match=r"unknown head 'resnet'.*\('mlp', 'linear'\)"):
        ClassifierConfig(head="resnet")
    with pytest.raises(ValueError, match=r"unknown classifier_loss 'adversarial'.*\('standard', 'robust'\)"):
        ClassifierConfig(classifier_loss="adversarial")
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        ClassifierConfig(dataset="imagenet")
    assert ClassifierConfig(dataset="fmnist").threat() == dataset_threat_model("fmnist")
    assert ClassifierConfig(dataset="fmnist").attack() == {
        "name": "pgd", "norm": "linf", "eps": 0.1, "steps": 10, "step_size": 0.02, "random_start": False,
        "restarts": 0, "box": [0.0, 1.0]}
    assert replace(HEAD, eps=0.0).threat() == ThreatModel("linf", 0.0, 2, 0.05)


def test_result_reports_final_and_best_test_accuracies_and_the_attack(reference):
    assert reference.finished and [r["epoch"] for r in reference.history] == [1, 2, 3]
    for rec in reference.history:
        for key in ("val_nat_acc", "val_adv_acc", "test_nat_acc", "test_adv_acc", "train_acc"):
            assert 0.0 <= rec[key] <= 1.0
    assert reference.final == {"epoch": 3, "nat_acc": reference.history[-1]["test_nat_acc"],
                               "adv_acc": reference.history[-1]["test_adv_acc"]}
    val_adv = [r["val_adv_acc"] for r in reference.history]
    best = reference.history[val_adv.index(max(val_adv))]  # first epoch of the best validation adversarial acc
    assert reference.best == {"epoch": best["epoch"], "nat_acc": best["test_nat_acc"], "adv_acc": best["test_adv_acc"]}
    assert reference.attack["eps"] == 0.1 and reference.attack["steps"] == 2
    metrics = json.loads((reference.out_dir / "metrics.json").read_text())
    assert metrics["attack"] == reference.attack == {"name": "pgd", **asdict(HEAD.threat()), "box": [0.0, 1.0]}
    assert metrics["best"] == {"epoch": best["epoch"], "natural_accuracy": best["test_nat_acc"],
                               "adversarial_accuracy": best["test_adv_acc"]}
    assert metrics["final"]["natural_accuracy"] == reference.final["nat_acc"]


def test_best_head_is_the_head_of_the_best_epoch(reference, encoder_dir, tiny_fmnist_root):
    best = load_classifier(reference.out_dir, best=True)
    from rrlib.data import load_dataset

    x, y = load_dataset("fmnist", "test", root=tiny_fmnist_root).tensors()
    got = evaluate_classifier(best.model, x, y, HEAD.threat())
    assert got == {"nat_acc": reference.best["nat_acc"], "adv_acc": reference.best["adv_acc"]}
    final = load_classifier(reference.out_dir)
    assert evaluate_classifier(final.model, x, y, HEAD.threat()) == {k: reference.final[k]
                                                                    for k in ("nat_acc", "adv_acc")}


def test_robust_with_eps_zero_is_exactly_standard(encoder_dir, tiny_fmnist_root, tmp_path):
    standard = _train(replace(HEAD, classifier_loss="standard", eps=0.0, epochs=2), encoder_dir,
                      tmp_path / "s", tiny_fmnist_root)
    robust = _train(replace(HEAD, classifier_loss="robust", eps=0.0, epochs=2), encoder_dir,
                    tmp_path / "r", tiny_fmnist_root)
    assert _same(standard.model.head.state_dict(), robust.model.head.state_dict())
    assert _numbers(standard.history) == _numbers(robust.history)


def test_encoder_stays_frozen_and_pgd_attacks_h_of_g(reference, encoder_dir, tiny_fmnist_root, tmp_path, monkeypatch):
    before = {k: v.clone() for k, v in load_encoder(encoder_dir).encoder.state_dict().items()}
    calls = []
    original = rrlib.attacks.adversarial_examples

    def spy(model, x, y, threat, **kwargs):
        calls.append((type(model).__name__, model.encoder.training, threat))
        out = original(model, x, y, threat, **kwargs)
        assert not torch.equal(out, x)  # the gradient reaches the input through the frozen g
        return out

    monkeypatch.setattr(rrlib.attacks, "adversarial_examples", spy)
    res = _train(replace(HEAD, epochs=1, val_size=0), encoder_dir, tmp_path / "h", tiny_fmnist_root)
    assert calls and all(c == ("FrozenEncoderClassifier", False, ThreatModel("linf", 0.1, 2, 0.05)) for c in calls)
    assert len(calls) == 64 // 16 + 1  # one per training batch, one for the test set (no validation split)
    assert _same(before, res.model.encoder.state_dict())
    assert all(not p.requires_grad for p in res.model.encoder.parameters())
    assert res.best is None  # no validation split, no E.S.
    assert isinstance(res.model, FrozenEncoderClassifier) and not res.model.encoder.training


def test_one_epoch_then_resume_equals_straight(reference, encoder_dir, tiny_fmnist_root, tmp_path):
    folder = tmp_path / "h"
    part = _train(HEAD, encoder_dir, folder, tiny_fmnist_root, stop_after_epochs=1)
    assert not part.finished and len(part.history) == 1
    done = _train(HEAD, encoder_dir, folder, tiny_fmnist_root)
    assert _same(done.model.head.state_dict(), reference.model.head.state_dict())
    assert _same(done.best_head_state, reference.best_head_state)
    assert _numbers(done.history) == _numbers(reference.history)


def test_bad_encoder_folders_and_no_overwrite(reference, encoder_dir, tiny_fmnist_root, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"no encoder checkpoint at .*empty.*train-encoder"):
        _train(HEAD, tmp_path / "empty", tmp_path / "h1", tiny_fmnist_root)
    unfinished = tmp_path / "unfinished"
    train_encoder(replace(ENCODER, epochs=2), unfinished, device="cpu", data_root=tiny_fmnist_root, show_progress=False,
                  stop_after_epochs=1)
    with pytest.raises(CheckpointError, match="has not finished training"):
        _train(HEAD, unfinished, tmp_path / "h2", tiny_fmnist_root)
    saved = torch.load(encoder_dir / "checkpoint.pt", weights_only=True)
    saved["config"]["dataset"] = "mnist"
    (tmp_path / "mnist").mkdir()
    torch.save(saved, tmp_path / "mnist" / "checkpoint.pt")
    with pytest.raises(ValueError, match=r"trained on 'mnist', but the classifier asks for 'fashion-mnist'"):
        _train(HEAD, tmp_path / "mnist", tmp_path / "h3", tiny_fmnist_root)
    assert not any((tmp_path / f"h{i}").exists() for i in (1, 2, 3))
    path = reference.out_dir / CHECKPOINT_FILE
    before = path.read_bytes()
    with pytest.raises(ValueError, match="another configuration"):
        _train(replace(HEAD, lr=1e-4), encoder_dir, reference.out_dir, tiny_fmnist_root)
    with pytest.raises(FileExistsError, match="resume=False"):
        _train(HEAD, encoder_dir, reference.out_dir, tiny_fmnist_root, resume=False)
    assert path.read_bytes() == before


def test_trials_and_mean_std(encoder_dir, tiny_fmnist_root, tmp_path):
    assert mean_std([0.25]) == (0.25, 0.0)
    m, s = mean_std([0.1, 0.2, 0.6])
    assert m == pytest.approx(0.3) and s == pytest.approx(math.sqrt(((0.2) ** 2 + 0.1 ** 2 + 0.3 ** 2) / 2))
    trials = run_trials(replace(HEAD, classifier_loss="standard", epochs=1), encoder_dir, tmp_path, seeds=(0, 1),
                        device="cpu", data_root=tiny_fmnist_root, show_progress=False)
    summary = trials.summary()
    assert set(summary) == {"final_nat_acc", "final_adv_acc", "best_nat_acc", "best_adv_acc"}
    assert summary["final_nat_acc"] == mean_std([r.final["nat_acc"] for r in trials.results])
    assert (tmp_path / "seed-0" / CHECKPOINT_FILE).is_file() and (tmp_path / "seed-1" / CHECKPOINT_FILE).is_file()
    with pytest.raises(ValueError, match="distinct"):
        run_trials(HEAD, encoder_dir, tmp_path, seeds=(0, 0))
