"""Tables 1, 3, 4, 5 (Section 6.2): downstream accuracy of heads on learned representations, and the baselines.

Rows (``ROWS``; the paper's labels in ``ROW_LABELS``, as in :data:`rrlib.paper.TABLE_ROWS`):

* ``hjelm/standard``, ``hjelm/robust`` — a head on the DIM encoder (``estimator_loss="normal"``);
* ``ours/standard``, ``ours/standard_es``, ``ours/robust`` — a head on the worst-case encoder (Eq. 5.4); E.S. is
  the *same* standard head run, early-stopped at its best adversarial accuracy on a held-out validation split;
* ``supervised/standard``, ``supervised/robust`` — Baseline-H with that head trained end to end
  (:mod:`rrlib.train.supervised`, the encoder's width).

× heads ``mlp`` / ``linear`` × columns ``natural``, ``adversarial`` (the paper's PGD) and ``autoattack``
(:mod:`rrlib.robustness_eval`, on the first ``autoattack_n`` class-stratified test images). Each cell is
mean ± sample std over ``seeds``: one encoder per seed and loss; its heads and the supervised models use the
same seed. Which head is scored: the final head for standard rows and the supervised rows, the best
validation-adversarial head for ``*/robust`` heads (the paper's "best" checkpoint of a robust h) and for E.S.

Every trained thing is a *cell* (:func:`cells`) in its own folder under ``out_root`` (the folder name carries
a hash of its configuration), trained by the library's resumable functions: a finished cell is loaded, an
interrupted one continues, and its evaluation (predicted-class shares, PGD and AutoAttack on the AutoAttack
images) is cached in ``evaluation.json`` next to it. Numbers are in **percent**, like the paper's tables.

Flags in ``Result.metrics()["flags"]``: cells whose head predicts one class for (almost) every test image
(the paper's 10.00 ± 0.00 "Hjelm Robust / Linear" cells are such constant predictors), cells with natural =
adversarial and zero std (the paper's pattern), and cells where the paper's PGD overstates robustness by more
than 5 points relative to AutoAttack on the same images.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rrlib.data import canonical_name, dataset_threat_model, get_spec, load_dataset, subset
from rrlib.jsonable import to_jsonable
from rrlib.models import build_model
from rrlib.models.heads import build_head
from rrlib.paper import TABLE_ROWS, TABLES
from rrlib.robustness_eval import robustness_report
from rrlib.runtime import atomic_write_text, managed_modes, select_device
from rrlib.train.cache import config_hash
from rrlib.train.downstream import ClassifierConfig, FrozenEncoderClassifier, mean_std, train_classifier
from rrlib.train.encoder import EncoderConfig, PixelCritic, PixelEncoder, train_encoder
from rrlib.train.fit import epoch_seconds
from rrlib.train.run_folder import CHECKPOINT_FILE, METRICS_FILE, finished_metrics
from rrlib.train.supervised import TrainConfig, train_model

__all__ = ["COLUMNS", "HEADS", "ROWS", "ROW_LABELS", "Cell", "TablesConfig", "TablesResult", "cells",
           "export_weights", "load_committed", "load_exported_models", "prediction_shares", "provenance", "run",
           "train_cell"]

ROWS = ("hjelm/standard", "hjelm/robust", "ours/standard", "ours/standard_es", "ours/robust",
        "supervised/standard", "supervised/robust")
ROW_LABELS = dict(zip(ROWS, TABLE_ROWS, strict=True))
HEADS = ("mlp", "linear")
COLUMNS = ("natural", "adversarial", "autoattack")
ENCODER_LOSS = {"hjelm": "normal", "ours": "worst"}
EVALUATION_FILE = "evaluation.json"
CONSTANT_SHARE = 0.99  # a head predicting one class for >= 99% of the test images counts as constant
GAP_POINTS = 5.0


@dataclass(frozen=True)
class TablesConfig:
    """Sizes of one reproduction of a downstream table (see the module docstring); ``device`` and ``data_root``
    do not change the numbers' identity (cells are keyed by their own configurations)."""

    dataset: str = "fashion-mnist"
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    rows: tuple[str, ...] = ROWS
    heads: tuple[str, ...] = HEADS
    # encoders g (both losses)
    encoder_train_subset: int | None = None
    width: float = 1.0
    critic_hidden: int = 2048
    encoder_epochs: int = 300
    encoder_batch: int = 128
    encoder_lr: float = 1e-4
    # heads h
    head_epochs: int = 500
    head_batch: int = 128
    head_lr: float = 1e-4
    head_train_subset: int | None = None
    val_size: int = 5000
    test_subset: int | None = None
    eval_every: int = 5
    # fully supervised Baseline-H (same width as the encoder)
    supervised_epochs: int = 300
    supervised_batch: int = 128
    supervised_lr: float = 1e-4
    supervised_train_subset: int | None = None
    # AutoAttack on this many test images (class-stratified, seed 0); 0 = skip the column
    autoattack_n: int = 1000
    autoattack_version: str = "standard"
    device: str = "auto"
    data_root: str | None = None

    def __post_init__(self) -> None:
        key = canonical_name(self.dataset)
        if key not in TABLES:
            raise ValueError(f"dataset {self.dataset!r} has no downstream table in the paper; valid choices: "
                             f"{sorted(TABLES)}")
        object.__setattr__(self, "dataset", key)
        for name, valid in (("rows", ROWS), ("heads", HEADS)):
            values = tuple(getattr(self, name))
            bad = [v for v in values if v not in valid]
            if bad or not values or len(set(values)) != len(values):
                raise ValueError(f"{name} must be distinct names from {valid}, got {values!r}"
                                 + (f" (unknown: {bad})" if bad else ""))
            object.__setattr__(self, name, values)
        seeds = tuple(self.seeds)
        if not seeds or len(set(seeds)) != len(seeds) or not all(isinstance(s, int) and s >= 0 for s in seeds):
            raise ValueError(f"seeds must be distinct non-negative integers, got {seeds!r}")
        object.__setattr__(self, "seeds", seeds)
        if not isinstance(self.autoattack_n, int) or self.autoattack_n < 0:
            raise ValueError(f"autoattack_n must be a non-negative integer, got {self.autoattack_n!r}")
        self._configs(seeds[0])  # fail now on bad sizes, not after an hour of training

    @classmethod
    def from_recorded(cls, recorded: dict[str, Any]) -> TablesConfig:
        """The configuration back from its recorded JSON (``metrics()["config"]``: lists where fields are tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in recorded.items()})

    @property
    def seed(self) -> int:
        """The first seed (the profiles' ``seed`` argument); the table averages over all of ``seeds``."""
        return self.seeds[0]

    @classmethod
    def quick(cls, seed: int = 0, device: str = "auto") -> TablesConfig:
        """Tiny (≈1–2 min on one CPU core): 2 seeds, 512 images, 1–2 epochs, AutoAttack on 20 images."""
        return cls(seeds=(seed, seed + 1), encoder_train_subset=512, width=0.125, critic_hidden=16,
                   encoder_epochs=1, encoder_batch=64, encoder_lr=1e-3, head_epochs=2, head_batch=64, head_lr=1e-3,
                   head_train_subset=640, val_size=128, test_subset=200, eval_every=1, supervised_epochs=1,
                   supervised_batch=64, supervised_lr=1e-3, supervised_train_subset=512, autoattack_n=20,
                   device=device)

    @classmethod
    def medium(cls, seed: int = 0, device: str = "auto") -> TablesConfig:
        """All of Table 4 in about 60–75 min on one CPU core. Pilot (one thread, 2-core machine shared with other
        work): at width 0.25 / critic 128 / batch 128 one ``worst`` encoder epoch on 12,000 images takes ~78 s
        (~154 img/s, held-out estimates included), a ``normal`` one ~15 s, a robust MLP head epoch on 5,000 images
        with its PGD evaluation ~9 s, a robust Baseline-H epoch on 5,500 ~8 s, AutoAttack ~0.45 s per image that
        survives it. Deviations from the paper, all for time: 12,000 encoder images × 10 epochs, 5,500
        head/supervised images (500 of them validation for heads) × 8 epochs, larger learning rates (5e-4
        encoders, 1e-3 heads and supervised), 1,000 test images, AutoAttack on 200."""
        return cls(seeds=(seed, seed + 1), encoder_train_subset=12000, width=0.25, critic_hidden=128,
                   encoder_epochs=10, encoder_batch=128, encoder_lr=5e-4, head_epochs=8, head_batch=128,
                   head_lr=1e-3, head_train_subset=5500, val_size=500, test_subset=1000, eval_every=2,
                   supervised_epochs=8, supervised_batch=128, supervised_lr=1e-3, supervised_train_subset=5500,
                   autoattack_n=200, device=device)

    @classmethod
    def full(cls, seed: int = 0, device: str = "auto", dataset: str = "fashion-mnist") -> TablesConfig:
        """The paper's protocol (REFERENCE.md §5.3, §7): all data, width 1, critic 2048, 300 encoder and
        supervised epochs, 500 head epochs (README), Adam 1e-4, batch 128, 4 trials; AutoAttack on 1,000 images."""
        return cls(dataset=dataset, seeds=tuple(range(seed, seed + 4)), device=device)

    def encoder_config(self, loss: str, seed: int) -> EncoderConfig:
        return EncoderConfig(dataset=self.dataset, train_subset=self.encoder_train_subset, width=self.width,
                             critic_hidden=self.critic_hidden, epochs=self.encoder_epochs,
                             batch_size=self.encoder_batch, lr=self.encoder_lr, estimator_loss=loss, seed=seed)

    def head_config(self, head: str, loss: str, seed: int) -> ClassifierConfig:
        return ClassifierConfig(dataset=self.dataset, head=head, classifier_loss=loss, epochs=self.head_epochs,
                                batch_size=self.head_batch, lr=self.head_lr, train_subset=self.head_train_subset,
                                val_size=self.val_size, test_subset=self.test_subset, eval_every=self.eval_every,
                                seed=seed)

    def supervised_config(self, head: str, loss: str, seed: int) -> TrainConfig:
        eps = dataset_threat_model(self.dataset).eps if loss == "robust" else None
        return TrainConfig(dataset=self.dataset, model="baseline_h", head=head, width=self.width,
                           epochs=self.supervised_epochs, batch_size=self.supervised_batch, lr=self.supervised_lr,
                           adv_eps=eps, eval_every=self.supervised_epochs,
                           train_subset=self.supervised_train_subset, test_subset=self.test_subset, seed=seed)

    def _configs(self, seed: int) -> dict[str, Any]:
        return {"encoder": self.encoder_config("worst", seed), "head": self.head_config("mlp", "robust", seed),
                "supervised": self.supervised_config("mlp", "robust", seed)}


@dataclass(frozen=True)
class Cell:
    """One training run: ``kind`` ``"encoder"`` | ``"head"`` | ``"supervised"``, its configuration, its folder
    (relative to ``out_root``) and, for a head, the encoder cell it sits on."""

    name: str
    kind: str
    seed: int
    config: Any
    path: str
    encoder: str | None = None


def _folder(prefix: str, config: Any) -> str:
    return f"{prefix}-{config_hash(config)[:10]}"


def cells(config: TablesConfig) -> list[Cell]:
    """The training runs ``config`` needs, in the order :func:`run` trains them (seed by seed; encoders first)."""
    out: list[Cell] = []
    for seed in config.seeds:
        needed = {row.split("/")[0] for row in config.rows}
        for rep in ("hjelm", "ours"):
            if rep not in needed:
                continue
            enc = config.encoder_config(ENCODER_LOSS[rep], seed)
            enc_name = f"encoder/{ENCODER_LOSS[rep]}/seed{seed}"
            out.append(Cell(enc_name, "encoder", seed, enc, "encoders/" + _folder(f"{enc.estimator_loss}-seed{seed}",
                                                                                   enc)))
        for row in config.rows:
            rep, loss = row.split("/")
            loss = "standard" if loss == "standard_es" else loss
            for head in config.heads:
                name = f"{'head' if rep != 'supervised' else 'model'}/{rep}/{head}/{loss}/seed{seed}"
                if any(c.name == name for c in out):
                    continue
                if rep == "supervised":
                    sup = config.supervised_config(head, loss, seed)
                    out.append(Cell(name, "supervised", seed, sup,
                                    "supervised/" + _folder(f"{head}-{loss}-seed{seed}", sup)))
                else:
                    hc = config.head_config(head, loss, seed)
                    out.append(Cell(name, "head", seed, hc, "heads/" + _folder(f"{rep}-{head}-{loss}-seed{seed}", hc),
                                    encoder=f"encoder/{ENCODER_LOSS[rep]}/seed{seed}"))
    return out


# ----------------------------------------------------------------------------------------------------- evaluation
def prediction_shares(model: nn.Module, x: torch.Tensor, n_classes: int, batch_size: int = 500) -> list[float]:
    """The fraction of ``x`` that ``model`` assigns to each class (clean images, eval mode)."""
    counts = torch.zeros(n_classes, dtype=torch.long)
    with managed_modes(model), torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            counts += torch.bincount(model(x[i:i + batch_size]).argmax(1).cpu(), minlength=n_classes)
    return (counts.double() / max(x.shape[0], 1)).tolist()


def _evaluate(model: nn.Module, config: TablesConfig, test: tuple[torch.Tensor, torch.Tensor],
              aa: tuple[torch.Tensor, torch.Tensor] | None) -> dict[str, Any]:
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


def _head_model(result, best: bool) -> nn.Module:
    if not best:
        return result.model
    if result.best_head_state is None:
        raise ValueError(f"{result.out_dir} has no best head (val_size = 0); E.S. and robust rows need val_size > 0")
    spec = get_spec(result.config.dataset)
    head = build_head(result.config.head, result.model.encoder.rep_dim, spec.n_classes)
    head.load_state_dict(result.best_head_state)
    dev = next(result.model.head.parameters()).device
    return FrozenEncoderClassifier(result.model.encoder, head.to(dev)).eval()


# ----------------------------------------------------------------------------------------------------- result
@dataclass
class TablesResult:
    """Per-seed scores of every (row, head) and the cells' timings; :meth:`metrics` aggregates."""

    config: TablesConfig
    scores: dict[str, dict[str, list[dict[str, Any]]]]  # row → head → one dict per seed
    timings: dict[str, dict[str, Any]] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> dict[str, Any]:
        """``table[row][head][column] = {"mean", "std", "values"}`` (percent; ``autoattack`` is None when
        skipped), the predicted-class shares, the paper's cell, and the flags."""
        paper = TABLES[self.config.dataset]
        table: dict[str, Any] = {}
        flags: dict[str, list[str]] = {"constant_predictor": [], "equal_natural_adversarial_zero_std": [],
                                       "pgd_exceeds_autoattack_by_5_points": []}
        for row, by_head in self.scores.items():
            table[row] = {}
            for head, per_seed in by_head.items():
                cell: dict[str, Any] = {}
                for col in COLUMNS:
                    values = [s.get(col) for s in per_seed]
                    if any(v is None for v in values):
                        cell[col] = None
                        continue
                    mean, std = mean_std(values)
                    cell[col] = {"mean": mean, "std": std, "values": values}
                cell["seeds"] = [s["seed"] for s in per_seed]
                cell["majority_class"] = [s["majority_class"] for s in per_seed]
                cell["majority_share"] = [s["majority_share"] for s in per_seed]
                cell["constant_predictor"] = all(v >= CONSTANT_SHARE for v in cell["majority_share"])
                nat, adv = cell["natural"], cell["adversarial"]
                cell["equal_natural_adversarial_zero_std"] = bool(
                    all(abs(a - b) < 1e-9 for a, b in zip(nat["values"], adv["values"], strict=True))
                    and nat["std"] == 0.0)
                same = [s.get("autoattack_images") for s in per_seed]
                if all(v is not None for v in same):
                    gap = mean_std([v["pgd"] - v["autoattack"] for v in same])[0]
                    cell["pgd_minus_autoattack_same_images"] = gap
                    cell["autoattack_images"] = same
                    if gap > GAP_POINTS:
                        flags["pgd_exceeds_autoattack_by_5_points"].append(f"{row}/{head}")
                if cell["constant_predictor"]:
                    flags["constant_predictor"].append(f"{row}/{head}")
                if cell["equal_natural_adversarial_zero_std"]:
                    flags["equal_natural_adversarial_zero_std"].append(f"{row}/{head}")
                ref = paper[ROW_LABELS[row]]
                cell["paper"] = {"natural": list(ref[f"{head}_natural"]),
                                 "adversarial": list(ref[f"{head}_adversarial"])}
                table[row][head] = cell
        return {"dataset": self.config.dataset, "units": "percent", "seeds": list(self.config.seeds),
                "row_labels": {r: list(ROW_LABELS[r]) for r in self.scores}, "table": table, "flags": flags,
                "config": to_jsonable(asdict(self.config)), "timings": self.timings}


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("-dirty" if dirty else "")


def provenance(config: TablesConfig | None = None, timings: dict[str, Any] | None = None,
               total_seconds: float | None = None, command: str | None = None) -> dict[str, Any]:
    """Where numbers came from: git commit (``-dirty`` with uncommitted changes), command, config, seeds, machine
    (platform, CPU count, torch version and threads, device) and wall seconds per cell and in total."""
    return {
        "git_commit": _git_commit(),
        "command": command if command is not None else " ".join([sys.executable, *sys.argv]),
        "config": None if config is None else asdict(config),
        "seeds": None if config is None else list(config.seeds),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpu_count": os.cpu_count(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                    "device": None if config is None else str(select_device(config.device)),
                    "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
        "wall_seconds_per_cell": timings or {},
        "wall_seconds_total": total_seconds,
    }


# ----------------------------------------------------------------------------------------------------- run
def train_cell(cell: Cell, out_root: Path, config: TablesConfig) -> tuple[Any, bool]:
    """Train (or load) one cell; returns its result and whether anything was trained."""
    folder = out_root / cell.path
    kw = {"device": config.device, "data_root": config.data_root, "show_progress": False}
    trained = finished_metrics(folder)[0] is None  # the loops write config.json and metrics.json (run folders)
    if cell.kind == "encoder":
        return train_encoder(cell.config, folder, **kw), trained
    if cell.kind == "head":
        enc_dir = out_root / next(c.path for c in cells(config) if c.name == cell.encoder)
        return train_classifier(cell.config, enc_dir, folder, **kw), trained
    res = train_model(cell.config, device=config.device, checkpoint_path=folder / CHECKPOINT_FILE,
                      data_root=config.data_root, show_progress=False)
    return res, trained


def _eval_key(cell: Cell, config: TablesConfig) -> dict[str, Any]:
    return {"cell": config_hash(cell.config), "test_subset": config.test_subset, "autoattack_n": config.autoattack_n,
            "autoattack_version": config.autoattack_version}


def run(config: TablesConfig, out_root: str | os.PathLike, *, log: Callable[[str], None] | None = print,
        command: str | None = None) -> TablesResult:
    """Train the missing cells, evaluate them (cached) and collect the table (see the module docstring)."""
    out_root = Path(out_root)
    start = time.perf_counter()
    dev = select_device(config.device)
    test = load_dataset(config.dataset, "test", root=config.data_root)
    x_test, y_test = (t.to(dev) for t in subset(test, config.test_subset, 0).tensors())
    aa = None if config.autoattack_n == 0 else tuple(t.to(dev) for t in subset(test, config.autoattack_n, 0).tensors())
    todo = cells(config)
    scores: dict[str, dict[str, list[dict[str, Any]]]] = {r: {h: [] for h in config.heads} for r in config.rows}
    timings: dict[str, dict[str, Any]] = {}
    for i, cell in enumerate(todo, 1):
        tick = time.perf_counter()
        result, trained = train_cell(cell, out_root, config)
        train_s = time.perf_counter() - tick
        if not result.finished:
            raise RuntimeError(f"cell {cell.name} did not finish training in {out_root / cell.path}")
        line = f"[{i}/{len(todo)}] {cell.name}: {'trained' if trained else 'loaded'} in {train_s:.1f} s"
        evals: dict[str, Any] = {}
        eval_s = 0.0
        if cell.kind == "encoder":
            last = result.history[-1]
            line += (f" | heldout MI normal {last['heldout_mi_normal']:.3f} worst {last['heldout_mi_worst']:.3f} "
                     f"nats")
        else:
            path = out_root / cell.path / EVALUATION_FILE
            key = _eval_key(cell, config)
            saved = json.loads(path.read_text()) if path.is_file() else None
            if saved is not None and saved.get("key") == key:
                evals = saved["models"]
            else:
                t0 = time.perf_counter()
                if cell.kind == "head":
                    models = {name: _head_model(result, name == "best") for name in _needed(cell, config)}
                else:
                    models = {"final": result.model}
                for name, model in models.items():
                    evals[name] = _evaluate(model, config, (x_test, y_test), aa)
                    evals[name]["wall_seconds"] = time.perf_counter() - t0
                atomic_write_text(path, json.dumps({"key": key, "models": evals}, indent=2) + "\n")
                eval_s = time.perf_counter() - t0
            for name, ev in evals.items():
                nums = _pgd_numbers(cell, result, name)
                if nums is not None:
                    ev.update(nums)
                    aa_txt = (f" AA {ev['autoattack_images']['autoattack']:.1f}"
                              if "autoattack_images" in ev else "")
                    line += (f" | {name}: nat {ev['natural']:.1f} adv {ev['adversarial']:.1f}{aa_txt} "
                             f"(majority {ev['majority_share']:.2f})")
        timings[cell.name] = {"train_seconds_this_run": train_s, "eval_seconds_this_run": eval_s,
                              "trained_this_run": trained, "recorded_train_seconds": _recorded(result)}
        if log is not None:
            log(line + f" | eval {eval_s:.1f} s | total {time.perf_counter() - start:.0f} s")
        _collect(cell, evals, scores, config)
    total = time.perf_counter() - start
    return TablesResult(config, scores, timings, provenance(config, timings, total, command))


def _needed(cell: Cell, config: TablesConfig) -> tuple[str, ...]:
    """Which heads of a head cell the table scores: ``final`` for a standard row, ``best`` for E.S. and robust."""
    best = "best" if cell.config.val_size > 0 else "final"
    _, rep, _, loss, _ = cell.name.split("/")
    if loss == "robust":
        return (best,)
    wanted = ("final",) if f"{rep}/standard" in config.rows else ()
    if rep == "ours" and "ours/standard_es" in config.rows:
        wanted += (best,) if best not in wanted else ()
    return wanted


def _pgd_numbers(cell: Cell, result: Any, which: str) -> dict[str, float] | None:
    if cell.kind == "supervised":
        final = result.final
        return {"natural": 100 * final["nat_acc"], "adversarial": 100 * final["adv_acc"]}
    nums = result.final if which == "final" else result.best
    return None if nums is None else {"natural": 100 * nums["nat_acc"], "adversarial": 100 * nums["adv_acc"]}


def _recorded(result: Any) -> float:
    return float(sum(epoch_seconds(r) for r in result.history))


def _collect(cell: Cell, evals: dict[str, Any], scores: dict, config: TablesConfig) -> None:
    if cell.kind == "encoder":
        return
    parts = cell.name.split("/")
    rep, head, loss = parts[1], parts[2], parts[3]
    best = "best" if "best" in evals else "final"
    targets = {f"{rep}/{loss}": best if loss == "robust" and cell.kind == "head" else "final"}
    if rep == "ours" and loss == "standard":
        targets["ours/standard_es"] = best
    targets = {row: which for row, which in targets.items() if row in scores and which in evals}
    for row, which in targets.items():
        if head not in scores[row]:
            continue
        ev = evals[which]
        entry = {"seed": cell.seed, "natural": ev["natural"], "adversarial": ev["adversarial"],
                 "autoattack": ev["autoattack_images"]["autoattack"] if "autoattack_images" in ev else None,
                 "majority_class": ev["majority_class"], "majority_share": ev["majority_share"],
                 "class_shares": ev["class_shares"], "autoattack_images": ev.get("autoattack_images"),
                 "which": which, "cell": cell.name}
        scores[row][head].append(entry)


#: The committed medium-scale runs (``results/``, written by :func:`copy_results` with provenance), per dataset.
COMMITTED_RUNS = {"fashion-mnist": Path("results") / "table4_fashion_mnist_medium.json"}
REPO_ROOT = Path(__file__).resolve().parents[2]
MEDIUM_COMMAND = ("python -m rrlib.experiments.downstream_tables run --profile medium --out-root OUT --json run.json; "
                  "python -m rrlib.experiments.downstream_tables copy run.json {dest} --out-root OUT --weights "
                  "results/weights_medium")


def load_committed(dataset: str = "fashion-mnist", root: str | os.PathLike = REPO_ROOT) -> dict[str, Any]:
    """The committed run of ``dataset`` (``{"metrics", "provenance", "encoders"}``), or a clear error saying which
    datasets have one and the command that makes it."""
    key = canonical_name(dataset)
    if key not in COMMITTED_RUNS:
        raise ValueError(f"no committed run for dataset {dataset!r}; valid choices: {sorted(COMMITTED_RUNS)}")
    path = Path(root) / COMMITTED_RUNS[key]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; make it with: {MEDIUM_COMMAND.format(dest=COMMITTED_RUNS[key])}")
    return json.loads(path.read_text())


def save_json(result: TablesResult, path: str | os.PathLike) -> Path:
    """Write ``{"metrics": result.metrics(), "provenance": result.provenance}`` atomically."""
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
        if cell.seed != seed:
            continue
        saved = torch.load(Path(out_root) / cell.path / CHECKPOINT_FILE, map_location="cpu", weights_only=False)
        if cell.kind == "encoder":
            key = cell.config.estimator_loss
            payload = {"config": asdict(cell.config), "encoder": saved["encoder"], "critic": saved["critic"]}
        elif cell.kind == "head" and cell.config.head == head and cell.config.classifier_loss == "standard":
            key = "head_" + cell.encoder.split("/")[1]
            payload = {"config": asdict(cell.config), "head": saved["head"]}
        elif cell.kind == "supervised" and cell.config.head == head:
            key = "robust" if cell.config.adv_eps is not None else "standard"
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


def copy_results(src: str | os.PathLike, dest: str | os.PathLike, out_root: str | os.PathLike | None = None) -> Path:
    """Copy a finished run's JSON (from :func:`save_json`) into the repository, after checking it is complete:
    every configured row and head has one score per seed. With ``out_root`` (the run's folder) the encoders'
    per-epoch histories (:func:`encoder_histories`) are added as ``"encoders"``."""
    data = json.loads(Path(src).read_text())
    metrics = data["metrics"]
    n = len(metrics["seeds"])
    for row in metrics["config"]["rows"]:
        for head in metrics["config"]["heads"]:
            values = metrics["table"][row][head]["natural"]["values"]
            if len(values) != n:
                raise ValueError(f"{src}: {row}/{head} has {len(values)} of {n} seeds; the run is not finished")
    if out_root is not None:
        config = TablesConfig.from_recorded(metrics["config"])
        data["encoders"] = encoder_histories(config, out_root)
    Path(dest).parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(dest, json.dumps(data, indent=2) + "\n")


def main(argv: list[str] | None = None) -> None:
    """``python -m rrlib.experiments.downstream_tables run --profile medium [--trials N] --out-root DIR --json FILE`` or
    ``... copy SRC DEST`` (see :func:`copy_results`); the same as ``rrbook tables ...``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m rrlib.experiments.downstream_tables")
    add_arguments(parser)
    run_command(parser.parse_args(argv), argv)


def add_arguments(parser: Any) -> None:
    """The sub-commands ``run`` and ``copy`` of ``python -m rrlib.experiments.downstream_tables`` and ``rrbook
    tables`` (on the ``argparse`` parser ``parser``)."""
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_run = sub.add_parser("run", help="train and evaluate the tables' grid, write its JSON")
    p_run.add_argument("--profile", choices=("quick", "medium", "full"), default="medium")
    p_run.add_argument("--seed", type=int, default=0)
    p_run.add_argument("--trials", type=int, default=None,
                       help="seeds --seed, --seed + 1, ... (default: the profile's; the paper: 4); finished cells of "
                            "--out-root are reused, so raising it trains only the new seeds")
    p_run.add_argument("--device", default="auto")
    p_run.add_argument("--dataset", default=None, choices=sorted(TABLES),
                       help="the paper's table to run (default: the profile's, Fashion-MNIST = Table 4)")
    p_run.add_argument("--out-root", required=True)
    p_run.add_argument("--json", required=True)
    p_copy = sub.add_parser("copy", help="copy a finished run's JSON into results/ (optionally with weights)")
    p_copy.add_argument("src")
    p_copy.add_argument("dest")
    p_copy.add_argument("--out-root", default=None, help="the run's folder: add the encoders' per-epoch histories")
    p_copy.add_argument("--weights", default=None, help="also export the first seed's weights into this folder")
    p_run.set_defaults(_tables_parser=p_run)
    p_copy.set_defaults(_tables_parser=p_copy)


def run_command(args: Any, argv: list[str] | None = None) -> int:
    """Run the parsed ``run``/``copy`` (:func:`add_arguments`; ``argv``: the words after the program, recorded as
    the command); returns 0."""
    parser = args._tables_parser
    if args.cmd == "copy":
        print(copy_results(args.src, args.dest, args.out_root))
        if args.weights is not None:
            if args.out_root is None:
                parser.error("--weights needs --out-root (the run's folder)")
            metrics = json.loads(Path(args.src).read_text())["metrics"]
            config = TablesConfig.from_recorded(metrics["config"])
            for path in export_weights(config, args.out_root, args.weights, seed=config.seed).values():
                print(path)
        return 0
    from rrlib.runtime import configure_threads

    configure_threads()
    config = getattr(TablesConfig, args.profile)(seed=args.seed, device=args.device)
    if args.dataset is not None:
        config = replace(config, dataset=args.dataset)
    if args.trials is not None:
        if args.trials < 1:
            parser.error(f"--trials must be a positive integer, got {args.trials}")
        config = replace(config, seeds=tuple(range(args.seed, args.seed + args.trials)))
    command = " ".join([sys.executable, "-m", "rrlib.experiments.downstream_tables", *(argv or sys.argv[1:])])
    result = run(config, args.out_root, log=lambda line: print(time.strftime("%H:%M:%S"), line, flush=True),
                 command=command)
    print(save_json(result, args.json), flush=True)
    return 0


if __name__ == "__main__":
    main()
