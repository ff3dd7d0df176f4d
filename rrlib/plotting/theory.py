"""Figures of chapters 1–3 (preliminaries, Theorem 3.2, Theorem 3.4). Each function returns a Figure.

The functions only draw what :mod:`rrlib.experiments.preliminaries`, :mod:`rrlib.experiments.theorem_3_2` and
:mod:`rrlib.experiments.theorem_3_4` computed; error bars are ±2 standard errors unless a label says otherwise.
"""

from __future__ import annotations

import math

import numpy as np

from rrlib.plotting import PAGE_WIDTH, PALETTE, Figure, new_figure, style

__all__ = [
    "plot_accuracy_bound",
    "plot_bruteforce_check",
    "plot_lemma_3_3",
    "plot_mutual_information_checks",
    "plot_rv_monte_carlo",
    "plot_rv_random_instances",
    "plot_rv_vs_angle",
    "plot_rv_vs_eps",
    "plot_wasserstein_transport",
]

P_COLOURS = {"1": PALETTE["weak"], "2": PALETTE["standard"], "inf": PALETTE["robust"]}
P_NAMES = {"1": r"$\ell_1$", "2": r"$\ell_2$", "inf": r"$\ell_\infty$"}
ERRORBAR = dict(fmt="o", ms=4, capsize=3, lw=1.2)


# ------------------------------------------------------------------------------------------------ chapter 1
def plot_mutual_information_checks(result) -> Figure:
    """Exact MI curves with Monte Carlo estimates (±2 SE): binary symmetric channel and correlated Gaussians."""
    with style():
        fig, axes = new_figure(2, width=PAGE_WIDTH / 2, height=3.0)
        ax = axes[0, 0]
        ax.plot(result.dense_flip, result.dense_bsc, color=PALETTE["exact"], label=r"exact $\log 2 - H_2(\delta)$")
        ax.errorbar(result.flip_grid, result.bsc_mc, yerr=2 * result.bsc_se, color=PALETTE["estimate"],
                    label="Monte Carlo", **ERRORBAR)
        ax.set(xlabel=r"flip probability $\delta$", ylabel="I(X; Y) [nats]", title="Binary symmetric channel")
        ax.legend()
        ax = axes[0, 1]
        dim = result.config.gaussian_dim
        ax.plot(result.dense_rho, result.dense_gaussian, color=PALETTE["exact"],
                label=rf"exact $-\frac{{{dim}}}{{2}}\log(1-\rho^2)$")
        ax.errorbar(result.rhos, result.gaussian_mc, yerr=2 * result.gaussian_se, color=PALETTE["estimate"],
                    label="Monte Carlo", **ERRORBAR)
        ax.set(xlabel=r"correlation $\rho$", ylabel="I(X; Y) [nats]", title=f"Correlated Gaussians, d = {dim}")
        ax.legend()
    return fig


def plot_wasserstein_transport(result, key: str = "inf") -> Figure:
    """Left: samples of the mixture and their images under the optimal ℓp transport map (every arrow has
    ℓp length ε). Right: the margin ``y·s·wᵀx`` before and after — shifted by exactly ``ε‖w‖_q``."""
    config = result.config
    w = np.asarray(config.w)
    with style():
        fig, axes = new_figure(2, width=PAGE_WIDTH / 2, height=3.4)
        ax = axes[0, 0]
        x, moved, y = result.scatter_x, result.scatter_moved[key], result.scatter_y
        for label, colour in ((1, PALETTE["standard"]), (-1, PALETTE["robust"])):
            sel = y == label
            ax.scatter(x[sel, 0], x[sel, 1], s=7, color=colour, alpha=0.6, label=f"y = {label:+d}")
            ax.quiver(x[sel, 0], x[sel, 1], moved[sel, 0] - x[sel, 0], moved[sel, 1] - x[sel, 1], angles="xy",
                      scale_units="xy", scale=1, width=0.003, color=colour, alpha=0.5)
        lim = np.abs(x).max() * 1.05
        line = np.linspace(-lim, lim, 2)
        if abs(w[1]) > 1e-12:
            ax.plot(line, -w[0] * line / w[1], color=PALETTE["exact"], lw=1.2, label=r"$w^\top x = 0$")
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="$x_1$", ylabel="$x_2$",
               title=rf"{P_NAMES[key]} transport, $\varepsilon$ = {config.transport_eps:g}")
        ax.set_aspect("equal")
        ax.legend(loc="upper left", fontsize=8)
        ax = axes[0, 1]
        bins = np.linspace(min(result.projection_after.min(), result.projection_before.min()),
                           result.projection_before.max(), 60)
        ax.hist(result.projection_before, bins=bins, density=True, alpha=0.5, color=PALETTE["standard"],
                label="before")
        ax.hist(result.projection_after, bins=bins, density=True, alpha=0.5, color=PALETTE["robust"],
                label=r"after ($\ell_\infty$ map)")
        ax.axvline(0.0, color=PALETTE["exact"], lw=1.0)
        ax.set(xlabel=r"margin $y\,s\,w^\top x$ (error when < 0)", ylabel="density",
               title="The map shifts every margin\nby $\\varepsilon\\|w\\|_1$")
        ax.legend(fontsize=8)
    return fig


def plot_lemma_3_3(result) -> Figure:
    """Lemma 3.3: closed-form ``AdvRisk_ε(f*)`` (lines) vs the risk under the optimal transport map (±2 SE)."""
    with style():
        fig, axes = new_figure(1, width=5.0, height=3.4)
        ax = axes[0, 0]
        for key, exact in result.dense_adversarial_risk.items():
            colour = P_COLOURS[key]
            ax.plot(result.dense_eps, exact, color=colour, label=f"{P_NAMES[key]} exact")
            ax.errorbar(result.eps_grid, result.adversarial_risk_mc[key], yerr=2 * result.adversarial_risk_se[key],
                        color=colour, **ERRORBAR)
        ax.set(xlabel=r"radius $\varepsilon$", ylabel=r"AdvRisk$_\varepsilon(f^*)$",
               title="Transport-map risk (dots) = AdvRisk (lines)", ylim=(0, 1))
        ax.legend()
    return fig


# ------------------------------------------------------------------------------------------------ chapter 2
def plot_rv_vs_eps(result) -> Figure:
    """A 2×2 grid: per ℓp, RV_ε (black), the corrected bounds (band) and the printed bounds (dashed), against ε;
    last panel: the adversarial gap AG_ε(f*) for each p."""
    keys = list(result.rv_eps)
    with style():
        ncols = 2
        nrows = math.ceil((len(keys) + 1) / ncols)
        fig, axes = new_figure(ncols, nrows, width=PAGE_WIDTH / ncols, height=2.6)
        flat = axes.ravel()
        for ax, key in zip(flat, keys, strict=False):
            eps = result.eps_grid
            ax.fill_between(eps, result.lower_eps[key], result.upper_eps[key], color=PALETTE["bound"], alpha=0.3,
                            label="corrected bounds")
            ax.plot(eps, result.printed_lower_eps[key], ls="--", color=PALETTE["neutral"], label="printed 'lower'")
            ax.plot(eps, result.printed_upper_eps[key], ls=":", color=PALETTE["neutral"], label="printed 'upper'")
            ax.plot(eps, result.rv_eps[key], color=PALETTE["exact"], label=r"RV$_\varepsilon$ (exact)")
            ax.set(xlabel=r"$\varepsilon$", ylabel="nats", title=f"{P_NAMES[key]} threat model")
        # the four lines of every threat-model panel, named once below the grid
        fig.legend(*flat[0].get_legend_handles_labels(), loc="outside lower center", ncols=2)
        ax = flat[len(keys)]
        for key in keys:
            ax.plot(result.eps_grid, result.ag_eps[key], color=P_COLOURS[key], label=P_NAMES[key])
        ax.set(xlabel=r"$\varepsilon$", ylabel=r"AG$_\varepsilon(f^*)$", title="Adversarial gap")
        ax.legend(fontsize=9)
        for ax in flat[len(keys) + 1:]:
            ax.set_visible(False)
    return fig


def plot_rv_vs_angle(result) -> Figure:
    """RV, AG and the corrected bounds as ``w`` rotates from θ (0) through ⟂θ (π/2) to −θ (π), ℓ2, fixed ε."""
    degrees = np.degrees(result.angles)
    with style():
        fig, axes = new_figure(2, width=PAGE_WIDTH / 2, height=3.0)
        ax = axes[0, 0]
        ax.fill_between(degrees, result.lower_angle, result.upper_angle, color=PALETTE["bound"], alpha=0.3,
                        label="corrected bounds")
        ax.plot(degrees, result.rv_angle, color=PALETTE["exact"], label=r"RV$_\varepsilon$")
        ax.axvline(90, color=PALETTE["neutral"], lw=0.8)
        ax.set(xlabel=r"angle between $w$ and $\theta$ [°]", ylabel="nats",
               title=rf"$\ell_2$, $\varepsilon$ = {result.config.angle_eps:g}")
        ax.legend(fontsize=8)
        ax = axes[0, 1]
        ax.plot(degrees, result.ag_angle, color=PALETTE["robust"], label=r"AG$_\varepsilon(f^*)$")
        ax.axvline(90, color=PALETTE["neutral"], lw=0.8)
        ax.set(xlabel=r"angle between $w$ and $\theta$ [°]", ylabel="probability", title="Adversarial gap")
        ax.legend(fontsize=8)
    return fig


def plot_rv_random_instances(result) -> Figure:
    """Left: (AG, RV) for every random instance with the corrected bound curves (solid) and the printed ones
    (dashed). Right: the ratio P / AG, which the proof needs in [1, 2]."""
    inst = result.instances
    with style():
        fig, axes = new_figure(2, width=PAGE_WIDTH / 2, height=3.0)
        ax = axes[0, 0]
        for key in ("1", "2", "inf"):
            sel = inst["p"] == key
            ax.scatter(inst["ag"][sel], inst["rv"][sel], s=6, alpha=0.6, color=P_COLOURS[key], label=P_NAMES[key])
        ax.plot(result.gap_grid, result.gap_lower, color=PALETTE["exact"], lw=1.2, label="corrected bounds")
        ax.plot(result.gap_grid, result.gap_upper, color=PALETTE["exact"], lw=1.2)
        ax.plot(result.gap_grid, result.gap_upper, color=PALETTE["bound"], ls="--", lw=1.0,
                label="printed lower")
        ax.plot(result.gap_grid, result.gap_lower, color=PALETTE["bound"], ls=":", lw=1.0, label="printed upper")
        ax.set(xlabel=r"AG$_\varepsilon(f^*)$", ylabel=r"RV$_\varepsilon(g)$ [nats]",
               title=f"{inst['rv'].size} random instances")
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize=9)
        ax = axes[0, 1]
        positive = inst["ag"] > 1e-4
        ax.hist(inst["width"][positive] / inst["ag"][positive], bins=np.linspace(0.95, 2.05, 45),
                color=PALETTE["estimate"])
        ax.axvline(1.0, color=PALETTE["exact"], lw=1.0)
        ax.axvline(2.0, color=PALETTE["exact"], lw=1.0)
        ax.set(xlabel=r"$P\,/\,$AG  with  $P = \Phi(a+b) - \Phi(a-b)$", ylabel="instances",
               title=r"AG $\leq P \leq 2\,$AG")
    return fig


def plot_rv_monte_carlo(result) -> Figure:
    """Monte Carlo with the optimal transport maps (dots, ±2 SE) vs the closed forms (lines): RV and AG."""
    with style():
        fig, axes = new_figure(2, width=PAGE_WIDTH / 2, height=3.0)
        for key, rows in result.mc.items():
            colour = P_COLOURS[key]
            eps = result.mc_eps
            axes[0, 0].plot(result.eps_grid[result.eps_grid <= eps.max() * 1.05],
                            result.rv_eps[key][result.eps_grid <= eps.max() * 1.05], color=colour,
                            label=f"{P_NAMES[key]} exact")
            # the ±1-SE interval of the rate mapped through RV (monotone), doubled to ±2 SE around the estimate
            lower_err = 2 * np.maximum(rows["rv_mc"] - rows["rv_low"], 0.0)
            upper_err = 2 * np.maximum(rows["rv_high"] - rows["rv_mc"], 0.0)
            axes[0, 0].errorbar(eps, rows["rv_mc"], yerr=[lower_err, upper_err], color=colour, **ERRORBAR)
            axes[0, 1].plot(result.eps_grid[result.eps_grid <= eps.max() * 1.05],
                            result.ag_eps[key][result.eps_grid <= eps.max() * 1.05], color=colour,
                            label=f"{P_NAMES[key]} exact")
            axes[0, 1].errorbar(eps, rows["gap_mc"], yerr=2 * rows["gap_se"], color=colour, **ERRORBAR)
        axes[0, 0].set(xlabel=r"$\varepsilon$", ylabel="nats", title=r"RV$_\varepsilon$: transport map vs exact")
        axes[0, 1].set(xlabel=r"$\varepsilon$", ylabel="probability", title=r"AG$_\varepsilon(f^*)$")
        axes[0, 0].legend(fontsize=8)
    return fig


# ------------------------------------------------------------------------------------------------ chapter 3
def plot_accuracy_bound(result) -> Figure:
    """Theorem 3.4's bound on adversarial accuracy vs worst-case MI, for several |Y|; the paper's two points."""
    colours = [PALETTE[name] for name in ("neutral", "weak", "estimate", "standard", "robust", "bound")]
    with style():
        fig, axes = new_figure(1, width=0.75 * PAGE_WIDTH, height=3.2)  # the chapter shows it at 75 %
        ax = axes[0, 0]
        for colour, (k, curve) in zip(colours, result.accuracy_bound.items(), strict=False):
            ax.plot(result.mi_grid, curve, color=colour, label=f"|Y| = {k}")
        k = result.config.paper_classes
        points = [(0.0, result.bound_at_0), (result.config.paper_worst_case_mi, result.bound_at_paper_mi)]
        for mi, bound in points:
            ax.plot([mi], [bound], "o", color=PALETTE["exact"])
            ax.annotate(f"{100 * bound:.1f}%", (mi, bound), textcoords="offset points", xytext=(8, -12))
        ax.axvline(math.log(k / 2), color=PALETTE["neutral"], lw=0.8, ls=":")
        ax.set(xlabel="worst-case MI  $\\inf_{\\mu'} I(X'; g(X'))$ [nats]",
               ylabel="adversarial accuracy ≤", ylim=(0, 1.03), title="Theorem 3.4 as an accuracy ceiling")
        ax.legend(fontsize=8, loc="lower right")
    return fig


def plot_bruteforce_check(result) -> Figure:
    """Brute force, three panels: exact ``inf_h AdvRisk`` against Theorem 3.4's bound (must lie above the
    diagonal); the label-free adversary against the label-aware one; the slack of Fano + data processing along the
    optimal label-aware coupling (must be ``≥ 0``)."""
    problems = result.problems
    with style():
        fig, axes = new_figure(3, width=PAGE_WIDTH / 3, height=3.2)
        ax = axes[0, 0]
        for k, colour in zip(sorted(set(problems["n_classes"].tolist())),
                             (PALETTE["weak"], PALETTE["standard"], PALETTE["robust"]), strict=False):
            sel = problems["n_classes"] == k
            ax.scatter(problems["bound"][sel], problems["min_adv_risk"][sel], s=10, alpha=0.7, color=colour,
                       label=f"|Y| = {k}")
        ax.plot([0, 1], [0, 1], color=PALETTE["exact"], lw=1.0)
        ax.set(xlabel="Theorem 3.4 lower bound", ylabel=r"exact $\inf_h$ AdvRisk$_\varepsilon(h\circ g)$",
               xlim=(-0.02, 1), ylim=(0, 1), title="Theorem 3.4\nholds")
        ax.legend(fontsize=8)
        ax = axes[0, 1]
        ax.scatter(problems["label_free_risk"], problems["min_adv_risk"], s=10, alpha=0.7,
                   color=PALETTE["estimate"])
        ax.plot([0, 1], [0, 1], color=PALETTE["exact"], lw=1.0)
        ax.set(xlabel="label-free adversary", ylabel="label-aware adversary (Def. 2.3)",
               xlim=(0, 1), ylim=(0, 1), title="Label-free is\nnever stronger")
        ax = axes[0, 2]
        ax.hist(problems["fano_slack"], bins=30, color=PALETTE["estimate"])
        ax.axvline(0.0, color=PALETTE["exact"], lw=1.0)
        ax.set(xlabel="Fano slack", ylabel="problems", title="Fano, label-aware\ncoupling")
        ax.set_xlim(left=min(-0.05, float(problems["fano_slack"].min()) - 0.05))
    return fig
