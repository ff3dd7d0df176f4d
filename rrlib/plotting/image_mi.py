"""Known MI on images (chapter 12): the estimates against the exact staircase, and the paper's critic per location.

Inputs are :meth:`rrlib.experiments.image_mi.ImageMIResult.metrics` dictionaries (nats).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from rrlib.experiments.image_mi import PAPER_RANGE
from rrlib.plotting import PAGE_WIDTH, PALETTE, new_figure, style

__all__ = ["CRITIC_LABELS", "per_location_figure", "staircase_figure"]

#: How the figures name the two critics.
CRITIC_LABELS = {"encode_and_dot": "paper's critic (encode-and-dot, location-averaged)",
                 "separable": "global separable critic"}
_COLOURS = {"encode_and_dot": PALETTE["robust"], "separable": PALETTE["standard"]}


def staircase_figure(metrics: Mapping[str, Any]) -> Figure:
    """Held-out estimate against the true MI for every level: one dot per seed, a line through the means, the
    identity and the paper's range (:data:`PAPER_RANGE`, shaded)."""
    levels = sorted(metrics["levels"], key=lambda lv: lv["true_mi"])
    true = np.array([lv["true_mi"] for lv in levels])
    fig, axes = new_figure(width=0.75 * PAGE_WIDTH, height=3.4)
    ax = axes[0, 0]
    with style():
        ax.axvspan(*PAPER_RANGE, color=PALETTE["neutral"], alpha=0.15, lw=0, label="the paper's Figure 2 range")
        top = float(true.max()) * 1.05
        ax.plot([0, top], [0, top], color=PALETTE["exact"], lw=1.2, label="exact (estimate = true MI)")
        critics = list(dict.fromkeys(name for lv in levels for name in lv["estimates"]))
        for name in critics:
            colour = _COLOURS.get(name, PALETTE["neutral"])
            xs = [t for t, lv in zip(true, levels, strict=True) for _ in lv["estimates"][name]]
            ys = [v for lv in levels for v in lv["estimates"][name]]
            ax.scatter(xs, ys, s=14, color=colour, alpha=0.6, lw=0)
            means = [float(np.mean(lv["estimates"][name])) for lv in levels]
            ax.plot(true, means, color=colour, marker="o", ms=4, label=CRITIC_LABELS.get(name, name))
        ax.set_xlim(0, top)
        ax.set_xlabel("true I(X; Z) (nats)")
        ax.set_ylabel("held-out DV estimate (nats)")
        ax.legend(loc="upper left", fontsize=8)
    return fig


def per_location_figure(metrics: Mapping[str, Any], indices: Sequence[int]) -> Figure:
    """The paper's critic's DV bound at each of its locations (one held-out batch, first seed) for the levels at
    ``indices`` of ``metrics["levels"]``, on one colour scale (nats)."""
    chosen = [metrics["levels"][i] for i in indices]
    grids = [np.asarray(lv["per_location"]["grid"], dtype=float) for lv in chosen]
    high = max(float(g.max()) for g in grids)
    fig, axes = new_figure(ncols=len(chosen), width=PAGE_WIDTH / max(len(chosen), 2), height=2.9)
    with style():
        image = None
        for ax, lv, grid in zip(axes[0], chosen, grids, strict=True):
            image = ax.imshow(grid, cmap="viridis", vmin=min(0.0, float(grid.min())), vmax=high)
            ax.set_title(f"{lv['bits']} bit{'s' if lv['bits'] > 1 else ''}, p = {lv['crossover']:g}: "
                         f"true {lv['true_mi']:.2f}\nmean over locations {lv['per_location']['mean']:.2f}",
                         fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        fig.colorbar(image, ax=list(axes[0]), label="DV at the location (nats)", shrink=0.85)
    return fig
