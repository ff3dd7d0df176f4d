"""The report's claim rows: the paper's qualitative statements (orderings, signs, inequalities), one verdict each.

Which run judges a claim:

* the theorems, by the exact computations of chapters 02–03, in whatever profile they ran (they are exact);
* every empirical claim only by a medium-scale (or full) run — never by a quick run, whose numbers test the code:
  §6.1 by chapter 06's own rules (:func:`rrlib.verdicts.section_6_1`) on a full run of chapter 06 or else its
  committed medium run (:func:`rrlib.report.inputs.vulnerability_metrics`), else "not judged: no medium run yet";
  §5 by the fresh-critic RV of the committed medium run's eight encoders
  (:mod:`rrlib.report.encoder_rv`), else "not yet measured"; §6.2 by the committed medium run of Table 4 (or a
  full run); the saliency claim by its unit of replication, the trained model.

How a difference is judged (:mod:`rrlib.stats`): the per-seed differences, paired where the design pairs (ours and
DIM at one seed share the encoder's training images, batch order and initial weights, and the heads on them their
labelled images, initial weights and batch order; every model is scored on the same test and AutoAttack images),
their Student-t interval at :data:`rrlib.stats.CLAIM_LEVEL` (:func:`rrlib.stats.difference_verdict`), "too few to
judge" below :data:`rrlib.stats.MIN_REPLICATES` seeds, and "cannot judge" when an estimate is impossible. RV and MI
in nats, accuracies in percentage points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rrlib.paper import TABLES
from rrlib.rendering.section5 import HEAD_NAMES
from rrlib.rendering.vulnerability import CLAIM_TEXT, claim_evidence
from rrlib.report.inputs import (
    CHAPTERS,
    FRESH_CRITIC,
    TableRun,
    chapter_command,
    judged_table_runs,
    profile,
    source,
    table_number,
    vulnerability_metrics,
)
from rrlib.report.rules import NOT_RUN, ROW_KEY, combine_verdicts
from rrlib.report.types import Row, Section
from rrlib.stats import (
    CANNOT_JUDGE,
    CLAIM_LEVEL,
    COMPARABLE_POINTS,
    TOO_FEW,
    Difference,
    comparable_verdict,
    paired_verdict,
)
from rrlib.verdicts import Evidence, section_6_1

__all__ = ["CLAIM_TEXT", "JUDGED_PROFILES", "NOT_JUDGED", "NOT_MEASURED", "claims"]

#: Profiles whose runs may judge an empirical claim.
JUDGED_PROFILES = ("medium", "full")
#: Verdict of an empirical claim whose chapter has only a quick run.
NOT_JUDGED = "not judged: no medium run yet"
#: Verdict of §5's claim while the fresh-critic measurement of the medium encoders is missing.
NOT_MEASURED = "not yet measured"
_PAPER_TEXT = "§6.2 text"


def claims(inputs: Mapping[str, Any]) -> Section:
    """Every claim row, in the order theory, §6.1, §5 encoders, §6.2 tables, saliency."""
    rows = _theory_claims(inputs) + _section_6_1_claims(vulnerability_metrics(inputs))
    rows.append(_encoder_claim(inputs.get(FRESH_CRITIC)))
    rows += _table_claims(inputs)
    rows.append(_saliency_claim(inputs.get(CHAPTERS["saliency"])))
    return Section("claims", "The paper's qualitative claims, one verdict each, judged on medium-scale runs (the "
                   "theorems by exact computation).", rows)


def _missing_claim(text: str, chapter: str) -> Row:
    command = chapter_command(chapter, "quick")
    return Row(text, "statement", "—", "chapter not run", NOT_RUN, f"`{command}`", kind="claim")


def _interval(d: Difference, digits: int = 1) -> str:
    """``+1.2 [−0.3, 2.7]``: a paired difference and its t interval at :data:`CLAIM_LEVEL`."""
    low, high = d.interval(CLAIM_LEVEL)
    return f"{d.mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def _theory_claims(inputs: Mapping[str, Any]) -> list[Row]:
    rows: list[Row] = []
    m2, m3 = inputs.get(CHAPTERS["theorem_3_2"]), inputs.get(CHAPTERS["theorem_3_4"])
    if m2 is None:
        rows.append(_missing_claim("Thm 3.2 (corrected form) holds", CHAPTERS["theorem_3_2"]))
    else:
        n = m2["n_instances"]
        rows.append(Row("Thm 3.2 (corrected form): lower ≤ RV ≤ upper on random Gaussian mixtures", "statement",
                        f"{m2['corrected_violations']} violations in {n}", source(CHAPTERS["theorem_3_2"], m2),
                        "supported" if m2["corrected_violations"] == 0 else "contradicted", "exact (closed form)",
                        kind="claim"))
    if m3 is None:
        rows.append(_missing_claim("Thm 3.4 holds", CHAPTERS["theorem_3_4"]))
    else:
        rows.append(Row("Thm 3.4: adversarial risk ≥ the bound, brute force on small problems", "statement",
                        f"{m3['n_violations']} violations in {m3['n_problems']}", source(CHAPTERS["theorem_3_4"], m3),
                        "supported" if m3["n_violations"] == 0 else "contradicted", "exact (enumeration)",
                        kind="claim"))
        rows.append(Row("Fig. 2's own points lie under their Thm 3.4 ceilings", "paper's numbers",
                        f"{m3['paper_points_violations']} violations", source(CHAPTERS["theorem_3_4"], m3),
                        "supported" if m3["paper_points_violations"] == 0 else "contradicted",
                        "from the digitised Fig. 2", kind="claim"))
    return rows


def _section_6_1_claims(m6: Mapping[str, Any] | None) -> list[Row]:
    if m6 is None or profile(m6) not in JUDGED_PROFILES:
        ran = "chapter not run" if m6 is None else f"ch. 06 ran the {profile(m6)} profile only"
        return [Row(text, "figure / text", "—", ran, NOT_JUDGED, "", kind="claim", values={"key": key})
                for key, text in CLAIM_TEXT.items()]
    rows = []
    scale = f"{m6.get('dataset_title', '?')}, {m6.get('n_models', '?')} models"
    for c in section_6_1(Evidence.from_metrics(m6)):
        rows.append(Row(CLAIM_TEXT[c.key], "figure / text", claim_evidence(c),
                        source(CHAPTERS["vulnerability"], m6), c.verdict, scale, kind="claim",
                        values={"key": c.key}))
    return rows


def _encoder_claim(fresh: Mapping[str, Any] | None) -> Row:
    """§5: DIM's fresh-critic RV minus ours, paired by seed, over the committed medium run's encoders."""
    from rrlib.report.encoder_rv import paired_values

    text = "§5: the worst-case MI encoder's RV is smaller than the DIM encoder's (fresh critics)"
    if fresh is None:
        return Row(text, "no number", "—", "committed medium run's 8 encoders", NOT_MEASURED,
                   "`python -m rrlib.report.encoder_rv` writes results/encoders_medium_fresh_critic.json",
                   kind="claim")
    seeds, rv, impossible = paired_values(fresh, "rv")
    where = f"committed medium run, fresh critics, seeds {', '.join(map(str, seeds))}"
    if impossible:
        return Row(text, "no number", f"{len(impossible)} of {2 * len(seeds)} encoders impossible", where,
                   f"{CANNOT_JUDGE}: impossible estimate ({', '.join(impossible)})",
                   "negative worst-case MI or RV above normal MI is no measurement", kind="claim")
    verdict, d = paired_verdict(rv["normal"], rv["worst"])
    mean_n, mean_w = (sum(v) / len(v) for v in (rv["normal"], rv["worst"]))
    return Row(text, "no number", f"RV DIM {mean_n:.3f}, ours {mean_w:.3f}; DIM − ours {_interval(d, 3)}", where,
               verdict, f"paired by seed, {d.n} seeds", kind="claim",
               values={"rv_normal": rv["normal"], "rv_worst": rv["worst"]})


def _values(run: TableRun, row: str, head: str, column: str) -> list[float] | None:
    cell = run.table.get(row, {}).get(head)
    if cell is None or cell.get(column) is None:
        return None
    return list(cell[column]["values"])


def _paper_diff(dataset: str, a: str, b: str, head: str, column: str) -> float:
    label = {key: label for label, key in ROW_KEY.items()}
    return TABLES[dataset][label[a]][f"{head}_{column}"][0] - TABLES[dataset][label[b]][f"{head}_{column}"][0]


def _paired_claim(run: TableRun, text: str, a: str, b: str, columns: Sequence[str], *, sign: float = 1.0,
                  paper_column: str | None = None, comparable: bool = False) -> Row:
    """One §6.2 claim on a table run: per head and column, the paired per-seed difference ``a − b`` (times ``sign``
    so that the claim reads "> 0"), or with ``comparable`` the interval inside ±COMPARABLE_POINTS; combined over
    heads and columns by :func:`combine_verdicts`."""
    verdicts, parts, paper = [], [], []
    names = {"natural": "natural", "adversarial": "PGD", "autoattack": "AutoAttack"}
    for head in ("mlp", "linear"):
        for column in columns:
            va, vb = _values(run, a, head, column), _values(run, b, head, column)
            if va is None or vb is None:
                continue
            if comparable:
                verdict, d = comparable_verdict(va, vb)
            else:
                verdict, d = paired_verdict([sign * x for x in va], [sign * x for x in vb])
                d = Difference(sign * d.mean, d.se, d.df, d.n)
            verdicts.append(verdict)
            parts.append(f"{HEAD_NAMES[head]} {names[column]} {_interval(d)}")
        pc = paper_column or columns[0]
        paper.append(f"{HEAD_NAMES[head]} {_paper_diff(run.dataset, a, b, head, pc):+.2f}")
    n = len(run.metrics.get("seeds", []))
    rule = (f"paired, {n} seeds; interval inside ±{COMPARABLE_POINTS:g} points" if comparable
            else f"paired, {n} seeds; every interval {'above' if sign > 0 else 'below'} 0")
    verdict = combine_verdicts(verdicts) if verdicts else NOT_RUN
    return Row(text, f"Table {table_number(run.dataset)}: " + ", ".join(paper), "; ".join(parts), run.source(),
               verdict, rule, kind="claim")


def _table_claims(inputs: Mapping[str, Any]) -> list[Row]:
    texts = {
        "standard": "§6.2: with a standard h, ours is more robust than DIM (PGD and AutoAttack)",
        "robust": "§6.2: with a robust h, ours is more robust than DIM (PGD and AutoAttack)",
        "comparable_pgd": "§6.2: ours with a robust h is comparable to the fully supervised robust model, "
                          "under the paper's PGD",
        "comparable_aa": "§6.2: ours with a robust h is comparable to the fully supervised robust model, "
                         "under AutoAttack",
        "ablation": "§6.2 ablation: a robust h on DIM's g drops natural accuracy against a standard h (judged in "
                    "direction; the paper: \"severely\")",
        "natural": "§6.2: ours has higher natural accuracy than DIM with a standard h (Table 4's numbers)",
    }
    runs = judged_table_runs(inputs)
    if not runs:
        where = "no medium or full run of a downstream table"
        return [Row(t, "Table 4", "—", where, NOT_JUDGED, "", kind="claim") for t in texts.values()]
    rows = []
    for run in runs:
        rows += [
            _paired_claim(run, texts["standard"], "ours/standard", "hjelm/standard", ("adversarial", "autoattack")),
            _paired_claim(run, texts["robust"], "ours/robust", "hjelm/robust", ("adversarial", "autoattack")),
            _paired_claim(run, texts["comparable_pgd"], "ours/robust", "supervised/robust", ("adversarial",),
                          comparable=True),
            _paired_claim(run, texts["comparable_aa"], "ours/robust", "supervised/robust", ("autoattack",),
                          paper_column="adversarial", comparable=True),
            _paired_claim(run, texts["ablation"], "hjelm/robust", "hjelm/standard", ("natural",), sign=-1.0),
            _paired_claim(run, texts["natural"], "ours/standard", "hjelm/standard", ("natural",)),
        ]
    return rows


def _saliency_claim(m: Mapping[str, Any] | None) -> Row:
    text = "Figs 4 and 6: saliency of ours is better aligned with the image than DIM's"
    if m is None:
        return _missing_claim(text, CHAPTERS["saliency"])
    a = m["alignment"]
    ours, dim = a["ours_mi"], a["dim_mi"]
    return Row(text, "images only", f"alignment: ours {ours['mean']:.3f}, DIM {dim['mean']:.3f}",
               "ch. 09, medium run's seed-0 models", TOO_FEW,
               f"one trained model per kind; its {ours['n']} images are not replicates of training", kind="claim")
