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

import argparse
import json
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from rrlib.grid.committed import REPO_ROOT
from rrlib.jsonable import to_jsonable
from rrlib.mi.bounds import dv, make_bound
from rrlib.mi.estimator import build_critic, fit_critic
from rrlib.paper import PAPER_MI_RANGE
from rrlib.runtime import atomic_write_text, seeded, select_device, torch_generator
from rrlib.stats import summarize, t_interval
from rrlib.synthetic_images import MAX_BITS, BitTileImages

__all__ = ["CRITICS", "PAPER_RANGE", "RESULT_PATH", "STAIRCASE", "ImageMIConfig", "ImageMIResult", "level_summaries",
           "load_result", "main", "run"]

#: The critics compared (see the module docstring).
CRITICS = ("encode_and_dot", "separable")
#: The committed medium run (see the module docstring).
RESULT_PATH = REPO_ROOT / "results" / "image_mi_medium.json"
#: The staircase of the medium and full profiles ``(bits, crossover)``: 0.19, 0.69, 0.74, 1.39, 1.47, 2.77, 4.16
#: and 6.24 nats — the paper's range (Figures 2–3 measure 0–1.74 nats) and beyond.
STAIRCASE = ((1, 0.2), (1, 0.0), (2, 0.1), (2, 0.0), (4, 0.1), (4, 0.0), (6, 0.0), (9, 0.0))
#: The paper's regime in nats (:data:`rrlib.paper.PAPER_MI_RANGE`: 0 to Figure 2's largest MI, 1.74).
PAPER_RANGE = PAPER_MI_RANGE


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
    def medium(cls, seed: int = 0, device: str = "auto") -> ImageMIConfig:
        """The :data:`STAIRCASE` (0.19–6.24 nats) at the medium run's critic width 128 (its Table 4 encoders'),
        2,000 steps, three seeds: about 1.5 hours on one CPU core."""
        return cls(levels=STAIRCASE, steps=2000, critic_hidden=128, eval_batches=8, seeds=(seed, seed + 1, seed + 2),
                   device=device)

    @classmethod
    def full(cls, seed: int = 0, device: str = "auto") -> ImageMIConfig:
        """The :data:`STAIRCASE` at the paper's critic width 2048, 5,000 steps, three seeds."""
        return cls(levels=STAIRCASE, steps=5000, critic_hidden=2048, eval_batches=16, seeds=(seed, seed + 1, seed + 2),
                   device=device)


@dataclass
class ImageMIResult:
    """Per level: the true MI and every critic's held-out estimate per seed; the paper's critic per location."""

    config: ImageMIConfig
    levels: list[dict[str, Any]]
    #: wall seconds per ``"<bits>x<crossover>/<critic>/seed<k>"`` (not in :meth:`metrics`: timings differ per run;
    #: a run reloaded from the cache keeps the seconds of the run that measured it).
    seconds: dict[str, float] = field(default_factory=dict)

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


def _cell(name: str, task: BitTileImages, config: ImageMIConfig, seed: int, device: torch.device,
          show_progress: bool) -> dict[str, Any]:
    """One critic trained on one level with one seed: ``{"estimate", "seconds"}`` and, for the paper's critic,
    ``"per_location"``."""
    start = time.perf_counter()
    critic, sampler = _critic(name, task, config, seed, device)
    fit = fit_critic(critic, config.bound, sampler, steps=config.steps, batch=config.batch, lr=config.lr, seed=seed,
                     eval_batches=config.eval_batches, show_progress=show_progress,
                     desc=f"{task.bits} bits, p = {task.crossover}, {name}, seed {seed}")
    record: dict[str, Any] = {"estimate": float(fit.heldout)}
    if name == "encode_and_dot":
        record["per_location"] = _per_location(critic, task, config, seed, device)
    record["seconds"] = time.perf_counter() - start
    return record


def level_summaries(metrics: Mapping[str, Any], level: float = 0.95) -> list[dict[str, Any]]:
    """Per level of ``metrics`` (:meth:`ImageMIResult.metrics`) and critic: the mean estimate over seeds, its
    Student-t interval at ``level`` (``None`` for one seed; the unit of replication is the critic's training seed),
    ``ratio`` = mean / true MI and ``shortfall`` = true MI − mean (nats); ``in_paper_range`` marks levels within
    :data:`PAPER_RANGE`."""
    out = []
    for lv in metrics["levels"]:
        true = float(lv["true_mi"])
        critics = {}
        for name, values in lv["estimates"].items():
            s = summarize(values)
            interval = list(t_interval(s.mean, s.se, s.df, level)) if s.n > 1 else None
            critics[name] = {"mean": s.mean, "interval": interval, "n": s.n, "ratio": s.mean / true if true else None,
                             "shortfall": true - s.mean}
        out.append({"bits": lv["bits"], "crossover": lv["crossover"], "true_mi": true, "critics": critics,
                    "in_paper_range": PAPER_RANGE[0] <= true <= PAPER_RANGE[1]})
    return out


def run(config: ImageMIConfig, *, show_progress: bool = False, cache_dir: str | Path | None = None) -> ImageMIResult:
    """Train every critic on every level for every seed and collect the held-out estimates.

    With ``cache_dir`` every finished (level, critic, seed) is written there atomically as it ends and reloaded
    instead of retrained (each is seeded on its own, so a resumed run gives the same numbers); the caller owns the
    folder (:func:`main` locks it and checks its configuration)."""
    device = select_device(config.device)
    cache = None if cache_dir is None else Path(cache_dir)
    levels, seconds = [], {}
    for bits, p in config.levels:
        task = BitTileImages(bits, float(p), data_root=config.data_root)
        entry: dict[str, Any] = {"bits": bits, "crossover": float(p), "true_mi": task.mi, "estimates": {}}
        for name in config.critics:
            values = []
            for seed in config.seeds:
                key = f"{bits}x{float(p)}/{name}/seed{seed}"
                path = None if cache is None else cache / (key.replace("/", "-") + ".json")
                if path is not None and path.is_file():
                    record = json.loads(path.read_text())
                else:
                    record = _cell(name, task, config, seed, device, show_progress)
                    if path is not None:
                        atomic_write_text(path, json.dumps(record) + "\n")
                values.append(record["estimate"])
                seconds[key] = record["seconds"]
                if name == "encode_and_dot" and seed == config.seeds[0]:
                    entry["per_location"] = record["per_location"]
            entry["estimates"][name] = values
        levels.append(entry)
    return ImageMIResult(config, levels, seconds)


def load_result(path: str | Path = RESULT_PATH) -> dict[str, Any] | None:
    """The committed medium run (``{"metrics", "provenance"}``), or ``None`` while it has not been made."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    """``python -m rrlib.experiments.image_mi``: run a profile into a JSON with provenance (see the module)."""
    from rrlib.console import error_line
    from rrlib.provenance import provenance
    from rrlib.runtime import configure_threads
    from rrlib.train.run_folder import RunFolderError, claim_run_folder

    parser = argparse.ArgumentParser(prog="python -m rrlib.experiments.image_mi", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="medium", help="quick, medium or full (default medium)")
    parser.add_argument("--out", default=str(RESULT_PATH), help="the JSON to write; must not exist")
    parser.add_argument("--seed", type=int, default=0, help="the first training seed (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu)")
    parser.add_argument("--data-root", default=None, help="folder holding FashionMNIST/raw (default: the book's)")
    args = parser.parse_args(argv)
    makers = {"quick": ImageMIConfig.quick, "medium": ImageMIConfig.medium, "full": ImageMIConfig.full}
    out = Path(args.out)
    try:
        if args.profile not in makers:
            raise ValueError(f"--profile {args.profile!r}: valid choices: {', '.join(makers)}")
        if out.exists():
            raise ValueError(f"--out {out} exists: finished results are never overwritten; move it away or give "
                             "another --out")
        select_device(args.device)
        config = makers[args.profile](args.seed, args.device)
        if args.data_root is not None:
            config = replace(config, data_root=args.data_root)
        configure_threads()
        start = time.perf_counter()
        with claim_run_folder(out.with_name(out.name + ".partial"), "image-mi", config) as folder:
            folder.accept()
            result = run(config, show_progress=True, cache_dir=folder.path)
    except (ValueError, RuntimeError, RunFolderError) as err:
        return error_line(err)
    prov = provenance(config, timings=result.seconds, total_seconds=time.perf_counter() - start, device=args.device)
    prov["note"] = ("wall_seconds_total counts this invocation only; cells reloaded from the .partial cache keep the "
                    "seconds of the invocation that measured them")
    atomic_write_text(out, json.dumps({"metrics": result.metrics(), "provenance": prov}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
