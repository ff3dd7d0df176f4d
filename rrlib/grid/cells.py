"""The cells of a downstream table's grid: one typed value per training run, its folder and its state.

A table (:class:`~rrlib.grid.config.TablesConfig`) needs, per seed, an encoder per representation (DIM and the
worst-case one), heads on them, and the end-to-end supervised models. Each is a :class:`Cell` with its own
configuration, trained in its own folder under the run's ``out_root`` (named by a hash of that configuration). A
cell is

* ``finished`` — its ``metrics.json`` is there and says so (written once training ended);
* ``partial`` — its folder holds a checkpoint but no finished ``metrics.json`` (a killed or stopped run; it
  continues). An empty or unreadable ``metrics.json`` is not finished work: the run that resumes names it;
* ``missing`` — nothing has been written for it.

Before anything is trained, :func:`check_stored_config` compares a folder's stored configuration (its
``config.json``, else its checkpoint's) with the cell's: a difference is a ``ValueError`` naming the cell, the field
and both values, and nothing is overwritten.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rrlib.grid.config import ENCODER_LOSS, TablesConfig
from rrlib.train.cache import config_hash
from rrlib.train.checkpoint import CheckpointError, read_checkpoint
from rrlib.train.run_folder import CHECKPOINT_FILE, CONFIG_FILE, finished_metrics, read_stored_config

__all__ = ["KINDS", "STATES", "Cell", "CellState", "cell_states", "cells", "check_stored_config", "scored_heads"]

KINDS = ("encoder", "head", "supervised")
STATES = ("finished", "partial", "missing")


@dataclass(frozen=True)
class Cell:
    """One training run of the grid.

    ``kind``: one of :data:`KINDS`; ``loss``: the encoder objective (``"normal"`` DIM, ``"worst"`` Eq. 5.4, and
    beyond the paper ``"worst-infonce"``, ``"adv-contrastive"``) for an encoder, else the head's or model's training
    (``"standard"``, ``"robust"``); ``rep``: the representation row (a key of
    :data:`~rrlib.grid.config.ENCODER_LOSS` or ``"supervised"``; None for an encoder); ``head``: ``"mlp"`` or
    ``"linear"`` (None for an encoder); ``config``: the training configuration; ``path``: its folder relative to
    ``out_root``; ``encoder``: the name of the encoder cell a head sits on."""

    kind: str
    seed: int
    loss: str
    config: Any
    path: str
    rep: str | None = None
    head: str | None = None
    encoder: str | None = None

    @property
    def name(self) -> str:
        """``encoder/<loss>/seed<k>``, ``head/<rep>/<head>/<loss>/seed<k>`` or ``model/supervised/<head>/<loss>/
        seed<k>`` (what ``sweep --cell`` takes and ``--list`` prints)."""
        if self.kind == "encoder":
            return f"encoder/{self.loss}/seed{self.seed}"
        return f"{'model' if self.kind == 'supervised' else 'head'}/{self.rep}/{self.head}/{self.loss}/seed{self.seed}"


def _folder(prefix: str, config: Any) -> str:
    return f"{prefix}-{config_hash(config)[:10]}"


def _encoder_cell(config: TablesConfig, rep: str, seed: int) -> Cell:
    loss = ENCODER_LOSS[rep]
    enc = config.encoder_config(loss, seed)
    return Cell("encoder", seed, loss, enc, "encoders/" + _folder(f"{loss}-seed{seed}", enc))


def cells(config: TablesConfig) -> list[Cell]:
    """The training runs ``config`` needs, in training order (seed by seed; encoders before the heads on them)."""
    out: list[Cell] = []
    for seed in config.seeds:
        reps = {row.split("/")[0] for row in config.rows}
        out += [_encoder_cell(config, rep, seed) for rep in ENCODER_LOSS if rep in reps]
        for row in config.rows:
            rep, loss = row.split("/")
            loss = "standard" if loss == "standard_es" else loss
            for head in config.heads:
                if rep == "supervised":
                    sup = config.supervised_config(head, loss, seed)
                    cell = Cell("supervised", seed, loss, sup, "supervised/" + _folder(f"{head}-{loss}-seed{seed}",
                                                                                      sup), rep=rep, head=head)
                else:
                    hc = config.head_config(head, loss, seed)
                    cell = Cell("head", seed, loss, hc, "heads/" + _folder(f"{rep}-{head}-{loss}-seed{seed}", hc),
                                rep=rep, head=head, encoder=_encoder_cell(config, rep, seed).name)
                if all(c.name != cell.name for c in out):
                    out.append(cell)
    return out


def scored_heads(cell: Cell, config: TablesConfig) -> tuple[str, ...]:
    """Which checkpoints of a head cell the table scores: ``final`` for a standard row, ``best`` (the best
    validation-adversarial head; ``final`` when there is no validation split) for E.S. and robust rows."""
    best = "best" if cell.config.val_size > 0 else "final"
    if cell.loss == "robust":
        return (best,)
    wanted = ("final",) if f"{cell.rep}/standard" in config.rows else ()
    if f"{cell.rep}/standard_es" in config.rows:
        wanted += (best,) if best not in wanted else ()
    return wanted


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
    wanted = json.loads(json.dumps(asdict(state.cell.config)))
    for name in sorted(set(wanted) | set(stored)):
        if stored.get(name, "<absent>") != wanted.get(name, "<absent>"):
            raise ValueError(f"cell {state.cell.name}: {state.folder} holds another configuration: {name} is "
                             f"{stored.get(name, '<absent>')!r} there but {wanted.get(name, '<absent>')!r} is asked "
                             "for; use another out-root (nothing was overwritten)")
