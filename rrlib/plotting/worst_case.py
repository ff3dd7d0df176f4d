"""Figures of chapter 05 ("Measuring representation vulnerability"); each function returns a Figure.

All inputs come from :class:`rrlib.experiments.worst_case_mi.Result`; nothing is computed here beyond means and
standard deviations over seeds.
"""

from __future__ import annotations

import numpy as np

from rrlib.plotting import PAGE_WIDTH, PALETTE, Figure, new_figure, style
from rrlib.stats import mean_sd

__all__ = [
    "cost_figure",
    "digits_figure",
    "error_decomposition_figure",
    "pgd_risk_figure",
    "three_numbers_figure",
]


def pgd_risk_figure(result) -> Figure:
    """PGD adversarial risk of the linear classifier vs the closed form ``Φ(b − a)``, ℓ∞ and ℓ2."""
    fig, axes = new_figure(2, 1, width=PAGE_WIDTH / 2, height=3.0)
    with style():
        for ax, norm, title in zip(axes[0], ("linf", "l2"), ("ℓ∞", "ℓ2"), strict=True):
            grid, exact = result.risk_curve[norm]
            ax.plot(grid, exact, color=PALETTE["exact"], label="closed form Φ(b − a)")
            rows = [r for r in result.risk_rows if r.norm == norm]
            ax.errorbar([r.eps for r in rows], [r.pgd_risk for r in rows],
                        yerr=[5 * r.standard_error for r in rows], fmt="o", color=PALETTE["estimate"],
                        label="PGD (± 5 SE)")
            ax.set(xlabel="ε", ylabel="adversarial risk", title=f"{title} ball", ylim=(0, 1))
            ax.legend(loc="lower right", fontsize=9)
    return fig


def three_numbers_figure(result) -> Figure:
    """Estimate, true MI of the attacked data and exact worst case vs ε, for both gradient paths."""
    fig, axes = new_figure(2, 1, width=PAGE_WIDTH / 2, height=3.2)
    grid, exact = result.worst_curve
    with style():
        for ax, sweep, title in zip(axes[0], ("eps", "eps_full"),
                                    ("adversary's gradient\nthrough g only (paper)", "full gradient"), strict=True):
            settings = result.settings(sweep)
            eps = [s.eps for s in settings]
            ax.axhline(result.normal_exact, color=PALETTE["neutral"], ls="--", lw=1, label="I(X; g(X)) = log 2")
            ax.plot(grid, exact, color=PALETTE["exact"], label="exact worst case")
            estimate_label = r"$\hat{I}_{\mathrm{worst}}$ (Algorithm 2)"
            for name, color, label, marker in (("attacked_true", PALETTE["weak"], "true MI of the attacked data", "s"),
                                               ("estimate", PALETTE["estimate"], estimate_label, "o")):
                stats = [mean_sd(getattr(s, name), of_one=0.0) for s in settings]
                ax.errorbar(eps, [m for m, _ in stats], yerr=[sd for _, sd in stats], fmt=marker + "-",
                            color=color, label=label, capsize=3)
            oracle = [s for s in result.settings("eps") if s.oracle_estimate is not None]
            if sweep == "eps" and oracle:
                stats = [mean_sd(s.oracle_estimate, of_one=0.0) for s in oracle]
                ax.errorbar([s.eps for s in oracle], [m for m, _ in stats], yerr=[sd for _, sd in stats], fmt="^:",
                            color=PALETTE["bound"], label="estimate on the exact worst case", capsize=3)
            ax.set(xlabel="ε (ℓ∞)", ylabel="nats", title=title, ylim=(0, 0.8))
        # one legend for both panels, below them
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=9)
    return fig


def error_decomposition_figure(result) -> Figure:
    """Estimation error (estimate − true MI of the attack) and search error (true MI − exact) per sweep."""
    sweeps = (("sharpness", "sharpness", "surrogate sharpness k"), ("steps", "steps", "PGD steps S"),
              ("iterations", "iterations", "critic iterations T"))
    fig, axes = new_figure(len(sweeps), 1, width=PAGE_WIDTH / len(sweeps), height=3.0)
    with style():
        for ax, (sweep, attr, xlabel) in zip(axes[0], sweeps, strict=True):
            settings = result.settings(sweep)
            pos = np.arange(len(settings))
            for offset, name, color, label in ((-0.2, "estimation_error", PALETTE["estimate"], "estimation error"),
                                               (0.2, "search_error", PALETTE["weak"], "search error")):
                stats = [mean_sd(getattr(s, name), of_one=0.0) for s in settings]
                ax.bar(pos + offset, [m for m, _ in stats], width=0.4, yerr=[sd for _, sd in stats], color=color,
                       label=label, capsize=3)
            stats = [mean_sd(s.total_error, of_one=0.0) for s in settings]
            ax.errorbar(pos, [m for m, _ in stats], yerr=[sd for _, sd in stats], fmt="D", color=PALETTE["exact"],
                        label="estimate − exact", capsize=3)
            ax.axhline(0, color=PALETTE["neutral"], lw=1)
            ax.set_xticks(pos, [f"{getattr(s, attr):g}" for s in settings])
            ax.set(xlabel=xlabel, ylabel="nats", title=f"ε = {settings[0].eps:g}")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=3)
    return fig


def digits_figure(result) -> Figure:
    """Digits: normal and worst-case MI, RV, and PGD accuracy vs ε for the standard and the robust network; the MI
    panel's legend below the three."""
    fig, axes = new_figure(3, 1, width=PAGE_WIDTH / 3, height=3.2)
    mi_ax, rv_ax, acc_ax = axes[0]
    with style():
        for model, color in (("standard", PALETTE["standard"]), ("robust", PALETTE["robust"])):
            rows = sorted((r for r in result.digits if r.model == model), key=lambda r: r.eps)
            eps = [r.eps for r in rows]
            for name, ls, label in (("normal", "--", "normal"), ("worst", "-", "worst case")):
                stats = [mean_sd(getattr(r, name), of_one=0.0) for r in rows]
                mi_ax.errorbar(eps, [m for m, _ in stats], yerr=[sd for _, sd in stats], fmt="o" + ls,
                               color=color, label=f"{model}: {label}", capsize=3)
            stats = [mean_sd(r.rv, of_one=0.0) for r in rows]
            rv_ax.errorbar(eps, [m for m, _ in stats], yerr=[sd for _, sd in stats], fmt="o-", color=color,
                           label=model, capsize=3)
            acc_ax.plot(eps, [100 * r.adv_acc for r in rows], "o-", color=color, label=model)
        mi_ax.set(xlabel="ε (ℓ∞)", ylabel="nats", title="MI estimates")
        rv_ax.set(xlabel="ε (ℓ∞)", ylabel="nats", title="representation\nvulnerability")
        acc_ax.set(xlabel="ε (ℓ∞)", ylabel="%", title="PGD accuracy", ylim=(0, 100))
        for ax in (mi_ax, rv_ax, acc_ax):
            ax.axvline(result.digits_train_eps, color=PALETTE["neutral"], lw=1, ls=":")
        for ax in (rv_ax, acc_ax):
            ax.legend(fontsize=9)
        fig.legend(*mi_ax.get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize=9,
                   title="MI estimates (left)", title_fontsize=9)
    return fig


def cost_figure(result) -> Figure:
    """Measured time of a worst-case iteration over a plain one vs S, against the ``S + 1`` rule of thumb."""
    fig, axes = new_figure(1, 1, width=0.6 * PAGE_WIDTH, height=2.7)  # the chapter shows it at 60 %
    ax = axes[0][0]
    with style():
        steps = np.array([r.steps for r in result.cost])
        ax.plot(steps, [r.ratio for r in result.cost], "o-", color=PALETTE["estimate"], label="measured")
        ax.plot(steps, steps + 1, "--", color=PALETTE["exact"], label="S + 1")
        ax.plot(steps, [r.worst_forward / r.plain_forward for r in result.cost], ":", color=PALETTE["neutral"],
                label="forward passes of g")
        ax.set(xlabel="PGD steps S", ylabel="worst-case / plain iteration", title="cost of Algorithm 2")
        ax.legend()
    return fig
