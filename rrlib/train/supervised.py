"""Supervised training of a classifier, standard or PGD-adversarial (Madry et al. 2018), resumable and cached.

Standard training minimises the cross-entropy on clean batches. Adversarial training minimises it on
ℓ∞-PGD examples (the inner maximisation of min_θ E max_{‖δ‖∞≤ε} CE(f_θ(x + δ), y)), generated against the
current model in eval mode with the dataset's threat model (supplement D.1) or an ε override; the outer step
runs in train mode (BN statistics from adversarial batches), as in the paper's code.

Optimisers (supplement D.1): Adam with lr 1e-4 and no weight decay for Baseline-H; SGD (momentum 0.9, weight
decay 5e-4) with lr 0.1 divided by 10 every 50 epochs for the CIFAR networks (:func:`paper_config`).

Determinism and resumption. The order of batches is a function of (seed, epoch) and augmentation of
(seed, epoch, step) (:class:`rrlib.data.BatchLoader`); the only other randomness (dropout) comes from torch's
global RNG, whose state is saved in every checkpoint together with the model, optimiser, scheduler, the epoch,
the step within the epoch and the epoch's running sums. A run that is killed and restarted from its last
checkpoint therefore ends with the same weights and metrics as an uninterrupted run (bit for bit on the CPU).

Mixed precision (``amp=True``) applies on CUDA only: autocast to bfloat16 where supported (else float16 with a
GradScaler); on the CPU it is a no-op.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rrlib import distributed as dist
from rrlib.attacks import ThreatModel, evaluate_accuracy
from rrlib.data import (
    AUGMENTATIONS,
    PAPER_BATCH_SIZE,
    ImageDataset,
    canonical_name,
    get_spec,
    load_dataset,
    make_loader,
    resolve_threat,
    subset,
)
from rrlib.models import HEADS, MODELS, build_model
from rrlib.runtime import select_device
from rrlib.train.cache import canonical_json, config_hash, entry_dir
from rrlib.train.checkpoint import read_checkpoint
from rrlib.train.fit import CHECKPOINT_FILE, TIMING_KEYS, fit
from rrlib.train.run_folder import METRICS_FILE as METRICS_FILE  # re-exported: the file names live in run_folder
from rrlib.validation import check_bool, check_int, check_int_fields, check_nonnegative_float

__all__ = ["CHECKPOINT_FILE", "METRICS_FILE", "OPTIMIZERS", "TIMING_KEYS", "TrainConfig",
           "TrainResult", "autocast_context", "evaluate", "format_record", "load_data", "load_trained", "paper_config",
           "train_cached", "train_model"]


OPTIMIZERS = ("adam", "sgd")


def _positive_int(name: str, value: Any, *, allow_none: bool = False) -> None:
    check_int(name, value, 1, what="a positive integer", allow_none=allow_none)


def _nonneg_float(name: str, value: Any, *, allow_none: bool = False) -> None:
    check_nonnegative_float(name, value, what="a finite non-negative number", allow_none=allow_none)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run's numbers (the cache key); see :func:`paper_config`.

    The attack is ``eps``, ``steps``, ``step_size`` (``None``: the dataset's, supplement D.1), resolved by the one
    :func:`rrlib.data.resolve_threat`. ``adversarial`` trains on PGD examples of that attack (ℓ∞); otherwise
    training is standard. Evaluation after every ``eval_every`` epochs reports natural accuracy and, when
    ``eval_adversarial``, PGD accuracy at radius ``eval_eps`` (default: the dataset's ε, so that models trained at
    different ``eps`` are scored alike; for a dataset without one in the paper, ``eps``), with the same steps and
    step size. ``train_subset`` and ``test_subset`` take class-stratified random subsets (the test subset is always
    drawn with seed 0, so runs with different seeds are scored on the same images).

    >>> TrainConfig(dataset="fmnist", adversarial=True, eps=0.2).train_threat().eps
    0.2
    """

    dataset: str = "fashion-mnist"
    model: str = "baseline_h"
    head: str | None = None
    width: float | None = None
    epochs: int = 1
    batch_size: int = PAPER_BATCH_SIZE
    optimizer: str = "adam"
    lr: float = 1e-4
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_step_epochs: int | None = None
    lr_gamma: float = 0.1
    adversarial: bool = False
    eps: float | None = None
    steps: int | None = None
    step_size: float | None = None
    eval_eps: float | None = None
    eval_adversarial: bool = True
    eval_every: int = 1
    train_subset: int | None = None
    test_subset: int | None = None
    augment: str | None = None
    seed: int = 0
    amp: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "dataset", canonical_name(self.dataset))
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; valid choices: {MODELS}")
        if self.model == "baseline_h":
            if self.head is not None and self.head not in HEADS:
                raise ValueError(f"unknown head {self.head!r}; valid choices: {HEADS}")
        elif self.head is not None or self.width is not None:
            raise ValueError(
                f"model {self.model!r} takes no head or width (got {self.head!r}, {self.width!r})"
            )
        if self.width is not None and not (isinstance(self.width, (int, float)) and self.width > 0):
            raise ValueError(f"width must be a positive number or None, got {self.width!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid choices: {OPTIMIZERS}")
        check_int_fields(self, ("epochs", "batch_size", "eval_every"), what="a positive integer")
        check_int_fields(self, ("lr_step_epochs", "steps", "train_subset", "test_subset"),
                         what="a positive integer", allow_none=True)
        for name in ("lr", "momentum", "weight_decay", "lr_gamma"):
            _nonneg_float(name, getattr(self, name))
        for name in ("eps", "step_size", "eval_eps"):
            _nonneg_float(name, getattr(self, name), allow_none=True)
        check_bool("adversarial", self.adversarial)
        check_int("seed", self.seed, 0, what="a non-negative integer")
        if self.augment is not None and self.augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augment {self.augment!r}; valid choices: {[None, *AUGMENTATIONS]}")
        # Resolve the threat models now, so that a missing setting fails at construction.
        if self.adversarial:
            self.train_threat()
        if self.eval_adversarial:
            self.eval_threat()

    def train_threat(self) -> ThreatModel | None:
        """The PGD used to make training examples (``None`` for standard training)."""
        return resolve_threat(self.dataset, self.eps, self.steps, self.step_size) if self.adversarial else None

    def eval_threat(self) -> ThreatModel | None:
        """The PGD used for adversarial evaluation (``None`` when ``eval_adversarial`` is off): radius ``eval_eps``,
        else the dataset's ε, else ``eps``."""
        if not self.eval_adversarial:
            return None
        eps = self.eval_eps
        if eps is None and get_spec(self.dataset).threat is None:
            eps = self.eps  # no paper ε for this dataset: evaluate at the attack's ε
        return resolve_threat(self.dataset, eps, self.steps, self.step_size, names={"eps": "eval_eps"})

    def to_json(self) -> str:
        """The canonical JSON of this configuration (:func:`rrlib.train.cache.canonical_json`)."""
        return canonical_json(self)


def paper_config(
    dataset: str, model: str = "baseline_h", *, adversarial: bool = False, **overrides: Any
) -> TrainConfig:
    """The paper's training recipe (supplement D.1) for ``model`` on ``dataset``, with ``overrides``.

    Baseline-H: Adam, lr 1e-4 constant, 300 epochs, MLP head. CIFAR networks: SGD (momentum 0.9, weight decay
    5e-4), lr 0.1 ÷10 every 50 epochs, 200 epochs. CIFAR-10 gets the official augmentation. ``adversarial``
    trains with the dataset's ε, written into the configuration (override with ``eps=``).
    """
    key = canonical_name(dataset)
    base: dict[str, Any] = {"dataset": key, "model": model}
    if model == "baseline_h":
        base.update(head="mlp", optimizer="adam", lr=1e-4, epochs=300)
    else:
        base.update(
            optimizer="sgd",
            lr=0.1,
            momentum=0.9,
            weight_decay=5e-4,
            lr_step_epochs=50,
            lr_gamma=0.1,
            epochs=200,
        )
    if key == "cifar10":
        base["augment"] = "cifar"
    if adversarial:
        threat = get_spec(key).threat  # a dataset without one: the config's resolver names what to give
        base.update(adversarial=True, eps=None if threat is None else threat.eps)
    base.update(overrides)
    return TrainConfig(**base)


@dataclass
class TrainResult:
    """A trained (or partially trained) model and its per-epoch metrics."""

    config: TrainConfig
    model: nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    finished: bool = False
    global_step: int = 0
    checkpoint: Path | None = None

    @property
    def final(self) -> dict[str, float]:
        """The last epoch's record (``{}`` before the first epoch ends)."""
        return dict(self.history[-1]) if self.history else {}

    def metrics(self) -> dict[str, Any]:
        """A JSON-able summary: configuration, hash, history, final record."""
        return {
            "config": asdict(self.config),
            "config_hash": config_hash(self.config),
            "finished": self.finished,
            "global_step": self.global_step,
            "history": self.history,
            "final": self.final,
        }


def autocast_context(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
    """Autocast to bfloat16 (float16 where bf16 is unsupported) on CUDA; a no-op elsewhere or if disabled."""
    if not enabled or device.type != "cuda":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)


def evaluate(
    model: nn.Module,
    data: ImageDataset,
    *,
    threat: ThreatModel | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 500,
    amp: bool = False,
) -> dict[str, float]:
    """Natural (and, with ``threat``, PGD) accuracy and mean cross-entropy (nats) of ``model`` on ``data``, by the one
    evaluator :func:`rrlib.attacks.evaluate_accuracy` (its ``natural_accuracy`` / ``adversarial_accuracy`` are this
    history's ``nat_acc`` / ``adv_acc``).

    The model is evaluated in eval mode and its train/eval mode restored afterwards. ``device`` defaults
    to the model's. Returns ``{"nat_acc", "nat_loss"[, "adv_acc", "adv_loss"]}``; accuracies in [0, 1].
    In a distributed run (``rrlib.distributed``) every rank scores its contiguous share of ``data`` and the
    sums are added over the ranks: the same counts as one process, the losses up to the order of the sums.
    """
    dev = next(model.parameters()).device if device is None else select_device(device)
    part = data
    if dist.is_distributed():
        mine = dist.shard_range(len(data))
        part = ImageDataset(data.images[mine.start:mine.stop], data.labels[mine.start:mine.stop], scale=data.scale,
                            name=f"{data.name}[rank {dist.rank()}]")
    scored = evaluate_accuracy(model, make_loader(part, batch_size, shuffle=False) if len(part) else (), threat,
                               device=dev, losses=True, autocast=lambda: autocast_context(dev, amp))
    sums = [scored.natural_count, scored.natural_loss, scored.adversarial_count, scored.adversarial_loss or 0.0]
    if dist.is_distributed():
        sums = dist.sum_values(sums)
    n = len(data)
    out = {"nat_acc": sums[0] / n, "nat_loss": sums[1] / n}
    if threat is not None:
        out.update(adv_acc=sums[2] / n, adv_loss=sums[3] / n)
    return out


def load_data(
    config: TrainConfig, root: str | os.PathLike | None = None
) -> tuple[ImageDataset, ImageDataset]:
    """The (train, test) sets of ``config``, subsets applied (train: ``config.seed``; test: seed 0)."""
    train = subset(load_dataset(config.dataset, "train", root=root), config.train_subset, config.seed)
    test = subset(load_dataset(config.dataset, "test", root=root), config.test_subset, 0)
    return train, test


def train_model(
    config: TrainConfig,
    *,
    device: str | torch.device = "auto",
    checkpoint_path: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    checkpoint_seconds: float | None = 300.0,
    max_steps: int | None = None,
    callback: Callable[[dict[str, Any]], None] | None = None,
    data: tuple[ImageDataset, ImageDataset] | None = None,
    data_root: str | os.PathLike | None = None,
    log: Callable[[str], None] | None = None,
    show_progress: bool = True,
) -> TrainResult:
    """Train ``config``'s model; resume from ``checkpoint_path`` when it holds an unfinished run.

    Args:
        checkpoint_path:
            Where the atomic checkpoint lives (``None``: no checkpoints, no resumption). It is written at the
            end of every epoch, every ``checkpoint_every`` optimiser steps and at least every
            ``checkpoint_seconds``.
        max_steps:
            Stop after this many optimiser steps in total (counting those before a resume) and return an
            unfinished result; rerunning with a larger or no ``max_steps`` continues.
        callback:
            Called after every optimiser step with ``{"epoch", "step", "global_step", "loss"}``; an exception it
            raises aborts training *without* a final checkpoint (as a crash would).
        data:
            ``(train, test)`` datasets to use instead of loading ``config.dataset`` (subsets are not re-applied).
        log:
            Receives one line per evaluated epoch (e.g. ``print``).

    The loop is :func:`rrlib.train.fit.fit` running a :class:`~rrlib.train.jobs.SupervisedJob`. Under ``torchrun``
    (``rrlib.distributed``) the run is data-parallel: every rank trains on its share of each batch, DDP averages
    the gradients, evaluation is split over the ranks and rank 0 alone writes the checkpoint and logs; the
    checkpoint holds the unwrapped model and resumes with any number of processes.

    The checkpoint's folder is a run folder (``rrlib.train.run_folder``): one run at a time, ``config.json``
    written once the folder and the checkpoint are accepted, ``metrics.json`` written when the call returns (never
    over a finished one of this configuration), a finished run whose checkpoint is gone is not retrained
    (:class:`rrlib.train.run_folder.FinishedRunError`), and a refused run changes nothing.

    Returns a :class:`TrainResult`; ``finished`` is False when ``max_steps`` stopped the run.
    """
    if checkpoint_every is not None:
        check_int("checkpoint_every", checkpoint_every, 1, what="a positive integer")
    if max_steps is not None:
        check_int("max_steps", max_steps, 1, what="a positive integer")
    ckpt = Path(checkpoint_path) if checkpoint_path is not None else None
    from rrlib.train.jobs import SupervisedJob  # the jobs import this module

    return fit(SupervisedJob(config, data, data_root), None if ckpt is None else ckpt.parent, checkpoint=ckpt,
               device=device, max_steps=max_steps, checkpoint_every=checkpoint_every,
               checkpoint_seconds=checkpoint_seconds, callback=callback, log=log, show_progress=show_progress)


def format_record(record: dict[str, float], epochs: int) -> str:
    """One line for an epoch record, accuracies in percent."""
    parts = [
        f"epoch {int(record['epoch'])}/{epochs}",
        f"train loss {record['train_loss']:.4f}",
        f"train acc {100 * record['train_acc']:.2f}%",
    ]
    if "nat_acc" in record:
        parts.append(f"test nat {100 * record['nat_acc']:.2f}%")
    if "adv_acc" in record:
        parts.append(f"test adv {100 * record['adv_acc']:.2f}%")
    parts.append(f"{record['images_per_second']:.0f} img/s")
    return " | ".join(parts)


def train_cached(
    config: TrainConfig,
    *,
    device: str | torch.device = "auto",
    cache_root: str | os.PathLike | None = None,
    **kwargs: Any,
) -> TrainResult:
    """:func:`train_model` with its checkpoint and ``metrics.json`` in the results cache of ``config``.

    A finished entry is loaded without training; an unfinished one (a killed run) resumes from its checkpoint.
    Extra keyword arguments go to :func:`train_model`.
    """
    folder = entry_dir(config, cache_root)
    return train_model(config, device=device, checkpoint_path=folder / CHECKPOINT_FILE, **kwargs)


def load_trained(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> TrainResult:
    """Rebuild the model of a checkpoint written by :func:`train_model` (in eval mode) with its history."""
    saved = read_checkpoint(path, kind=None, map_location=select_device(device),
                            remedy="it is not a checkpoint written by train-model that can be read; train one with "
                            "`python -m rrlib.cli train-model` (it resumes when repeated)")
    config = TrainConfig(**saved["config"])
    model = build_model(config.model, config.dataset, head=config.head, width=config.width)
    model.load_state_dict(saved["model"])
    model.to(select_device(device)).eval()
    state = saved["state"]
    return TrainResult(
        config, model, list(state["history"]), bool(state["finished"]), int(state["global_step"]), Path(path)
    )
