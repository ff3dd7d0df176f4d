"""The reproduction report as markdown: each section as a captioned table, the inputs it read, the verdict counts,
the errata, and the verdict rules written out from the constants :mod:`rrlib.report.rules` applies."""

from __future__ import annotations

from rrlib.rendering.tables import captioned_table
from rrlib.report.inputs import FIGURE_DATASET
from rrlib.report.rules import (
    DIFFERS,
    FIGURE_3_BIN,
    FIGURE_3_NATS,
    FIGURE_NATS,
    FIGURE_POINTS,
    NOT_RUN,
    PAPER_TRIALS,
    REDUCED,
    REPRODUCED,
    TABLE_POINTS,
    VALUE_VERDICTS,
    printed_tolerance,
)
from rrlib.report.types import Report, Section
from rrlib.stats import ACCURACY_CLAIM_Z, CLAIM_Z, MI_CLAIM_Z, TOLERANCE_Z

__all__ = ["counts_markdown", "errata_markdown", "inputs_markdown", "rules_markdown", "section_markdown"]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def section_markdown(section: Section) -> str:
    """A captioned table (item, paper, ours, run, verdict, detail) and the section's note."""
    header = ["item", "paper", "ours", "run", "verdict", "detail"]
    rows = [[_cell(r.item), _cell(r.paper), _cell(r.ours), _cell(r.source), f"**{r.verdict}**", _cell(r.detail)]
            for r in section.rows]
    out = captioned_table(section.title, f"tab-report-{section.key.replace('_', '-')}", header, rows)
    return out + (f"\n\n{section.note}" if section.note else "")


def inputs_markdown(report: Report) -> str:
    """The chapters' metrics the report read: ran or not, profile, seed, when."""
    rows = [[i["chapter"], "yes" if i["ran"] else "**no**", str(i["profile"] or "—"), str(i["seed"] if i["seed"]
             is not None else "—"), str(i["finished_at"] or "—")] for i in report.inputs]
    return captioned_table("The chapters' metrics this report read.", "tab-report-inputs",
                           ["chapter", "metrics found", "profile", "seed", "finished"], rows)


def errata_markdown(report: Report) -> str:
    """The errata as a table: where, as printed, finding, evidence."""
    rows = [[_cell(e.where), _cell(e.printed), _cell(e.finding), _cell(e.evidence)] for e in report.errata]
    return captioned_table("Errata found by the book, with their evidence.", "tab-report-errata",
                           ["where", "as printed", "finding", "evidence"], rows)


def counts_markdown(report: Report) -> str:
    """Rows per verdict (:meth:`Report.counts`)."""
    c = report.counts()
    rows = [[f"value: {v}", str(c[v.replace(' ', '_')])] for v in VALUE_VERDICTS]
    rows += [[f"claim: {k.replace('_', ' ')}", str(c[f"claims_{k}"])] for k in ("supported", "not_supported",
                                                                                   "not_run_here")]
    rows.append(["errata", str(c["errata"])])
    return captioned_table("Rows of this report per verdict.", "tab-report-counts", ["verdict", "rows"], rows)


def rules_markdown() -> str:
    """The verdict rules as a bullet list, written from the constants the code uses."""
    return "\n".join([
        f"* **{REPRODUCED}**: measured at the paper's scale and on its data set (or computed exactly) and within "
        "the row's tolerance;",
        f"* **{DIFFERS}**: measured at the paper's scale and on its data set but outside the tolerance; the detail "
        "gives the difference;",
        f"* **{REDUCED}**: measured on the paper's data set at a smaller scale (fewer images, epochs or seeds); the "
        "detail gives the difference, and such a value is neither called reproduced nor different;",
        f"* **{NOT_RUN}**: not measured at the paper's scale on the paper's data set; the detail or the note under "
        "the table gives the command that would measure it.",
        "",
        "Tolerances:",
        "",
        "* theory (closed form): half a unit of the paper's last printed digit (e.g. "
        f"{printed_tolerance('30.1'):g} for 30.1);",
        f"* Figures 1–2 (digitised): {FIGURE_NATS:g} nats or {FIGURE_POINTS:g} percentage point (the digitisation "
        f"error) plus {TOLERANCE_Z:g} standard errors of our number as its chapter records them; Figure 3: "
        f"{FIGURE_3_NATS:g} nats on range ends and modes, our mode being the centre of the fullest "
        f"{FIGURE_3_BIN:g}-nat bin; Figures 1–3 are {FIGURE_DATASET} at the paper's scale, so only chapter 06's full "
        "profile is compared by value;",
        f"* Tables 1, 3, 4, 5: each of the natural and adversarial columns within {TOLERANCE_Z:g} standard errors of "
        f"the difference (ours: std/√seeds; the paper's: std/√{PAPER_TRIALS}) and at least {TABLE_POINTS:g} point; "
        "only the full profile (the paper's protocol) is compared by value.",
        "",
        "Claims: supported when the effect exceeds its threshold (for differences: "
        f"{CLAIM_Z:g} standard errors); §6.1's claims by chapter 06's own rules (`rrlib.verdicts`: differences of MI "
        f"over {MI_CLAIM_Z:g} and of adversarial accuracy over {ACCURACY_CLAIM_Z:g} standard errors); the row "
        f"ordering of a table by the pairs of rows the paper separates by more than {TABLE_POINTS:g} point, all of "
        "which must be ordered alike.",
    ])
