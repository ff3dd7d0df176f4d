"""Device selection, seeding and progress bars: the only place that knows about hardware."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:<index>", "mps")


def select_device(device: str | torch.device = "auto") -> torch.device:
    """Resolve a device name.

    ``"auto"`` picks CUDA when it is available, else the CPU. ``"cuda"`` / ``"cuda:N"`` require a visible GPU.

    >>> select_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be a string or torch.device, got {device!r}; valid: {DEVICE_CHOICES}")
    name = device.strip().lower()
    if name == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise RuntimeError("device 'mps' was requested but MPS is not available; use 'auto' or 'cpu'")
        return torch.device("mps")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {device!r} was requested but CUDA is not available; use 'auto' or 'cpu'")
        index = name.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise ValueError(
                f"device {device!r}: no such GPU; valid indices are 0..{torch.cuda.device_count() - 1}"
            )
        return torch.device(name)
    raise ValueError(f"unknown device {device!r}; valid choices: {DEVICE_CHOICES}")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices) and return a CPU ``torch.Generator`` seeded with ``seed``.

    Prefer passing explicit generators (the returned one, or :func:`numpy_rng`) to functions that sample.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def seeded(factory: Callable[[], T], seed: int) -> T:
    """``factory()`` run under ``torch.manual_seed(seed)`` with torch's global CPU RNG state restored afterwards.

    Used to build networks (critics, models) whose initialisation depends only on ``seed``, without disturbing the
    random stream of the caller.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory()


def numpy_rng(seed: int | None) -> np.random.Generator:
    """A NumPy ``Generator`` (PCG64) for ``seed``; ``None`` draws fresh entropy."""
    return np.random.default_rng(seed)


def torch_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    return torch.Generator(device=select_device(device)).manual_seed(seed)


def configure_threads(num_threads: int | None = None) -> int:
    """Set torch's intra-op threads (default: ``RRBOOK_THREADS`` or all cores) and return the number used."""
    if num_threads is None:
        num_threads = int(os.environ.get("RRBOOK_THREADS", os.cpu_count() or 1))
    torch.set_num_threads(max(1, num_threads))
    return torch.get_num_threads()


def progress(iterable: Iterable[T], *, desc: str | None = None, total: int | None = None, **kwargs) -> Iterator[T]:
    """A text tqdm progress bar (on stderr, updates at most every 2 s); ``RRBOOK_NO_PROGRESS=1`` silences it.

    The chapter runner sets ``RRBOOK_NO_PROGRESS=1`` so that rendered chapters carry no progress-bar residue; it prints
    its own progress line per chapter. Long runs from ``python -m rrlib.cli`` show the bars.
    """
    from tqdm import tqdm

    kwargs.setdefault("mininterval", 2.0)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("disable", os.environ.get("RRBOOK_NO_PROGRESS") == "1")
    return iter(tqdm(iterable, desc=desc, total=total, **kwargs))
