"""Normal MI, worst-case MI and representation vulnerability of one representation, seed by seed, with statistics.

The engine behind ``python -m rrlib.cli estimate-mi`` (the paper's ``--task estimate-mi``): for every seed a critic
initialisation ``make_critic(seed)`` and Algorithm 2 (:func:`rrlib.mi.worst_case.estimate_mutual_information`)
for the normal MI (``"normal"``), the worst-case MI (``"worst"``) or both from the same initialisation
(``"both"``, :func:`rrlib.mi.worst_case.representation_vulnerability`, as the official code's two separate runs).
Each run is summarised by :class:`MIRun` (estimate, its standard error over test batches, the training curve and,
for a worst-case run, the same critic's value on the *clean* test batches); :class:`MIRuns` adds the mean and
spread over seeds of the normal MI, the worst-case MI and ``RV = normal − worst`` (Eq. 4.1). All values in nats.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from rrlib import stats
from rrlib.attacks import ThreatModel
from rrlib.mi.bounds import dv
from rrlib.mi.worst_case import EstimatorConfig, MIEstimate, estimate_mutual_information, representation_vulnerability
from rrlib.runtime import managed_modes

ESTIMATOR_LOSSES = ("normal", "worst", "both")
#: Points of the (block-averaged) training curve ``V1(t)`` kept per run.
CURVE_POINTS = 100

__all__ = ["CURVE_POINTS", "ESTIMATOR_LOSSES", "MIRun", "MIRuns", "clean_values", "estimate_runs",
           "summarize", "training_curve"]


def clean_values(estimate: MIEstimate, representation: nn.Module, batch_size: int) -> list[float]:
    """The selected critic's DV estimate ``J(x)`` on each *clean* test batch of ``estimate`` (nats).

    For a worst-case run, Algorithm 1 with ``keep_best`` scores the clean batch as its first iterate, so each test
    value ``V1(k)`` is at most this (the attack's reduction against one fixed critic)."""
    critic = estimate.critic
    out = []
    with managed_modes((representation, critic)), torch.no_grad():
        for xb in estimate.x_test.split(batch_size):
            out.append(float(dv(critic(xb, representation(xb)))))
    return out


def training_curve(values: np.ndarray, points: int = CURVE_POINTS) -> dict[str, Any]:
    """Block means of a training curve, at most ``points`` of them (the last block may be shorter)."""
    per = max(1, -(-values.size // points))
    n = values.size // per * per
    blocks = values[:n].reshape(-1, per).mean(axis=1).tolist()
    if n < values.size:
        blocks.append(float(values[n:].mean()))
    return {"iterations_per_point": per, "values": blocks}


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """``{"mean", "std" (sample sd, ddof=1; 0 for one value), "per_seed"}`` of per-seed values (:mod:`rrlib.stats`)."""
    mean, sd = stats.mean_sd(values, of_one=0.0)
    return {"mean": mean, "std": sd, "per_seed": stats.as_array(values).tolist()}


@dataclass
class MIRun:
    """One Algorithm-2 run: ``kind`` (``"normal"`` / ``"worst"``), its seed, the estimate and its wall time."""

    kind: str
    seed: int
    estimate: MIEstimate
    seconds: float | None
    clean_test_values: list[float] | None = None

    @property
    def clean_estimate(self) -> float | None:
        """Mean of :attr:`clean_test_values` (worst-case runs only)."""
        return None if self.clean_test_values is None else float(np.mean(self.clean_test_values))

    def record(self) -> dict[str, Any]:
        """A JSON-ready record: estimate, standard error, test values, selected iteration, training curve."""
        est = self.estimate
        rec = {"kind": self.kind, "seed": self.seed, "estimate": est.estimate, "standard_error": est.standard_error,
               "test_values": est.test_values.tolist(), "best_iteration": est.best_iteration,
               "train_curve": training_curve(est.train_values), "seconds": self.seconds}
        if self.clean_test_values is not None:
            rec["clean_test_values"] = self.clean_test_values
            rec["clean_estimate"] = self.clean_estimate
        return rec


@dataclass
class MIRuns:
    """Every run, in order, and their summary over seeds."""

    runs: list[MIRun] = field(default_factory=list)

    def values(self, kind: str) -> list[float]:
        return [r.estimate.estimate for r in self.runs if r.kind == kind]

    def summary(self) -> dict[str, dict[str, Any] | None]:
        """``{"normal", "worst", "rv"}``: :func:`summarize` of each (``None`` where a kind was not run)."""
        normal, worst = self.values("normal"), self.values("worst")
        return {"normal": summarize(normal) if normal else None, "worst": summarize(worst) if worst else None,
                "rv": summarize([n - w for n, w in zip(normal, worst, strict=True)]) if normal and worst else None}


def estimate_runs(
    representation: nn.Module,
    make_critic: Callable[[int], nn.Module],
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    *,
    loss: str,
    threat: ThreatModel | None,
    config: EstimatorConfig,
    seeds: Sequence[int],
    on_start: Callable[[int, str], None] | None = None,
    on_run: Callable[[MIRun], None] | None = None,
    on_seed_done: Callable[[int, float], None] | None = None,
) -> MIRuns:
    """Run ``loss`` (:data:`ESTIMATOR_LOSSES`) for every seed; ``make_critic(seed)`` builds the critic's
    initialisation (build it under :func:`rrlib.runtime.seeded` so that a single ``normal`` or ``worst`` run
    reproduces the corresponding half of a ``both`` run exactly). The callbacks report progress."""
    if loss not in ESTIMATOR_LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid choices: {ESTIMATOR_LOSSES}")
    if loss != "normal" and threat is None:
        raise ValueError(f"loss {loss!r} needs a threat model")
    out = MIRuns()
    for seed in seeds:
        t0 = time.perf_counter()
        if on_start is not None:
            on_start(seed, loss)
        if loss == "both":
            assert threat is not None
            vul = representation_vulnerability(representation, lambda s=seed: make_critic(s), x_train, x_test,
                                               threat=threat, config=config, seeds=[seed])
            pair = vul.runs[0]
            results = [("normal", pair[0], None), ("worst", pair[1], None)]
        else:
            estimate = estimate_mutual_information(
                representation, make_critic(seed), x_train, x_test, threat=threat if loss == "worst" else None,
                config=config, generator=torch.Generator().manual_seed(seed))
            results = [(loss, estimate, time.perf_counter() - t0)]
        for kind, estimate, seconds in results:
            clean = clean_values(estimate, representation, config.batch_size) if kind == "worst" else None
            run = MIRun(kind, seed, estimate, seconds, clean)
            out.runs.append(run)
            if on_run is not None:
                on_run(run)
        if on_seed_done is not None:
            on_seed_done(seed, time.perf_counter() - t0)
    return out
