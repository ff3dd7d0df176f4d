"""Chapter 05 "Measuring representation vulnerability": Algorithms 1–2 checked against exact answers.

Four experiments:

1. **PGD vs the closed form** (:func:`~.gaussian.pgd_risk_check`). On the Gaussian mixture (3.1), PGD against the linear
   classifier ``f*(x) = h*(sgn(wᵀx))`` must reach ``AdvRisk_ε(f*) = Φ(b − a)`` (ℓ∞ and ℓ2, no box) up to
   sampling error.
2. **Gradient masking** (:func:`.masking_demo`). ``g(x) = sgn(wᵀx)`` has zero gradient almost everywhere: PGD on the
   MI estimate does not move. A straight-through representation (forward: the true sign; backward: the
   derivative of ``tanh(k·wᵀx)``, :class:`~rrlib.models.surrogates.SignRepresentation`) gives the adversary a gradient.
3. **Three numbers on the Gaussian mixture** (:func:`.gaussian_experiment`). For each setting (ε, k, PGD steps S,
   critic iterations T, gradient path) and seed: the algorithm's worst-case estimate ``Î_worst``, the *true* MI
   of the distribution its attack produced, ``I(X'; Z') = H2(P̂[Z' = 1])`` (``Z'`` is a deterministic binary
   function of ``X'``), and the exact worst case ``H2(1/2 − P/2)`` of Theorem 3.2's proof
   (:meth:`rrlib.theory.GaussianMixture.worst_case_mutual_information`). Estimation error = estimate − true MI
   of the attacked data; search error = true MI of the attacked data − exact worst case. A fourth number, the
   plain MI estimate on data moved by the *exact* worst-case transport (the "oracle attack"), shows what the
   estimator reports when the search is perfect.
4. **Digits** (:func:`.digits_experiment`). A small Baseline-H network (``rrlib.train``, standard and PGD-trained)
   on scikit-learn's 8×8 digits; its logit layer is the representation, as in the paper's Figs 1–2. Normal MI,
   worst-case MI and RV as ε grows, plus natural and PGD accuracy.

And a measured **cost analysis** (:func:`~.cost.cost_experiment`): wall time and counted passes of a worst-case
iteration against a plain MINE iteration.

The parts live in sub-modules (:mod:`.gaussian`, :mod:`.digits`, :mod:`.cost`); this module holds the chapter's
configuration, :func:`run` and :class:`Result` with its :meth:`Result.metrics`. Tables are rendered by
:mod:`rrlib.rendering`, figures drawn by :mod:`rrlib.plotting.worst_case`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rrlib.experiments.worst_case_mi.cost import CostConfig, CostRow, cost_experiment
from rrlib.experiments.worst_case_mi.digits import DigitsConfig, DigitsRow, digits_experiment
from rrlib.experiments.worst_case_mi.gaussian import (
    GaussianConfig,
    GaussianSetting,
    MaskingDemo,
    MaskingRow,
    RiskRow,
    exact_curves,
    gaussian_experiment,
    masking_demo,
    pgd_risk_check,
)
from rrlib.jsonable import to_jsonable
from rrlib.runtime import select_device
from rrlib.stats import mean, mean_sd

__all__ = [
    "Config",
    "CostConfig",
    "CostRow",
    "DigitsConfig",
    "DigitsRow",
    "GaussianConfig",
    "GaussianSetting",
    "MaskingDemo",
    "MaskingRow",
    "Result",
    "RiskRow",
    "exact_curves",
    "run",
]


@dataclass(frozen=True)
class Config:
    """Everything :func:`run` needs; ``seed`` offsets every seed, ``device`` is resolved by ``select_device``."""

    gaussian: GaussianConfig = GaussianConfig()
    digits: DigitsConfig = DigitsConfig()
    cost: CostConfig = CostConfig()
    seed: int = 0
    device: str = "cpu"
    run_digits: bool = True

    @classmethod
    def quick(cls, seed: int = 0, device: str = "auto") -> Config:
        """The quick profile (CPU, about a minute)."""
        return cls(seed=seed, device=device)

    @classmethod
    def full(cls, seed: int = 0, device: str = "auto") -> Config:
        """The full profile: more ε values, seeds, critic iterations and sweep points."""
        g = replace(GaussianConfig(), n_train=16384, n_test=8192, eps_values=(0.25, 0.5, 0.75, 1.0, 1.25, 1.5),
                    sharpness_values=(1.0, 10.0, 30.0), steps_values=(1, 2, 10, 30), iterations=1000,
                    iterations_values=(100, 300, 3000), n_seeds=5, risk_samples=200000)
        d = replace(DigitsConfig(), epochs=50, eps_values=(0.05, 0.1, 0.2, 0.3), attack_steps=10, iterations=1000,
                    batch_size=128, n_seeds=5)
        return cls(gaussian=g, digits=d, cost=CostConfig(steps_values=(1, 5, 10, 20), repeats=50), seed=seed,
                   device=device)


@dataclass
class Result:
    """Everything the chapter shows."""

    config: Config
    risk_rows: list[RiskRow]
    masking: MaskingDemo
    gaussian: list[GaussianSetting]
    normal_exact: float
    risk_curve: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    worst_curve: tuple[np.ndarray, np.ndarray] = (np.zeros(0), np.zeros(0))
    digits: list[DigitsRow] = field(default_factory=list)
    digits_train_eps: float = 0.0
    cost: list[CostRow] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def settings(self, sweep: str) -> list[GaussianSetting]:
        """The Gaussian settings of one sweep (``"eps"``, ``"eps_full"``, ``"sharpness"``, ``"steps"``, …)."""
        return [s for s in self.gaussian if s.sweep == sweep]

    def base_setting(self) -> GaussianSetting:
        """The base setting at ``sweep_eps`` (paper's gradient path, base k, S and T)."""
        g = self.config.gaussian
        for s in self.settings("eps"):
            if s.eps == g.sweep_eps:
                return s
        raise KeyError(f"sweep_eps={g.sweep_eps} is not among eps_values={g.eps_values}")

    def attack_slack(self) -> float:
        """min over settings and seeds of ``I(X′; Z′) − sample worst case``: ≥ 0 for any feasible attack (nats)."""
        return float(min((s.attacked_true - s.sample_worst).min() for s in self.gaussian))

    def masking_row(self, sharpness: float | None, gradient: str = "representation") -> MaskingRow:
        """The masking variant with surrogate sharpness ``sharpness`` (``None``: the true sign) and gradient path."""
        for r in self.masking.rows:
            if r.sharpness == sharpness and r.gradient == gradient:
                return r
        raise KeyError(f"no masking row for sharpness {sharpness!r} / {gradient!r}")

    def metrics(self) -> dict[str, Any]:
        """Every number the chapter quotes and records (nats, fractions, seconds): the scalars of the prose at the
        top level, then one record per PGD check, masking variant, Gaussian setting, digits row and cost row."""
        m: dict[str, Any] = self._scalars()
        m["risk"] = [{"norm": r.norm, "eps": r.eps, "pgd": r.pgd_risk, "exact": r.exact_risk,
                      "se": r.standard_error} for r in self.risk_rows]
        m["masking"] = [vars(r) for r in self.masking.rows]
        m["masking_warned"] = self.masking.warned
        m["gaussian"] = [s.metrics() for s in self.gaussian]
        m["digits"] = [{"model": r.model, "eps": r.eps, "normal": r.normal.mean(), "worst": r.worst.mean(),
                        "rv": r.rv.mean(), "rv_std": mean_sd(r.rv, of_one=0.0)[1], "nat_acc": r.nat_acc,
                        "adv_acc": r.adv_acc} for r in self.digits]
        m["cost"] = [{"steps": r.steps, "plain_seconds": r.plain_seconds, "worst_seconds": r.worst_seconds,
                      "ratio": r.ratio, "plain_forward": r.plain_forward, "worst_forward": r.worst_forward,
                      "worst_input_backward": r.worst_input_backward} for r in self.cost]
        m["seconds"] = dict(self.seconds)
        return to_jsonable(m)

    def _scalars(self) -> dict[str, float]:
        g = self.config.gaussian
        base = self.base_setting()
        full = {s.eps: s for s in self.settings("eps_full")}[base.eps]
        sign = self.masking_row(None)
        st = self.masking_row(g.sharpness)
        st_full = self.masking_row(g.sharpness, "full")
        sharp = self.masking.rows[-1]
        h: dict[str, float] = {
            "risk_max_abs_z": max(abs(r.z_score) for r in self.risk_rows),
            "risk_samples": float(g.risk_samples),
            "theta_norm": g.theta_norm, "dim": float(g.dim), "sweep_eps": g.sweep_eps,
            "sharpness": g.sharpness, "steps": float(g.steps), "iterations": float(g.iterations),
            "batch_size": float(g.batch_size), "n_seeds": float(g.n_seeds), "n_test": float(g.n_test),
            "normal_exact": self.normal_exact,
            "mask_clean": self.masking.estimate_clean, "mask_exact": self.masking.exact_worst,
            "mask_sample_worst": self.masking.sample_worst, "mask_batch": float(self.masking.batch),
            "mask_sign_grad": sign.grad_norm, "mask_sign_moved": sign.moved,
            "mask_st_grad": st.grad_norm, "mask_st_moved": st.moved, "mask_st_estimate": st.estimate,
            "mask_sharp_k": float(sharp.sharpness), "mask_sharp_estimate": sharp.estimate,
            "mask_sharp_true": sharp.true_mi, "mask_sharp_positive": sharp.positive,
            "mask_full_moved": st_full.moved, "mask_full_last_estimate": st_full.last_estimate,
            "mask_full_best_moved": st_full.best_moved, "mask_full_estimate": st_full.estimate,
            "mask_st_last_estimate": st.last_estimate, "mask_st_best_moved": st.best_moved,
            "base_exact": base.exact, "attack_slack": self.attack_slack(),
            # the tolerance of attack_slack: one test point moves P̂ by 1/n and H2 by at most |H2'|/n < 2/n nats
            "attack_slack_floor": -2 / float(g.n_test),
        }
        for prefix, setting in (("base", base), ("full", full)):
            for name in ("estimate", "attacked_true", "normal_estimate", "estimation_error", "search_error",
                         "total_error"):
                h[f"{prefix}_{name}"], h[f"{prefix}_{name}_std"] = mean_sd(getattr(setting, name), of_one=0.0)
            h[f"{prefix}_positive"] = float(np.mean(setting.attacked_positive))
        if base.oracle_estimate is not None:
            h["base_oracle"], h["base_oracle_std"] = mean_sd(base.oracle_estimate, of_one=0.0)
        st_rows = [r for r in self.masking.rows if r.sharpness is not None]
        h["mask_st_min_estimate"] = min(r.estimate for r in st_rows)
        h["mask_st_max_estimate"] = max(r.estimate for r in st_rows)
        h["mask_st_min_true"] = min(r.true_mi for r in st_rows)
        h["mask_st_max_true"] = max(r.true_mi for r in st_rows)
        if base.oracle_estimate is not None:
            h["base_oracle_error"] = h["base_oracle"] - base.exact
        by_s = {s.steps: s for s in self.settings("steps")}
        s_low = min(by_s)
        h["s_low"] = float(s_low)
        h["s_low_estimate"] = mean(by_s[s_low].estimate)
        h["s_low_true"] = mean(by_s[s_low].attacked_true)
        h["s_estimate_drop"] = h["s_low_estimate"] - h["base_estimate"]
        h["s_true_drop"] = h["s_low_true"] - h["base_attacked_true"]
        by_k = {s.sharpness: s for s in self.settings("sharpness")}
        k_high = max(by_k)
        h["k_high"], h["k_high_true"] = float(k_high), mean(by_k[k_high].attacked_true)
        h["k_high_estimate"] = mean(by_k[k_high].estimate)
        by_t = {s.iterations: s for s in self.settings("iterations")}
        t_low = min(by_t)
        h["t_low"], h["t_low_estimate"] = float(t_low), mean(by_t[t_low].estimate)
        h["t_low_true"] = mean(by_t[t_low].attacked_true)
        errors = [mean(s.estimation_error) for s in self.gaussian]
        searches = [mean(s.search_error) for s in self.gaussian]
        h["max_estimation_error"], h["min_search_error"] = max(errors), min(searches)
        h["min_estimation_error"], h["max_search_error"] = min(errors), max(searches)
        if self.digits:
            for r in self.digits:
                if r.eps == 0:
                    continue
                key = f"{r.model}_{r.eps:g}".replace(".", "p")
                h[f"digits_rv_{key}"] = float(r.rv.mean())
                h[f"digits_worst_{key}"] = float(r.worst.mean())
                h[f"digits_adv_{key}"] = r.adv_acc
            for model in ("standard", "robust"):
                row = next(r for r in self.digits if r.model == model)
                h[f"digits_normal_{model}"] = float(row.normal.mean())
                h[f"digits_nat_{model}"] = row.nat_acc
            h["digits_train_eps"] = self.digits_train_eps
        if self.cost:
            last = self.cost[-1]
            h["cost_steps"], h["cost_ratio"] = float(last.steps), last.ratio
            h["cost_plain_ms"], h["cost_worst_ms"] = 1e3 * last.plain_seconds, 1e3 * last.worst_seconds
            h["cost_forward"], h["cost_backward"] = float(last.worst_forward), float(last.worst_input_backward)
        return h


def run(config: Config, *, log: Callable[[str], None] | None = None) -> Result:
    """Run every experiment of chapter 05 and return a :class:`Result`."""
    device = select_device(config.device)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    risk_rows = pgd_risk_check(config.gaussian, config.seed, device)
    seconds["risk"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    masking = masking_demo(config.gaussian, config.seed, device)
    seconds["masking"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    gaussian, normal_exact = gaussian_experiment(config.gaussian, config.seed, device, log)
    seconds["gaussian"] = time.perf_counter() - t0
    digits_rows: list[DigitsRow] = []
    cost_rows: list[CostRow] = []
    if config.run_digits:
        t0 = time.perf_counter()
        digits_rows = digits_experiment(config.digits, config.seed, device, log)
        seconds["digits"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        cost_rows = cost_experiment(config.cost, config.digits, config.seed, device)
        seconds["cost"] = time.perf_counter() - t0
    return Result(config=config, risk_rows=risk_rows, masking=masking, gaussian=gaussian,
                  normal_exact=normal_exact, risk_curve=exact_curves(config.gaussian)[0],
                  worst_curve=exact_curves(config.gaussian)[1], digits=digits_rows,
                  digits_train_eps=config.digits.train_eps, cost=cost_rows, seconds=seconds)

