"""Chapter 08 (quick profile): the tables it prints and the attack ladder."""

from __future__ import annotations

import pytest

from rrlib.experiments.downstream_tables import COLUMNS, HEADS, ROW_LABELS, ROWS, load_committed, rows_view
from rrlib.paper import TABLES

CHAPTER = "08_downstream"


@pytest.mark.slow
def test_quick_and_medium_tables_are_complete_and_carry_the_paper(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    assert m["medium"] == rows_view(load_committed("fashion-mnist")["metrics"], "paper")  # the paper's rows
    for table in (m, m["medium"]):
        for row in ROWS:
            for head in HEADS:
                cell = table["table"][row][head]
                for col in COLUMNS:
                    assert len(cell[col]["values"]) == len(table["seeds"])
                    assert 0.0 <= cell[col]["mean"] <= 100.0
                paper = TABLES["fashion-mnist"][ROW_LABELS[row]]
                assert cell["paper"]["adversarial"] == list(paper[f"{head}_adversarial"])


@pytest.mark.slow
def test_attack_ladder_on_the_committed_models(chapter_metrics):
    ladders = chapter_metrics(CHAPTER)["ladders"]
    assert set(ladders) == {"supervised_robust", "ours_standard_head"}
    for ladder in ladders.values():
        # every attack keeps only points it could not break, and a point misclassified clean counts as broken
        for key in ("paper_pgd", "longer_pgd", "longer_pgd_restarts", "autoattack"):
            assert 0.0 <= ladder[key] <= ladder["natural"]
