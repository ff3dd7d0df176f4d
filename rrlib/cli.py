"""The command line, one program: ``rrbook <command> ...`` (or ``python -m rrlib.cli <command> ...``).

Commands (``rrbook <command> --help`` lists each one's flags, derived from its configuration by
:mod:`rrlib.cli_flags` and checked by :mod:`rrlib.cli_checks`)::

    train-model        a classifier, standard or PGD-adversarial (--adversarial); checkpoint.pt + metrics.json
                       in --out (default: the results cache entry of the configuration, so a rerun resumes or reuses)
    estimate-mi        normal MI, worst-case MI and RV of a train-model checkpoint (:mod:`rrlib.mi.checkpoint_estimate`)
    estimate-samples   MI (nats) of a bmi benchmark sample file, the number alone (:mod:`rrlib.mi.external`)
    train-encoder      an encoder by (worst-case) MI maximisation, paper §5 (:func:`rrlib.train.encoder.train_encoder`)
    train-classifier   a standard or robust head on a frozen encoder; --autoattack N (:mod:`rrlib.head_autoattack`)
    sweep              list or train the cells of Tables 1, 3-5 (:mod:`rrlib.grid.commands`)
    tables run|copy    the downstream tables experiment (:mod:`rrlib.grid.commands`)
    book list|run|build            the chapters and the rendered book (:mod:`rrlib.book`)
    colab sync-notebooks|links     Colab set-up cells and links (:mod:`rrlib.colab`)
    download DATASET   fetch a dataset with torchvision (needs internet)

``python -m rrlib.book``, ``python -m rrlib.colab`` and ``python -m rrlib.experiments.downstream_tables`` are the
same sub-commands under their old names (their ``add_arguments`` / ``run_command`` build both). Examples::

    python -m rrlib.cli train-model --dataset fashion-mnist --model baseline_h --adversarial --eps 0.1 --epochs 300
    python -m rrlib.cli estimate-mi --checkpoint runs/fmnist-robust/checkpoint.pt --seeds 0 1 2 \\
        --out runs/fmnist-robust/mi.json
    python -m rrlib.cli train-encoder --dataset fashion-mnist --estimator-loss worst --out runs/enc-worst
    python -m rrlib.cli train-classifier --encoder runs/enc-worst --head mlp --classifier-loss standard \\
        --out runs/enc-worst/h-mlp-standard --autoattack 1000
    python -m rrlib.cli sweep --profile medium --dataset fashion-mnist --out-root runs/tables --list

Bad input gets one ``error:`` line naming the flag and its valid values (exit 2) before anything is built, loaded or
written (:mod:`rrlib.cli_checks`); a reader that closes the pipe early (``sweep --list | head -1``) ends the command
quietly with status 141.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rrlib import cli_checks as checks
from rrlib import cli_flags as flags
from rrlib import console, distributed
from rrlib.data import DATASETS, SPLITS, canonical_name, data_dir, get_spec, load_dataset
from rrlib.mi.checkpoint_estimate import PAPER_CRITIC_EPOCHS
from rrlib.mi.runs import ESTIMATOR_LOSSES
from rrlib.validation import check_int

#: train-model's checks under the names the tests import.
_check_train_flags, _train_config = checks.check_train_flags, checks.train_config


@dataclass(frozen=True)
class Command:
    """A sub-command: its help line, how it adds its arguments, and what it runs (returns an exit code)."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _train_arguments(p: argparse.ArgumentParser) -> None:
    from rrlib.train.supervised import TrainConfig

    flags.add_config_flags(
        p, TrainConfig, "dataset", "model", "head", "width", "epochs", "batch_size", "optimizer", "lr", "adversarial",
        "eps", "steps", "step_size", "eval_eps", "eval_every", "train_subset", "test_subset", "seed",
        defaults={"dataset": "fashion-mnist", "model": "baseline_h", "seed": 0}, types={"dataset": str},
        deprecated=("--adv-eps", "--adv-steps", "--adv-step-size"),
        helps={"dataset": f"one of {sorted(DATASETS)} (default fashion-mnist)", "head": "baseline_h only (default mlp)",
               "epochs": "default: the paper's (300 Baseline-H, 200 CIFAR nets)", "batch_size": "default 128",
               "lr": "learning rate (default: the paper's)"})
    p.add_argument("--no-adv-eval", action="store_true", help="skip adversarial evaluation")
    p.add_argument("--no-amp", action="store_true", help="disable mixed precision on CUDA")
    flags.add_run_flags(p, "device", "out", "data_root", out="output folder (default: the results cache)")
    p.add_argument("--checkpoint-every", type=int, default=None, help="also checkpoint every N steps")
    p.add_argument("--max-steps", type=int, default=None, help="stop after N optimiser steps (resume later)")
    flags.add_run_flags(p, "no_progress")


def _train_run(args: argparse.Namespace) -> int:
    from rrlib.train.cache import config_hash, entry_dir
    from rrlib.train.supervised import CHECKPOINT_FILE, METRICS_FILE, train_model

    try:
        checks.check_train_flags(args)
        config = checks.train_config(args)
        device = checks.device_flag(args.device)
    except ValueError as err:
        return console.error_line(checks.flag_named(err, checks.TRAIN_FLAGS))
    out = args.out if args.out is not None else entry_dir(config)
    threat = config.train_threat()
    print(
        f"train-model {config.model} on {get_spec(config.dataset).title}, "
        f"{'adversarial ' + str(threat) if threat else 'standard'}, device {device}"
    )
    print(f"config {config_hash(config)[:12]} → {out}")
    result, code = console.guarded_training(lambda: train_model(
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

    flags.add_config_flags(p, Request, "checkpoint", "representation", "critic_hidden", "estimator_loss", "eps",
                           "steps", "step_size", keep_defaults=True, required=("checkpoint",),
                           choices={"estimator_loss": ESTIMATOR_LOSSES}, deprecated=("--attack-steps", "--attack-lr"),
                           helps={"estimator_loss": "normal MI, worst-case MI, or both and RV = normal - worst "
                                  "(default both)", "steps": "PGD steps S (default: the dataset's)"})
    flags.add_config_flags(p, Request, "norm", "gradient", keep_defaults=True)
    flags.add_config_flags(p.add_mutually_exclusive_group(), Request, "iterations", "epochs", helps={
        "epochs": f"critic training length in passes over the training set (default {PAPER_CRITIC_EPOCHS}, the "
                        "paper's)"})
    flags.add_config_flags(p, Request, "batch_size", "lr", "test_batches", "select", "train_subset", "test_subset",
                           keep_defaults=True, helps={"batch_size": "batch size B", "lr": "critic Adam lr",
                                                      "train_subset": "critic training images (default: all)"})
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=flags.seed_number, default=None, help="one seed (default 0)")
    seeds.add_argument("--seeds", type=flags.seed_number, nargs="+", default=None, help="several seeds, e.g. 0 1 2")
    flags.add_run_flags(p, "device")
    flags.add_config_flags(p, Request, "threads", keep_defaults=True)
    flags.add_run_flags(p, "data_root", "out", out="JSON file for the results (default: estimate-mi-<representation>-"
                        "<loss>-<hash>.json next to the checkpoint)")


def _mi_run(args: argparse.Namespace) -> int:
    from rrlib.mi.checkpoint_estimate import EstimateMIRequest, prepare_estimate, run_estimate

    seeds = tuple(args.seeds) if args.seeds is not None else (0 if args.seed is None else args.seed,)
    fields = {k: getattr(args, k) for k in EstimateMIRequest.__dataclass_fields__ if k != "seeds"}
    try:
        device = checks.device_flag(args.device)
        with console.one_line_warnings():
            plan = prepare_estimate(EstimateMIRequest(**fields, seeds=seeds), device)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        return console.error_line(err)
    if plan.previous is not None:
        print(console.reloaded_estimate_line(plan.out, plan.previous))
        return 0
    run_estimate(plan, log=lambda line: print(line, flush=True))
    return 0


# ------------------------------------------------------------------------------------------ train-encoder
#: The attack of train-encoder and train-classifier.
_ATTACK = ("eps", "steps", "step_size")


#: train-encoder's flags that only ``--estimator-loss adv-contrastive`` takes (fields of ContrastiveConfig).
_CONTRASTIVE = ("temperature", "adv_weight", "projection_dim")
#: What train-encoder says it trains, per objective.
_ENCODER_OBJECTIVES = {"normal": "DIM (normal MI)", "worst": "worst-case MI",
                       "worst-infonce": "worst-case MI with the InfoNCE bound",
                       "adv-contrastive": "adversarial contrastive learning (RoCL-style)"}


def _encoder_arguments(p: argparse.ArgumentParser) -> None:
    from rrlib.train.encoder import ESTIMATOR_LOSSES, ContrastiveConfig, EncoderConfig

    flags.add_config_flags(p, EncoderConfig, "dataset", "estimator_loss", defaults={"dataset": "fashion-mnist"},
                           required=("estimator_loss",),
                           choices={"estimator_loss": ESTIMATOR_LOSSES},
                           helps={"dataset": f"one of {sorted(DATASETS)} (default fashion-mnist)",
                                  "estimator_loss": "normal: DIM (Hjelm et al.); worst: worst-case MI, Eq. (5.4); "
                                                    "worst-infonce: Eq. (5.4) with the InfoNCE bound; "
                                                    "adv-contrastive: RoCL-style adversarial contrastive learning"})
    flags.add_run_flags(p, "out", required=("out",))
    flags.add_config_flags(p, EncoderConfig, "epochs", "train_subset", "width", "critic_hidden", "batch_size", "lr",
                                 *_ATTACK, "seed", helps={"epochs": "default 300 (the paper's)"},
                           deprecated=("--attack-steps",))
    flags.add_config_flags(p, ContrastiveConfig, *_CONTRASTIVE, helps={
        "temperature": "adv-contrastive only: NT-Xent temperature (default 0.5)",
        "adv_weight": "adv-contrastive only: weight λ of the adversarial NT-Xent term (default 1)",
        "projection_dim": "adv-contrastive only: output width of the projection head (default 64)"})
    flags.add_run_flags(p, "device", "data_root", "no_progress")


def _encoder_epoch_line(record: dict, epochs: int) -> str:
    """train-encoder's line for one epoch: :func:`rrlib.console.encoder_epoch_line` for the DV objectives, the
    objective's own training value and held-out numbers for the other two."""
    if "train_dv" in record:
        return console.encoder_epoch_line(record, epochs)
    if "train_infonce" in record:
        held = (f"held-out InfoNCE normal {record['heldout_infonce_normal']:.4f} worst "
                f"{record['heldout_infonce_worst']:.4f}, DV normal {record['heldout_mi_normal']:.4f} worst "
                f"{record['heldout_mi_worst']:.4f} nats")
        head = f"train InfoNCE {record['train_infonce']:.4f}"
    else:
        head = f"train loss {record['train_loss']:.4f}"
        held = f"held-out NT-Xent clean {record['heldout_ntxent']:.4f} attacked {record['heldout_ntxent_adv']:.4f} nats"
    return f"epoch {record['epoch']:>3}/{epochs}  {head}  {held}  {record['seconds']:.1f} s"


def _encoder_run(args: argparse.Namespace) -> int:
    from rrlib.train.encoder import CHECKPOINT_FILE, METRICS_FILE, ContrastiveConfig, config_of, train_encoder

    try:
        checks.check_width(args.width)
        checks.check_attack_flags(args, args.dataset)
        fields = flags.given_fields(args, ContrastiveConfig)
        given = [flags.flag_of(f) for f in _CONTRASTIVE if f in fields]
        if given and args.estimator_loss != "adv-contrastive":
            raise ValueError(f"{', '.join(given)}: only --estimator-loss adv-contrastive takes "
                             f"{'this flag' if len(given) == 1 else 'these flags'}, not --estimator-loss "
                             f"{args.estimator_loss}; drop {'it' if len(given) == 1 else 'them'}")
        config = config_of(**fields)
        device = checks.device_flag(args.device)
    except ValueError as err:
        return console.error_line(checks.flag_named(err, checks.field_flags(ContrastiveConfig)))
    except RuntimeError as err:
        return console.error_line(err)
    what = _ENCODER_OBJECTIVES[config.estimator_loss]
    print(f"train-encoder: {what} on {get_spec(config.dataset).title}, {config.epochs} epochs, device {device}; "
          f"attack {console.describe_threat(config.threat())} -> {args.out}")
    if (args.out / CHECKPOINT_FILE).is_file():
        print(f"found {args.out / CHECKPOINT_FILE}: continuing (or reusing) it")
    result, code = console.guarded_training(lambda: train_encoder(
        config, args.out, device=device, data_root=args.data_root, show_progress=not args.no_progress,
        on_epoch=lambda rec: print(_encoder_epoch_line(rec, config.epochs), flush=True)), args.out)
    if code or result is None:
        return code
    final = result.final
    if "heldout_mi_normal" in final:
        print(f"finished: {len(result.history)} epochs; held-out MI normal {final['heldout_mi_normal']:.4f}, worst "
              f"{final['heldout_mi_worst']:.4f}, RV {final['heldout_rv']:.4f} nats; metrics {args.out / METRICS_FILE}")
    else:
        print(f"finished: {len(result.history)} epochs; held-out NT-Xent clean {final['heldout_ntxent']:.4f}, "
              f"attacked {final['heldout_ntxent_adv']:.4f} nats; metrics {args.out / METRICS_FILE}")
    return 0


# ------------------------------------------------------------------------------------------ train-classifier
def _classifier_arguments(p: argparse.ArgumentParser) -> None:
    from rrlib.train.downstream import ClassifierConfig

    p.add_argument("--encoder", type=Path, required=True, help="folder of a finished train-encoder run")
    flags.add_config_flags(p, ClassifierConfig, "head", "classifier_loss", required=("head", "classifier_loss"),
                           helps={"head": "mlp: FC 200 -> FC 10; linear: FC 10"})
    flags.add_run_flags(p, "out", required=("out",))
    flags.add_config_flags(p, ClassifierConfig, "dataset", "epochs", "train_subset", "val_size", "test_subset",
                                 "batch_size", "lr", "eval_every", *_ATTACK, deprecated=("--attack-steps",), helps={
                               "dataset": "must be the encoder's (default: the encoder's dataset)",
                               "train_subset": "training images before the validation split (default: all)"})
    p.add_argument("--autoattack", type=int, default=None, metavar="N",
                   help="also evaluate the final and the best head with AutoAttack (standard) on N test images "
                   "(needs torchattacks)")
    flags.add_config_flags(p, ClassifierConfig, "seed")
    flags.add_run_flags(p, "device", "data_root", "no_progress")


def _classifier_run(args: argparse.Namespace) -> int:
    from rrlib.head_autoattack import add_autoattack
    from rrlib.train.checkpoint import CheckpointError
    from rrlib.train.downstream import CHECKPOINT_FILE, METRICS_FILE, ClassifierConfig, train_classifier
    from rrlib.train.encoder import load_encoder

    try:
        if args.autoattack is not None:
            check_int("--autoattack", args.autoattack, 1)
        device = checks.device_flag(args.device)
        encoder = load_encoder(args.encoder, device="cpu")
        dataset = encoder.config.dataset
        checks.check_encoder_dataset(args.dataset, dataset, args.encoder)
        checks.check_attack_flags(args, dataset)
        config = ClassifierConfig(**{**flags.given_fields(args, ClassifierConfig), "dataset": dataset})
    except (CheckpointError, ValueError, RuntimeError) as err:
        return console.error_line(checks.flag_named(err, checks.field_flags(ClassifierConfig)))
    print(f"train-classifier: {config.head} head, {config.classifier_loss} loss, on the frozen "
          f"{encoder.config.estimator_loss} encoder {args.encoder} ({get_spec(config.dataset).title}), "
          f"{config.epochs} epochs, device {device}; attack {console.describe_threat(config.threat())} -> {args.out}")
    if (args.out / CHECKPOINT_FILE).is_file():
        print(f"found {args.out / CHECKPOINT_FILE}: continuing (or reusing) it")
    result, code = console.guarded_training(lambda: train_classifier(
        config, args.encoder, args.out, device=device, data_root=args.data_root, show_progress=not args.no_progress,
        on_epoch=lambda rec: print(console.classifier_epoch_line(rec, config.epochs), flush=True)), args.out)
    if code or result is None:
        return code
    metrics = result.metrics()
    if args.autoattack is not None and distributed.is_main():
        try:
            metrics = add_autoattack(result, args.out / METRICS_FILE, args.autoattack, data_root=args.data_root,
                                     log=lambda line: print(line, flush=True))
        except (ImportError, ValueError) as err:
            return console.error_line(err)
    for line in console.head_summary_lines(metrics):
        print(line)
    print(f"metrics {args.out / METRICS_FILE}")
    return 0


# ------------------------------------------------------------------------------------------ tables, book, colab
def _program(module: str, help: str, after: str | None = None, add: str = "add_arguments",
             run: str = "run_command") -> Command:
    """A sub-command whose arguments and run live in ``module`` (its functions ``add`` and ``run``, imported when
    used); ``after``: pass the words after that word as the recorded command."""
    def go(args: argparse.Namespace) -> int:
        words = args._argv
        extra = (words[words.index(after) + 1:] if after in words else None,) if after else ()
        return getattr(importlib.import_module(module), run)(args, *extra)

    return Command(help, lambda p: getattr(importlib.import_module(module), add)(p), go)


COMMANDS: dict[str, Command] = {
    "train-model": Command("train a classifier (standard or PGD-adversarial)", _train_arguments, _train_run),
    "estimate-mi": Command("estimate normal and worst-case MI of a trained model's representation", _mi_arguments,
                           _mi_run),
    "estimate-samples": _program("rrlib.mi.external", "estimate MI (nats) from a sample file in bmi's format and print "
                                 "only the number (an external estimator for the bmi benchmark)"),
    "train-encoder": Command("train an encoder by (worst-case) mutual-information maximisation (no labels)",
                             _encoder_arguments, _encoder_run),
    "train-classifier": Command("train a standard or robust head on a frozen encoder (final and best / E.S. "
                                "accuracies)", _classifier_arguments, _classifier_run),
    "sweep": _program("rrlib.grid.commands", "list or train the cells of the downstream tables (Tables 1, 3-5), "
                      "missing ones or one", add="add_sweep_arguments", run="run_sweep"),
    "tables": _program("rrlib.grid.commands", "run the downstream tables experiment (Tables 1, 3-5) or copy its "
                       "results (run, copy)", after="tables", add="add_tables_arguments", run="run_tables"),
    "book": _program("rrlib.book", "list, run or build the book's chapters (list, run, build)"),
    "colab": _program("rrlib.colab", "Colab set-up cells and links (sync-notebooks, links)"),
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
        return console.error_line(ValueError(f"command {args.command!r} does not run under torchrun (WORLD_SIZE="
                                             f"{distributed.world_size() if distributed.is_distributed() else 'set'}); "
                                             f"valid choices: {list(DISTRIBUTED_COMMANDS)}; run it as one process"))
    try:
        device = distributed.init(args.device)
    except (ValueError, RuntimeError) as err:
        return console.error_line(err)
    try:
        args.device = str(device)
        with distributed.rank_zero_stdout():
            return int(args._run(args) or 0)
    finally:
        distributed.teardown()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code. Under torchrun (``WORLD_SIZE > 1``) a training command runs
    data-parallel (:func:`_distributed_main`). A closed standard output (``... | head -1``) ends it quietly with
    status 141 (:func:`rrlib.console.quiet_broken_pipe`)."""
    with console.quiet_broken_pipe():
        words = list(sys.argv[1:] if argv is None else argv)
        args = build_parser().parse_args(words)
        args._argv = words
        if distributed.launched():
            return _distributed_main(args)
        return int(args._run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
