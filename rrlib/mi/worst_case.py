"""Worst-case mutual information and representation vulnerability (paper §4; supplement App. B, Algs 1–2).

The representation vulnerability of ``g`` (Definition 3.1, Eq. 4.1) is

.. math::
    RV_ε(g) = \\underbrace{I(X; g(X))}_{J_1} - \\underbrace{\\inf_{μ_{X'} ∈ B_{W_∞}(μ_X, ε)} I(X'; g(X'))}_{J_2}
    \\quad [\\text{nats}].

Both terms are estimated with the Donsker–Varadhan (MINE) bound on a critic ``T_θ``:
``J(x'_{1..B}, θ) = dv(T_θ(x'_i, g(x'_j)))`` (:func:`rrlib.mi.bounds.dv`; the critic returns the score matrix).

* **Algorithm 1** (:func:`worst_case_batch`) perturbs a batch inside ``B_p(x_i, ε) ∩ box`` to *minimise* ``J`` for a
  fixed critic. It is :func:`rrlib.attacks.pgd` on the batch-scalar objective ``J`` with ``maximize=False``
  (best iterate kept for the whole batch, as the official code's ``use_best``); it returns ``x'`` and
  ``V1 = J(x', θ)``.
* **Algorithm 2** (:func:`estimate_mutual_information`) alternates Algorithm 1 with one Adam ascent step on ``θ``
  (``V2 = ∇_θ J``) for ``T`` iterations, keeps the critic ``θ_opt`` with the largest training value ``V1(t)``, then
  reports the mean of ``V1`` over ``K`` held-out test batches, each attacked afresh against ``θ_opt``.
  Without an attack (``threat=None``) the same procedure is plain MINE/DIM estimation of ``J_1``. The alternating
  loop itself lives in :func:`rrlib.mi.algorithm2.alternate` (shared with the per-neuron estimator).
* :func:`representation_vulnerability` runs both for several seeds (a fresh critic per seed, the same initial
  critic for the normal and the worst-case run, as two separate runs of the official code) and returns normal MI,
  worst-case MI and ``RV = normal − worst`` with their spread.

The adversary is a :class:`rrlib.attacks.ThreatModel` (ball, steps, step size, random start); how it is used inside
Algorithm 2 is part of :class:`EstimatorConfig` (``gradient``, ``attack_keep_best``).

**Which gradient the adversary follows** (``EstimatorConfig.gradient``):

* ``"representation"`` (**default**, the paper's official code): the critic's input branch sees ``x'`` detached,
  so ``∇_{x'} J`` flows only through ``z' = g(x')``. The critic still *evaluates* ``x'``.
* ``"full"``: the gradient of ``J`` through both arguments, as Algorithm 1 is written on paper.

What the number is and is not: ``Î_worst`` is the MI estimate of a *particular* perturbed distribution that a
gradient search found against a *particular* critic. It is an estimate of ``J_2`` only if (a) the search finds the
worst distribution (otherwise ``Î_worst`` is too high: *search error*) and (b) the critic estimates the MI of the
perturbed data well (a DV estimate with a finite critic and batch is biased low, and the adversary can exploit
the critic's blind spots, which lowers it further: *estimation error*). The two errors have opposite signs and
can cancel; chapter 05 separates them on the Gaussian mixture, where everything is exact.

Cost per training iteration: ``S`` forward+backward passes of ``g`` and ``T_θ`` with respect to the input, one
forward pass to score the last PGD iterate (``keep_best``), and the forward+backward of the plain MINE step:
about ``(S + 1)×`` a plain step (supplement App. B: "additional B·S steps of forward and backward propagation").
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from rrlib import stats
from rrlib.attacks import ThreatModel, pgd
from rrlib.mi.algorithm2 import ScalarBest, alternate
from rrlib.mi.bounds import dv
from rrlib.runtime import managed_modes, seeded
from rrlib.validation import check_bool, check_int, check_optional_int, check_positive_float

#: An MI estimate from a score matrix, ``scores -> 0-dim tensor`` in nats (e.g. :func:`rrlib.mi.bounds.dv`).
MIEstimator = Callable[[torch.Tensor], torch.Tensor]
#: Which gradient Algorithm 1's adversary follows (:class:`EstimatorConfig`'s ``gradient``).
GRADIENT_PATHS = ("representation", "full")
#: Which critic Algorithm 2 reports, the best held-out iterate or the last (:class:`EstimatorConfig`'s ``select``).
SELECTIONS = ("best", "last")

__all__ = [
    "GRADIENT_PATHS",
    "SELECTIONS",
    "EstimatorConfig",
    "MIEstimator",
    "MIEstimate",
    "VulnerabilityEstimate",
    "critic_step",
    "estimate_mutual_information",
    "mi_objective",
    "representation_vulnerability",
    "worst_case_batch",
]


# ----------------------------------------------------------------------------------------------------- configs
@dataclass(frozen=True)
class EstimatorConfig:
    """Algorithm 2's hyper-parameters.

    Attributes:
        iterations: training iterations ``T`` (one critic step each).
        batch_size: ``B`` (the paper and code: 128). Negatives are all ``B(B−1)`` off-diagonal pairs of the batch
            (the paper's pairing scheme with ``N = B − 1``).
        lr: Adam learning rate η_e of the critic (the paper: 1e-4 for 300 epochs of CIFAR-10).
        test_batches: ``K``; ``None`` uses every full batch of the test set.
        select: ``"best"`` (Algorithm 2: ``θ_opt = argmax_t V1(t)``) or ``"last"`` (the final critic).
        gradient: which gradient the adversary follows: ``"representation"`` (default: the official code; the
            critic's input branch sees ``x'`` detached) or ``"full"`` (Algorithm 1 as printed). A critic that
            detaches its own input (:class:`rrlib.mi.critics.EncodeAndDotCritic` with ``detach_x=True``) gives the
            first behaviour either way.
        attack_keep_best: the adversary keeps the batch iterate with the lowest estimate (the official
            ``use_best``); ``False`` keeps its last iterate.
    """

    iterations: int = 500
    batch_size: int = 128
    lr: float = 1e-3
    test_batches: int | None = None
    select: str = "best"
    gradient: str = "representation"
    attack_keep_best: bool = True

    def __post_init__(self) -> None:
        check_int("iterations", self.iterations, 1)
        check_int("batch_size", self.batch_size, 2)
        check_optional_int("test_batches", self.test_batches, 1)
        check_positive_float("lr", self.lr)
        if self.select not in SELECTIONS:
            raise ValueError(f"unknown select={self.select!r}; valid choices: {SELECTIONS}")
        if self.gradient not in GRADIENT_PATHS:
            raise ValueError(f"unknown gradient={self.gradient!r}; valid choices: {GRADIENT_PATHS}")
        check_bool("attack_keep_best", self.attack_keep_best)


# ----------------------------------------------------------------------------------------------------- results
@dataclass
class MIEstimate:
    """The output of Algorithm 2 for one seed.

    Attributes:
        estimate: ``Î`` = mean of the test values, nats.
        test_values: ``V1(k)`` for the ``K`` test batches, shape ``(K,)``.
        train_values: ``V1(t)`` for the ``T`` training iterations, shape ``(T,)``.
        best_iteration: index ``t`` of ``θ_opt``.
        critic: the selected critic ``θ_opt`` (a copy; the caller's critic is never trained).
        x_test: the test inputs used, in batch order, shape ``(K·B, ...)``.
        x_perturbed: the perturbed test inputs ``x'`` (``x_test`` when there is no attack), same shape.
    """

    estimate: float
    test_values: np.ndarray
    train_values: np.ndarray
    best_iteration: int
    critic: nn.Module
    x_test: torch.Tensor
    x_perturbed: torch.Tensor

    @property
    def standard_error(self) -> float | None:
        """Standard error of ``estimate`` over the ``K`` test batches (``std(ddof=1) / √K``); ``None`` for ``K = 1``."""
        return stats.standard_error(self.test_values) if self.test_values.size > 1 else None


@dataclass
class VulnerabilityEstimate:
    """Normal MI, worst-case MI and ``RV = normal − worst`` over seeds (nats).

    ``normal``, ``worst`` and ``rv`` have one entry per seed; ``*_mean`` and ``*_std`` (sample standard
    deviation, ``ddof=1``; 0 for one seed) summarise them. ``runs`` keeps the :class:`MIEstimate` pairs.
    """

    seeds: list[int]
    normal: np.ndarray
    worst: np.ndarray
    runs: list[tuple[MIEstimate, MIEstimate]] = field(repr=False)

    @property
    def rv(self) -> np.ndarray:
        return self.normal - self.worst

    @property
    def normal_mean(self) -> float:
        return stats.mean(self.normal)

    @property
    def normal_std(self) -> float:
        return stats.sample_sd(self.normal, of_one=0.0)

    @property
    def worst_mean(self) -> float:
        return stats.mean(self.worst)

    @property
    def worst_std(self) -> float:
        return stats.sample_sd(self.worst, of_one=0.0)

    @property
    def rv_mean(self) -> float:
        return stats.mean(self.rv)

    @property
    def rv_std(self) -> float:
        return stats.sample_sd(self.rv, of_one=0.0)


# ----------------------------------------------------------------------------------------------------- checks
def _check_modules(representation: nn.Module, critic: nn.Module) -> None:
    for name, module in (("representation", representation), ("critic", critic)):
        if not isinstance(module, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(module).__name__}")


def _check_device(representation: nn.Module, x: torch.Tensor) -> None:
    for p in representation.parameters():
        if p.device != x.device:
            raise ValueError(
                f"the representation's parameters are on {p.device} but the inputs are on {x.device}; move the "
                "representation (or the data) so that both share one device"
            )
        return


def _check_data(name: str, x: torch.Tensor, batch_size: int) -> None:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point torch.Tensor, got {getattr(x, 'dtype', type(x))}")
    if x.shape[0] < batch_size:
        raise ValueError(f"{name} holds {x.shape[0]} samples, fewer than one batch of batch_size={batch_size}")


# ----------------------------------------------------------------------------------------------------- Alg. 1
def mi_objective(critic: nn.Module, representation: nn.Module, *, bound: MIEstimator = dv,
                 gradient: str = "representation") -> Callable[[torch.Tensor], torch.Tensor]:
    """``x' ↦ J(x') = bound(critic(x', g(x')))``, the MI estimate of a batch (0-dim tensor, nats).

    ``gradient="representation"`` feeds the critic ``x'.detach()`` (the official code), ``"full"`` feeds ``x'``.
    """
    if gradient not in GRADIENT_PATHS:
        raise ValueError(f"unknown gradient={gradient!r}; valid choices: {GRADIENT_PATHS}")
    detach = gradient == "representation"

    def objective(x_adv: torch.Tensor) -> torch.Tensor:
        z = representation(x_adv)
        return bound(critic(x_adv.detach() if detach else x_adv, z))

    return objective


def worst_case_batch(critic: nn.Module, representation: nn.Module, x: torch.Tensor, threat: ThreatModel, *,
                     bound: MIEstimator = dv, generator: torch.Generator | None = None,
                     gradient: str = "representation", keep_best: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Algorithm 1: perturb the batch ``x`` inside the ε-balls of ``threat`` to minimise the critic's MI estimate.

    Runs :func:`rrlib.attacks.pgd` with ``maximize=False`` on the batch-scalar objective :func:`mi_objective`
    (``gradient`` as there), with both modules in eval mode (restored afterwards). Returns ``(x', V1)`` with
    ``V1 = J(x')`` (0-dim, nats); with ``keep_best`` (default) ``V1 ≤ J(x)``.
    """
    _check_modules(representation, critic)
    if not isinstance(threat, ThreatModel):
        raise TypeError(f"threat must be a rrlib.attacks.ThreatModel, got {type(threat).__name__}")
    objective = mi_objective(critic, representation, bound=bound, gradient=gradient)
    if threat.eps == 0:
        with managed_modes((representation, critic)), torch.no_grad():
            return x.detach().clone(), objective(x).detach()
    x_adv, value = pgd(objective, x, threat, maximize=False, generator=generator, keep_best=keep_best,
                       modules=(representation, critic), warn_zero_grad=True)
    return x_adv, value


def critic_step(critic: nn.Module, optimizer: torch.optim.Optimizer, representation: nn.Module,
                x: torch.Tensor, *, bound: MIEstimator = dv,
                before_step: Callable[[float], None] | None = None) -> float:
    """One ascent step of the critic on ``J(x)`` (``V2 = ∇_θ J``); returns ``J(x)`` before the step (``V1``).

    The representation is evaluated without gradient in its current mode; the critic is put in train mode for
    the step and its mode restored. ``before_step(V1)`` is called before the parameters change (Algorithm 2 uses
    it to remember ``θ_t``). This is the whole iteration of plain (normal-case) MINE/DIM estimation.
    """
    with torch.no_grad():
        z = representation(x)
    with managed_modes(critic, train=True):
        value = bound(critic(x, z))
        v1 = float(value.detach())
        if before_step is not None:
            before_step(v1)
        optimizer.zero_grad(set_to_none=True)
        (-value).backward()
        optimizer.step()
    return v1


# ----------------------------------------------------------------------------------------------------- Alg. 2
def estimate_mutual_information(
    representation: nn.Module,
    critic: nn.Module,
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    *,
    threat: ThreatModel | None,
    config: EstimatorConfig = EstimatorConfig(),
    generator: torch.Generator,
    bound: MIEstimator = dv,
) -> MIEstimate:
    """Algorithm 2: worst-case MI of ``representation`` (``threat`` given) or normal MI (``threat=None``).

    Args:
        representation: ``g``, any ``nn.Module`` mapping a batch ``(B, ...)`` to codes ``(B, ...)`` accepted by
            the critic; kept in eval mode and never updated (its mode is restored at the end). It must live on the
            device of the data.
        critic: ``T_θ`` with ``forward(x, z) -> scores`` (``(B, B)`` or ``(L, B, B)``); a deep copy is trained (on
            the data's device), so the caller's critic is the common initialisation ``θ_1``.
        x_train, x_test: ``S_train`` and ``S_test``, shape ``(n, ...)``; batches of ``config.batch_size`` are drawn
            with ``generator`` (a CPU ``torch.Generator``; the attack's random start, if any, also uses it when
            the data are on the CPU).
        threat: Algorithm 1's adversary, or ``None`` for the normal MI ``J_1``. ``config.gradient`` and
            ``config.attack_keep_best`` say how it attacks.
        bound: ``scores -> 0-dim MI estimate``; default :func:`rrlib.mi.bounds.dv` (the paper's DV/MINE).

    Returns:
        :class:`MIEstimate`. All values in nats.
    """
    _check_modules(representation, critic)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if threat is not None and not isinstance(threat, ThreatModel):
        raise TypeError(f"threat must be a rrlib.attacks.ThreatModel or None, got {type(threat).__name__}")
    b = config.batch_size
    _check_data("x_train", x_train, b)
    _check_data("x_test", x_test, b)
    if x_test.device != x_train.device:
        raise ValueError(f"x_train is on {x_train.device} but x_test on {x_test.device}")
    _check_device(representation, x_train)
    device = x_train.device
    attack_generator = generator if device.type == "cpu" else None
    trained = copy.deepcopy(critic).to(device)
    optimizer = torch.optim.Adam(trained.parameters(), lr=config.lr)

    def attack(xb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assert threat is not None
        return worst_case_batch(trained, representation, xb, threat, bound=bound, generator=attack_generator,
                                gradient=config.gradient, keep_best=config.attack_keep_best)

    def train_step(t: int, xb: torch.Tensor, before_update: Callable[[float], None] | None) -> float:
        if threat is not None:
            xb, _ = attack(xb)
        value = critic_step(trained, optimizer, representation, xb, bound=bound, before_step=before_update)
        if not math.isfinite(value):
            raise ValueError(f"the MI estimate diverged at iteration {t} (value {value}); lower lr")
        return value

    def test_step(xb: torch.Tensor) -> tuple[float, torch.Tensor, torch.Tensor]:
        trained.eval()
        if threat is not None:
            xb_adv, value = attack(xb)
        else:
            with torch.no_grad():
                xb_adv, value = xb, bound(trained(xb, representation(xb)))
        return float(value), xb, xb_adv

    with managed_modes(representation):
        run = alternate(
            n_train=x_train.shape[0], n_test=x_test.shape[0], iterations=config.iterations, batch_size=b,
            test_batches=config.test_batches, select=config.select, generator=generator,
            draw_train=lambda idx: x_train[idx.to(device)], draw_test=lambda idx: x_test[idx.to(device)],
            train_step=train_step, test_step=test_step, selector=ScalarBest(trained),
            desc="worst-case MI critic" if threat is not None else "MI critic",
        )
    values = np.asarray([value for value, _, _ in run.tests])
    return MIEstimate(estimate=float(values.mean()), test_values=values, train_values=run.train_values,
                      best_iteration=int(run.best_iteration), critic=trained,
                      x_test=torch.cat([xb for _, xb, _ in run.tests]),
                      x_perturbed=torch.cat([xa for _, _, xa in run.tests]))


def _make_critic(make_critic: Callable[[], nn.Module], seed: int) -> nn.Module:
    critic = seeded(make_critic, seed)
    if not isinstance(critic, nn.Module):
        raise TypeError(f"make_critic must return a torch.nn.Module, got {type(critic).__name__}")
    return critic


def representation_vulnerability(
    representation: nn.Module,
    make_critic: Callable[[], nn.Module],
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    *,
    threat: ThreatModel,
    config: EstimatorConfig = EstimatorConfig(),
    seeds: Sequence[int] = (0, 1, 2),
    bound: MIEstimator = dv,
) -> VulnerabilityEstimate:
    """Normal MI, worst-case MI and ``RV_ε = normal − worst`` (Eq. 4.1) for each seed.

    For every seed a critic is built by ``make_critic()`` under ``torch.manual_seed(seed)`` (the global RNG is
    restored afterwards), and two separate Algorithm-2 runs start from it: one without attack (``J_1``) and one
    with ``threat`` (``J_2``), each with a ``torch.Generator`` seeded by ``seed`` for batches.
    """
    seeds = list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative integers, got {seeds!r}")
    runs = []
    for seed in seeds:
        critic = _make_critic(make_critic, seed)
        normal = estimate_mutual_information(representation, critic, x_train, x_test, threat=None, config=config,
                                             generator=torch.Generator().manual_seed(seed), bound=bound)
        worst = estimate_mutual_information(representation, critic, x_train, x_test, threat=threat, config=config,
                                            generator=torch.Generator().manual_seed(seed), bound=bound)
        runs.append((normal, worst))
    return VulnerabilityEstimate(seeds=seeds, normal=np.array([r[0].estimate for r in runs]),
                                 worst=np.array([r[1].estimate for r in runs]), runs=runs)
