"""Chapter 05 "Measuring representation vulnerability": Algorithms 1–2 checked against exact answers.

Four experiments:

1. **PGD vs the closed form** (:func:`pgd_risk_check`). On the Gaussian mixture (3.1), PGD against the linear
   classifier ``f*(x) = h*(sgn(wᵀx))`` must reach ``AdvRisk_ε(f*) = Φ(b − a)`` (ℓ∞ and ℓ2, no box) up to
   sampling error.
2. **Gradient masking** (:func:`masking_demo`). ``g(x) = sgn(wᵀx)`` has zero gradient almost everywhere: PGD on the
   MI estimate does not move. A straight-through representation (forward: the true sign; backward: the
   derivative of ``tanh(k·wᵀx)``, :class:`SignRepresentation`) gives the adversary a gradient.
3. **Three numbers on the Gaussian mixture** (:func:`gaussian_experiment`). For each setting (ε, k, PGD steps S,
   critic iterations T, gradient path) and seed: the algorithm's worst-case estimate ``Î_worst``, the *true* MI
   of the distribution its attack produced, ``I(X'; Z') = H2(P̂[Z' = 1])`` (``Z'`` is a deterministic binary
   function of ``X'``), and the exact worst case ``H2(1/2 − P/2)`` of Theorem 3.2's proof
   (:meth:`rrlib.theory.GaussianMixture.worst_case_mutual_information`). Estimation error = estimate − true MI
   of the attacked data; search error = true MI of the attacked data − exact worst case. A fourth number, the
   plain MI estimate on data moved by the *exact* worst-case transport (the "oracle attack"), shows what the
   estimator reports when the search is perfect.
4. **Digits** (:func:`digits_experiment`). A small Baseline-H network (``rrlib.train``, standard and PGD-trained)
   on scikit-learn's 8×8 digits; its logit layer is the representation, as in the paper's Figs 1–2. Normal MI,
   worst-case MI and RV as ε grows, plus natural and PGD accuracy.

And a measured **cost analysis** (:func:`cost_experiment`): wall time and counted passes of a worst-case
iteration against a plain MINE iteration.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from rrlib.attacks import ThreatModel, ZeroGradientWarning, adversarial_accuracy
from rrlib.data import load_dataset
from rrlib.mi.bounds import dv
from rrlib.mi.critics import SeparableCritic
from rrlib.mi.worst_case import (
    EstimatorConfig,
    critic_step,
    estimate_mutual_information,
    mi_objective,
    worst_case_batch,
)
from rrlib.runtime import numpy_rng, seeded, select_device
from rrlib.theory import GaussianMixture, binary_entropy

__all__ = [
    "Config",
    "CostRow",
    "DigitsConfig",
    "DigitsRow",
    "FlatCritic",
    "GaussianConfig",
    "GaussianSetting",
    "MaskingDemo",
    "MaskingRow",
    "Result",
    "RiskRow",
    "SignRepresentation",
    "StraightThroughSign",
    "cost_experiment",
    "digits_experiment",
    "exact_curves",
    "gaussian_experiment",
    "masking_table",
    "digits_table",
    "cost_table",
    "masking_demo",
    "pgd_risk_check",
    "run",
    "three_number_table",
]


# ------------------------------------------------------------------------------------------------ representation
class StraightThroughSign(torch.autograd.Function):
    """Forward ``sgn(s)`` (``sgn(0) = +1``, as :meth:`GaussianMixture.represent`); backward ``k·(1 − tanh²(k s))``.

    The forward value is exactly the sign, so the data the critic sees are those of ``g(x) = sgn(wᵀx)``; only the
    adversary's gradient is that of the surrogate ``tanh(k·s)``. ``k = 0`` gives the true (zero) gradient.
    """

    @staticmethod
    def forward(ctx, s: torch.Tensor, sharpness: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(s)
        ctx.sharpness = sharpness
        return torch.where(s >= 0, torch.ones_like(s), -torch.ones_like(s))

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):  # type: ignore[override]
        (s,) = ctx.saved_tensors
        k = ctx.sharpness
        if k == 0:
            return torch.zeros_like(grad_output), None
        return grad_output * k * (1.0 - torch.tanh(k * s) ** 2), None


class SignRepresentation(nn.Module):
    """``g(x) = sgn(wᵀx)`` of Theorem 3.2 as a module: ``(n, d) → (n, 1)`` codes in {−1, +1}.

    ``sharpness=None`` uses ``torch.sign`` semantics (true gradient: zero almost everywhere; gradient masking);
    a number ``k > 0`` back-propagates through ``tanh(k·wᵀx)`` (straight-through estimator).
    """

    def __init__(self, w: np.ndarray | torch.Tensor, sharpness: float | None = None) -> None:
        super().__init__()
        if sharpness is not None and not (isinstance(sharpness, (int, float)) and sharpness > 0):
            raise ValueError(f"sharpness must be None (true sign) or a number > 0, got {sharpness!r}")
        self.register_buffer("w", torch.as_tensor(np.asarray(w, dtype=np.float32)).reshape(-1))
        self.sharpness = sharpness

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x @ self.w.to(x.dtype)
        return StraightThroughSign.apply(s, 0.0 if self.sharpness is None else float(self.sharpness))[:, None]


class LinearSignClassifier(nn.Module):
    """Logits ``(−m·s, m·s)`` with ``s = sgn(wᵀθ)·wᵀx``: class 1 ⇔ ``f*(x) = +1``; PGD's gradient is that of ``wᵀx``."""

    def __init__(self, w: np.ndarray, sign: int, scale: float = 4.0) -> None:
        super().__init__()
        self.register_buffer("w", torch.as_tensor(np.asarray(w, dtype=np.float64) * sign))
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = (x @ self.w.to(x.dtype))[:, None] * self.scale
        return torch.cat([-s, s], dim=1)


class FlatCritic(nn.Module):
    """A vector critic applied to flattened images: ``T(x, z) = inner(x.flatten(1), z)``."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.inner(x.flatten(1), z)


# ------------------------------------------------------------------------------------------------ configuration
@dataclass(frozen=True)
class GaussianConfig:
    """The Gaussian-mixture experiments. ``θ = theta_norm·(1, …, 1)/√d``, ``Σ = I``, ``w = θ/‖θ‖``, ℓ∞ threat.

    With ``a = ‖θ‖ = 0.5`` (small against the unit noise) and ``b = ε‖w‖₁ = ε√d`` comparable to the noise, the
    exact RV is large. Base setting: ``sharpness``, ``steps``, ``iterations``, representation-only gradient; the
    sweeps vary one of them at ``sweep_eps``.
    """

    dim: int = 2
    theta_norm: float = 0.5
    n_train: int = 4096
    n_test: int = 1024
    eps_values: tuple[float, ...] = (0.5, 1.0, 1.5)
    sweep_eps: float = 1.0
    sharpness: float = 3.0
    sharpness_values: tuple[float, ...] = (1.0, 10.0)
    steps: int = 5
    steps_values: tuple[int, ...] = (1, 2)
    iterations: int = 150
    iterations_values: tuple[int, ...] = (50,)
    step_factor: float = 2.5
    batch_size: int = 128
    lr: float = 1e-3
    critic_hidden: int = 64
    critic_embed: int = 16
    n_seeds: int = 3
    risk_eps_values: tuple[float, ...] = (0.25, 0.5, 1.0, 1.5)
    risk_samples: int = 20000
    risk_steps: int = 5

    def __post_init__(self) -> None:
        if self.n_test % self.batch_size or self.n_train < self.batch_size:
            raise ValueError(f"n_test={self.n_test} must be a multiple of batch_size={self.batch_size} (every test "
                             f"point is attacked once) and n_train={self.n_train} at least one batch")
        if self.sweep_eps not in self.eps_values:
            raise ValueError(f"sweep_eps={self.sweep_eps} must be one of eps_values={self.eps_values}")


@dataclass(frozen=True)
class DigitsConfig:
    """The digits experiment: Baseline-H (``width``) trained by :func:`rrlib.train.train_model`, logits as ``z``."""

    width: float = 0.25
    epochs: int = 20
    train_lr: float = 1e-3
    train_batch_size: int = 64
    train_eps: float = 0.2
    train_steps: int = 5
    eps_values: tuple[float, ...] = (0.1, 0.2)
    attack_steps: int = 5
    step_factor: float = 2.5
    iterations: int = 120
    batch_size: int = 64
    lr: float = 1e-3
    critic_hidden: int = 128
    critic_embed: int = 32
    n_seeds: int = 2


@dataclass(frozen=True)
class CostConfig:
    """Timing of one Algorithm-2 iteration on the digits model: plain vs worst-case for each ``S``."""

    steps_values: tuple[int, ...] = (1, 5, 10)
    repeats: int = 15


@dataclass(frozen=True)
class Config:
    """Everything :func:`run` needs; ``seed`` offsets every seed, ``device`` is resolved by ``select_device``."""

    gaussian: GaussianConfig = GaussianConfig()
    digits: DigitsConfig = DigitsConfig()
    cost: CostConfig = CostConfig()
    seed: int = 0
    device: str = "cpu"
    run_digits: bool = True


# ------------------------------------------------------------------------------------------------ results
def _mean_std(values: np.ndarray) -> tuple[float, float]:
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


@dataclass
class RiskRow:
    """PGD adversarial risk of ``f*`` vs the closed form ``Φ(b − a)`` (one norm, one ε)."""

    norm: str
    eps: float
    pgd_risk: float
    exact_risk: float
    standard_error: float

    @property
    def z_score(self) -> float:
        return (self.pgd_risk - self.exact_risk) / self.standard_error


@dataclass
class MaskingRow:
    """Algorithm 1 against one fixed critic (trained on clean data) with one representation and gradient path.

    ``grad_norm``: ‖∇ₓJ‖ at the clean batch; ``moved``: fraction of points the last PGD iterate moved;
    ``estimate``: ``V1`` with the best iterate kept; ``positive``: ``P̂[Z′ = 1]`` of that iterate and
    ``true_mi = H2(positive)`` the true MI of the attacked batch.
    """

    representation: str
    gradient: str
    grad_norm: float
    moved: float
    estimate: float
    positive: float
    true_mi: float


@dataclass
class MaskingDemo:
    """The gradient-masking demonstration at ``eps``: the clean estimate and one :class:`MaskingRow` per variant."""

    eps: float
    estimate_clean: float
    exact_worst: float
    sample_worst: float
    batch: int
    warned: bool
    rows: list[MaskingRow]

    def row(self, representation: str, gradient: str = "representation") -> MaskingRow:
        for r in self.rows:
            if r.representation == representation and r.gradient == gradient:
                return r
        raise KeyError(f"no masking row for {representation!r} / {gradient!r}")


@dataclass
class GaussianSetting:
    """One setting of the Gaussian experiment; arrays have one entry per seed (nats unless stated)."""

    sweep: str
    eps: float
    sharpness: float
    steps: int
    iterations: int
    gradient: str
    exact: float
    estimate: np.ndarray
    attacked_true: np.ndarray
    attacked_positive: np.ndarray
    sample_worst: np.ndarray
    normal_estimate: np.ndarray
    oracle_estimate: np.ndarray | None = None

    @property
    def estimation_error(self) -> np.ndarray:
        return self.estimate - self.attacked_true

    @property
    def search_error(self) -> np.ndarray:
        return self.attacked_true - self.exact

    @property
    def total_error(self) -> np.ndarray:
        return self.estimate - self.exact

    def summary(self) -> dict[str, float | str | int]:
        out: dict[str, float | str | int] = {"sweep": self.sweep, "eps": self.eps, "sharpness": self.sharpness,
                                             "steps": self.steps, "iterations": self.iterations,
                                             "gradient": self.gradient, "exact": self.exact}
        for name in ("estimate", "attacked_true", "sample_worst", "normal_estimate", "estimation_error",
                     "search_error", "total_error"):
            mean, std = _mean_std(getattr(self, name))
            out[f"{name}_mean"], out[f"{name}_std"] = mean, std
        if self.oracle_estimate is not None:
            out["oracle_estimate_mean"], out["oracle_estimate_std"] = _mean_std(self.oracle_estimate)
        return out


@dataclass
class DigitsRow:
    """Digits: one model (``"standard"`` or ``"robust"``) at one ε. MI per seed in nats, accuracies in [0, 1]."""

    model: str
    eps: float
    normal: np.ndarray
    worst: np.ndarray
    nat_acc: float
    adv_acc: float

    @property
    def rv(self) -> np.ndarray:
        return self.normal - self.worst


@dataclass
class CostRow:
    """Seconds per Algorithm-2 iteration (median over repeats) and counted passes of ``g``."""

    steps: int
    plain_seconds: float
    worst_seconds: float
    plain_forward: int
    worst_forward: int
    worst_input_backward: int

    @property
    def ratio(self) -> float:
        return self.worst_seconds / self.plain_seconds


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

    def headline(self) -> dict[str, float]:
        """Scalars quoted in the chapter's prose (nats, fractions, seconds)."""
        g = self.config.gaussian
        base = self.base_setting()
        full = {s.eps: s for s in self.settings("eps_full")}[base.eps]
        sign = self.masking.row("sign")
        st = self.masking.row(f"tanh k={g.sharpness:g}")
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
            "mask_sharp_k": float(sharp.representation.split("=")[1]), "mask_sharp_estimate": sharp.estimate,
            "mask_sharp_true": sharp.true_mi, "mask_sharp_positive": sharp.positive,
            "base_exact": base.exact, "attack_slack": self.attack_slack(),
        }
        for prefix, setting in (("base", base), ("full", full)):
            for name in ("estimate", "attacked_true", "normal_estimate", "estimation_error", "search_error",
                         "total_error"):
                h[f"{prefix}_{name}"], h[f"{prefix}_{name}_std"] = _mean_std(getattr(setting, name))
            h[f"{prefix}_positive"] = float(np.mean(setting.attacked_positive))
        if base.oracle_estimate is not None:
            h["base_oracle"], h["base_oracle_std"] = _mean_std(base.oracle_estimate)
        st_rows = [r for r in self.masking.rows if r.representation != "sign"]
        h["mask_st_min_estimate"] = min(r.estimate for r in st_rows)
        h["mask_st_max_estimate"] = max(r.estimate for r in st_rows)
        h["mask_st_min_true"] = min(r.true_mi for r in st_rows)
        h["mask_st_max_true"] = max(r.true_mi for r in st_rows)
        if base.oracle_estimate is not None:
            h["base_oracle_error"] = h["base_oracle"] - base.exact
        by_s = {s.steps: s for s in self.settings("steps")}
        s_low = min(by_s)
        h["s_low"] = float(s_low)
        h["s_low_estimate"] = _mean_std(by_s[s_low].estimate)[0]
        h["s_low_true"] = _mean_std(by_s[s_low].attacked_true)[0]
        h["s_estimate_drop"] = h["s_low_estimate"] - h["base_estimate"]
        h["s_true_drop"] = h["s_low_true"] - h["base_attacked_true"]
        by_k = {s.sharpness: s for s in self.settings("sharpness")}
        k_high = max(by_k)
        h["k_high"], h["k_high_true"] = float(k_high), _mean_std(by_k[k_high].attacked_true)[0]
        h["k_high_estimate"] = _mean_std(by_k[k_high].estimate)[0]
        by_t = {s.iterations: s for s in self.settings("iterations")}
        t_low = min(by_t)
        h["t_low"], h["t_low_estimate"] = float(t_low), _mean_std(by_t[t_low].estimate)[0]
        h["t_low_true"] = _mean_std(by_t[t_low].attacked_true)[0]
        errors = [_mean_std(s.estimation_error)[0] for s in self.gaussian]
        searches = [_mean_std(s.search_error)[0] for s in self.gaussian]
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

    def key_metrics(self) -> dict:
        """What the chapter records (and its test checks)."""
        metrics: dict = dict(self.headline())
        metrics["risk"] = [{"norm": r.norm, "eps": r.eps, "pgd": r.pgd_risk, "exact": r.exact_risk,
                            "se": r.standard_error} for r in self.risk_rows]
        metrics["masking"] = [vars(r) for r in self.masking.rows]
        metrics["masking_warned"] = self.masking.warned
        metrics["gaussian"] = [s.summary() for s in self.gaussian]
        metrics["digits"] = [{"model": r.model, "eps": r.eps, "normal": r.normal.mean(), "worst": r.worst.mean(),
                              "rv": r.rv.mean(), "rv_std": _mean_std(r.rv)[1], "nat_acc": r.nat_acc,
                              "adv_acc": r.adv_acc} for r in self.digits]
        metrics["cost"] = [{"steps": r.steps, "plain_seconds": r.plain_seconds, "worst_seconds": r.worst_seconds,
                            "ratio": r.ratio, "plain_forward": r.plain_forward, "worst_forward": r.worst_forward,
                            "worst_input_backward": r.worst_input_backward} for r in self.cost]
        metrics["seconds"] = dict(self.seconds)
        return metrics


# ------------------------------------------------------------------------------------------------ Gaussian setup
def _mixture(cfg: GaussianConfig) -> tuple[GaussianMixture, np.ndarray]:
    theta = np.full(cfg.dim, cfg.theta_norm / math.sqrt(cfg.dim))
    return GaussianMixture(theta, np.eye(cfg.dim)), theta / np.linalg.norm(theta)


def _attack_step(eps: float, steps: int, factor: float) -> float:
    """``η = ε · min(1, factor / S)``: the usual ``2.5 ε / S``, capped at ε so that ``S = 1`` is FGSM."""
    return eps * min(1.0, factor / steps)


def _separable_factory(x_dim: int, z_dim: int, hidden: int, embed: int, flat: bool = False
                       ) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        critic = SeparableCritic(x_dim, z_dim, hidden=hidden, embed=embed)
        return FlatCritic(critic) if flat else critic

    return make


def pgd_risk_check(cfg: GaussianConfig, seed: int, device: torch.device) -> list[RiskRow]:
    """PGD adversarial risk of ``f*`` on ``risk_samples`` fresh samples vs ``Φ(b − a)`` for ℓ∞ and ℓ2 (no box)."""
    gm, w = _mixture(cfg)
    x_np, y_np = gm.sample(cfg.risk_samples, numpy_rng(seed))
    x = torch.as_tensor(x_np, device=device)
    y = torch.as_tensor((y_np + 1) // 2, device=device)
    model = LinearSignClassifier(w, gm.downstream_sign(w)).to(device)
    rows = []
    for norm, p in (("linf", math.inf), ("l2", 2)):
        for eps in cfg.risk_eps_values:
            acc = adversarial_accuracy(model, x, y, ThreatModel(
                norm, eps, cfg.risk_steps, _attack_step(eps, cfg.risk_steps, cfg.step_factor), box=None))
            exact = float(gm.adversarial_risk(w, eps, p))
            se = math.sqrt(exact * (1 - exact) / cfg.risk_samples)
            rows.append(RiskRow(norm, float(eps), 1.0 - acc, exact, se))
    return rows


def _gaussian_data(gm: GaussianMixture, cfg: GaussianConfig, seed: int, device: torch.device
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    rng = numpy_rng(10_000 + seed)
    x_train, _ = gm.sample(cfg.n_train, rng)
    x_test, _ = gm.sample(cfg.n_test, rng)
    return (torch.as_tensor(x_train, dtype=torch.float32, device=device),
            torch.as_tensor(x_test, dtype=torch.float32, device=device))


def _positive_fraction(x: torch.Tensor, w: np.ndarray) -> float:
    return float((x.double() @ torch.as_tensor(w, device=x.device) >= 0).double().mean())


def masking_demo(cfg: GaussianConfig, seed: int, device: torch.device) -> MaskingDemo:
    """Train a critic (normal MI) for ``sgn(wᵀx)``, then attack one test batch at ``cfg.sweep_eps`` with Algorithm 1
    using the true sign and straight-through signs (``k = cfg.sharpness`` and ``max(cfg.sharpness_values)``),
    through the representation only and through the full gradient."""
    gm, w = _mixture(cfg)
    x_train, x_test = _gaussian_data(gm, cfg, seed, device)
    make = _separable_factory(cfg.dim, 1, cfg.critic_hidden, cfg.critic_embed)
    true_sign = SignRepresentation(w, None).to(device)
    est = estimate_mutual_information(
        true_sign, seeded(make, seed), x_train, x_test, threat=None,
        config=EstimatorConfig(iterations=cfg.iterations, batch_size=cfg.batch_size, lr=cfg.lr, test_batches=1),
        generator=torch.Generator().manual_seed(seed))
    critic = est.critic
    xb = x_test[: 4 * cfg.batch_size]
    eps = cfg.sweep_eps
    with torch.no_grad():
        clean = float(dv(critic(xb, true_sign(xb))))
    sharp = max((*cfg.sharpness_values, cfg.sharpness))
    variants = [("sign", None, "representation"), (f"tanh k={cfg.sharpness:g}", cfg.sharpness, "representation"),
                (f"tanh k={cfg.sharpness:g}", cfg.sharpness, "full"), (f"tanh k={sharp:g}", sharp, "full")]
    rows, warned = [], False
    for name, k, gradient in variants:
        rep = SignRepresentation(w, k).to(device)
        xr = xb.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(mi_objective(critic, rep, gradient=gradient)(xr), xr, allow_unused=True)
        grad_norm = 0.0 if grad is None else float(grad.norm())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ZeroGradientWarning)
            outs = []
            for keep_best in (False, True):
                threat = ThreatModel("linf", eps, cfg.steps, _attack_step(eps, cfg.steps, cfg.step_factor), box=None)
                outs.append(worst_case_batch(critic, rep, xb, threat, gradient=gradient, keep_best=keep_best))
        warned = warned or any(issubclass(c.category, ZeroGradientWarning) for c in caught)
        (x_last, _), (x_best, v_best) = outs
        positive = _positive_fraction(x_best, w)
        moved = float(((x_last - xb).abs().amax(dim=1) > 0).double().mean())
        rows.append(MaskingRow(name, gradient, grad_norm, moved, float(v_best), positive,
                               float(binary_entropy(positive))))
    exact = float(gm.worst_case_mutual_information(w, eps, math.inf))
    return MaskingDemo(eps=eps, estimate_clean=clean, exact_worst=exact, sample_worst=_sample_worst(xb, w, eps),
                       batch=xb.shape[0], warned=warned, rows=rows)


def _sample_worst(x: torch.Tensor, w: np.ndarray, eps: float) -> float:
    """The exact ℓ∞ worst case *of this sample*: ``P̂[Z′ = 1]`` can reach any value between the fraction with margin
    ``≥ ε‖w‖₁`` and the fraction with margin ``≥ −ε‖w‖₁``; the entropy is smallest at one of the two ends."""
    margin = x.double() @ torch.as_tensor(w, device=x.device)
    budget = eps * float(np.abs(w).sum())
    low, high = float((margin >= budget).double().mean()), float((margin >= -budget).double().mean())
    return float(min(binary_entropy(low), binary_entropy(high)))


def _settings(cfg: GaussianConfig) -> list[tuple[str, float, float, int, int, str]]:
    base = (cfg.sharpness, cfg.steps, cfg.iterations)
    out = [("eps", float(e), *base, "representation") for e in cfg.eps_values]
    out += [("eps_full", float(e), *base, "full") for e in cfg.eps_values]
    e = float(cfg.sweep_eps)
    out += [("sharpness", e, float(k), cfg.steps, cfg.iterations, "representation")
            for k in sorted({*cfg.sharpness_values, cfg.sharpness})]
    out += [("steps", e, cfg.sharpness, int(s), cfg.iterations, "representation")
            for s in sorted({*cfg.steps_values, cfg.steps})]
    out += [("iterations", e, cfg.sharpness, cfg.steps, int(t), "representation")
            for t in sorted({*cfg.iterations_values, cfg.iterations})]
    return out


def gaussian_experiment(cfg: GaussianConfig, seed: int, device: torch.device,
                        log: Callable[[str], None] | None = None) -> tuple[list[GaussianSetting], float]:
    """All Gaussian settings (see :func:`_settings`) for ``cfg.n_seeds`` seeds. Returns the settings and ``log 2``.

    Runs that are shared between sweeps (the base setting appears in every sweep) are computed once.
    """
    gm, w = _mixture(cfg)
    settings = _settings(cfg)
    make = _separable_factory(cfg.dim, 1, cfg.critic_hidden, cfg.critic_embed)
    seeds = [seed + i for i in range(cfg.n_seeds)]
    worst_cache: dict[tuple, tuple[float, float]] = {}
    normal_cache: dict[tuple, float] = {}
    oracle_cache: dict[tuple, float] = {}
    sample_worst: dict[tuple, float] = {}
    for s in seeds:
        x_train, x_test = _gaussian_data(gm, cfg, s, device)
        generator = lambda s=s: torch.Generator().manual_seed(s)  # noqa: E731
        for sweep, eps, k, steps, iters, grad in settings:
            est_cfg = EstimatorConfig(iterations=iters, batch_size=cfg.batch_size, lr=cfg.lr, gradient=grad)
            if (s, iters) not in normal_cache:
                normal_cache[(s, iters)] = estimate_mutual_information(
                    SignRepresentation(w, k).to(device), seeded(make, s), x_train, x_test, threat=None,
                    config=est_cfg, generator=generator()).estimate
            key = (s, eps, k, steps, iters, grad)
            if key not in worst_cache:
                threat = ThreatModel("linf", eps, steps, _attack_step(eps, steps, cfg.step_factor), box=None)
                est = estimate_mutual_information(SignRepresentation(w, k).to(device), seeded(make, s), x_train,
                                                  x_test, threat=threat, config=est_cfg, generator=generator())
                worst_cache[key] = (est.estimate, _positive_fraction(est.x_perturbed, w))
                if log is not None:
                    log(f"gaussian seed {s} {sweep} eps={eps} k={k} S={steps} T={iters} {grad}: "
                        f"estimate {est.estimate:.3f}")
            if (s, eps) not in sample_worst:
                sample_worst[(s, eps)] = _sample_worst(x_test, w, eps)
            if sweep == "eps" and (s, eps, iters) not in oracle_cache:
                transport = lambda x, eps=eps: torch.as_tensor(  # noqa: E731
                    gm.worst_case_transport(x.double().cpu().numpy(), w, eps, math.inf), dtype=torch.float32,
                    device=device)
                oracle_cache[(s, eps, iters)] = estimate_mutual_information(
                    SignRepresentation(w, k).to(device), seeded(make, s), transport(x_train), transport(x_test),
                    threat=None, config=est_cfg, generator=generator()).estimate
    out = []
    for sweep, eps, k, steps, iters, grad in settings:
        pairs = [worst_cache[(s, eps, k, steps, iters, grad)] for s in seeds]
        positive = np.array([p for _, p in pairs])
        out.append(GaussianSetting(
            sweep=sweep, eps=eps, sharpness=k, steps=steps, iterations=iters, gradient=grad,
            exact=float(gm.worst_case_mutual_information(w, eps, math.inf)),
            estimate=np.array([e for e, _ in pairs]), attacked_true=np.asarray(binary_entropy(positive)),
            attacked_positive=positive, sample_worst=np.array([sample_worst[(s, eps)] for s in seeds]),
            normal_estimate=np.array([normal_cache[(s, iters)] for s in seeds]),
            oracle_estimate=np.array([oracle_cache[(s, eps, iters)] for s in seeds]) if sweep == "eps" else None,
        ))
    return out, float(gm.mutual_information(w))


# ------------------------------------------------------------------------------------------------ digits
def _train_digits(cfg: DigitsConfig, adversarial: bool, seed: int, device: torch.device) -> nn.Module:
    from rrlib.train import TrainConfig, train_model

    eval_steps = cfg.train_steps
    train_cfg = TrainConfig(
        dataset="digits", model="baseline_h", head="linear", width=cfg.width, epochs=cfg.epochs,
        batch_size=cfg.train_batch_size, lr=cfg.train_lr, adv_eps=cfg.train_eps if adversarial else None,
        adv_steps=cfg.train_steps, adv_step_size=_attack_step(cfg.train_eps, eval_steps, cfg.step_factor),
        eval_adversarial=False, eval_every=cfg.epochs, seed=seed, amp=False,
    )
    result = train_model(train_cfg, device=device, show_progress=False)
    return result.model.eval()


def digits_experiment(cfg: DigitsConfig, seed: int, device: torch.device,
                      log: Callable[[str], None] | None = None) -> list[DigitsRow]:
    """Normal MI, worst-case MI and accuracies of a standard and a PGD-trained Baseline-H on 8×8 digits."""
    x_train, _ = load_dataset("digits", "train").tensors()
    x_test, y_test = load_dataset("digits", "test").tensors()
    x_train, x_test, y_test = x_train.to(device), x_test.to(device), y_test.to(device)
    make = _separable_factory(64, 10, cfg.critic_hidden, cfg.critic_embed, flat=True)
    est_cfg = EstimatorConfig(iterations=cfg.iterations, batch_size=cfg.batch_size, lr=cfg.lr)
    seeds = [seed + i for i in range(cfg.n_seeds)]
    rows = []
    for name, adversarial in (("standard", False), ("robust", True)):
        model = _train_digits(cfg, adversarial, seed, device)
        normal = np.array([
            estimate_mutual_information(model, seeded(make, s), x_train, x_test, threat=None, config=est_cfg,
                                        generator=torch.Generator().manual_seed(s)).estimate for s in seeds])
        with torch.no_grad():
            nat_acc = float((model(x_test).argmax(1) == y_test).double().mean())
        rows.append(DigitsRow(name, 0.0, normal, normal.copy(), nat_acc, nat_acc))
        for eps in cfg.eps_values:
            step = _attack_step(eps, cfg.attack_steps, cfg.step_factor)
            threat = ThreatModel("linf", float(eps), cfg.attack_steps, step, box=(0.0, 1.0))
            worst = np.array([
                estimate_mutual_information(model, seeded(make, s), x_train, x_test, threat=threat, config=est_cfg,
                                            generator=torch.Generator().manual_seed(s)).estimate for s in seeds])
            adv_acc = adversarial_accuracy(model, x_test, y_test, threat)
            rows.append(DigitsRow(name, float(eps), normal, worst, nat_acc, adv_acc))
            if log is not None:
                log(f"digits {name} eps={eps}: normal {normal.mean():.3f} worst {worst.mean():.3f} "
                    f"adv acc {adv_acc:.3f}")
    return rows


# ------------------------------------------------------------------------------------------------ cost
class _CountingRepresentation(nn.Module):
    """Wraps a module and counts its forward calls, and those whose input requires a gradient (PGD passes)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.forward_calls = 0
        self.input_grad_calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.forward_calls += 1
        self.input_grad_calls += int(x.requires_grad and torch.is_grad_enabled())
        return self.inner(x)


def cost_experiment(cfg: CostConfig, digits: DigitsConfig, seed: int, device: torch.device) -> list[CostRow]:
    """Median seconds of one plain MINE iteration (:func:`critic_step`) and one worst-case iteration
    (Algorithm 1 with ``S`` steps, then :func:`critic_step`) on an untrained digits Baseline-H and critic."""
    from rrlib.models import build_model

    torch.manual_seed(seed)
    model = _CountingRepresentation(build_model("baseline_h", "digits", head="linear", width=digits.width)).to(device)
    model.eval()
    critic = seeded(_separable_factory(64, 10, digits.critic_hidden, digits.critic_embed, flat=True), seed)
    critic = critic.to(device)
    optimizer = torch.optim.Adam(critic.parameters(), lr=digits.lr)
    x_all, _ = load_dataset("digits", "train").tensors()
    xb = x_all[: digits.batch_size].to(device)

    def timed(plain: Callable[[], object], worst: Callable[[], object]) -> tuple[float, float]:
        """Median seconds of each, calls interleaved so that machine load affects both alike; one warm-up each."""
        times: tuple[list[float], list[float]] = ([], [])
        for repeat in range(cfg.repeats + 1):
            for fn, bucket in ((plain, times[0]), (worst, times[1])):
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                t0 = time.perf_counter()
                fn()
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                if repeat:
                    bucket.append(time.perf_counter() - t0)
        return float(np.median(times[0])), float(np.median(times[1]))

    rows = []
    for steps in cfg.steps_values:
        eps = 0.1
        attack = ThreatModel("linf", eps, steps, _attack_step(eps, steps, digits.step_factor))

        def plain() -> None:
            critic_step(critic, optimizer, model, xb)

        def worst(attack: ThreatModel = attack) -> None:
            x_adv, _ = worst_case_batch(critic, model, xb, attack)
            critic_step(critic, optimizer, model, x_adv)

        model.forward_calls = model.input_grad_calls = 0
        plain()
        plain_forward = model.forward_calls
        model.forward_calls = model.input_grad_calls = 0
        worst()
        worst_forward, worst_backward = model.forward_calls, model.input_grad_calls
        rows.append(CostRow(steps, *timed(plain, worst), plain_forward, worst_forward, worst_backward))
    return rows


# ------------------------------------------------------------------------------------------------ tables
def three_number_table(settings: list[GaussianSetting], columns: tuple[str, ...] = ("eps",)) -> str:
    """A markdown table: setting, estimate, true MI of the attacked data, exact worst case and the two errors."""
    labels = {"eps": "ε", "sharpness": "k", "steps": "S", "iterations": "T", "gradient": "gradient"}
    head = [labels[c] for c in columns] + ["Î_worst (estimate)", "I(X′;Z′) of the attack", "exact worst case",
                                          "estimation error", "search error"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in settings:
        row = [f"{getattr(s, c):g}" if not isinstance(getattr(s, c), str) else getattr(s, c) for c in columns]
        for arr in (s.estimate, s.attacked_true):
            m, sd = _mean_std(arr)
            row.append(f"{m:.3f} ± {sd:.3f}")
        row.append(f"{s.exact:.3f}")
        for arr in (s.estimation_error, s.search_error):
            m, sd = _mean_std(arr)
            row.append(f"{m:+.3f} ± {sd:.3f}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def masking_table(demo: MaskingDemo) -> str:
    """A markdown table of the gradient-masking demonstration."""
    lines = ["| representation (backward) | adversary's gradient | ‖∇ₓJ‖ | moved | estimate V1 | P̂[Z′ = 1] | "
             "true MI of the attacked batch |", "|---|---|---|---|---|---|---|"]
    for r in demo.rows:
        lines.append(f"| {r.representation} | {r.gradient} | {r.grad_norm:.3g} | {100 * r.moved:.0f}% | "
                     f"{r.estimate:.3f} | {r.positive:.3f} | {r.true_mi:.3f} |")
    lines.append(f"\n\nClean estimate {demo.estimate_clean:.3f} nats; exact worst case at ε = {demo.eps:g}: "
                 f"{demo.exact_worst:.3f} nats.")
    return "\n".join(lines)


def digits_table(rows: list[DigitsRow]) -> str:
    """A markdown table of the digits experiment (MI in nats, accuracies in %)."""
    lines = ["| model | ε | normal MI | worst-case MI | RV | natural acc. | PGD acc. |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r.model, f"{r.eps:g}"]
        for arr in (r.normal, r.worst, r.rv):
            m, sd = _mean_std(arr)
            cells.append(f"{m:.3f} ± {sd:.3f}")
        cells += [f"{100 * r.nat_acc:.1f}", f"{100 * r.adv_acc:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cost_table(rows: list[CostRow]) -> str:
    """A markdown table of the measured cost of one iteration."""
    lines = ["| S | plain step (ms) | worst-case step (ms) | ratio | S + 1 | passes of g: plain | worst (with ∇ₓ) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.steps} | {1e3 * r.plain_seconds:.2f} | {1e3 * r.worst_seconds:.2f} | {r.ratio:.2f} | "
                     f"{r.steps + 1} | {r.plain_forward} | {r.worst_forward} ({r.worst_input_backward}) |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ run
def run(config: Config, log: Callable[[str], None] | None = None) -> Result:
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


def exact_curves(cfg: GaussianConfig, points: int = 101
                 ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], tuple[np.ndarray, np.ndarray]]:
    """Closed forms on an ε grid: ``AdvRisk_ε(f*)`` for ℓ∞ and ℓ2, and the ℓ∞ worst-case MI (nats)."""
    gm, w = _mixture(cfg)
    risk_grid = np.linspace(0.0, max(cfg.risk_eps_values) * 1.1, points)
    worst_grid = np.linspace(0.0, max((*cfg.eps_values, cfg.sweep_eps)) * 1.1, points)
    risk = {norm: (risk_grid, np.asarray(gm.adversarial_risk(w, risk_grid, p)))
            for norm, p in (("linf", math.inf), ("l2", 2))}
    return risk, (worst_grid, np.asarray(gm.worst_case_mutual_information(w, worst_grid, math.inf)))


def quick_config(seed: int = 0, device: str = "cpu") -> Config:
    """The quick profile (CPU, about a minute)."""
    return Config(seed=seed, device=device)


def full_config(seed: int = 0, device: str = "auto") -> Config:
    """The full profile: more ε values, seeds, critic iterations and sweep points."""
    g = replace(GaussianConfig(), n_train=16384, n_test=8192, eps_values=(0.25, 0.5, 0.75, 1.0, 1.25, 1.5),
                sharpness_values=(1.0, 10.0, 30.0), steps_values=(1, 2, 10, 30), iterations=1000,
                iterations_values=(100, 300, 3000), n_seeds=5, risk_samples=200000)
    d = replace(DigitsConfig(), epochs=50, eps_values=(0.05, 0.1, 0.2, 0.3), attack_steps=10, iterations=1000,
                batch_size=128, n_seeds=5)
    return Config(gaussian=g, digits=d, cost=CostConfig(steps_values=(1, 5, 10, 20), repeats=50), seed=seed,
                  device=device)
