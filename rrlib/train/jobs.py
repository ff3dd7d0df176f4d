"""The jobs of the one loop (:func:`rrlib.train.fit.fit`): what each kind of training builds, steps and evaluates.

* :class:`SupervisedJob` — a classifier on images, cross-entropy on clean or PGD batches (Madry et al. 2018), run by
  :func:`rrlib.train.supervised.train_model`;
* :class:`EncoderJob` — an encoder g and its critic by DV mutual-information maximisation, ``normal`` (DIM) or
  ``worst`` (Eq. 5.4, Algorithm 1 on each batch), run by :func:`rrlib.train.encoder.train_encoder`; a new encoder
  objective is a subclass replacing :meth:`EncoderJob.step`: :class:`InfoNCEEncoderJob` (``worst-infonce``: Eq. 5.4
  with InfoNCE) and :class:`ContrastiveJob` (``adv-contrastive``: RoCL-style adversarial contrastive learning);
  :func:`encoder_job` picks the job of a configuration;
* :class:`HeadJob` — a head h on a frozen encoder, standard or robust (PGD on ``h∘g``), with the best (E.S.) head
  kept, run by :func:`rrlib.train.downstream.train_classifier`.

Each keeps the checkpoint entries its kind has always had, so checkpoints written before the one loop resume.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rrlib import distributed as dist
from rrlib.attacks import ThreatModel
from rrlib.data import ImageDataset, get_spec, make_loader
from rrlib.mi.bounds import infonce
from rrlib.models import build_model
from rrlib.models.heads import build_head
from rrlib.runtime import seeded
from rrlib.train import contrastive
from rrlib.train import downstream as heads
from rrlib.train import encoder as encoders
from rrlib.train.downstream import (
    ClassifierConfig,
    ClassifierResult,
    FrozenEncoderClassifier,
    evaluate_classifier,
    head_step,
)
from rrlib.train.encoder import (
    ContrastiveConfig,
    EncoderConfig,
    EncoderResult,
    encoder_step,
    heldout_mi,
    split_batch_step,
)
from rrlib.train.fit import Job, StepOutput
from rrlib.train.supervised import TrainConfig, TrainResult, autocast_context, evaluate, format_record, load_data

__all__ = ["ContrastiveJob", "EncoderJob", "HeadJob", "InfoNCEEncoderJob", "SupervisedJob", "encoder_job",
           "supervised_step"]


# ----------------------------------------------------------------------------------------------------- supervised
def _needs_scaler(device: torch.device, enabled: bool) -> bool:
    return enabled and device.type == "cuda" and not torch.cuda.is_bf16_supported()


def _make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )


def _make_scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer):
    if config.lr_step_epochs is None:
        return None
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_step_epochs, gamma=config.lr_gamma)


def _attack(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, threat: ThreatModel, device: torch.device, amp: bool
) -> torch.Tensor:
    from rrlib import attacks  # looked up at call time, so that tests can spy on adversarial_examples

    with autocast_context(device, amp):
        return attacks.adversarial_examples(model, x, y, threat)


def supervised_step(model: nn.Module, net: nn.Module, optimizer: torch.optim.Optimizer,
                    scaler: torch.amp.GradScaler, x: torch.Tensor, y: torch.Tensor, threat: ThreatModel | None,
                    device: torch.device, amp: bool, *, global_batch: int | None = None) -> tuple[float, int, float]:
    """One optimiser step of supervised training: CE on ``x`` (standard) or on PGD examples of ``model`` (``threat``).

    ``net`` is ``model`` or its DDP wrapper. Returns ``(summed CE over the batch in nats, number correct, the step's
    loss for the callback)``. In a data-parallel run ``x`` is this rank's share of a batch of ``global_batch`` images:
    the loss is this rank's share of the batch mean, ``Σ_local CE × world size / global_batch``, DDP averages the
    gradients and the sums returned are those of the whole batch.
    """
    if threat is not None:
        x = _attack(model, x, y, threat, device, amp)
    with autocast_context(device, amp):
        logits = net(x)
        if global_batch is not None:  # this rank's share of the batch mean; DDP averages over the ranks
            loss = F.cross_entropy(logits.float(), y, reduction="sum") * (dist.world_size() / global_batch)
        else:
            loss = F.cross_entropy(logits.float(), y)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    if global_batch is None:
        return float(loss.detach()) * len(y), int((logits.argmax(1) == y).sum()), float(loss.detach())
    loss_sum, correct = dist.sum_values([float(loss.detach()) * global_batch / dist.world_size(),
                                         int((logits.argmax(1) == y).sum())])
    return loss_sum, round(correct), loss_sum / global_batch


class SupervisedJob(Job):
    """Supervised training of ``config`` as a :class:`rrlib.train.fit.Job` (its checkpoint: ``model``,
    ``optimizer``, ``scheduler``, ``scaler`` and the progress under ``"state"``, as before the one loop)."""

    folder_kind = checkpoint_kind = "supervised"
    kind_optional = True  # supervised checkpoints written before the one loop carry no "kind"
    state_key = "state"
    metrics_unfinished = True
    what = "a supervised model"

    def __init__(self, config: TrainConfig, data: tuple[ImageDataset, ImageDataset] | None = None,
                 data_root: str | os.PathLike | None = None) -> None:
        super().__init__(config)
        self.data, self.data_root = data, data_root

    def build(self, device: torch.device) -> None:
        c = self.config
        self.device = device
        self.model = build_model(c.model, c.dataset, head=c.head, width=c.width).to(device)
        self.net = self.model
        self.optimizer = _make_optimizer(c, self.model)
        self.scheduler = _make_scheduler(c, self.optimizer)
        self.scaler = torch.amp.GradScaler("cuda", enabled=_needs_scaler(device, c.amp))

    def entries(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {}}

    def load(self, saved: dict[str, Any], path: Path, device: torch.device) -> None:
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        if self.scheduler is not None and saved.get("scheduler") is not None:
            self.scheduler.load_state_dict(saved["scheduler"])
        if saved.get("scaler"):
            self.scaler.load_state_dict(saved["scaler"])

    def prepare(self, device: torch.device, data_root: str | os.PathLike | None) -> Any:
        c = self.config
        self.train_set, self.test_set = self.data if self.data is not None else load_data(c, self.data_root)
        spec = get_spec(c.dataset)
        if tuple(self.train_set.images.shape[1:]) != spec.shape:
            raise ValueError(f"training images have shape {tuple(self.train_set.images.shape[1:])}, but dataset "
                             f"{c.dataset!r} has {spec.shape}")
        if dist.is_distributed():
            dist.check_last_batch(len(self.train_set), c.batch_size)
        self.train_threat, self.eval_threat = c.train_threat(), c.eval_threat()
        return make_loader(self.train_set, c.batch_size, shuffle=True, seed=c.seed, augment=c.augment)

    def wrap(self, device: torch.device) -> None:
        self.net = dist.wrap(self.model, device)

    def start_epoch(self, epoch: int) -> None:
        self.net.train()

    def step(self, batch: tuple[torch.Tensor, torch.Tensor], epoch: int, step: int, global_step: int) -> StepOutput:
        x, y = batch
        n_batch, dev = len(y), self.device
        distributed = dist.is_distributed()
        if distributed:
            x, y = dist.shard(x, y)
            dist.seed_step(self.config.seed, global_step)
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        loss_sum, correct, loss = supervised_step(self.model, self.net, self.optimizer, self.scaler, x, y,
                                                  self.train_threat, dev, self.config.amp,
                                                  global_batch=n_batch if distributed else None)
        info = {"epoch": epoch, "step": step + 1, "global_step": global_step + 1, "loss": loss}
        return StepOutput(loss_sum, correct, n_batch, info)

    def end_epoch(self, epoch: int, sums: dict[str, Any]) -> dict[str, Any]:
        if self.scheduler is not None:
            self.scheduler.step()
        return {"train_loss": sums["loss"] / sums["seen"], "train_acc": sums["correct"] / sums["seen"],
                "lr": self.optimizer.param_groups[0]["lr"]}

    def evaluates(self, epochs_done: int) -> bool:
        return epochs_done % self.config.eval_every == 0 or epochs_done == self.config.epochs

    def evaluate(self, epochs_done: int) -> dict[str, Any]:
        return evaluate(self.model, self.test_set, threat=self.eval_threat, device=self.device, amp=self.config.amp)

    def log_line(self, record: dict[str, Any]) -> str | None:
        return format_record(record, self.config.epochs) if "nat_acc" in record else None

    def result(self, state: dict[str, Any], checkpoint: Path | None) -> TrainResult:
        self.model.eval()
        return TrainResult(self.config, self.model, list(state["history"]), bool(state["finished"]),
                           int(state["global_step"]), checkpoint)

    @property
    def desc(self) -> str:
        return f"train {self.config.model} ({'adversarial' if self.config.adversarial else 'standard'})"


# ----------------------------------------------------------------------------------------------------- encoder
def _finite_step(key: str, what: str, value: float, n_batch: int, epoch: int, step: int) -> StepOutput:
    """The :class:`StepOutput` of an unsupervised step whose per-image ``value`` is ``what`` (recorded as ``key``);
    a non-finite value raises ``FloatingPointError`` before anything of the epoch is written."""
    if not math.isfinite(value):
        raise FloatingPointError(f"{what} diverged at epoch {epoch + 1}, step {step} ({value}); "
                                 "lower lr (nothing was written for this epoch)")
    return StepOutput(value * n_batch, 0, n_batch, {"epoch": epoch, "step": step, key: value})


class EncoderJob(Job):
    """Encoder training (``normal`` or ``worst``) as a :class:`rrlib.train.fit.Job`: its checkpoint holds ``encoder``,
    ``critic``, ``optimizer`` and the progress at the top level (as before the one loop). A new objective is a
    subclass that replaces :meth:`step` (and, if it must, :meth:`build`)."""

    folder_kind = "encoder"
    checkpoint_kind = encoders.KIND
    ignore = ("epochs",)
    what = "an encoder"

    def build(self, device: torch.device) -> None:
        self.device = device
        self.encoder, self.critic = encoders._build(self.config)
        self.encoder.to(device)
        self.critic.to(device)
        self.optimizer = torch.optim.Adam([*self.encoder.parameters(), *self.critic.parameters()], lr=self.config.lr)

    def entries(self) -> dict[str, Any]:
        return {"encoder": self.encoder.state_dict(), "critic": self.critic.state_dict(),
                "optimizer": self.optimizer.state_dict()}

    def load(self, saved: dict[str, Any], path: Path, device: torch.device) -> None:
        self.encoder.load_state_dict(saved["encoder"])
        self.critic.load_state_dict(saved["critic"])
        self.optimizer.load_state_dict(saved["optimizer"])

    def prepare(self, device: torch.device, data_root: str | os.PathLike | None) -> Any:
        c = self.config
        train_set = encoders._images(c.dataset, "train", c.train_subset, c.seed, data_root)
        spec_shape = get_spec(c.dataset).shape
        if tuple(train_set.images.shape[1:]) != spec_shape:
            raise ValueError(f"images of shape {tuple(train_set.images.shape[1:])} do not match {c.dataset!r} "
                             f"{spec_shape}")
        loader = make_loader(train_set, c.batch_size, shuffle=True, seed=c.seed, drop_last=True)
        if len(loader) == 0:
            raise ValueError(f"{len(train_set)} training images make no full batch of batch_size={c.batch_size}")
        self.heldout = encoders._heldout_batches(c, data_root, device)
        self.threat = c.threat()
        self.train_threat = self.threat if c.estimator_loss == "worst" else None
        return loader

    def wrap(self, device: torch.device) -> None:
        if dist.is_distributed():
            from rrlib.train.ddp_mi import JointDV

            self.joint = dist.wrap(JointDV(self.encoder, self.critic), device)

    def step(self, batch: tuple[torch.Tensor, torch.Tensor], epoch: int, step: int, global_step: int) -> StepOutput:
        x = batch[0]  # labels are never read
        if dist.is_distributed():
            dist.seed_step(self.config.seed, epoch, step)
            value = split_batch_step(self.joint, self.encoder, self.critic, self.optimizer,
                                     dist.shard(x)[0].to(self.device), self.train_threat)
        else:
            value = encoder_step(self.encoder, self.critic, self.optimizer, x.to(self.device, non_blocking=True),
                                 self.train_threat)
        return _finite_step("dv", "the DV estimate", value, x.shape[0], epoch, step)

    def end_epoch(self, epoch: int, sums: dict[str, Any]) -> dict[str, Any]:
        return {"train_dv": sums["loss"] / sums["seen"]}

    def evaluate(self, epochs_done: int) -> dict[str, Any]:
        normal, worst = dist.from_main(lambda: heldout_mi(self.encoder, self.critic, self.heldout, self.threat))
        return {"heldout_mi_normal": normal, "heldout_mi_worst": worst, "heldout_rv": normal - worst}

    def result(self, state: dict[str, Any], checkpoint: Path | None) -> EncoderResult:
        self.encoder.eval()
        self.critic.eval()
        out_dir = None if checkpoint is None else checkpoint.parent
        return EncoderResult(self.config, self.encoder, self.critic, list(state["history"]), bool(state["finished"]),
                             out_dir)

    @property
    def desc(self) -> str:
        return f"encoder ({self.config.estimator_loss})"


class InfoNCEEncoderJob(EncoderJob):
    """``worst-infonce``: Eq. (5.4) with :func:`rrlib.mi.bounds.infonce` in place of DV — Algorithm 1 lowers the
    critic's InfoNCE estimate and the step ascends InfoNCE on the attacked batch
    (:func:`~rrlib.train.encoder.encoder_step` with ``bound=infonce``). The record: ``train_infonce``, the
    held-out DV numbers of the other objectives (same critic, Algorithm 1 lowering DV) and the held-out InfoNCE ones
    (``heldout_infonce_normal`` / ``_worst``; InfoNCE ≤ log batch size)."""

    def prepare(self, device: torch.device, data_root: str | os.PathLike | None) -> Any:
        if dist.is_distributed():
            raise ValueError("estimator_loss 'worst-infonce' runs in one process only (the data-parallel bound is "
                             "DV's); run it without torchrun")
        loader = super().prepare(device, data_root)
        self.train_threat = self.threat
        return loader

    def step(self, batch: tuple[torch.Tensor, torch.Tensor], epoch: int, step: int, global_step: int) -> StepOutput:
        x = batch[0]  # labels are never read
        value = encoder_step(self.encoder, self.critic, self.optimizer, x.to(self.device, non_blocking=True),
                             self.train_threat, bound=infonce)
        return _finite_step("infonce", "the InfoNCE estimate", value, x.shape[0], epoch, step)

    def end_epoch(self, epoch: int, sums: dict[str, Any]) -> dict[str, Any]:
        return {"train_infonce": sums["loss"] / sums["seen"]}

    def evaluate(self, epochs_done: int) -> dict[str, Any]:
        record = super().evaluate(epochs_done)
        normal, worst = heldout_mi(self.encoder, self.critic, self.heldout, self.threat, bound=infonce)
        return {**record, "heldout_infonce_normal": normal, "heldout_infonce_worst": worst}


class ContrastiveJob(EncoderJob):
    """``adv-contrastive`` (``rrlib.train.contrastive``): per batch two views, the instance-wise PGD adversary on
    the first, one Adam step on encoder and projection head. The checkpoint holds ``encoder``, ``critic`` (its
    untouched initialisation, so that every encoder checkpoint reads alike), ``projection_head`` and ``optimizer``
    (of encoder and head). Views and the adversary's random start come from generators seeded by ``(seed, epoch,
    step)``, so an interrupted run resumes bit for bit. The record: ``train_loss`` (``L``, nats) and the held-out
    NT-Xent of clean and of attacked view pairs."""

    def build(self, device: torch.device) -> None:
        c = self.config
        self.device = device
        self.encoder, self.critic = encoders._build(c)
        self.head = seeded(lambda: contrastive.ProjectionHead(c.rep_dim, c.projection_dim), c.seed + 2)
        for module in (self.encoder, self.critic, self.head):
            module.to(device)
        self.optimizer = torch.optim.Adam([*self.encoder.parameters(), *self.head.parameters()], lr=c.lr)

    def entries(self) -> dict[str, Any]:
        return {**super().entries(), "projection_head": self.head.state_dict()}

    def load(self, saved: dict[str, Any], path: Path, device: torch.device) -> None:
        super().load(saved, path, device)
        self.head.load_state_dict(saved["projection_head"])

    def prepare(self, device: torch.device, data_root: str | os.PathLike | None) -> Any:
        if dist.is_distributed():
            raise ValueError("estimator_loss 'adv-contrastive' runs in one process only; run it without torchrun")
        return super().prepare(device, data_root)

    def step(self, batch: tuple[torch.Tensor, torch.Tensor], epoch: int, step: int, global_step: int) -> StepOutput:
        c = self.config
        x = batch[0].to(self.device, non_blocking=True)  # labels are never read
        loss = contrastive.training_step(self.encoder, self.head, self.optimizer, x, self.threat, c.temperature,
                                         c.adv_weight, c.seed, epoch, step)
        return _finite_step("loss", "the contrastive loss", loss, x.shape[0], epoch, step)

    def end_epoch(self, epoch: int, sums: dict[str, Any]) -> dict[str, Any]:
        return {"train_loss": sums["loss"] / sums["seen"]}

    def evaluate(self, epochs_done: int) -> dict[str, Any]:
        clean, attacked = contrastive.heldout_contrastive(self.encoder, self.head, self.heldout, self.threat,
                                                          self.config.temperature)
        return {"heldout_ntxent": clean, "heldout_ntxent_adv": attacked}

    def result(self, state: dict[str, Any], checkpoint: Path | None) -> EncoderResult:
        self.head.eval()
        return super().result(state, checkpoint)


def encoder_job(config: EncoderConfig) -> EncoderJob:
    """The job that trains ``config``: :class:`ContrastiveJob` for a :class:`~rrlib.train.encoder.ContrastiveConfig`,
    :class:`InfoNCEEncoderJob` for ``worst-infonce``, :class:`EncoderJob` for ``normal`` and ``worst``."""
    if isinstance(config, ContrastiveConfig):
        return ContrastiveJob(config)
    if config.estimator_loss == "worst-infonce":
        return InfoNCEEncoderJob(config)
    return EncoderJob(config)


# ----------------------------------------------------------------------------------------------------- head
class HeadJob(Job):
    """Training a head on a frozen encoder as a :class:`rrlib.train.fit.Job`: its checkpoint holds ``head``,
    ``optimizer``, ``best_head``, the encoder's folder and fingerprint and the progress at the top level (as before
    the one loop)."""

    folder_kind = "head"
    checkpoint_kind = heads.KIND
    ignore = ("epochs",)
    what = "a classifier"

    def __init__(self, config: ClassifierConfig, encoder_dir: Path) -> None:
        super().__init__(config)
        self.encoder_dir = encoder_dir
        self.best_head: dict[str, torch.Tensor] | None = None

    def setup(self, device: torch.device) -> None:
        self.encoder = heads._load_frozen_encoder(self.encoder_dir, self.config.dataset, device)
        self.fingerprint = heads._fingerprint(self.encoder)

    def build(self, device: torch.device) -> None:
        c = self.config
        self.device = device
        n_classes = get_spec(c.dataset).n_classes
        self.head = seeded(lambda: build_head(c.head, self.encoder.rep_dim, n_classes), c.seed).to(device)
        self.wrapped = self.head
        self.model = FrozenEncoderClassifier(self.encoder, self.head)
        self.optimizer = torch.optim.Adam(self.head.parameters(), lr=c.lr)

    def entries(self) -> dict[str, Any]:
        return {"encoder_dir": str(self.encoder_dir), "encoder_fingerprint": self.fingerprint,
                "head": self.head.state_dict(), "optimizer": self.optimizer.state_dict(), "best_head": self.best_head}

    def load(self, saved: dict[str, Any], path: Path, device: torch.device) -> None:
        if saved.get("encoder_fingerprint") != self.fingerprint:
            raise ValueError(f"{path} was trained on another encoder than the one now in {self.encoder_dir}; use "
                             "another out_dir (nothing was overwritten)")
        self.head.load_state_dict(saved["head"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.best_head = saved["best_head"]
        if dist.is_distributed() and self.best_head is not None:
            self.best_head = {k: v.to(device) for k, v in self.best_head.items()}

    def prepare(self, device: torch.device, data_root: str | os.PathLike | None) -> Any:
        c = self.config
        fit_set, val, test = heads._splits(c, data_root)
        if len(fit_set) < c.batch_size:
            raise ValueError(f"{len(fit_set)} training images (after the validation split) make no full batch of "
                             f"batch_size={c.batch_size}")
        self.val = None if val is None else tuple(t.to(device) for t in val.tensors())
        self.test = tuple(t.to(device) for t in test.tensors())
        self.threat = c.threat()
        self.train_threat = self.threat if c.classifier_loss == "robust" else None
        return make_loader(fit_set, c.batch_size, shuffle=True, seed=c.seed, drop_last=True)

    def wrap(self, device: torch.device) -> None:
        self.wrapped = dist.wrap(self.head, device)  # DDP in a distributed run; ``head`` itself otherwise

    def step(self, batch: tuple[torch.Tensor, torch.Tensor], epoch: int, step: int, global_step: int) -> StepOutput:
        x, y = batch
        dev = self.device
        if dist.is_distributed():
            n_batch, world = len(y), dist.world_size()
            dist.seed_step(self.config.seed, epoch, step)
            x, y = (t.to(dev) for t in dist.shard(x, y))
            share, right = head_step(self.model, self.optimizer, x, y, self.train_threat, head=self.wrapped,
                                     global_batch=n_batch)
            batch_sum, right = dist.sum_values([share * n_batch / world, right])
            return StepOutput(batch_sum, round(right), n_batch,
                              {"epoch": epoch, "step": step, "loss": batch_sum / n_batch})
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        loss, right = head_step(self.model, self.optimizer, x, y, self.train_threat)
        return StepOutput(loss * len(y), right, len(y), {"epoch": epoch, "step": step, "loss": loss})

    def end_epoch(self, epoch: int, sums: dict[str, Any]) -> dict[str, Any]:
        return {"train_loss": sums["loss"] / sums["seen"], "train_acc": sums["correct"] / sums["seen"]}

    def evaluates(self, epochs_done: int) -> bool:
        return epochs_done % self.config.eval_every == 0 or epochs_done == self.config.epochs

    def evaluate(self, epochs_done: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.val is not None:
            out.update({f"val_{k}": v for k, v in evaluate_classifier(self.model, *self.val, self.threat).items()})
        out.update({f"test_{k}": v for k, v in evaluate_classifier(self.model, *self.test, self.threat).items()})
        return out

    def after_record(self, history: list[dict[str, Any]]) -> None:
        if self.val is not None and heads._best_index(history) == len(history) - 1:
            self.best_head = {k: v.detach().clone() for k, v in self.head.state_dict().items()}

    def result(self, state: dict[str, Any], checkpoint: Path | None) -> ClassifierResult:
        self.model.eval()
        out_dir = None if checkpoint is None else checkpoint.parent
        return ClassifierResult(self.config, self.model, list(state["history"]), bool(state["finished"]),
                                self.best_head, self.encoder_dir, out_dir)

    @property
    def desc(self) -> str:
        return f"head {self.config.head} ({self.config.classifier_loss})"
