"""Chapter 04 "How good is MINE?": MI bounds against ground truth (oracle and trained critics).

Three experiments, all on distributions with exactly known MI (:mod:`rrlib.synthetic`):

1. **Oracle critic.** For true MI ``I ∈ {2, 4, 6, 8, 10}`` nats (correlated Gaussians, ``d = 20``) and batch
   sizes 64 and 128, evaluate every bound on the *true* log density ratio (plus each bound's optimal shift) over
   many independent batches: the mean and spread of a bound with a perfect critic, i.e. what is left when the
   critic is not the problem. Shows InfoNCE's ``log n`` ceiling and the single-batch behaviour of DV (the
   paper's bound), with and without the official code's "+n" diagonal fillers.
2. **Trained critics on the staircase** (:func:`rrlib.mi.estimator.run_staircase`): bias / variance / MSE per
   level, per bound and critic.
3. **A deterministic code** ``z = x`` (``I = ∞``, like the paper's logit layer): what a DV estimate with a
   finite critic reports when the true MI is infinite.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from rrlib import stats
from rrlib.jsonable import to_jsonable
from rrlib.mi.bounds import dv, infonce, nwj, smile
from rrlib.mi.estimator import (
    StaircaseConfig,
    StaircaseResult,
    build_critic,
    fit_critic,
    limit_threads,
    run_staircase,
)
from rrlib.runtime import select_device, torch_generator
from rrlib.synthetic import CorrelatedGaussian, DeterministicCode

__all__ = ["ORACLE_BOUNDS", "MineConfig", "MineResult", "OracleRow", "RunSpec", "oracle_experiment", "run"]

#: Bounds evaluated with the oracle critic. ``js`` is omitted: at the oracle it *equals* ``nwj`` by construction
#: (``js(log r) = nwj(log r + 1)``); ``mine`` reports plain DV.
ORACLE_BOUNDS = ("dv", "dv_filler", "nwj", "infonce", "smile")


@dataclass(frozen=True)
class RunSpec:
    """One trained staircase run: a critic, a bound and the steps per MI level."""

    critic: str
    bound: str
    steps_per_level: int


@dataclass(frozen=True)
class MineConfig:
    """Everything chapter 04 computes. Use :meth:`quick` (CPU, ~1 minute) or :meth:`full` (the protocol)."""

    levels: tuple[float, ...] = (2.0, 4.0, 6.0, 8.0, 10.0)
    dim: int = 20
    oracle_batches: tuple[int, ...] = (64, 128)
    oracle_trials: int = 2000
    smile_tau: float = 5.0
    staircase: StaircaseConfig = field(default_factory=StaircaseConfig)
    runs: tuple[RunSpec, ...] = ()
    deterministic_dim: int = 10
    deterministic_steps: int = 20000
    deterministic_bounds: tuple[str, ...] = ("dv", "infonce")
    num_threads: int | None = None
    seed: int = 0
    device: str = "auto"

    @classmethod
    def quick(cls, seed: int = 0, device: str = "auto") -> MineConfig:
        """CPU, about a minute: a shortened staircase (300 steps per level, 100 for concat), one CPU thread
        (the critics are too small to gain from more; see :func:`rrlib.mi.estimator.limit_threads`)."""
        bounds = ("dv", "nwj", "infonce", "js", "smile", "mine")
        runs = tuple(RunSpec("separable", b, 300) for b in bounds)
        runs += tuple(RunSpec("concat", b, 100) for b in ("dv", "smile"))
        return cls(oracle_trials=500, runs=runs, deterministic_steps=1500, num_threads=1, seed=seed, device=device)

    @classmethod
    def full(cls, seed: int = 0, device: str = "auto") -> MineConfig:
        """The published protocol: 4,000 steps per level, separable and concat critics, every bound."""
        bounds = ("dv", "nwj", "infonce", "js", "smile", "mine")
        runs = tuple(RunSpec(c, b, 4000) for c in ("separable", "concat") for b in bounds)
        return cls(oracle_trials=2000, runs=runs, deterministic_steps=20000, seed=seed, device=device)


# ---------------------------------------------------------------------------------------------------------- oracle
@dataclass(frozen=True)
class OracleRow:
    """One bound at one (true MI, batch) with the oracle critic.

    ``mean``, ``std`` (across batches), ``se`` (standard error of the mean) in nats; ``frac_above``: fraction of
    batches whose estimate exceeds the true MI (a *lower* bound that overshoots on single batches).
    """

    bound: str
    batch: int
    true_mi: float
    mean: float
    std: float
    se: float
    frac_above: float

    @property
    def bias(self) -> float:
        return self.mean - self.true_mi


def _oracle_values(bound: str, scores: torch.Tensor, tau: float) -> torch.Tensor:
    """Per-batch values of ``bound`` on oracle scores ``(T, n, n)`` (``log r``), shifted to each bound's optimum."""
    if bound == "dv":
        return dv(scores, reduction="none")
    if bound == "dv_filler":
        return dv(scores, dim_filler=True, reduction="none")
    if bound == "nwj":
        return nwj(scores + 1.0, reduction="none")
    if bound == "infonce":
        return infonce(scores, reduction="none")
    if bound == "smile":
        return smile(scores, tau, reduction="none")
    raise ValueError(f"unknown oracle bound {bound!r}; valid choices: {ORACLE_BOUNDS}")


def oracle_experiment(
    levels, batches, trials: int, *, dim: int = 20, tau: float = 5.0, seed: int = 0,
    bounds: tuple[str, ...] = ORACLE_BOUNDS,
) -> list[OracleRow]:
    """Every oracle bound at every ``(level, batch)`` over ``trials`` independent batches (float64, CPU)."""
    rows: list[OracleRow] = []
    generator = torch_generator(seed, "cpu")
    for n in batches:
        for level in levels:
            dist = CorrelatedGaussian.from_mi(float(level), dim)
            scores = torch.stack([dist.oracle_scores(*(t.double() for t in dist.sample(n, generator)))
                                  for _ in range(trials)])
            for b in bounds:
                v = _oracle_values(b, scores, tau).numpy()
                std = stats.sample_sd(v)
                rows.append(OracleRow(b, int(n), float(level), float(v.mean()), std, std / math.sqrt(trials),
                                      float(np.mean(v > level))))
    return rows


# ------------------------------------------------------------------------------------------------------- result
@dataclass
class MineResult:
    """Outputs of :func:`run`. ``deterministic[bound]`` is the per-step training estimate for ``z = x``."""

    config: MineConfig
    oracle: list[OracleRow]
    staircases: list[StaircaseResult]
    deterministic: dict[str, np.ndarray]
    deterministic_heldout: dict[str, float]
    wall_s: float

    def oracle_row(self, bound: str, batch: int, true_mi: float) -> OracleRow:
        for row in self.oracle:
            if row.bound == bound and row.batch == batch and math.isclose(row.true_mi, true_mi):
                return row
        raise KeyError(f"no oracle row for bound={bound!r}, batch={batch}, true_mi={true_mi}")

    def staircase(self, critic: str, bound: str) -> StaircaseResult:
        for r in self.staircases:
            if r.critic == critic and r.bound == bound:
                return r
        raise KeyError(f"no staircase run for critic={critic!r}, bound={bound!r}")

    def tail_estimates(self, critic: str, bound: str) -> list[np.ndarray]:
        """Per level, the per-step estimates over which the level's bias / variance / MSE are computed (the last
        ``tail_fraction`` of its steps; NaN after a divergence removed)."""
        r = self.staircase(critic, bound)
        k = r.config.steps_per_level
        tail = max(1, int(round(r.config.tail_fraction * k)))
        out = []
        for i in range(len(r.config.levels)):
            v = r.estimates[(i + 1) * k - tail:(i + 1) * k]
            out.append(v[np.isfinite(v)])
        return out

    def outlier_summary(self, critic: str, bound: str) -> dict[str, float]:
        """Where a run's variance comes from, at its level of largest variance: the level, the variance, the
        number of steps, the lowest and second-lowest per-step estimates, the median, and the variance left after
        dropping the 1 and the 3 lowest steps (nats; nats² for variances). ``exp_excess = 1 − min``: for the JS/NWJ
        readout ``1 + mean_i S_ii − mean_{i≠j} e^{S_ij}`` it is how far the off-diagonal mean of ``e^S`` exceeded the
        mean joint score on the lowest step."""
        r = self.staircase(critic, bound)
        variances = [s.variance for s in r.stats]
        i = int(np.nanargmax(variances))
        v = np.sort(self.tail_estimates(critic, bound)[i])
        return {"level": float(r.config.levels[i]), "variance": float(variances[i]), "steps": float(v.size),
                "min": float(v[0]), "second": float(v[1]), "median": float(np.median(v)),
                "variance_wo_1": float(v[1:].var()), "variance_wo_3": float(v[3:].var()),
                "exp_excess": float(1.0 - v[0])}

    def _headline(self) -> dict[str, float | str]:
        """The numbers quoted in the chapter's prose (nats unless named ``frac``/``z``/``best``).

        Uses the smallest and largest batch and level; ``nwj_z`` is the oracle NWJ bias at the lowest level and
        largest batch in standard errors (NWJ is exactly unbiased at its optimal critic, so ``|z|`` should be a
        few at most); ``filler_predicted = log(n/(n−1))`` is the shift that the "+n" fillers cause when the
        off-diagonal mean of ``e^T`` is 1, as it is on average for the oracle critic.
        """
        n_small, n_large = min(self.config.oracle_batches), max(self.config.oracle_batches)
        lo, hi = min(self.config.levels), max(self.config.levels)
        dv_hi = self.oracle_row("dv", n_small, hi)
        nwj_lo = self.oracle_row("nwj", n_large, lo)
        out: dict[str, float | str] = {
            "n_small": float(n_small),
            "n_large": float(n_large),
            "level_lo": float(lo),
            "level_hi": float(hi),
            "log_n_small": math.log(n_small),
            "log_n_large": math.log(n_large),
            "dv_bias_hi": dv_hi.bias,
            "dv_frac_above_hi": dv_hi.frac_above,
            "dv_std_hi": dv_hi.std,
            "dv_bias_lo": self.oracle_row("dv", n_large, lo).bias,
            "nwj_mean_lo": nwj_lo.mean,
            "nwj_se_lo": nwj_lo.se,
            "nwj_z": nwj_lo.bias / nwj_lo.se,
            "nwj_abs_z": abs(nwj_lo.bias / nwj_lo.se),
            "nwj_std_hi": self.oracle_row("nwj", n_small, hi).std,
            "nwj_std_lo": self.oracle_row("nwj", n_small, lo).std,
            "infonce_hi": self.oracle_row("infonce", n_small, hi).mean,
            "infonce_hi_large": self.oracle_row("infonce", n_large, hi).mean,
            "smile_bias_hi": self.oracle_row("smile", n_small, hi).bias,
            "smile_mean_hi": self.oracle_row("smile", n_small, hi).mean,
            "dv_mean_hi": dv_hi.mean,
            "smile_frac_above_hi": self.oracle_row("smile", n_small, hi).frac_above,
            "filler_shift": self.oracle_row("dv", n_small, lo).mean - self.oracle_row("dv_filler", n_small, lo).mean,
            "filler_predicted": math.log(n_small / (n_small - 1)),
            "deterministic_dv": float(self._deterministic_final().get("dv", math.nan)),
            "deterministic_infonce": float(self._deterministic_final().get("infonce", math.nan)),
        }
        if any(r.critic == "separable" and r.bound == "js" for r in self.staircases):
            for key, value in self.outlier_summary("separable", "js").items():
                out[f"js_outlier_{key}"] = value
        for critic in dict.fromkeys(r.critic for r in self.staircases):
            runs = [r for r in self.staircases if r.critic == critic]
            mse_hi = {r.bound: r.stats[-1].mse for r in runs if math.isfinite(r.stats[-1].mse)}
            if mse_hi:
                out[f"{critic}_best_hi"] = min(mse_hi, key=mse_hi.get)
                out[f"{critic}_best_mse_hi"] = mse_hi[out[f"{critic}_best_hi"]]
            for r in runs:
                out[f"{critic}_{r.bound}_bias_hi"] = r.stats[-1].bias
                out[f"{critic}_{r.bound}_mse_hi"] = r.stats[-1].mse
        return out

    def _deterministic_final(self) -> dict[str, float]:
        """Mean training estimate over the last 10 % of steps for the deterministic code, per bound."""
        return {b: float(np.nanmean(h[-max(1, len(h) // 10):])) for b, h in self.deterministic.items()}

    def metrics(self) -> dict:
        """The chapter's key numbers (JSON-able): the oracle table, the trained staircase, the deterministic code,
        and under ``"headline"`` the numbers quoted in the prose (see :meth:`_headline`)."""
        batches = self.config.oracle_batches
        oracle = {f"{r.bound}_n{r.batch}_I{r.true_mi:g}": {"mean": r.mean, "std": r.std, "se": r.se,
                                                            "frac_above": r.frac_above}
                  for r in self.oracle}
        staircase = {r.label: {"mse": [s.mse for s in r.stats], "bias": [s.bias for s in r.stats],
                               "variance": [s.variance for s in r.stats], "diverged_at": r.diverged_at,
                               "wall_s": r.wall_s} for r in self.staircases}
        return to_jsonable({
            "levels": list(self.config.levels),
            "oracle_batches": list(batches),
            "oracle_trials": self.config.oracle_trials,
            "log_n": {str(n): math.log(n) for n in batches},
            "oracle": oracle,
            "staircase": {k: _none_for_nan(v) for k, v in staircase.items()},
            "staircase_steps_per_level": {r.label: r.config.steps_per_level for r in self.staircases},
            "deterministic_final": self._deterministic_final(),
            "headline": _none_for_nan(self._headline()),
            "deterministic_heldout": dict(self.deterministic_heldout),
            "deterministic_steps": self.config.deterministic_steps,
            "deterministic_dim": self.config.deterministic_dim,
            "wall_s": self.wall_s,
        })


def _none_for_nan(value):
    if isinstance(value, dict):
        return {k: _none_for_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_none_for_nan(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run(config: MineConfig, *, show_progress: bool = True) -> MineResult:
    """Run the three experiments of chapter 04 (seed and device from ``config``) and return their numbers (nats)."""
    if not isinstance(config, MineConfig):
        raise TypeError(f"config must be a MineConfig (MineConfig.quick() or .full()), got {type(config).__name__}")
    dev = select_device(config.device)
    with limit_threads(config.num_threads if dev.type == "cpu" else None):
        return _run(config, config.seed, dev, show_progress)


def _run(config: MineConfig, seed: int, dev: torch.device, show_progress: bool) -> MineResult:
    start = time.perf_counter()
    oracle = oracle_experiment(config.levels, config.oracle_batches, config.oracle_trials, dim=config.dim,
                               tau=config.smile_tau, seed=seed)
    base = replace(config.staircase, levels=tuple(config.levels), dim=config.dim)
    staircases = [
        run_staircase(replace(base, steps_per_level=spec.steps_per_level), spec.bound, spec.critic, seed=seed,
                      device=dev, bound_kwargs={"tau": config.smile_tau} if spec.bound == "smile" else None,
                      show_progress=show_progress)
        for spec in config.runs
    ]
    code = DeterministicCode(config.deterministic_dim)
    deterministic, heldout = {}, {}
    for b in config.deterministic_bounds:
        critic = build_critic("separable", code.dim, code.z_dim, hidden=base.hidden, embed=base.embed,
                              layers=base.layers, seed=seed).to(dev)
        fit = fit_critic(critic, b, code.sample, steps=config.deterministic_steps, batch=base.batch, lr=base.lr,
                         seed=seed, show_progress=show_progress, desc=f"z = x, {b}")
        deterministic[b], heldout[b] = fit.history, fit.heldout
    return MineResult(config, oracle, staircases, deterministic, heldout, time.perf_counter() - start)
