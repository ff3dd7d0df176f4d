"""Tables of chapters 01–03 (preliminaries, Theorem 3.2, Theorem 3.4): markdown from a chapter's result, nothing
computed beyond formatting (z-scores of a row are the row's own ``(estimate − exact) / SE``). MI in nats."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rrlib.rendering.tables import captioned_table
from rrlib.rendering.tables import norm_name as _norm

if TYPE_CHECKING:  # pragma: no cover
    from rrlib.experiments.preliminaries import PreliminariesResult
    from rrlib.experiments.theorem_3_2 import Theorem32Result
    from rrlib.experiments.theorem_3_4 import Theorem34Result

__all__ = ["bruteforce_markdown", "checks_markdown", "counterexample_markdown", "lemma_3_3_markdown",
           "monte_carlo_markdown", "monte_carlo_rv_markdown", "paper_points_markdown", "sandwich_sides_markdown"]


def checks_markdown(result: PreliminariesResult) -> str:
    """Table ``tbl-mi-checks``: every Monte Carlo check of chapter 1's mutual information with exact value, estimate,
    standard error and z-score (one number per cell)."""
    joint = result.discrete_joint.shape
    rows = [[f"discrete, {joint[0]}×{joint[1]} table", f"{result.discrete_exact:.4f}", f"{result.discrete_mc:.4f}",
             f"{result.discrete_se:.4f}", f"{result.discrete_z:+.2f}"]]
    for flip, exact, mc, se, z in zip(result.flip_grid, result.bsc_exact, result.bsc_mc, result.bsc_se,
                                      result.bsc_z, strict=True):
        rows.append([f"binary symmetric channel, δ = {flip:g}", f"{exact:.4f}", f"{mc:.4f}", f"{se:.4f}", f"{z:+.2f}"])
    for rho, exact, mc, se, z in zip(result.rhos, result.gaussian_exact, result.gaussian_mc, result.gaussian_se,
                                     result.gaussian_z, strict=True):
        rows.append([f"Gaussian, ρ = {rho:g}, d = {result.config.gaussian_dim}", f"{exact:.4f}", f"{mc:.4f}",
                     f"{se:.4f}", f"{z:+.2f}"])
    caption = (f"Mutual information [nats]: exact value against the unbiased Monte Carlo mean of the log density "
               f"ratio over {result.config.mc_samples:,} samples, its standard error (SE) and z = (MC − exact) / SE.")
    return captioned_table(caption, "tbl-mi-checks", ["quantity", "exact", "Monte Carlo", "SE", "z"], rows)


def lemma_3_3_markdown(result: PreliminariesResult) -> str:
    """Table ``tbl-lemma-3-3``: per ε, for each ℓp, the closed-form ``AdvRisk_ε(f*)``, the error rate under the
    optimal transport map and its z-score."""
    keys = list(result.adversarial_risk_exact)
    header = ["ε"] + [f"{_norm(k)} {column}" for k in keys for column in ("exact", "map", "z")]
    z = result.lemma_3_3_z
    rows = [[f"{eps:g}"] + [cell for k in keys for cell in (
        f"{result.adversarial_risk_exact[k][i]:.4f}", f"{result.adversarial_risk_mc[k][i]:.4f}", f"{z[k][i]:+.2f}")]
        for i, eps in enumerate(result.eps_grid)]
    caption = ("Lemma 3.3 on the mixture: closed-form adversarial risk Φ(b − a) of f* (exact), the error rate of f* "
               "on the samples moved by the optimal transport map (map), and z = (map − exact) / binomial SE, "
               f"for each threat model; {result.config.mc_samples:,} samples shared by all rows.")
    return captioned_table(caption, "tbl-lemma-3-3", header, rows)



def counterexample_markdown(result: Theorem32Result, eps: float = 0.5, key: str = "inf") -> str:
    """Table ``tbl-printed-vs-corrected``: the printed form against the true RV on a 1-D example, the base
    instance at (``eps``, ``key``) and the random instance where the printed form misses by most."""
    index = int(np.argmin(np.abs(result.eps_grid - eps)))
    base = {
        "instance": f"base, d = {result.config.dim}, {_norm(key)}, ε = {result.eps_grid[index]:g}",
        "ag": result.ag_eps[key][index], "rv": result.rv_eps[key][index],
        "printed_lower": result.printed_lower_eps[key][index], "printed_upper": result.printed_upper_eps[key][index],
        "lower": result.lower_eps[key][index], "upper": result.upper_eps[key][index],
    }
    c = result.worst_counterexample
    worst = {
        "instance": f"worst random, d = {c['dim']}, {_norm(str(c['p']))}, ε = {c['eps']:.3g}, a = {c['a']:.2g}",
        **{name: c[name] for name in ("ag", "rv", "printed_lower", "printed_upper", "lower", "upper")},
    }
    m = result.scalars
    example = {
        "instance": f"d = 1, θ = 1, Σ = 1, w = 1, ℓ2, ε = {m['example_eps']:g}",
        **{name: m[f"example_{name}"] for name in ("ag", "rv", "printed_lower", "printed_upper", "lower", "upper")},
    }
    header = ["instance", "AG", "RV (exact)", "printed 'lower'", "printed 'upper'", "corrected lower",
              "corrected upper"]
    rows = [[row["instance"]] + [f"{row[name]:.4f}" for name in ("ag", "rv", "printed_lower", "printed_upper",
                                                                  "lower", "upper")]
            for row in (example, base, worst)]
    caption = ("The printed Theorem 3.2 against the exact RV (nats): RV lies outside the printed interval and inside "
               "the corrected one in every row.")
    return captioned_table(caption, "tbl-printed-vs-corrected", header, rows)


def sandwich_sides_markdown(result: Theorem32Result) -> str:
    """Table ``tbl-sandwich-sides``: which bound of the corrected sandwich RV meets, in four regimes (``P/AG``,
    the bounds, RV and the ratios RV/lower, RV/upper)."""
    m = result.scalars
    regimes = (
        ("ε → 0", f"base, ℓ∞, ε = {m['small_eps']:g}", "small_eps"),
        ("small ε (Monte Carlo)", f"base, ℓ∞, ε = {m['mc_first_eps']:g}", "mc_first_inf"),
        ("w along θ*", f"base, ℓ2, ε = {m['angle_eps']:g}", "aligned"),
        ("w ⟂ θ*", f"base, ℓ2, ε = {m['angle_eps']:g}", "orthogonal"),
        ("large margin", f"d = 1, a = b = {m['large_margin']:g}", "large_margin"),
    )
    rows = [[regime, instance, f"{m[f'{k}_width_ratio']:.4f}", f"{m[f'{k}_lower']:#.3g}", f"{m[f'{k}_rv']:#.3g}",
             f"{m[f'{k}_upper']:#.3g}", f"{m[f'{k}_rv_over_lower']:.4f}", f"{m[f'{k}_rv_over_upper']:.4f}"]
            for regime, instance, k in regimes]
    # "RV / lower" breaks at its spaces ("RV/lower" would not): the table fits the text column
    header = ["regime", "instance", "P/AG", "lower", "RV", "upper", "RV / lower", "RV / upper"]
    caption = ("Which side of the corrected sandwich RV meets (nats). P/AG ∈ [1, 2] decides it: near 2, RV is at the "
               "upper bound and about 4 times the lower one; near 1, RV is at the lower bound.")
    return captioned_table(caption, "tbl-sandwich-sides", header, rows)


def monte_carlo_markdown(result: Theorem32Result) -> str:
    """Table ``tbl-mc-rate``: Monte Carlo vs exact ``P[g(X') = 1]`` under the worst-case map, and the distance of
    the estimate from the printed (A.1)'s ``1/2 − P`` in standard errors."""
    rows = []
    for key, mc in result.mc.items():
        for i, eps in enumerate(result.mc_eps):
            z_rate = (mc["positive_rate"][i] - mc["positive_exact"][i]) / mc["positive_se"][i]
            rows.append([_norm(key), f"{eps:g}", f"{mc['positive_exact'][i]:.4f}", f"{mc['positive_rate'][i]:.4f}",
                         f"{mc['positive_se'][i]:.4f}", f"{z_rate:+.2f}", f"{mc['printed_positive'][i]:.4f}",
                         f"{mc['printed_z'][i]:+.1f}"])
    header = ["norm", "ε", "exact 1/2 − P/2", "Monte Carlo", "SE", "z", "printed (A.1): 1/2 − P",
              "(MC − printed) / SE"]
    caption = (f"P[g(X') = 1] under the worst-case transport map, {result.config.mc_samples:,} samples: the estimate "
               "agrees with the derived value 1/2 − P/2 (column z) and lies the last column's number of standard "
               "errors away from the printed (A.1)'s 1/2 − P.")
    return captioned_table(caption, "tbl-mc-rate", header, rows)


def monte_carlo_rv_markdown(result: Theorem32Result) -> str:
    """Table ``tbl-mc-rv``: RV (exact, Monte Carlo) between the corrected bounds, and AG (exact, Monte Carlo, z)."""
    rows = []
    for key, mc in result.mc.items():
        for i, eps in enumerate(result.mc_eps):
            z_gap = (mc["gap_mc"][i] - mc["gap_exact"][i]) / mc["gap_se"][i]
            rows.append([_norm(key), f"{eps:g}", f"{mc['lower'][i]:.5f}", f"{mc['rv_exact'][i]:.5f}",
                         f"{mc['upper'][i]:.5f}", f"{mc['rv_mc'][i]:.5f}", f"{mc['gap_exact'][i]:.4f}",
                         f"{mc['gap_mc'][i]:.4f}", f"{z_gap:+.2f}"])
    header = ["norm", "ε", "lower", "RV", "upper", "RV (MC)", "AG", "AG (MC)", "z (AG)"]
    caption = ("RV (nats, exact) between the corrected lower and upper bounds, with its Monte Carlo (MC) estimate "
               "under the worst-case map, and the adversarial gap AG of f* (exact, MC under the label-aware map, and "
               "z = (MC − exact) / binomial SE). At small ε, RV sits at the upper bound.")
    return captioned_table(caption, "tbl-mc-rv", header, rows)



def paper_points_markdown(result: Theorem34Result) -> str:
    """Table ``tbl-paper-points``: the paper's Figure 2 (digitised, ``rrlib.paper``): worst-case MI, measured
    adversarial accuracy and the Theorem 3.4 ceiling computed from that worst-case MI."""
    rows = [[point["model"], point["training"], f"{point['worst_mi']:.2f}", f"{100 * point['accuracy']:.1f}",
             f"{100 * point['bound']:.1f}"] for point in result.paper_points]
    header = ["model", "training", "worst-case MI [nats]", "adversarial accuracy [%]", "Theorem 3.4 ceiling [%]"]
    caption = ("The models of the paper's Figure 2 (values digitised from the figure): every measured adversarial "
               "accuracy is below the ceiling computed from its worst-case MI.")
    return captioned_table(caption, "tbl-paper-points", header, rows)


def bruteforce_markdown(result: Theorem34Result, n_rows: int = 6) -> str:
    """Table ``tbl-bruteforce-tightest``: the tightest brute-force problems (smallest exact risk − bound) among
    those with a non-vacuous bound and a positive worst-case MI, with the Fano slack along the label-aware
    coupling."""
    problems = result.problems
    margin = problems["min_adv_risk"] - problems["bound"]
    candidates = np.flatnonzero((problems["bound"] > 0) & (problems["worst_mi"] > 1e-9))
    order = candidates[np.argsort(margin[candidates])][:n_rows]
    header = ["\\|Y\\|", "\\|Z\\|", "ε", "I(X; g(X))", "worst-case MI", "bound", "label-free risk",
              "$\\inf_h$ AdvRisk", "Fano slack"]
    rows = [[f"{problems['n_classes'][i]}", f"{problems['n_codes'][i]}", f"{problems['eps'][i]:g}",
             f"{problems['mi'][i]:.3f}", f"{problems['worst_mi'][i]:.3f}", f"{problems['bound'][i]:.3f}",
             f"{problems['label_free_risk'][i]:.3f}", f"{problems['min_adv_risk'][i]:.3f}",
             f"{problems['fano_slack'][i]:.3f}"] for i in order]
    caption = (f"The {len(order)} brute-force problems closest to the bound (smallest exact risk − bound) among those "
               "with a positive bound and positive worst-case MI; MI in nats. Fano slack: exact risk minus "
               "Fano + data processing along the optimal label-aware coupling.")
    return captioned_table(caption, "tbl-bruteforce-tightest", header, rows)
