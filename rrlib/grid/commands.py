"""The grid's two sub-commands of ``rrbook``: ``sweep`` (list or train cells) and ``tables run|copy`` (train, score and
collect a table, or copy a finished run into ``results/``). Both go through :func:`rrlib.grid.orchestrator.run_grid`.

``python -m rrlib.experiments.downstream_tables run|copy ...`` is ``rrbook tables run|copy ...`` under its old name
(the committed runs' provenance records it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from rrlib import cli_flags as flags
from rrlib import console
from rrlib.grid.committed import add_rows, copy_results, export_weights, save_json
from rrlib.grid.config import ROW_SETS, TablesConfig, tables_config
from rrlib.paper import TABLES
from rrlib.profiles import PROFILES

__all__ = ["add_sweep_arguments", "add_tables_arguments", "run_sweep", "run_tables"]


def add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``rrbook sweep``."""
    p.add_argument("--profile", required=True, help=f"one of {list(PROFILES)}")
    p.add_argument("--dataset", default="fashion-mnist", help=f"one of {sorted(TABLES)} (default fashion-mnist)")
    p.add_argument("--out-root", type=Path, required=True, help="folder of the cells (one sub-folder each)")
    p.add_argument("--list", action="store_true", help="print every cell with its state (finished/partial/missing)")
    p.add_argument("--cell", default=None, metavar="NAME", help="run only this cell (names: --list)")
    p.add_argument("--dry-run", action="store_true", help="print what would run, train nothing")
    p.add_argument("--seed", type=int, default=0, help="first seed of the trials (default 0)")
    _add_rows_flag(p)
    flags.add_run_flags(p, "device", "data_root")


def _add_rows_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rows", default="paper", metavar="SET",
                   help=f"which rows: one of {list(ROW_SETS)} (default paper: the paper's seven; beyond: worst-case "
                        "InfoNCE and adversarial contrastive encoders with their heads; all: both)")


def run_sweep(args: argparse.Namespace) -> int:
    """Run the parsed ``rrbook sweep``; returns the exit code."""
    from rrlib.grid.cells import cell_states
    from rrlib.grid.orchestrator import sweep

    try:
        config = tables_config(args.profile, args.dataset, seed=args.seed, device=args.device,
                               data_root=None if args.data_root is None else str(args.data_root), rows=args.rows)
        if args.list:
            for state in cell_states(config, args.out_root):
                print(f"{state.cell.name:40s} {state.state:9s} {state.folder}")
            return 0
    except ValueError as err:
        return console.error_line(err)
    print(f"sweep: {args.profile} profile, {config.dataset}, {len(config.seeds)} trials -> {args.out_root}")
    ran, code = console.guarded_training(
        lambda: sweep(config, args.out_root, cell=args.cell, dry_run=args.dry_run), args.out_root)
    if code:
        return code
    print(f"{'would run' if args.dry_run else 'ran'} {len(ran)} cell(s)")
    return 0


def add_tables_arguments(parser: argparse.ArgumentParser) -> None:
    """The sub-commands ``run`` and ``copy`` of ``rrbook tables`` (and of the old program name)."""
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_run = sub.add_parser("run", help="train and evaluate the tables' grid, write its JSON")
    p_run.add_argument("--profile", choices=PROFILES, default="medium")
    p_run.add_argument("--seed", type=int, default=0)
    p_run.add_argument("--trials", type=int, default=None,
                       help="seeds --seed, --seed + 1, ... (default: the profile's; the paper: 4); finished cells of "
                            "--out-root are reused, so raising it trains only the new seeds")
    p_run.add_argument("--device", default="auto")
    p_run.add_argument("--dataset", default="fashion-mnist", choices=sorted(TABLES),
                       help="the paper's table to run (default: Fashion-MNIST = Table 4)")
    p_run.add_argument("--out-root", required=True)
    p_run.add_argument("--json", required=True)
    _add_rows_flag(p_run)
    p_copy = sub.add_parser("copy", help="copy a finished run's JSON into results/ (optionally with weights)")
    p_copy.add_argument("src")
    p_copy.add_argument("dest")
    p_copy.add_argument("--out-root", default=None, help="the run's folder: add the encoders' per-epoch histories")
    p_copy.add_argument("--weights", default=None, help="also export the first seed's weights into this folder")
    p_copy.add_argument("--add-rows", action="store_true",
                        help="add the run's rows to the existing table DEST (same configuration but its rows; the "
                             "rows already there are kept as they are)")
    p_run.set_defaults(_tables_parser=p_run)
    p_copy.set_defaults(_tables_parser=p_copy)


def run_tables(args: Any, argv: list[str] | None = None) -> int:
    """Run the parsed ``tables run|copy`` (``argv``: the words after ``tables``, recorded as the command); returns 0."""
    parser = args._tables_parser
    if args.cmd == "copy":
        if args.weights is not None and args.out_root is None:
            parser.error("--weights needs --out-root (the run's folder)")
        if args.add_rows:
            if args.weights is not None:
                parser.error("--add-rows exports no weights (the committed weights are the paper's rows'); drop "
                             "--weights")
            try:
                print(add_rows(args.src, args.dest, args.out_root))
            except (ValueError, FileNotFoundError) as err:
                return console.error_line(err)
            return 0
        print(copy_results(args.src, args.dest, args.out_root))
        if args.weights is not None:
            config = TablesConfig.from_recorded(json.loads(Path(args.src).read_text())["metrics"]["config"])
            for path in export_weights(config, args.out_root, args.weights, seed=config.seed).values():
                print(path)
        return 0
    from rrlib.experiments.downstream_tables import collect
    from rrlib.runtime import configure_threads

    configure_threads()
    if args.trials is not None and args.trials < 1:
        parser.error(f"--trials must be a positive integer, got {args.trials}")
    try:
        config = tables_config(args.profile, args.dataset, seed=args.seed, device=args.device, rows=args.rows)
    except ValueError as err:
        return console.error_line(err)
    if args.trials is not None:
        config = replace(config, seeds=tuple(range(args.seed, args.seed + args.trials)))
    config = replace(config, out_root=str(args.out_root))
    command = " ".join([sys.executable, "-m", "rrlib.cli", "tables", *(argv or sys.argv[1:])])
    result = collect(config, log=lambda line: print(time.strftime("%H:%M:%S"), line, flush=True), command=command)
    print(save_json(result, args.json), flush=True)
    return 0
