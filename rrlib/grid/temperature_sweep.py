"""Is the adversarial contrastive baseline trained well? A small, stated sweep of its NT-Xent temperature τ.

Chapter 11's adversarial contrastive encoder (``estimator_loss="adv-contrastive"``, :mod:`rrlib.train.contrastive`)
uses τ = 0.5, RoCL's and SimCLR's CIFAR-10 value, chosen before any run. A baseline tuned less than the method it is
compared with is a weak baseline; this sweep trains the *same* encoder — the committed medium run's configuration
(:class:`~rrlib.grid.config.TablesConfig` of ``results/table4_fashion_mnist_medium.json``), only τ changed — at
each of ``temperatures`` for each of ``seeds``, puts the medium run's heads on it (standard and robust; MLP and
linear) and scores them exactly as Table 4 does (:func:`rrlib.grid.evaluation.evaluate_cell`: natural and the
paper's PGD accuracy on the 1,000 test images, AutoAttack on 200). The baseline's clean quality is the standard
linear head's natural accuracy (RobustSSL's SLF "SA"); its robust quality the robust heads' AutoAttack accuracy.

Folders: each τ has its own grid-shaped root ``<out_root>/tau<τ>/`` with ``encoders/`` and ``heads/`` named as
the grid names them (:mod:`rrlib.grid.cells`), so the τ = 0.5 root may hold copies of the committed run's own cells
(same configurations, same hashes), which are then loaded, not retrained. Every cell is a run folder (locked,
checkpointed, resumed; :mod:`rrlib.train.run_folder`) and its scores are cached in it, so an interrupted sweep
resumes and a finished one recomputes nothing; two processes may train different seeds of one sweep at once.
Accuracies in percent; seconds of wall time. Command line::

    RRBOOK_THREADS=1 python -m rrlib.grid.temperature_sweep --out-root DIR \\
        --out results/contrastive_temperature_medium.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from rrlib.grid.cells import Cell, cells
from rrlib.grid.committed import REPO_ROOT, load_committed
from rrlib.grid.config import TablesConfig
from rrlib.validation import check_positive_float

__all__ = ["RESULT_PATH", "ROWS", "SEEDS", "TEMPERATURES", "SweepConfig", "load_result", "main", "run",
           "sweep_cells", "tau_root"]

#: The committed result chapter 11 reads.
RESULT_PATH = REPO_ROOT / "results" / "contrastive_temperature_medium.json"
#: The temperatures tried: SimCLR's own sweep spans 0.05–1 (its Table 5); 0.5 is the value the medium run uses.
TEMPERATURES = (0.1, 0.2, 0.5, 1.0)
#: Seeds per temperature (the unit of replication is the trained encoder with its heads).
SEEDS = (0, 1)
#: The Table 4 rows scored: the standard head (final checkpoint) and the robust head (best validation PGD).
ROWS = ("contrastive/standard", "contrastive/robust")
Log = Callable[[str], None] | None


@dataclass(frozen=True)
class SweepConfig:
    """The sweep: the medium run's grid configuration ``tables`` restricted to :data:`ROWS` and ``seeds``, at each of
    ``temperatures``."""

    tables: TablesConfig
    temperatures: tuple[float, ...] = TEMPERATURES
    seeds: tuple[int, ...] = SEEDS

    def __post_init__(self) -> None:
        temps = tuple(self.temperatures)
        for t in temps:
            check_positive_float("temperature", t)
        if not temps or len(set(temps)) != len(temps):
            raise ValueError(f"--temperatures must be distinct positive numbers, got {temps!r}")
        object.__setattr__(self, "temperatures", temps)
        object.__setattr__(self, "seeds", tuple(self.seeds))
        object.__setattr__(self, "tables", replace(self.tables, seeds=self.seeds, rows=ROWS))

    @classmethod
    def medium(cls, seeds: Sequence[int] = SEEDS, device: str = "cpu",
               temperatures: Sequence[float] = TEMPERATURES) -> SweepConfig:
        """The committed medium run's configuration (read from its file, so the sweep's τ = 0.5 cells are its cells)."""
        recorded = load_committed("fashion-mnist")["metrics"]["config"]
        tables = replace(TablesConfig.from_recorded(recorded), device=device, out_root=None, data_root=None)
        return cls(tables, tuple(temperatures), tuple(seeds))


def tau_root(out_root: str | Path, temperature: float) -> Path:
    """The grid-shaped folder of one temperature under ``out_root`` (``tau0.5``, ``tau1.0``, …)."""
    return Path(out_root) / f"tau{float(temperature)}"


def sweep_cells(tables: TablesConfig, temperature: float) -> list[Cell]:
    """The grid's cells of ``tables`` with every adversarial contrastive encoder at ``temperature`` (its folder
    renamed by the new configuration's hash, as the grid names it); the heads are the grid's, unchanged."""
    from rrlib.grid.cells import _folder

    out = []
    for cell in cells(tables):
        if cell.kind == "encoder":
            config = replace(cell.config, temperature=float(temperature))
            cell = replace(cell, config=config, path="encoders/" + _folder(f"{cell.loss}-seed{cell.seed}", config))
        out.append(cell)
    return out


def run(config: SweepConfig, out_root: str | Path, log: Log = print) -> dict[str, Any]:
    """Train (or load) and score every cell of the sweep under ``out_root``; returns the metrics: per temperature,
    row and head, the per-seed natural, PGD and AutoAttack accuracies (percent) and each encoder's recorded training
    seconds."""
    from rrlib.grid.evaluation import evaluate_cell, score_entries
    from rrlib.grid.orchestrator import _images, train_cell
    from rrlib.train.fit import epoch_seconds

    tables = config.tables
    images = _images(tables)
    table: dict[str, Any] = {}
    encoder_seconds: dict[str, dict[str, float]] = {}
    for temperature in config.temperatures:
        root = tau_root(out_root, temperature)
        chosen = sweep_cells(tables, temperature)
        by_name = {c.name: c for c in chosen}
        scores: dict[str, dict[str, list[dict[str, Any]]]] = {r: {h: [] for h in tables.heads} for r in ROWS}
        for cell in chosen:
            tick = time.perf_counter()
            result, _ = train_cell(cell, root, tables, encoders=by_name, show_progress=True)
            if not result.finished:
                raise RuntimeError(f"{root / cell.path} did not finish training")
            if cell.kind == "encoder":
                encoder_seconds.setdefault(str(temperature), {})[f"seed{cell.seed}"] = float(
                    sum(epoch_seconds(r) for r in result.history))
                continue
            evals, _ = evaluate_cell(cell, result, root / cell.path, tables, images)
            for row, entry in score_entries(cell, evals, tables).items():
                scores[row][cell.head].append(entry)
            if log is not None:
                log(f"τ = {temperature}, {cell.name}: {time.perf_counter() - tick:.0f} s")
        table[str(temperature)] = {
            row: {head: {col: [e[col] for e in sorted(entries, key=lambda e: e["seed"])]
                         for col in ("natural", "adversarial", "autoattack")}
                  for head, entries in heads.items()}
            for row, heads in scores.items()}
    return {"temperatures": list(config.temperatures), "seeds": list(config.seeds), "rows": list(ROWS),
            "heads": list(tables.heads), "units": "percent", "table": table, "encoder_train_seconds": encoder_seconds,
            "tables_config": asdict(tables)}


def load_result(path: str | Path = RESULT_PATH) -> dict[str, Any] | None:
    """The committed sweep (``{"metrics": run(...), "provenance": ...}``), or ``None`` while it has not been run."""
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    """``python -m rrlib.grid.temperature_sweep`` (see the module docstring)."""
    from rrlib.console import error_line
    from rrlib.provenance import provenance
    from rrlib.runtime import atomic_write_text, configure_threads, select_device
    from rrlib.train.run_folder import RunFolderError

    parser = argparse.ArgumentParser(prog="python -m rrlib.grid.temperature_sweep",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-root", required=True, help="the sweep's folder (one grid-shaped folder per τ)")
    parser.add_argument("--out", default=str(RESULT_PATH), help="the JSON to write; must not exist")
    parser.add_argument("--temperatures", type=float, nargs="+", default=list(TEMPERATURES))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    try:
        if out.exists():
            raise ValueError(f"--out {out} exists: finished results are never overwritten; move it away or give "
                             "another --out")
        select_device(args.device)
        if any(s < 0 for s in args.seeds) or len(set(args.seeds)) != len(args.seeds):
            raise ValueError(f"--seeds must be distinct non-negative integers, got {args.seeds}")
        config = SweepConfig.medium(args.seeds, args.device, args.temperatures)
        configure_threads()
        start = time.perf_counter()
        metrics = run(config, args.out_root)
    except (ValueError, RuntimeError, RunFolderError) as err:
        return error_line(err)
    prov = provenance(config, total_seconds=time.perf_counter() - start, device=args.device)
    prov["note"] = "wall_seconds_total counts this invocation only; cells loaded from --out-root were trained before"
    atomic_write_text(out, json.dumps({"metrics": metrics, "provenance": prov}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
