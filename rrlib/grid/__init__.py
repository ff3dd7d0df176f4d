"""The grid behind the downstream tables (Tables 1, 3, 4, 5): its configuration and profiles (``config``), its
typed cells and their states (``cells``), the one orchestrator that trains and scores them (``orchestrator``;
``rrbook sweep`` and the tables experiment both run through it), the scoring of a trained cell (``evaluation``),
committed results, weights and command lines (``committed``), the two sub-commands (``commands``), and chapter 11's
check of its baseline, the same cells at other NT-Xent temperatures (``temperature_sweep``).

The experiment itself (``run(config) -> TablesResult``) is :mod:`rrlib.experiments.downstream_tables`.
"""

from rrlib.grid.cells import STATES, Cell, CellState, cell_states, cells, check_stored_config, scored_heads
from rrlib.grid.config import COLUMNS, HEADS, ROW_LABELS, ROWS, TablesConfig, tables_config
from rrlib.grid.orchestrator import GridRun, run_grid, sweep

__all__ = ["COLUMNS", "HEADS", "ROWS", "ROW_LABELS", "STATES", "Cell", "CellState", "GridRun", "TablesConfig",
           "cell_states", "cells", "check_stored_config", "run_grid", "scored_heads", "sweep", "tables_config"]
