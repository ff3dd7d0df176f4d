"""Scoring the trained cells of a table: predicted-class shares, the paper's PGD numbers and AutoAttack.

A head or supervised cell is evaluated once; the result is cached in ``evaluation.json`` in its folder under a key
of everything it depends on (the cell's configuration hash, the test subset, AutoAttack's images and version), so
collecting a table again trains and attacks nothing. Scores are in **percent**, like the paper's tables.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rrlib.data import dataset_threat_model, get_spec
from rrlib.grid.cells import Cell, scored_heads
from rrlib.grid.config import TablesConfig
from rrlib.models.heads import build_head
from rrlib.robustness_eval import robustness_report
from rrlib.runtime import atomic_write_text, managed_modes
from rrlib.train.cache import config_hash
from rrlib.train.downstream import FrozenEncoderClassifier

__all__ = ["EVALUATION_FILE", "Images", "evaluate_cell", "prediction_shares", "score_entries"]

EVALUATION_FILE = "evaluation.json"
#: ``(x, y)`` on the device: the scored test images, and AutoAttack's images (None: the column is skipped).
Images = tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor] | None]


def prediction_shares(model: nn.Module, x: torch.Tensor, n_classes: int, batch_size: int = 500) -> list[float]:
    """The fraction of ``x`` that ``model`` assigns to each class (clean images, eval mode)."""
    counts = torch.zeros(n_classes, dtype=torch.long)
    with managed_modes(model), torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            counts += torch.bincount(model(x[i:i + batch_size]).argmax(1).cpu(), minlength=n_classes)
    return (counts.double() / max(x.shape[0], 1)).tolist()


def _evaluate(model: nn.Module, config: TablesConfig, images: Images) -> dict[str, Any]:
    test, aa = images
    spec = get_spec(config.dataset)
    shares = prediction_shares(model, test[0], spec.n_classes)
    top = max(range(len(shares)), key=shares.__getitem__)
    out: dict[str, Any] = {"class_shares": shares, "majority_class": top, "majority_share": shares[top]}
    if aa is not None:
        rep = robustness_report(model, aa[0], aa[1], dataset_threat_model(config.dataset), n_classes=spec.n_classes,
                                seed=0, version=config.autoattack_version)
        out["autoattack_images"] = {"n": rep.n, "natural": 100 * rep.natural, "pgd": 100 * rep.pgd,
                                    "autoattack": 100 * rep.autoattack}
    return out


def _head_model(result: Any, best: bool) -> nn.Module:
    if not best:
        return result.model
    if result.best_head_state is None:
        raise ValueError(f"{result.out_dir} has no best head (val_size = 0); E.S. and robust rows need val_size > 0")
    spec = get_spec(result.config.dataset)
    head = build_head(result.config.head, result.model.encoder.rep_dim, spec.n_classes)
    head.load_state_dict(result.best_head_state)
    dev = next(result.model.head.parameters()).device
    return FrozenEncoderClassifier(result.model.encoder, head.to(dev)).eval()


def _pgd_numbers(cell: Cell, result: Any, which: str) -> dict[str, float] | None:
    """The paper's natural and PGD accuracy (percent) of the ``which`` checkpoint, as its training evaluated it."""
    nums = result.final if cell.kind == "supervised" or which == "final" else result.best
    return None if nums is None else {"natural": 100 * nums["nat_acc"], "adversarial": 100 * nums["adv_acc"]}


def _eval_key(cell: Cell, config: TablesConfig) -> dict[str, Any]:
    return {"cell": config_hash(cell.config), "test_subset": config.test_subset, "autoattack_n": config.autoattack_n,
            "autoattack_version": config.autoattack_version}


def evaluate_cell(cell: Cell, result: Any, folder: Path, config: TablesConfig,
                  images: Images) -> tuple[dict[str, dict[str, Any]], float]:
    """The scored checkpoints of a trained head or supervised ``cell`` (``result``: its training result) →
    evaluation (class shares, majority class and share, AutoAttack on its images, the PGD numbers), read from
    ``folder``'s cache when its key matches, else computed and cached; and the seconds spent computing."""
    path = folder / EVALUATION_FILE
    key = _eval_key(cell, config)
    saved = json.loads(path.read_text()) if path.is_file() else None
    evals: dict[str, dict[str, Any]] = {}
    seconds = 0.0
    if saved is not None and saved.get("key") == key:
        evals = saved["models"]
    else:
        t0 = time.perf_counter()
        if cell.kind == "head":
            models = {name: _head_model(result, name == "best") for name in scored_heads(cell, config)}
        else:
            models = {"final": result.model}
        for name, model in models.items():
            evals[name] = _evaluate(model, config, images)
            evals[name]["wall_seconds"] = time.perf_counter() - t0
        atomic_write_text(path, json.dumps({"key": key, "models": evals}, indent=2) + "\n")
        seconds = time.perf_counter() - t0
    for name, ev in evals.items():
        nums = _pgd_numbers(cell, result, name)
        if nums is not None:
            ev.update(nums)
    return evals, seconds


def score_entries(cell: Cell, evals: dict[str, dict[str, Any]], config: TablesConfig) -> dict[str, dict[str, Any]]:
    """The table rows a head or supervised cell scores (row → one seed's entry: natural, adversarial, AutoAttack,
    class shares, which checkpoint), among ``config.rows``: a standard head gives its row and, where the table has
    one (the worst-case encoder, and the two beyond the paper), the E.S. row (its best checkpoint); a robust head its
    best checkpoint."""
    best = "best" if "best" in evals else "final"
    targets = {f"{cell.rep}/{cell.loss}": best if cell.loss == "robust" and cell.kind == "head" else "final"}
    if cell.kind == "head" and cell.loss == "standard":
        targets[f"{cell.rep}/standard_es"] = best
    out: dict[str, dict[str, Any]] = {}
    for row, which in targets.items():
        if row not in config.rows or which not in evals or cell.head not in config.heads:
            continue
        ev = evals[which]
        out[row] = {"seed": cell.seed, "natural": ev["natural"], "adversarial": ev["adversarial"],
                    "autoattack": ev["autoattack_images"]["autoattack"] if "autoattack_images" in ev else None,
                    "majority_class": ev["majority_class"], "majority_share": ev["majority_share"],
                    "class_shares": ev["class_shares"], "autoattack_images": ev.get("autoattack_images"),
                    "which": which, "cell": cell.name}
    return out
