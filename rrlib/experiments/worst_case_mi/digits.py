"""Chapter 05 on 8×8 digits: normal MI, worst-case MI and RV of a standard and a PGD-trained Baseline-H (its logit
layer is the representation, as in the paper's Figs 1–2), with natural and PGD accuracy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rrlib.attacks import ThreatModel, adversarial_accuracy, evaluate_accuracy
from rrlib.data import load_dataset
from rrlib.experiments.worst_case_mi.common import attack_step, separable_factory
from rrlib.mi.worst_case import EstimatorConfig, estimate_mutual_information
from rrlib.runtime import seeded

__all__ = ["DigitsConfig", "DigitsRow", "digits_experiment"]


@dataclass(frozen=True)
class DigitsConfig:
    """The digits experiment: Baseline-H (``width``) trained by :func:`rrlib.train.train_model`, logits as ``z``."""

    width: float = 0.25
    epochs: int = 20
    train_lr: float = 1e-3
    train_batch_size: int = 64
    train_eps: float = 0.2
    train_steps: int = 5
    eps_values: tuple[float, ...] = (0.1, 0.2)
    attack_steps: int = 5
    step_factor: float = 2.5
    iterations: int = 120
    batch_size: int = 64
    lr: float = 1e-3
    critic_hidden: int = 128
    critic_embed: int = 32
    n_seeds: int = 2



@dataclass
class DigitsRow:
    """Digits: one model (``"standard"`` or ``"robust"``) at one ε. MI per seed in nats, accuracies in [0, 1]."""

    model: str
    eps: float
    normal: np.ndarray
    worst: np.ndarray
    nat_acc: float
    adv_acc: float

    @property
    def rv(self) -> np.ndarray:
        return self.normal - self.worst



def _train_digits(cfg: DigitsConfig, adversarial: bool, seed: int, device: torch.device) -> nn.Module:
    from rrlib.train import TrainConfig, train_model

    eval_steps = cfg.train_steps
    train_cfg = TrainConfig(
        dataset="digits", model="baseline_h", head="linear", width=cfg.width, epochs=cfg.epochs,
        batch_size=cfg.train_batch_size, lr=cfg.train_lr, adversarial=adversarial,
        eps=cfg.train_eps if adversarial else None, steps=cfg.train_steps,
        step_size=attack_step(cfg.train_eps, eval_steps, cfg.step_factor),
        eval_adversarial=False, eval_every=cfg.epochs, seed=seed, amp=False,
    )
    result = train_model(train_cfg, device=device, show_progress=False)
    return result.model.eval()


def digits_experiment(cfg: DigitsConfig, seed: int, device: torch.device,
                      log: Callable[[str], None] | None = None) -> list[DigitsRow]:
    """Normal MI, worst-case MI and accuracies of a standard and a PGD-trained Baseline-H on 8×8 digits."""
    x_train, _ = load_dataset("digits", "train").tensors()
    x_test, y_test = load_dataset("digits", "test").tensors()
    x_train, x_test, y_test = x_train.to(device), x_test.to(device), y_test.to(device)
    make = separable_factory(64, 10, cfg.critic_hidden, cfg.critic_embed, flat=True)
    est_cfg = EstimatorConfig(iterations=cfg.iterations, batch_size=cfg.batch_size, lr=cfg.lr)
    seeds = [seed + i for i in range(cfg.n_seeds)]
    rows = []
    for name, adversarial in (("standard", False), ("robust", True)):
        model = _train_digits(cfg, adversarial, seed, device)
        normal = np.array([
            estimate_mutual_information(model, seeded(make, s), x_train, x_test, threat=None, config=est_cfg,
                                        generator=torch.Generator().manual_seed(s)).estimate for s in seeds])
        nat_acc = float(evaluate_accuracy(model, (x_test, y_test)).natural_correct.double().mean())
        rows.append(DigitsRow(name, 0.0, normal, normal.copy(), nat_acc, nat_acc))
        for eps in cfg.eps_values:
            step = attack_step(eps, cfg.attack_steps, cfg.step_factor)
            threat = ThreatModel("linf", float(eps), cfg.attack_steps, step, box=(0.0, 1.0))
            worst = np.array([
                estimate_mutual_information(model, seeded(make, s), x_train, x_test, threat=threat, config=est_cfg,
                                            generator=torch.Generator().manual_seed(s)).estimate for s in seeds])
            adv_acc = adversarial_accuracy(model, x_test, y_test, threat)
            rows.append(DigitsRow(name, float(eps), normal, worst, nat_acc, adv_acc))
            if log is not None:
                log(f"digits {name} eps={eps}: normal {normal.mean():.3f} worst {worst.mean():.3f} "
                    f"adv acc {adv_acc:.3f}")
    return rows


