"""Figures of Section 5 (chapters 07–09): encoder training curves, downstream accuracies, saliency maps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from rrlib.plotting import PAGE_WIDTH, PALETTE, Figure, new_figure, style

__all__ = ["accuracy_frames", "accuracy_heatmaps", "encoder_curves", "kernel_grid", "saliency_grid"]

_ENCODER_TITLES = {"normal": "DIM encoder (normal MI)", "worst": "worst-case MI encoder (Eq. 5.4)"}


def encoder_curves(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> Figure:
    """One row per run (``(label, encoders)`` with ``encoders[loss]["history"]`` as in
    :meth:`rrlib.experiments.robust_encoders.Result.metrics`), one column per encoder: the held-out normal and
    worst-case DV estimates per epoch with the jointly trained critic (nats), RV shaded between them. A worst-case
    value below zero is impossible for the true MI; the zero line makes it visible."""
    fig, axes = new_figure(2, len(runs), width=PAGE_WIDTH / 2, height=2.8, sharey="row")
    with style():
        for r, (label, encoders) in enumerate(runs):
            for c, loss in enumerate(("normal", "worst")):
                ax = axes[r][c]
                history = encoders[loss]["history"]
                epochs = [h["epoch"] for h in history]
                normal = [h["heldout_mi_normal"] for h in history]
                worst = [h["heldout_mi_worst"] for h in history]
                ax.plot(epochs, normal, "-o", ms=3, color=PALETTE["standard"], label="normal MI")
                ax.plot(epochs, worst, "-s", ms=3, color=PALETTE["robust"], label="worst-case MI")
                ax.fill_between(epochs, worst, normal, color=PALETTE["neutral"], alpha=0.2, label="RV")
                ax.axhline(0.0, color=PALETTE["exact"], lw=0.8)
                ax.set_title(f"{label}:\n{_ENCODER_TITLES[loss]}", fontsize=10)
                ax.set_xlabel("epoch")
                if c == 0:
                    ax.set_ylabel("held-out DV estimate [nats]")
        axes[0][0].legend(loc="best", fontsize=9)
    return fig


def saliency_grid(images: torch.Tensor, maps: Mapping[str, torch.Tensor], *, cmap: str = "RdBu_r") -> Figure:
    """Rows: the images, then one row per saliency map (``maps[name]`` of the images' shape ``(n, 1, H, W)``,
    already scaled to [0, 1] with 0.5 = zero gradient by :func:`rrlib.saliency.display_scale`)."""
    n = images.shape[0]
    names = list(maps)
    fig, axes = new_figure(n, 1 + len(names), width=PAGE_WIDTH / n, height=0.62)
    with style():
        rows = [("image", images, "gray")] + [(name, maps[name], cmap) for name in names]
        for r, (name, tensor, colours) in enumerate(rows):
            for i in range(n):
                ax = axes[r][i]
                ax.imshow(np.asarray(tensor[i, 0].detach().cpu()), cmap=colours, vmin=0.0, vmax=1.0)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.grid(False)
                for spine in ax.spines.values():
                    spine.set_visible(False)
            axes[r][0].set_ylabel(_two_lines(name), rotation=0, ha="right", va="center", fontsize=9)
    return fig


def _two_lines(label: str) -> str:
    """``label`` broken at the space nearest its middle (a row label beside a row of small images)."""
    spaces = [i for i, c in enumerate(label) if c == " "]
    if not spaces or len(label) <= 12:
        return label
    cut = min(spaces, key=lambda i: abs(i - len(label) / 2))
    return f"{label[:cut]}\n{label[cut + 1:]}"


def kernel_grid(image: torch.Tensor, kernel_maps: Mapping[str, torch.Tensor], kernels: Mapping[str, Sequence[int]],
                labels: Mapping[str, str], *, cmap: str = "RdBu_r") -> Figure:
    """Figure 5: one row per model named in ``labels`` (in its order) — the image, then the display-scaled saliency
    map of each chosen second-layer channel (``kernel_maps[name]`` of shape ``(k, 1, H, W)``, titled with its
    channel index)."""
    names = [name for name in labels if name in kernel_maps]
    k = max(kernel_maps[name].shape[0] for name in names)
    # the chapter shows it at 80 % of the page
    fig, axes = new_figure(k + 1, len(names), width=0.8 * PAGE_WIDTH / (k + 1), height=1.0)
    with style():
        for r, name in enumerate(names):
            row = [("image", image[0, 0], "gray")] + [(f"channel {c}", kernel_maps[name][i, 0], cmap)
                                                   for i, c in enumerate(kernels[name])]
            for j, ax in enumerate(axes[r]):
                ax.set_xticks([])
                ax.set_yticks([])
                ax.grid(False)
                for spine in ax.spines.values():
                    spine.set_visible(False)
                if j < len(row):
                    title, tensor, colours = row[j]
                    ax.imshow(np.asarray(tensor.detach().cpu()), cmap=colours, vmin=0.0, vmax=1.0)
                    ax.set_title(title, fontsize=9)
            axes[r][0].set_ylabel(_two_lines(labels[name]), rotation=0, ha="right", va="center", fontsize=9)
    return fig


_HEADS = (("mlp", "MLP"), ("linear", "linear"))


def accuracy_frames(metrics: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The downstream table of ``metrics`` (:meth:`rrlib.experiments.downstream_tables.TablesResult.metrics`) as
    two grids of accuracies (%), one row per ``g / h`` row: the paper's (columns ``MLP natural``, ``MLP PGD``,
    ``linear natural``, ``linear PGD``; means over its 4 trials) and ours (the same plus ``… AutoAttack``; means
    over our seeds). A cell that was not run, and the paper's cells of a row beyond the paper, are NaN."""
    paper, ours = {}, {}
    for row, by_head in metrics["table"].items():
        rep, loss = metrics["row_labels"][row]
        label = f"{rep.split(' (')[0]} · {loss}"
        paper[label], ours[label] = {}, {}
        for head, title in _HEADS:
            cell = by_head.get(head)
            for column, name in (("natural", "natural"), ("adversarial", "PGD"), ("autoattack", "AutoAttack")):
                value = cell.get(column) if cell else None
                ours[label][f"{title} {name}"] = np.nan if value is None else float(value["mean"])
                if column != "autoattack":
                    printed = cell.get("paper") if cell else None  # None: a row beyond the paper
                    paper[label][f"{title} {name}"] = np.nan if printed is None else float(printed[column][0])
    return pd.DataFrame.from_dict(paper, orient="index"), pd.DataFrame.from_dict(ours, orient="index")


def accuracy_heatmaps(metrics: Mapping[str, Any], *, ours_title: str) -> Figure:
    """The paper's downstream table (top) and ours (bottom; :func:`accuracy_frames`) as two annotated seaborn
    heatmaps on one colour scale, 0–100 % accuracy, sized for the page's text column; a cell not run is blank."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    paper, ours = accuracy_frames(metrics)
    height = 0.36 * len(ours) + 0.9
    fig, axes = new_figure(1, 2, width=PAGE_WIDTH, height=height)
    with style(), plt.rc_context({"axes.grid": False}):
        for ax, frame, title in ((axes[0][0], paper, "the paper (means over 4 trials)"), (axes[1][0], ours,
                                                                                           ours_title)):
            columns = [c.replace(" ", "\n", 1) for c in frame.columns]
            sns.heatmap(frame.set_axis(columns, axis=1), vmin=0, vmax=100, cmap="viridis", annot=True, fmt=".1f",
                        annot_kws={"fontsize": 9.5}, linewidths=0.5, linecolor="white",
                        cbar_kws={"label": "accuracy (%)", "pad": 0.02}, ax=ax)
            ax.set_title(title)
            ax.grid(False)
            ax.tick_params(axis="x", labelsize=9, labelrotation=0, length=0)
            ax.tick_params(axis="y", labelsize=9, length=0)
    return fig
