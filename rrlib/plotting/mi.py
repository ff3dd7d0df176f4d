"""Figures of chapter 04 ("How good is MINE?"): oracle bounds, trained staircases, a deterministic code.

Each function takes the result of :func:`rrlib.experiments.mine.run` and returns a matplotlib Figure.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from rrlib.plotting import PALETTE, new_figure, style

__all__ = ["BOUND_COLOURS", "deterministic_figure", "ema", "oracle_figure", "staircase_figure"]

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
    fig, axes = new_figure(ncols=len(batches), nrows=2, width=4.2, height=3.0)
    with style():
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
        axes[0, 0].legend(fontsize=8, loc="upper left")
    return fig


def staircase_figure(result, span: int = 50) -> Figure:
    """Trained estimates (faint: per step; solid: EMA over ``span`` steps) against the true staircase and
    ``log n``, one panel per critic."""
    critics = list(dict.fromkeys(r.critic for r in result.staircases))
    fig, axes = new_figure(ncols=len(critics), nrows=1, width=5.0, height=3.4)
    with style():
        for ax, critic in zip(axes[0], critics, strict=True):
            runs = [r for r in result.staircases if r.critic == critic]
            for r in runs:
                steps = np.arange(1, len(r.estimates) + 1)
                colour = BOUND_COLOURS.get(r.bound, PALETTE["neutral"])
                ax.plot(steps, r.estimates, color=colour, alpha=0.15, lw=0.6)
                ax.plot(steps, ema(r.estimates, span), color=colour, lw=1.5, label=r.bound)
            ref = runs[0]
            steps = np.arange(1, len(ref.true_mi) + 1)
            ax.plot(steps, ref.true_mi, color=PALETTE["exact"], lw=1.2, label="true MI")
            ax.axhline(math.log(ref.config.batch), color=PALETTE["neutral"], ls="--", lw=1.0,
                       label=f"log n = {math.log(ref.config.batch):.2f}")
            top = max(ref.config.levels) * 1.5
            ax.set_ylim(-1.0, top)
            ax.set_title(f"{critic} critic, {ref.config.steps_per_level} steps per level")
            ax.set_xlabel("training step")
            ax.set_ylabel("estimate (nats)")
            ax.legend(fontsize=8, loc="upper left", ncol=2)
    return fig


def deterministic_figure(result, span: int = 50) -> Figure:
    """Training estimates for the deterministic code ``z = x`` (true MI = ∞) against ``log n``."""
    fig, axes = new_figure(ncols=1, nrows=1, width=5.0, height=3.2)
    ax = axes[0, 0]
    with style():
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
        ax.legend(fontsize=8, loc="upper left")
    return fig
