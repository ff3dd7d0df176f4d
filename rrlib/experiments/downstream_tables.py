"""Tables 1, 3, 4, 5 (Section 6.2): downstream accuracy of heads on learned representations, and the baselines.

Rows (``ROWS``; the paper's labels in ``ROW_LABELS``, as in :data:`rrlib.paper.TABLE_ROWS`):

* ``hjelm/standard``, ``hjelm/robust`` — a head on the DIM encoder (``estimator_loss="normal"``);
* ``ours/standard``, ``ours/standard_es``, ``ours/robust`` — a head on the worst-case encoder (Eq. 5.4); E.S. is
  the *same* standard head run, early-stopped at its best adversarial accuracy on a held-out validation split;
* ``supervised/standard``, ``supervised/robust`` — Baseline-H with that head trained end to end
  (:mod:`rrlib.train.supervised`, the encoder's width).

× heads ``mlp`` / ``linear`` × columns ``natural``, ``adversarial`` (the paper's PGD) and ``autoattack``
(:mod:`rrlib.robustness_eval`, on the first ``autoattack_n`` class-stratified test images). Each cell is
mean ± sample std over ``seeds``: one encoder per seed and loss; its heads and the supervised models use the
same seed. Which head is scored: the final head for standard rows and the supervised rows, the best
validation-adversarial head for ``*/robust`` heads (the paper's "best" checkpoint of a robust h) and for E.S.

Every trained thing is a *cell* (:mod:`rrlib.grid.cells`) in its own folder under ``config.out_root`` (the folder
name carries a hash of its configuration), trained by the library's resumable functions through the grid's one
orchestrator (:func:`rrlib.grid.orchestrator.run_grid`, which ``rrbook sweep`` uses too): a finished cell is
loaded, an interrupted one continues, and its evaluation (predicted-class shares, PGD and AutoAttack on the
AutoAttack images) is cached in ``evaluation.json`` next to it (:mod:`rrlib.grid.evaluation`). Numbers are in
**percent**, like the paper's tables. The configuration and its profiles are :mod:`rrlib.grid.config`; committed
runs, their provenance and the exported weights :mod:`rrlib.grid.committed`.

Flags in ``Result.metrics()["flags"]``: cells whose head predicts one class for (almost) every test image
(the paper's 10.00 ± 0.00 "Hjelm Robust / Linear" cells are such constant predictors), cells with natural =
adversarial and zero std (the paper's pattern), and cells where the paper's PGD overstates robustness by more
than 5 points relative to AutoAttack on the same images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from rrlib.grid.cells import Cell, cells
from rrlib.grid.committed import (
    COMMITTED_RUNS,
    MEDIUM_COMMAND,
    REPO_ROOT,
    WEIGHT_FILES,
    add_rows,
    copy_results,
    encoder_histories,
    export_weights,
    load_committed,
    load_exported_models,
    rows_view,
    save_json,
)
from rrlib.grid.config import COLUMNS, HEADS, ROW_LABELS, ROWS, TablesConfig
from rrlib.grid.evaluation import prediction_shares
from rrlib.grid.orchestrator import run_grid
from rrlib.jsonable import to_jsonable
from rrlib.paper import TABLES
from rrlib.provenance import provenance
from rrlib.stats import mean_sd
from rrlib.train.cache import entry_dir

__all__ = ["COLUMNS", "COMMITTED_RUNS", "HEADS", "MEDIUM_COMMAND", "REPO_ROOT", "ROWS", "ROW_LABELS", "WEIGHT_FILES",
           "Cell", "TablesConfig", "TablesResult", "add_rows", "cells", "collect", "copy_results", "encoder_histories",
           "export_weights", "load_committed", "load_exported_models", "main", "prediction_shares", "rows_view", "run",
           "save_json"]

CONSTANT_SHARE = 0.99  # a head predicting one class for >= 99% of the test images counts as constant
GAP_POINTS = 5.0


@dataclass
class TablesResult:
    """Per-seed scores of every (row, head) and the cells' timings; :meth:`metrics` aggregates."""

    config: TablesConfig
    scores: dict[str, dict[str, list[dict[str, Any]]]]  # row → head → one dict per seed
    timings: dict[str, dict[str, Any]] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> dict[str, Any]:
        """``table[row][head][column] = {"mean", "std", "values"}`` (percent; ``autoattack`` is None when
        skipped), the predicted-class shares, the paper's cell (None for a row beyond the paper), and the flags."""
        paper = TABLES[self.config.dataset]
        table: dict[str, Any] = {}
        flags: dict[str, list[str]] = {"constant_predictor": [], "equal_natural_adversarial_zero_std": [],
                                       "pgd_exceeds_autoattack_by_5_points": []}
        for row, by_head in self.scores.items():
            table[row] = {}
            for head, per_seed in by_head.items():
                cell: dict[str, Any] = {}
                for col in COLUMNS:
                    values = [s.get(col) for s in per_seed]
                    if any(v is None for v in values):
                        cell[col] = None
                        continue
                    mean, std = mean_sd(values, of_one=0.0)
                    cell[col] = {"mean": mean, "std": std, "values": values}
                cell["seeds"] = [s["seed"] for s in per_seed]
                cell["majority_class"] = [s["majority_class"] for s in per_seed]
                cell["majority_share"] = [s["majority_share"] for s in per_seed]
                cell["constant_predictor"] = all(v >= CONSTANT_SHARE for v in cell["majority_share"])
                nat, adv = cell["natural"], cell["adversarial"]
                cell["equal_natural_adversarial_zero_std"] = bool(
                    all(abs(a - b) < 1e-9 for a, b in zip(nat["values"], adv["values"], strict=True))
                    and nat["std"] == 0.0)
                same = [s.get("autoattack_images") for s in per_seed]
                if all(v is not None for v in same):
                    gap = mean_sd([v["pgd"] - v["autoattack"] for v in same], of_one=0.0)[0]
                    cell["pgd_minus_autoattack_same_images"] = gap
                    cell["autoattack_images"] = same
                    if gap > GAP_POINTS:
                        flags["pgd_exceeds_autoattack_by_5_points"].append(f"{row}/{head}")
                if cell["constant_predictor"]:
                    flags["constant_predictor"].append(f"{row}/{head}")
                if cell["equal_natural_adversarial_zero_std"]:
                    flags["equal_natural_adversarial_zero_std"].append(f"{row}/{head}")
                ref = paper.get(ROW_LABELS[row])  # None: a row beyond the paper
                cell["paper"] = None if ref is None else {"natural": list(ref[f"{head}_natural"]),
                                                          "adversarial": list(ref[f"{head}_adversarial"])}
                table[row][head] = cell
        return {"dataset": self.config.dataset, "units": "percent", "seeds": list(self.config.seeds),
                "row_labels": {r: list(ROW_LABELS[r]) for r in self.scores}, "table": table, "flags": flags,
                "config": to_jsonable(asdict(self.config)), "timings": self.timings}


def collect(config: TablesConfig, *, log: Callable[[str], None] | None = print,
            command: str | None = None) -> TablesResult:
    """Train the missing cells under ``config.out_root`` (None: the results cache's entry of ``config``), score
    them (cached) and collect the table, logging a line per cell to ``log``; ``command`` is recorded as the
    provenance's command (default: this process's)."""
    out_root = config.out_root if config.out_root is not None else entry_dir(config)
    grid = run_grid(config, out_root, log=log)
    return TablesResult(config, grid.scores, grid.timings,
                        provenance(config, grid.timings, grid.seconds, command, device=_device(config)))


def _device(config: TablesConfig) -> str:
    from rrlib.runtime import select_device

    return str(select_device(config.device))


def run(config: TablesConfig) -> TablesResult:
    """The tables experiment (see the module docstring): :func:`collect` without a log."""
    return collect(config, log=None)


def main(argv: list[str] | None = None) -> int:
    """``python -m rrlib.experiments.downstream_tables run|copy ...``: ``rrbook tables run|copy ...`` under its old
    name."""
    import sys

    from rrlib.cli import main as cli_main

    return cli_main(["tables", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
