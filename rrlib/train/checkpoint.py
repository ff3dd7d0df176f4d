"""Atomic checkpoints: a crash or a kill never leaves a half-written file behind.

:func:`rrlib.runtime.atomic_write` (re-exported here) writes to a temporary file in the destination's folder,
flushes and syncs it to disk (``fsync``), moves it over the destination with ``os.replace`` (atomic on POSIX and
Windows) and syncs the folder. A reader sees either the old file or the new one.

A training checkpoint (:func:`save_checkpoint`) is a dict of tensors and plain Python values, readable with
``torch.load(weights_only=True)``: model, optimizer, scheduler and grad-scaler states, torch's RNG states (CPU
and every CUDA device), the epoch, the step within the epoch, the running sums of the epoch and the history.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from rrlib.runtime import atomic_write, atomic_write_text

__all__ = [
    "CheckpointError",
    "CheckpointFallbackWarning",
    "atomic_write",
    "atomic_write_text",
    "check_resumable",
    "load_checkpoint",
    "previous_path",
    "read_checkpoint",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
]


def rng_state() -> dict[str, Any]:
    """torch's global RNG states: the CPU generator and every visible CUDA device."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned (CUDA states only where CUDA is present)."""
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = [s.cpu() for s in state["cuda"]]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)


def previous_path(path: str | os.PathLike) -> Path:
    """Where :func:`save_checkpoint` keeps the checkpoint it replaced: ``<path>.prev``."""
    path = Path(path)
    return path.with_name(path.name + ".prev")


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any], *, keep_previous: bool = True) -> Path:
    """Atomically ``torch.save`` ``state`` to ``path``; the checkpoint it replaces is kept as ``<path>.prev``.

    The new file is written completely (to a temporary file, synced) before the old one is moved to ``.prev``, so
    at every instant at least one good checkpoint is on disk: if the newest is later damaged (a disk error, a
    truncated copy), the training loop's reader (``rrlib.train.checkpoint.read_checkpoint``) falls back to the
    previous one.
    """
    path = Path(path)
    previous = previous_path(path)
    staged = path.with_name(path.name + ".new")
    atomic_write(staged, lambda f: torch.save(state, f))
    if keep_previous and path.exists():
        os.replace(path, previous)
    os.replace(staged, path)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``: no code is unpickled)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location=map_location, weights_only=True)


class CheckpointError(RuntimeError):
    """A checkpoint folder or file that cannot be used: missing, unfinished, corrupt or of another kind.

    The message names the path and what to do. Nothing on disk is changed when it is raised.
    """


class CheckpointFallbackWarning(UserWarning):
    """The newest checkpoint was damaged and the previous one (``<path>.prev``) was used instead."""


def _load(path: Path, kind: str | None, remedy: str, map_location: str | torch.device) -> dict[str, Any]:
    what = f"{kind} checkpoint" if kind else "checkpoint"
    try:
        saved = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch.load raises many types for a damaged file
        failure = CheckpointError(
            f"the {what} {path} is corrupt or truncated ({type(err).__name__}: {str(err)[:120]}); it "
            f"cannot be repaired. Move it away and train again: {remedy}"
        )
        failure.reason = f"corrupt or truncated ({type(err).__name__})"
        raise failure from err
    if kind is not None and (not isinstance(saved, dict) or saved.get("kind") != kind):
        found = saved.get("kind") if isinstance(saved, dict) else type(saved).__name__
        raise CheckpointError(f"{path} is not a checkpoint of kind {kind!r} (found kind {found!r}): {remedy}")
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path} is not a training checkpoint (it holds a {type(saved).__name__}): {remedy}")
    from rrlib.train.migrate import migrate_record  # old attack names -> today's (migrate imports the cache, and it us)

    return migrate_record(saved)


def read_checkpoint(
    path: str | os.PathLike, *, kind: str | None, remedy: str, map_location: str | torch.device = "cpu",
    fallback: bool = True,
) -> dict[str, Any]:
    """Load the checkpoint at ``path`` and check that its ``"kind"`` entry equals ``kind`` (``None``: any dict).

    Raises :class:`CheckpointError` (never a bare ``EOFError``/``UnpicklingError``/``RuntimeError`` from
    ``torch.load``) when the file is missing, truncated, not a torch file, or a checkpoint of another kind;
    ``remedy`` is the sentence that says what to do instead (e.g. how to train it). With ``fallback`` (default),
    a missing or damaged newest checkpoint falls back to the previous one that :func:`save_checkpoint` kept
    (``<path>.prev``), with a :class:`CheckpointFallbackWarning` naming both files; the damaged file is left in
    place (the next save replaces it).
    """
    path = Path(path)
    previous = previous_path(path)
    what = f"{kind} checkpoint" if kind else "checkpoint"
    if not path.is_file() and not (fallback and previous.is_file()):
        raise CheckpointError(f"no {what} at {path}: {remedy}")
    try:
        if not path.is_file():
            raise CheckpointError(f"no {what} at {path}: {remedy}")
        return _load(path, kind, remedy, map_location)
    except CheckpointError as newest:
        if not (fallback and previous.is_file()):
            raise
        try:
            saved = _load(previous, kind, remedy, map_location)
        except CheckpointError:
            raise newest from None
        reason = getattr(newest, "reason", "missing")
        warnings.warn(f"the {what} {path} is {reason}; resuming from the previous checkpoint {previous} "
                      "(the damaged file is replaced at the next save)", CheckpointFallbackWarning, stacklevel=2)
        return saved


def check_resumable(saved: dict[str, Any], config: Any, path: str | os.PathLike, *, what: str) -> bool:
    """Check that the checkpoint ``saved`` (at ``path``) can be continued as ``config`` (a dataclass with
    ``epochs``); return whether ``config``'s run is already finished.

    Every setting but ``epochs`` must be the same (a constant learning rate makes ``epochs`` only a stopping
    point, so a finished run may be extended: its first epochs are those of the longer run). A checkpoint with more
    epochs than ``config.epochs`` cannot be cut back. Raises ``ValueError`` (naming the path and what to do;
    nothing is changed on disk).
    """
    ours = {k: v for k, v in asdict(config).items() if k != "epochs"}
    stored = saved.get("config")
    theirs = {k: v for k, v in stored.items() if k != "epochs"} if isinstance(stored, dict) else stored
    if theirs != ours:
        if isinstance(theirs, dict):
            keys = sorted(set(ours) | set(theirs))
            diff = ", ".join(f"{k}: {theirs.get(k)!r} there, {ours.get(k)!r} asked" for k in keys
                             if theirs.get(k) != ours.get(k))
        else:
            diff = f"unreadable configuration {stored!r}"
        raise ValueError(f"{path} holds {what} of another configuration (differs in {diff}); use another out_dir "
                         "for this one (nothing was overwritten)")
    done = int(saved["epoch"])
    if done > config.epochs:
        raise ValueError(f"{path} holds {what} trained for {done} epochs, more than the {config.epochs} asked for; "
                         f"ask for epochs >= {done} or use another out_dir (nothing was overwritten)")
    return done >= config.epochs
