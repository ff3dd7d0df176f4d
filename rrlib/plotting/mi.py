"""Figures of chapter 04 ("How good is MINE?"): oracle bounds, trained staircases, a deterministic code.

Each function takes the result of :func:`rrlib.experiments.mine.run` and returns a matplotlib Figure.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from rrlib.plotting import PALETTE, new_figure, style

__all__ = ["BOUND_COLOURS", "deterministic_figure", "ema", "oracle_figure", "staircase_figure",
           "staircase_spread_figure"]

#: One colour per bound, used in every MI figure.
BOUND_COLOURS = {
    "dv": PALETTE["standard"],
    "dv_filler": "#56B4E9",
    "mine": "#56B4E9",
    "nwj": PALETTE["weak"],
    "js": PALETTE["bound"],
    "infonce": PALETTE["robust"],
    "smile": PALETTE["estimate"],
}


def ema(values: np.ndarray, span: int = 50) -> np.ndarray:
    """Exponential moving average with ``alpha = 2 / (span + 1)``; NaNs are carried as NaN (for display only)."""
    v = np.asarray(values, dtype=float)
    if span < 1:
        raise ValueError(f"span must be >= 1, got {span!r}")
    alpha = 2.0 / (span + 1.0)
    out = np.full_like(v, np.nan)
    acc = math.nan
    for i, x in enumerate(v):
        if not math.isfinite(x):
            continue
        acc = x if not math.isfinite(acc) else alpha * x + (1 - alpha) * acc
        out[i] = acc
    return out


def oracle_figure(result) -> Figure:
    """Top: mean ± one standard deviation of each bound with the oracle critic versus the true MI (one panel per
    batch size), with the identity and the ``log n`` line. Bottom: the standard deviation across batches (log y)."""
    from rrlib.experiments.mine import ORACLE_BOUNDS

    batches = result.config.oracle_batches
    levels = np.asarray(result.config.levels, dtype=float)
    import matplotlib.pyplot as plt

    fig, axes = new_figure(ncols=len(batches), nrows=2, width=3.8, height=2.9)
    with style(), plt.rc_context(_BIG):
        for col, n in enumerate(batches):
            top, bottom = axes[0, col], axes[1, col]
            top.plot(levels, levels, color=PALETTE["exact"], lw=1.2, label="true MI")
            top.axhline(math.log(n), color=PALETTE["neutral"], ls="--", lw=1.0, label=f"log n = {math.log(n):.2f}")
            for b in ORACLE_BOUNDS:
                rows = [result.oracle_row(b, n, v) for v in levels]
                mean = np.array([r.mean for r in rows])
                std = np.array([r.std for r in rows])
                colour = BOUND_COLOURS[b]
                ls = ":" if b == "dv_filler" else "-"
                top.plot(levels, mean, marker="o", ms=3, color=colour, ls=ls, label=b)
                top.fill_between(levels, mean - std, mean + std, color=colour, alpha=0.12, lw=0)
                bottom.plot(levels, std, marker="o", ms=3, color=colour, ls=ls, label=b)
            top.set_title(f"oracle critic, batch n = {n}")
            top.set_xlabel("true MI (nats)")
            top.set_ylabel("estimate (nats)")
            bottom.set_yscale("log")
            bottom.set_xlabel("true MI (nats)")
            bottom.set_ylabel("std across batches (nats)")
        axes[0, 0].legend(loc="upper left", fontsize=10)
    return fig


#: Larger text for the chapter's full-width figures (applied inside :func:`rrlib.plotting.style`).
_BIG = {"font.size": 12, "axes.titlesize": 13, "axes.labelsize": 12, "xtick.labelsize": 11, "ytick.labelsize": 11,
        "legend.fontsize": 11}


def staircase_figure(result, span: int = 50) -> Figure:
    """Trained estimates (faint: per step; solid: EMA over ``span`` steps) against the true staircase and
    ``log n``, one full-width panel per critic (stacked)."""
    import matplotlib.pyplot as plt

    critics = list(dict.fromkeys(r.critic for r in result.staircases))
    fig, axes = new_figure(ncols=1, nrows=len(critics), width=7.5, height=3.0)
    with style(), plt.rc_context(_BIG):
        for ax, critic in zip(axes[:, 0], critics, strict=True):
            runs = [r for r in result.staircases if r.critic == critic]
            for r in runs:
                steps = np.arange(1, len(r.estimates) + 1)
                colour = BOUND_COLOURS.get(r.bound, PALETTE["neutral"])
                ax.plot(steps, r.estimates, color=colour, alpha=0.15, lw=0.6)
                ax.plot(steps, ema(r.estimates, span), color=colour, lw=1.8, label=r.bound)
            ref = runs[0]
            steps = np.arange(1, len(ref.true_mi) + 1)
            ax.plot(steps, ref.true_mi, color=PALETTE["exact"], lw=1.4, label="true MI")
            ax.axhline(math.log(ref.config.batch), color=PALETTE["neutral"], ls="--", lw=1.2,
                       label=f"log n = {math.log(ref.config.batch):.2f}")
            top = max(ref.config.levels) * 1.5
            ax.set_ylim(-1.0, top)
            ax.set_title(f"{critic} critic, {ref.config.steps_per_level} steps per level")
            ax.set_xlabel("training step")
            ax.set_ylabel("estimate (nats)")
        handles, labels = max((ax.get_legend_handles_labels() for ax in axes[:, 0]), key=lambda hl: len(hl[1]))
        fig.legend(handles, labels, loc="outside lower center", ncols=5)
    return fig


def staircase_spread_figure(result, critic: str = "separable", low: float = -2.0) -> Figure:
    """Per level, the distribution of the per-step estimates over which bias and variance are computed (box:
    quartiles, whiskers 1.5 IQR, dots beyond), one box per bound, with the true MI as a black bar. Estimates
    below ``low`` nats are not drawn; the legend counts them per bound. (Plain matplotlib: seaborn is not part of
    the pinned environment.)"""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    runs = [r for r in result.staircases if r.critic == critic]
    levels = list(runs[0].config.levels)
    width = 0.8 / len(runs)
    fig, axes = new_figure(ncols=1, nrows=1, width=7.5, height=4.0)
    ax = axes[0, 0]
    handles = []
    with style(), plt.rc_context(_BIG):
        for j, r in enumerate(runs):
            tails = result.tail_estimates(critic, r.bound)
            colour = BOUND_COLOURS.get(r.bound, PALETTE["neutral"])
            positions = np.arange(len(levels)) - 0.4 + width * (j + 0.5)
            ax.boxplot(tails, positions=positions, widths=0.85 * width, patch_artist=True, manage_ticks=False,
                       boxprops={"facecolor": colour, "alpha": 0.75, "edgecolor": colour},
                       medianprops={"color": "black", "lw": 1.2}, whiskerprops={"color": colour},
                       capprops={"color": colour},
                       flierprops={"marker": "o", "ms": 2.5, "markerfacecolor": colour, "markeredgecolor": colour})
            hidden = int(sum(int(np.sum(t < low)) for t in tails))
            label = r.bound + (f" ({hidden} steps below {low:g})" if hidden else "")
            handles.append(Patch(facecolor=colour, alpha=0.75, label=label))
        for i, level in enumerate(levels):
            ax.hlines(level, i - 0.45, i + 0.45, color=PALETTE["exact"], lw=2.0, zorder=5)
        handles.append(plt.Line2D([], [], color=PALETTE["exact"], lw=2.0, label="true MI"))
        ax.set_xticks(np.arange(len(levels)), [f"{v:g}" for v in levels])
        ax.set_ylim(low, max(levels) + 3.0)
        ax.set_xlabel("true MI (nats)")
        ax.set_ylabel("estimate (nats)")
        fig.legend(handles=handles, loc="outside lower center", ncols=4)
        steps = runs[0].config.steps_per_level
        tail = max(1, int(round(runs[0].config.tail_fraction * steps)))
        ax.set_title(f"{critic} critic: the last {tail} of {steps} steps of each level")
    return fig


def deterministic_figure(result, span: int = 50) -> Figure:
    """Training estimates for the deterministic code ``z = x`` (true MI = ∞) against ``log n``."""
    import matplotlib.pyplot as plt

    fig, axes = new_figure(ncols=1, nrows=1, width=6.0, height=3.4)
    ax = axes[0, 0]
    with style(), plt.rc_context(_BIG):
        batch = result.config.staircase.batch
        for b, history in result.deterministic.items():
            steps = np.arange(1, len(history) + 1)
            colour = BOUND_COLOURS.get(b, PALETTE["neutral"])
            ax.plot(steps, history, color=colour, alpha=0.2, lw=0.6)
            ax.plot(steps, ema(history, span), color=colour, lw=1.5, label=b)
        ax.axhline(math.log(batch), color=PALETTE["neutral"], ls="--", lw=1.0, label=f"log n = {math.log(batch):.2f}")
        ax.set_title("z = x: the true MI is infinite")
        ax.set_xlabel("training step")
        ax.set_ylabel("estimate (nats)")
        ax.legend(loc="upper left")
    return fig
