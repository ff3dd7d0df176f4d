"""Every table and sentence the chapters render from results: markdown strings, nothing computed beyond formatting.

Experiments compute (:mod:`rrlib.experiments`), this module renders, :mod:`rrlib.plotting` draws. One section per
chapter; each function takes a result (or nothing, for the paper's own numbers) and returns markdown that a
notebook shows with ``IPython.display.Markdown``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from rrlib.data import dataset_threat_model, get_spec
from rrlib.experiments.mine import ORACLE_BOUNDS
from rrlib.experiments.vulnerability import ARCHITECTURE_TITLES
from rrlib.paper import FIGURE_2, FIGURE_3, figure_1_rows
from rrlib.stats import (
    ACCURACY_CLAIM_Z,
    KEPT_WORST_MI_NATS,
    MI_CLAIM_Z,
    ZERO_ADVERSARIAL_ACCURACY,
    ZERO_WORST_MI_NATS,
    mean_sd,
)
from rrlib.theory import adversarial_accuracy_upper_bound
from rrlib.verdicts import section_6_1

if TYPE_CHECKING:  # pragma: no cover
    from rrlib.experiments.mine import MineResult
    from rrlib.experiments.preliminaries import PreliminariesResult
    from rrlib.experiments.theorem_3_2 import Theorem32Result
    from rrlib.experiments.theorem_3_4 import Theorem34Result
    from rrlib.experiments.vulnerability import Config as VulnerabilityConfig
    from rrlib.experiments.vulnerability import Result as VulnerabilityResult
    from rrlib.experiments.worst_case_mi import CostRow, DigitsRow, GaussianSetting, MaskingDemo

__all__ = [
    "best_at_top_markdown",
    "captioned_table",
    "markdown_table",
    "bruteforce_markdown",
    "checks_markdown",
    "claims_markdown",
    "config_markdown",
    "cost_markdown",
    "counterexample_markdown",
    "digits_markdown",
    "figure_1_markdown",
    "figure_2_markdown",
    "figure_3_markdown",
    "lemma_3_3_markdown",
    "masking_markdown",
    "monte_carlo_markdown",
    "monte_carlo_rv_markdown",
    "nwj_check_markdown",
    "oracle_table_markdown",
    "oracle_tables_markdown",
    "paper_points_markdown",
    "sandwich_sides_markdown",
    "staircase_table_markdown",
    "three_number_markdown",
    "impossible_note",
    "protocol_markdown",
    "zoo_markdown",
    "STAIRCASE_QUANTITIES",
    "zoo_mi_markdown",
]


# ---------------------------------------- chapters 1-3: preliminaries, Theorem 3.2, Theorem 3.4


def _norm(key: str) -> str:
    """``"1"``, ``"2"``, ``"inf"`` → ``ℓ1``, ``ℓ2``, ``ℓ∞``."""
    return f"ℓ{'∞' if key == 'inf' else key}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain markdown table, one string per cell."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def captioned_table(caption: str, name: str | None, header: list[str], rows: list[list[str]]) -> str:
    """A MyST ``{table}`` with a numbered caption (and, given ``name``, a label for ``{numref}`name```) around a
    markdown table."""
    label = f":name: {name}\n" if name else ""
    return f":::{{table}} {caption}\n{label}:align: center\n\n{markdown_table(header, rows)}\n:::"


# chapter 1


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


# chapter 2


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
    rows = [[regime, instance, f"{m[f'{k}_width_ratio']:.4f}", f"{m[f'{k}_lower']:.3g}", f"{m[f'{k}_rv']:.3g}",
             f"{m[f'{k}_upper']:.3g}", f"{m[f'{k}_rv_over_lower']:.4f}", f"{m[f'{k}_rv_over_upper']:.4f}"]
            for regime, instance, k in regimes]
    header = ["regime", "instance", "P/AG", "lower", "RV", "upper", "RV/lower", "RV/upper"]
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


# chapter 3


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
              "inf_h AdvRisk", "Fano slack"]
    rows = [[f"{problems['n_classes'][i]}", f"{problems['n_codes'][i]}", f"{problems['eps'][i]:g}",
             f"{problems['mi'][i]:.3f}", f"{problems['worst_mi'][i]:.3f}", f"{problems['bound'][i]:.3f}",
             f"{problems['label_free_risk'][i]:.3f}", f"{problems['min_adv_risk'][i]:.3f}",
             f"{problems['fano_slack'][i]:.3f}"] for i in order]
    caption = (f"The {len(order)} brute-force problems closest to the bound (smallest exact risk − bound) among those "
               "with a positive bound and positive worst-case MI; MI in nats. Fano slack: exact risk minus "
               "Fano + data processing along the optimal label-aware coupling.")
    return captioned_table(caption, "tbl-bruteforce-tightest", header, rows)


# ---------------------------------------- chapter 4: MINE


def _fmt(x: float, digits: int = 2) -> str:
    return "–" if not math.isfinite(x) else f"{x:.{digits}f}"


def _mi_table(head: list[str], rows: list[list[str]], caption: str | None = None, name: str | None = None) -> str:
    """A markdown table (chapters 4–5), inside a captioned MyST ``table`` directive when ``caption`` is given
    (``name`` is its label for ``{numref}``)."""
    return markdown_table(head, rows) if caption is None else captioned_table(caption, name, head, rows)


def oracle_table_markdown(result: MineResult, *, caption: str | None = None, name: str | None = None) -> str:
    """Long table, one number per cell: for each oracle bound and true MI level, the mean and standard deviation
    (sd, across batches) at every batch size (nats)."""
    batches = result.config.oracle_batches
    head = ["estimator", "true MI"] + [h for n in batches for h in (f"mean, n = {n}", f"sd, n = {n}")]
    rows = []
    for b in ORACLE_BOUNDS:
        for v in result.config.levels:
            cells = [b, f"{v:g}"]
            for n in batches:
                r = result.oracle_row(b, n, v)
                cells += [_fmt(r.mean), _fmt(r.std)]
            rows.append(cells)
    return _mi_table(head, rows, caption, name)


#: The quantities of :func:`staircase_table_markdown`: attribute of ``LevelStats`` and its unit.
STAIRCASE_QUANTITIES = {"bias": "nats", "variance": "nats²", "mse": "nats²"}


def staircase_table_markdown(result: MineResult, quantity: str = "mse", *, caption: str | None = None,
                             name: str | None = None) -> str:
    """Table: one of bias / variance / MSE (``quantity``) per MI level for every trained run, one number per
    cell; ``–`` where a run diverged before the level."""
    if quantity not in STAIRCASE_QUANTITIES:
        raise ValueError(f"unknown quantity {quantity!r}; valid choices: {tuple(STAIRCASE_QUANTITIES)}")
    levels = result.config.levels
    head = ["critic", "estimator", "steps per level"] + [f"I = {v:g}" for v in levels]
    rows = [[r.critic, r.bound, f"{r.config.steps_per_level}"] + [_fmt(getattr(s, quantity)) for s in r.stats]
            for r in result.staircases]
    return _mi_table(head, rows, caption, name)


def oracle_tables_markdown(result: MineResult) -> str:
    """:func:`oracle_table_markdown` with its caption (label ``tab-ch4-oracle``)."""
    log_n = ", ".join(f"log {n} = {math.log(n):.2f}" for n in result.config.oracle_batches)
    return oracle_table_markdown(
        result, name="tab-ch4-oracle",
        caption=(f"Oracle critic: mean and standard deviation (sd) across {result.config.oracle_trials} batches of "
                 f"each estimator, per true MI and batch size n (nats; {log_n})."))


def best_at_top_markdown(result: MineResult) -> str:
    """One sentence: the bound with the smallest MSE at the top MI level, per critic."""
    h = result.metrics()["headline"]
    critics = dict.fromkeys(r.critic for r in result.staircases)
    pieces = [f"{c} critic: **{h[c + '_best_hi']}** (MSE {h[c + '_best_mse_hi']:.2f})" for c in critics
              if c + "_best_hi" in h]
    return f"Smallest MSE at the top level, I = {max(result.config.levels):g} nats: " + "; ".join(pieces) + "."


def nwj_check_markdown(headline: dict[str, Any]) -> str:
    """One sentence: the oracle NWJ mean at the lowest level and largest batch, in standard errors from the truth
    (``headline`` is ``MineResult.metrics()["headline"]``)."""
    h = headline
    return (f"Oracle NWJ at $I = {h['level_lo']:g}$ nats, $n = {h['n_large']:.0f}$: "
            f"{h['nwj_mean_lo']:.3f} ± {h['nwj_se_lo']:.3f} (standard error), i.e. "
            f"{h['nwj_z']:+.2f} standard errors from the truth.")


# ---------------------------------------- chapter 5: worst-case MI


def three_number_markdown(settings: list[GaussianSetting], columns: tuple[str, ...] = ("eps",), *,
                          caption: str | None = None, name: str | None = None) -> str:
    """A table, one number per cell: setting, estimate, true MI of the attacked data, exact worst case and the two
    errors, each as mean and standard deviation over seeds (nats); captioned when ``caption`` is given."""
    labels = {"eps": "ε", "sharpness": "k", "steps": "S", "iterations": "T", "gradient": "gradient"}
    head = [labels[c] for c in columns] + ["Î_worst", "sd", "I(X′; Z′)", "sd", "exact J₂",
                                          "estimation error", "sd", "search error", "sd"]
    rows = []
    for s in settings:
        row = [f"{getattr(s, c):g}" if not isinstance(getattr(s, c), str) else getattr(s, c) for c in columns]
        for arr in (s.estimate, s.attacked_true):
            m, sd = mean_sd(arr, of_one=0.0)
            row += [f"{m:.3f}", f"{sd:.3f}"]
        row.append(f"{s.exact:.3f}")
        for arr in (s.estimation_error, s.search_error):
            m, sd = mean_sd(arr, of_one=0.0)
            row += [f"{m:+.3f}", f"{sd:.3f}"]
        rows.append(row)
    return _mi_table(head, rows, caption, name)


def masking_markdown(demo: MaskingDemo, *, caption: str | None = None, name: str | None = None) -> str:
    """A table of the gradient-masking demonstration: the last PGD iterate (fraction of points moved, its DV value)
    and the kept (best) iterate (fraction moved, ``V1``, ``P̂[Z′ = 1]``, true MI); one number per cell."""
    head = ["backward pass of g", "adversary's gradient", "‖∇ₓJ‖", "last iterate: moved", "last iterate: J",
            "kept iterate: moved", "kept iterate: V1", "P̂[Z′ = 1]", "true MI of the kept batch"]
    rows = [[r.representation, r.gradient, f"{r.grad_norm:.3g}", f"{100 * r.moved:.0f}%", f"{r.last_estimate:.3f}",
             f"{100 * r.best_moved:.0f}%", f"{r.estimate:.3f}", f"{r.positive:.3f}", f"{r.true_mi:.3f}"]
            for r in demo.rows]
    return _mi_table(head, rows, caption, name)


def digits_markdown(rows: list[DigitsRow], *, caption: str | None = None, name: str | None = None) -> str:
    """A table of the digits experiment (MI in nats as mean and standard deviation over seeds, accuracies in %)."""
    head = ["model", "ε", "normal MI", "sd", "worst-case MI", "sd", "RV", "sd", "natural acc. (%)", "PGD acc. (%)"]
    body = []
    for r in rows:
        cells = [r.model, f"{r.eps:g}"]
        for arr in (r.normal, r.worst, r.rv):
            m, sd = mean_sd(arr, of_one=0.0)
            cells += [f"{m:.3f}", f"{sd:.3f}"]
        cells += [f"{100 * r.nat_acc:.1f}", f"{100 * r.adv_acc:.1f}"]
        body.append(cells)
    return _mi_table(head, body, caption, name)


def cost_markdown(rows: list[CostRow], *, caption: str | None = None, name: str | None = None) -> str:
    """A table of the measured cost of one iteration (one number per cell)."""
    head = ["S", "plain step (ms)", "worst-case step (ms)", "ratio", "S + 1", "passes of g: plain",
            "passes of g: worst case", "of which with ∇ₓ"]
    body = [[f"{r.steps}", f"{1e3 * r.plain_seconds:.2f}", f"{1e3 * r.worst_seconds:.2f}", f"{r.ratio:.2f}",
             f"{r.steps + 1}", f"{r.plain_forward}", f"{r.worst_forward}", f"{r.worst_input_backward}"]
            for r in rows]
    return _mi_table(head, body, caption, name)


# ---------------------------------------- chapter 6: vulnerability and robustness


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _table(title: str, name: str, rows: list[str], note: str = "") -> str:
    """A captioned, numbered MyST table (``{numref}`name```) with an optional note below it. The title is the
    fence's info string, where CommonMark allows no backticks."""
    if "`" in title:
        raise ValueError(f"a table title may not contain backticks: {title!r}")
    out = f"```{{table}} {title}\n:name: {name}\n\n" + "\n".join(rows) + "\n```"
    return out + (f"\n\n{note}" if note else "")


#: The marker of an impossible estimate in the tables of chapter 06 (explained by :func:`impossible_note`).
IMPOSSIBLE_MARK = "†"


def impossible_note(result: VulnerabilityResult) -> str:
    """The footnote of the † marker: which models break which limit and what the tables and figures do with it."""
    flagged = [m for m in result.models if m.flags.impossible]
    if not flagged:
        return (f"{IMPOSSIBLE_MARK} No estimate breaks the limits $0 \\le I_{{\\text{{worst}}}} \\le I$ "
                "(checked with `rrlib.mi.plausibility.check_estimates`).")
    parts = "; ".join(f"{m.name}: " + "; ".join(m.flags.explanations).replace(">=", "≥") for m in flagged)
    return (f"{IMPOSSIBLE_MARK} Impossible estimate ({parts}). It is printed as measured, marked, and never used "
            "as a measurement: the *valid* columns move it to the nearest possible value "
            "($0 \\le I_{\\text{worst}} \\le I$, `rrlib.mi.plausibility.clip_to_valid`).")


def zoo_markdown(result: VulnerabilityResult) -> str:
    """Our zoo's accuracies (both attacks) next to the Theorem 3.4 ceilings (from the valid MI values)."""
    rows = [
        "| model | ε_train | natural | ε=0 ceiling | adv. (paper PGD) | SE | adv. (stronger) | Thm 3.4 ceiling |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in result.models:
        rows.append(
            f"| {m.name} | {m.train_eps:.3g} | {_pct(m.natural_accuracy)} | {_pct(m.natural_bound)} | "
            f"{_pct(m.adversarial_accuracy)} | {_pct(m.accuracy_se)} | {_pct(m.adversarial_accuracy_strong)} | "
            f"{_pct(m.bound)} |")
    return _table(
        "Accuracies of our zoo (%) and the Theorem 3.4 ceilings. SE: binomial standard error of the paper-PGD "
        "accuracy. The ceilings are computed from the valid (clipped) MI values of the next table: the ε=0 "
        "ceiling from the normal MI, the Thm 3.4 ceiling from the worst-case MI.", "tab-zoo-accuracy", rows)


def zoo_mi_markdown(result: VulnerabilityResult) -> str:
    """Our zoo's logit-layer MI estimates (raw, with standard errors; † = impossible) and their valid clipped values."""
    rows = [
        "| model | normal MI | SE | worst-case MI | SE | RV | SE | valid worst-case MI | valid RV |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in result.models:
        mark = IMPOSSIBLE_MARK if m.flags.impossible else ""
        rows.append(
            f"| {m.name} | {m.normal_mi:.3f} | {m.normal_mi_se:.3f} | {m.worst_mi:.3f}{mark} | {m.worst_mi_se:.3f} | "
            f"{m.rv:.3f}{mark} | {m.rv_se:.3f} | {m.worst_mi_valid:.3f} | {m.rv_valid:.3f} |")
    return _table(
        f"Logit-layer MI of our zoo (nats): raw estimates with their standard errors over test batches "
        f"({IMPOSSIBLE_MARK}: impossible, see the note), and the valid values (clipped into "
        "$0 \\le I_{\\text{worst}} \\le I$) that the figures and ceilings use.", "tab-zoo-mi", rows,
        impossible_note(result))


def figure_1_markdown() -> str:
    """The paper's Figure 1 (digitised): RV and natural − adversarial gap per CIFAR-10 model."""
    names = {"standard": "standard", "eps2": "ε = 2/255", "robust": "ε = 8/255"}
    rows = ["| model | training | RV (nats) | gap (%) |", "|---|---|---|---|"]
    for model, training, rv, gap in figure_1_rows():
        rows.append(f"| {model} | {names[training]} | {rv:.3f} | {gap:.1f} |")
    return _table("The paper's Figure 1 (digitised from the bitmap, about ±0.01 nats and ±1 point): logit-layer RV "
                  "and natural − adversarial accuracy gap of its 12 CIFAR-10 models.", "tab-paper-figure-1", rows)


def figure_2_markdown() -> str:
    """The paper's Figure 2 (digitised) with the Theorem 3.4 ceiling computed from each worst-case MI."""
    rows = ["| model | training | worst-case MI | normal MI | adversarial % | ceiling % |", "|---|---|---|---|---|---|"]
    for model, points in FIGURE_2.items():
        for training, p in points.items():
            ceiling = adversarial_accuracy_upper_bound(p.worst_mi, 10)
            rows.append(f"| {model} | {training} | {p.worst_mi:.2f} | {p.normal_mi:.2f} | "
                        f"{p.adversarial_accuracy:.1f} | {100 * ceiling:.1f} |")
    return _table("The paper's Figure 2 (digitised): logit-layer MI (nats) and adversarial accuracy (%) of its 10 "
                  "standard and robust CIFAR-10 models, with the Theorem 3.4 ceiling (%) computed here from each "
                  "worst-case MI.", "tab-paper-figure-2", rows)


def figure_3_markdown() -> str:
    """The paper's Figure 3 (approximate ranges and modes of the histograms, 128 neurons, CIFAR-10)."""
    rows = ["| model | quantity | low | high | mode |", "|---|---|---|---|---|"]
    for kind, parts in FIGURE_3.items():
        for quantity, v in parts.items():
            rows.append(f"| {kind} | {quantity.replace('_', ' ')} | {v['low']:.2f} | {v['high']:.2f} | "
                        f"{v['mode']:.3f} |")
    return _table("The paper's Figure 3 histograms (CIFAR-10, 128 second-layer neurons of Baseline-H, averaged over "
                  "two models per kind): approximate range and mode of each histogram, nats.", "tab-paper-figure-3",
                  rows)


def claims_markdown(result: VulnerabilityResult) -> str:
    """Which of §6.1's claims our run supports, at its scale, with the evidence (verdicts: :mod:`rrlib.verdicts`)."""
    rows = ["| claim (paper §6.1) | our evidence | verdict |", "|---|---|---|"]
    mark = IMPOSSIBLE_MARK
    for c in section_6_1(result):
        e = c.evidence
        if c.key == "rv_tracks_gap":
            rows.append(
                f"| Fig. 1: lower RV goes with a smaller natural − adversarial gap | {e['n_models']} models, valid "
                f"RV: Pearson {e['pearson']:.2f}, Spearman {e['spearman']:.2f}; RV ordered like the gap: "
                f"{e['monotone']}; standard − robust valid RV = {e['rv_diff']:.3f} nats ({e['z']:.1f} SE) | "
                f"{c.verdict} |")
        elif c.key == "standard_worst_zero":
            rows.append(
                f"| Fig. 2: standard models have worst-case MI ≈ 0 and adversarial accuracy ≈ 0 | worst-case MI "
                f"{e['worst_mi']:.3f}{mark if e['impossible'] else ''} (valid {e['worst_mi_valid']:.3f}), "
                f"adversarial accuracy {_pct(e['adversarial_accuracy'])}% | {c.verdict} |")
        elif c.key == "robust_keeps_worst":
            rows.append(
                f"| Fig. 2: robust models keep much more worst-case MI | valid values: robust {e['robust']:.3f} vs "
                f"standard {e['standard']:.3f} nats | {c.verdict} |")
        elif c.key == "robust_more_normal":
            rows.append(
                f"| §6.1 text: robust logit layers carry more normal MI than standard ones | robust "
                f"{e['robust']:.3f} ± {e['robust_se']:.3f} vs standard {e['standard']:.3f} ± {e['standard_se']:.3f} | "
                f"{c.verdict} |")
        elif c.key == "ceiling_holds":
            listed = ": " + ", ".join(e["violations"]) if e["violations"] else ""
            rows.append(
                f"| Thm 3.4 ceiling from the estimated worst-case MI is above the measured adversarial accuracy | "
                f"violated by {len(e['violations'])} of {e['n_models']} models with the paper's attack{listed}; by "
                f"{len(e['strong'])} with the stronger attack | {c.verdict} |")
        elif c.key == "training_works":
            rows.append(
                f"| Adversarial training makes the model robust | robust − standard adversarial accuracy "
                f"{_pct(e['diff'])} points ({e['z']:.0f} SE) | {c.verdict} |")
        elif c.key == "neurons_less_vulnerable":
            rows.append(
                f"| Fig. 3: second-layer neurons of the robust model are less vulnerable | mean vulnerability "
                f"standard {e['standard']:.3f} vs robust {e['robust']:.3f} nats ({e['z']:.0f} SE, "
                f"{e['n_neurons']} neurons) | {c.verdict} |")
        else:  # pragma: no cover - a new verdict needs its row here
            raise KeyError(f"no rendering for claim {c.key!r}")
    return _table("The claims of §6.1, our evidence at this profile's scale and the verdict computed from it "
                  "(rules in rrlib.verdicts). MI enters through its valid (clipped) values. A difference counts when "
                  f"it exceeds {MI_CLAIM_Z:g} standard errors for MI, RV and neuron vulnerability and "
                  f"{ACCURACY_CLAIM_Z:g} for adversarial accuracy; ≈ 0 means below {ZERO_WORST_MI_NATS:g} nats of "
                  f"worst-case MI and {100 * ZERO_ADVERSARIAL_ACCURACY:g}% adversarial accuracy, and much more "
                  f"worst-case MI means over {KEPT_WORST_MI_NATS:g} nats more.", "tab-claims", rows,
                  f"{IMPOSSIBLE_MARK} impossible raw estimate, see {{numref}}`tab-zoo-mi`."
                  if any(m.flags.impossible for m in result.models) else "")


def config_markdown(config: VulnerabilityConfig) -> str:
    """The experiment's settings as a two-column table."""
    threat = dataset_threat_model(config.dataset)
    rows = ["| setting | value |", "|---|---|",
            f"| data set | {get_spec(config.dataset).title} |",
            f"| threat model | ℓ∞, ε = {threat.eps:.4g}, PGD-{threat.steps}, step {threat.step_size:.4g}, no random "
            "start (paper) |",
            f"| stronger attack | PGD-{config.strong_steps}, step 2.5ε/{config.strong_steps}, random start, "
            f"{config.strong_restarts} restart(s) |",
            f"| architectures | {', '.join(ARCHITECTURE_TITLES.get(a, a) for a in config.architectures)} |",
            f"| ε_train | {', '.join(f'{e:.4g}' for e in config.train_eps)} |",
            f"| training overrides | {', '.join(f'{k}={v}' for k, v in config.train_overrides) or 'none'} |",
            f"| Baseline-H width, head | {config.width}, {config.head} |",
            f"| evaluation images | {config.eval_size} |",
            f"| critic training / test images | {config.mi_train_size} / {config.mi_test_size} |"]
    mi = config.mi
    rows.append(f"| logit critic | encode-and-dot-product, hidden {mi.critic_hidden}, batch {mi.batch_size}, Adam lr "
                f"{mi.lr:g}; {_critic_protocol(mi.warm_start, mi.pretrain_iterations, mi.iterations)}; "
                f"{mi.test_batches} test batches; adversary's gradient: {mi.gradient} |")
    if config.neurons is not None:
        nc = config.neurons
        rows.append(f"| neuron critics | per neuron, hidden {nc.hidden}, embed {nc.embed}, batch {nc.batch_size}, "
                    f"lr {nc.lr:g}; {_critic_protocol(nc.warm_start, nc.pretrain_iterations, nc.iterations)}; "
                    f"{'interior' if nc.interior_only else 'all'} locations |")
    return _table("The settings of this run (rrlib.experiments.vulnerability.Config).", "tab-config", rows)


def _critic_protocol(warm_start: bool, pretrain: int, iterations: int) -> str:
    if warm_start:
        return (f"one critic: {pretrain} clean iterations, then continued {iterations} without and {iterations} "
                "with attack")
    return f"two critics from scratch, {iterations} iterations each"


def _zoo_summary(config: VulnerabilityConfig) -> str:
    members = config.members()
    counts = ", ".join(f"{ARCHITECTURE_TITLES.get(a, a)} ×{sum(b == a for b, _ in members)}"
                       for a in config.architectures)
    return f"{len(members)}: {counts}"


def _training_summary(config: VulnerabilityConfig) -> str:
    from rrlib.experiments.vulnerability import train_config

    recipes: dict[str, list[str]] = {}
    for arch in config.architectures:
        t = train_config(config, arch, config.train_eps[0])
        images = "all" if t.train_subset is None else str(t.train_subset)
        recipes.setdefault(f"{t.epochs} epochs, {t.optimizer} lr {t.lr:g}, {images} training images", []).append(
            ARCHITECTURE_TITLES.get(arch, arch))
    if len(recipes) == 1:
        return next(iter(recipes))
    return "; ".join(f"{', '.join(names)}: {recipe}" for recipe, names in recipes.items())


def _neuron_protocol(config: VulnerabilityConfig) -> str:
    nc = config.neurons
    return "not measured" if nc is None else _critic_protocol(nc.warm_start, nc.pretrain_iterations, nc.iterations)


def protocol_markdown(quick: VulnerabilityConfig, full: VulnerabilityConfig) -> str:
    """Quick profile vs full profile vs the paper, row by row: every shortcut of the quick profile and what the
    full profile does instead. The two profile columns are read from the configurations; the paper's column
    restates supplement D.1 and the released code (REFERENCE.md §8)."""
    def width(c: VulnerabilityConfig) -> str:
        return "1" if c.width is None else f"{c.width:g}"

    rows = ["| | quick profile (this page) | full profile | paper |", "|---|---|---|---|"]
    table = [
        ("data set", get_spec(quick.dataset).title, get_spec(full.dataset).title, "CIFAR-10"),
        ("models", _zoo_summary(quick), _zoo_summary(full),
         "12: Baseline-H ×3, VGG16 ×3, ResNet18 ×2, ResNet50 ×2, DenseNet121 ×2"),
        ("ε_train", ", ".join(f"{e:.3g}" for e in quick.train_eps),
         ", ".join("0" if e == 0 else f"{e * 255:.0f}/255" for e in full.train_eps), "0, 2/255, 8/255"),
        ("Baseline-H width", width(quick), width(full), "1"),
        ("classifier training", _training_summary(quick), _training_summary(full),
         "Baseline-H: 300 epochs, adam lr 0.0001; others: 200 epochs, sgd lr 0.1; all training images"),
        ("logit critic", f"hidden {quick.mi.critic_hidden}, batch {quick.mi.batch_size}, lr {quick.mi.lr:g}",
         f"hidden {full.mi.critic_hidden}, batch {full.mi.batch_size}, lr {full.mi.lr:g}",
         "hidden 2048, batch 128, lr 0.0001"),
        ("normal and worst-case critics",
         _critic_protocol(quick.mi.warm_start, quick.mi.pretrain_iterations, quick.mi.iterations),
         _critic_protocol(full.mi.warm_start, full.mi.pretrain_iterations, full.mi.iterations),
         "two critics from scratch, 300 epochs each"),
        ("critic training images", f"{quick.mi_train_size}", f"{full.mi_train_size}", "50000"),
        ("per-neuron critics", _neuron_protocol(quick), _neuron_protocol(full), "not stated (code path not wired)"),
        ("per-neuron worst case", "one PGD perturbation for all neurons", "one PGD perturbation for all neurons",
         "not stated (a batch-of-units loss implies one)"),
        ("models per kind in Figure 3", "1", "1", "2 (histograms averaged)"),
        ("stronger accuracy attack", f"PGD-{quick.strong_steps}, {quick.strong_restarts} restart(s)",
         f"PGD-{full.strong_steps}, {full.strong_restarts} restart(s)", "none (ours only)"),
    ]
    rows += [f"| {' | '.join(r)} |" for r in table]
    return _table("What each profile does, next to the paper (supplement D.1 and its released code). The quick "
                  "profile's shortcuts are the cells that differ from the paper's column.", "tab-protocol", rows)
