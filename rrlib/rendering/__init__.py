"""Every table and sentence the chapters render from results: markdown strings, nothing computed beyond formatting.

Experiments compute (:mod:`rrlib.experiments`), this package renders, :mod:`rrlib.plotting` draws. One module per
chapter family; each function takes a result or recorded metrics (or nothing, for the paper's own numbers) and
returns markdown that a notebook shows with ``IPython.display.Markdown``:

* :mod:`~rrlib.rendering.tables` — the shared MyST table builders and marks;
* :mod:`~rrlib.rendering.theory` — chapters 01–03 (preliminaries, Theorems 3.2 and 3.4);
* :mod:`~rrlib.rendering.mine` — chapter 04 (variational MI bounds);
* :mod:`~rrlib.rendering.worst_case` — chapter 05 (worst-case MI, Algorithms 1–2);
* :mod:`~rrlib.rendering.vulnerability` — chapter 06 (§6.1: vulnerability and robustness);
* :mod:`~rrlib.rendering.section5` — chapters 07–09 (§5 encoders, the downstream tables, saliency).

The functions of chapters 01–06 are importable from here (``rendering.zoo_markdown``); chapters 07–09 import
``rrlib.rendering.section5``. The report of chapter 10 renders itself (:mod:`rrlib.report.markdown`).
"""

from __future__ import annotations

from rrlib.rendering import section5
from rrlib.rendering.mine import (
    STAIRCASE_QUANTITIES,
    best_at_top_markdown,
    nwj_check_markdown,
    oracle_table_markdown,
    oracle_tables_markdown,
    staircase_table_markdown,
)
from rrlib.rendering.tables import IMPOSSIBLE_MARK, captioned_table, markdown_table
from rrlib.rendering.theory import (
    bruteforce_markdown,
    checks_markdown,
    counterexample_markdown,
    lemma_3_3_markdown,
    monte_carlo_markdown,
    monte_carlo_rv_markdown,
    paper_points_markdown,
    sandwich_sides_markdown,
)
from rrlib.rendering.vulnerability import (
    claims_markdown,
    config_markdown,
    figure_1_markdown,
    figure_2_markdown,
    figure_3_markdown,
    impossible_note,
    medium_provenance_markdown,
    protocol_markdown,
    zoo_markdown,
    zoo_mi_markdown,
)
from rrlib.rendering.worst_case import cost_markdown, digits_markdown, masking_markdown, three_number_markdown

__all__ = [
    "IMPOSSIBLE_MARK", "STAIRCASE_QUANTITIES", "best_at_top_markdown", "bruteforce_markdown", "captioned_table",
    "checks_markdown", "claims_markdown", "config_markdown", "cost_markdown", "counterexample_markdown",
    "digits_markdown", "figure_1_markdown", "figure_2_markdown", "figure_3_markdown", "impossible_note",
    "lemma_3_3_markdown", "markdown_table", "masking_markdown", "medium_provenance_markdown", "monte_carlo_markdown",
    "monte_carlo_rv_markdown",
    "nwj_check_markdown", "oracle_table_markdown", "oracle_tables_markdown", "paper_points_markdown",
    "protocol_markdown", "sandwich_sides_markdown", "section5", "staircase_table_markdown", "three_number_markdown",
    "zoo_markdown", "zoo_mi_markdown",
]
