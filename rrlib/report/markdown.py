"""The reproduction report as markdown: each section as a captioned table, the inputs it read, the verdict counts,
the errata, and the verdict rules written out from the constants :mod:`rrlib.report.rules` applies; and the updates
page's tables (:mod:`rrlib.report.updates`: the errata with their dates, the changes to our committed results)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from rrlib.rendering.tables import breakable, captioned_table, nowrap
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
from rrlib.report.types import CLAIM_GROUPS, Report, Section, claim_group
from rrlib.report.updates import FULL, FileChange, Updates, headline, history_note
from rrlib.stats import (
    ACCURACY_CLAIM_Z,
    CANNOT_JUDGE,
    CLAIM_LEVEL,
    COMPARABLE_POINTS,
    CONTRADICTED,
    KEPT_WORST_MI_NATS,
    MI_CLAIM_Z,
    MIN_REPLICATES,
    SUPPORTED,
    TOLERANCE_Z,
    TOO_FEW,
    UNDECIDED,
    ZERO_ADVERSARIAL_ACCURACY,
    ZERO_WORST_MI_NATS,
    t_quantile,
)

__all__ = ["answer_markdown", "claims_markdown", "counts_markdown", "dated_errata_markdown", "errata_markdown",
           "inputs_markdown", "result_files_markdown", "result_updates_markdown", "rules_markdown", "section_markdown"]


def _cell(text: str) -> str:
    """A table cell: pipes escaped, long paths and names breakable (a column need not be as wide as a path)."""
    return breakable(str(text).replace("|", "\\|"))


def section_markdown(section: Section) -> str:
    """A captioned table (item, paper, ours, run, verdict, detail) and the section's note; the claims in three
    columns (:func:`claims_markdown`), narrow enough for the text column.

    Rows not run here carry no number of ours, so they are not repeated row by row: a table of only such rows shows
    each item with the paper's number, and one line under it gives the verdict, the run that was made instead and
    what would measure them (:func:`_not_run_lines`); in a mixed table they keep their row, with the shared detail
    said once under it."""
    if section.key in ("claims", "beyond"):
        return claims_markdown(section)
    name = f"tab-report-{section.key.replace('_', '-')}"
    not_run = [r for r in section.rows if r.verdict == NOT_RUN]
    parts = []
    if not_run and len(not_run) == len(section.rows):
        rows = [[_cell(r.item), _cell(r.paper)] for r in section.rows]
        parts.append(captioned_table(f"{section.title} Not run here.", name, ["item", "paper"], rows))
    else:
        header = ["item", "paper", "ours", "run", "verdict", "detail"]
        rows = [[_cell(r.item), _cell(r.paper), _cell(r.ours), _cell("—" if r.verdict == NOT_RUN else r.source),
                 f"**{r.verdict}**", _cell("see below" if r.verdict == NOT_RUN else r.detail)]
                for r in section.rows]
        parts.append(captioned_table(section.title, name, header, rows))
    parts += _not_run_lines(not_run, len(section.rows))
    if section.note:
        parts.append(section.note)
    return "\n\n".join(parts)


def _not_run_lines(rows: list, total: int) -> list[str]:
    """One line per distinct (run, detail) of the rows not run here: how many, the run made instead, the detail."""
    groups = Counter((r.source, r.detail) for r in rows)
    lines = []
    for (source, detail), n in groups.items():
        which = f"all {n} rows" if n == total else f"{n} of {total} rows"
        lines.append(f"**{NOT_RUN}** ({which}): {breakable(detail)} (our run: {breakable(source)}).")
    return lines


def answer_markdown(report: Report) -> str:
    """The report's answer first, as a bullet list: the values per verdict, each with the sections they are in
    (reproduced and differing values named one by one), then the claims per group, contradicted and undecided ones
    named."""
    lines = []
    for verdict in VALUE_VERDICTS:
        where: dict[str, list[str]] = {}
        for section in report.sections:
            for r in section.rows:
                if r.kind == "value" and r.verdict == verdict:
                    where.setdefault(_short_title(section.title), []).append(r.item)
        n = sum(len(v) for v in where.values())
        if verdict in (REPRODUCED, DIFFERS):
            named = "; ".join(f"{t}: {', '.join(items)}" for t, items in where.items())
        else:
            named = "; ".join(f"{t}: {len(items)}" for t, items in where.items())
        why = _WHY.get(verdict, "") if n else ""
        lines.append(f"* **{verdict}**: {n} value{'' if n == 1 else 's'}" + (f" — {named}" if named else "") + why)
    claims = report.rows("claim")
    for group in CLAIM_GROUPS:
        rows = [r for r in claims if claim_group(r.verdict) == group]
        text = f"* claims **{group.replace('_', ' ')}**: {len(rows)}"
        if group == "not_judged" and rows:
            reasons = Counter(r.verdict for r in rows)
            text += " — " + "; ".join(f"{reason} ({n})" for reason, n in reasons.items())
        elif rows:
            text += " — " + "; ".join(r.item for r in rows)
        lines.append(text)
    return "\n".join(lines)


#: Why the values of a verdict are what they are, said once in :func:`answer_markdown`.
_WHY = {
    REDUCED: " (measured on the paper's data set at a smaller scale; never called reproduced, however close)",
    NOT_RUN: " (at the paper's scale and on its data sets these need the chapters' full profile, on a GPU; the "
             "command is under each table)",
}


def _short_title(title: str) -> str:
    """A section's caption up to its first colon or full stop (``"Table 4 (Fashion-MNIST)"``)."""
    for stop in (":", ". "):
        if stop in title:
            title = title.split(stop, 1)[0]
    return title.rstrip(".")


def claims_markdown(section: Section) -> str:
    """The claim rows in three columns: the claim with the paper's number, the evidence (ours, the run, the rule)
    and the verdict; a row without evidence (not judged, not run) says only where it stands."""
    rows = []
    for r in section.rows:
        claim = r.item if r.paper in ("statement", "no number", "figure / text", "images only", "paper's numbers",
                                      "not in the paper") \
            else f"{r.item} (paper: {r.paper})"
        parts = [p for p in (r.ours if r.ours != "—" else "", r.source, r.detail) if p]
        rows.append([_cell(claim), _cell("; ".join(parts)), f"**{r.verdict}**"])
    out = captioned_table(section.title, f"tab-report-{section.key}", ["claim", "evidence", "verdict"], rows)
    return out + (f"\n\n{section.note}" if section.note else "")


def inputs_markdown(report: Report) -> str:
    """The chapters' metrics the report read (ran or not, profile, seed, when), in a collapsed provenance box."""
    rows = [[i["chapter"], "yes" if i["ran"] else "**no**", str(i["profile"] or "—"), str(i["seed"] if i["seed"]
             is not None else "—"), _utc_minute(i["finished_at"])] for i in report.inputs]
    table = captioned_table("The chapters' metrics this report read.", "tab-report-inputs",
                            ["chapter", "metrics found", "profile", "seed", "finished (UTC)"], rows)
    return f"::::{{admonition}} Provenance: the chapters' metrics this report read\n:class: dropdown\n\n{table}\n::::"


def _utc_minute(stamp: str | None) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM`` in UTC (``—`` when missing; the text itself when it is no ISO time)."""
    if not stamp:
        return "—"
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M")


def errata_markdown(report: Report) -> str:
    """The errata as a two-column table, narrow enough for the text column: where and what is printed; the finding
    and its evidence."""
    rows = [[_cell(f"{e.where}: {e.printed}"), _cell(f"{e.finding}. Evidence: {e.evidence}")] for e in report.errata]
    return captioned_table("Errata found by the book, with their evidence.", "tab-report-errata",
                           ["where, as printed", "finding and evidence"], rows)


def counts_markdown(report: Report) -> str:
    """Rows per verdict (:meth:`Report.counts`)."""
    c = report.counts()
    rows = [[f"value: {v}", str(c[v.replace(' ', '_')])] for v in VALUE_VERDICTS]
    rows += [[f"claim: {k.replace('_', ' ')}", str(c[f"claims_{k}"])] for k in CLAIM_GROUPS]
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
    ])


def claim_rules_markdown() -> str:
    """How a claim is judged, as a bullet list written from the constants of :mod:`rrlib.stats` the code uses."""
    t3 = t_quantile(CLAIM_LEVEL, 3)
    return "\n".join([
        "* **which run**: an empirical claim is judged only on a medium-scale run committed with its provenance "
        "(or a run at the paper's scale), never on a quick run; the theorems are judged by exact computation "
        "wherever it ran. One verdict per claim.",
        "* **paired where the design pairs**: ours and DIM at one seed share the encoder's training images, batch "
        "order and initial weights, and the heads on them share their labelled images, initial weights and batch "
        "order; E.S. and the final head come from one training run; every model is scored on the same test and "
        "AutoAttack images. A claim is judged on the per-seed differences and their sample sd.",
        f"* **interval**: the Student-t {CLAIM_LEVEL:.0%} interval of the mean difference, with n − 1 degrees of "
        f"freedom (t = {t3:.2f} for 4 seeds, not the normal 1.96). **{SUPPORTED}**: the interval lies wholly on "
        f"the claimed side of 0; **{CONTRADICTED}**: wholly on the other side; **{UNDECIDED}**: it contains 0 (a "
        "tie is never an ordering). A claim made for several heads or attacks is supported (contradicted) when "
        "every comparison is.",
        f"* **comparable**: two accuracies are comparable when the whole interval of their paired difference lies "
        f"within ±{COMPARABLE_POINTS:g} points; contradicted when it lies wholly outside.",
        f"* **{TOO_FEW}**: fewer than {MIN_REPLICATES} trained models (seeds) per side. Images, test batches and "
        "critic seeds of one trained model are not replicates of training.",
        f"* **{CANNOT_JUDGE}**: a claim that would rest on an impossible estimate (negative worst-case MI, RV above "
        "the normal MI); clipping it to a possible value makes no measurement of it.",
        f"* **§6.1** (chapter 06's committed medium run, or a full run): its own rules (`rrlib.verdicts`). Figure 1 "
        "by the trained model as the unit: Spearman's ρ of RV with the accuracy gap over the models whose estimates "
        f"are possible, positive at one-sided exact permutation p < {1 - CLAIM_LEVEL:.2g} (a model with an "
        "impossible estimate is left out and named). Between the standard and the robust model (one model each, "
        f"so only test-set noise): differences of MI over {MI_CLAIM_Z:g} and of adversarial accuracy over "
        f"{ACCURACY_CLAIM_Z:g} standard errors; \"≈ 0\" below {ZERO_WORST_MI_NATS:g} nats and "
        f"{ZERO_ADVERSARIAL_ACCURACY:.0%} adversarial accuracy; \"much more\" worst-case MI above "
        f"{KEPT_WORST_MI_NATS:g} nats.",
    ])


# ------------------------------------------------------------------------------------------- updates and corrections
def dated_errata_markdown(updates: Updates) -> str:
    """The errata, oldest first, with the date and commit that first listed each; without a full history the one
    sentence of :func:`~rrlib.report.updates.history_note` and the errata undated."""
    if updates.history != FULL:
        rows = [[_cell(e.where), _cell(e.finding)] for e in updates.errata]
        table = captioned_table("Errata found by the book in the paper.", "tab-updates-errata", ["where", "finding"],
                                rows)
        return f"{history_note(updates.history)}\n\n{table}"
    errata = sorted(updates.errata, key=lambda e: e.commit.time if e.commit else "")
    rows = [[nowrap(e.commit.date) if e.commit else "—", f"`{e.commit.short}`" if e.commit else "—", _cell(e.where),
             _cell(e.finding)] for e in errata]
    return captioned_table("Errata found by the book in the paper, with the date (UTC) and commit that first listed "
                           "each.", "tab-updates-errata", ["listed", "commit", "where", "finding"], rows)


def result_updates_markdown(updates: Updates) -> str:
    """Every commit that added, changed or deleted a committed result, newest first: date, commit, the files and
    what the commit says (:func:`~rrlib.report.updates.headline`); empty without a full history."""
    if updates.history != FULL:
        return ""
    rows = [[nowrap(u.commit.date), f"`{u.commit.short}`", _changes_cell(u.changes), _cell(headline(u.commit.subject))]
            for u in updates.results]
    n = len(updates.results)
    return captioned_table(f"The {n} commit{'' if n == 1 else 's'} that added, changed or deleted our committed "
                           "results (files under `results/`), newest first; dates in UTC.", "tab-updates-results",
                           ["date", "commit", "files", "what the commit says"], rows)


def result_files_markdown(updates: Updates) -> str:
    """Each committed result file with the date and commit of its last change; empty without a full history."""
    if updates.history != FULL:
        return ""
    rows = [[_cell(_in_results(f.path)), nowrap(f.last.date), f"`{f.last.short}`"] for f in updates.files]
    return captioned_table("When each committed result file (under `results/`) last changed; dates in UTC.",
                           "tab-updates-files",
                           ["file", "last changed", "commit"], rows)


def _changes_cell(changes: tuple[FileChange, ...]) -> str:
    """A commit's changed files, one line per kind of change and folder: ``added a.json, b.json``, or for several
    files of a sub-folder ``added in weights_medium/: encoder_normal.pt, encoder_worst.pt``."""
    groups: dict[tuple[str, str], list[str]] = {}
    for change in changes:
        folder, _, name = _in_results(change.path).rpartition("/")
        groups.setdefault((change.status, folder), []).append(name)
    lines = []
    for (status, folder), names in groups.items():
        if folder and len(names) > 1:
            lines.append(f"{status} in {_cell(folder + '/')}: {', '.join(_cell(n) for n in names)}")
        else:
            lines.append(f"{status} {', '.join(_cell(f'{folder}/{n}' if folder else n) for n in names)}")
    return "<br>".join(lines)


def _in_results(path: str) -> str:
    """A path under ``results/`` as the tables name it: without that folder, which their captions name."""
    return path.removeprefix("results/")
