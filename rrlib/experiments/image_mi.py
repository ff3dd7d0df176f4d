"""Known MI on images (issue 21, part 2): the paper's critic measured against an exact answer on image data.

Each level is a :class:`rrlib.synthetic_images.BitTileImages` task — ``bits`` fair bits drawn as Fashion-MNIST
tiles, the code their copy through a binary symmetric channel of crossover ``p`` — whose ``I(X; Z) = d (ln 2 −
H_b(p))`` nats is exact. Two critics are trained on it with the same bound, steps, batch and learning rate
(:func:`rrlib.mi.estimator.fit_critic`, fresh batches every step, the estimate on fresh held-out batches):

* ``encode_and_dot`` — the paper's critic (:class:`rrlib.train.encoder.PixelCritic`: an image branch of local
  features, a code branch, their dot product at every location, the bound averaged over the locations, as in
  Hjelm et al.'s local DIM), at width ``critic_hidden``;
* ``separable`` — a global critic (:class:`rrlib.mi.critics.SeparableCritic`) on the flattened pixels and the code.

For the paper's critic the DV bound of one more held-out batch is also kept per location (``per_location``: mean,
min, max and the whole grid), which shows what the location average measures. Estimates in nats, one per training
seed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from rrlib.jsonable import to_jsonable
from rrlib.mi.bounds import dv, make_bound
from rrlib.mi.estimator import build_critic, fit_critic
from rrlib.runtime import seeded, select_device, torch_generator
from rrlib.synthetic_images import MAX_BITS, BitTileImages

__all__ = ["CRITICS", "ImageMIConfig", "ImageMIResult", "run"]

#: The critics compared (see the module docstring).
CRITICS = ("encode_and_dot", "separable")


@dataclass(frozen=True)
class ImageMIConfig:
    """Levels ``(bits, crossover)`` of :class:`BitTileImages`, the critics and their training (see the module)."""

    levels: tuple[tuple[int, float], ...] = ((1, 0.1), (2, 0.1), (4, 0.1))
    critics: tuple[str, ...] = CRITICS
    bound: str = "dv"
    steps: int = 200
    batch: int = 128
    lr: float = 5e-4
    critic_hidden: int = 128
    eval_batches: int = 4
    seeds: tuple[int, ...] = (0,)
    device: str = "auto"
    data_root: str | None = None

    def __post_init__(self) -> None:
        bad = [c for c in self.critics if c not in CRITICS]
        if bad or not self.critics:
            raise ValueError(f"critics must be names from {CRITICS}, got {self.critics!r}")
        for bits, p in self.levels:
            if not (isinstance(bits, int) and 1 <= bits <= MAX_BITS and 0.0 <= float(p) <= 0.5):
                raise ValueError(f"a level is (bits 1..{MAX_BITS}, crossover in [0, 0.5]), got {(bits, p)!r}")
        make_bound(self.bound)  # a bad name fails here, naming the valid ones
        if not self.seeds:
            raise ValueError("seeds must name at least one training seed")

    @property
    def seed(self) -> int:
        return self.seeds[0]

    @classmethod
    def quick(cls, seed: int = 0, device: str = "auto") -> ImageMIConfig:
        """Three levels (0.37, 0.74 and 1.47 nats), 200 steps, one seed: about a minute on one CPU core."""
        return cls(seeds=(seed,), device=device)

    @classmethod
    def full(cls, seed: int = 0, device: str = "auto") -> ImageMIConfig:
        """The paper's range (0–2 nats) and beyond (a staircase to 6.2 nats), the paper's critic width 2048, 5,000
        steps, three seeds."""
        levels = ((1, 0.2), (1, 0.0), (2, 0.1), (2, 0.0), (4, 0.1), (4, 0.0), (6, 0.0), (9, 0.0))
        return cls(levels=levels, steps=5000, critic_hidden=2048, eval_batches=16, seeds=(seed, seed + 1, seed + 2),
                   device=device)


@dataclass
class ImageMIResult:
    """Per level: the true MI and every critic's held-out estimate per seed; the paper's critic per location."""

    config: ImageMIConfig
    levels: list[dict[str, Any]]

    def metrics(self) -> dict[str, Any]:
        """``levels``: ``[{"bits", "crossover", "true_mi", "estimates": {critic: [per seed]}, "per_location":
        {"mean", "min", "max", "grid"} of the first seed}]`` (nats) and the configuration."""
        return to_jsonable({"levels": self.levels, "config": asdict(self.config)})


def _critic(name: str, task: BitTileImages, config: ImageMIConfig, seed: int, device: torch.device):
    from rrlib.train.encoder import PixelCritic

    if name == "encode_and_dot":
        critic = seeded(lambda: PixelCritic("fashion-mnist", z_dim=task.bits, hidden=config.critic_hidden), seed)
        return critic.to(device), task.sample
    critic = build_critic("separable", 28 * 28, task.bits, seed=seed).to(device)

    def flat(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, z = task.sample(n, generator)
        return x.flatten(1), z

    return critic, flat


def _per_location(critic: torch.nn.Module, task: BitTileImages, config: ImageMIConfig, seed: int,
                  device: torch.device) -> dict[str, Any]:
    """The DV bound on one fresh held-out batch, per location of the paper's critic (nats)."""
    x, z = task.sample(config.batch, torch_generator(10_000 + seed, device))
    with torch.no_grad():
        values = dv(critic(x, z), reduction="none").double().cpu().numpy()
    side = int(round(len(values) ** 0.5))
    return {"mean": float(values.mean()), "min": float(values.min()), "max": float(values.max()),
            "grid": values.reshape(side, side).tolist() if side * side == len(values) else values.tolist()}


def run(config: ImageMIConfig, *, show_progress: bool = False) -> ImageMIResult:
    """Train every critic on every level for every seed and collect the held-out estimates."""
    device = select_device(config.device)
    levels = []
    for bits, p in config.levels:
        task = BitTileImages(bits, float(p), data_root=config.data_root)
        entry: dict[str, Any] = {"bits": bits, "crossover": float(p), "true_mi": task.mi, "estimates": {}}
        for name in config.critics:
            values = []
            for seed in config.seeds:
                critic, sampler = _critic(name, task, config, seed, device)
                fit = fit_critic(critic, config.bound, sampler, steps=config.steps, batch=config.batch, lr=config.lr,
                                 seed=seed, eval_batches=config.eval_batches, show_progress=show_progress,
                                 desc=f"{bits} bits, p = {p}, {name}")
                values.append(float(fit.heldout))
                if name == "encode_and_dot" and seed == config.seeds[0]:
                    entry["per_location"] = _per_location(critic, task, config, seed, device)
            entry["estimates"][name] = values
        levels.append(entry)
    return ImageMIResult(config, levels)

