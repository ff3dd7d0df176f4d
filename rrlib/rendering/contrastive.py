"""Chapter 11's tables: the three objectives' downstream accuracy, their paired differences, training cost, and the
published adversarial contrastive numbers that give context (and why they are not comparable)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rrlib.experiments.contrastive_comparison import ROBUSTSSL_CIFAR10, ROBUSTSSL_COMMIT
from rrlib.rendering.section5 import HEAD_TITLES
from rrlib.rendering.tables import IMPOSSIBLE_MARK, captioned_table
from rrlib.stats import CLAIM_LEVEL, CONTRADICTED, MIN_REPLICATES, SUPPORTED, TOO_FEW, UNDECIDED, mean_sd

__all__ = ["OBJECTIVE_LABELS", "comparisons_markdown", "context_markdown", "cost_markdown", "fresh_critic_markdown",
           "fresh_critic_summary", "summary_markdown", "temperature_markdown", "temperature_summary"]

#: How the page names each encoder objective (keys: ``estimator_loss``).
OBJECTIVE_LABELS = {"worst": "worst-case MI (ours, Eq. 5.4, DV)", "worst-infonce": "worst-case InfoNCE",
                    "adv-contrastive": "adversarial contrastive (RoCL-style)"}
_REP_LABELS = {"infonce": "worst-case InfoNCE", "contrastive": "adversarial contrastive"}
_LOSS_LABELS = {"standard": "standard", "standard_es": "standard (E.S.)", "robust": "robust"}
_COLUMN_LABELS = {"natural": "natural", "adversarial": "PGD", "autoattack": "AutoAttack"}
_VERDICT_WORDS = {SUPPORTED: "higher", CONTRADICTED: "lower", TOO_FEW: "too few seeds"}
#: How the fresh-critic table names each objective (keys: ``estimator_loss``).
_JUDGED_LABELS = {"normal": "DIM (Hjelm et al.)", **OBJECTIVE_LABELS}


def cost_markdown(cost: Mapping[str, Mapping[str, float]], name: str, scale: str) -> str:
    """Table ``name``: each objective's seconds per training epoch and images per second in one run, and its
    epoch's cost relative to the paper's worst-case MI (``scale`` says which run)."""
    ours = cost.get("worst", {}).get("seconds_per_epoch", math.nan)
    rows = []
    for loss, label in OBJECTIVE_LABELS.items():
        if loss not in cost:
            continue
        c = cost[loss]
        rows.append([label, f"{c['seconds_per_epoch']:,.1f}", f"{c['images_per_second']:,.0f}",
                     f"{c['seconds_per_epoch'] / ours:.2f}×", f"{c['epochs']:.0f}"])
    caption = (f"Training cost of each objective in the {scale}: wall seconds per encoder epoch (training and the "
               "held-out estimates), training images per second, the epoch's cost relative to the paper's "
               "worst-case MI, and the epochs averaged (all seeds).")
    return captioned_table(caption, name, ["objective", "s / epoch", "images / s", "relative cost", "epochs"], rows)


def _difference(c: Mapping[str, Any], judged: bool) -> str:
    low, high = c["interval"]
    word = f" {_VERDICT_WORDS.get(c['verdict'], 'cannot tell')}" if judged else ""
    return f"{c['mean']:+.1f} [{low:+.1f}, {high:+.1f}]{word}"


def comparisons_markdown(comparisons: Sequence[Mapping[str, Any]], name: str, scale: str) -> str:
    """Table ``name``: per objective beyond the paper, head and head training, its accuracy minus the paper's
    worst-case encoder's (points), paired by seed, with the Student-t interval and what it says."""
    cells: dict[tuple[str, str, str], dict[str, str]] = {}
    n = max((c["n"] for c in comparisons), default=0)
    judged = n >= MIN_REPLICATES
    for c in comparisons:
        cells.setdefault((c["rep"], c["head"], c["loss"]), {})[c["column"]] = _difference(c, judged)
    rows = [[_REP_LABELS[rep], HEAD_TITLES[head].split(" (")[0], _LOSS_LABELS[loss]]
            + [by_column.get(col, "–") for col in _COLUMN_LABELS]
            for (rep, head, loss), by_column in cells.items()]
    caption = (f"Each objective beyond the paper against the paper's worst-case MI encoder under the same head, "
               f"{scale}: accuracy difference in points (theirs − ours), mean over {n} seed pairs with its "
               f"{CLAIM_LEVEL:.0%} Student-t interval; "
               + ("\"higher\" or \"lower\" where the interval excludes zero, \"cannot tell\" where it contains it."
                  if judged else f"{n} seed pairs are too few to judge (the book asks for at least {MIN_REPLICATES}), "
                  "so no cell carries a verdict."))
    return captioned_table(caption, name, ["objective", "h", "h trained", "natural", "PGD", "AutoAttack"], rows)


def context_markdown(name: str) -> str:
    """Table ``name``: published CIFAR-10 numbers of adversarial contrastive pre-training (ResNet-18, RobustSSL
    benchmark), SLF and ALF — context only."""
    rows = [[method, f"{slf[0]:.2f}", f"{slf[1]:.2f}", f"{alf[0]:.2f}", f"{alf[1]:.2f}"]
            for method, (slf, alf) in ROBUSTSSL_CIFAR10.items()]
    caption = ("Context, not comparable: published CIFAR-10 results of adversarial contrastive pre-training of a "
               "ResNet-18 (RobustSSL benchmark README, commit " + ROBUSTSSL_COMMIT[:7] + "): accuracy (%) on clean "
               "test images (SA) and under AutoAttack (RA) after standard (SLF) or adversarial (ALF) training of a "
               "linear head on the frozen encoder. Another data set, architecture, threat model (ε = 8/255) and "
               "training length (hundreds of epochs on GPUs).")
    return captioned_table(caption, name, ["method", "SLF: SA", "SLF: RA", "ALF: SA", "ALF: RA"], rows)


def _tally(comps: Sequence[Mapping[str, Any]], what: str) -> str:
    """"higher with 4 of 6 heads, cannot tell with 2 (mean differences +1.0 to +5.0 points)"."""
    counts = {word: sum(c["verdict"] == v for c in comps)
              for v, word in ((SUPPORTED, "higher"), (CONTRADICTED, "lower"), (UNDECIDED, "cannot tell"))}
    said = [f"{word} with {k}" for word, k in counts.items() if k]
    if not said:
        return f"{what}: no verdict"
    said[0] += f" of {len(comps)} heads"
    means = [c["mean"] for c in comps]
    return f"{what} {', '.join(said)} (mean differences {min(means):+.1f} to {max(means):+.1f} points)"


def summary_markdown(comparisons: Sequence[Mapping[str, Any]]) -> str:
    """The medium run's result in words, generated from its paired comparisons (so it cannot drift from the table):
    per objective beyond the paper and column, how many of the six heads (MLP and linear; standard, E.S., robust)
    are higher, lower or cannot tell against the paper's worst-case MI encoder, and the range of mean differences."""
    lines = []
    for rep, label in _REP_LABELS.items():
        comps = [c for c in comparisons if c["rep"] == rep]
        if not comps:
            continue
        parts = [_tally([c for c in comps if c["column"] == col], f"under {name}" if col != "natural" else
                        "in natural accuracy")
                 for col, name in (("autoattack", "AutoAttack"), ("adversarial", "the paper's PGD"),
                                   ("natural", "natural"))]
        lines.append(f"* **{label[0].upper() + label[1:]}** against the paper's worst-case MI: " + "; ".join(parts)
                     + ".")
    aa = [c for c in comparisons if c["rep"] == "contrastive" and c["column"] == "autoattack"]
    if aa and all(c["verdict"] == SUPPORTED for c in aa):
        lines.append("\nOn this protocol the paper's worst-case MI is not the most robust of the three objectives: "
                     "under AutoAttack, the strongest attack run here, every head on the adversarial contrastive "
                     "encoder is more accurate than the same head on the paper's encoder.")
    elif aa and all(c["verdict"] == CONTRADICTED for c in aa):
        lines.append("\nUnder AutoAttack every head on the paper's encoder is more accurate than the same head on "
                     "the adversarial contrastive encoder.")
    return "\n".join(lines)


def fresh_critic_markdown(view: Mapping[str, Any], name: str) -> str:
    """Table ``name``: per objective the fresh-critic normal MI, worst-case MI and RV (nats, mean ± sd over the
    seeds), and its RV minus the paper's worst-case encoder's, paired by seed, with the Student-t interval."""
    seeds = view["seeds"]
    diffs = {(d["loss"], d["quantity"]): d for d in view["differences"]}
    rows = []
    for loss, obj in view["objectives"].items():
        mark = f" {IMPOSSIBLE_MARK}" if obj["impossible"] else ""
        cells = []
        for q in ("normal", "worst", "rv"):
            m, sd = mean_sd(obj[q])
            cells.append(f"{m:.3f} ± {sd:.3f}")
        d = diffs.get((loss, "rv"))
        judged = d is not None and d["n"] >= MIN_REPLICATES
        rv_diff = "(ours)" if loss == "worst" else "–" if d is None else (
            f"{d['mean']:+.3f} [{d['interval'][0]:+.3f}, {d['interval'][1]:+.3f}]"
            + (f" {_VERDICT_WORDS.get(d['verdict'], 'cannot tell')}" if judged else ""))
        rows.append([_JUDGED_LABELS[loss] + mark, *cells, rv_diff])
    caption = (f"Each encoder judged by fresh critics (the judge of chapter 07 and the report: a new critic trained on "
               f"the frozen encoder, once on clean and once on attacked batches, scored on held-out test images): "
               f"normal MI, worst-case MI and RV = normal − worst-case, nats, mean ± sd over seeds "
               f"{', '.join(map(str, seeds))}; and RV minus the paper's encoder's RV, paired by seed, with its "
               f"{CLAIM_LEVEL:.0%} Student-t interval (\"lower\": a smaller RV than ours). "
               f"{IMPOSSIBLE_MARK} marks an objective with an impossible estimate, left out of its difference.")
    return captioned_table(caption, name, ["encoder objective", "normal MI", "worst-case MI", "RV", "RV − ours"],
                           rows)


def temperature_markdown(view: Mapping[str, Any], name: str, used: float) -> str:
    """Table ``name``: the temperature sweep of the adversarial contrastive encoder, the mean over its seeds of the
    standard heads' natural and PGD accuracy and the robust heads' natural and AutoAttack accuracy (percent); the
    row of ``used`` (the τ of the medium run's rows) is marked."""
    rows = []
    for tau in view["temperatures"]:
        m = view["means"][str(tau)]
        std, rob = m["contrastive/standard"], m["contrastive/robust"]
        label = f"{tau:g}" + (" (used)" if float(tau) == float(used) else "")
        rows.append([label, f"{std['linear']['natural']:.1f}", f"{std['linear']['adversarial']:.1f}",
                     f"{std['mlp']['natural']:.1f}", f"{rob['linear']['natural']:.1f}",
                     f"{rob['linear']['autoattack']:.1f}", f"{rob['mlp']['natural']:.1f}",
                     f"{rob['mlp']['autoattack']:.1f}"])
    n = len(view["seeds"])
    caption = (f"The adversarial contrastive encoder of the medium run at each NT-Xent temperature τ, nothing else "
               f"changed, under the medium run's heads: accuracy (%) on the 1,000 test images (AutoAttack on 200), "
               f"mean over {n} seeds ({', '.join(map(str, view['seeds']))}). Standard linear head = SLF, robust "
               "linear head = ALF.")
    header = ["τ", "SLF natural", "SLF PGD", "std MLP natural", "ALF natural", "ALF AutoAttack", "robust MLP natural",
              "robust MLP AutoAttack"]
    return captioned_table(caption, name, header, rows, compact=True)


def temperature_summary(view: Mapping[str, Any], used: float, reference: Mapping[str, Any]) -> str:
    """The sweep in words: the τ with the best clean standard linear accuracy and the best robust AutoAttack
    accuracy against ``used`` (the medium run's τ), and for scale the same linear head's natural accuracy on the
    DIM, the paper's and the fully supervised rows of the committed medium table ``reference`` (its metrics)."""
    clean, robust = view["clean"], view["robust"]
    u, bc, br = str(float(used)), view["best_clean"], view["best_robust"]
    n = len(view["seeds"])
    text = (f"The standard linear head's natural accuracy, the baseline's clean quality, is highest at τ = "
            f"{float(bc):g} ({clean[bc]:.1f} %); at the τ the rows above use, {float(used):g}, it is {clean[u]:.1f} %"
            + ("" if bc == u else f" ({clean[u] - clean[bc]:+.1f} points)") + ". The robust heads' AutoAttack accuracy "
            f"(mean of the MLP and the linear head) is highest at τ = {float(br):g} ({robust[br]:.1f} %)"
            + ("" if br == u else f"; at τ = {float(used):g} it is {robust[u]:.1f} %") + ". ")
    table = reference["table"]
    rows = [("hjelm/standard", "the DIM encoder"), ("ours/standard", "the paper's worst-case encoder"),
            ("supervised/standard", "Baseline-H trained end to end with labels")]
    known = [(table[r]["linear"]["natural"]["mean"], what, len(table[r]["linear"]["natural"]["values"]))
             for r, what in rows if r in table]
    if known:
        text += ("For scale, the same standard linear head on the same test images reaches "
                 + ", ".join(f"{acc:.1f} % on {what}" for acc, what, _ in known[:-1])
                 + f" and {known[-1][0]:.1f} % on {known[-1][1]} (Table 4's medium run, mean over "
                 f"{known[-1][2]} seeds). ")
    text += (f"With {n} seeds per temperature these are estimates, not verdicts (the book judges from "
             f"{MIN_REPLICATES} seed pairs on).")
    return text


def _judged(d: Mapping[str, Any] | None, unit: str) -> str:
    """"not distinguishable from ours (+0.027 [−0.015, +0.068] nats)" (the interval holds 0), "higher than ours (…)"
    or "lower than ours (…)"."""
    if d is None:
        return "not measured"
    word = {SUPPORTED: "higher than", CONTRADICTED: "lower than"}.get(d["verdict"], "not distinguishable from")
    low, high = d["interval"]
    return f"{word} ours ({d['mean']:+.3f} [{low:+.3f}, {high:+.3f}] {unit})"


def fresh_critic_summary(view: Mapping[str, Any], comparisons: Sequence[Mapping[str, Any]] | None) -> str:
    """The fresh-critic table in words (generated from its paired differences), set beside the downstream result:
    each objective's RV against ours, the adversarial contrastive encoder's normal and worst-case MI, and — when its
    heads are more accurate under AutoAttack with every head while its RV cannot be told from ours — that RV (and,
    when it is lower, worst-case MI) does not rank the encoders by their heads' robustness."""
    d = {(x["loss"], x["quantity"]): x for x in view["differences"]}
    text = (f"By fresh critics, the DIM encoder's RV is {_judged(d.get(('normal', 'rv')), 'nats')}; worst-case "
            f"InfoNCE's is {_judged(d.get(('worst-infonce', 'rv')), 'nats')}; the adversarial contrastive encoder's "
            f"is {_judged(d.get(('adv-contrastive', 'rv')), 'nats')}. The contrastive encoder's normal MI is "
            f"{_judged(d.get(('adv-contrastive', 'normal')), 'nats')} and its worst-case MI "
            f"{_judged(d.get(('adv-contrastive', 'worst')), 'nats')}.")
    aa = [c for c in comparisons or [] if c["rep"] == "contrastive" and c["column"] == "autoattack"]
    rv = d.get(("adv-contrastive", "rv"))
    if aa and all(c["verdict"] == SUPPORTED for c in aa) and rv is not None and rv["verdict"] == UNDECIDED:
        lo, hi = min(c["mean"] for c in aa), max(c["mean"] for c in aa)
        worst = d.get(("adv-contrastive", "worst"))
        less_mi = worst is not None and worst["verdict"] == CONTRADICTED
        text += (f" {'Neither quantity accounts' if less_mi else 'RV does not account'} for the gap above: the "
                 f"contrastive encoder's heads are {lo:+.1f} to {hi:+.1f} points more accurate under AutoAttack, "
                 "yet its RV cannot be told from ours"
                 + (" and its worst-case MI is lower" if less_mi else "") + ". On this protocol, fresh-critic RV"
                 + (" and worst-case MI do" if less_mi else " does") + " not rank these encoders by the robustness "
                 "of their heads.")
    return text
