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
  Without an attack (``attack=None``) the same procedure is plain MINE/DIM estimation of ``J_1``.
* :func:`representation_vulnerability` runs both for several seeds (a fresh critic per seed, the same initial
  critic for the normal and the worst-case run, as two separate runs of the official code) and returns normal MI,
  worst-case MI and ``RV = normal − worst`` with their spread.

**Which gradient the adversary follows** (``AttackConfig.gradient``):

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

from rrlib.attacks import canonical_norm, managed_modes, pgd
from rrlib.mi.bounds import dv
from rrlib.runtime import progress, seeded

Bound = Callable[[torch.Tensor], torch.Tensor]
GRADIENT_PATHS = ("representation", "full")
SELECTIONS = ("best", "last")

__all__ = [
    "GRADIENT_PATHS",
    "SELECTIONS",
    "AttackConfig",
    "EstimatorConfig",
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
class AttackConfig:
    """Algorithm 1's adversary: ε in ``norm``, ``steps`` S of size ``step_size`` η_a, the input box.

    ``gradient`` is ``"representation"`` (default: the official code; the critic's input branch is detached) or
    ``"full"`` (Algorithm 1 as printed). A critic that detaches its own input
    (:class:`rrlib.mi.critics.EncodeAndDotCritic` with ``detach_x=True``) gives the first behaviour either way.
    ``keep_best`` keeps the batch iterate with the lowest estimate (the official ``use_best``); ``random_start`` is
    off in the paper.
    """

    eps: float
    steps: int
    step_size: float
    norm: str = "linf"
    box: tuple[float, float] | None = (0.0, 1.0)
    gradient: str = "representation"
    keep_best: bool = True
    random_start: bool = False

    def __post_init__(self) -> None:
        if self.gradient not in GRADIENT_PATHS:
            raise ValueError(f"unknown gradient={self.gradient!r}; valid choices: {GRADIENT_PATHS}")
        object.__setattr__(self, "norm", canonical_norm(self.norm))
        if isinstance(self.eps, bool) or not isinstance(self.eps, (int, float)) or not math.isfinite(self.eps) \
                or self.eps < 0:
            raise ValueError(f"eps must be a finite number >= 0, got {self.eps!r}")


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
    """

    iterations: int = 500
    batch_size: int = 128
    lr: float = 1e-3
    test_batches: int | None = None
    select: str = "best"

    def __post_init__(self) -> None:
        for name in ("iterations", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (2 if name == "batch_size" else 1):
                raise ValueError(f"{name} must be an integer >= {2 if name == 'batch_size' else 1}, got {value!r}")
        if self.test_batches is not None and (isinstance(self.test_batches, bool)
                                              or not isinstance(self.test_batches, int) or self.test_batches < 1):
            raise ValueError(f"test_batches must be None or an integer >= 1, got {self.test_batches!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        if self.select not in SELECTIONS:
            raise ValueError(f"unknown select={self.select!r}; valid choices: {SELECTIONS}")


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

    @staticmethod
    def _std(values: np.ndarray) -> float:
        return float(values.std(ddof=1)) if values.size > 1 else 0.0

    @property
    def normal_mean(self) -> float:
        return float(self.normal.mean())

    @property
    def normal_std(self) -> float:
        return self._std(self.normal)

    @property
    def worst_mean(self) -> float:
        return float(self.worst.mean())

    @property
    def worst_std(self) -> float:
        return self._std(self.worst)

    @property
    def rv_mean(self) -> float:
        return float(self.rv.mean())

    @property
    def rv_std(self) -> float:
        return self._std(self.rv)


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
def mi_objective(critic: nn.Module, representation: nn.Module, *, bound: Bound = dv,
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


def worst_case_batch(critic: nn.Module, representation: nn.Module, x: torch.Tensor, attack: AttackConfig, *,
                     bound: Bound = dv, generator: torch.Generator | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Algorithm 1: perturb the batch ``x`` inside the ε-balls to minimise the critic's MI estimate.

    Runs :func:`rrlib.attacks.pgd` with ``maximize=False`` on the batch-scalar objective :func:`mi_objective`,
    with both modules in eval mode (restored afterwards). Returns ``(x', V1)`` with ``V1 = J(x')`` (0-dim, nats);
    with ``keep_best`` (default) ``V1 ≤ J(x)``.
    """
    _check_modules(representation, critic)
    objective = mi_objective(critic, representation, bound=bound, gradient=attack.gradient)
    if attack.eps == 0:
        with managed_modes((representation, critic)), torch.no_grad():
            return x.detach().clone(), objective(x).detach()
    x_adv, value = pgd(objective, x, eps=attack.eps, steps=attack.steps, step_size=attack.step_size,
                       norm=attack.norm, box=attack.box, maximize=False, random_start=attack.random_start,
                       generator=generator, keep_best=attack.keep_best, modules=(representation, critic),
                       return_values=True, warn_zero_grad=True)
    return x_adv, value


def critic_step(critic: nn.Module, optimizer: torch.optim.Optimizer, representation: nn.Module,
                x: torch.Tensor, *, bound: Bound = dv, before_step: Callable[[float], None] | None = None) -> float:
    """One ascent step of the critic on ``J(x)`` (``V2 = ∇_θ J``); returns ``J(x)`` before the step (``V1``).

    The representation is evaluated without gradient in its current mode; the critic is put in train mode for
    the step and its mode restored. ``before_step(V1)`` is called before the parameters change (Algorithm 2 uses
    it to remember ``θ_t``). This is the whole iteration of plain (normal-case) MINE/DIM estimation.
    """
    with torch.no_grad():
        z = representation(x)
    training = [(m, m.training) for m in critic.modules()]
    critic.train()
    try:
        value = bound(critic(x, z))
        v1 = float(value.detach())
        if before_step is not None:
            before_step(v1)
        optimizer.zero_grad(set_to_none=True)
        (-value).backward()
        optimizer.step()
    finally:
        for m, flag in training:
            m.training = flag
    return v1


# ----------------------------------------------------------------------------------------------------- Alg. 2
def _batches(n: int, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    """A random permutation of ``range(n)`` cut into ``n // batch_size`` full batches: ``(K, B)`` indices."""
    perm = torch.randperm(n, generator=generator)
    k = n // batch_size
    return perm[: k * batch_size].reshape(k, batch_size)


def estimate_mutual_information(
    representation: nn.Module,
    critic: nn.Module,
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    *,
    attack: AttackConfig | None,
    config: EstimatorConfig = EstimatorConfig(),
    generator: torch.Generator,
    bound: Bound = dv,
) -> MIEstimate:
    """Algorithm 2: worst-case MI of ``representation`` (``attack`` given) or normal MI (``attack=None``).

    Args:
        representation: ``g``, any ``nn.Module`` mapping a batch ``(B, ...)`` to codes ``(B, ...)`` accepted by
            the critic; kept in eval mode and never updated (its mode is restored at the end). It must live on the
            device of the data.
        critic: ``T_θ`` with ``forward(x, z) -> scores`` (``(B, B)`` or ``(L, B, B)``); a deep copy is trained (on
            the data's device), so the caller's critic is the common initialisation ``θ_1``.
        x_train, x_test: ``S_train`` and ``S_test``, shape ``(n, ...)``; batches of ``config.batch_size`` are drawn
            with ``generator`` (a CPU ``torch.Generator``; the attack's random start, if any, also uses it when
            the data are on the CPU).
        attack: Algorithm 1's settings, or ``None`` for the normal MI ``J_1``.
        bound: ``scores -> 0-dim MI estimate``; default :func:`rrlib.mi.bounds.dv` (the paper's DV/MINE).

    Returns:
        :class:`MIEstimate`. All values in nats.
    """
    _check_modules(representation, critic)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
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
    train_values = np.empty(config.iterations)
    best: dict = {"state": None, "value": -math.inf, "iteration": -1}

    def remember(value: float) -> None:  # θ_opt = argmax_t V1(t): keep θ_t before its update
        if value > best["value"]:
            best.update(state={k: v.detach().clone() for k, v in trained.state_dict().items()}, value=value,
                        iteration=t)
    order = torch.empty(0, config.batch_size, dtype=torch.int64)
    with managed_modes(representation):
        # ---- training phase
        label = "worst-case MI critic" if attack is not None else "MI critic"
        for t in progress(range(config.iterations), desc=label, total=config.iterations, leave=False):
            if t % max(order.shape[0], 1) == 0:
                order = _batches(x_train.shape[0], b, generator)
            xb = x_train[order[t % order.shape[0]].to(device)]
            if attack is not None:
                xb, _ = worst_case_batch(trained, representation, xb, attack, bound=bound,
                                         generator=attack_generator)
            train_values[t] = critic_step(trained, optimizer, representation, xb, bound=bound,
                                          before_step=remember if config.select == "best" else None)
            if not math.isfinite(train_values[t]):
                raise ValueError(f"the MI estimate diverged at iteration {t} (value {train_values[t]}); lower lr")
        if config.select == "best":
            assert best["state"] is not None
            trained.load_state_dict(best["state"])
            best_iteration = int(best["iteration"])
        else:
            best_iteration = config.iterations - 1
        # ---- testing phase
        test_order = _batches(x_test.shape[0], b, generator)
        if config.test_batches is not None:
            if config.test_batches > test_order.shape[0]:
                raise ValueError(f"test_batches={config.test_batches} but x_test holds only {test_order.shape[0]} "
                                 f"full batches of {b}")
            test_order = test_order[: config.test_batches]
        test_values, x_used, x_pert = [], [], []
        trained.eval()
        for idx in test_order:
            xb = x_test[idx.to(device)]
            if attack is not None:
                xb_adv, value = worst_case_batch(trained, representation, xb, attack, bound=bound,
                                                 generator=attack_generator)
            else:
                with torch.no_grad():
                    xb_adv, value = xb, bound(trained(xb, representation(xb)))
            test_values.append(float(value))
            x_used.append(xb)
            x_pert.append(xb_adv)
    values = np.asarray(test_values)
    return MIEstimate(estimate=float(values.mean()), test_values=values, train_values=train_values,
                      best_iteration=best_iteration, critic=trained, x_test=torch.cat(x_used),
                      x_perturbed=torch.cat(x_pert))


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
    attack: AttackConfig,
    config: EstimatorConfig = EstimatorConfig(),
    seeds: Sequence[int] = (0, 1, 2),
    bound: Bound = dv,
) -> VulnerabilityEstimate:
    """Normal MI, worst-case MI and ``RV_ε = normal − worst`` (Eq. 4.1) for each seed.

    For every seed a critic is built by ``make_critic()`` under ``torch.manual_seed(seed)`` (the global RNG is
    restored afterwards), and two separate Algorithm-2 runs start from it: one without attack (``J_1``) and one
    with ``attack`` (``J_2``), each with a ``torch.Generator`` seeded by ``seed`` for batches.
    """
    seeds = list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative integers, got {seeds!r}")
    runs = []
    for seed in seeds:
        critic = _make_critic(make_critic, seed)
        normal = estimate_mutual_information(representation, critic, x_train, x_test, attack=None, config=config,
                                             generator=torch.Generator().manual_seed(seed), bound=bound)
        worst = estimate_mutual_information(representation, critic, x_train, x_test, attack=attack, config=config,
                                            generator=torch.Generator().manual_seed(seed), bound=bound)
        runs.append((normal, worst))
    return VulnerabilityEstimate(seeds=seeds, normal=np.array([r[0].estimate for r in runs]),
                                 worst=np.array([r[1].estimate for r in runs]), runs=runs)
