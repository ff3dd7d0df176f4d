"""The report's claim rows: the paper's qualitative statements (orderings, signs, inequalities), each judged on
our runs at the scale the row names — the theorems by exact checks (chapters 02–03), §6.1 by chapter 06's own rules
(:func:`rrlib.verdicts.section_6_1` on :meth:`rrlib.verdicts.Evidence.from_metrics`), §5–6.2 by
:func:`rrlib.report.rules.claim_verdict` (differences over ``CLAIM_Z`` standard errors; RV and MI in nats,
accuracies in points)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rrlib.rendering.section5 import HEAD_NAMES
from rrlib.report.inputs import (
    CHAPTERS,
    chapter_command,
    profile,
    recorded_table_runs,
    source,
    table_number,
)
from rrlib.report.rules import (
    NOT_RUN,
    TABLE_POINTS,
    cell_se,
    cell_summary,
    claim_verdict,
    row_order_agreement,
)
from rrlib.report.types import Row, Section
from rrlib.stats import CLAIM_Z, combined_se, unpaired_difference
from rrlib.verdicts import Evidence, section_6_1

__all__ = ["CLAIM_TEXT", "claims"]

#: The report's wording of each §6.1 claim of :mod:`rrlib.verdicts`, by key.
CLAIM_TEXT = {
    "rv_tracks_gap": "Fig. 1: lower RV goes with a smaller natural − adversarial gap",
    "standard_worst_zero": "Fig. 2: standard models have worst-case MI ≈ 0 and adversarial accuracy ≈ 0",
    "robust_keeps_worst": "Fig. 2: robust models keep much more worst-case MI",
    "robust_more_normal": "§6.1: robust logit layers carry more normal MI than standard ones",
    "ceiling_holds": "Thm 3.4: the ceiling from the estimated worst-case MI is above the adversarial accuracy",
    "training_works": "Adversarial training makes the model robust",
    "neurons_less_vulnerable": "Fig. 3: second-layer neurons of the robust model are less vulnerable",
}


def claims(inputs: Mapping[str, Any]) -> Section:
    """Every claim row, in the order theory, §6.1, §5 encoders, §6.2 tables, saliency."""
    rows = _theory_claims(inputs) + _section_6_1_claims(inputs.get(CHAPTERS["vulnerability"]))
    rows += _encoder_claims(inputs.get(CHAPTERS["encoders"]))
    rows += _table_claims(inputs)
    rows += _saliency_claims(inputs.get(CHAPTERS["saliency"]))
    return Section("claims", "The paper's qualitative claims, judged on our runs at the scale named in each row.",
                   rows)


def _missing_claim(text: str, chapter: str) -> Row:
    command = chapter_command(chapter, "quick")
    return Row(text, "statement", "—", "chapter not run", NOT_RUN, f"`{command}`", kind="claim")


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    return f"{value:.3g}"


def _theory_claims(inputs: Mapping[str, Any]) -> list[Row]:
    rows: list[Row] = []
    m2, m3 = inputs.get(CHAPTERS["theorem_3_2"]), inputs.get(CHAPTERS["theorem_3_4"])
    if m2 is None:
        rows.append(_missing_claim("Thm 3.2 (corrected form) holds", CHAPTERS["theorem_3_2"]))
    else:
        n = m2["n_instances"]
        rows.append(Row("Thm 3.2 (corrected form): lower ≤ RV ≤ upper on random Gaussian mixtures", "statement",
                        f"{m2['corrected_violations']} violations in {n}", source(CHAPTERS["theorem_3_2"], m2),
                        "supported" if m2["corrected_violations"] == 0 else "not supported", "exact (closed form)",
                        kind="claim"))
    if m3 is None:
        rows.append(_missing_claim("Thm 3.4 holds", CHAPTERS["theorem_3_4"]))
    else:
        rows.append(Row("Thm 3.4: adversarial risk ≥ the bound, brute force on small problems", "statement",
                        f"{m3['n_violations']} violations in {m3['n_problems']}", source(CHAPTERS["theorem_3_4"], m3),
                        "supported" if m3["n_violations"] == 0 else "not supported", "exact (enumeration)",
                        kind="claim"))
        rows.append(Row("Fig. 2's own points lie under their Thm 3.4 ceilings", "paper's numbers",
                        f"{m3['paper_points_violations']} violations", source(CHAPTERS["theorem_3_4"], m3),
                        "supported" if m3["paper_points_violations"] == 0 else "not supported",
                        "from the digitised Fig. 2", kind="claim"))
    return rows


def _section_6_1_claims(m6: Mapping[str, Any] | None) -> list[Row]:
    if m6 is None:
        return [_missing_claim(text, CHAPTERS["vulnerability"]) for text in CLAIM_TEXT.values()]
    rows = []
    scale = f"{profile(m6)} profile, {m6.get('dataset_title', '?')}, {m6.get('n_models', '?')} models"
    for c in section_6_1(Evidence.from_metrics(m6)):
        evidence = ", ".join(f"{k} {_fmt(v)}" for k, v in c.evidence.items() if not isinstance(v, list))
        rows.append(Row(CLAIM_TEXT.get(c.key, c.key), "figure / text", evidence,
                        source(CHAPTERS["vulnerability"], m6), c.verdict, f"judged at {scale}", kind="claim",
                        values={"key": c.key}))
    return rows


def _rv_claim(text: str, normal: Mapping[str, Any], worst: Mapping[str, Any], where: str) -> Row:
    """DIM's RV minus ours (recorded ``{"mean", "std", "values"}`` cells, nats) against ``CLAIM_Z`` SE."""
    se = unpaired_difference(cell_summary(normal), cell_summary(worst)).se
    diff = normal["mean"] - worst["mean"]
    return Row(text, "no number", f"RV: DIM {normal['mean']:.3f}, ours {worst['mean']:.3f} nats", where,
               claim_verdict(diff, se), f"difference {diff:+.3f} vs {CLAIM_Z:g} SE = {CLAIM_Z * se:.3f}",
               kind="claim")


def _encoder_claims(m: Mapping[str, Any] | None) -> list[Row]:
    text = "§5: the worst-case MI encoder has a smaller RV than the DIM encoder"
    if m is None:
        return [_missing_claim(text, CHAPTERS["encoders"])]
    enc = m["encoders"]
    # valid (clipped) RV where the chapter has it: an impossible estimate is not a measurement (rrlib.mi.plausibility)
    key = "rv_valid" if "rv_valid" in enc["normal"] else "rv"
    rows = [_rv_claim(text, enc["normal"][key], enc["worst"][key], source(CHAPTERS["encoders"], m))]
    medium = m.get("medium")
    if isinstance(medium, Mapping) and "encoders" in medium:
        key = "heldout_rv_valid" if "heldout_rv_valid" in medium["encoders"]["normal"] else "heldout_rv"
        rows.append(_rv_claim(text + " (held-out)", medium["encoders"]["normal"][key],
                              medium["encoders"]["worst"][key], "ch. 07, committed medium-scale run"))
    return rows


def _table_claims(inputs: Mapping[str, Any]) -> list[Row]:
    texts = ("§6.2: with a standard head, ours is more robust than DIM", "§6.2: with a robust head, ours is more "
             "robust than DIM", "§6.2: the rows are ordered by adversarial accuracy as in the paper")
    if inputs.get(CHAPTERS["downstream"]) is None:
        return [_missing_claim(t, CHAPTERS["downstream"]) for t in texts]
    rows = []
    for run in recorded_table_runs(inputs):
        where, table = run.source(), run.table
        paper = "Table " + table_number(run.dataset)
        for text, h in zip(texts[:2], ("standard", "robust"), strict=True):
            diffs, ses, parts = [], [], []
            for head in ("mlp", "linear"):
                try:
                    a, b = table[f"ours/{h}"][head]["adversarial"], table[f"hjelm/{h}"][head]["adversarial"]
                except (KeyError, TypeError):
                    continue
                diffs.append(a["mean"] - b["mean"])
                ses.append(combined_se(cell_se(a), cell_se(b)))
                parts.append(f"{HEAD_NAMES[head]} {a['mean'] - b['mean']:+.1f} ± {ses[-1]:.1f}")
            verdict = ("supported" if diffs and all(claim_verdict(d, s) == "supported" for d, s in
                                                     zip(diffs, ses, strict=True)) else "not supported")
            rows.append(Row(text, paper, "; ".join(parts) + " points", where, verdict,
                            f"every head > {CLAIM_Z:g} SE", kind="claim"))
        agree, total = row_order_agreement(run.metrics)
        rows.append(Row(texts[2], paper, f"{agree} of {total} pairs agree", where,
                        "supported" if total and agree == total else "not supported",
                        f"pairs the paper separates by > {TABLE_POINTS:g} point", kind="claim"))
    return rows


def _saliency_claims(m: Mapping[str, Any] | None) -> list[Row]:
    text = "Figs 4 and 6: saliency of ours is better aligned with the image than DIM's"
    if m is None:
        return [_missing_claim(text, CHAPTERS["saliency"])]
    a = m["alignment"]
    ours, dim = a["ours_mi"], a["dim_mi"]
    se = combined_se(ours["se"], dim["se"])
    return [Row(text, "images only", f"alignment: ours {ours['mean']:.3f}, DIM {dim['mean']:.3f}",
                source(CHAPTERS["saliency"], m), claim_verdict(ours["mean"] - dim["mean"], se),
                f"difference {ours['mean'] - dim['mean']:+.3f} vs {CLAIM_Z:g} SE = {CLAIM_Z * se:.3f}", kind="claim")]
