"""The one orchestrator of a table's grid: train the cells that are not finished and, for a table, score them.

:func:`run_grid` serves both faces of the grid: ``rrbook sweep`` (train the missing and partial cells, or one, and
score nothing: ``evaluate=False``) and the tables experiment (:func:`rrlib.experiments.downstream_tables.run`:
every cell trained or loaded, then scored and collected). It never recomputes a finished cell; before anything is
trained it checks every existing cell folder's stored configuration (:func:`~rrlib.grid.cells.check_stored_config`)
and that each head's encoder will be there, so a refused run has written nothing. Each cell is trained in its run
folder (:mod:`rrlib.train.run_folder`: locked, and its ``config.json`` written once the run is accepted).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rrlib import distributed as dist
from rrlib.data import load_dataset, subset
from rrlib.grid.cells import Cell, CellState, cell_states, cells, check_stored_config
from rrlib.grid.config import TablesConfig
from rrlib.grid.evaluation import Images, evaluate_cell, score_entries
from rrlib.runtime import select_device
from rrlib.train.downstream import train_classifier
from rrlib.train.encoder import train_encoder
from rrlib.train.fit import epoch_seconds
from rrlib.train.run_folder import CHECKPOINT_FILE, finished_metrics
from rrlib.train.supervised import train_model

__all__ = ["GridRun", "run_grid", "sweep", "train_cell"]

Log = Callable[[str], None] | None


@dataclass
class GridRun:
    """What :func:`run_grid` did: ``ran`` — ``(cell name, state before)`` of every cell trained (or, with
    ``dry_run``, that would be); with ``evaluate``, ``scores[row][head]`` (one entry per seed, percent) and
    ``timings`` per cell; ``seconds`` in all."""

    ran: list[tuple[str, str]] = field(default_factory=list)
    scores: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    timings: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0


def train_cell(cell: Cell, out_root: Path, config: TablesConfig, *, encoders: dict[str, Cell] | None = None,
               show_progress: bool = False) -> tuple[Any, bool]:
    """Train (or load) one cell; returns its result and whether anything was trained.

    A head's encoder is the cell named ``cell.encoder`` in ``encoders`` (by name; default: the grid's own cells of
    ``config``, so a caller that changes an encoder's configuration, as the temperature sweep does, passes its
    cells).
    """
    folder = out_root / cell.path
    kw = {"device": config.device, "data_root": config.data_root, "show_progress": show_progress}
    trained = finished_metrics(folder)[0] is None  # the loops write config.json and metrics.json (run folders)
    if cell.kind == "encoder":
        return train_encoder(cell.config, folder, **kw), trained
    if cell.kind == "head":
        encoder = (encoders or {c.name: c for c in cells(config)})[cell.encoder]
        return train_classifier(cell.config, out_root / encoder.path, folder, **kw), trained
    res = train_model(cell.config, device=config.device, checkpoint_path=folder / CHECKPOINT_FILE,
                      data_root=config.data_root, show_progress=show_progress)
    return res, trained


def _chosen(states: list[CellState], only: str | None, evaluate: bool) -> list[CellState]:
    """The cells to visit, after the checks that must pass before anything is written."""
    by_name = {s.cell.name: s for s in states}
    if only is not None and only not in by_name:
        raise ValueError(f"unknown cell {only!r} for this profile and dataset; valid choices: {list(by_name)}")
    for state in states:
        check_stored_config(state)
    chosen = [by_name[only]] if only is not None else states
    todo = [s for s in chosen if evaluate or s.state != "finished"]
    for state in todo:
        if state.cell.kind == "head" and state.state != "finished":
            encoder = by_name[state.cell.encoder]
            if encoder.state != "finished" and encoder not in todo:
                raise ValueError(f"cell {state.cell.name} needs the encoder cell {encoder.cell.name}, which is "
                                 f"{encoder.state}; run it first (--cell {encoder.cell.name})")
    return todo


def _images(config: TablesConfig) -> Images:
    dev = select_device(config.device)
    test = load_dataset(config.dataset, "test", root=config.data_root)
    scored = tuple(t.to(dev) for t in subset(test, config.test_subset, 0).tensors())
    aa = None if config.autoattack_n == 0 else tuple(t.to(dev) for t in subset(test, config.autoattack_n, 0).tensors())
    return scored, aa


def run_grid(config: TablesConfig, out_root: str | os.PathLike, *, only: str | None = None, evaluate: bool = True,
             dry_run: bool = False, log: Log = print) -> GridRun:
    """Train the cells of ``config`` under ``out_root`` that are not finished (only the cell named ``only``, if
    given) and, with ``evaluate``, score every cell and collect the table (see the module docstring).

    Raises ``ValueError`` for an unknown cell name (naming the valid ones), a folder holding another configuration,
    or a head cell whose encoder cell is not finished and not about to be; nothing is trained or written then.
    """
    out_root = Path(out_root)
    start = time.perf_counter()
    states = dist.from_main(lambda: cell_states(config, out_root))
    todo = _chosen(states, only, evaluate)
    run = GridRun(scores={r: {h: [] for h in config.heads} for r in config.rows})
    if only is not None and not todo and log is not None:
        log(f"{only}: finished (in {next(s.folder for s in states if s.cell.name == only)}); nothing to do")
    images = _images(config) if evaluate and not dry_run else None
    for i, state in enumerate(todo, 1):
        cell = state.cell
        if dry_run or not evaluate:
            if log is not None:
                log(f"[{i}/{len(todo)}] {cell.name} ({state.state}){' would run' if dry_run else ''} "
                    f"-> {state.folder}")
            run.ran.append((cell.name, state.state))
        if dry_run:
            continue
        tick = time.perf_counter()
        result, trained = train_cell(cell, out_root, config)
        train_s = time.perf_counter() - tick
        if not result.finished:
            raise RuntimeError(f"cell {cell.name} did not finish training in {state.folder}")
        if evaluate and trained:
            run.ran.append((cell.name, state.state))
        if not evaluate:
            continue
        line = f"[{i}/{len(todo)}] {cell.name}: {'trained' if trained else 'loaded'} in {train_s:.1f} s"
        eval_s = 0.0
        if cell.kind == "encoder":
            last = result.history[-1]
            if "heldout_mi_normal" in last:
                line += (f" | heldout MI normal {last['heldout_mi_normal']:.3f} worst "
                         f"{last['heldout_mi_worst']:.3f} nats")
            else:  # adv-contrastive: its own objective, NT-Xent of clean and attacked held-out view pairs
                line += (f" | heldout NT-Xent clean {last['heldout_ntxent']:.3f} attacked "
                         f"{last['heldout_ntxent_adv']:.3f} nats")
        else:
            evals, eval_s = evaluate_cell(cell, result, state.folder, config, images)
            for name, ev in evals.items():
                if "natural" in ev:
                    aa_txt = f" AA {ev['autoattack_images']['autoattack']:.1f}" if "autoattack_images" in ev else ""
                    line += (f" | {name}: nat {ev['natural']:.1f} adv {ev['adversarial']:.1f}{aa_txt} "
                             f"(majority {ev['majority_share']:.2f})")
            for row, entry in score_entries(cell, evals, config).items():
                run.scores[row][cell.head].append(entry)
        run.timings[cell.name] = {"train_seconds_this_run": train_s, "eval_seconds_this_run": eval_s,
                                  "trained_this_run": trained,
                                  "recorded_train_seconds": float(sum(epoch_seconds(r) for r in result.history))}
        if log is not None:
            log(line + f" | eval {eval_s:.1f} s | total {time.perf_counter() - start:.0f} s")
    run.seconds = time.perf_counter() - start
    return run


def sweep(config: TablesConfig, out_root: str | os.PathLike, *, cell: str | None = None, dry_run: bool = False,
          log: Log = print) -> list[tuple[str, str]]:
    """``rrbook sweep`` as a library call: :func:`run_grid` without scoring, training the missing and partial cells
    (or only ``cell``); returns ``(cell name, state before)`` of each cell trained (or, with ``dry_run``, that would
    be)."""
    return run_grid(config, out_root, only=cell, evaluate=False, dry_run=dry_run, log=log).ran
