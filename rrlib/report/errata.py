"""The book's errata on the printed paper, as data: each erratum is a template (where, what is printed, the finding,
the evidence) whose numbers are filled from the chapters' recorded metrics or from :data:`rrlib.paper.TABLES`
(:func:`paper_table_oddities`). :func:`errata` lists the ones whose evidence exists. MI in nats.

Not errata: the cells of Tables 3–5 with equal natural and adversarial accuracy and zero spread (e.g. Table 4's
10.00 ± 0.00) are correct reports of heads that collapsed to one class (chapter 08 notes them); an erratum is a
printed statement that is wrong."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rrlib.paper import TABLES
from rrlib.rendering.section5 import HEAD_NAMES
from rrlib.report.inputs import CHAPTERS, dataset_title, profile, table_number
from rrlib.report.types import Erratum

__all__ = ["ERRATA", "errata", "paper_table_oddities"]

#: Every erratum, by key; ``{name}`` fields are filled by :func:`errata` (str.format: ``{x:.4f}`` as in f-strings).
ERRATA: dict[str, Erratum] = {
    "theorem_3_2_limits": Erratum(
        "Theorem 3.2 (main text and supplement A.1)",
        "∫ from ½ − AG to ½ of H₂′ ≤ RV ≤ ∫ from ½ − AG/2 to ½ of H₂′",
        "the two integration limits are swapped; the corrected form holds",
        "worked example (d = 1, θ* = Σ* = w = 1, ℓ₂, ε = {example_eps:g}): AG = {example_ag:.4f}, "
        "RV = {example_rv:.4f} nats, printed \"lower\" {example_printed_lower:.4f} > printed "
        "\"upper\" {example_printed_upper:.4f}; corrected {example_lower:.4f} ≤ RV ≤ "
        "{example_upper:.4f}. The printed form fails on {printed_form_violations} of "
        "{printed_form_checked} random instances with AG > 1e-4 (worst miss {worst_violation:.3f} "
        "nats); the corrected form on {corrected_violations} (ch. 02, {profile} profile)"),
    "a1_half": Erratum(
        "supplement (A.1)", "RV = H₂(½) − H₂(½ − P)", "a factor ½ is missing: RV = H₂(½) − H₂(½ − P/2)",
        "the proof's two preceding displays give Pr[wᵀX′ ≥ 0] ∈ [½ − P/2, ½ + P/2]; "
        "tests/test_theory_gaussian_mixture.py::test_printed_equation_a1_is_refuted_by_monte_carlo{monte_carlo}"),
    "fano_sign": Erratum(
        "supplement Lemma A.1 (Fano)", "Pr(error) ≥ 1 − (I − log 2)/log|X|",
        "the sign of log 2 must be +, as (A.6), (A.8) and Theorem 3.4 print it",
        "with − the right-hand side is {fano_at_zero:.3f} > 1 for an independent estimate (I = 0, |X| = 10); the "
        "same text extraction gives + in (A.6), (A.8) and Theorem 3.4, so the − is the printed sign, not an "
        "extraction artefact (verification remark 4); tests/test_theory_risk_bounds.py checks the + form"),
    "table_duplicate": Erratum(
        "Table {number} ({title}), {a0} / {a1} and {b0} / {b1}, {head} head",
        "{nat_mean:.2f} ± {nat_std:.2f} / {adv_mean:.2f} ± {adv_std:.2f} in both rows",
        "probably a copy error: two different models with identical mean and std in both columns",
        "rrlib.paper.TABLES (verification remark 8); found by rrlib.report.paper_table_oddities"),
    "figure_2_fano": Erratum(
        "Figure 2's normal-MI estimates", "normal MI per model (digitised)",
        "too low for the models' own natural accuracies (Theorem 3.4 at ε = 0, i.e. Fano)",
        "{n_paper_fano_violations} of {n_paper_models} points have more natural accuracy than "
        "(I + log 2)/log 10 allows; so do {n_natural_bound_violations} of our "
        "{n_models} models (ch. 06, {profile} profile)"),
}
_MONTE_CARLO = ("; ch. 02's Monte Carlo ({mc_samples:,} samples) puts the estimate at least {z:.1f} standard errors "
                "from ½ − P")


def _fill(key: str, **values: Any) -> Erratum:
    t = ERRATA[key]
    return Erratum(*(text.format(**values) for text in (t.where, t.printed, t.finding, t.evidence)), key=key)


def paper_table_oddities() -> tuple[list[tuple[str, tuple[str, str], str]], list[tuple[str, str, tuple, tuple]]]:
    """From :data:`rrlib.paper.TABLES`: cells with equal natural and adversarial accuracy and zero std (``(dataset,
    row, head)``), and (row, head) cells whose natural and adversarial entries repeat another row's exactly
    (``(dataset, head, row_a, row_b)``), excluding the all-zero adversarial pattern alone."""
    constant, duplicates = [], []
    for dataset, table in TABLES.items():
        for head in ("mlp", "linear"):
            entries = {label: (cells[f"{head}_natural"], cells[f"{head}_adversarial"]) for label, cells in
                       table.items()}
            for label, (nat, adv) in entries.items():
                if nat == adv and nat[1] == 0.0 and nat[0] > 0:
                    constant.append((dataset, label, head))
            labels = list(entries)
            for i, a in enumerate(labels):
                for b in labels[i + 1:]:
                    if entries[a] == entries[b]:
                        duplicates.append((dataset, head, a, b))
    return constant, duplicates


def errata(inputs: Mapping[str, Any]) -> list[Erratum]:
    """The errata whose evidence is at hand (chapters 02 and 06 add theirs when they ran)."""
    out = []
    m2 = inputs.get(CHAPTERS["theorem_3_2"])
    if m2 is not None:
        out.append(_fill("theorem_3_2_limits", **{**m2, "profile": profile(m2)}))
        z = m2.get("mc_printed_min_abs_z")
        mc = "" if z is None else _MONTE_CARLO.format(mc_samples=m2.get("mc_samples", "?"), z=z)
        out.append(_fill("a1_half", monte_carlo=mc))
    out.append(_fill("fano_sign", fano_at_zero=1 + math.log(2) / math.log(10)))
    _, duplicates = paper_table_oddities()
    for dataset, head, a, b in duplicates:
        nat, adv = TABLES[dataset][a][f"{head}_natural"], TABLES[dataset][a][f"{head}_adversarial"]
        out.append(_fill("table_duplicate", number=table_number(dataset), title=dataset_title(dataset), a0=a[0],
                         a1=a[1], b0=b[0], b1=b[1], head=HEAD_NAMES[head], nat_mean=nat[0], nat_std=nat[1],
                         adv_mean=adv[0], adv_std=adv[1]))
    m6 = inputs.get(CHAPTERS["vulnerability"])
    if m6 is not None and "n_paper_fano_violations" in m6:
        out.append(_fill("figure_2_fano", n_paper_fano_violations=m6["n_paper_fano_violations"],
                         n_paper_models=m6["n_paper_models"],
                         n_natural_bound_violations=m6.get("n_natural_bound_violations", "?"),
                         n_models=m6.get("n_models", "?"), profile=profile(m6)))
    return out
