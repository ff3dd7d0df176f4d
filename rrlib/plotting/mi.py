"""Figures of chapter 04 ("How good is MINE?"): oracle bounds, trained staircases, a deterministic code.

Each function takes the result of :func:`rrlib.experiments.mine.run` and returns a matplotlib Figure.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from rrlib.plotting import PAGE_WIDTH, PALETTE, new_figure, style

__all__ = ["BOUND_COLOURS", "BOUND_TITLES", "deterministic_figure", "ema", "oracle_figure", "staircase_figure",
           "staircase_spread_figure", "staircase_spread_frame"]

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
#: How a figure names each bound (the library's keys are code names).
BOUND_TITLES = {"dv": "DV", "dv_filler": "DV (filler)", "mine": "MINE", "nwj": "NWJ", "js": "JS",
                "infonce": "InfoNCE", "smile": "SMILE"}


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
    batch size), with the identity and the ``log n`` line. Bottom: the standard deviation across batches (log y).
    The lines are named once below the panels; each top panel names its own ``log n``."""
    from rrlib.experiments.mine import ORACLE_BOUNDS

    batches = result.config.oracle_batches
    levels = np.asarray(result.config.levels, dtype=float)
    fig, axes = new_figure(ncols=len(batches), nrows=2, width=PAGE_WIDTH / len(batches), height=2.6)
    with style():
        for col, n in enumerate(batches):
            top, bottom = axes[0, col], axes[1, col]
            top.plot(levels, levels, color=PALETTE["exact"], lw=1.2, label="true MI")
            log_n = top.axhline(math.log(n), color=PALETTE["neutral"], ls="--", lw=1.0,
                                label=f"log n = {math.log(n):.2f}")
            for b in ORACLE_BOUNDS:
                rows = [result.oracle_row(b, n, v) for v in levels]
                mean = np.array([r.mean for r in rows])
                std = np.array([r.std for r in rows])
                colour = BOUND_COLOURS[b]
                ls = ":" if b == "dv_filler" else "-"
                top.plot(levels, mean, marker="o", ms=3, color=colour, ls=ls, label=BOUND_TITLES.get(b, b))
                top.fill_between(levels, mean - std, mean + std, color=colour, alpha=0.12, lw=0)
                bottom.plot(levels, std, marker="o", ms=3, color=colour, ls=ls, label=BOUND_TITLES.get(b, b))
            top.set_title(f"oracle critic,\nbatch n = {n}")
            top.set_xlabel("true MI (nats)")
            top.set_ylabel("estimate (nats)")
            bottom.set_yscale("log")
            bottom.set_xlabel("true MI (nats)")
            bottom.set_ylabel("std across batches (nats)")
            top.legend(handles=[log_n], loc="upper left", fontsize=9)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        kept = [(h, label) for h, label in zip(handles, labels, strict=True) if not label.startswith("log n")]
        fig.legend(*zip(*kept, strict=True), loc="outside lower center", ncols=4, fontsize=9)
    return fig


def staircase_figure(result, span: int = 50) -> Figure:
    """Trained estimates (faint: per step; solid: EMA over ``span`` steps) against the true staircase and
    ``log n``, one full-width panel per critic (stacked)."""
    critics = list(dict.fromkeys(r.critic for r in result.staircases))
    fig, axes = new_figure(ncols=1, nrows=len(critics), width=PAGE_WIDTH, height=2.8)
    with style():
        for ax, critic in zip(axes[:, 0], critics, strict=True):
            runs = [r for r in result.staircases if r.critic == critic]
            for r in runs:
                steps = np.arange(1, len(r.estimates) + 1)
                colour = BOUND_COLOURS.get(r.bound, PALETTE["neutral"])
                ax.plot(steps, r.estimates, color=colour, alpha=0.15, lw=0.6)
                ax.plot(steps, ema(r.estimates, span), color=colour, lw=1.8,
                        label=BOUND_TITLES.get(r.bound, r.bound))
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


def staircase_spread_frame(result, critic: str = "separable") -> pd.DataFrame:
    """Long table of the per-step estimates behind the staircase tables: one row per (bound, level, step) of the
    last ``tail_fraction`` of each level's steps, with columns ``bound``, ``level`` (true MI, nats) and
    ``estimate`` (nats). Its per-(bound, level) mean and variance are the tables' bias + I and variance."""
    frames = []
    for r in (r for r in result.staircases if r.critic == critic):
        for level, tail in zip(r.config.levels, result.tail_estimates(critic, r.bound), strict=True):
            frames.append(pd.DataFrame({"bound": r.bound, "level": float(level), "estimate": tail}))
    if not frames:
        raise ValueError(f"no staircase with critic {critic!r}; have {sorted({r.critic for r in result.staircases})}")
    return pd.concat(frames, ignore_index=True)


def staircase_spread_figure(result, critic: str = "separable", low: float = -2.0) -> Figure:
    """Per level, the distribution of the per-step estimates over which bias and variance are computed
    (:func:`staircase_spread_frame`): one seaborn letter-value ("boxen") plot per bound (the widest box holds the
    middle half of the steps, each narrower box the middle half of what lies outside the previous one, dots the
    steps beyond), the mean of each box as a white diamond and the true MI as a black bar. Steps below ``low``
    nats enter the boxes and means but are not drawn; the legend counts them per bound."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    frame = staircase_spread_frame(result, critic)
    bounds = list(dict.fromkeys(frame["bound"]))
    levels = sorted(frame["level"].unique())
    hidden = frame[frame["estimate"] < low].groupby("bound").size()
    label = {b: BOUND_TITLES.get(b, b) + (f" ({int(hidden[b])} step{'s' if hidden[b] > 1 else ''} below {low:g})"
                                          if b in hidden.index else "") for b in bounds}
    frame = frame.assign(estimator=frame["bound"].map(label), level=frame["level"].map(lambda v: f"{v:g}"))
    order = [f"{v:g}" for v in levels]
    hue_order = [label[b] for b in bounds]
    palette = {label[b]: BOUND_COLOURS.get(b, PALETTE["neutral"]) for b in bounds}
    fig, axes = new_figure(ncols=1, nrows=1, width=PAGE_WIDTH, height=3.8)
    ax = axes[0, 0]
    with style():
        sns.boxenplot(frame, x="level", y="estimate", hue="estimator", order=order, hue_order=hue_order,
                      palette=palette, width=0.85, linewidth=0.6, flier_kws={"s": 4}, ax=ax, legend=True)
        sns.pointplot(frame, x="level", y="estimate", hue="estimator", order=order, hue_order=hue_order,
                      palette={k: "white" for k in hue_order}, dodge=0.85 - 0.85 / len(bounds), errorbar=None,
                      markers="D", markersize=4.5, markeredgecolor="black", markeredgewidth=0.8,
                      linestyle="none", ax=ax, legend=False)
        for i, level in enumerate(levels):
            ax.hlines(level, i - 0.45, i + 0.45, color=PALETTE["exact"], lw=2.0, zorder=5)
        handles, labels = ax.get_legend_handles_labels()
        ax.get_legend().remove()
        handles += [plt.Line2D([], [], color=PALETTE["exact"], lw=2.0),
                    plt.Line2D([], [], marker="D", color="white", markeredgecolor="black", ls="none")]
        labels += ["true MI", "mean"]
        ax.set_ylim(low, max(levels) + 3.0)
        ax.set_xlabel("true MI (nats)")
        ax.set_ylabel("estimate (nats)")
        fig.legend(handles, labels, loc="outside lower center", ncols=3)
        shown = next(r.config for r in result.staircases if r.critic == critic)
        steps = shown.steps_per_level
        tail = max(1, int(round(shown.tail_fraction * steps)))
        ax.set_title(f"{critic} critic: the last {tail} of {steps} steps of each level")
    return fig


def deterministic_figure(result, span: int = 50) -> Figure:
    """Training estimates for the deterministic code ``z = x`` (true MI = ∞) against ``log n``."""
    fig, axes = new_figure(ncols=1, nrows=1, width=0.75 * PAGE_WIDTH, height=3.0)  # the chapter shows it at 75 %
    ax = axes[0, 0]
    with style():
        batch = result.config.staircase.batch
        for b, history in result.deterministic.items():
            steps = np.arange(1, len(history) + 1)
            colour = BOUND_COLOURS.get(b, PALETTE["neutral"])
            ax.plot(steps, history, color=colour, alpha=0.2, lw=0.6)
            ax.plot(steps, ema(history, span), color=colour, lw=1.5, label=BOUND_TITLES.get(b, b))
        ax.axhline(math.log(batch), color=PALETTE["neutral"], ls="--", lw=1.0, label=f"log n = {math.log(batch):.2f}")
        ax.set_title("z = x: the true MI is infinite")
        ax.set_xlabel("training step")
        ax.set_ylabel("estimate (nats)")
        ax.legend(loc="upper left")
    return fig
