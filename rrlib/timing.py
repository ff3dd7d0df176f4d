"""Wall-clock timing that is fair on every device: synchronise CUDA around each call, interleave the candidates.

Used by ``benchmarks/``; speed is measured and printed there, never asserted in tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA kernels on ``device`` (a no-op elsewhere), so a timer measures finished work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved_medians(fns: dict[str, Callable[[], object]], repeats: int, device: torch.device) -> dict[str, float]:
    """Median seconds of each function, calling them in turn ``repeats`` times after one warm-up call each.

    Interleaving (a, b, a, b, …) rather than timing each candidate in a block keeps a slow drift of the machine
    (another process, thermal throttling) from landing on one candidate only.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            synchronize(device)
            t0 = time.perf_counter()
            fn()
            synchronize(device)
            times[name].append(time.perf_counter() - t0)
    return {name: float(np.median(v)) for name, v in times.items()}
