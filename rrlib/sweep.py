"""The training grid of Tables 1, 3, 4, 5 as a sweep of cells: list their states, run the missing ones, or one.

The cells are those of :func:`rrlib.experiments.downstream_tables.cells` (encoders, heads and supervised models;
trials × rows × heads of a dataset), each in its own folder under ``out_root`` named by a hash of its
configuration. A cell is

* ``finished`` — its ``metrics.json`` is there and says so (written once training ended);
* ``partial`` — its folder holds a checkpoint but no finished ``metrics.json`` (a killed or stopped run; it
  continues). An empty or unreadable ``metrics.json`` is not finished work: the run that resumes names it;
* ``missing`` — nothing has been written for it.

:func:`sweep` runs the missing and partial cells in order (encoders before the heads on them), or just one
(``cell=``, so that a scheduler or a torchrun job can run one cell each); it never recomputes a finished cell.
Before anything is trained, every existing cell folder's stored configuration (its ``config.json``, else its
checkpoint's) is compared with the requested one: a difference is a ``ValueError`` naming the cell, the field and
both values, and nothing is overwritten; a ``config.json`` that is not JSON or holds no configuration is a
``ValueError`` naming the file. Each cell is trained in its run folder (:mod:`rrlib.train.run_folder`: locked, and
its ``config.json`` written once the run is accepted). Collecting the table afterwards (``python -m
rrlib.experiments.downstream_tables run`` with the same profile and out-root) trains nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from rrlib import distributed as dist
from rrlib.data import canonical_name
from rrlib.experiments.downstream_tables import Cell, TablesConfig, cells, train_cell
from rrlib.paper import TABLES
from rrlib.train.checkpoint import CheckpointError, read_checkpoint
from rrlib.train.run_folder import CHECKPOINT_FILE, CONFIG_FILE, finished_metrics, read_stored_config

__all__ = ["PROFILES", "STATES", "CellState", "cell_states", "check_stored_config", "sweep", "tables_config"]

PROFILES = ("quick", "medium", "full")
STATES = ("finished", "partial", "missing")


def tables_config(profile: str, dataset: str, *, seed: int = 0, device: str = "auto",
                  data_root: str | None = None) -> TablesConfig:
    """The :class:`TablesConfig` of ``profile`` (``quick``, ``medium``, ``full``) for ``dataset`` (a dataset with a
    downstream table in the paper). Bad names raise ``ValueError`` naming the value and the valid choices."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid choices: {list(PROFILES)}")
    try:
        key = canonical_name(dataset)
    except (TypeError, ValueError):
        key = None
    if key not in TABLES:
        raise ValueError(f"dataset {dataset!r} has no downstream table in the paper; valid choices: {sorted(TABLES)}")
    if profile == "full":
        return replace(TablesConfig.full(seed=seed, device=device, dataset=key), data_root=data_root)
    return replace(getattr(TablesConfig, profile)(seed=seed, device=device), dataset=key, data_root=data_root)


@dataclass(frozen=True)
class CellState:
    """One cell, its folder and its state (one of :data:`STATES`)."""

    cell: Cell
    folder: Path
    state: str


def _state(folder: Path) -> str:
    if finished_metrics(folder)[0] is not None:
        return "finished"
    if (folder / CHECKPOINT_FILE).is_file() or (folder / (CHECKPOINT_FILE + ".prev")).is_file():
        return "partial"
    return "missing"


def cell_states(config: TablesConfig, out_root: str | os.PathLike) -> list[CellState]:
    """Every cell of ``config`` with its folder under ``out_root`` and its state, in training order."""
    root = Path(out_root)
    return [CellState(c, root / c.path, _state(root / c.path)) for c in cells(config)]


def _plain(config: Any) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(config)))


def _stored_config(folder: Path) -> dict[str, Any] | None:
    """The configuration stored in a cell folder: ``config.json``, else the checkpoint's; None when neither.

    A ``config.json`` that is empty, not JSON or without its configuration is a ``ValueError`` naming the file."""
    if (folder / CONFIG_FILE).is_file():
        return read_stored_config(folder / CONFIG_FILE, flag="--out-root")[1]
    if (folder / CHECKPOINT_FILE).is_file():
        try:
            saved = read_checkpoint(folder / CHECKPOINT_FILE, kind=None, remedy=f"move {folder} away")
        except CheckpointError:
            return None  # a damaged checkpoint: the training function reports it (or falls back to .prev)
        stored = saved.get("config")
        return json.loads(json.dumps(stored)) if isinstance(stored, dict) else None
    return None


def check_stored_config(state: CellState) -> None:
    """Raise ``ValueError`` when the cell's folder holds another configuration than the cell's (nothing changes)."""
    stored = _stored_config(state.folder)
    if stored is None:
        return
    wanted = _plain(state.cell.config)
    for name in sorted(set(wanted) | set(stored)):
        if stored.get(name, "<absent>") != wanted.get(name, "<absent>"):
            raise ValueError(f"cell {state.cell.name}: {state.folder} holds another configuration: {name} is "
                             f"{stored.get(name, '<absent>')!r} there but {wanted.get(name, '<absent>')!r} is asked "
                             "for; use another out-root (nothing was overwritten)")


def sweep(config: TablesConfig, out_root: str | os.PathLike, *, cell: str | None = None, dry_run: bool = False,
          log: Callable[[str], None] | None = print) -> list[tuple[str, str]]:
    """Train the missing and partial cells of ``config`` under ``out_root`` (or only ``cell``); return
    ``(cell name, state before)`` of each cell run (or, with ``dry_run``, that would run).

    Raises ``ValueError`` for an unknown cell name (naming the valid ones), a folder holding another configuration,
    or a head cell whose encoder cell has not finished; nothing is trained or written then.
    """
    states = dist.from_main(lambda: cell_states(config, out_root))
    by_name = {s.cell.name: s for s in states}
    if cell is not None and cell not in by_name:
        raise ValueError(f"unknown cell {cell!r} for this profile and dataset; valid choices: {list(by_name)}")
    chosen = [by_name[cell]] if cell is not None else states
    for state in states:
        check_stored_config(state)
    todo = [s for s in chosen if s.state != "finished"]
    if cell is not None and not todo and log is not None:
        log(f"{cell}: finished (in {by_name[cell].folder}); nothing to do")
    for state in todo:
        if state.cell.kind == "head":
            encoder = by_name[state.cell.encoder]
            if encoder.state != "finished" and encoder not in todo:
                raise ValueError(f"cell {state.cell.name} needs the encoder cell {encoder.cell.name}, which is "
                                 f"{encoder.state}; run it first (--cell {encoder.cell.name})")
    done: list[tuple[str, str]] = []
    for i, state in enumerate(todo, 1):
        if log is not None:
            log(f"[{i}/{len(todo)}] {state.cell.name} ({state.state}){' would run' if dry_run else ''} "
                f"-> {state.folder}")
        if not dry_run:  # the cell's run folder is made, locked and given its config.json by the training loop
            result, _ = train_cell(state.cell, Path(out_root), config)
            if not result.finished:
                raise RuntimeError(f"cell {state.cell.name} did not finish in {state.folder}")
        done.append((state.cell.name, state.state))
    return done
