"""Your own model: the paper's measurements on any encoder or classifier, and worst-case-MI training on your images.

Two calls cover what the book measures (MI in nats):

* :func:`measure` — given any ``torch.nn.Module`` that maps images ``(n, C, H, W)`` in [0, 1] to codes ``(n, d)``
  (an encoder, or a classifier whose logits are its representation, as in the paper's Figure 2), estimate its
  normal MI ``I(X; g(X))``, its worst-case MI ``min_{X'} I(X'; g(X'))`` within an ℓ∞ ball of radius ``eps`` and the
  representation vulnerability ``RV = normal − worst`` (Eq. 4.1), each as a mean over critic seeds with a Student-t
  interval (:class:`Vulnerability`). The estimator is the book's
  (:func:`rrlib.mi.worst_case.representation_vulnerability`: Algorithm 2, a fresh critic trained on the frozen
  model for every seed, once on clean and once on attacked batches, best held-out iterate). The critic is the
  paper's encode-and-dot critic on the images (``critic="paper"``: :class:`rrlib.train.encoder.PixelCritic`,
  :class:`rrlib.mi.critics.EncodeAndDotCritic` behind the images' own per-channel standardisation), or a global
  separable critic on the flattened image (``critic="global"``), which chapter 12 shows comes much closer to the MI
  of images whose information is spread over the picture.
* :func:`train_worst_case` — train an encoder on your own images by the paper's objective (Eq. 5.4: ascend DV on
  Algorithm 1's worst-case batch) or by DIM (``eps=0``), with the paper's critic, in a plain loop (no
  checkpoints; for long runs use ``python -m rrlib.cli train-encoder`` on a dataset the book knows).

>>> import torch
>>> from rrlib.own_model import measure
>>> encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 8))
>>> x = torch.rand(96, 1, 28, 28)
>>> result = measure(encoder, x[:64], x[64:], eps=0.1, width=8, iterations=3, batch_size=16, seeds=(0, 1))
>>> sorted(result.as_dict())
['critic', 'eps', 'impossible_seeds', 'normal', 'rv', 'seeds', 'worst']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from rrlib.attacks import ThreatModel
from rrlib.mi.critics import FlatCritic
from rrlib.mi.estimator import build_critic
from rrlib.mi.plausibility import check_estimates
from rrlib.mi.worst_case import EstimatorConfig, representation_vulnerability
from rrlib.stats import summarize, t_interval
from rrlib.train.encoder import PixelCritic

__all__ = ["CRITICS", "Interval", "Vulnerability", "make_critic", "measure", "threat_for", "train_worst_case"]

#: The critics :func:`measure` can train (see the module docstring).
CRITICS = ("paper", "global")


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` values (nats) with its Student-t interval at ``level`` (``low``/``high`` are NaN for one
    value: no interval)."""

    mean: float
    low: float
    high: float
    n: int
    level: float
    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float], level: float = 0.95) -> Interval:
        s = summarize(list(values))
        low, high = t_interval(s.mean, s.se, s.df, level) if s.n > 1 else (math.nan, math.nan)
        return cls(s.mean, low, high, s.n, level, tuple(float(v) for v in values))

    def __str__(self) -> str:
        if self.n < 2:
            return f"{self.mean:.3f} nats (one seed)"
        return f"{self.mean:.3f} nats [{self.low:.3f}, {self.high:.3f}] ({self.level:.0%}, {self.n} seeds)"


@dataclass(frozen=True)
class Vulnerability:
    """What :func:`measure` returns: normal MI, worst-case MI and RV over critic seeds (nats), and which seeds gave
    an impossible pair (worst-case MI negative or above the normal MI; such a seed is reported, never hidden)."""

    normal: Interval
    worst: Interval
    rv: Interval
    seeds: tuple[int, ...]
    impossible_seeds: tuple[int, ...]
    critic: str
    eps: float

    def as_dict(self) -> dict[str, Any]:
        """Plain values: ``normal``, ``worst``, ``rv`` (each ``{"mean", "low", "high", "n", "level", "values"}``),
        ``seeds``, ``impossible_seeds``, ``critic`` and ``eps``."""
        return {"normal": asdict(self.normal), "worst": asdict(self.worst), "rv": asdict(self.rv),
                "seeds": list(self.seeds), "impossible_seeds": list(self.impossible_seeds), "critic": self.critic,
                "eps": self.eps}

    def __str__(self) -> str:
        lines = [f"normal MI      {self.normal}", f"worst-case MI  {self.worst}", f"RV             {self.rv}"]
        if self.impossible_seeds:
            lines.append(f"impossible estimates (not evidence) for seeds {list(self.impossible_seeds)}")
        return "\n".join(lines)


def threat_for(eps: float, steps: int = 10, step_size: float | None = None) -> ThreatModel:
    """The paper's ℓ∞ PGD on pixels in [0, 1]: ``steps`` steps of ``step_size`` (default ``eps / 5``, the paper's
    0.02 for ε = 0.1 on Fashion-MNIST), no random start; ``eps`` must be > 0."""
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps {eps!r}: must be a number > 0 (with eps = 0 the worst case is the normal MI)")
    return ThreatModel("linf", float(eps), int(steps), float(step_size) if step_size is not None else eps / 5)


def _channel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    mean = x.float().mean(dim=(0, 2, 3))
    std = x.float().std(dim=(0, 2, 3)).clamp_min(1e-6)
    return tuple(mean.tolist()), tuple(std.tolist())


def make_critic(critic: str, x: torch.Tensor, z_dim: int, *, width: int = 2048,
                stats: tuple[Sequence[float], Sequence[float]] | None = None) -> Callable[[], nn.Module]:
    """A factory of fresh critics for images like ``x`` ``(n, C, H, W)`` and codes of ``z_dim``: ``"paper"`` (the
    paper's encode-and-dot critic of width ``width`` behind per-channel standardisation with ``stats`` = (mean,
    std), default ``x``'s own) or ``"global"`` (a separable critic, hidden width 256, on the flattened image)."""
    if critic not in CRITICS:
        raise ValueError(f"critic {critic!r}: valid choices: {', '.join(CRITICS)}")
    if x.dim() != 4:
        raise ValueError(f"images must have shape (n, C, H, W), got {tuple(x.shape)}")
    if critic == "paper":
        stats = stats if stats is not None else _channel_stats(x)
        return lambda: PixelCritic(z_dim=z_dim, hidden=width, stats=stats)
    x_dim = int(math.prod(x.shape[1:]))
    return lambda: FlatCritic(build_critic("separable", x_dim, z_dim))


def measure(model: nn.Module, x_train: torch.Tensor, x_test: torch.Tensor, *, eps: float, steps: int = 10,
            step_size: float | None = None, critic: str = "paper", width: int = 2048, iterations: int = 500,
            batch_size: int = 128, lr: float = 1e-3, seeds: Sequence[int] = (0, 1, 2),
            stats: tuple[Sequence[float], Sequence[float]] | None = None) -> Vulnerability:
    """Normal MI, worst-case MI and RV of ``model``'s representation (see the module docstring), nats.

    Args:
        model: maps images ``(n, C, H, W)`` in [0, 1] to codes ``(n, d)``; used in eval mode, never trained.
        x_train, x_test: images the critics train on and are scored on (on the model's device).
        eps, steps, step_size: the adversary (:func:`threat_for`).
        critic, width, stats: which critic (:func:`make_critic`).
        iterations, batch_size, lr: Algorithm 2's critic training (:class:`rrlib.mi.worst_case.EstimatorConfig`).
        seeds: one critic per seed; the intervals are over them.
    """
    model = model.eval()
    with torch.no_grad():
        z = model(x_train[:2])
    if z.dim() != 2:
        raise ValueError(f"the model must return codes of shape (n, d), got {tuple(z.shape)}")
    factory = make_critic(critic, x_train, int(z.shape[1]), width=width, stats=stats)
    device = x_train.device
    config = EstimatorConfig(iterations=iterations, batch_size=batch_size, lr=lr)
    result = representation_vulnerability(model, lambda: factory().to(device), x_train, x_test,
                                          threat=threat_for(eps, steps, step_size), config=config,
                                          seeds=list(seeds))
    normal, worst = result.normal.tolist(), result.worst.tolist()
    impossible = tuple(s for s, n, w in zip(seeds, normal, worst, strict=True) if check_estimates(n, w).impossible)
    return Vulnerability(Interval.of(normal), Interval.of(worst), Interval.of(result.rv.tolist()), tuple(seeds),
                         impossible, critic, float(eps))


def train_worst_case(encoder: nn.Module, images: torch.Tensor, *, eps: float, steps: int = 10,
                     step_size: float | None = None, epochs: int = 1, batch_size: int = 128, lr: float = 1e-4,
                     width: int = 2048, seed: int = 0) -> list[float]:
    """Train ``encoder`` (in place) on ``images`` ``(n, C, H, W)`` in [0, 1] by the paper's Eq. 5.4 — each step
    ascends DV on Algorithm 1's worst-case batch within ``eps`` (``eps = 0``: DIM, the clean batch) — with a fresh
    paper's critic of width ``width``, Adam at ``lr`` on both, ``epochs`` passes in a seeded order. Returns the DV
    (nats) of every step, before its update (:func:`rrlib.train.encoder.encoder_step`)."""
    from rrlib.runtime import seeded
    from rrlib.train.encoder import encoder_step

    with torch.no_grad():
        z_dim = int(encoder.eval()(images[:2]).shape[1])
    critic = seeded(make_critic("paper", images, z_dim, width=width), seed).to(images.device)
    optimizer = torch.optim.Adam([*encoder.parameters(), *critic.parameters()], lr=lr)
    threat = threat_for(eps, steps, step_size) if eps > 0 else None
    generator = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images) - batch_size + 1, batch_size):
            values.append(encoder_step(encoder, critic, optimizer, images[order[start:start + batch_size]], threat))
    return values
