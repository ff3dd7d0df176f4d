"""The command line's flags, each written once: derived from the configuration dataclasses' fields.

A field ``name`` of a configuration (:class:`rrlib.train.supervised.TrainConfig`,
:class:`rrlib.train.encoder.EncoderConfig`, :class:`rrlib.train.downstream.ClassifierConfig`,
:class:`rrlib.mi.checkpoint_estimate.EstimateMIRequest`) becomes the flag ``--kebab-name`` (:data:`FLAG_NAMES` lists the
few spelled otherwise) with the field's type (``int | None`` → ``int``; radii and step sizes also take a fraction such
as ``8/255``), its help from :data:`HELP` (one line per field, shared by every command) and, unless the help says
otherwise, ``(default X)`` from the field's default. :func:`add_config_flags` adds them to a parser; the flags that are
no configuration field (``--device``, ``--data-root``, ``--no-progress``, ...) come from :data:`RUN_FLAGS` through
:func:`add_run_flags`. :func:`flag_of` maps a field back to its flag, for messages that must name flags.

Every command names the attack ``--eps``, ``--steps``, ``--step-size`` (the fields ``eps``, ``steps``, ``step_size``
of every configuration). The former spellings (``--adv-eps``, ``--adv-steps``, ``--adv-step-size``,
``--attack-steps``, ``--attack-lr``) still work as :data:`DEPRECATED` aliases that print one line saying so
(:func:`add_deprecated_flags`).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
import types
import typing
from pathlib import Path
from typing import Any

from rrlib.data import DATASETS, canonical_name, data_dir

__all__ = ["DEPRECATED", "FLAG_NAMES", "HELP", "RUN_FLAGS", "DeprecatedAlias", "add_config_flags",
           "add_deprecated_flags", "add_run_flags", "eval_fraction", "flag_of", "given_fields", "seed_number"]


def eval_fraction(text: str) -> float:
    """Parse ``"0.1"`` or a fraction ``"8/255"`` (no other expressions)."""
    num, sep, den = text.partition("/")
    try:
        return float(num) / float(den) if sep else float(num)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"not a number or fraction: {text!r}") from None


def _adv_eps(text: str) -> str | float | None:
    if text == "paper":
        return None
    try:
        value = eval_fraction(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--adv-eps must be a number (e.g. 0.1 or 8/255) or 'paper', got {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"--adv-eps must be non-negative, got {text!r}")
    return value


def seed_number(text: str) -> int:
    """A ``--seed``/``--seeds`` value: a non-negative integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a seed must be a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed must be a non-negative integer, got {text!r}")
    return value


def _dataset(text: str) -> str:
    try:
        return canonical_name(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


#: The former flags of the attack: old flag → (the field it sets, what to say instead, its parser, other fields it
#: sets). ``--adv-eps EPS|paper`` trained adversarially at EPS (``paper``: the dataset's ε), so it sets both.
DEPRECATED: dict[str, tuple[str, str, Any, dict[str, Any]]] = {
    "--adv-eps": ("eps", "--adversarial --eps EPS (--adversarial alone: the dataset's ε)", _adv_eps,
                  {"adversarial": True}),
    "--adv-steps": ("steps", "--steps", int, {}),
    "--adv-step-size": ("step_size", "--step-size", eval_fraction, {}),
    "--attack-steps": ("steps", "--steps", int, {}),
    "--attack-lr": ("step_size", "--step-size (the book's η)", eval_fraction, {}),
}


class DeprecatedAlias(argparse.Action):
    """Store the value like the new flag does (and the other fields it implies) and print one line to stderr
    naming the new flag (:data:`DEPRECATED`)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        _, instead, _, implied = DEPRECATED[self.option_strings[0]]
        print(f"warning: {option_string} is deprecated; use {instead} instead", file=sys.stderr)
        setattr(namespace, self.dest, values)
        for name, value in implied.items():
            setattr(namespace, name, value)


def add_deprecated_flags(parser: Any, *old: str) -> None:
    """Add the deprecated aliases ``old`` (flags of :data:`DEPRECATED`) to ``parser``."""
    for flag in old:
        field, instead, kind, _ = DEPRECATED[flag]
        parser.add_argument(flag, dest=field, type=kind, action=DeprecatedAlias, help=f"deprecated: use {instead}")


#: Fields whose flag is not ``--kebab-name``.
FLAG_NAMES: dict[str, str] = {}
#: Fields whose value takes a fraction (``8/255``) or a special parser.
TYPES = {"eps": eval_fraction, "step_size": eval_fraction, "eval_eps": eval_fraction, "dataset": _dataset}
#: Fields with a fixed set of values: (module, name of the tuple there).
CHOICES = {"model": ("rrlib.models", "MODELS"), "head": ("rrlib.models", "HEADS"),
           "optimizer": ("rrlib.train.supervised", "OPTIMIZERS"),
           "classifier_loss": ("rrlib.train.downstream", "CLASSIFIER_LOSSES"),
           "representation": ("rrlib.models.representations", "REPRESENTATIONS"),
           "norm": ("rrlib.attacks", "NORM_CHOICES"), "gradient": ("rrlib.mi.worst_case", "GRADIENT_PATHS"),
           "select": ("rrlib.mi.worst_case", "SELECTIONS")}
#: Help of each field, shared by every command that has it.
HELP = {
    "dataset": f"one of {sorted(DATASETS)}",
    "model": "the network (default baseline_h)",
    "head": "classifier head",
    "width": "Baseline-H width multiplier (default 1)",
    "epochs": "training epochs",
    "batch_size": "batch size",
    "optimizer": "optimiser (default: the paper's)",
    "lr": "Adam learning rate",
    "adversarial": "PGD adversarial training with the attack --eps/--steps/--step-size; omit for standard training",
    "eval_eps": "evaluation ε (default: the dataset's)",
    "eval_every": "evaluate every N epochs and at the last",
    "train_subset": "training images (default: all)",
    "test_subset": "test images (default: all)",
    "val_size": "held-out images choosing the best / E.S. epoch (default 5000; 0: none)",
    "seed": "initialisation, batch order, subsets",
    "critic_hidden": "critic width (default 2048, the paper's)",
    "eps": "attack radius, e.g. 0.1 or 8/255 (default: the dataset's, supplement D.1)",
    "steps": "PGD steps (default: the dataset's)",
    "step_size": "PGD step size η (default: the dataset's)",
    "norm": "attack norm (default: the dataset's, linf)",
    "estimator_loss": "normal: DIM (Hjelm et al.); worst: worst-case MI, Eq. (5.4)",
    "classifier_loss": "standard: clean cross-entropy; robust: PGD adversarial training of the head",
    "representation": "logits: the model's output layer (the paper's Figures 1-2); z: model.representation(x), the "
                      "64-d Baseline-H code",
    "gradient": "the adversary's gradient: through z only (the official code, default) or through both critic "
                "inputs (Algorithm 1 as printed)",
    "iterations": "critic training iterations T",
    "test_batches": "test batches K (default: every full batch of the test set)",
    "select": "best: the critic with the largest training estimate (Algorithm 2); last: the final one",
    "threads": "torch CPU threads during the run (default: torch's)",
    "checkpoint": "checkpoint.pt written by train-model, or the folder holding it",
}
#: Flags that are no configuration field: argparse keywords by destination.
RUN_FLAGS: dict[str, dict[str, Any]] = {
    "device": {"default": "auto", "help": "auto (CUDA when present), cpu, cuda, cuda:N, mps"},
    "data_root": {"type": Path, "default": None, "help": f"data directory (default {data_dir()})"},
    "no_progress": {"action": "store_true", "help": "no progress bar (the per-epoch lines stay)"},
    "out": {"type": Path, "default": None, "help": "output folder (checkpoint.pt, metrics.json)"},
}


def flag_of(field: str) -> str:
    """The flag that sets the configuration field ``field``."""
    return FLAG_NAMES.get(field, "--" + field.replace("_", "-"))


def _scalar(hint: Any) -> Any:
    """``int`` of ``int | None`` (``Optional[int]``); the hint itself otherwise."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        kinds = [k for k in typing.get_args(hint) if k is not type(None)]
        return kinds[0] if len(kinds) == 1 else str
    return hint


def add_config_flags(parser: Any, config_type: type, *names: str, helps: dict[str, str] | None = None,
                     defaults: dict[str, Any] | None = None, required: tuple[str, ...] = (),
                     keep_defaults: bool = False, types: dict[str, Any] | None = None,
                     choices: dict[str, Any] | None = None, deprecated: tuple[str, ...] = ()) -> None:
    """Add one flag per field ``names`` of the dataclass ``config_type`` to ``parser`` (a parser or a group).

    The flag's destination is the field's name; its default is ``None`` (the library keeps its own) unless
    ``keep_defaults`` (the field's default) or ``defaults`` gives one; ``helps`` replaces a field's shared help,
    ``types`` and ``choices`` a field's shared type and values; ``deprecated``: former flags of these fields
    (:func:`add_deprecated_flags`). A ``bool`` field (default ``False``) is a switch.
    """
    hints = typing.get_type_hints(config_type)
    fields = {f.name: f for f in dataclasses.fields(config_type)}
    for name in names:
        field_default = fields[name].default if fields[name].default is not dataclasses.MISSING else None
        default = (defaults or {}).get(name, field_default if keep_defaults else None)
        text = (helps or {}).get(name, HELP.get(name, ""))
        if "default" not in text and field_default is not None and field_default is not False and name not in required:
            text += f" (default {field_default:g})" if isinstance(field_default, float) else \
                f" (default {field_default})"
        kwargs: dict[str, Any] = {"dest": name, "default": default, "help": text,
                                  "type": (types or {}).get(name, TYPES.get(name, _scalar(hints[name])))}
        if kwargs["type"] is bool:  # a switch: a bool field whose default is False
            kwargs.update(action="store_true", default=False)
            kwargs.pop("type")
        if name in (choices or {}) or name in CHOICES:
            kwargs["choices"] = (choices or {}).get(name) or getattr(importlib.import_module(CHOICES[name][0]),
                                                                      CHOICES[name][1])
            kwargs.pop("type")
        if name in required:
            kwargs["required"] = True
        if name in FLAG_NAMES:
            kwargs["metavar"] = FLAG_NAMES[name][2:].replace("-", "_").upper()
        parser.add_argument(flag_of(name), **kwargs)
    add_deprecated_flags(parser, *deprecated)


def add_run_flags(parser: Any, *names: str, required: tuple[str, ...] = (), **helps: str) -> None:
    """Add the flags ``names`` of :data:`RUN_FLAGS` (``helps``: a command's own help of one of them)."""
    for name in names:
        kwargs = dict(RUN_FLAGS[name])
        if name in helps:
            kwargs["help"] = helps[name]
        if name in required:
            kwargs["required"] = True
        parser.add_argument("--" + name.replace("_", "-"), dest=name, **kwargs)


def given_fields(args: argparse.Namespace, config_type: type, *skip: str) -> dict[str, Any]:
    """``{field: value}`` of the fields of ``config_type`` given on the command line (the library keeps its
    defaults for the others); ``skip``: fields the command sets itself."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(config_type)
            if f.name not in skip and getattr(args, f.name, None) is not None}
