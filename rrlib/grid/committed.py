"""Committed results of the tables' grid: the JSON of a finished run in ``results/``, its encoders' histories, and
the exported weights later chapters read (no optimiser state); and the command lines that make them.

A committed file is ``{"metrics": TablesResult.metrics(), "provenance": rrlib.provenance.provenance(...),
"encoders": encoder_histories(...), "note": ...}``: :func:`save_json` writes a run's, :func:`copy_results` checks it
is complete and copies it into the repository, :func:`load_committed` reads it back.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from rrlib.data import canonical_name, get_spec
from rrlib.grid.cells import cells
from rrlib.grid.config import ALL_ROWS, BEYOND_ROWS, ENCODER_LOSS, ROWS, TablesConfig
from rrlib.models import build_model
from rrlib.models.heads import build_head
from rrlib.runtime import atomic_write_text
from rrlib.train.downstream import FrozenEncoderClassifier
from rrlib.train.encoder import PAPER_LOSSES, PixelCritic, PixelEncoder
from rrlib.train.run_folder import CHECKPOINT_FILE, METRICS_FILE

__all__ = ["COMMITTED_RUNS", "MEDIUM_COMMAND", "REPO_ROOT", "TABLES_PROGRAM", "WEIGHT_FILES", "add_rows",
           "copy_command", "copy_results", "encoder_histories", "export_weights", "load_committed",
           "load_exported_models", "medium_command", "rows_view", "save_json", "tables_command"]

#: The program that runs the grid (``rrbook tables``); ``python -m rrlib.experiments.downstream_tables`` is the same.
TABLES_PROGRAM = "python -m rrlib.cli tables"


def tables_command(dataset: str, *, profile: str = "full", trials: int | None = None, out_root: str = "OUT",
                   json_path: str = "run.json") -> str:
    """The command line that runs the downstream table of ``dataset`` in ``profile`` (``trials`` seeds; default the
    profile's), training into ``out_root`` and writing its JSON to ``json_path``."""
    words = [TABLES_PROGRAM, "run", "--profile", profile, "--dataset", dataset]
    words += [] if trials is None else ["--trials", str(trials)]
    return " ".join([*words, "--out-root", out_root, "--json", json_path])


def copy_command(src: str, dest: str, *, out_root: str | None = None, weights: str | None = None) -> str:
    """The command line that copies a finished run's JSON ``src`` into ``dest`` (:func:`copy_results`), adding the
    encoders' histories from ``out_root`` and exporting the first seed's weights into ``weights``."""
    words = [TABLES_PROGRAM, "copy", src, dest]
    words += [] if out_root is None else ["--out-root", out_root]
    return " ".join(words + ([] if weights is None else ["--weights", weights]))


def medium_command(dest: str) -> str:
    """The two commands that make a committed medium run (4 seeds) at ``dest``, with the weights chapter 09 reads."""
    return (tables_command("fashion-mnist", profile="medium", trials=4, out_root="OUT", json_path="run.json") + "; "
            + copy_command("run.json", dest, out_root="OUT", weights="results/weights_medium"))


#: The committed medium-scale runs (``results/``, written by :func:`copy_results` with provenance), per dataset.
COMMITTED_RUNS = {"fashion-mnist": Path("results") / "table4_fashion_mnist_medium.json"}
REPO_ROOT = Path(__file__).resolve().parents[2]
#: :func:`medium_command` with ``{dest}`` left to fill.
MEDIUM_COMMAND = medium_command("{dest}")


def load_committed(dataset: str = "fashion-mnist", root: str | os.PathLike = REPO_ROOT) -> dict[str, Any]:
    """The committed run of ``dataset`` (``{"metrics", "provenance", "encoders"}``), or a clear error saying which
    datasets have one and the command that makes it."""
    key = canonical_name(dataset)
    if key not in COMMITTED_RUNS:
        raise ValueError(f"no committed run for dataset {dataset!r}; valid choices: {sorted(COMMITTED_RUNS)}")
    path = Path(root) / COMMITTED_RUNS[key]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; make it with: {medium_command(str(COMMITTED_RUNS[key]))}")
    return json.loads(path.read_text())


def rows_view(metrics: dict[str, Any], rows: str | tuple[str, ...] = "paper") -> dict[str, Any]:
    """A table's metrics (``TablesResult.metrics()``, or a committed file's ``"metrics"``) restricted to the
    paper's rows (``rows="paper"``), to those beyond it (``"beyond"``) or to a tuple of row names: ``table``,
    ``row_labels``, ``flags`` and ``config.rows`` keep only those rows that the table has (in the order asked);
    everything else is shared with ``metrics``. Chapter 08 and the report read the paper's rows of a table that
    holds both."""
    if isinstance(rows, str):
        if rows not in ("paper", "beyond"):
            raise ValueError(f"rows must be 'paper', 'beyond' or a tuple of row names, got {rows!r}")
        rows = ROWS if rows == "paper" else BEYOND_ROWS
    wanted = [r for r in rows if r in metrics["table"]]
    view = dict(metrics)
    view["table"] = {r: metrics["table"][r] for r in wanted}
    view["row_labels"] = {r: metrics["row_labels"][r] for r in wanted if r in metrics.get("row_labels", {})}
    view["flags"] = {flag: [c for c in cells if c.rsplit("/", 1)[0] in wanted]
                     for flag, cells in metrics.get("flags", {}).items()}
    if "config" in metrics:
        view["config"] = {**metrics["config"], "rows": [r for r in metrics["config"]["rows"] if r in wanted]}
    return view


def save_json(result: Any, path: str | os.PathLike) -> Path:
    """Write ``{"metrics": result.metrics(), "provenance": result.provenance}`` (a tables result) atomically."""
    return atomic_write_text(path, json.dumps({"metrics": result.metrics(), "provenance": result.provenance},
                                              indent=2) + "\n")


def encoder_histories(config: TablesConfig, out_root: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """``{loss: {"seed<k>": {"history": [...], "images": n, "batch_size": b}}}`` of the finished encoder cells of
    ``config`` in ``out_root`` (per-epoch held-out MI estimates and timings, nats and seconds)."""
    out: dict[str, dict[str, Any]] = {}
    for cell in cells(config):
        if cell.kind != "encoder":
            continue
        saved = json.loads((Path(out_root) / cell.path / METRICS_FILE).read_text())
        out.setdefault(cell.config.estimator_loss, {})[f"seed{cell.seed}"] = {
            "history": saved["history"], "images": cell.config.train_subset, "batch_size": cell.config.batch_size}
    return out


#: The representation rows of the paper (the rows beyond it export no weights: no chapter reads them).
PAPER_REPS = ("hjelm", "ours")
#: Files of :func:`export_weights` (state dicts only): encoder and critic per loss, the final standard head on
#: each encoder, the end-to-end Baseline-H models.
WEIGHT_FILES = {"normal": "encoder_normal.pt", "worst": "encoder_worst.pt", "head_normal": "head_on_normal.pt",
                "head_worst": "head_on_worst.pt", "standard": "supervised_standard.pt",
                "robust": "supervised_robust.pt"}


def export_weights(config: TablesConfig, out_root: str | os.PathLike, dest: str | os.PathLike, *, seed: int,
                   head: str = "mlp") -> dict[str, Path]:
    """Write the seed-``seed`` encoders (with their critics), the final standard ``head`` heads on them and the
    ``head`` Baseline-H models of a finished run as bare state dicts (no optimiser) into ``dest`` (chapter 09's
    saliency maps read them; :data:`WEIGHT_FILES` names the files)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for cell in cells(config):
        beyond = (cell.kind == "head" and cell.rep not in PAPER_REPS) or (
            cell.kind == "encoder" and cell.loss not in PAPER_LOSSES)
        if cell.seed != seed or beyond:
            continue
        saved = torch.load(Path(out_root) / cell.path / CHECKPOINT_FILE, map_location="cpu", weights_only=False)
        if cell.kind == "encoder":
            key = cell.config.estimator_loss
            payload = {"config": asdict(cell.config), "encoder": saved["encoder"], "critic": saved["critic"]}
        elif cell.kind == "head" and cell.config.head == head and cell.config.classifier_loss == "standard":
            key = "head_" + ENCODER_LOSS[cell.rep]
            payload = {"config": asdict(cell.config), "head": saved["head"]}
        elif cell.kind == "supervised" and cell.config.head == head:
            key = cell.loss
            payload = {"config": asdict(cell.config), "model": saved["model"]}
        else:
            continue
        path = dest / WEIGHT_FILES[key]
        torch.save(payload, path)
        written[key] = path
    return written


def load_exported_models(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, Any]:
    """The models of an :func:`export_weights` folder, in eval mode: ``normal``/``worst`` → (encoder, critic),
    ``head_normal``/``head_worst`` → a standard head on that frozen encoder, ``standard``/``robust`` → the
    supervised Baseline-H; ``_configs`` → each file's configuration."""
    path = Path(path)
    files = {key: torch.load(path / name, map_location="cpu", weights_only=False) for key, name in WEIGHT_FILES.items()}
    models: dict[str, Any] = {}
    for loss in ("normal", "worst"):
        cfg = files[loss]["config"]
        encoder = PixelEncoder(cfg["dataset"], width=cfg["width"], rep_dim=cfg["rep_dim"])
        critic = PixelCritic(cfg["dataset"], z_dim=cfg["rep_dim"], hidden=cfg["critic_hidden"])
        encoder.load_state_dict(files[loss]["encoder"])
        critic.load_state_dict(files[loss]["critic"])
        models[loss] = (encoder.to(device).eval(), critic.to(device).eval())
        hcfg = files[f"head_{loss}"]["config"]
        head = build_head(hcfg["head"], cfg["rep_dim"], get_spec(cfg["dataset"]).n_classes)
        head.load_state_dict(files[f"head_{loss}"]["head"])
        models[f"head_{loss}"] = FrozenEncoderClassifier(encoder, head.to(device)).eval()
    for kind in ("standard", "robust"):
        cfg = files[kind]["config"]
        model = build_model("baseline_h", cfg["dataset"], head=cfg["head"], width=cfg["width"])
        model.load_state_dict(files[kind]["model"])
        models[kind] = model.to(device).eval()
    models["_configs"] = {k: v["config"] for k, v in files.items()}
    return models


def _finished_run(src: str | os.PathLike) -> dict[str, Any]:
    """A run's JSON (from :func:`save_json`), after checking every configured row and head has one score per seed."""
    data = json.loads(Path(src).read_text())
    metrics = data["metrics"]
    n = len(metrics["seeds"])
    for row in metrics["config"]["rows"]:
        for head in metrics["config"]["heads"]:
            values = metrics["table"][row][head]["natural"]["values"]
            if len(values) != n:
                raise ValueError(f"{src}: {row}/{head} has {len(values)} of {n} seeds; the run is not finished")
    return data


#: Configuration fields that may differ between a committed file and the rows added to it (where a run ran).
_PLACE_FIELDS = ("rows", "device", "data_root", "out_root")


def add_rows(src: str | os.PathLike, dest: str | os.PathLike, out_root: str | os.PathLike | None = None) -> Path:
    """Add the rows of a finished run ``src`` (e.g. ``tables run --rows beyond``) to the committed file ``dest``.

    The rows already in ``dest`` are read back and written unchanged (nothing is recomputed): the new rows, their
    labels, flags and timings are added beside them, ``metrics.config.rows`` lists both (in :data:`ALL_ROWS`'s
    order), and ``provenance`` keeps the original run's while ``added_rows`` records each addition's rows and
    provenance. With ``out_root`` the new encoders' histories join ``"encoders"``. Raises ``ValueError``, writing
    nothing, when the two configurations differ in any field but where they ran (naming it), when a row is in
    both, or when ``src`` is unfinished."""
    new = _finished_run(src)
    base = json.loads(Path(dest).read_text())
    old_config, new_config = base["metrics"]["config"], new["metrics"]["config"]
    for name in sorted(set(old_config) | set(new_config)):
        if name not in _PLACE_FIELDS and old_config.get(name) != new_config.get(name):
            raise ValueError(f"{src} was run with {name} = {new_config.get(name)!r} but {dest} has "
                             f"{old_config.get(name)!r}; rows of different configurations do not go in one table "
                             "(nothing was written)")
    both = sorted(set(old_config["rows"]) & set(new_config["rows"]))
    if both:
        raise ValueError(f"{dest} already holds the rows {both}; nothing was written")
    metrics = base["metrics"]
    added = new["metrics"]
    rows = [r for r in ALL_ROWS if r in (*old_config["rows"], *new_config["rows"])]
    metrics["config"]["rows"] = rows
    table, labels = metrics["table"] | added["table"], metrics["row_labels"] | added["row_labels"]
    metrics["table"] = {r: table[r] for r in rows}
    metrics["row_labels"] = {r: labels[r] for r in rows}
    for flag, cells_flagged in added["flags"].items():
        metrics["flags"].setdefault(flag, []).extend(cells_flagged)
    metrics["timings"].update(added["timings"])
    if out_root is not None:
        histories = encoder_histories(TablesConfig.from_recorded(new_config), out_root)
        base.setdefault("encoders", {}).update({k: v for k, v in histories.items() if k not in base["encoders"]})
    base.setdefault("added_rows", []).append({"rows": list(new_config["rows"]), "provenance": new["provenance"]})
    return atomic_write_text(dest, json.dumps(base, indent=2) + "\n")


def copy_results(src: str | os.PathLike, dest: str | os.PathLike, out_root: str | os.PathLike | None = None) -> Path:
    """Copy a finished run's JSON (from :func:`save_json`) into the repository, after checking it is complete:
    every configured row and head has one score per seed. With ``out_root`` (the run's folder) the encoders'
    per-epoch histories (:func:`encoder_histories`) are added as ``"encoders"``."""
    data = _finished_run(src)
    metrics = data["metrics"]
    if out_root is not None:
        config = TablesConfig.from_recorded(metrics["config"])
        data["encoders"] = encoder_histories(config, out_root)
    Path(dest).parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(dest, json.dumps(data, indent=2) + "\n")
