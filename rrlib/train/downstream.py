"""Downstream classifiers h on a frozen representation g (paper §6; Tables 1, 3–5; REFERENCE.md §7).

The encoder g of :mod:`rrlib.train.encoder` is loaded from its folder, frozen (``requires_grad=False``) and kept
in **eval mode**; only the head h (``"mlp"``: FC 200 → FC 10, ``"linear"``: FC 10; REFERENCE.md §3.2) is trained,
with Adam and a constant learning rate (the paper's 1e-4).

* ``classifier_loss="standard"`` — cross-entropy on clean images;
* ``classifier_loss="robust"`` — PGD adversarial training of h: each batch is replaced by ℓ∞ PGD examples
  against the whole classifier ``h∘g`` (white box: the gradient reaches the input through the frozen g), made
  in eval mode; the CE step then updates h only (h in train mode: dropout and batch-norm statistics from
  adversarial batches). With ε = 0 this is standard training exactly (tested).

Evaluation after every ``eval_every`` epochs: natural accuracy and PGD accuracy (the dataset's ε, steps and
step size; no random start, no restarts — the paper's attack, which is weak; ``rrlib.robustness_eval`` adds
AutoAttack) on a validation split and on the test split. Accuracies are fractions in [0, 1].

**Best epoch and E.S.** The "best" epoch is the evaluated epoch with the highest *adversarial* accuracy on the
**validation split**, ``val_size`` images held out of the training data (never trained on). For a standard h
this is the paper's "Standard (E.S.)" row: a standard head early-stopped at its best adversarial accuracy. The
paper does not state on which split it picked that epoch (its code logs test-set accuracy every 5 epochs, so
it probably chose on the test set); we choose on a held-out validation split so the reported test numbers are
not selected on themselves. The best head's weights are kept in the checkpoint.

Resumption: the checkpoint (atomic, every epoch) holds the head, the optimiser, torch's RNG (dropout), the
history and the best head, plus a fingerprint of the encoder's weights; a resumed run reproduces the
uninterrupted one bit for bit on the CPU, and resuming against a different encoder is an error.

:func:`run_trials` repeats a configuration over explicit seeds and :func:`mean_std` summarises (the tables
report mean ± std over 4 trials; the paper states no seeds).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rrlib import attacks
from rrlib import distributed as dist
from rrlib.attacks import ThreatModel, evaluate_accuracy
from rrlib.data import ImageDataset, canonical_name, get_spec, load_dataset, resolve_threat, subset
from rrlib.models.heads import HEADS, build_head
from rrlib.robustness_eval import autoattack_evaluation  # re-exported: AutoAttack of a trained head
from rrlib.runtime import select_device
from rrlib.train.cache import config_hash
from rrlib.train.checkpoint import read_checkpoint
from rrlib.train.encoder import load_encoder, threat_dict
from rrlib.train.fit import CHECKPOINT_FILE, TIMING_KEYS, fit
from rrlib.train.run_folder import METRICS_FILE as METRICS_FILE  # re-exported: the file names live in run_folder
from rrlib.validation import check_int, check_int_fields, check_optional_int, check_positive_float

__all__ = [
    "CLASSIFIER_LOSSES",
    "ClassifierConfig",
    "ClassifierResult",
    "FrozenEncoderClassifier",
    "TIMING_KEYS",
    "TrialSummary",
    "autoattack_evaluation",
    "evaluate_classifier",
    "load_classifier",
    "mean_std",
    "run_trials",
    "train_classifier",
]

#: How a head is trained, on clean images (``standard``) or by PGD adversarial training of h (``robust``).
CLASSIFIER_LOSSES = ("standard", "robust")
KIND = "downstream classifier"



def _pgd_examples(model: nn.Module, x: torch.Tensor, y: torch.Tensor, threat: ThreatModel) -> torch.Tensor:
    """PGD on the cross-entropy of ``model`` (eval mode; the threat's start and restarts; best iterate kept)."""
    return attacks.adversarial_examples(model, x, y, threat)


# ----------------------------------------------------------------------------------------------------- model
class FrozenEncoderClassifier(nn.Module):
    """``h∘g`` for pixels in [0, 1], with g frozen: its parameters never get gradients and it stays in eval mode.

    ``train(True)`` switches only the head to train mode, so PGD (which puts the model in eval mode and
    restores it) and training both leave g's batch-norm statistics untouched.
    """

    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        self.encoder.eval()

    def train(self, mode: bool = True) -> FrozenEncoderClassifier:
        super().train(mode)
        self.encoder.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


# ----------------------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class ClassifierConfig:
    """A downstream run: head, loss, optimisation, evaluation; the encoder comes from a folder.

    Attributes:
        dataset: must be the dataset the encoder was trained on (checked).
        head: ``"mlp"`` or ``"linear"``.
        classifier_loss: ``"standard"`` (clean CE) or ``"robust"`` (PGD adversarial training of h).
        epochs, batch_size, lr: Adam, constant lr (paper 1e-4; README 500 epochs).
        train_subset: training images (stratified, seed ``seed``) before the validation split; None = all.
        val_size: images held out of those for choosing the best / E.S. epoch (0: no validation, no best).
        test_subset: test images (stratified, seed 0, so every trial is scored on the same images); None = all.
        eps, steps, step_size: ℓ∞ PGD for robust training and for evaluation; None = dataset's.
        eval_every: evaluate every this many epochs (and at the last); the paper's code: 5.
        seed: head initialisation, batch order, dropout, validation split.
    """

    dataset: str = "fashion-mnist"
    head: str = "mlp"
    classifier_loss: str = "standard"
    epochs: int = 500
    batch_size: int = 128
    lr: float = 1e-4
    train_subset: int | None = None
    val_size: int = 5000
    test_subset: int | None = None
    eps: float | None = None
    steps: int | None = None
    step_size: float | None = None
    eval_every: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "dataset", canonical_name(self.dataset))
        if self.head not in HEADS:
            raise ValueError(f"unknown head {self.head!r}; valid choices: {HEADS}")
        if self.classifier_loss not in CLASSIFIER_LOSSES:
            raise ValueError(f"unknown classifier_loss {self.classifier_loss!r}; valid choices: {CLASSIFIER_LOSSES}")
        check_int_fields(self, ("epochs", "batch_size", "eval_every"))
        for name in ("train_subset", "test_subset"):
            check_optional_int(name, getattr(self, name), 1)
        check_int("val_size", self.val_size, 0)
        check_int("seed", self.seed, 0)
        check_positive_float("lr", self.lr)
        self.threat()  # checks eps, steps, step_size and that they fit together

    def threat(self) -> ThreatModel:
        """The :class:`~rrlib.attacks.ThreatModel` of robust training and evaluation: the dataset's
        (supplement D.1) with the explicit values replacing its own (:func:`rrlib.data.resolve_threat`)."""
        return resolve_threat(self.dataset, self.eps, self.steps, self.step_size)

    def attack(self) -> dict[str, Any]:
        """The evaluation attack as plain (JSON) data: ``{"name": "pgd"}`` and the ThreatModel's fields."""
        return threat_dict(self.threat())


@dataclass
class ClassifierResult:
    """A trained head on a frozen encoder, with its history and the final / best (E.S.) test accuracies.

    ``final`` and ``best`` are ``{"epoch", "nat_acc", "adv_acc"}`` on the **test** split (fractions);
    ``best`` is the epoch of highest validation adversarial accuracy (``None`` when ``val_size = 0``).
    ``attack`` describes the PGD used. ``model`` is ``h∘g`` with the final head; ``best_head_state`` the best one.
    """

    config: ClassifierConfig
    model: FrozenEncoderClassifier
    history: list[dict[str, float]] = field(default_factory=list)
    finished: bool = False
    best_head_state: dict[str, torch.Tensor] | None = field(default=None, repr=False)
    encoder_dir: Path | None = None
    out_dir: Path | None = None

    @property
    def attack(self) -> dict[str, Any]:
        return self.config.attack()

    @property
    def final(self) -> dict[str, float]:
        evaluated = [r for r in self.history if "test_nat_acc" in r]
        return _test_numbers(evaluated[-1]) if evaluated else {}

    @property
    def best(self) -> dict[str, float] | None:
        idx = _best_index(self.history)
        return None if idx is None else _test_numbers(self.history[idx])

    def metrics(self) -> dict[str, Any]:
        """What ``metrics.json`` holds: configuration, the attack (its ThreatModel as a dict), the final and the best
        (E.S.) epoch's test ``natural_accuracy`` / ``adversarial_accuracy`` (fractions in [0, 1]), the history."""
        best = self.best
        return {"config": asdict(self.config), "config_hash": config_hash(self.config), "finished": self.finished,
                "encoder_dir": str(self.encoder_dir), "attack": self.attack, "final": spelled_out(self.final),
                "best": None if best is None else spelled_out(best), "history": self.history}


def spelled_out(numbers: dict[str, float]) -> dict[str, float]:
    """``{"epoch", "nat_acc", "adv_acc"}`` → ``{"epoch", "natural_accuracy", "adversarial_accuracy"}``."""
    names = {"nat_acc": "natural_accuracy", "adv_acc": "adversarial_accuracy"}
    return {names.get(k, k): v for k, v in numbers.items()}


def _test_numbers(record: dict[str, float]) -> dict[str, float]:
    return {"epoch": record["epoch"], "nat_acc": record["test_nat_acc"], "adv_acc": record["test_adv_acc"]}


def _best_index(history: list[dict[str, float]]) -> int | None:
    """Index of the first evaluated epoch with the highest validation adversarial accuracy."""
    best, best_value = None, -math.inf
    for i, rec in enumerate(history):
        value = rec.get("val_adv_acc")
        if value is not None and value > best_value:
            best, best_value = i, value
    return best


# ----------------------------------------------------------------------------------------------------- evaluation
def evaluate_classifier(model: nn.Module, x: torch.Tensor, y: torch.Tensor, threat: ThreatModel, *,
                        batch_size: int = 500) -> dict[str, float]:
    """Natural and PGD accuracy (fractions) of ``model`` on ``(x, y)``, in eval mode (modes restored), by the one
    evaluator :func:`rrlib.attacks.evaluate_accuracy` (its ``natural_accuracy`` / ``adversarial_accuracy`` are this
    history's ``nat_acc`` / ``adv_acc``).

    In a distributed run every rank scores its contiguous share of ``(x, y)`` and the counts are added (the same
    fractions as one process)."""
    n_all = x.shape[0]
    if dist.is_distributed():
        mine = dist.shard_range(n_all)
        x, y = x[mine.start:mine.stop], y[mine.start:mine.stop]
    scored = evaluate_accuracy(model, (x, y), threat, batch_size=batch_size)
    nat, adv = scored.natural_count, scored.adversarial_count
    if dist.is_distributed():
        nat, adv = (round(v) for v in dist.sum_values([nat, adv]))
    n = max(n_all, 1)
    return {"nat_acc": nat / n, "adv_acc": adv / n}


def head_step(model: FrozenEncoderClassifier, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
              threat: ThreatModel | None, *, head: nn.Module | None = None,
              global_batch: int | None = None) -> tuple[float, int]:
    """One step on h: CE on ``x`` (standard) or on PGD examples of ``h∘g`` (``threat`` given).

    Returns (mean CE in nats, number correct) on the batch trained on. In a data-parallel run ``x`` is this rank's
    share of a batch of ``global_batch`` images and ``head`` the DDP-wrapped ``model.head``: the loss is this
    rank's share of the batch mean, ``Σ_local CE × world size / global_batch`` (what is returned), and DDP averages.
    """
    if threat is not None:
        x = _pgd_examples(model, x, y, threat)
    model.train()
    with torch.no_grad():
        z = model.encoder(x)
    logits = (model.head if head is None else head)(z)
    if global_batch is None:
        loss = F.cross_entropy(logits, y)
    else:
        loss = F.cross_entropy(logits, y, reduction="sum") * (dist.world_size() / global_batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach()), int((logits.argmax(1) == y).sum())


# ----------------------------------------------------------------------------------------------------- data
def _splits(config: ClassifierConfig, root) -> tuple[ImageDataset, ImageDataset | None, ImageDataset]:
    train = subset(load_dataset(config.dataset, "train", root=root), config.train_subset, config.seed)
    if config.val_size >= len(train):
        raise ValueError(f"val_size={config.val_size} leaves no training images out of {len(train)}")
    perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(config.seed))
    keep, held = perm[: len(train) - config.val_size], perm[len(train) - config.val_size:]
    fit = ImageDataset(train.images[keep], train.labels[keep], scale=train.scale, name=f"{train.name}/fit")
    val = None if config.val_size == 0 else ImageDataset(train.images[held], train.labels[held], scale=train.scale,
                                                         name=f"{train.name}/val")
    test = subset(load_dataset(config.dataset, "test", root=root), config.test_subset, 0)
    return fit, val, test


def _fingerprint(module: nn.Module) -> str:
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _load_frozen_encoder(encoder_dir: Path, dataset: str, device: torch.device) -> nn.Module:
    enc = load_encoder(encoder_dir, device=device)
    if enc.config.dataset != dataset:
        raise ValueError(f"the encoder in {encoder_dir} was trained on {enc.config.dataset!r}, but the classifier "
                         f"asks for {dataset!r}; train an encoder on {dataset!r} or set dataset="
                         f"{enc.config.dataset!r}")
    return enc.encoder


# ----------------------------------------------------------------------------------------------------- loop
def train_classifier(
    config: ClassifierConfig,
    encoder_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    resume: bool = True,
    *,
    device: str | torch.device = "auto",
    data_root: str | os.PathLike | None = None,
    stop_after_epochs: int | None = None,
    callback: Callable[[dict[str, Any]], None] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    show_progress: bool = True,
) -> ClassifierResult:
    """Train a head on the frozen encoder of ``encoder_dir`` (see the module docstring); checkpoint to ``out_dir``.

    ``resume``, ``device``, ``data_root``, ``stop_after_epochs``, ``callback``, ``on_epoch`` and ``show_progress``
    behave as in :func:`rrlib.train.encoder.train_encoder` (an extended run evaluates the epoch that ended the
    shorter one, which the straight run may skip when ``eval_every > 1``; the weights are the same). Raises
    :class:`rrlib.train.checkpoint.CheckpointError` for an encoder folder without a finished checkpoint (or a
    damaged one) and ``ValueError`` when the encoder was trained on another dataset; nothing on disk is
    overwritten. ``out_dir`` is a run folder (``rrlib.train.run_folder``), as for the encoder.
    """
    if not isinstance(config, ClassifierConfig):
        raise TypeError(f"config must be a ClassifierConfig, got {type(config).__name__}")
    check_optional_int("stop_after_epochs", stop_after_epochs, 1)
    from rrlib.train.jobs import HeadJob  # the jobs import this module

    return fit(HeadJob(config, Path(encoder_dir)), Path(out_dir), resume=resume, device=device, data_root=data_root,
               stop_after_epochs=stop_after_epochs, callback=callback, on_epoch=on_epoch, show_progress=show_progress)


def load_classifier(out_dir: str | os.PathLike, encoder_dir: str | os.PathLike | None = None, *,
                    device: str | torch.device = "cpu", best: bool = False) -> ClassifierResult:
    """Rebuild ``h∘g`` from a classifier folder (``best=True``: the best / E.S. head) with its history.

    The encoder folder defaults to the one recorded at training time; its weights must be unchanged.
    """
    out_dir = Path(out_dir)
    remedy = "train it with rrlib.train.downstream.train_classifier(...) (command line: train-classifier)"
    saved = read_checkpoint(out_dir / CHECKPOINT_FILE, kind=KIND, remedy=remedy, map_location=select_device(device))
    config = ClassifierConfig(**saved["config"])
    enc_dir = Path(encoder_dir if encoder_dir is not None else saved["encoder_dir"])
    dev = select_device(device)
    encoder = _load_frozen_encoder(enc_dir, config.dataset, dev)
    if _fingerprint(encoder) != saved["encoder_fingerprint"]:
        raise ValueError(f"the encoder in {enc_dir} is not the one {out_dir} was trained on")
    head = build_head(config.head, encoder.rep_dim, get_spec(config.dataset).n_classes)
    if best and saved["best_head"] is None:
        raise ValueError(f"{out_dir} has no best head (val_size = 0 or no evaluated epoch)")
    head.load_state_dict(saved["best_head"] if best else saved["head"])
    model = FrozenEncoderClassifier(encoder, head.to(dev)).eval()
    return ClassifierResult(config, model, list(saved["history"]), bool(saved["finished"]), saved["best_head"],
                            enc_dir, out_dir)


# ----------------------------------------------------------------------------------------------------- trials
def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof = 1``; 0 for a single value), as the tables' "mean ± std".

    >>> [round(v, 4) for v in mean_std([0.5, 0.7])]
    [0.6, 0.1414]
    """
    from rrlib.stats import mean_sd

    return mean_sd(values, of_one=0.0)


@dataclass
class TrialSummary:
    """One configuration over several seeds: per-seed results and mean ± std of the test accuracies."""

    seeds: list[int]
    results: list[ClassifierResult] = field(repr=False)

    def summary(self) -> dict[str, tuple[float, float]]:
        """``{"final_nat_acc": (mean, std), "final_adv_acc": ..., "best_nat_acc": ..., "best_adv_acc": ...}``."""
        out = {f"final_{k}": mean_std([r.final[k] for r in self.results]) for k in ("nat_acc", "adv_acc")}
        if all(r.best is not None for r in self.results):
            out.update({f"best_{k}": mean_std([r.best[k] for r in self.results])  # type: ignore[index]
                        for k in ("nat_acc", "adv_acc")})
        return out


def run_trials(config: ClassifierConfig, encoder_dir: str | os.PathLike, out_root: str | os.PathLike,
               seeds: Sequence[int] = (0, 1, 2, 3), **kwargs: Any) -> TrialSummary:
    """:func:`train_classifier` once per seed (``config`` with ``seed`` replaced) in ``out_root/seed-<s>``."""
    seeds = list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a non-empty list of distinct integers, got {seeds!r}")
    results = [train_classifier(replace(config, seed=s), encoder_dir, Path(out_root) / f"seed-{s}", **kwargs)
               for s in seeds]
    return TrialSummary(seeds, results)
