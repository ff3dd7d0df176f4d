"""Command line: ``python -m rrlib.cli <command> ...`` (also installed as ``rrbook``).

Commands
--------
``train-model``
    Train a classifier (the paper's ``--task train-model``), standard or PGD-adversarial, with progress bars,
    resumable checkpoints and a ``metrics.json``. Example (Fashion-MNIST, the paper's ε = 0.1)::

        python -m rrlib.cli train-model --dataset fashion-mnist --model baseline_h --adv-eps 0.1 --epochs 300

    ``--adv-eps paper`` uses the dataset's ε; without ``--adv-eps`` training is standard. Output goes to
    ``--out DIR`` (``checkpoint.pt`` + ``metrics.json``), by default to the results cache entry of the
    configuration (so a rerun of the same command resumes or reuses it).
``estimate-mi``
    Estimate the normal MI ``I(X; z)``, the worst-case MI ``inf_{μ' ∈ B_W∞(μ, ε)} I(X'; z')`` and the representation
    vulnerability ``RV_ε = normal − worst`` (Definition 3.1, Eq. 4.1; nats) of a model trained by ``train-model``
    (the paper's ``--task estimate-mi``). The representation ``z`` is the logit layer (10-d, the paper's Figures 1–2;
    ``--representation logits``, default) or ``model.representation(x)`` (``z``: the 64-d Baseline-H code). The
    critic is the encode-and-dot-product network on raw pixels (:class:`rrlib.mi.critics.EncodeAndDotCritic`,
    ``--critic-hidden 2048`` as the paper), trained by Algorithm 2 (:mod:`rrlib.mi.worst_case`) with the DV bound;
    the worst case perturbs each batch by Algorithm 1 (ℓ∞ PGD with the dataset's ε, steps and step size from
    :func:`rrlib.data.dataset_threat_model`, overridable with ``--eps/--attack-steps/--step-size``). ``--estimator-loss
    both`` (default) runs a normal and a worst-case critic from the same initialisation for every seed
    (:func:`rrlib.mi.worst_case.representation_vulnerability`), as the official code's two separate runs.
    Example (the paper's Fashion-MNIST protocol; 300 epochs of critic training by default)::

        python -m rrlib.cli estimate-mi --checkpoint runs/fmnist-robust/checkpoint.pt --seeds 0 1 2 \\
            --out runs/fmnist-robust/mi.json

    It prints one line per critic run and a result line, and writes a JSON file (``--out``; default next to the
    checkpoint) with the configuration, the per-seed estimates, their test-batch values and standard errors.
``train-encoder``
    Train a representation g without labels by mutual-information maximisation (paper §5; the official code's
    ``train_unsup.py``): ``--estimator-loss normal`` is DIM (Hjelm et al.), ``worst`` the paper's worst-case MI
    (Eq. 5.4; ℓ∞ PGD of the dataset's ε, steps and step size, overridable with ``--eps/--attack-steps/
    --step-size``). Writes ``checkpoint.pt`` (every epoch) and ``metrics.json`` (held-out normal/worst-case MI and
    RV per epoch, in nats, and the attack) to ``--out DIR``; repeating the command continues or reuses the run,
    and a larger ``--epochs`` extends a finished one. Example::

        python -m rrlib.cli train-encoder --dataset fashion-mnist --estimator-loss worst --out runs/enc-worst

``train-classifier``
    Train a head h (``--head mlp|linear``) on the frozen encoder of ``--encoder DIR`` with ``--classifier-loss
    standard`` (clean cross-entropy) or ``robust`` (PGD adversarial training of h), evaluating natural and PGD
    accuracy every epoch on a held-out validation split (which picks the best / E.S. epoch) and on the test split.
    ``metrics.json`` holds ``natural_accuracy`` and ``adversarial_accuracy`` of the final and the best epoch and the
    attack; ``--autoattack N`` adds AutoAttack accuracy of both heads on N test images. Example::

        python -m rrlib.cli train-classifier --encoder runs/enc-worst --head mlp --classifier-loss standard \
            --out runs/enc-worst/h-mlp-standard --autoattack 1000
``sweep``
    The training grid of Tables 1, 3-5 (:mod:`rrlib.sweep`): ``--list`` prints every cell (trials ×
    rows × heads) with its state, otherwise the missing and partial cells run one after another, or only ``--cell
    NAME``; a finished cell is never recomputed. Example::

        python -m rrlib.cli sweep --profile medium --dataset fashion-mnist --out-root runs/tables --list

``download``
    Fetch a dataset with torchvision (needs internet) into the data directory.

Bad input gets one ``error:`` line naming the flag and its valid values (exit 2) before anything is built, loaded or
written. An attack radius (``--adv-eps``, ``--eval-eps``, ``--eps``) lies in [0, 1] under ℓ∞: pixels lie in [0, 1],
so a ball of radius 1 already holds every image (ℓ2: [0, √(C·H·W)]); ``--width`` lies in (0, 16]. Contradictory
flags are refused: ``--eval-eps`` with ``--no-adv-eval``, and ``--adv-steps``/``--adv-step-size`` without
``--adv-eps`` (standard training has no training attack; with ``--eval-eps`` they set the evaluation attack). A
reader that closes the pipe early (``sweep --list | head -1``) ends the command quietly with status 141.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rrlib import distributed
from rrlib.attacks import ThreatModel
from rrlib.cli_flags import (
    DeprecatedAlias,
    add_config_flags,
    add_run_flags,
    eval_fraction,
    flag_of,
    given_fields,
    seed_number,
)
from rrlib.console import quiet_broken_pipe
from rrlib.data import DATASETS, SPLITS, canonical_name, data_dir, get_spec, load_dataset
from rrlib.mi.checkpoint_estimate import PAPER_CRITIC_EPOCHS
from rrlib.mi.runs import ESTIMATOR_LOSSES
from rrlib.validation import check_int, check_radius


@dataclass(frozen=True)
class Command:
    """A sub-command: its help line, how it adds its arguments, and what it runs (returns an exit code)."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _train_arguments(p: argparse.ArgumentParser) -> None:
    from rrlib.train.supervised import TrainConfig

    add_config_flags(
        p, TrainConfig, "dataset", "model", "head", "width", "epochs", "batch_size", "optimizer", "lr", "adv_eps",
        "adv_steps", "adv_step_size", "eval_eps", "eval_every", "train_subset", "test_subset", "seed",
        defaults={"dataset": "fashion-mnist", "model": "baseline_h", "seed": 0}, types={"dataset": str},
        helps={"dataset": f"one of {sorted(DATASETS)} (default fashion-mnist)", "head": "baseline_h only (default mlp)",
               "epochs": "default: the paper's (300 Baseline-H, 200 CIFAR nets)", "batch_size": "default 128",
               "lr": "learning rate (default: the paper's)"})
    p.add_argument("--no-adv-eval", action="store_true", help="skip adversarial evaluation")
    p.add_argument("--no-amp", action="store_true", help="disable mixed precision on CUDA")
    add_run_flags(p, "device", "out", "data_root", out="output folder (default: the results cache)")
    p.add_argument("--checkpoint-every", type=int, default=None, help="also checkpoint every N steps")
    p.add_argument("--max-steps", type=int, default=None, help="stop after N optimiser steps (resume later)")
    add_run_flags(p, "no_progress")


def _train_config(args: argparse.Namespace):
    from rrlib.train.supervised import paper_config

    overrides = {
        k: v
        for k, v in {
            "head": args.head,
            "width": args.width,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "optimizer": args.optimizer,
            "lr": args.lr,
            "adv_steps": args.adv_steps,
            "adv_step_size": args.adv_step_size,
            "eval_eps": args.eval_eps,
            "eval_every": args.eval_every,
            "train_subset": args.train_subset,
            "test_subset": args.test_subset,
        }.items()
        if v is not None
    }
    if args.adv_eps is not None and args.adv_eps != "paper":
        overrides["adv_eps"] = args.adv_eps
    if args.no_adv_eval:
        overrides["eval_adversarial"] = False
    if args.no_amp:
        overrides["amp"] = False
    return paper_config(
        args.dataset, args.model, adversarial=args.adv_eps == "paper", seed=args.seed, **overrides
    )


#: The largest ``--width``. Baseline-H has about 3.1 M parameters at width 1 on 28×28 images (4.9 M on 32×32) and
#: grows as width², so width 16 already means 0.8–1.3 G parameters (3–5 GB of float32 weights, about four times that
#: while training with Adam); ``--width 1e9`` would ask for 4 TB in its first layer.
MAX_WIDTH = 16.0


def _check_width(width: float | None) -> None:
    if width is not None and not (math.isfinite(width) and 0 < width <= MAX_WIDTH):
        raise ValueError(f"--width {width:g}: the Baseline-H width multiplier must be a number in (0, {MAX_WIDTH:g}] "
                         "(1 is the paper's network, 0.125 the quick profile's; parameters grow as width²)")


def _device(text: str) -> Any:
    """:func:`rrlib.runtime.select_device` of ``--device``; its refusal (unknown name, CUDA absent) as a ``ValueError``
    that names the flag."""
    from rrlib.runtime import select_device

    try:
        return select_device(text)
    except (ValueError, RuntimeError) as err:
        raise ValueError(f"--device {text}: {err}") from None


def _flag_named(err: Exception, flags: dict[str, str]) -> Exception:
    """``err`` with its leading configuration field (``"adv_steps must be ..."``, ``"step_size=0.7 exceeds ..."``)
    named as the flag that sets it, when ``flags`` (field → flag) knows the field."""
    text = str(err)
    field = text.split(" ", 1)[0].split("=", 1)[0]
    if field not in flags:
        return err
    rest = text[len(field):].replace(" or None, got", ", got", 1).replace(" must be None or ", " must be ", 1)
    return ValueError(flags[field] + (" " + rest[1:] if rest.startswith("=") else rest))


#: train-model: the configuration fields a library message may start with, and their flags.
_TRAIN_FLAGS = {**{f: flag_of(f) for f in (
    "head", "width", "epochs", "batch_size", "optimizer", "lr", "adv_eps", "adv_steps", "adv_step_size", "eval_eps",
    "eval_every", "train_subset", "test_subset", "seed")}, "steps": "--adv-steps", "step_size": "--adv-step-size"}


def _check_train_flags(args: argparse.Namespace) -> None:
    """train-model's checks that need no data: ranges, contradictions, and the attack a dataset without a threat
    model in the paper must be given (``ValueError`` naming flags, before anything is built or written)."""
    spec = get_spec(args.dataset)
    _check_width(args.width)
    for flag, value in (("--adv-eps", args.adv_eps), ("--eval-eps", args.eval_eps)):
        if value is not None and value != "paper":
            check_radius(flag, value)
    if args.no_adv_eval and args.eval_eps is not None:
        raise ValueError(f"--eval-eps {args.eval_eps:g} with --no-adv-eval: there is no adversarial evaluation to "
                         "take that radius; give one of them, not both")
    given = [f"{flag} {value:g}" for flag, value in (("--adv-steps", args.adv_steps),
                                                     ("--adv-step-size", args.adv_step_size)) if value is not None]
    if given and args.adv_eps is None and args.eval_eps is None:
        raise ValueError(f"{' '.join(given)} without --adv-eps: training is standard, so no training attack takes "
                         "them; give --adv-eps EPS (or 'paper') to train adversarially, "
                         + ("or leave them out" if args.no_adv_eval else
                            "or --eval-eps EPS with them to set only the evaluation attack"))
    if spec.threat is not None:
        return
    if args.adv_eps == "paper":
        raise ValueError(f"--adv-eps paper: --dataset {spec.name} has no threat model in the paper; give --adv-eps a "
                         "number, with --adv-steps and --adv-step-size")
    missing = [] if args.adv_eps is not None or args.eval_eps is not None else ["--eval-eps EPS"]
    missing += [f for f, v in (("--adv-steps S", args.adv_steps), ("--adv-step-size ETA", args.adv_step_size))
                if v is None]
    if args.adv_eps is not None and missing:
        raise ValueError(f"--dataset {spec.name} has no threat model in the paper: give the training attack's "
                         f"{' '.join(missing)} with --adv-eps {args.adv_eps:g}")
    if not args.no_adv_eval and missing:
        raise ValueError(f"--dataset {spec.name} has no threat model in the paper: give the evaluation attack as "
                         f"{' '.join(missing)} (e.g. --eval-eps 0.3 --adv-steps 3 --adv-step-size 0.1), or "
                         "--no-adv-eval to skip adversarial evaluation")


@contextlib.contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Show warnings (e.g. a fallback to the previous checkpoint) as one ``warning: ...`` line on stderr."""
    saved = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        print(f"warning: {message}", file=sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = saved


def _guarded_training(train: Callable[[], Any], out: Path) -> tuple[Any, int]:
    """Run ``train()`` as the three training commands do: warnings as one line, a bad checkpoint or configuration
    as one ``error:`` line (exit 2), Ctrl-C as a line saying how to resume (exit 130). Returns (result, 0) or
    (None, exit code)."""
    from rrlib.train.checkpoint import CheckpointError
    from rrlib.train.run_folder import FinishedRunError

    try:
        with _one_line_warnings():
            return train(), 0
    except FinishedRunError as done:  # finished earlier, checkpoint gone: reported, not retrained (exit 0)
        print(f"finished: {done}")
        return None, 0
    except (CheckpointError, ValueError, FileExistsError, FileNotFoundError) as err:
        return None, _error(err)
    except KeyboardInterrupt:
        print(f"interrupted; rerun the same command to continue from the last checkpoint in {out}", file=sys.stderr)
        return None, 130


def _train_run(args: argparse.Namespace) -> int:
    from rrlib.train.cache import config_hash, entry_dir
    from rrlib.train.supervised import CHECKPOINT_FILE, METRICS_FILE, train_model

    try:
        _check_train_flags(args)
        config = _train_config(args)
        device = _device(args.device)
    except ValueError as err:
        return _error(_flag_named(err, _TRAIN_FLAGS))
    out = args.out if args.out is not None else entry_dir(config)
    threat = config.train_threat()
    print(
        f"train-model {config.model} on {get_spec(config.dataset).title}, "
        f"{'adversarial ' + str(threat) if threat else 'standard'}, device {device}"
    )
    print(f"config {config_hash(config)[:12]} → {out}")
    result, code = _guarded_training(lambda: train_model(
        config, device=device, checkpoint_path=out / CHECKPOINT_FILE, checkpoint_every=args.checkpoint_every,
        max_steps=args.max_steps, data_root=args.data_root, log=print, show_progress=not args.no_progress), out)
    if code or result is None:
        return code
    state = "finished" if result.finished else f"stopped at step {result.global_step} (rerun to resume)"
    print(f"{state}; checkpoint {out / CHECKPOINT_FILE}; metrics {out / METRICS_FILE}")
    return 0


def _download_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help=f"one of {sorted(k for k in DATASETS if k != 'digits')}")
    p.add_argument("--root", type=Path, default=None, help=f"data directory (default {data_dir()})")


def _download_run(args: argparse.Namespace) -> int:
    name = canonical_name(args.dataset)
    for split in SPLITS:
        ds = load_dataset(name, split, root=args.root, download=True)
        print(f"{name}/{split}: {len(ds)} images")
    return 0


# ------------------------------------------------------------------------------------------------- estimate-mi
def _mi_arguments(p: argparse.ArgumentParser) -> None:
    from rrlib.mi.checkpoint_estimate import EstimateMIRequest as Request

    add_config_flags(p, Request, "checkpoint", "representation", "critic_hidden", "estimator_loss", "eps",
                     "attack_steps", "step_size", keep_defaults=True, required=("checkpoint",),
                     choices={"estimator_loss": ESTIMATOR_LOSSES},
                     helps={"estimator_loss": "normal MI, worst-case MI, or both and RV = normal - worst "
                                              "(default both)", "attack_steps": "PGD steps S (default: the dataset's)"})
    p.add_argument("--attack-lr", type=eval_fraction, dest="step_size", action=DeprecatedAlias,
                   help="deprecated alias of --step-size")
    add_config_flags(p, Request, "norm", "gradient", keep_defaults=True)
    add_config_flags(p.add_mutually_exclusive_group(), Request, "iterations", "epochs", helps={
        "epochs": f"critic training length in passes over the training set (default {PAPER_CRITIC_EPOCHS}, the "
                  "paper's)"})
    add_config_flags(p, Request, "batch_size", "lr", "test_batches", "select", "train_subset", "test_subset",
                     keep_defaults=True, helps={"batch_size": "batch size B", "lr": "critic Adam lr",
                                                "train_subset": "critic training images (default: all)"})
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=seed_number, default=None, help="one seed (default 0)")
    seeds.add_argument("--seeds", type=seed_number, nargs="+", default=None, help="several seeds, e.g. 0 1 2")
    add_run_flags(p, "device")
    add_config_flags(p, Request, "threads", keep_defaults=True)
    add_run_flags(p, "data_root", "out", out="JSON file for the results (default: estimate-mi-<representation>-"
                  "<loss>-<hash>.json next to the checkpoint)")


def _mi_run(args: argparse.Namespace) -> int:
    from rrlib.mi.checkpoint_estimate import EstimateMIRequest, prepare_estimate, run_estimate

    seeds = tuple(args.seeds) if args.seeds is not None else (0 if args.seed is None else args.seed,)
    fields = {k: getattr(args, k) for k in EstimateMIRequest.__dataclass_fields__ if k != "seeds"}
    try:
        device = _device(args.device)
        with _one_line_warnings():
            plan = prepare_estimate(EstimateMIRequest(**fields, seeds=seeds), device)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        return _error(err)
    if plan.previous is not None:
        summary = " | ".join(f"{key} {plan.previous[key]['mean']:.4f}" for key in ("normal", "worst", "rv")
                             if plan.previous.get(key) is not None)
        print(f"estimate-mi: {plan.out} already holds this estimate (same checkpoint and settings): {summary} nats; "
              "reloaded, nothing recomputed")
        return 0
    run_estimate(plan, log=lambda line: print(line, flush=True))
    return 0


# ------------------------------------------------------------------------------------------ train-encoder
def _field_flags(config_type: type) -> dict[str, str]:
    """Configuration field → flag for every field of ``config_type``, and for the attack's own fields (a
    :class:`ThreatModel` message starts with ``steps`` or ``step_size``)."""
    return {**{f: flag_of(f) for f in config_type.__dataclass_fields__},
            "steps": "--attack-steps", "step_size": "--step-size"}


def _check_attack_flags(args: argparse.Namespace, dataset: str) -> None:
    """``--eps`` inside the input box, and the whole attack given for a dataset without one in the paper."""
    if args.eps is not None:
        check_radius("--eps", args.eps)
    missing = [flag for flag, value in (("--eps", args.eps), ("--attack-steps", args.attack_steps),
                                        ("--step-size", args.attack_step_size)) if value is None]
    if get_spec(dataset).threat is None and missing:
        raise ValueError(f"--dataset {dataset} has no threat model in the paper: give {', '.join(missing)} "
                         "(e.g. --eps 0.3 --attack-steps 3 --step-size 0.1)")


#: The attack of train-encoder and train-classifier.
_ATTACK = ("eps", "attack_steps", "attack_step_size")


def _error(err: BaseException) -> int:
    print(f"error: {err}", file=sys.stderr)
    return 2


def _encoder_arguments(p: argparse.ArgumentParser) -> None:
    from rrlib.train.encoder import ESTIMATOR_LOSSES, EncoderConfig

    add_config_flags(p, EncoderConfig, "dataset", "estimator_loss", defaults={"dataset": "fashion-mnist"},
                     required=("estimator_loss",),
                     choices={"estimator_loss": ESTIMATOR_LOSSES},
                     helps={"dataset": f"one of {sorted(DATASETS)} (default fashion-mnist)"})
    add_run_flags(p, "out", required=("out",))
    add_config_flags(p, EncoderConfig, "epochs", "train_subset", "width", "critic_hidden", "batch_size", "lr", *_ATTACK,
                     "seed", helps={"epochs": "default 300 (the paper's)"})
    add_run_flags(p, "device", "data_root", "no_progress")


def _encoder_line(record: dict[str, Any], epochs: int) -> str:
    return (f"epoch {record['epoch']:>3}/{epochs}  train DV {record['train_dv']:.4f}  held-out MI normal "
            f"{record['heldout_mi_normal']:.4f} worst {record['heldout_mi_worst']:.4f} RV {record['heldout_rv']:.4f} "
            f"nats  {record['seconds']:.1f} s")


def _describe_threat(threat: ThreatModel) -> str:
    return f"{threat.norm} PGD-{threat.steps}, eps {threat.eps:.4g}, step {threat.step_size:.4g}"


def _encoder_run(args: argparse.Namespace) -> int:
    from rrlib.train.encoder import CHECKPOINT_FILE, METRICS_FILE, EncoderConfig, train_encoder

    try:
        _check_width(args.width)
        _check_attack_flags(args, args.dataset)
        config = EncoderConfig(**given_fields(args, EncoderConfig))
        device = _device(args.device)
    except ValueError as err:
        return _error(_flag_named(err, _field_flags(EncoderConfig)))
    except RuntimeError as err:
        return _error(err)
    what = "DIM (normal MI)" if config.estimator_loss == "normal" else "worst-case MI"
    print(f"train-encoder: {what} on {get_spec(config.dataset).title}, {config.epochs} epochs, device {device}; "
          f"attack {_describe_threat(config.threat())} -> {args.out}")
    if (args.out / CHECKPOINT_FILE).is_file():
        print(f"found {args.out / CHECKPOINT_FILE}: continuing (or reusing) it")
    result, code = _guarded_training(lambda: train_encoder(
        config, args.out, device=device, data_root=args.data_root, show_progress=not args.no_progress,
        on_epoch=lambda rec: print(_encoder_line(rec, config.epochs), flush=True)), args.out)
    if code or result is None:
        return code
    final = result.final
    print(f"finished: {len(result.history)} epochs; held-out MI normal {final['heldout_mi_normal']:.4f}, worst "
          f"{final['heldout_mi_worst']:.4f}, RV {final['heldout_rv']:.4f} nats; metrics {args.out / METRICS_FILE}")
    return 0


# ------------------------------------------------------------------------------------------ train-classifier
def _classifier_arguments(p: argparse.ArgumentParser) -> None:
    from rrlib.train.downstream import ClassifierConfig

    p.add_argument("--encoder", type=Path, required=True, help="folder of a finished train-encoder run")
    add_config_flags(p, ClassifierConfig, "head", "classifier_loss", required=("head", "classifier_loss"),
                     helps={"head": "mlp: FC 200 -> FC 10; linear: FC 10"})
    add_run_flags(p, "out", required=("out",))
    add_config_flags(p, ClassifierConfig, "dataset", "epochs", "train_subset", "val_size", "test_subset", "batch_size",
                     "lr", "eval_every", *_ATTACK, helps={
                         "dataset": "must be the encoder's (default: the encoder's dataset)",
                         "train_subset": "training images before the validation split (default: all)"})
    p.add_argument("--autoattack", type=int, default=None, metavar="N",
                   help="also evaluate the final and the best head with AutoAttack (standard) on N test images "
                   "(needs torchattacks)")
    add_config_flags(p, ClassifierConfig, "seed")
    add_run_flags(p, "device", "data_root", "no_progress")


def _classifier_line(record: dict[str, Any], epochs: int) -> str:
    line = (f"epoch {record['epoch']:>3}/{epochs}  train loss {record['train_loss']:.4f} acc {record['train_acc']:.3f}")
    for split in ("val", "test"):
        if f"{split}_nat_acc" in record:
            line += f"  {split} nat {record[f'{split}_nat_acc']:.3f} adv {record[f'{split}_adv_acc']:.3f}"
    line += f"  {record['seconds']:.1f} s"
    return line + (f" (+{record['eval_seconds']:.1f} s eval)" if "eval_seconds" in record else "")


def _classifier_run(args: argparse.Namespace) -> int:
    from rrlib.head_autoattack import add_autoattack
    from rrlib.train.checkpoint import CheckpointError
    from rrlib.train.downstream import CHECKPOINT_FILE, METRICS_FILE, ClassifierConfig, train_classifier
    from rrlib.train.encoder import load_encoder

    try:
        if args.autoattack is not None:
            check_int("--autoattack", args.autoattack, 1)
        device = _device(args.device)
        encoder = load_encoder(args.encoder, device="cpu")
        dataset = encoder.config.dataset
        if args.dataset is not None and args.dataset != dataset:
            raise ValueError(f"--dataset {args.dataset}: the encoder in {args.encoder} was trained on {dataset!r}; "
                             f"omit --dataset (or give --dataset {dataset}), or train an encoder on "
                             f"{args.dataset!r} with train-encoder")
        _check_attack_flags(args, dataset)
        config = ClassifierConfig(**{**given_fields(args, ClassifierConfig), "dataset": dataset})
    except (CheckpointError, ValueError, RuntimeError) as err:
        return _error(_flag_named(err, _field_flags(ClassifierConfig)))
    print(f"train-classifier: {config.head} head, {config.classifier_loss} loss, on the frozen "
          f"{encoder.config.estimator_loss} encoder {args.encoder} ({get_spec(config.dataset).title}), "
          f"{config.epochs} epochs, device {device}; attack {_describe_threat(config.threat())} -> {args.out}")
    if (args.out / CHECKPOINT_FILE).is_file():
        print(f"found {args.out / CHECKPOINT_FILE}: continuing (or reusing) it")
    result, code = _guarded_training(lambda: train_classifier(
        config, args.encoder, args.out, device=device, data_root=args.data_root, show_progress=not args.no_progress,
        on_epoch=lambda rec: print(_classifier_line(rec, config.epochs), flush=True)), args.out)
    if code or result is None:
        return code
    metrics = result.metrics()
    if args.autoattack is not None and distributed.is_main():
        try:
            metrics = add_autoattack(result, args.out / METRICS_FILE, args.autoattack, data_root=args.data_root,
                                     log=lambda line: print(line, flush=True))
        except (ImportError, ValueError) as err:
            return _error(err)
    for which in ("final", "best"):
        numbers = metrics[which]
        if numbers is not None:
            aa_text = (f", AutoAttack {numbers['autoattack_accuracy']:.3f}" if "autoattack_accuracy" in numbers
                       else "")
            print(f"{which} (epoch {numbers['epoch']}): test natural {numbers['natural_accuracy']:.3f}, PGD "
                  f"{numbers['adversarial_accuracy']:.3f}{aa_text}")
    print(f"metrics {args.out / METRICS_FILE}")
    return 0


# ------------------------------------------------------------------------------------------ sweep
def _sweep_arguments(p: argparse.ArgumentParser) -> None:
    from rrlib.paper import TABLES
    from rrlib.sweep import PROFILES

    p.add_argument("--profile", required=True, help=f"one of {list(PROFILES)}")
    p.add_argument("--dataset", default="fashion-mnist", help=f"one of {sorted(TABLES)} (default fashion-mnist)")
    p.add_argument("--out-root", type=Path, required=True, help="folder of the cells (one sub-folder each)")
    p.add_argument("--list", action="store_true", help="print every cell with its state (finished/partial/missing)")
    p.add_argument("--cell", default=None, metavar="NAME", help="run only this cell (names: --list)")
    p.add_argument("--dry-run", action="store_true", help="print what would run, train nothing")
    p.add_argument("--seed", type=int, default=0, help="first seed of the trials (default 0)")
    add_run_flags(p, "device", "data_root")


def _sweep_run(args: argparse.Namespace) -> int:
    from rrlib.sweep import cell_states, sweep, tables_config

    try:
        config = tables_config(args.profile, args.dataset, seed=args.seed, device=args.device,
                               data_root=None if args.data_root is None else str(args.data_root))
        if args.list:
            for state in cell_states(config, args.out_root):
                print(f"{state.cell.name:40s} {state.state:9s} {state.folder}")
            return 0
    except ValueError as err:
        return _error(err)
    print(f"sweep: {args.profile} profile, {config.dataset}, {len(config.seeds)} trials -> {args.out_root}")
    ran, code = _guarded_training(lambda: sweep(config, args.out_root, cell=args.cell, dry_run=args.dry_run),
                                  args.out_root)
    if code:
        return code
    print(f"{'would run' if args.dry_run else 'ran'} {len(ran)} cell(s)")
    return 0


# ------------------------------------------------------------------------------------------ tables, book, colab
def _tables_arguments(p: argparse.ArgumentParser) -> None:
    from rrlib.experiments import downstream_tables

    downstream_tables.add_arguments(p)


def _tables_run(args: argparse.Namespace) -> int:
    from rrlib.experiments import downstream_tables

    words = args._argv
    return downstream_tables.run_command(args, words[words.index("tables") + 1:] if "tables" in words else None)


def _book_arguments(p: argparse.ArgumentParser) -> None:
    from rrlib import book

    book.add_arguments(p)


def _book_run(args: argparse.Namespace) -> int:
    from rrlib import book

    return book.run_command(args)


def _colab_arguments(p: argparse.ArgumentParser) -> None:
    from rrlib import colab

    colab.add_arguments(p)


def _colab_run(args: argparse.Namespace) -> int:
    from rrlib import colab

    return colab.run_command(args)


COMMANDS: dict[str, Command] = {
    "train-model": Command("train a classifier (standard or PGD-adversarial)", _train_arguments, _train_run),
    "estimate-mi": Command(
        "estimate normal and worst-case MI of a trained model's representation", _mi_arguments, _mi_run
    ),
    "train-encoder": Command(
        "train an encoder by (worst-case) mutual-information maximisation (no labels)", _encoder_arguments,
        _encoder_run,
    ),
    "train-classifier": Command(
        "train a standard or robust head on a frozen encoder (final and best / E.S. accuracies)",
        _classifier_arguments, _classifier_run,
    ),
    "sweep": Command(
        "list or train the cells of the downstream tables (Tables 1, 3-5), missing ones or one", _sweep_arguments,
        _sweep_run,
    ),
    "tables": Command("run the downstream tables experiment (Tables 1, 3-5) or copy its results (run, copy)",
                      _tables_arguments, _tables_run),
    "book": Command("list, run or build the book's chapters (list, run, build)", _book_arguments, _book_run),
    "colab": Command("Colab set-up cells and links (sync-notebooks, links)", _colab_arguments, _colab_run),
    "download": Command("download a dataset with torchvision", _download_arguments, _download_run),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command."""
    parser = argparse.ArgumentParser(prog="python -m rrlib.cli", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="command", required=True)
    for name, cmd in COMMANDS.items():
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        p.set_defaults(_run=cmd.run)
    return parser


#: The commands that run data-parallel under torchrun (:mod:`rrlib.distributed`).
DISTRIBUTED_COMMANDS = ("train-model", "train-encoder", "train-classifier", "sweep")


def _distributed_main(args: argparse.Namespace) -> int:
    """Run a command as one rank of a torchrun job: join the process group (NCCL on CUDA, Gloo on the CPU), run
    the command on this rank's device with the console output of rank 0 only, and leave the group."""
    if args.command not in DISTRIBUTED_COMMANDS:
        return _error(ValueError(f"command {args.command!r} does not run under torchrun (WORLD_SIZE="
                                 f"{distributed.world_size() if distributed.is_distributed() else 'set'}); "
                                 f"valid choices: {list(DISTRIBUTED_COMMANDS)}; run it as one process"))
    try:
        device = distributed.init(args.device)
    except (ValueError, RuntimeError) as err:
        return _error(err)
    try:
        args.device = str(device)
        with contextlib.ExitStack() as stack:
            if not distributed.is_main():
                stack.enter_context(contextlib.redirect_stdout(stack.enter_context(open(os.devnull, "w"))))
            return int(args._run(args) or 0)
    finally:
        distributed.teardown()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code. Under torchrun (``WORLD_SIZE > 1``) a training command runs
    data-parallel (:func:`_distributed_main`). A closed standard output (``... | head -1``) ends it quietly with
    status 141 (:func:`rrlib.console.quiet_broken_pipe`)."""
    with quiet_broken_pipe():
        words = list(sys.argv[1:] if argv is None else argv)
        args = build_parser().parse_args(words)
        args._argv = words
        if distributed.launched():
            return _distributed_main(args)
        return int(args._run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
