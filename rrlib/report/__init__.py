"""Chapter 10, the reproduction report: every number of the paper beside ours, with a verdict per row.

The report is built from data only: the paper's numbers (:mod:`rrlib.paper`) and the metrics that chapters 01–09 and 11
recorded (:func:`rrlib.book.load_metrics`). Nothing is typed by hand; one module per job:

* :mod:`~rrlib.report.rules` — the verdict rules and tolerances (values: reproduced / differs / reduced scale /
  not run here; claims: :mod:`rrlib.stats`'s paired Student-t rule, combined over heads and attacks), pure
  functions;
* :mod:`~rrlib.report.types` — ``Row``, ``Section``, ``Erratum``, ``Report`` (counts, plain-JSON metrics);
* :mod:`~rrlib.report.inputs` — reading the chapters' metrics and the typed views the sections use;
* :mod:`~rrlib.report.values` — the value sections (Theorem 3.4, Figures 1–3, Tables 1/3/4/5);
* :mod:`~rrlib.report.claims` — the claim rows (§6.1 by :mod:`rrlib.verdicts` on the recorded metrics);
* :mod:`~rrlib.report.beyond` — the rows beyond the paper (chapter 11: worst-case InfoNCE and adversarial
  contrastive learning against the paper's objective), kept out of the paper's counts;
* :mod:`~rrlib.report.errata` — the errata as data, filled from the metrics and the paper's tables;
* :mod:`~rrlib.report.markdown` — the page's tables and the rules written out from the constants;
* :mod:`~rrlib.report.encoder_rv` — the fresh-critic RV of the medium run's encoders (§5's claim), measured and
  committed to ``results/``;
* :mod:`~rrlib.report.downstream` — chapter 08's inputs beside its own run (committed-run provenance, the attack
  ladder, the tables' command line);
* :mod:`~rrlib.report.updates` — the page "Updates and corrections" after the report: each erratum's date and every
  change to the committed results, read from the git history (its tables in :mod:`~rrlib.report.markdown`).

Every threshold (``TOLERANCE_Z``, the claims' ``CLAIM_LEVEL``, ``MIN_REPLICATES`` and ``COMPARABLE_POINTS``,
§6.1's ``MI_CLAIM_Z`` and ``ACCURACY_CLAIM_Z``) is defined in :mod:`rrlib.stats`. Lookup tables are read where they
live: table numbers in
:data:`rrlib.paper.TABLE_NUMBERS`, data set titles in :func:`rrlib.data.get_spec`, row keys in
:data:`rrlib.grid.config.ROW_LABELS`, head names in :mod:`rrlib.rendering.section5`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rrlib.report import beyond, claims, errata, values
from rrlib.report.downstream import table_command
from rrlib.report.errata import paper_table_oddities
from rrlib.report.inputs import (
    CHAPTERS,
    FIGURE_DATASET,
    FRESH_CRITIC,
    READ,
    VULNERABILITY_MEDIUM,
    chapter_command,
    load_inputs,
)
from rrlib.report.markdown import (
    answer_markdown,
    claim_rules_markdown,
    claims_markdown,
    counts_markdown,
    dated_errata_markdown,
    errata_markdown,
    inputs_markdown,
    result_files_markdown,
    result_updates_markdown,
    rules_markdown,
    section_markdown,
)
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
    ROW_KEY,
    TABLE_POINTS,
    VALUE_VERDICTS,
    combine_verdicts,
    figure_verdict,
    neuron_summary,
    printed_tolerance,
    table_cell_verdict,
    theory_verdict,
)
from rrlib.report.types import Erratum, Report, Row, Section
from rrlib.stats import CLAIM_LEVEL, COMPARABLE_POINTS, MIN_REPLICATES, TOLERANCE_Z

__all__ = [
    "CHAPTERS", "CLAIM_LEVEL", "COMPARABLE_POINTS", "DIFFERS", "FIGURE_3_BIN", "FIGURE_3_NATS", "FIGURE_DATASET",
    "FIGURE_NATS", "FIGURE_POINTS", "FRESH_CRITIC", "MIN_REPLICATES", "NOT_RUN", "PAPER_TRIALS", "READ", "REDUCED",
    "VULNERABILITY_MEDIUM",
    "REPRODUCED", "ROW_KEY", "TABLE_POINTS", "TOLERANCE_Z", "VALUE_VERDICTS", "Erratum", "Report", "Row", "Section",
    "answer_markdown", "build", "chapter_command", "claim_rules_markdown", "claims_markdown", "combine_verdicts",
    "counts_markdown", "dated_errata_markdown",
    "errata_markdown", "figure_verdict", "inputs_markdown", "load_inputs", "neuron_summary", "paper_table_oddities",
    "printed_tolerance", "result_files_markdown", "result_updates_markdown", "rules_markdown", "section_markdown",
    "table_cell_verdict", "table_command", "theory_verdict",
]


def build(inputs: Mapping[str, dict[str, Any]]) -> Report:
    """The report from the chapters' metrics (``{chapter: metrics}``; missing chapters are allowed)."""
    listing = []
    for chapter in READ:
        m = inputs.get(chapter)
        meta = {} if m is None else m.get("_meta", {})
        listing.append({"chapter": chapter, "ran": m is not None, "profile": meta.get("profile"),
                        "seed": meta.get("seed"), "device": meta.get("device"),
                        "finished_at": meta.get("finished_at")})
    sections = [values.theory(inputs), values.figure_1(inputs), values.figure_2(inputs), values.figure_3(inputs),
                *values.tables(inputs), claims.claims(inputs), beyond.beyond(inputs)]
    return Report(listing, sections, errata.errata(inputs))
