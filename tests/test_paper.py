"""The transcribed published numbers are internally consistent (a check on our transcription, not on the paper)."""

from __future__ import annotations

import pytest

from rrlib import paper

# Figures were digitised to about ±0.01 nats per point; a difference of two points is within ±0.03 nats.
DIGITISATION_TOL_NATS = 0.03


@pytest.mark.parametrize("model,training", [(m, t) for m, p in paper.FIGURE_2.items() for t in p])
def test_figure_1_rv_equals_figure_2_normal_minus_worst(model, training):
    point = paper.FIGURE_2[model][training]
    rv, _gap = paper.FIGURE_1[model][training]
    assert point.normal_mi - point.worst_mi == pytest.approx(rv, abs=DIGITISATION_TOL_NATS)


def test_tables_have_every_row_and_column():
    for dataset, table in paper.TABLES.items():
        assert list(table) == list(paper.TABLE_ROWS), dataset
        for row, cells in table.items():
            assert tuple(cells) == paper.TABLE_COLUMNS, (dataset, row)
            for mean, std in cells.values():
                assert 0.0 <= mean <= 100.0 and 0.0 <= std < 20.0


def test_constant_predictor_cells_flagged_in_reference():
    # Hjelm-Robust linear h on MNIST predicts the majority digit "1": 11.35% natural = adversarial, zero spread.
    cell = paper.TABLES["mnist"][("Hjelm et al. (2018)", "Robust")]
    assert cell["linear_natural"] == cell["linear_adversarial"] == (11.35, 0.0)


def test_rows_helpers():
    assert len(paper.figure_1_rows()) == 12 and len(paper.figure_2_rows()) == 10
