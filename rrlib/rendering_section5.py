"""Markdown tables of chapters 07–09 (Section 5: robust encoders, downstream Tables 1/3/4/5, saliency).

Every function takes recorded metrics (plain JSON, as :func:`rrlib.book.publish` writes them) and returns a MyST
table with a numbered caption; an impossible MI estimate is marked with † and explained in the caption.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rrlib.rendering import IMPOSSIBLE_MARK, captioned_table

__all__ = ["encoder_cost_markdown", "encoder_rv_markdown"]

ENCODER_LABELS = {"normal": "DIM (normal MI, Hjelm et al.)", "worst": "worst-case MI (ours, Eq. 5.4)"}


def _pm(summary: Mapping[str, Any], digits: int = 3) -> str:
    return f"{summary['mean']:.{digits}f} ± {summary['std']:.{digits}f}"


def encoder_rv_markdown(metrics: Mapping[str, Any]) -> str:
    """Table ``tab-encoder-rv``: per encoder, the held-out estimates with its own critic and the fresh-critic
    normal MI, worst-case MI and RV (mean ± sample std over critic seeds, nats)."""
    rows = []
    for loss, enc in metrics["encoders"].items():
        own = f"{enc['heldout_normal']:.3f} / {enc['heldout_worst']:.3f}"
        if enc["heldout_impossible"]:
            own += f" {IMPOSSIBLE_MARK}"
        mark = f" {IMPOSSIBLE_MARK}" if enc["impossible"] else ""
        rows.append([ENCODER_LABELS[loss], f"{enc['epochs']}", own, _pm(enc["normal"]), _pm(enc["worst"]) + mark,
                     _pm(enc["rv"])])
    n_seeds = len(metrics["config"]["rv_seeds"])
    caption = (f"The learned representations of {metrics['dataset_title']} (nats). Own critic: the held-out normal / "
               "worst-case DV estimates of the final epoch with the critic trained jointly with the encoder. Fresh "
               f"critic: Algorithm 2 with a new critic trained on the frozen encoder, mean ± sample std over "
               f"{n_seeds} critic seeds; RV = normal − worst-case MI (Definition 3.1). {IMPOSSIBLE_MARK}: below zero, "
               "which no mutual information can be (the adversary fooled the critic; see the text).")
    header = ["encoder", "epochs", "own critic: normal / worst", "fresh critic: normal MI", "worst-case MI", "RV"]
    return captioned_table(caption, "tab-encoder-rv", header, rows)


def encoder_cost_markdown(costs: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """Table ``tab-encoder-cost``: wall time of one training step of each objective (median of interleaved
    repeats) and their ratio, against the ``S + 1`` passes of a worst step, for each ``(label, cost)``."""
    rows = []
    for label, c in costs:
        rows.append([label, f"{c['batch_size']}", f"{1000 * c['normal_step_seconds']:.1f}",
                     f"{1000 * c['worst_step_seconds']:.1f}", f"{c['ratio']:.1f}×", f"{c['passes_ratio']}×"])
    caption = ("Cost of one encoder training step (median wall time of interleaved repeats on one CPU thread, same "
               "batch): the worst-case step first runs Algorithm 1's S-step PGD, so it does S + 1 forward–backward "
               "passes where the DIM step does one.")
    header = ["run", "batch", "DIM step [ms]", "worst-case step [ms]", "ratio", "S + 1"]
    return captioned_table(caption, "tab-encoder-cost", header, rows)
