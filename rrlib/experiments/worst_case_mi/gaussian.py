"""Chapter 05, on the Gaussian mixture (3.1): PGD vs the closed-form adversarial risk, the gradient-masking
demonstration, and the three numbers (estimate, true MI of the attacked data, exact worst case) of Algorithms 1–2.

See :mod:`rrlib.experiments.worst_case_mi` for what each experiment shows.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from rrlib.attacks import ThreatModel, ZeroGradientWarning, adversarial_accuracy
from rrlib.experiments.worst_case_mi.common import attack_step, separable_factory
from rrlib.mi.bounds import dv
from rrlib.mi.worst_case import (
    EstimatorConfig,
    estimate_mutual_information,
    mi_objective,
    worst_case_batch,
)
from rrlib.models.surrogates import LinearSignClassifier, SignRepresentation
from rrlib.runtime import numpy_rng, seeded
from rrlib.stats import mean_sd
from rrlib.theory import GaussianMixture, binary_entropy

__all__ = ["GaussianConfig", "GaussianSetting", "MaskingDemo", "MaskingRow", "RiskRow", "exact_curves",
           "gaussian_experiment", "gaussian_settings", "masking_demo", "pgd_risk_check"]


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
    ``last_estimate``: ``J`` of that last iterate; ``estimate``: ``V1`` with the best iterate kept (the start, the
    clean batch, is an iterate, so ``estimate ≤`` the clean ``J``); ``best_moved``: fraction of points the kept
    iterate moved (0 when no PGD iterate lowered ``J`` below its clean value and the start is kept);
    ``positive``: ``P̂[Z′ = 1]`` of the kept iterate and ``true_mi = H2(positive)`` the true MI of the attacked
    batch; ``sharpness``: the surrogate's ``k`` (``None`` for the true sign).
    """

    representation: str
    gradient: str
    grad_norm: float
    moved: float
    estimate: float
    positive: float
    true_mi: float
    sharpness: float | None = None
    last_estimate: float = math.nan
    best_moved: float = math.nan


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

    def metrics(self) -> dict[str, float | str | int]:
        """Plain numbers: the setting and mean, std over seeds of every quantity (nats)."""
        out: dict[str, float | str | int] = {"sweep": self.sweep, "eps": self.eps, "sharpness": self.sharpness,
                                             "steps": self.steps, "iterations": self.iterations,
                                             "gradient": self.gradient, "exact": self.exact}
        for name in ("estimate", "attacked_true", "sample_worst", "normal_estimate", "estimation_error",
                     "search_error", "total_error"):
            mean, std = mean_sd(getattr(self, name), of_one=0.0)
            out[f"{name}_mean"], out[f"{name}_std"] = mean, std
        if self.oracle_estimate is not None:
            out["oracle_estimate_mean"], out["oracle_estimate_std"] = mean_sd(self.oracle_estimate, of_one=0.0)
        return out



# ------------------------------------------------------------------------------------------------ Gaussian setup
def _mixture(cfg: GaussianConfig) -> tuple[GaussianMixture, np.ndarray]:
    theta = np.full(cfg.dim, cfg.theta_norm / math.sqrt(cfg.dim))
    return GaussianMixture(theta, np.eye(cfg.dim)), theta / np.linalg.norm(theta)



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
                norm, eps, cfg.risk_steps, attack_step(eps, cfg.risk_steps, cfg.step_factor), box=None))
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
    make = separable_factory(cfg.dim, 1, cfg.critic_hidden, cfg.critic_embed)
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
                threat = ThreatModel("linf", eps, cfg.steps, attack_step(eps, cfg.steps, cfg.step_factor), box=None)
                outs.append(worst_case_batch(critic, rep, xb, threat, gradient=gradient, keep_best=keep_best))
        warned = warned or any(issubclass(c.category, ZeroGradientWarning) for c in caught)
        (x_last, v_last), (x_best, v_best) = outs
        positive = _positive_fraction(x_best, w)
        moved = float(((x_last - xb).abs().amax(dim=1) > 0).double().mean())
        best_moved = float(((x_best - xb).abs().amax(dim=1) > 0).double().mean())
        rows.append(MaskingRow(name, gradient, grad_norm, moved, float(v_best), positive,
                               float(binary_entropy(positive)), sharpness=k, last_estimate=float(v_last),
                               best_moved=best_moved))
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


def gaussian_settings(cfg: GaussianConfig) -> list[tuple[str, float, float, int, int, str]]:
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
    """All Gaussian settings (see :func:`gaussian_settings`) for ``cfg.n_seeds`` seeds. Returns the settings and
    ``log 2``.

    Runs that are shared between sweeps (the base setting appears in every sweep) are computed once.
    """
    gm, w = _mixture(cfg)
    settings = gaussian_settings(cfg)
    make = separable_factory(cfg.dim, 1, cfg.critic_hidden, cfg.critic_embed)
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
                threat = ThreatModel("linf", eps, steps, attack_step(eps, steps, cfg.step_factor), box=None)
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



def exact_curves(cfg: GaussianConfig, points: int = 101
                 ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], tuple[np.ndarray, np.ndarray]]:
    """Closed forms on an ε grid: ``AdvRisk_ε(f*)`` for ℓ∞ and ℓ2, and the ℓ∞ worst-case MI (nats)."""
    gm, w = _mixture(cfg)
    risk_grid = np.linspace(0.0, max(cfg.risk_eps_values) * 1.1, points)
    worst_grid = np.linspace(0.0, max((*cfg.eps_values, cfg.sweep_eps)) * 1.1, points)
    risk = {norm: (risk_grid, np.asarray(gm.adversarial_risk(w, risk_grid, p)))
            for norm, p in (("linf", math.inf), ("l2", 2))}
    return risk, (worst_grid, np.asarray(gm.worst_case_mutual_information(w, worst_grid, math.inf)))


