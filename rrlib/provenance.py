"""Where a committed number came from: the git commit of the code, the command, the machine and the wall time.

One module for every committed result (the tables' runs in ``results/``, and any other JSON a chapter reads from
``results/``), so that each records the same fields the same way.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

__all__ = ["git_commit", "machine", "provenance"]

_HERE = Path(__file__).resolve().parent


def git_commit(where: str | os.PathLike = _HERE) -> str | None:
    """The commit checked out at ``where`` (``-dirty`` appended when tracked files differ from it); None outside a
    git checkout or without git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("-dirty" if dirty else "")


def machine(device: str | torch.device | None = None) -> dict[str, Any]:
    """Platform, Python, CPU count, torch version and threads, the device used (``None``: not recorded) and the
    CUDA device's name when there is one."""
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "device": None if device is None else str(device),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def provenance(config: Any = None, timings: dict[str, Any] | None = None, total_seconds: float | None = None,
               command: str | None = None, device: str | torch.device | None = None) -> dict[str, Any]:
    """Git commit, command (default: this process's), configuration (a dataclass, recorded with ``asdict``) and its
    ``seeds`` when it has them, :func:`machine`, wall seconds per unit of work (``timings``) and in total."""
    return {
        "git_commit": git_commit(),
        "command": command if command is not None else " ".join([sys.executable, *sys.argv]),
        "config": None if config is None else dataclasses.asdict(config),
        "seeds": None if config is None or not hasattr(config, "seeds") else list(config.seeds),
        "machine": machine(device),
        "wall_seconds_per_cell": timings or {},
        "wall_seconds_total": total_seconds,
    }
