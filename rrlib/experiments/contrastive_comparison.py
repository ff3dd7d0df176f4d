"""Chapter 11: the paper's worst-case MI against two objectives on the same protocol (issue 20).

The same Baseline-H encoder g, data and threat model (Fashion-MNIST, ℓ∞ ε = 0.1, PGD-10 of step 0.02), trained
without labels by three objectives, then frozen under the heads of Table 4 (standard, E.S., robust; MLP and linear):

* ``ours`` — Eq. 5.4, the paper's worst-case MI with the DV bound (``estimator_loss="worst"``);
* ``infonce`` — Eq. 5.4 with InfoNCE in place of DV (``"worst-infonce"``): the worst-case principle without DV;
* ``contrastive`` — RoCL-style adversarial contrastive learning (``"adv-contrastive"``,
  :mod:`rrlib.train.contrastive`).

The rows are the downstream-table grid's (:mod:`rrlib.grid`): this chapter's own run (:class:`ComparisonConfig`,
:func:`run` → :class:`ComparisonResult`) trains ``COMPARED_ROWS`` of a :class:`~rrlib.grid.config.TablesConfig`
(the quick profile on a CPU, the full profile on a GPU), and the
committed medium run holds them once ``tables run --rows beyond`` has been added to it (``tables copy --add-rows``).
Comparisons are paired by seed (a seed's encoders and heads share their training images, their order and the
heads' initialisation) with Student-t intervals (:mod:`rrlib.stats`, the report's one rule set). Accuracies in
percent; seconds of wall time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rrlib import stats
from rrlib.grid.committed import REPO_ROOT, encoder_histories, rows_view
from rrlib.grid.config import BEYOND_ROWS, COLUMNS, ENCODER_LOSS, HEADS, TablesConfig
from rrlib.train.cache import entry_dir
from rrlib.train.fit import epoch_seconds

__all__ = ["BEYOND_FRESH_CRITIC", "COMPARED_REPS", "COMPARED_ROWS", "FRESH_CRITIC_OBJECTIVES", "HEAD_LOSSES",
           "ROBUSTSSL_CIFAR10", "ROBUSTSSL_COMMIT", "ComparisonConfig", "ComparisonResult", "comparisons",
           "encoder_cost", "fresh_critic_view", "medium_view", "run", "temperature_view"]

#: The representations compared: the paper's worst-case encoder and the two beyond it.
COMPARED_REPS = ("ours", "infonce", "contrastive")
#: The rows this chapter's run trains: the paper's three rows on its worst-case encoder and the six beyond it.
COMPARED_ROWS = ("ours/standard", "ours/standard_es", "ours/robust", *BEYOND_ROWS)
#: The head of each row: a standard head (final), the same run early-stopped (E.S.), a robust head.
HEAD_LOSSES = ("standard", "standard_es", "robust")

#: The fresh-critic judge (:mod:`rrlib.report.encoder_rv`) of the medium run's encoders beyond the paper (the
#: paper's two are in :data:`rrlib.report.encoder_rv.RESULT_PATH`).
BEYOND_FRESH_CRITIC = REPO_ROOT / "results" / "encoders_beyond_medium_fresh_critic.json"
#: The objectives the fresh critic judges, in the page's order (DIM, ours, the two beyond the paper).
FRESH_CRITIC_OBJECTIVES = ("normal", "worst", "worst-infonce", "adv-contrastive")

#: The commit of ``GodXuxilie/RobustSSL_Benchmark``'s README that :data:`ROBUSTSSL_CIFAR10` is read from.
ROBUSTSSL_COMMIT = "79701afb1fc286d62460e5198c25209d45a0509b"
#: Published CIFAR-10 → CIFAR-10 results of adversarial contrastive pre-training, ResNet-18 (RobustSSL benchmark
#: README at :data:`ROBUSTSSL_COMMIT`, its CIFAR-10 table): method → ((SLF SA, SLF RA), (ALF SA, ALF RA)), percent;
#: SA on clean test images, RA under AutoAttack (standard), ε = 8/255. Context for chapter 11, not evidence.
ROBUSTSSL_CIFAR10 = {
    "ACL (Jiang et al., 2020)": ((78.22, 39.17), (75.53, 40.60)),
    "AdvCL (Fan et al., 2021)": ((82.36, 43.18), (80.04, 44.05)),
    "DynACL++ (Luo et al., 2023)": ((79.82, 46.54), (78.81, 47.98)),
}


@dataclass(frozen=True)
class ComparisonConfig:
    """The downstream-table grid (:class:`~rrlib.grid.config.TablesConfig`) restricted to :data:`COMPARED_ROWS`."""

    tables: TablesConfig

    def __post_init__(self) -> None:
        if tuple(self.tables.rows) != COMPARED_ROWS:
            raise ValueError(f"the comparison trains the rows {COMPARED_ROWS}, got {self.tables.rows}")

    @property
    def seed(self) -> int:
        return self.tables.seed

    @classmethod
    def quick(cls, seed: int = 0, device: str = "auto") -> ComparisonConfig:
        """The quick profile of the downstream tables, these rows only (CPU, a few minutes)."""
        return cls(replace(TablesConfig.quick(seed, device), rows=COMPARED_ROWS))

    @classmethod
    def full(cls, seed: int = 0, device: str = "auto") -> ComparisonConfig:
        """The paper's protocol (:meth:`TablesConfig.full`: 4 trials, width 1, critic 2048, 300 epochs), these rows."""
        return cls(replace(TablesConfig.full(seed, device), rows=COMPARED_ROWS))


@dataclass
class ComparisonResult:
    """The table of :data:`COMPARED_ROWS` (:class:`~rrlib.experiments.downstream_tables.TablesResult`), each
    objective's measured training cost (:func:`encoder_cost`) and cost relative to the paper's objective, and the
    paired comparisons (:func:`comparisons`)."""

    config: ComparisonConfig
    tables: Any
    cost: dict[str, dict[str, float]]
    relative_cost: dict[str, float]

    def metrics(self) -> dict[str, Any]:
        """The table's metrics (``table``, ``seeds``, ``flags``, ``config``, …) plus ``cost``, ``relative_cost``
        (rep → its seconds per epoch / the paper's objective's) and ``comparisons``."""
        metrics = self.tables.metrics()
        return {**metrics, "cost": self.cost, "relative_cost": self.relative_cost,
                "comparisons": comparisons(metrics)}


def encoder_cost(histories: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per objective (``encoder_histories``' keys), the training cost measured in its run: ``seconds_per_epoch``
    (mean over every epoch of every seed; training and held-out evaluation), ``epochs`` and ``seeds`` counted, and
    ``images_per_second`` (training images of an epoch over its seconds)."""
    out: dict[str, dict[str, float]] = {}
    for loss, seeds in histories.items():
        seconds = [epoch_seconds(r) for s in seeds.values() for r in s["history"]]
        images = [s["images"] for s in seeds.values() for _ in s["history"]]
        per_epoch = stats.mean(seconds)
        out[loss] = {"seconds_per_epoch": per_epoch, "epochs": len(seconds), "seeds": len(seeds),
                     "images_per_second": stats.mean([n / t for n, t in zip(images, seconds, strict=True)])
                     if all(n is not None for n in images) else float("nan")}
    return out


def comparisons(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Every paired comparison of an objective beyond the paper with the paper's (``rep − ours``), per head,
    head training (:data:`HEAD_LOSSES`) and column (natural, the paper's PGD, AutoAttack): ``mean`` difference in
    points, its Student-t ``interval`` at :data:`rrlib.stats.CLAIM_LEVEL`, ``n`` seed pairs and the ``verdict`` on
    "``rep`` is higher" (:func:`rrlib.stats.paired_verdict`). Rows or columns the run lacks are skipped."""
    out = []
    table = metrics["table"]
    for rep in COMPARED_REPS[1:]:
        for head in HEADS:
            for loss in HEAD_LOSSES:
                a, b = table.get(f"{rep}/{loss}", {}).get(head), table.get(f"ours/{loss}", {}).get(head)
                if a is None or b is None:
                    continue
                if a["seeds"] != b["seeds"]:
                    raise ValueError(f"{rep}/{loss}/{head} and ours/{loss}/{head} have different seeds "
                                     f"({a['seeds']} and {b['seeds']}): they cannot be paired")
                for column in COLUMNS:
                    if a[column] is None or b[column] is None:
                        continue
                    verdict, d = stats.paired_verdict(a[column]["values"], b[column]["values"])
                    out.append({"rep": rep, "head": head, "loss": loss, "column": column, "mean": d.mean,
                                "interval": list(d.interval(stats.CLAIM_LEVEL)), "n": d.n, "verdict": verdict})
    return out


def medium_view(committed: dict[str, Any]) -> dict[str, Any] | None:
    """The committed medium run's metrics restricted to :data:`COMPARED_ROWS`, or None while it holds none of the
    rows beyond the paper (they are added to it by ``tables copy --add-rows``)."""
    metrics = committed["metrics"]
    if not any(row in metrics["table"] for row in BEYOND_ROWS):
        return None
    return rows_view(metrics, COMPARED_ROWS)


def run(config: ComparisonConfig) -> ComparisonResult:
    """Train and score :data:`COMPARED_ROWS` (finished cells are reloaded from the results cache or
    ``config.tables.out_root``) and measure each objective's training cost in that run."""
    from rrlib.experiments import downstream_tables

    tables = downstream_tables.run(config.tables)
    out_root = Path(config.tables.out_root) if config.tables.out_root is not None else entry_dir(config.tables)
    histories = encoder_histories(config.tables, out_root)
    cost = encoder_cost({loss: histories[loss] for loss in (ENCODER_LOSS[r] for r in COMPARED_REPS)})
    ours = cost[ENCODER_LOSS["ours"]]["seconds_per_epoch"]
    relative = {rep: cost[ENCODER_LOSS[rep]]["seconds_per_epoch"] / ours for rep in COMPARED_REPS[1:]}
    return ComparisonResult(config, tables, cost, relative)


def fresh_critic_view(*results: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Fresh-critic normal MI, worst-case MI and RV (nats; :mod:`rrlib.report.encoder_rv`'s JSONs, e.g. the paper's
    encoders' and those beyond it) per objective of :data:`FRESH_CRITIC_OBJECTIVES`: per-seed values (each the mean
    over the encoder's critic seeds), the seeds whose estimate is impossible (negative worst-case MI or RV above
    the normal MI; :mod:`rrlib.mi.plausibility`), and each objective's paired difference from the paper's
    worst-case encoder (``objective − ours``) per quantity over the seeds where neither is impossible, with its
    Student-t interval at :data:`rrlib.stats.CLAIM_LEVEL` and verdict on "higher". ``None`` until every objective
    has been judged."""
    records = {(r["loss"], r["seed"]): r for res in results if res is not None for r in res["encoders"]}
    losses = {loss for loss, _ in records}
    if not set(FRESH_CRITIC_OBJECTIVES) <= losses:
        return None
    seeds = sorted({s for _, s in records if all((loss, s) in records for loss in FRESH_CRITIC_OBJECTIVES)})
    objectives: dict[str, Any] = {}
    for loss in FRESH_CRITIC_OBJECTIVES:
        recs = [records[(loss, s)] for s in seeds]
        objectives[loss] = {q: [stats.mean(r[q]) for r in recs] for q in ("normal", "worst", "rv")}
        objectives[loss]["impossible"] = [s for s, r in zip(seeds, recs, strict=True) if any(r["impossible"])]
    differences = []
    ours = objectives["worst"]
    for loss in FRESH_CRITIC_OBJECTIVES:
        if loss == "worst":
            continue
        keep = [i for i, s in enumerate(seeds)
                if s not in objectives[loss]["impossible"] and s not in ours["impossible"]]
        if not keep:
            continue
        for quantity in ("normal", "worst", "rv"):
            a = [objectives[loss][quantity][i] for i in keep]
            b = [ours[quantity][i] for i in keep]
            verdict, d = stats.paired_verdict(a, b)
            differences.append({"loss": loss, "quantity": quantity, "mean": d.mean, "n": d.n, "verdict": verdict,
                                "interval": list(d.interval(stats.CLAIM_LEVEL))})
    return {"seeds": seeds, "units": "nats", "objectives": objectives, "differences": differences}


def temperature_view(sweep: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The temperature sweep (:mod:`rrlib.grid.temperature_sweep`'s committed JSON) per τ: ``means``, the
    mean over seeds of each head's natural, PGD and AutoAttack accuracy (percent); ``clean``, the standard linear
    head's natural accuracy (the baseline's clean quality, RobustSSL's SLF "SA"); ``robust``, the robust heads'
    AutoAttack accuracy (mean of the two heads); and ``best_clean`` / ``best_robust``, the τ where each is highest.
    ``None`` before the sweep has run."""
    if sweep is None:
        return None
    m = sweep["metrics"]
    by_tau: dict[str, Any] = {}
    for tau, rows in m["table"].items():
        by_tau[tau] = {row: {head: {col: stats.mean(v) if None not in v else None for col, v in cols.items()}
                             for head, cols in heads.items()}
                       for row, heads in rows.items()}

    clean = {tau: means["contrastive/standard"]["linear"]["natural"] for tau, means in by_tau.items()}
    robust = {tau: stats.mean([means["contrastive/robust"][h]["autoattack"] for h in m["heads"]])
              for tau, means in by_tau.items()}
    return {"temperatures": m["temperatures"], "seeds": m["seeds"], "means": by_tau, "clean": clean,
            "robust": robust, "best_clean": max(clean, key=clean.__getitem__),
            "best_robust": max(robust, key=robust.__getitem__), "encoder_train_seconds": m["encoder_train_seconds"]}
