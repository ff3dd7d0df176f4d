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
    Estimate the normal and worst-case mutual information of a trained model (the paper's
    ``--task estimate-mi``). Provided by :mod:`rrlib.mi.cli` (functions ``add_arguments(parser)`` and
    ``main(args) -> int``) when that module exists; see :data:`LAZY_COMMANDS`.
``download``
    Fetch a dataset with torchvision (needs internet) into the data directory.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rrlib.data import DATASETS, SPLITS, canonical_name, data_dir, get_spec, load_dataset


@dataclass(frozen=True)
class Command:
    """A sub-command: its help line, how it adds its arguments, and what it runs (returns an exit code)."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


#: Sub-commands implemented in other modules: name → (module, help). The module defines
#: ``add_arguments(parser)`` and ``main(args) -> int``; it is imported only when present.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "estimate-mi": ("rrlib.mi.cli", "estimate normal and worst-case MI of a trained model's representation"),
}


def _adv_eps(text: str) -> str | float:
    if text == "paper":
        return text
    try:
        value = eval_fraction(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--adv-eps must be a number (e.g. 0.1 or 8/255) or 'paper', got {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"--adv-eps must be non-negative, got {text!r}")
    return value


def eval_fraction(text: str) -> float:
    """Parse ``"0.1"`` or a fraction ``"8/255"`` (no other expressions)."""
    num, sep, den = text.partition("/")
    try:
        return float(num) / float(den) if sep else float(num)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"not a number or fraction: {text!r}") from None


def _train_arguments(p: argparse.ArgumentParser) -> None:
    from rrlib.models import HEADS, MODELS
    from rrlib.train.supervised import OPTIMIZERS

    p.add_argument(
        "--dataset", default="fashion-mnist", help=f"one of {sorted(DATASETS)} (default fashion-mnist)"
    )
    p.add_argument("--model", default="baseline_h", choices=MODELS)
    p.add_argument("--head", default=None, choices=HEADS, help="baseline_h only (default mlp)")
    p.add_argument("--width", type=float, default=None, help="baseline_h width multiplier (default 1)")
    p.add_argument(
        "--epochs", type=int, default=None, help="default: the paper's (300 Baseline-H, 200 CIFAR nets)"
    )
    p.add_argument("--batch-size", type=int, default=None, help="default 128")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument(
        "--adv-eps",
        type=_adv_eps,
        default=None,
        help="PGD adversarial training radius (number, fraction like 8/255, or 'paper'); "
        "omit for standard training",
    )
    p.add_argument("--adv-steps", type=int, default=None)
    p.add_argument("--adv-step-size", type=float, default=None)
    p.add_argument(
        "--eval-eps", type=eval_fraction, default=None, help="evaluation ε (default: the dataset's)"
    )
    p.add_argument("--no-adv-eval", action="store_true", help="skip adversarial evaluation")
    p.add_argument("--eval-every", type=int, default=None)
    p.add_argument("--train-subset", type=int, default=None)
    p.add_argument("--test-subset", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-amp", action="store_true", help="disable mixed precision on CUDA")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: the results cache)")
    p.add_argument("--data-root", type=Path, default=None, help=f"data directory (default {data_dir()})")
    p.add_argument("--checkpoint-every", type=int, default=None, help="also checkpoint every N steps")
    p.add_argument("--max-steps", type=int, default=None, help="stop after N optimiser steps (resume later)")
    p.add_argument("--no-progress", action="store_true")


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


def _train_run(args: argparse.Namespace) -> int:
    from rrlib.runtime import select_device
    from rrlib.train.cache import canonical_json, config_hash, entry_dir
    from rrlib.train.checkpoint import atomic_write_text
    from rrlib.train.supervised import CHECKPOINT_FILE, METRICS_FILE, train_model

    try:
        config = _train_config(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    device = select_device(args.device)
    out = args.out if args.out is not None else entry_dir(config)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.json", canonical_json(config) + "\n")
    threat = config.train_threat()
    print(
        f"train-model {config.model} on {get_spec(config.dataset).title}, "
        f"{'adversarial ' + str(threat) if threat else 'standard'}, device {device}"
    )
    print(f"config {config_hash(config)[:12]} → {out}")
    result = train_model(
        config,
        device=device,
        checkpoint_path=out / CHECKPOINT_FILE,
        checkpoint_every=args.checkpoint_every,
        max_steps=args.max_steps,
        data_root=args.data_root,
        log=print,
        show_progress=not args.no_progress,
    )
    metrics = result.metrics()
    atomic_write_text(out / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
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


COMMANDS: dict[str, Command] = {
    "train-model": Command("train a classifier (standard or PGD-adversarial)", _train_arguments, _train_run),
    "download": Command("download a dataset with torchvision", _download_arguments, _download_run),
}


def _lazy_command(name: str) -> Command:
    module_name, help_text = LAZY_COMMANDS[name]

    def unavailable(_: argparse.ArgumentParser) -> None:
        return None

    def fail(_: argparse.Namespace) -> int:
        print(
            f"error: command {name!r} needs module {module_name}, which is not available in this "
            "installation",
            file=sys.stderr,
        )
        return 2

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name is not None and module_name.startswith(err.name):
            return Command(help_text + " (not available)", unavailable, fail)
        raise
    return Command(help_text, module.add_arguments, module.main)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command."""
    parser = argparse.ArgumentParser(prog="python -m rrlib.cli", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="command", required=True)
    commands = dict(COMMANDS)
    for name in LAZY_COMMANDS:
        commands[name] = _lazy_command(name)
    for name, cmd in commands.items():
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        p.set_defaults(_run=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
