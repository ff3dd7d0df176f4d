"""The checks a command makes on its flags before any work, and the flags named in library messages.

train-model's ranges and contradictions (:func:`check_train_flags`: ``--width`` in (0, :data:`MAX_WIDTH`], radii in
the input box, ``--eval-eps`` with ``--no-adv-eval``, ``--eps``/``--steps`` without ``--adversarial``, the attack a
dataset without a threat model in the paper must be given: the one message of :func:`rrlib.data.resolve_threat`, naming
flags) and its configuration (:func:`train_config`); the attack flags of train-encoder / train-classifier
(:func:`check_attack_flags`); ``--device`` (:func:`device_flag`); and :func:`flag_named`, which rewrites a library
message that starts with a configuration field (``steps must ...``) to start with the flag that sets it. Each raises
one ``ValueError`` naming the flag and its valid values.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from rrlib.cli_flags import flag_of
from rrlib.data import get_spec
from rrlib.validation import check_radius

__all__ = ["ATTACK_FLAGS", "MAX_WIDTH", "TRAIN_FLAGS", "check_attack_flags", "check_encoder_dataset",
           "check_train_flags", "check_width", "device_flag", "field_flags", "flag_named", "train_config"]


#: The largest ``--width``. Baseline-H has about 3.1 M parameters at width 1 on 28×28 images (4.9 M on 32×32) and
#: grows as width², so width 16 already means 0.8–1.3 G parameters (3–5 GB of float32 weights, about four times that
#: while training with Adam); ``--width 1e9`` would ask for 4 TB in its first layer.
MAX_WIDTH = 16.0


def check_width(width: float | None) -> None:
    """``--width`` in (0, :data:`MAX_WIDTH`] (``None``: not given)."""
    if width is not None and not (math.isfinite(width) and 0 < width <= MAX_WIDTH):
        raise ValueError(f"--width {width:g}: the Baseline-H width multiplier must be a number in (0, {MAX_WIDTH:g}] "
                         "(1 is the paper's network, 0.125 the quick profile's; parameters grow as width²)")


def device_flag(text: str) -> Any:
    """:func:`rrlib.runtime.select_device` of ``--device``; its refusal (unknown name, CUDA absent) as a ``ValueError``
    that names the flag."""
    from rrlib.runtime import select_device

    try:
        return select_device(text)
    except (ValueError, RuntimeError) as err:
        raise ValueError(f"--device {text}: {err}") from None


def flag_named(err: Exception, flags: dict[str, str]) -> Exception:
    """``err`` with its leading configuration field (``"steps must be ..."``, ``"step_size=0.7 exceeds ..."``)
    named as the flag that sets it, when ``flags`` (field → flag) knows the field."""
    text = str(err)
    field = text.split(" ", 1)[0].split("=", 1)[0]
    if field not in flags:
        return err
    rest = text[len(field):].replace(" or None, got", ", got", 1).replace(" must be None or ", " must be ", 1)
    return ValueError(flags[field] + (" " + rest[1:] if rest.startswith("=") else rest))


def field_flags(config_type: type) -> dict[str, str]:
    """Configuration field → flag for every field of ``config_type`` (the attack's own fields, which a
    :class:`ThreatModel` message starts with, are the configurations' ``eps``, ``steps``, ``step_size``)."""
    return {f: flag_of(f) for f in config_type.__dataclass_fields__}


#: The attack's values and their flags, for :func:`rrlib.data.resolve_threat`'s one "no threat model" message.
ATTACK_FLAGS = {"eps": "--eps", "steps": "--steps", "step_size": "--step-size"}


#: train-model: the configuration fields a library message may start with, and their flags.
TRAIN_FLAGS = {f: flag_of(f) for f in ("head", "width", "epochs", "batch_size", "optimizer", "lr", "eps", "steps",
                                       "step_size", "eval_eps", "eval_every", "train_subset", "test_subset", "seed")}


def check_train_flags(args: argparse.Namespace) -> None:
    """train-model's checks that need no data: ranges, contradictions, and the attack a dataset without a threat
    model in the paper must be given (``ValueError`` naming flags, before anything is built or written)."""
    spec = get_spec(args.dataset)
    check_width(args.width)
    for flag, value in (("--eps", args.eps), ("--eval-eps", args.eval_eps)):
        if value is not None:
            check_radius(flag, value)
    if args.no_adv_eval and args.eval_eps is not None:
        raise ValueError(f"--eval-eps {args.eval_eps:g} with --no-adv-eval: there is no adversarial evaluation to "
                         "take that radius; give one of them, not both")
    given = [f"{flag} {value:g}" for flag, value in (("--eps", args.eps), ("--steps", args.steps),
                                                     ("--step-size", args.step_size)) if value is not None]
    if given and not args.adversarial and (args.eval_eps is None or args.eps is not None):
        raise ValueError(f"{' '.join(given)} without --adversarial: training is standard, so no training attack takes "
                         "them; give --adversarial to train adversarially, "
                         + ("or leave them out" if args.no_adv_eval else
                            "or --eval-eps EPS (with --steps/--step-size) to set only the evaluation attack"))
    if spec.threat is not None:
        return
    from rrlib.data import resolve_threat  # the one message for a dataset without a threat model in the paper

    if args.adversarial:
        resolve_threat(spec.name, args.eps, args.steps, args.step_size, names=ATTACK_FLAGS)
    if not args.no_adv_eval:
        try:
            resolve_threat(spec.name, args.eval_eps if args.eval_eps is not None else args.eps, args.steps,
                           args.step_size, names={**ATTACK_FLAGS, "eps": "--eval-eps"})
        except ValueError as err:
            if not str(err).startswith("dataset"):
                raise
            raise ValueError(f"{err} for the evaluation attack (e.g. --eval-eps 0.3 --steps 3 --step-size 0.1), or "
                             "--no-adv-eval to skip adversarial evaluation") from None


def train_config(args: argparse.Namespace) -> Any:
    """The :class:`rrlib.train.supervised.TrainConfig` of train-model's flags (the paper's, with the flags given)."""
    from rrlib.train.supervised import paper_config

    names = ("head", "width", "epochs", "batch_size", "optimizer", "lr", "eps", "steps", "step_size", "eval_eps",
             "eval_every", "train_subset", "test_subset")
    overrides = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    if args.no_adv_eval:
        overrides["eval_adversarial"] = False
    if args.no_amp:
        overrides["amp"] = False
    return paper_config(args.dataset, args.model, adversarial=args.adversarial, seed=args.seed, **overrides)


def check_attack_flags(args: argparse.Namespace, dataset: str) -> None:
    """``--eps`` inside the input box, and the whole attack given for a dataset without one in the paper."""
    from rrlib.data import resolve_threat

    if args.eps is not None:
        check_radius("--eps", args.eps)
    if get_spec(dataset).threat is None:
        resolve_threat(dataset, args.eps, args.steps, args.step_size, names=ATTACK_FLAGS)


def check_encoder_dataset(given: str | None, dataset: str, encoder: Any) -> None:
    """train-classifier's ``--dataset`` (``given``) must be the dataset the encoder in ``encoder`` was trained on."""
    if given is not None and given != dataset:
        raise ValueError(f"--dataset {given}: the encoder in {encoder} was trained on {dataset!r}; "
                         f"omit --dataset (or give --dataset {dataset}), or train an encoder on "
                         f"{given!r} with train-encoder")
