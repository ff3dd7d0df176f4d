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
from pathlib import Path
from typing import Any

import torch

from rrlib.runtime import atomic_write, atomic_write_text

__all__ = ["atomic_write", "atomic_write_text", "load_checkpoint", "rng_state", "save_checkpoint", "set_rng_state"]


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


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Atomically ``torch.save`` ``state`` to ``path``."""
    return atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``: no code is unpickled)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location=map_location, weights_only=True)
