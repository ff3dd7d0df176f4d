"""Chapter 1 (Section 2 and Lemma 3.3): mutual information, the ∞-Wasserstein ball and adversarial risk.

``run(config)`` computes, with exact values next to Monte Carlo checks:

1. Mutual information (Definition 2.1) of a discrete table and of correlated Gaussians: the exact value and the
   unbiased Monte Carlo mean of the log density ratio ``log p(x, y) / (p(x) p(y))`` with its standard error.
2. The ∞-Wasserstein ball (Definition 2.2): moving every sample of the Gaussian mixture (3.1) by ε in the
   Hölder-optimal direction gives a coupling whose largest displacement is exactly ε, so the moved law lies in
   ``B_W∞(μ_X, ε)``; the projected distribution of ``wᵀx`` before and after.
3. Lemma 3.3 on the mixture: the risk of ``f* = h*∘sgn(wᵀ·)`` under the optimal transport map equals the
   closed-form adversarial risk ``Φ(b - a)`` (Definition 2.3), for ε on a grid and p ∈ {1, 2, ∞}.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rrlib import stats
from rrlib.runtime import numpy_rng
from rrlib.theory import (
    LOG2,
    GaussianMixture,
    binary_entropy,
    discrete_mutual_information,
    gaussian_mutual_information,
    lp_norm,
    p_key,
)

__all__ = ["PreliminariesConfig", "PreliminariesResult", "run"]


@dataclass(frozen=True)
class PreliminariesConfig:
    """Parameters of chapter 1. ``mc_samples`` sets every Monte Carlo check's sample size."""

    seed: int = 0
    mc_samples: int = 20_000
    discrete_shape: tuple[int, int] = (3, 4)
    flip_grid: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
    rhos: tuple[float, ...] = (0.0, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99)
    gaussian_dim: int = 2
    theta: tuple[float, ...] = (1.0, 0.5)
    cov: tuple[tuple[float, ...], ...] = ((1.0, 0.3), (0.3, 0.6))
    w: tuple[float, ...] = (1.0, 0.4)
    transport_eps: float = 0.5
    eps_grid: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
    p_values: tuple[object, ...] = (1, 2, "inf")
    n_scatter: int = 300

    @classmethod
    def quick(cls, seed: int = 0, device: str = "auto") -> PreliminariesConfig:
        """CPU, about two seconds. (NumPy only: ``device`` is accepted for the common contract and ignored.)"""
        return cls(seed=seed)

    @classmethod
    def full(cls, seed: int = 0, device: str = "auto") -> PreliminariesConfig:
        """Ten times the Monte Carlo samples (standard errors shrink by about 3.2)."""
        return cls(seed=seed, mc_samples=200_000)


@dataclass
class PreliminariesResult:
    """Numbers and arrays of chapter 1. z-scores are (estimate − exact) / standard error."""

    config: PreliminariesConfig
    discrete_joint: np.ndarray
    discrete_exact: float
    discrete_mc: float
    discrete_se: float
    flip_grid: np.ndarray
    bsc_exact: np.ndarray
    bsc_mc: np.ndarray
    bsc_se: np.ndarray
    rhos: np.ndarray
    gaussian_exact: np.ndarray
    gaussian_mc: np.ndarray
    gaussian_se: np.ndarray
    scatter_x: np.ndarray
    scatter_y: np.ndarray
    scatter_moved: dict[str, np.ndarray]
    projection_before: np.ndarray
    projection_after: np.ndarray
    transport_distance_ratio: dict[str, float]
    eps_grid: np.ndarray
    adversarial_risk_exact: dict[str, np.ndarray]
    adversarial_risk_mc: dict[str, np.ndarray]
    adversarial_risk_se: dict[str, np.ndarray]
    clean_risk_exact: float
    clean_risk_mc: float
    dense_flip: np.ndarray
    dense_bsc: np.ndarray
    dense_rho: np.ndarray
    dense_gaussian: np.ndarray
    dense_eps: np.ndarray
    dense_adversarial_risk: dict[str, np.ndarray]
    extras: dict[str, float] = field(default_factory=dict)

    # A log ratio that is constant (flip 0 or 1/2, rho 0) has zero variance: the standard error is floored at
    # SE_FLOOR so that float rounding (~1e-16) gives z ≈ 0 instead of 0/0.
    SE_FLOOR = 1e-12

    @property
    def discrete_z(self) -> float:
        return (self.discrete_mc - self.discrete_exact) / max(self.discrete_se, self.SE_FLOOR)

    @property
    def bsc_z(self) -> np.ndarray:
        return (self.bsc_mc - self.bsc_exact) / np.maximum(self.bsc_se, self.SE_FLOOR)

    @property
    def gaussian_z(self) -> np.ndarray:
        return (self.gaussian_mc - self.gaussian_exact) / np.maximum(self.gaussian_se, self.SE_FLOOR)

    @property
    def lemma_3_3_z(self) -> dict[str, np.ndarray]:
        return {key: (self.adversarial_risk_mc[key] - value) / self.adversarial_risk_se[key]
                for key, value in self.adversarial_risk_exact.items()}

    def metrics(self) -> dict[str, float | int]:
        """The chapter's key numbers (JSON-able): exact values, worst |z| of each Monte Carlo family, transport."""
        lemma_z = np.concatenate([np.abs(z) for z in self.lemma_3_3_z.values()])
        mi_z = np.concatenate([[abs(self.discrete_z)], np.abs(self.bsc_z), np.abs(self.gaussian_z)])
        ratios = list(self.transport_distance_ratio.values())
        return {
            "mc_samples": int(self.config.mc_samples),
            "discrete_mi_exact": float(self.discrete_exact),
            "discrete_mi_mc": float(self.discrete_mc),
            "discrete_mi_mc_z": float(self.discrete_z),
            "bsc_mc_max_abs_z": float(np.max(np.abs(self.bsc_z))),
            "gaussian_mc_max_abs_z": float(np.max(np.abs(self.gaussian_z))),
            "gaussian_mi_at_max_rho": float(self.gaussian_exact[-1]),
            "max_rho": float(self.rhos[-1]),
            "mi_mc_max_abs_z": float(mi_z.max()),
            "mi_n_checks": int(mi_z.size),
            "transport_distance_ratio_min": float(min(ratios)),
            "transport_distance_ratio_max": float(max(ratios)),
            "transport_distance_ratio_max_dev": float(max(abs(r - 1.0) for r in ratios)),
            "transport_eps": float(self.config.transport_eps),
            "margin_shift_inf": float(self.extras["dual_norm_shift_inf"]),
            "lemma_3_3_max_abs_z": float(lemma_z.max()),
            "lemma_3_3_n_checks": int(lemma_z.size),
            "clean_risk_exact": float(self.clean_risk_exact),
            "clean_risk_mc": float(self.clean_risk_mc),
            "adversarial_risk_inf_at_max_eps": float(self.adversarial_risk_exact["inf"][-1]),
            "max_eps": float(self.eps_grid[-1]),
            "margin_a": float(self.extras["margin_a"]),
        }


def _mean_and_se(values: np.ndarray) -> tuple[float, float]:
    return stats.mean(values), stats.standard_error(values)


def _discrete_mc(joint: np.ndarray, n: int, rng: np.random.Generator) -> tuple[float, float]:
    cells = rng.choice(joint.size, size=n, p=joint.ravel())
    i, j = np.unravel_index(cells, joint.shape)
    return _mean_and_se(np.log(joint[i, j] / (joint.sum(1)[i] * joint.sum(0)[j])))


def _gaussian_mc(rho: float, dim: int, n: int, rng: np.random.Generator) -> tuple[float, float]:
    """MC of E[log p(x, y)/(p(x)p(y))] for ``dim`` independent standard pairs with correlation ``rho``."""
    x = rng.standard_normal((n, dim))
    y = rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((n, dim))
    # per pair: log p(x,y) - log p(x) - log p(y) for the bivariate standard normal with correlation rho
    log_ratio = (-0.5 * np.log1p(-rho**2) - (rho**2 * (x**2 + y**2) - 2 * rho * x * y) / (2 * (1 - rho**2)))
    return _mean_and_se(log_ratio.sum(axis=1))


def run(config: PreliminariesConfig) -> PreliminariesResult:
    """Compute everything chapter 1 shows (a few seconds for the quick profile)."""
    rng = numpy_rng(config.seed)
    n = config.mc_samples

    joint = rng.dirichlet(np.full(int(np.prod(config.discrete_shape)), 0.6)).reshape(config.discrete_shape)
    discrete_exact = discrete_mutual_information(joint)
    discrete_mc, discrete_se = _discrete_mc(joint, n, rng)

    flips = np.asarray(config.flip_grid, dtype=np.float64)
    bsc_exact, bsc_mc, bsc_se = [], [], []
    for flip in flips:
        table = 0.5 * np.array([[1 - flip, flip], [flip, 1 - flip]])
        bsc_exact.append(discrete_mutual_information(table))
        mean, se = _discrete_mc(table, n, rng)
        bsc_mc.append(mean)
        bsc_se.append(se)

    rhos = np.asarray(config.rhos, dtype=np.float64)
    gaussian_exact = np.asarray(gaussian_mutual_information(rho=rhos, dim=config.gaussian_dim))
    gaussian_stats = np.array([_gaussian_mc(float(r), config.gaussian_dim, n, rng) for r in rhos])

    mixture = GaussianMixture(config.theta, config.cov)
    w = np.asarray(config.w, dtype=np.float64)
    x, y = mixture.sample(n, rng)
    labels = [p_key(p) for p in config.p_values]

    moved, ratios = {}, {}
    for p, key in zip(config.p_values, labels, strict=True):
        x_moved = mixture.adversarial_transport(x, y, w, config.transport_eps, p)
        ratios[key] = float(np.max(lp_norm(x_moved - x, p)) / config.transport_eps)
        moved[key] = x_moved[: config.n_scatter]
    x_inf = mixture.adversarial_transport(x, y, w, config.transport_eps, "inf")
    sign = mixture.downstream_sign(w)

    eps_grid = np.asarray(config.eps_grid, dtype=np.float64)
    exact, mc, se = {}, {}, {}
    for p, key in zip(config.p_values, labels, strict=True):
        exact[key] = np.asarray(mixture.adversarial_risk(w, eps_grid, p))
        rates = np.array([
            np.mean(mixture.predict(mixture.adversarial_transport(x, y, w, float(e), p), w) != y) for e in eps_grid
        ])
        mc[key] = rates
        se[key] = np.sqrt(exact[key] * (1 - exact[key]) / n)  # binomial standard error at the exact value

    dense_flip = np.linspace(0.0, 0.5, 101)
    dense_rho = np.linspace(0.0, max(config.rhos), 200)
    dense_eps = np.linspace(0.0, max(config.eps_grid), 121)
    return PreliminariesResult(
        config=config,
        discrete_joint=joint,
        discrete_exact=discrete_exact,
        discrete_mc=discrete_mc,
        discrete_se=discrete_se,
        flip_grid=flips,
        bsc_exact=np.asarray(bsc_exact),
        bsc_mc=np.asarray(bsc_mc),
        bsc_se=np.asarray(bsc_se),
        rhos=rhos,
        gaussian_exact=gaussian_exact,
        gaussian_mc=gaussian_stats[:, 0],
        gaussian_se=gaussian_stats[:, 1],
        scatter_x=x[: config.n_scatter],
        scatter_y=y[: config.n_scatter],
        scatter_moved=moved,
        projection_before=sign * y * (x @ w),
        projection_after=sign * y * (x_inf @ w),
        transport_distance_ratio=ratios,
        eps_grid=eps_grid,
        adversarial_risk_exact=exact,
        adversarial_risk_mc=mc,
        adversarial_risk_se=se,
        clean_risk_exact=mixture.risk(w),
        clean_risk_mc=float(np.mean(mixture.predict(x, w) != y)),
        dense_flip=dense_flip,
        dense_bsc=LOG2 - np.asarray(binary_entropy(dense_flip)),
        dense_rho=dense_rho,
        dense_gaussian=np.asarray(gaussian_mutual_information(rho=dense_rho, dim=config.gaussian_dim)),
        dense_eps=dense_eps,
        dense_adversarial_risk={key: np.asarray(mixture.adversarial_risk(w, dense_eps, p))
                                for p, key in zip(config.p_values, labels, strict=True)},
        extras={
            "bsc_check": float(np.max(np.abs(np.asarray(bsc_exact) - (LOG2 - binary_entropy(flips))))),
            "dual_norm_shift_inf": float(np.abs(w).sum() * config.transport_eps),
            "margin_a": mixture.standardized_margin(w),
        },
    )
