"""Chapter 11's tables: the three objectives' downstream accuracy, their paired differences, training cost, and the
published adversarial contrastive numbers that give context (and why they are not comparable)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rrlib.experiments.contrastive_comparison import ROBUSTSSL_CIFAR10, ROBUSTSSL_COMMIT
from rrlib.rendering.section5 import HEAD_TITLES
from rrlib.rendering.tables import captioned_table
from rrlib.stats import CLAIM_LEVEL, CONTRADICTED, MIN_REPLICATES, SUPPORTED, TOO_FEW

__all__ = ["OBJECTIVE_LABELS", "comparisons_markdown", "context_markdown", "cost_markdown"]

#: How the page names each encoder objective (keys: ``estimator_loss``).
OBJECTIVE_LABELS = {"worst": "worst-case MI (ours, Eq. 5.4, DV)", "worst-infonce": "worst-case InfoNCE",
                    "adv-contrastive": "adversarial contrastive (RoCL-style)"}
_REP_LABELS = {"infonce": "worst-case InfoNCE", "contrastive": "adversarial contrastive"}
_LOSS_LABELS = {"standard": "standard", "standard_es": "standard (E.S.)", "robust": "robust"}
_COLUMN_LABELS = {"natural": "natural", "adversarial": "PGD", "autoattack": "AutoAttack"}
_VERDICT_WORDS = {SUPPORTED: "higher", CONTRADICTED: "lower", TOO_FEW: "too few seeds"}


def cost_markdown(cost: Mapping[str, Mapping[str, float]], name: str, scale: str) -> str:
    """Table ``name``: each objective's seconds per training epoch and images per second in one run, and its
    epoch's cost relative to the paper's worst-case MI (``scale`` says which run)."""
    ours = cost.get("worst", {}).get("seconds_per_epoch", math.nan)
    rows = []
    for loss, label in OBJECTIVE_LABELS.items():
        if loss not in cost:
            continue
        c = cost[loss]
        rows.append([label, f"{c['seconds_per_epoch']:,.1f}", f"{c['images_per_second']:,.0f}",
                     f"{c['seconds_per_epoch'] / ours:.2f}×", f"{c['epochs']:.0f}"])
    caption = (f"Training cost of each objective in the {scale}: wall seconds per encoder epoch (training and the "
               "held-out estimates), training images per second, the epoch's cost relative to the paper's "
               "worst-case MI, and the epochs averaged (all seeds).")
    return captioned_table(caption, name, ["objective", "s / epoch", "images / s", "relative cost", "epochs"], rows)


def _difference(c: Mapping[str, Any], judged: bool) -> str:
    low, high = c["interval"]
    word = f" {_VERDICT_WORDS.get(c['verdict'], 'cannot tell')}" if judged else ""
    return f"{c['mean']:+.1f} [{low:+.1f}, {high:+.1f}]{word}"


def comparisons_markdown(comparisons: Sequence[Mapping[str, Any]], name: str, scale: str) -> str:
    """Table ``name``: per objective beyond the paper, head and head training, its accuracy minus the paper's
    worst-case encoder's (points), paired by seed, with the Student-t interval and what it says."""
    cells: dict[tuple[str, str, str], dict[str, str]] = {}
    n = max((c["n"] for c in comparisons), default=0)
    judged = n >= MIN_REPLICATES
    for c in comparisons:
        cells.setdefault((c["rep"], c["head"], c["loss"]), {})[c["column"]] = _difference(c, judged)
    rows = [[_REP_LABELS[rep], HEAD_TITLES[head].split(" (")[0], _LOSS_LABELS[loss]]
            + [by_column.get(col, "–") for col in _COLUMN_LABELS]
            for (rep, head, loss), by_column in cells.items()]
    caption = (f"Each objective beyond the paper against the paper's worst-case MI encoder under the same head, "
               f"{scale}: accuracy difference in points (theirs − ours), mean over {n} seed pairs with its "
               f"{CLAIM_LEVEL:.0%} Student-t interval; "
               + ("\"higher\" or \"lower\" where the interval excludes zero, \"cannot tell\" where it contains it."
                  if judged else f"{n} seed pairs are too few to judge (the book asks for at least {MIN_REPLICATES}), "
                  "so no cell carries a verdict."))
    return captioned_table(caption, name, ["objective", "h", "h trained", "natural", "PGD", "AutoAttack"], rows)


def context_markdown(name: str) -> str:
    """Table ``name``: published CIFAR-10 numbers of adversarial contrastive pre-training (ResNet-18, RobustSSL
    benchmark), SLF and ALF — context only."""
    rows = [[method, f"{slf[0]:.2f}", f"{slf[1]:.2f}", f"{alf[0]:.2f}", f"{alf[1]:.2f}"]
            for method, (slf, alf) in ROBUSTSSL_CIFAR10.items()]
    caption = ("Context, not comparable: published CIFAR-10 results of adversarial contrastive pre-training of a "
               "ResNet-18 (RobustSSL benchmark README, commit " + ROBUSTSSL_COMMIT[:7] + "): accuracy (%) on clean "
               "test images (SA) and under AutoAttack (RA) after standard (SLF) or adversarial (ALF) training of a "
               "linear head on the frozen encoder. Another data set, architecture, threat model (ε = 8/255) and "
               "training length (hundreds of epochs on GPUs).")
    return captioned_table(caption, name, ["method", "SLF: SA", "SLF: RA", "ALF: SA", "ALF: RA"], rows)
