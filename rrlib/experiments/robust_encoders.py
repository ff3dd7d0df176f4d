"""Chapter 07: robust encoders (paper §5, Eq. 5.2–5.4) — training curves, the RV of each learned representation
and the cost of a worst-case step.

Two encoders ``g`` of one architecture and seed are trained without labels by :func:`rrlib.train.encoder
.train_encoder`: ``normal`` (DIM, Hjelm et al. 2018) and ``worst`` (Eq. 5.4). For each the chapter shows

* the per-epoch held-out normal and worst-case DV estimates with the *jointly trained* critic (the official
  code's validation numbers; cheap, but the critic is the one the encoder was trained with);
* Definition 3.1's RV of the final representation measured the book's way (Algorithm 2, chapter 05): a *fresh*
  critic trained on the frozen encoder, once on clean batches (normal MI) and once against Algorithm 1's adversary
  (worst-case MI), over ``rv_seeds`` critic seeds, each estimate checked by :mod:`rrlib.mi.plausibility`;
* the wall time of one training step of each objective on the same batch (interleaved medians), against the
  ``S + 1`` forward–backward passes a worst step does for ``S`` PGD steps (supplement App. B).

All MI values in nats. Encoders are trained in the results cache (resumable; a finished one is loaded).
"""

from __future__ import annotations

import copy
import os
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from rrlib import stats
from rrlib.attacks import ThreatModel
from rrlib.data import canonical_name, dataset_threat_model, get_spec, load_dataset, subset
from rrlib.jsonable import to_jsonable
from rrlib.mi.plausibility import check_estimates, clip_to_valid
from rrlib.mi.worst_case import EstimatorConfig, representation_vulnerability
from rrlib.runtime import select_device
from rrlib.timing import interleaved_medians
from rrlib.train.cache import entry_dir
from rrlib.train.encoder import PAPER_LOSSES, EncoderConfig, PixelCritic, encoder_step, train_encoder
from rrlib.validation import check_int, check_int_fields, check_positive_float

__all__ = ["MEDIUM_CONFIG_FIELDS", "Config", "Result", "committed_medium", "committed_run_summary", "page_facts", "run"]


@dataclass(frozen=True)
class Config:
    """One pair of encoders (``normal`` and ``worst``, same sizes and seed) and how their RV and cost are measured.

    ``encoder`` fields as in :class:`rrlib.train.encoder.EncoderConfig` (the threat model is the dataset's,
    supplement D.1). RV: ``rv_iterations`` critic steps of batch ``rv_batch`` (Algorithm 2, best held-out
    iterate on ``rv_test`` test images), ``rv_train`` training images, one critic seed per entry of ``rv_seeds``.
    Cost: ``cost_repeats`` interleaved timings of one step of each objective on one training batch.
    """

    dataset: str = "fashion-mnist"
    train_subset: int | None = None
    width: float = 1.0
    critic_hidden: int = 2048
    epochs: int = 300
    batch_size: int = 128
    lr: float = 1e-4
    seed: int = 0
    rv_iterations: int = 2000
    rv_batch: int = 128
    rv_lr: float = 1e-4
    rv_train: int = 10000
    rv_test: int = 2000
    rv_seeds: tuple[int, ...] = (0, 1)
    cost_repeats: int = 20
    device: str = "auto"
    data_root: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "dataset", canonical_name(self.dataset))
        check_int_fields(self, ("rv_iterations", "rv_batch", "rv_train", "rv_test", "cost_repeats"))
        check_positive_float("rv_lr", self.rv_lr)
        seeds = tuple(self.rv_seeds)
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"rv_seeds must be distinct non-negative integers, got {self.rv_seeds!r}")
        for s in seeds:
            check_int("rv_seeds entry", s, 0)
        object.__setattr__(self, "rv_seeds", seeds)
        self.encoder_config("worst")  # the encoder sizes are checked there

    def encoder_config(self, loss: str) -> EncoderConfig:
        """The :class:`EncoderConfig` of the ``loss`` encoder (``"normal"`` or ``"worst"``)."""
        return EncoderConfig(dataset=self.dataset, train_subset=self.train_subset, width=self.width,
                             critic_hidden=self.critic_hidden, epochs=self.epochs, batch_size=self.batch_size,
                             lr=self.lr, estimator_loss=loss, seed=self.seed)

    @classmethod
    def quick(cls, seed: int = 0, device: str = "auto") -> Config:
        """A few minutes on one CPU core: width 0.125, critic 32, 1,024 images × 3 epochs; RV from 60 critic
        steps of batch 32 per critic seed."""
        return cls(train_subset=1024, width=0.125, critic_hidden=32, epochs=3, batch_size=64, lr=1e-3, seed=seed,
                   rv_iterations=60, rv_batch=32, rv_lr=1e-3, rv_train=1024, rv_test=256, rv_seeds=(0, 1),
                   cost_repeats=3, device=device)

    @classmethod
    def full(cls, seed: int = 0, device: str = "auto") -> Config:
        """The paper's encoder (width 1, critic 2048, 300 epochs of batch 128, Adam 1e-4, all images) and a
        2,000-step RV estimate per critic seed."""
        return cls(seed=seed, device=device)


@dataclass
class EncoderSummary:
    """One trained encoder: its per-epoch history and the fresh-critic estimates (nats, one per critic seed)."""

    loss: str
    history: list[dict[str, float]]
    normal: list[float]
    worst: list[float]


@dataclass
class Result:
    config: Config
    encoders: dict[str, EncoderSummary]
    step_seconds: dict[str, float]
    threat: ThreatModel
    provenance: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> dict[str, Any]:
        """Histories, fresh-critic normal / worst-case MI and RV per encoder (mean, sample std, per seed, with
        plausibility flags), and the cost of a step."""
        out: dict[str, Any] = {"dataset": self.config.dataset, "dataset_title": get_spec(self.config.dataset).title,
                               "units": "nats", "config": to_jsonable(asdict(self.config)), "encoders": {},
                               "threat": {"eps": self.threat.eps, "steps": self.threat.steps,
                                          "step_size": self.threat.step_size}}
        for loss, enc in self.encoders.items():
            rv = [n - w for n, w in zip(enc.normal, enc.worst, strict=True)]
            flags = [check_estimates(n, w) for n, w in zip(enc.normal, enc.worst, strict=True)]
            valid = [clip_to_valid(n, w) for n, w in zip(enc.normal, enc.worst, strict=True)]
            last = enc.history[-1]
            out["encoders"][loss] = {
                "history": enc.history,
                "epochs": len(enc.history),
                "heldout_normal": last["heldout_mi_normal"], "heldout_worst": last["heldout_mi_worst"],
                "heldout_rv": last["heldout_rv"],
                "heldout_impossible": check_estimates(last["heldout_mi_normal"], last["heldout_mi_worst"]).impossible,
                "normal": _summary(enc.normal), "worst": _summary(enc.worst), "rv": _summary(rv),
                "worst_valid": _summary([v[1] for v in valid]), "rv_valid": _summary([v[2] for v in valid]),
                "impossible": any(f.impossible for f in flags),
                "impossible_codes": sorted({c for f in flags for c in f.codes}),
            }
        normal_s, worst_s = self.step_seconds["normal"], self.step_seconds["worst"]
        out["cost"] = {"normal_step_seconds": normal_s, "worst_step_seconds": worst_s,
                       "ratio": worst_s / normal_s, "attack_steps": self.threat.steps,
                       "passes_ratio": self.threat.steps + 1, "batch_size": self.config.batch_size}
        out["worst_more_robust"] = (out["encoders"]["worst"]["rv_valid"]["mean"]
                                    < out["encoders"]["normal"]["rv_valid"]["mean"])
        return out


def _summary(values: list[float]) -> dict[str, Any]:
    """``{"mean", "std" (sample sd, ddof=1; 0 for one seed), "values"}`` over critic or encoder seeds (nats)."""
    mean, sd = stats.mean_sd(values, of_one=0.0)
    return {"mean": mean, "std": sd, "values": list(values)}


def _out_dir(config: Config, loss: str, root: str | os.PathLike | None) -> Path:
    return entry_dir(config.encoder_config(loss), root)


def _step_seconds(results: dict[str, Any], x: torch.Tensor, config: Config) -> dict[str, float]:
    """Median wall seconds of one ``normal`` and one ``worst`` step on the batch ``x``, each on its own copy of
    the trained ``worst`` encoder, critic and a fresh Adam (the trained weights are not touched)."""
    base = results["worst"]
    threat = config.encoder_config("worst").threat()
    steps: dict[str, Any] = {}
    for loss, attack in (("normal", None), ("worst", threat)):
        encoder, critic = copy.deepcopy(base.encoder), copy.deepcopy(base.critic)
        optimizer = torch.optim.Adam([*encoder.parameters(), *critic.parameters()], lr=config.lr)
        steps[loss] = (lambda e=encoder, c=critic, o=optimizer, a=attack: encoder_step(e, c, o, x, a))
    return interleaved_medians(steps, config.cost_repeats, x.device)


def run(config: Config, *, cache_root: str | os.PathLike | None = None, show_progress: bool = False) -> Result:
    """Train (or load) both encoders, estimate their RV with fresh critics and time one step of each."""
    device = select_device(config.device)
    results = {loss: train_encoder(config.encoder_config(loss), _out_dir(config, loss, cache_root), device=device,
                                   data_root=config.data_root, show_progress=show_progress)
               for loss in PAPER_LOSSES}
    train = load_dataset(config.dataset, "train", root=config.data_root)
    test = load_dataset(config.dataset, "test", root=config.data_root)
    x_train = subset(train, config.rv_train, config.seed + 1, stratified=False).tensors()[0].to(device)
    x_test = subset(test, config.rv_test, config.seed, stratified=False).tensors()[0].to(device)
    threat = config.encoder_config("worst").threat()
    estimator = EstimatorConfig(iterations=config.rv_iterations, batch_size=config.rv_batch, lr=config.rv_lr)
    encoders = {}
    for loss, res in results.items():
        hidden = config.critic_hidden
        vul = representation_vulnerability(
            res.encoder.eval(), lambda h=hidden: PixelCritic(config.dataset, hidden=h).to(device), x_train, x_test,
            threat=threat, config=estimator, seeds=config.rv_seeds)
        encoders[loss] = EncoderSummary(loss, list(res.history), vul.normal.tolist(), vul.worst.tolist())
    step_seconds = _step_seconds(results, x_train[: config.batch_size], config)
    return Result(config, encoders, step_seconds, threat)


def committed_run_summary(encoders: dict[str, dict[str, Any]], attack_steps: int,
                          train_images: int | None = None) -> dict[str, Any]:
    """Chapter 07's view of a committed downstream-table run (``results/*.json``'s ``"encoders"`` block, from
    :func:`rrlib.experiments.downstream_tables.encoder_histories`): per loss the first seed's history, the final
    held-out estimates of every seed (mean ± sample std, plausibility-checked), and the cost of a step from the
    recorded epoch times (``images / batch_size`` full batches per epoch; held-out evaluation not included)."""
    out: dict[str, Any] = {"encoders": {}}
    per_step: dict[str, float] = {}
    for loss, seeds in encoders.items():
        names = sorted(seeds)
        finals = [seeds[s]["history"][-1] for s in names]
        normal = [f["heldout_mi_normal"] for f in finals]
        worst = [f["heldout_mi_worst"] for f in finals]
        first = seeds[names[0]]
        out["encoders"][loss] = {
            "history": first["history"], "seeds": names, "epochs": len(first["history"]),
            "heldout_normal": _summary(normal), "heldout_worst": _summary(worst),
            "heldout_rv": _summary([n - w for n, w in zip(normal, worst, strict=True)]),
            "heldout_rv_valid": _summary([clip_to_valid(n, w)[2] for n, w in zip(normal, worst, strict=True)]),
            "impossible_seeds": [s for s, n, w in zip(names, normal, worst, strict=True)
                                 if check_estimates(n, w).impossible],
        }
        images = first["images"] if first["images"] is not None else train_images
        if images is None:
            raise ValueError(f"the {loss} encoders' training-set size is unknown; pass train_images")
        steps = images // first["batch_size"]
        # the steps' seconds: "train_seconds" since the one loop (its "seconds" adds the held-out estimates), "seconds"
        # in histories written before it
        seconds = [h.get("train_seconds", h["seconds"]) for s in names for h in seeds[s]["history"]]
        per_step[loss] = statistics.median(seconds) / steps
        out["batch_size"] = first["batch_size"]
    if {"normal", "worst"} <= set(per_step):
        out["cost"] = {"normal_step_seconds": per_step["normal"], "worst_step_seconds": per_step["worst"],
                       "ratio": per_step["worst"] / per_step["normal"], "batch_size": out["batch_size"],
                       "attack_steps": attack_steps, "passes_ratio": attack_steps + 1}
    return out


#: The committed medium run's configuration fields that chapter 07 quotes.
MEDIUM_CONFIG_FIELDS = ("encoder_train_subset", "width", "critic_hidden", "encoder_epochs", "encoder_batch",
                        "encoder_lr", "seeds")


def committed_medium(dataset: str) -> dict[str, Any]:
    """Chapter 07's view of the committed medium-scale run of ``dataset``
    (:func:`rrlib.experiments.downstream_tables.load_committed`): :func:`committed_run_summary` of its encoders at
    the dataset's attack steps, the configuration fields of :data:`MEDIUM_CONFIG_FIELDS` and the commit it was
    collected at (``git_commit``)."""
    from rrlib.grid.committed import load_committed

    committed = load_committed(dataset)
    paper_encoders = {loss: v for loss, v in committed["encoders"].items() if loss in PAPER_LOSSES}
    medium = committed_run_summary(paper_encoders, dataset_threat_model(dataset).steps)
    medium["config"] = {k: committed["metrics"]["config"][k] for k in MEDIUM_CONFIG_FIELDS}
    medium["git_commit"] = committed["provenance"]["git_commit"]
    return medium


def page_facts(metrics: dict[str, Any], medium: dict[str, Any]) -> dict[str, Any]:
    """The counts and ratios chapter 07's prose quotes, from this run's :meth:`Result.metrics` and
    :func:`committed_medium`: critic seeds; encoders of this run with an impossible fresh-critic or held-out estimate;
    seeds of the medium run with an impossible final estimate, per loss, and its number of seeds; this run's
    worst-case / DIM ratios of the fresh-critic RV and normal MI (means, nats / nats)."""
    enc, med = metrics["encoders"], medium["encoders"]
    return {
        "n_rv_seeds": len(metrics["config"]["rv_seeds"]),
        "n_impossible_quick": sum(e["impossible"] or e["heldout_impossible"] for e in enc.values()),
        "medium_normal_impossible_seeds": len(med["normal"]["impossible_seeds"]),
        "medium_worst_impossible_seeds": len(med["worst"]["impossible_seeds"]),
        "medium_n_seeds": len(med["normal"]["seeds"]),
        "rv_ratio_quick": enc["worst"]["rv"]["mean"] / enc["normal"]["rv"]["mean"],
        "normal_ratio_quick": enc["worst"]["normal"]["mean"] / enc["normal"]["normal"]["mean"],
    }
