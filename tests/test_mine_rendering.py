"""Chapter 04's tables and figures from a tiny run: captioned tables with one number per cell, the JS outlier
summary, and every figure function returning a Figure."""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from rrlib import rendering
from rrlib.experiments import mine
from rrlib.plotting import mi as mi_plots


@pytest.fixture(scope="module")
def tiny():
    runs = tuple(mine.RunSpec("separable", b, 6) for b in ("dv", "js", "smile"))
    config = mine.MineConfig(levels=(2.0, 4.0), dim=4, oracle_batches=(8, 16), oracle_trials=20, runs=runs,
                             deterministic_dim=2, deterministic_steps=5, device="cpu")
    return mine.run(config, show_progress=False)


def _cells(table: str) -> list[list[str]]:
    rows = [line for line in table.splitlines() if line.startswith("|") and not line.startswith("|---")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in rows[1:]]


def test_tables_are_captioned_with_one_number_per_cell(tiny):
    oracle = rendering.oracle_tables_markdown(tiny)
    assert oracle.count(":::{table}") == 1 and ":name: tab-ch4-oracle\n" in oracle
    rows = _cells(oracle)
    assert len(rows) == len(mine.ORACLE_BOUNDS) * len(tiny.config.levels)
    assert all(len(row) == 2 + 2 * len(tiny.config.oracle_batches) for row in rows)
    for quantity in rendering.STAIRCASE_QUANTITIES:
        table = rendering.staircase_table_markdown(tiny, quantity, caption="c", name=f"tab-{quantity}")
        assert table.startswith(":::{table} c\n:name: tab-" + quantity) and table.endswith(":::")
        rows = _cells(table)
        assert len(rows) == len(tiny.staircases)
        for row in rows:  # critic, estimator, steps, then one number per level
            assert len(row) == 3 + len(tiny.config.levels)
            for cell in row[3:]:
                float(cell)
    for row in _cells(oracle):
        assert all("±" not in cell for cell in row)
    with pytest.raises(ValueError, match="valid choices"):
        rendering.staircase_table_markdown(tiny, "median")


def test_outlier_summary_describes_the_tail(tiny):
    s = tiny.outlier_summary("separable", "js")
    tails = tiny.tail_estimates("separable", "js")
    i = [float(v) for v in tiny.config.levels].index(s["level"])
    assert s["variance"] == pytest.approx(np.var(tails[i]))
    assert s["min"] <= s["second"] <= s["median"] and s["steps"] == tails[i].size
    assert s["variance_wo_1"] <= s["variance"] + 1e-12 and s["exp_excess"] == pytest.approx(1 - s["min"])
    headline = tiny.metrics()["headline"]
    assert headline["js_outlier_level"] == s["level"] and math.isfinite(headline["smile_mean_hi"])


def test_figures(tiny):
    for make in (mi_plots.oracle_figure, mi_plots.staircase_figure, mi_plots.staircase_spread_figure,
                 mi_plots.deterministic_figure):
        assert isinstance(make(tiny), Figure)
