"""Chapter 05's cost analysis: wall time and counted passes of one worst-case iteration (Algorithm 1 with ``S``
steps, then a critic step) against one plain MINE iteration, on the digits Baseline-H."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from rrlib.attacks import ThreatModel
from rrlib.data import load_dataset
from rrlib.experiments.worst_case_mi.common import attack_step, separable_factory
from rrlib.experiments.worst_case_mi.digits import DigitsConfig
from rrlib.mi.worst_case import critic_step, worst_case_batch
from rrlib.models.surrogates import CallCounter
from rrlib.runtime import seeded

__all__ = ["CostConfig", "CostRow", "cost_experiment"]


@dataclass(frozen=True)
class CostConfig:
    """Timing of one Algorithm-2 iteration on the digits model: plain vs worst-case for each ``S``."""

    steps_values: tuple[int, ...] = (1, 5, 10)
    repeats: int = 15



@dataclass
class CostRow:
    """Seconds per Algorithm-2 iteration (median over repeats) and counted passes of ``g``."""

    steps: int
    plain_seconds: float
    worst_seconds: float
    plain_forward: int
    worst_forward: int
    worst_input_backward: int

    @property
    def ratio(self) -> float:
        return self.worst_seconds / self.plain_seconds



def cost_experiment(cfg: CostConfig, digits: DigitsConfig, seed: int, device: torch.device) -> list[CostRow]:
    """Median seconds of one plain MINE iteration (:func:`critic_step`) and one worst-case iteration
    (Algorithm 1 with ``S`` steps, then :func:`critic_step`) on an untrained digits Baseline-H and critic."""
    from rrlib.models import build_model

    torch.manual_seed(seed)
    model = CallCounter(build_model("baseline_h", "digits", head="linear", width=digits.width)).to(device)
    model.eval()
    critic = seeded(separable_factory(64, 10, digits.critic_hidden, digits.critic_embed, flat=True), seed)
    critic = critic.to(device)
    optimizer = torch.optim.Adam(critic.parameters(), lr=digits.lr)
    x_all, _ = load_dataset("digits", "train").tensors()
    xb = x_all[: digits.batch_size].to(device)

    def timed(plain: Callable[[], object], worst: Callable[[], object]) -> tuple[float, float]:
        """Median seconds of each, calls interleaved so that machine load affects both alike; one warm-up each."""
        times: tuple[list[float], list[float]] = ([], [])
        for repeat in range(cfg.repeats + 1):
            for fn, bucket in ((plain, times[0]), (worst, times[1])):
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                t0 = time.perf_counter()
                fn()
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                if repeat:
                    bucket.append(time.perf_counter() - t0)
        return float(np.median(times[0])), float(np.median(times[1]))

    rows = []
    for steps in cfg.steps_values:
        eps = 0.1
        attack = ThreatModel("linf", eps, steps, attack_step(eps, steps, digits.step_factor))

        def plain() -> None:
            critic_step(critic, optimizer, model, xb)

        def worst(attack: ThreatModel = attack) -> None:
            x_adv, _ = worst_case_batch(critic, model, xb, attack)
            critic_step(critic, optimizer, model, x_adv)

        model.reset()
        plain()
        plain_forward = model.forward_calls
        model.reset()
        worst()
        worst_forward, worst_backward = model.forward_calls, model.input_grad_calls
        rows.append(CostRow(steps, *timed(plain, worst), plain_forward, worst_forward, worst_backward))
    return rows


