"""Smoke mode: an experiment's **full** configuration with every size shrunk and every structural choice kept.

``smoke(Config.full(seed, device))`` returns a configuration of the same type that walks the full profile's code
path — its datasets (CIFAR-10, MNIST, SVHN, Fashion-MNIST loaders), its five architectures, the width-2048 critic,
the estimator, the attack kind, the trial counts (at least two wherever the code averages over trials) — but
with epochs, subsets, iterations, steps, numbers of images and repeats small enough that every experiment runs on
a CPU in seconds to minutes. It is what ``tests/test_full_profile_smoke.py`` runs, on tiny files written in each
dataset's true on-disk format, so a break anywhere in the full path is a failing test without a GPU.

One mechanism: :data:`SMOKE_RULES` holds, for every configuration class that a full profile contains (nested
ones included), one rule per **field**:

* :data:`KEEP` — structural (a dataset, an architecture, a width, an attack, a learning rate, a seed ...): the
  smoke configuration has the full value;
* :data:`NESTED` — a nested configuration (or a tuple of them): shrunk by its own class's rules;
* a constant — the smoke value (a size);
* a callable ``old -> new`` — a size that depends on the full value (e.g. the first two of four trials).

One size is not shrunk but switched off: ``TablesConfig.autoattack_n`` is 0 (no AutoAttack column). AutoAttack's
Square attack spends 5,000 queries on every image that survives the gradient attacks, which no configuration field
bounds: on barely trained smoke models that is up to half a minute per image, at random. The downstream AutoAttack
path runs in the quick profile's test (``tests/test_downstream_tables.py``) and in ``tests/test_robustness_eval.py``.

Every field of every class must have a rule: :func:`smoke` raises on a field that has none, so a size field added
later cannot escape the smoke test unnoticed (``tests/test_full_profile_smoke.py`` also checks the table against
the classes' fields). Smoke values are never larger than the full ones (the test checks that too).

>>> from rrlib.experiments.theorem_3_4 import Theorem34Config
>>> small = smoke(Theorem34Config.full())
>>> small.n_problems, small.class_counts == Theorem34Config.full().class_counts
(20, True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from rrlib.experiments.bmi_scoreboard import ScoreboardConfig
from rrlib.experiments.contrastive_comparison import ComparisonConfig
from rrlib.experiments.image_mi import ImageMIConfig
from rrlib.experiments.mine import MineConfig, RunSpec
from rrlib.experiments.preliminaries import PreliminariesConfig
from rrlib.experiments.robust_encoders import Config as RobustEncodersConfig
from rrlib.experiments.saliency_maps import Config as SaliencyConfig
from rrlib.experiments.theorem_3_2 import Theorem32Config
from rrlib.experiments.theorem_3_4 import Theorem34Config
from rrlib.experiments.vulnerability import Config as VulnerabilityConfig
from rrlib.experiments.vulnerability import LogitMIConfig, NeuronConfig
from rrlib.experiments.worst_case_mi import Config as WorstCaseConfig
from rrlib.experiments.worst_case_mi import CostConfig, DigitsConfig, GaussianConfig
from rrlib.grid.config import TablesConfig
from rrlib.mi.estimator import StaircaseConfig

__all__ = ["KEEP", "NESTED", "SMOKE_RULES", "full_configs", "smoke"]


class _Marker:
    """A named sentinel of the rule table (``KEEP``, ``NESTED``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: The field is structural: the smoke configuration keeps the full value.
KEEP = _Marker("KEEP")
#: The field holds a configuration (or a tuple of them) that is shrunk by its own class's rules.
NESTED = _Marker("NESTED")

Rule = Any  # KEEP, NESTED, a constant, or a callable old -> new


def _at_most(n: int) -> Callable[[int], int]:
    """``min(old, n)``: a count that the full profile may already hold at 0 (e.g. ``pretrain_iterations``)."""
    return lambda old: min(old, n)


def _first_two(old: tuple) -> tuple:
    """The first two trials (seeds) of the full profile: still an average over more than one."""
    return tuple(old[:2])


#: What the smoke run of the vulnerability zoo trains each member with (merged into the full profile's
#: ``train_overrides``): one epoch of one batch of 2 images, evaluated (the last epoch always is) on 2 test images.
VULNERABILITY_TRAIN = {"epochs": 1, "train_subset": 2, "test_subset": 2, "batch_size": 2}


def _vulnerability_overrides(old: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
    return tuple({**dict(old), **VULNERABILITY_TRAIN}.items())


SMOKE_RULES: dict[type, dict[str, Rule]] = {
    # chapter 1
    PreliminariesConfig: {
        "seed": KEEP, "mc_samples": 400, "discrete_shape": KEEP, "flip_grid": KEEP, "rhos": KEEP,
        "gaussian_dim": KEEP, "theta": KEEP, "cov": KEEP, "w": KEEP, "transport_eps": KEEP, "eps_grid": KEEP,
        "p_values": KEEP, "n_scatter": 50,
    },
    # chapter 2
    Theorem32Config: {
        "seed": KEEP, "dim": KEEP, "theta_scale": KEEP, "correlation": KEEP, "eps_max": KEEP, "n_eps": 5,
        "angle_eps": KEEP, "n_angles": 5, "p_values": KEEP, "n_instances": 40, "max_dim": KEEP, "n_quad": 2,
        "mc_samples": 400, "mc_eps": KEEP, "example_eps": KEEP,
    },
    # chapter 3
    Theorem34Config: {
        "seed": KEEP, "class_counts": KEEP, "mi_max": KEEP, "n_mi": 11, "paper_classes": KEEP,
        "paper_worst_case_mi": KEEP, "n_problems": 20, "n_points": KEEP, "classes_range": KEEP, "codes_range": KEEP,
        "eps_choices": KEEP, "kernel_problems": 2, "kernels_per_problem": 10,
    },
    # chapter 4
    MineConfig: {
        "levels": KEEP, "dim": KEEP, "oracle_batches": KEEP, "oracle_trials": 4, "smile_tau": KEEP,
        "staircase": NESTED, "runs": NESTED, "deterministic_dim": KEEP, "deterministic_steps": 10,
        "deterministic_bounds": KEEP, "num_threads": KEEP, "seed": KEEP, "device": KEEP,
    },
    StaircaseConfig: {
        "levels": KEEP, "steps_per_level": 8, "dim": KEEP, "batch": 16, "lr": KEEP, "hidden": KEEP, "embed": KEEP,
        "layers": KEEP, "cubic": KEEP, "tail_fraction": KEEP, "eval_batches": 2,
    },
    RunSpec: {"critic": KEEP, "bound": KEEP, "steps_per_level": 8},
    # chapter 5
    WorstCaseConfig: {"gaussian": NESTED, "digits": NESTED, "cost": NESTED, "seed": KEEP, "device": KEEP,
                      "run_digits": KEEP},
    GaussianConfig: {
        "dim": KEEP, "theta_norm": KEEP, "n_train": 256, "n_test": 128, "eps_values": KEEP, "sweep_eps": KEEP,
        "sharpness": KEEP, "sharpness_values": KEEP, "steps": KEEP, "steps_values": KEEP, "iterations": 4,
        "iterations_values": (2, 3), "step_factor": KEEP, "batch_size": 32, "lr": KEEP, "critic_hidden": KEEP,
        "critic_embed": KEEP, "n_seeds": 2, "risk_eps_values": KEEP, "risk_samples": 500, "risk_steps": KEEP,
    },
    DigitsConfig: {
        "width": KEEP, "epochs": 1, "train_lr": KEEP, "train_batch_size": KEEP, "train_eps": KEEP,
        "train_steps": KEEP, "eps_values": KEEP, "attack_steps": KEEP, "step_factor": KEEP, "iterations": 4,
        "batch_size": 32, "lr": KEEP, "critic_hidden": KEEP, "critic_embed": KEEP, "n_seeds": 2,
    },
    CostConfig: {"steps_values": KEEP, "repeats": 2},
    # chapter 6
    VulnerabilityConfig: {
        "dataset": KEEP, "architectures": KEEP, "train_eps": KEEP, "width": KEEP, "head": KEEP,
        "train_overrides": _vulnerability_overrides, "eval_size": 2, "mi_train_size": 2, "mi_test_size": 2,
        "strong_steps": 2, "strong_restarts": 1, "mi": NESTED, "neurons": NESTED, "seed": KEEP, "device": KEEP,
        "omit": KEEP,
    },
    LogitMIConfig: {
        "critic_hidden": KEEP, "batch_size": 2, "lr": KEEP, "pretrain_iterations": _at_most(1), "iterations": 1,
        "test_batches": 1, "gradient": KEEP, "warm_start": KEEP,
    },
    NeuronConfig: {
        "train_eps": KEEP, "hidden": KEEP, "embed": KEEP, "code_hidden": KEEP, "batch_size": 2, "lr": KEEP,
        "pretrain_iterations": _at_most(1), "iterations": 1, "test_batches": 1, "interior_only": KEEP,
        "warm_start": KEEP,
    },
    # chapter 7
    RobustEncodersConfig: {
        "dataset": KEEP, "train_subset": 8, "width": KEEP, "critic_hidden": KEEP, "epochs": 1, "batch_size": 4,
        "lr": KEEP, "seed": KEEP, "rv_iterations": 1, "rv_batch": 4, "rv_lr": KEEP, "rv_train": 8, "rv_test": 4,
        "rv_seeds": KEEP, "cost_repeats": 1, "device": KEEP, "data_root": KEEP,
    },
    # chapter 9 (Figures 4-6): the weights folder is kept (the caller exports a smoke run's weights and points to it)
    SaliencyConfig: {
        "dataset": KEEP, "weights": KEEP, "n_images": 4, "n_show": 2, "n_kernels": 2, "dv_batch": 2, "seed": KEEP,
        "device": KEEP, "data_root": KEEP,
    },
    # chapter 8 (Tables 1, 3-5)
    TablesConfig: {
        "dataset": KEEP, "seeds": _first_two, "rows": KEEP, "heads": KEEP, "encoder_train_subset": 4, "width": KEEP,
        "critic_hidden": KEEP, "encoder_epochs": 1, "encoder_batch": 4, "encoder_lr": KEEP, "head_epochs": 1,
        "head_batch": 4, "head_lr": KEEP, "head_train_subset": 8, "val_size": 4, "test_subset": 4, "eval_every": 1,
        "supervised_epochs": 1, "supervised_batch": 4, "supervised_lr": KEEP, "supervised_train_subset": 4,
        "autoattack_n": 0, "autoattack_version": KEEP, "device": KEEP, "data_root": KEEP, "out_root": KEEP,
    },
    # chapter 11 (beyond the paper): the tables' grid, its rows kept
    ComparisonConfig: {"tables": NESTED},
    # known MI on images (issue 21): every level and both critics kept, the training shrunk
    ImageMIConfig: {"levels": KEEP, "critics": KEEP, "bound": KEEP, "steps": 2, "batch": 8, "lr": KEEP,
                    "critic_hidden": KEEP, "eval_batches": 1, "seeds": _first_two, "device": KEEP, "data_root": KEEP},
    # the bmi scoreboard: every task, bound and size task kept (each task's sampler runs), two seeds, the smallest
    # sample that holds one batch of 256 in each half (512) and one further size, 2 steps per run
    ScoreboardConfig: {"tasks": KEEP, "bounds": KEEP, "seeds": _first_two, "n": 512, "size_tasks": KEEP,
                       "sizes": (520,), "steps": 2, "device": KEEP},
}


def full_configs(seed: int = 0, device: str = "auto") -> dict[str, Any]:
    """Every experiment's full configuration by module name, ``downstream_tables[<dataset>]`` for each of the paper's
    downstream tables: what smoke mode shrinks (``tests/test_full_profile_smoke.py``, ``benchmarks/gpu_check.py``)."""
    from rrlib.paper import TABLES

    return {
        "preliminaries": PreliminariesConfig.full(seed, device),
        "theorem_3_2": Theorem32Config.full(seed, device),
        "theorem_3_4": Theorem34Config.full(seed, device),
        "mine": MineConfig.full(seed, device),
        "worst_case_mi": WorstCaseConfig.full(seed, device),
        "vulnerability": VulnerabilityConfig.full(seed, device),
        "robust_encoders": RobustEncodersConfig.full(seed, device),
        "saliency_maps": SaliencyConfig.full(seed, device),
        **{f"downstream_tables[{d}]": TablesConfig.full(seed, device, dataset=d) for d in sorted(TABLES)},
        "contrastive_comparison": ComparisonConfig.full(seed, device),
        "image_mi": ImageMIConfig.full(seed, device),
        "bmi_scoreboard": ScoreboardConfig.full(seed, device),
    }


def _valid_types() -> list[str]:
    return sorted(f"{t.__module__}.{t.__qualname__}" for t in SMOKE_RULES)


def smoke(config: Any) -> Any:
    """``config`` (a full profile's configuration) with its sizes shrunk by :data:`SMOKE_RULES`, structure kept.

    Returns a new configuration of the same type (frozen dataclasses are rebuilt with ``dataclasses.replace``, so
    every ``__post_init__`` check runs on the smoke values). Nested configurations and tuples of them are shrunk
    by their own rules. Raises ``TypeError`` for a configuration type without rules (naming the valid ones) and
    ``KeyError`` for a field without a rule (naming the class and the field).
    """
    kind = type(config)
    rules = SMOKE_RULES.get(kind)
    if rules is None or not dataclasses.is_dataclass(config):
        raise TypeError(f"no smoke rules for {kind.__module__}.{kind.__qualname__} ({config!r:.80}); valid "
                        f"choices: {_valid_types()}")
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        if f.name not in rules:
            raise KeyError(f"{kind.__qualname__}.{f.name} has no smoke rule: add it to rrlib.smoke.SMOKE_RULES as "
                           "KEEP (structural) or a smaller size")
        rule, value = rules[f.name], getattr(config, f.name)
        if rule is KEEP:
            continue
        if rule is NESTED:
            if value is None:
                continue
            changes[f.name] = tuple(smoke(v) for v in value) if isinstance(value, tuple) else smoke(value)
        elif callable(rule):
            changes[f.name] = rule(value)
        else:
            changes[f.name] = rule
    return dataclasses.replace(config, **changes)
