"""Unsupervised training of a representation g by (worst-case) mutual-information maximisation (paper §5).

Four objectives share one loop (``EncoderConfig.estimator_loss``); the paper's two:

* ``"normal"`` — the DIM baseline of Hjelm et al. (2018), the "Hjelm et al." rows of Tables 1, 3–5:
  ``max_{ψ, θ} Î_θ(X; g_ψ(X))`` with the Donsker–Varadhan (MINE) bound :func:`rrlib.mi.bounds.dv` on the
  paper's encode-and-dot-product critic (per-location DV, averaged over locations; REFERENCE.md §3.3–4);
* ``"worst"`` — the paper's Eq. (5.4), the "Ours" rows: ``max_{ψ, θ} min_{μ' ∈ B_W∞(μ, ε)} Î_θ(X'; g_ψ(X'))``.
  Each batch (REFERENCE.md §6, the official ``train_unsup.py`` step): (1) Algorithm 1 — PGD that *lowers* the
  critic's DV estimate, against the current encoder and critic both in eval mode, by the same machinery as the
  worst-case estimator (:func:`rrlib.mi.worst_case.worst_case_batch`: no random start, best batch iterate kept,
  the adversary's gradient flows through ``z = g(x')`` only because the critic's image branch is detached);
  (2) the DV estimate on the attacked batch with encoder and critic in **train** mode (batch-norm statistics
  from adversarial batches); (3) one Adam step on encoder and critic jointly.

and two beyond the paper (issue 20), on the same encoder, data and threat model:

* ``"worst-infonce"`` — Eq. (5.4) with the InfoNCE bound :func:`rrlib.mi.bounds.infonce` in place of DV, in both
  places: Algorithm 1 lowers the critic's (per-location, location-averaged) InfoNCE estimate, and the step ascends the
  InfoNCE estimate of the attacked batch (the official code's ``--va-mode nce``). It separates the worst-case
  principle from the DV bound. Its history keeps the held-out DV numbers of the others (now of a critic trained on
  InfoNCE; DV is a valid lower bound for any critic) and adds the held-out InfoNCE ones.
* ``"adv-contrastive"`` — RoCL-style adversarial contrastive learning (``rrlib.train.contrastive``: two augmented
  views, a projection head, NT-Xent at a temperature, an instance-wise PGD adversary on one view). Its settings are
  those of :class:`ContrastiveConfig`, a subclass of :class:`EncoderConfig` with the contrastive fields, so that the
  configurations (and the hashes keying committed results) of the MI objectives stay exactly what they were. It
  needs no critic: the critic is built from its seed and saved untouched, so that every encoder checkpoint holds the
  same entries and :func:`load_encoder` reads them all alike; the projection head is saved under
  ``"projection_head"``.

Labels are never read: batches come from :class:`rrlib.data.BatchLoader` (order a function of seed and epoch)
and the training subset is drawn *without* stratification (which would look at labels). Training on a copy of
the data with shuffled labels gives identical weights (tested).

Cost: a ``worst`` step is about ``(S + 1)×`` a ``normal`` one for ``S`` PGD steps (supplement App. B;
``benchmarks/encoder_throughput.py`` measures it).

Per epoch the history records the mean training DV value (nats; on attacked batches for ``worst``) and the
normal and worst-case DV estimate of the *current* encoder with the *jointly trained* critic on a few held-out
test batches (labels unused) — the official code's ``nat_loss``/``adv_loss`` validation, not a fresh
Algorithm-2 estimate (chapter 05's :func:`rrlib.mi.worst_case.estimate_mutual_information` gives that).
``worst-infonce`` records ``train_infonce`` instead of ``train_dv`` and adds ``heldout_infonce_normal`` /
``heldout_infonce_worst`` (Algorithm 1 lowering InfoNCE); ``adv-contrastive`` records ``train_loss`` (its
``L``) and the held-out NT-Xent of clean and of attacked view pairs (``heldout_ntxent``, ``heldout_ntxent_adv``).

Files (``out_dir``): ``checkpoint.pt`` (written atomically after every epoch; resuming replays the same
numbers bit for bit on the CPU) and ``metrics.json`` once finished. Nothing is overwritten: a folder holding a
checkpoint of another configuration is an error.

>>> cfg = EncoderConfig(dataset="fmnist", estimator_loss="worst", steps=5)
>>> cfg.dataset, cfg.threat().eps, cfg.threat().steps, cfg.threat().step_size
('fashion-mnist', 0.1, 5, 0.02)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rrlib.attacks import ThreatModel
from rrlib.data import ImageDataset, canonical_name, get_spec, load_dataset, resolve_threat, subset
from rrlib.mi import worst_case
from rrlib.mi.bounds import dv, infonce
from rrlib.mi.critics import EncodeAndDotCritic
from rrlib.models.baseline_h import PixelBaselineH
from rrlib.models.normalize import InputNormalize
from rrlib.runtime import managed_modes, seeded, select_device
from rrlib.train.cache import config_hash
from rrlib.train.checkpoint import (
    CheckpointError,
    read_checkpoint,
)
from rrlib.train.fit import CHECKPOINT_FILE, TIMING_KEYS, fit
from rrlib.train.run_folder import METRICS_FILE as METRICS_FILE  # re-exported: the file names live in run_folder
from rrlib.validation import (
    check_bool,
    check_int,
    check_int_fields,
    check_nonnegative_float,
    check_optional_int,
    check_positive_float,
)

__all__ = [
    "CHECKPOINT_FILE",
    "ESTIMATOR_LOSSES",
    "PAPER_LOSSES",
    "MI_LOSSES",
    "TIMING_KEYS",
    "ContrastiveConfig",
    "EncoderConfig",
    "EncoderResult",
    "PixelCritic",
    "PixelEncoder",
    "encoder_step",
    "config_of",
    "heldout_mi",
    "load_encoder",
    "split_batch_step",
    "train_encoder",
]

#: The paper's two objectives, DIM (the "Hjelm et al." rows) and Eq. 5.4 ("Ours"), which chapter 07 trains.
PAPER_LOSSES = ("normal", "worst")
#: The objectives of an :class:`EncoderConfig` (MI maximisation with a critic).
MI_LOSSES = ("normal", "worst", "worst-infonce")
#: Every objective ``train-encoder`` trains (``adv-contrastive`` through :class:`ContrastiveConfig`).
ESTIMATOR_LOSSES = (*MI_LOSSES, "adv-contrastive")
#: The MI bound each MI objective trains on (and Algorithm 1 lowers, where it attacks).
TRAINING_BOUNDS = {"normal": dv, "worst": dv, "worst-infonce": infonce}
KIND = "encoder"


def threat_dict(threat: ThreatModel) -> dict[str, Any]:
    """The attack as plain (JSON) data: ``{"name": "pgd", **asdict(threat)}``, the box as a list."""
    out: dict[str, Any] = {"name": "pgd", **asdict(threat)}
    out["box"] = None if threat.box is None else list(threat.box)
    return out


def _adversarial_batch(critic: nn.Module, encoder: nn.Module, x: torch.Tensor, threat: ThreatModel, bound=dv
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Algorithm 1 on one batch: ``(x', Î(x'))`` with PGD lowering the critic's ``bound`` estimate (eval mode)."""
    return worst_case.worst_case_batch(critic, encoder, x, threat, bound=bound)


# ----------------------------------------------------------------------------------------------------- models
class PixelEncoder(PixelBaselineH):
    """g for pixels in [0, 1]: :class:`~rrlib.models.InputNormalize` (the dataset's) →
    :class:`~rrlib.models.BaselineHEncoder` → z (64-d).

    ``g(x)`` is ``g.representation(x)``; ``features`` and ``conv2`` come from :class:`~rrlib.models.PixelBaselineH`.

    >>> g = PixelEncoder("fashion-mnist", width=0.125)
    >>> tuple(g(torch.rand(2, 1, 28, 28)).shape), tuple(g.conv2(torch.rand(2, 1, 28, 28)).shape)
    ((2, 64), (2, 16, 7, 7))
    """

    def __init__(self, dataset: str, *, width: float = 1.0, rep_dim: int = 64) -> None:
        super().__init__(get_spec(dataset), width=width, rep_dim=rep_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.representation(x)


class PixelCritic(nn.Module):
    """The paper's critic on pixels: the same input normalisation, then :class:`~rrlib.mi.critics.EncodeAndDotCritic`.

    Scores ``(L, n, n)`` for ``(x, z)``; the image is detached inside (the official code), so gradients with
    respect to ``x`` flow only through ``z``. The normalisation is ``dataset``'s, or, for images of a dataset the
    book does not know (:func:`rrlib.own_model.measure`), ``stats`` = (per-channel mean, per-channel std).
    """

    def __init__(self, dataset: str | None = None, *, z_dim: int = 64, hidden: int = 2048,
                 stats: tuple[Sequence[float], Sequence[float]] | None = None) -> None:
        super().__init__()
        if (dataset is None) == (stats is None):
            raise ValueError("PixelCritic needs a dataset name or stats=(mean, std), not both")
        if dataset is not None:
            stats = (get_spec(dataset).mean, get_spec(dataset).std)
        mean, std = tuple(stats[0]), tuple(stats[1])
        self.normalize = InputNormalize(mean, std)
        self.critic = EncodeAndDotCritic(len(mean), z_dim, hidden, detach_x=True)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.critic(self.normalize(x), z)


# ----------------------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class EncoderConfig:
    """Everything that determines an encoder run's numbers (its hash guards resumption).

    Attributes:
        dataset: any name :func:`rrlib.data.canonical_name` accepts (stored canonical).
        train_subset: train on this many training images (drawn without looking at labels); None = all.
        width: multiplies the Baseline-H hidden sizes (1 = the paper); the representation is ``rep_dim`` = 64.
        critic_hidden: embedding width of the critic (2048 in the paper; small values for quick runs).
        epochs, batch_size, lr: Adam with a constant learning rate (the paper: 300 epochs, 128, 1e-4).
        estimator_loss: ``"normal"`` (DIM, Hjelm et al.), ``"worst"`` (Eq. 5.4, the paper's method) or
            ``"worst-infonce"`` (Eq. 5.4 with InfoNCE); ``"adv-contrastive"`` is a :class:`ContrastiveConfig`.
        eps, steps, step_size: ℓ∞ PGD of Algorithm 1 in [0, 1] pixels; None = the dataset's
            (supplement D.1; FMNIST 0.1, 10, 0.02). Used for ``worst`` training and, in both modes, for the
            held-out worst-case estimate in the history.
        heldout_batches: test batches (labels unused) for the per-epoch MI estimates (a few: cheap).
        seed: initialisation, batch order and subsets.
    """

    dataset: str = "fashion-mnist"
    train_subset: int | None = None
    width: float = 1.0
    rep_dim: int = 64
    critic_hidden: int = 2048
    epochs: int = 300
    batch_size: int = 128
    lr: float = 1e-4
    estimator_loss: str = "worst"
    eps: float | None = None
    steps: int | None = None
    step_size: float | None = None
    heldout_batches: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "dataset", canonical_name(self.dataset))
        if self.estimator_loss not in ESTIMATOR_LOSSES:
            raise ValueError(f"unknown estimator_loss {self.estimator_loss!r}; valid choices: {ESTIMATOR_LOSSES}")
        contrastive = isinstance(self, ContrastiveConfig)
        if contrastive != (self.estimator_loss == "adv-contrastive"):
            raise ValueError(
                "estimator_loss 'adv-contrastive' has its own settings: use ContrastiveConfig(...) (or config_of)"
                if not contrastive else
                f"a ContrastiveConfig trains estimator_loss 'adv-contrastive', not {self.estimator_loss!r}; use "
                f"EncoderConfig for {MI_LOSSES}")
        check_int_fields(self, ("rep_dim", "critic_hidden", "epochs", "heldout_batches"))
        check_optional_int("train_subset", self.train_subset, 1)
        check_int("batch_size", self.batch_size, 2, what="an integer >= 2 (the DV bound needs negatives)")
        check_positive_float("width", self.width)
        check_positive_float("lr", self.lr)
        check_int("seed", self.seed, 0, what="a non-negative integer")
        self.threat()  # a dataset without a paper threat model must say its attack; the values must fit together

    def threat(self) -> ThreatModel:
        """Algorithm 1's :class:`~rrlib.attacks.ThreatModel`: the dataset's, with the explicit values replacing
        its own (:func:`rrlib.data.resolve_threat`)."""
        return resolve_threat(self.dataset, self.eps, self.steps, self.step_size)


@dataclass(frozen=True)
class ContrastiveConfig(EncoderConfig):
    """An ``adv-contrastive`` encoder run (``rrlib.train.contrastive``): the fields of :class:`EncoderConfig`
    (``critic_hidden`` only sizes the untouched critic kept in the checkpoint; ``eps``/``steps``/``step_size`` are
    the instance-wise adversary's) and the contrastive ones.

    A subclass, not new fields of :class:`EncoderConfig`: the results cache hashes every field and the type
    (:func:`rrlib.train.cache.config_hash`), so a field added there would move the hash of every existing ``normal``
    / ``worst`` run; here those hashes are untouched and an ``adv-contrastive`` run has a type of its own.

    Attributes:
        temperature: τ of NT-Xent (0.5: RoCL's and SimCLR's CIFAR-10 value).
        adv_weight: λ in ``NT-Xent(v₁, v₂) + λ·NT-Xent(v₁ + δ*, v₂)`` (1: clean and adversarial terms alike).
        projection_dim: output width of the projection head (64 → 64 → ``projection_dim``).
        random_start: the adversary starts from a uniform point of the ε-ball (RoCL and ACL do).

    >>> ContrastiveConfig(steps=5).threat().random_start, ContrastiveConfig().temperature
    (True, 0.5)
    """

    estimator_loss: str = "adv-contrastive"
    temperature: float = 0.5
    adv_weight: float = 1.0
    projection_dim: int = 64
    random_start: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_float("temperature", self.temperature)
        check_nonnegative_float("adv_weight", self.adv_weight)
        check_int("projection_dim", self.projection_dim, 1)
        check_bool("random_start", self.random_start)

    def threat(self) -> ThreatModel:
        """The adversary: :meth:`EncoderConfig.threat` with this run's ``random_start``."""
        return replace(super().threat(), random_start=self.random_start)


def config_of(**fields: Any) -> EncoderConfig:
    """The configuration of an encoder run given as fields: a :class:`ContrastiveConfig` when ``estimator_loss`` is
    ``"adv-contrastive"``, an :class:`EncoderConfig` otherwise (a stored configuration, a command line).

    >>> type(config_of(estimator_loss="adv-contrastive")).__name__, type(config_of(estimator_loss="worst")).__name__
    ('ContrastiveConfig', 'EncoderConfig')
    """
    cls = ContrastiveConfig if fields.get("estimator_loss") == "adv-contrastive" else EncoderConfig
    return cls(**fields)


@dataclass
class EncoderResult:
    """A trained (or partially trained) encoder g, its critic and the per-epoch history (for ``adv-contrastive``
    the critic is its untouched initialisation)."""

    config: EncoderConfig
    encoder: PixelEncoder
    critic: PixelCritic
    history: list[dict[str, float]] = field(default_factory=list)
    finished: bool = False
    out_dir: Path | None = None

    @property
    def final(self) -> dict[str, float]:
        """The last epoch's record (``{}`` before the first epoch ends)."""
        return dict(self.history[-1]) if self.history else {}

    def metrics(self) -> dict[str, Any]:
        """A JSON-able summary: configuration, hash, the attack of Algorithm 1 (its ThreatModel as a dict; used
        for ``worst`` training and the held-out worst-case estimates), history and the final epoch (nats)."""
        return {"config": asdict(self.config), "config_hash": config_hash(self.config), "finished": self.finished,
                "attack": threat_dict(self.config.threat()), "units": "nats", "history": self.history,
                "final": self.final}


# ----------------------------------------------------------------------------------------------------- steps
def encoder_step(encoder: nn.Module, critic: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                 threat: ThreatModel | None, *, bound=dv) -> float:
    """One training step; returns the MI estimate (nats) the step ascended, before the update.

    ``threat=None`` is the ``normal`` (DIM) step on the clean batch; a :class:`~rrlib.attacks.ThreatModel` first
    replaces ``x`` by Algorithm 1's worst-case batch (eval mode), then steps on it. Encoder and critic are left
    in train mode. With ε = 0 both are the same computation (tested). ``bound``: the MI bound, both the one
    Algorithm 1 lowers and the one the step ascends (:func:`~rrlib.mi.bounds.dv`; ``worst-infonce``:
    :func:`~rrlib.mi.bounds.infonce`).
    """
    if threat is not None:
        x, _ = _adversarial_batch(critic, encoder, x, threat, bound)
    encoder.train()
    critic.train()
    value = bound(critic(x, encoder(x)))
    optimizer.zero_grad(set_to_none=True)
    (-value).backward()
    optimizer.step()
    return float(value.detach())


def split_batch_step(joint: nn.Module, encoder: nn.Module, critic: nn.Module, optimizer: torch.optim.Optimizer,
                     x: torch.Tensor, threat: ThreatModel | None) -> float:
    """:func:`encoder_step` of a data-parallel run: ``x`` is this rank's share of the batch, ``joint`` the DDP-wrapped
    ``rrlib.train.ddp_mi.JointDV`` of ``encoder`` and ``critic``; the DV (and Algorithm 1's objective) is that
    of the whole batch (``rrlib.train.ddp_mi.global_dv``). Returns the batch's DV before the update (nats)."""
    from rrlib.train.ddp_mi import RowCritic, global_dv

    if threat is not None:
        x, _ = worst_case.worst_case_batch(RowCritic(critic), encoder, x, threat, bound=global_dv)
    joint.train()
    value = joint(x)
    optimizer.zero_grad(set_to_none=True)
    (-value).backward()
    optimizer.step()
    return float(value.detach())


def heldout_mi(encoder: nn.Module, critic: nn.Module, batches: list[torch.Tensor], threat: ThreatModel, *,
               bound=dv) -> tuple[float, float]:
    """Mean normal and worst-case ``bound`` estimate (nats; default DV) of ``encoder`` with ``critic`` over
    ``batches`` (eval mode; Algorithm 1 lowers the same bound)."""
    normal, worst = [], []
    with managed_modes((encoder, critic)):
        for xb in batches:
            with torch.no_grad():
                normal.append(float(bound(critic(xb, encoder(xb)))))
            worst.append(float(_adversarial_batch(critic, encoder, xb, threat, bound)[1]))
    return sum(normal) / len(normal), sum(worst) / len(worst)


# ----------------------------------------------------------------------------------------------------- data
def _images(dataset: str, split: str, n: int | None, seed: int, root: str | os.PathLike | None) -> ImageDataset:
    """``n`` images of ``split`` drawn without stratification, i.e. without reading a label."""
    data = load_dataset(dataset, split, root=root)
    if n is not None and n > len(data):
        raise ValueError(f"{dataset!r} {split} split holds {len(data)} images, fewer than the {n} asked for")
    return subset(data, n, seed, stratified=False)


def _heldout_batches(config: EncoderConfig, root, device: torch.device) -> list[torch.Tensor]:
    test = load_dataset(config.dataset, "test", root=root)
    k = min(config.heldout_batches, len(test) // config.batch_size)
    if k < 1:
        raise ValueError(f"the {config.dataset!r} test split ({len(test)} images) holds no full batch of "
                         f"batch_size={config.batch_size} for the held-out MI estimates")
    images = subset(test, k * config.batch_size, 0, stratified=False).tensors()[0].to(device)
    return list(images.split(config.batch_size))


# ----------------------------------------------------------------------------------------------------- files
def _remedy(out_dir: Path) -> str:
    return (f"train it with rrlib.train.encoder.train_encoder(EncoderConfig(...), {str(out_dir)!r}) "
            "(command line: train-encoder)")


def _build(config: EncoderConfig) -> tuple[PixelEncoder, PixelCritic]:
    encoder = seeded(lambda: PixelEncoder(config.dataset, width=config.width, rep_dim=config.rep_dim), config.seed)
    critic = seeded(lambda: PixelCritic(config.dataset, z_dim=config.rep_dim, hidden=config.critic_hidden),
                    config.seed + 1)
    return encoder, critic


def _config_from(saved: dict[str, Any], path: Path) -> EncoderConfig:
    try:
        return config_of(**saved["config"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path} holds an encoder configuration this version cannot read ({err}); "
                              f"{_remedy(path.parent)}") from err


def load_encoder(out_dir: str | os.PathLike, *, device: str | torch.device = "cpu",
                 require_finished: bool = True) -> EncoderResult:
    """The encoder (eval mode), critic and history saved by :func:`train_encoder` in ``out_dir``.

    Raises :class:`rrlib.train.checkpoint.CheckpointError` naming the path and what to do when the folder or its
    checkpoint is missing, the file is corrupt or truncated, it is not an encoder checkpoint, or (with
    ``require_finished``) the run has not finished.
    """
    out_dir = Path(out_dir)
    path = out_dir / CHECKPOINT_FILE
    if not out_dir.is_dir():
        raise CheckpointError(f"no encoder folder at {out_dir}: {_remedy(out_dir)}")
    saved = read_checkpoint(path, kind=KIND, remedy=_remedy(out_dir), map_location=select_device(device))
    config = _config_from(saved, path)
    if require_finished and not saved["finished"]:
        raise CheckpointError(
            f"the encoder in {out_dir} has not finished training (epoch {saved['epoch']} of {config.epochs}); "
            f"resume it with rrlib.train.encoder.train_encoder(config, {str(out_dir)!r}) (it continues from its "
            "last epoch)")
    encoder, critic = _build(config)
    encoder.load_state_dict(saved["encoder"])
    critic.load_state_dict(saved["critic"])
    dev = select_device(device)
    encoder.to(dev).eval()
    critic.to(dev).eval()
    return EncoderResult(config, encoder, critic, list(saved["history"]), bool(saved["finished"]), out_dir)


# ----------------------------------------------------------------------------------------------------- loop
def train_encoder(
    config: EncoderConfig,
    out_dir: str | os.PathLike,
    resume: bool = True,
    *,
    device: str | torch.device = "auto",
    data_root: str | os.PathLike | None = None,
    stop_after_epochs: int | None = None,
    callback: Callable[[dict[str, Any]], None] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    show_progress: bool = True,
) -> EncoderResult:
    """Train g (and its critic) as ``config`` says, checkpointing to ``out_dir`` after every epoch
    (``config``: an :class:`EncoderConfig`, or a :class:`ContrastiveConfig` for ``adv-contrastive``).

    Args:
        resume: continue from ``out_dir``'s checkpoint when it holds this configuration (a finished run is
            loaded without training; one of fewer ``epochs`` but otherwise the same configuration is continued up
            to ``config.epochs``, which equals training that long straight away). ``False`` refuses to touch a
            folder that already holds a checkpoint.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ... — not part of the configuration, so a run may be
            resumed on another device (bit-identical resumption holds on one device).
        data_root: dataset root (default :func:`rrlib.data.data_dir`; Fashion-MNIST is found offline).
        stop_after_epochs: stop (unfinished, checkpointed) once this many epochs in total are done.
        callback: called after every step with ``{"epoch", "step", "dv"}`` (``"infonce"`` for ``worst-infonce``,
            ``"loss"`` for ``adv-contrastive``); an exception it raises aborts
            the run like a crash (the last epoch checkpoint stays).
        on_epoch: called with each epoch's history record once that epoch is checkpointed.

    The loop is :func:`rrlib.train.fit.fit` running an :class:`~rrlib.train.jobs.EncoderJob`. Under ``torchrun``
    (``rrlib.distributed``) the run is data-parallel: each rank holds ``batch_size / world
    size`` images of every batch, the DV bound and Algorithm 1 use the whole batch (``rrlib.train.ddp_mi``), DDP
    averages the gradients of encoder and critic, the held-out estimates run on rank 0 and rank 0 alone writes
    (the checkpoint holds the unwrapped modules and resumes with any number of processes).

    ``out_dir`` is a run folder (``rrlib.train.run_folder``): one run at a time, checked before anything is
    computed, ``config.json`` written once the run is accepted, ``metrics.json`` once it has finished (never over a
    finished one of this configuration); a refused run changes nothing.

    Returns an :class:`EncoderResult` (encoder and critic in eval mode).
    """
    if not isinstance(config, EncoderConfig):
        raise TypeError(f"config must be an EncoderConfig, got {type(config).__name__}")
    check_optional_int("stop_after_epochs", stop_after_epochs, 1)
    from rrlib.train.jobs import encoder_job  # the jobs import this module

    return fit(encoder_job(config), Path(out_dir), resume=resume, device=device, data_root=data_root,
               stop_after_epochs=stop_after_epochs, callback=callback, on_epoch=on_epoch, show_progress=show_progress)


