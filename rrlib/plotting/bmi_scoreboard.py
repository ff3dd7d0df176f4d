"""The bmi scoreboard's figure (:mod:`rrlib.experiments.bmi_scoreboard`): bmi's ln ratio per task and bound."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

import numpy as np

from rrlib.plotting import PAGE_WIDTH, Figure, new_figure, style
from rrlib.plotting.mi import BOUND_TITLES

__all__ = ["LN_RATIO_LIMIT", "ln_ratio_figure", "ln_ratio_frame"]

#: The colour scale's ends, ln ratio ±1 (a factor e too high or too low), as bmi's own benchmark figure
#: (``vmin=-1, vmax=1`` in ``workflows/projects/Beyond_Normal/_common_figure_utils.py``); larger errors saturate.
LN_RATIO_LIMIT = 1.0


def ln_ratio_frame(metrics: Mapping[str, Any]) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """``(task names, bound titles, ln ratios, mean estimates)``: two arrays of shape ``(tasks, bounds)``, NaN where
    every run of the cell failed (from :meth:`rrlib.experiments.bmi_scoreboard.ScoreboardResult.metrics`)."""
    bounds = list(metrics["config"]["bounds"])
    tasks = list(metrics["tasks"])

    def grid(key: str) -> np.ndarray:
        return np.array([[np.nan if (v := metrics["scores"][t][b][key]) is None else v for b in bounds]
                         for t in tasks], dtype=float)

    names = [f"{metrics['tasks'][t]['name']} ({metrics['tasks'][t]['true_mi']:.2f})" for t in tasks]
    return names, [BOUND_TITLES.get(b, b) for b in bounds], grid("ln_ratio"), grid("mean_estimate")


def ln_ratio_figure(metrics: Mapping[str, Any]) -> Figure:
    """Heat map of bmi's ln ratio (mean over the non-failed seeds of ln(estimate / true MI); 0: exact, ±ln 1.5:
    off by a factor 1.5) with one row per task (its true MI in nats in brackets) and one column per bound, on a
    diverging colour map centred at 0 and clipped at ±:data:`LN_RATIO_LIMIT`; each cell is annotated with the
    mean estimate (nats), grey where every run failed."""
    import matplotlib.pyplot as plt

    names, bounds, ratios, estimates = ln_ratio_frame(metrics)
    names = [textwrap.fill(name, 36) for name in names]  # bmi's longest names need two lines
    height = max(2.6, 0.3 * len(names) + 1.2)  # at least the colour bar's label
    fig, axes = new_figure(width=PAGE_WIDTH, height=height)
    ax = axes[0][0]
    with style(), plt.rc_context({"axes.grid": False}):
        cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#BBBBBB")
        image = ax.imshow(np.ma.masked_invalid(ratios), cmap=cmap, vmin=-LN_RATIO_LIMIT, vmax=LN_RATIO_LIMIT,
                          aspect="auto", interpolation="nearest")
        for (i, j), value in np.ndenumerate(estimates):
            text = "–" if not np.isfinite(value) else f"{value:.2f}" if abs(value) < 100 else f"{value:.2g}"
            dark = np.isfinite(ratios[i, j]) and abs(ratios[i, j]) > 0.6 * LN_RATIO_LIMIT
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
        ax.set_xticks(range(len(bounds)), bounds)
        ax.set_yticks(range(len(names)), names)
        ax.grid(False)
        ax.tick_params(axis="both", length=0, labelsize=8)
        ax.xaxis.tick_top()
        ax.set_xlabel("bound (cell: mean estimate, nats)")
        ax.xaxis.set_label_position("top")
        ax.set_ylabel("task (true MI, nats)")
        bar = fig.colorbar(image, ax=ax, pad=0.02, fraction=0.05, extend="both")
        bar.set_label("mean ln(estimate / true MI)")
    return fig
