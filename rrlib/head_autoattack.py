"""AutoAttack accuracy of a trained head, added to its ``metrics.json`` once: the policy behind ``rrbook
train-classifier --autoattack N``.

:func:`add_autoattack` reuses the numbers already in ``metrics.json`` when they belong to the same heads (same
configuration hash, same final epoch) and the same number of test images; otherwise it evaluates the final and the
best head with AutoAttack (standard version, :func:`rrlib.train.downstream.autoattack_evaluation`) and merges the
accuracies into the metrics (``autoattack`` settings; ``autoattack_accuracy`` of ``final`` and ``best``), written
atomically.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["add_autoattack", "same_autoattack"]


def _read_json(path: Path) -> dict[str, Any] | None:
    """The stored metrics (old attack names read as today's, :mod:`rrlib.train.migrate`), ``None`` if unreadable."""
    from rrlib.train.migrate import migrate_record

    try:
        return migrate_record(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def same_autoattack(previous: dict[str, Any], metrics: dict[str, Any], n_images: int) -> bool:
    """Whether ``previous`` (the stored metrics) holds AutoAttack numbers of the heads of ``metrics`` on
    ``n_images`` test images."""
    old = previous.get("autoattack")
    return (old is not None and old.get("n_images") == n_images
            and previous.get("final", {}).get("epoch") == metrics["final"]["epoch"]
            and previous.get("config_hash") == metrics["config_hash"])


def add_autoattack(result: Any, metrics_file: Path, n_images: int, *, data_root: str | Path | None = None,
                   log: Callable[[str], None] = print) -> dict[str, Any]:
    """The metrics of ``result`` (a finished :func:`rrlib.train.downstream.train_classifier`) with AutoAttack
    accuracy of its heads on ``n_images`` test images: reused from ``metrics_file`` or computed, merged and written
    there. Raises ``ImportError`` (no torchattacks) or ``ValueError`` (bad ``n_images``)."""
    from rrlib.runtime import atomic_write_text
    from rrlib.train.downstream import autoattack_evaluation

    metrics = result.metrics()
    previous = _read_json(metrics_file) or {}
    if same_autoattack(previous, metrics, n_images):
        log("AutoAttack: reusing the numbers in metrics.json (same heads, same images)")
        return previous
    log(f"AutoAttack (standard version) on {n_images} test images ...")
    aa = autoattack_evaluation(result, n_images, data_root=data_root)
    metrics["autoattack"] = aa["settings"]
    metrics["final"]["autoattack_accuracy"] = aa["final"]
    if metrics["best"] is not None:
        metrics["best"]["autoattack_accuracy"] = aa["best"]
    atomic_write_text(metrics_file, json.dumps(metrics, indent=2) + "\n")
    return metrics
