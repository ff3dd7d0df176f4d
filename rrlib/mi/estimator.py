"""Training an MI estimator: fit a critic on samples with any bound, and the "staircase" benchmark protocol.

* :func:`fit_critic` – train any critic with any bound (:func:`rrlib.mi.bounds.make_bound`) on a sampler
  ``(n, generator) -> (x, z)``, then report a held-out estimate on fresh batches;
* :func:`run_staircase` – the protocol of Poole et al. (2019) and Song & Ermon (2020): correlated Gaussians in
  ``d = 20``, batch 64, true MI 2 → 4 → 6 → 8 → 10 nats, one critic trained continuously with Adam (lr 5e-4) and
  the MI raised every ``steps_per_level`` steps (4,000 in the published protocol), separable or concat critics
  (hidden 256, embedding 32). It returns per-step estimates and per-level bias / variance / MSE.

All values are nats. Randomness: data from an explicit ``torch.Generator`` seeded with ``seed``; the critic's
initial weights from ``torch.manual_seed(seed)`` inside ``torch.random.fork_rng`` (global RNG state untouched).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from rrlib.mi.bounds import BOUND_NAMES, MINE, Bound, make_bound
from rrlib.mi.critics import ConcatCritic, SeparableCritic
from rrlib.runtime import managed_modes, progress, select_device, torch_generator
from rrlib.stats import standard_error
from rrlib.synthetic import CorrelatedGaussian
from rrlib.validation import check_int

__all__ = [
    "CRITIC_NAMES",
    "FitResult",
    "LevelStats",
    "StaircaseConfig",
    "StaircaseResult",
    "build_critic",
    "fit_critic",
    "level_stats",
    "limit_threads",
    "run_staircase",
    "run_staircases",
    "train_steps",
]

#: The critics :func:`build_critic` builds, by name.
CRITIC_NAMES = ("separable", "concat")
Sampler = Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


@contextlib.contextmanager
def limit_threads(num_threads: int | None) -> Iterator[None]:
    """Temporarily set torch's CPU intra-op threads (``None``: leave them as they are); restored on exit.

    The benchmark critics are tiny (batch 64, width 256): splitting their matrix products over threads costs
    more than it gains, and on a shared machine several multi-threaded processes oversubscribe the cores. We
    measured 2.2 ms per separable-critic step with one thread against 75 ms with two threads while another job
    was running on the same 2 cores.
    """
    if num_threads is None:
        yield
        return
    check_int("num_threads", num_threads, 1, what="a positive integer", allow_none=True)
    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def build_critic(
    name: str, x_dim: int, z_dim: int, *, hidden: int = 256, embed: int = 32, layers: int = 1, seed: int = 0
) -> nn.Module:
    """A vector critic by name (:data:`CRITIC_NAMES`), initialised reproducibly from ``seed`` (on the CPU)."""
    if name not in CRITIC_NAMES:
        raise ValueError(f"unknown critic {name!r}; valid choices: {CRITIC_NAMES}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if name == "separable":
            return SeparableCritic(x_dim, z_dim, hidden=hidden, embed=embed, layers=layers)
        return ConcatCritic(x_dim, z_dim, hidden=hidden, layers=layers)


def _as_bound(bound: str | Bound | MINE, bound_kwargs: dict | None) -> Bound | MINE:
    if isinstance(bound, str):
        return make_bound(bound, **(bound_kwargs or {}))
    if isinstance(bound, (Bound, MINE)):
        if bound_kwargs:
            raise ValueError("bound_kwargs only apply when the bound is given by name")
        return bound
    raise TypeError(f"bound must be a name in {BOUND_NAMES} or a Bound/MINE object, got {bound!r}")


def _device_of(module: nn.Module) -> torch.device:
    for p in module.parameters():
        return p.device
    return torch.device("cpu")


def _bar(total: int, desc: str, show: bool):
    """A progress iterator advanced once per step (``rrlib.runtime.progress``; silent when ``show`` is False)."""
    return progress(range(total), desc=desc, disable=True) if not show else progress(range(total), desc=desc)


def train_steps(
    critic: nn.Module,
    bound: Bound | MINE,
    optimizer: torch.optim.Optimizer,
    sampler: Sampler,
    generator: torch.Generator,
    steps: int,
    batch: int,
    bar,
) -> tuple[np.ndarray, bool]:
    """``steps`` Adam steps; returns the per-step reported values and whether training diverged.

    Divergence (non-finite scores or a non-finite value, e.g. ``exp`` overflow of NWJ at high MI) stops the run:
    the remaining values are NaN. It is recorded, never hidden.
    """
    values = np.full(steps, np.nan)
    critic.train()
    for t in range(steps):
        x, z = sampler(batch, generator)
        scores = critic(x, z)
        if not bool(torch.isfinite(scores).all()):
            return values, True
        result = bound(scores)
        if not bool(torch.isfinite(result.objective)) or not bool(torch.isfinite(result.value)):
            return values, True
        optimizer.zero_grad(set_to_none=True)
        result.loss.backward()
        optimizer.step()
        values[t] = float(result.value.detach())
        next(bar, None)
    return values, False


@torch.no_grad()
def _held_out(
    critic: nn.Module, bound: Bound | MINE, sampler: Sampler, generator: torch.Generator, batches: int, batch: int
) -> np.ndarray:
    out = []
    with managed_modes(critic):
        for _ in range(batches):
            x, z = sampler(batch, generator)
            scores = critic(x, z)
            out.append(float(bound.value(scores)) if bool(torch.isfinite(scores).all()) else math.nan)
    return np.asarray(out)


@dataclass
class FitResult:
    """Outcome of :func:`fit_critic`.

    Attributes:
        history: reported value (nats) at every training step, shape ``(steps,)``; NaN after a divergence.
        heldout_values: the estimate on each of the fresh held-out batches.
        heldout: their mean (the estimate to report), nats; ``heldout_se`` its standard error.
        diverged: whether training stopped on a non-finite score or value.
        wall_s: training + evaluation wall time.
    """

    critic: nn.Module
    history: np.ndarray
    heldout_values: np.ndarray
    diverged: bool
    wall_s: float

    @property
    def heldout(self) -> float:
        return float(np.mean(self.heldout_values))

    @property
    def heldout_se(self) -> float:
        v = self.heldout_values
        return standard_error(v) if len(v) > 1 else math.nan


def fit_critic(
    critic: nn.Module,
    bound: str | Bound | MINE,
    sampler: Sampler,
    *,
    steps: int,
    batch: int = 64,
    lr: float = 5e-4,
    seed: int = 0,
    eval_batches: int = 16,
    bound_kwargs: dict | None = None,
    show_progress: bool = True,
    desc: str | None = None,
) -> FitResult:
    """Train ``critic`` by maximising ``bound``'s objective with Adam, then estimate MI on held-out batches.

    Args:
        critic: any module ``(x, z) -> scores`` (``(n, n)`` or ``(L, n, n)``); trained in place; its device is
            where the samples are drawn.
        bound: a name in :data:`rrlib.mi.bounds.BOUND_NAMES` or a bound object.
        sampler: ``(n, generator) -> (x, z)``, e.g. ``CorrelatedGaussian.from_mi(2, 20).sample``.
        steps, batch, lr: optimisation; one fresh batch per step.
        seed: seeds the data generator (training batches, then ``eval_batches`` held-out batches).
    """
    check_int("steps", steps)
    check_int("batch", batch)
    check_int("eval_batches", eval_batches)
    if batch < 2:
        raise ValueError(f"batch must be >= 2 (the off-diagonal pairs are the negatives), got {batch}")
    bound_obj = _as_bound(bound, bound_kwargs)
    device = _device_of(critic)
    generator = torch_generator(seed, device)
    optimizer = torch.optim.Adam(critic.parameters(), lr=lr)
    start = time.perf_counter()
    bar = _bar(steps, desc or f"fit {getattr(bound_obj, 'name', 'bound')}", show_progress)
    history, diverged = train_steps(critic, bound_obj, optimizer, sampler, generator, steps, batch, bar)
    heldout = _held_out(critic, bound_obj, sampler, generator, eval_batches, batch) if not diverged else \
        np.full(eval_batches, np.nan)
    return FitResult(critic, history, heldout, diverged, time.perf_counter() - start)


# ---------------------------------------------------------------------------------------------------- staircase
@dataclass(frozen=True)
class StaircaseConfig:
    """The staircase protocol (Poole et al. 2019 Fig. 2; Song & Ermon 2020 Fig. 1). Defaults = published.

    ``tail_fraction``: bias / variance / MSE of a level are computed over its last ``tail_fraction`` of steps
    (the critic needs time to follow each jump in MI). ``eval_batches``: fresh held-out batches at the end of
    each level.
    """

    levels: tuple[float, ...] = (2.0, 4.0, 6.0, 8.0, 10.0)
    steps_per_level: int = 4000
    dim: int = 20
    batch: int = 64
    lr: float = 5e-4
    hidden: int = 256
    embed: int = 32
    layers: int = 1
    cubic: bool = False
    tail_fraction: float = 0.5
    eval_batches: int = 16

    def __post_init__(self) -> None:
        if not self.levels or any(not (isinstance(v, (int, float)) and v >= 0) for v in self.levels):
            raise ValueError(f"levels must be a non-empty tuple of non-negative MI values (nats), got {self.levels!r}")
        check_int("steps_per_level", self.steps_per_level)
        if self.batch < 2:
            raise ValueError(f"batch must be >= 2, got {self.batch!r}")
        if not 0.0 < self.tail_fraction <= 1.0:
            raise ValueError(f"tail_fraction must be in (0, 1], got {self.tail_fraction!r}")

    @property
    def total_steps(self) -> int:
        return self.steps_per_level * len(self.levels)


@dataclass(frozen=True)
class LevelStats:
    """Per-level summary (nats): ``bias = mean − I``, ``variance`` across steps, ``mse = bias² + variance``."""

    true_mi: float
    mean: float
    bias: float
    variance: float
    mse: float
    heldout: float


def level_stats(estimates: np.ndarray, true_mi: float, heldout: float = math.nan) -> LevelStats:
    """Bias, variance (ddof 0) and MSE of a run of ``estimates`` against ``true_mi`` (NaNs ignored)."""
    est = np.asarray(estimates, dtype=float)
    est = est[np.isfinite(est)]
    if est.size == 0:
        return LevelStats(true_mi, math.nan, math.nan, math.nan, math.nan, heldout)
    mean, var = float(est.mean()), float(est.var())
    return LevelStats(true_mi, mean, mean - true_mi, var, float(np.mean((est - true_mi) ** 2)), heldout)


@dataclass
class StaircaseResult:
    """One estimator × critic on the staircase. ``estimates[t]`` and ``true_mi[t]`` per training step."""

    bound: str
    critic: str
    config: StaircaseConfig
    estimates: np.ndarray
    true_mi: np.ndarray
    heldout: np.ndarray
    diverged_at: int | None
    wall_s: float
    stats: list[LevelStats] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.bound}/{self.critic}"

    def to_dict(self) -> dict:
        """JSON-able summary (no per-step arrays; NaN, e.g. after a divergence, becomes ``None``)."""

        def clean(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        return {
            "bound": self.bound,
            "critic": self.critic,
            "steps": self.config.total_steps,
            "batch": self.config.batch,
            "wall_s": self.wall_s,
            "diverged_at": self.diverged_at,
            "levels": [{k: clean(v) for k, v in vars(s).items()} for s in self.stats],
        }


def run_staircase(
    config: StaircaseConfig,
    bound: str,
    critic: str,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    bound_kwargs: dict | None = None,
    show_progress: bool = True,
) -> StaircaseResult:
    """Train one critic through the staircase of true MI levels and summarise each level.

    The critic and the Adam state carry over from level to level (as in the published protocol); only the
    data distribution changes. With the same ``seed`` every bound sees the same batches and the same
    initial critic.
    """
    if not isinstance(config, StaircaseConfig):
        raise TypeError(f"config must be a StaircaseConfig, got {type(config).__name__}")
    dev = select_device(device)
    bound_obj = make_bound(bound, **(bound_kwargs or {}))
    net = build_critic(critic, config.dim, config.dim, hidden=config.hidden, embed=config.embed,
                       layers=config.layers, seed=seed).to(dev)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    generator = torch_generator(seed, dev)
    k = config.steps_per_level
    estimates = np.full(config.total_steps, np.nan)
    true_mi = np.repeat(np.asarray(config.levels, dtype=float), k)
    heldout = np.full(len(config.levels), np.nan)
    diverged_at: int | None = None
    bar = _bar(config.total_steps, f"staircase {bound}/{critic}", show_progress)
    start = time.perf_counter()
    for i, level in enumerate(config.levels):
        dist = CorrelatedGaussian.from_mi(float(level), config.dim, cubic=config.cubic)
        values, diverged = train_steps(net, bound_obj, optimizer, dist.sample, generator, k, config.batch, bar)
        estimates[i * k:(i + 1) * k] = values
        if diverged:
            diverged_at = i * k + int(np.argmax(np.isnan(values)))
            break
        heldout[i] = float(np.mean(_held_out(net, bound_obj, dist.sample, generator, config.eval_batches,
                                             config.batch)))
    wall = time.perf_counter() - start
    tail = max(1, int(round(config.tail_fraction * k)))
    stats = [level_stats(estimates[(i + 1) * k - tail:(i + 1) * k], float(level), float(heldout[i]))
             for i, level in enumerate(config.levels)]
    return StaircaseResult(bound, critic, config, estimates, true_mi, heldout, diverged_at, wall, stats)


def run_staircases(
    config: StaircaseConfig,
    bounds: Sequence[str],
    critics: Sequence[str],
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    bound_kwargs: dict[str, dict] | None = None,
    show_progress: bool = True,
) -> list[StaircaseResult]:
    """:func:`run_staircase` for every ``critic × bound`` (``bound_kwargs`` keyed by bound name)."""
    kwargs = bound_kwargs or {}
    return [run_staircase(config, b, c, seed=seed, device=device, bound_kwargs=kwargs.get(b),
                          show_progress=show_progress) for c in critics for b in bounds]
