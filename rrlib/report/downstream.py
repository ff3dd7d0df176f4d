"""Chapter 08's inputs beside its own run of the tables experiment (:mod:`rrlib.experiments.downstream_tables`):
the committed medium run's provenance as the page quotes it, the attack ladder on that run's exported models, and
the command line that runs one of Tables 1/3/4/5.

Everything here reads committed files (``results/``) or calls the library; nothing is rendered (tables and
sentences: :mod:`rrlib.rendering.section5`). Accuracies are fractions in ``[0, 1]``, times in minutes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from rrlib.data import dataset_threat_model, load_dataset, subset
from rrlib.grid.committed import REPO_ROOT, TABLES_PROGRAM, load_exported_models, tables_command
from rrlib.robustness_eval import attack_ladder

__all__ = ["LADDER_IMAGES", "LADDER_MODELS", "TABLES_PROGRAM", "committed_ladders", "medium_run_summary",
           "paper_comparison", "table_command"]

#: Test images the ladder attacks (one image = 100 / 64 ≈ 1.6 points).
LADDER_IMAGES = 64
#: The committed models the ladder attacks: ladder name → key of :func:`downstream_tables.load_exported_models`.
LADDER_MODELS = {"supervised_robust": "robust", "ours_standard_head": "head_worst"}
#: Where the committed medium run's seed-0 weights are (:func:`downstream_tables.export_weights`).
MEDIUM_WEIGHTS = REPO_ROOT / "results" / "weights_medium"


def table_command(dataset: str, *, profile: str = "full", out_root: str | None = None,
                  json_path: str | None = None) -> str:
    """The command that runs the downstream table of ``dataset`` in ``profile``, training into ``out_root`` (default
    ``runs/table-<dataset>``) and writing its metrics to ``json_path`` (default ``runs/table-<dataset>.json``):
    :func:`rrlib.grid.committed.tables_command` with the report's default folders."""
    return tables_command(dataset, profile=profile,
                          out_root=f"runs/table-{dataset}" if out_root is None else out_root,
                          json_path=f"runs/table-{dataset}.json" if json_path is None else json_path)


def medium_run_summary(committed: Mapping[str, Any]) -> dict[str, Any]:
    """What the page says about a committed run (:func:`downstream_tables.load_committed`): its commit, command,
    machine, note and number of seeds; ``wall_minutes`` (the provenance's ``wall_seconds_total``: the sum of every
    training run's wall time and the collection, *not* the elapsed time when runs went side by side); ``runs``, each
    training run's wall time in words (``wall_seconds_runs``); ``epochs``, the range of the run's training epochs
    (encoders, heads, supervised models)."""
    prov = committed["provenance"]
    config = committed["metrics"].get("config", {})
    runs = prov.get("wall_seconds_runs") or {}
    words = [f"{name}: {seconds:,.0f} s" for name, seconds in runs.items()]
    epochs = [config[k] for k in ("encoder_epochs", "head_epochs", "supervised_epochs") if k in config]
    return {"git_commit": prov["git_commit"], "command": prov["command"],
            "wall_minutes": prov["wall_seconds_total"] / 60, "machine": prov["machine"],
            "note": committed.get("note", ""), "n_seeds": len(committed["metrics"]["seeds"]),
            "runs": ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + (words[-1] if words else ""),
            "epochs": f"{min(epochs)}–{max(epochs)}" if epochs and min(epochs) != max(epochs)
            else str(epochs[0]) if epochs else "?"}


def paper_comparison(metrics: Mapping[str, Any]) -> dict[str, int]:
    """How a run's means sit against the paper's: of the natural and PGD cells (``cells``) how many are higher
    than the paper's (``higher``), and of the PGD cells alone (``pgd_cells``, ``pgd_higher``); ``metrics`` is a
    downstream table's metrics whose cells carry the paper's ``(mean, std)`` under ``paper``."""
    out = {"cells": 0, "higher": 0, "pgd_cells": 0, "pgd_higher": 0}
    for by_head in metrics["table"].values():
        for cell in by_head.values():
            for column in ("natural", "adversarial"):
                if cell.get(column) is None:
                    continue
                higher = cell[column]["mean"] > cell["paper"][column][0]
                out["cells"] += 1
                out["higher"] += higher
                if column == "adversarial":
                    out["pgd_cells"] += 1
                    out["pgd_higher"] += higher
    return out


def committed_ladders(dataset: str, *, seed: int = 0, data_root: str | os.PathLike | None = None,
                      weights: str | os.PathLike = MEDIUM_WEIGHTS,
                      n_images: int = LADDER_IMAGES) -> dict[str, dict[str, float]]:
    """:func:`rrlib.robustness_eval.attack_ladder` of each model of :data:`LADDER_MODELS` (exported in ``weights``)
    on the same ``n_images`` test images of ``dataset`` (a stratified subset drawn with ``seed``), at the dataset's
    threat model: per model, accuracy (fraction) naturally and under each attack."""
    exported = load_exported_models(weights)
    x, y = subset(load_dataset(dataset, "test", root=data_root), n_images, seed).tensors()
    if len(y) != n_images:
        raise ValueError(f"the {dataset} test split has {len(y)} images, fewer than the ladder's {n_images}")
    threat = dataset_threat_model(dataset)
    return {name: attack_ladder(exported[key], x, y, threat, seed=seed) for name, key in LADDER_MODELS.items()}
