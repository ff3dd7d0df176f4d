"""Chapter 2 (Section 3.1, Theorem 3.2): representation vulnerability vs adversarial gap on the Gaussian mixture.

``run(config)`` computes, all in nats:

1. Curves on a base instance: RV_ε, AG_ε(f*) and both forms of the bounds as functions of ε (for p ∈ {1, 2, ∞})
   and of the angle between ``w`` and ``θ`` (p = 2).
2. The sandwich on ``n_instances`` random instances (dimension, θ, Σ, w, ε, p): worst slack of the corrected
   bounds, how often the printed form fails and its worst counterexample, and the ratio ``P / AG ∈ [1, 2]``.
3. Numerical integration (``scipy.integrate.quad``) of the closed forms on the first ``n_quad`` instances.
4. Monte Carlo on the base instance: samples moved by the optimal ∞-Wasserstein transport maps; the empirical
   ``P[g(X') = 1]``, RV, adversarial risk and gap against the closed forms, with binomial standard errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import integrate, stats

from rrlib.jsonable import to_jsonable
from rrlib.runtime import numpy_rng
from rrlib.theory import (
    LOG2,
    GaussianMixture,
    binary_entropy,
    binary_entropy_derivative,
    dual_norm,
    p_key,
    theorem_3_2_bounds_from_gap,
)

__all__ = ["Theorem32Config", "Theorem32Result", "random_instance", "run"]

#: Bound checks allow this much float rounding (the closed forms are accurate to ~1e-15 in nats).
ROUNDING = 1e-12
#: Printed-form checks only count instances with a gap above this: the printed sandwich then misses RV by at
#: least 3·AG²/4 ≈ 7.5e-9, far above rounding, so every count is a genuine counterexample.
MIN_GAP_FOR_PRINTED_CHECK = 1e-4


@dataclass(frozen=True)
class Theorem32Config:
    """Parameters of chapter 2."""

    seed: int = 0
    dim: int = 8
    theta_scale: float = 0.35
    correlation: float = 0.3
    eps_max: float = 1.0
    n_eps: int = 41
    angle_eps: float = 0.5
    n_angles: int = 61
    p_values: tuple[object, ...] = (1, 2, "inf")
    n_instances: int = 1000
    max_dim: int = 20
    n_quad: int = 40
    mc_samples: int = 20_000
    mc_eps: tuple[float, ...] = (0.05, 0.1, 0.2, 0.35, 0.5)
    example_eps: float = 0.5

    @classmethod
    def quick(cls, seed: int = 0, device: str = "auto") -> Theorem32Config:
        """CPU, a few seconds: 1,000 random instances, 20,000 Monte Carlo samples. (NumPy only: ``device`` is
        accepted for the common contract and ignored.)"""
        return cls(seed=seed)

    @classmethod
    def full(cls, seed: int = 0, device: str = "auto") -> Theorem32Config:
        """10,000 random instances, 200 quadratures, 200,000 Monte Carlo samples."""
        return cls(seed=seed, n_instances=10_000, n_quad=200, mc_samples=200_000)


@dataclass
class Theorem32Result:
    """Everything chapter 2 plots and records. Per-p dictionaries are keyed by ``"1"``, ``"2"``, ``"inf"``."""

    config: Theorem32Config
    eps_grid: np.ndarray
    rv_eps: dict[str, np.ndarray]
    ag_eps: dict[str, np.ndarray]
    lower_eps: dict[str, np.ndarray]
    upper_eps: dict[str, np.ndarray]
    printed_lower_eps: dict[str, np.ndarray]
    printed_upper_eps: dict[str, np.ndarray]
    angles: np.ndarray
    rv_angle: np.ndarray
    ag_angle: np.ndarray
    lower_angle: np.ndarray
    upper_angle: np.ndarray
    instances: dict[str, np.ndarray]
    worst_counterexample: dict[str, float | int | str]
    quad_max_abs_err: float
    mc_eps: np.ndarray
    mc: dict[str, dict[str, np.ndarray]]
    gap_grid: np.ndarray
    gap_lower: np.ndarray
    gap_upper: np.ndarray
    scalars: dict[str, float | int] = field(default_factory=dict)

    def metrics(self) -> dict[str, float | int]:
        """The chapter's key numbers (JSON-able): the sandwich on random instances, Monte Carlo z-scores, quadrature
        error, the one-dimensional counterexample to the printed form (computed by :func:`run`)."""
        return to_jsonable(self.scalars)


def base_mixture(config: Theorem32Config) -> tuple[GaussianMixture, np.ndarray]:
    """The base instance: θ = scale·(1, …, 1), Σ = equicorrelated (unit variances, ``correlation``), and a
    fixed ``w`` at about 35° from θ (so that the three ℓp threat models differ: ‖w‖₁ > ‖w‖₂ > ‖w‖∞)."""
    d = config.dim
    theta = np.full(d, config.theta_scale)
    cov = (1 - config.correlation) * np.eye(d) + config.correlation * np.ones((d, d))
    w = np.ones(d) + np.linspace(-1.0, 1.0, d)
    return GaussianMixture(theta, cov), w


def random_instance(rng: np.random.Generator, max_dim: int) -> dict[str, object]:
    """One random instance of Theorem 3.2's setting.

    ``d ~ U{1..max_dim}``; θ Gaussian with a log-uniform scale; Σ = AAᵀ/d + δI with δ log-uniform in [1e-2, 1]
    (condition numbers up to ~1e3); ``w`` one of: Gaussian, the Bayes direction Σ⁻¹θ, orthogonal to θ
    (margin a = 0, where the upper bound is tight), or 1-sparse; ε log-uniform in [1e-3, 10]; p uniform.
    """
    d = int(rng.integers(1, max_dim + 1))
    theta = rng.standard_normal(d) * math.exp(rng.uniform(math.log(0.05), math.log(3.0))) / math.sqrt(d)
    a = rng.standard_normal((d, d))
    cov = a @ a.T / d + math.exp(rng.uniform(math.log(1e-2), 0.0)) * np.eye(d)
    kind = ("gaussian", "bayes", "orthogonal", "sparse")[int(rng.integers(4))]
    if kind == "orthogonal" and d == 1:
        kind = "gaussian"
    if kind == "bayes":
        w = np.linalg.solve(cov, theta)
    elif kind == "orthogonal":
        w = rng.standard_normal(d)
        w -= (w @ theta) / (theta @ theta) * theta
    elif kind == "sparse":
        w = np.zeros(d)
        w[int(rng.integers(d))] = 1.0
    else:
        w = rng.standard_normal(d)
    eps = math.exp(rng.uniform(math.log(1e-3), math.log(10.0)))
    p = (1, 2, "inf")[int(rng.integers(3))]
    return {"mixture": GaussianMixture(theta, cov), "w": w, "eps": eps, "p": p, "kind": kind, "dim": d}


def _quad_rv(mixture: GaussianMixture, w: np.ndarray, eps: float, p: object) -> float:
    """RV by numerical integration only: ``P[wᵀx ≥ ε‖w‖_q]`` from the mixture density, then ``∫ H2'``."""
    m, s = float(w @ mixture.theta), math.sqrt(float(w @ mixture.cov @ w))
    c = eps * dual_norm(w, p)
    density = lambda t: 0.5 * (stats.norm.pdf(t, m, s) + stats.norm.pdf(t, -m, s))  # noqa: E731
    # split at the two component means so quad sees both bumps
    points = sorted({c, max(c, m), max(c, -m)})
    low = sum(integrate.quad(density, lo, hi, epsabs=1e-14)[0] for lo, hi in zip(points, points[1:], strict=False))
    low += integrate.quad(density, points[-1], np.inf, epsabs=1e-14)[0]
    if low >= 0.5:
        return 0.0
    return integrate.quad(lambda t: float(binary_entropy_derivative(t)), low, 0.5, epsabs=1e-13, limit=200)[0]


def _curves(mixture: GaussianMixture, w: np.ndarray, eps: np.ndarray, p: object) -> tuple[np.ndarray, ...]:
    rv = np.asarray(mixture.representation_vulnerability(w, eps, p))
    ag = np.asarray(mixture.adversarial_gap(w, eps, p))
    lower, upper = mixture.theorem_3_2_bounds(w, eps, p)
    printed_lower, printed_upper = mixture.theorem_3_2_bounds(w, eps, p, form="printed")
    return rv, ag, np.asarray(lower), np.asarray(upper), np.asarray(printed_lower), np.asarray(printed_upper)


def _random_instances(config: Theorem32Config, rng: np.random.Generator) -> tuple[dict, dict, float, dict]:
    names = ("dim", "p", "eps", "a", "b", "ag", "width", "rv", "lower", "upper", "printed_lower", "printed_upper")
    table: dict[str, list] = {name: [] for name in names}
    table["kind"] = []
    quad_err = 0.0
    for index in range(config.n_instances):
        inst = random_instance(rng, config.max_dim)
        mixture, w, eps, p = inst["mixture"], inst["w"], inst["eps"], inst["p"]
        lower, upper = mixture.theorem_3_2_bounds(w, eps, p)
        printed_lower, printed_upper = mixture.theorem_3_2_bounds(w, eps, p, form="printed")
        rv = mixture.representation_vulnerability(w, eps, p)
        row = {
            "dim": inst["dim"], "p": p_key(p), "eps": eps, "a": mixture.standardized_margin(w),
            "b": mixture.perturbation_budget(w, eps, p), "ag": mixture.adversarial_gap(w, eps, p),
            "width": mixture.flip_probability_width(w, eps, p), "rv": rv, "lower": lower, "upper": upper,
            "printed_lower": printed_lower, "printed_upper": printed_upper,
        }
        for name in names:
            table[name].append(row[name])
        table["kind"].append(inst["kind"])
        if index < config.n_quad:
            quad_err = max(quad_err, abs(_quad_rv(mixture, w, eps, p) - rv))
    arrays = {name: np.asarray(values) for name, values in table.items()}

    checked = arrays["ag"] > MIN_GAP_FOR_PRINTED_CHECK
    miss_low = arrays["printed_lower"] - arrays["rv"]
    miss_high = arrays["rv"] - arrays["printed_upper"]
    miss = np.maximum(miss_low, miss_high)
    violated = checked & (miss > ROUNDING)
    worst = int(np.argmax(np.where(checked, miss, -np.inf)))
    counterexample = {name: (arrays[name][worst].item() if name not in ("p", "kind") else str(arrays[name][worst]))
                      for name in (*names, "kind")}
    counterexample["violation"] = float(miss[worst])
    counterexample["violated_side"] = "lower" if miss_low[worst] >= miss_high[worst] else "upper"
    summary = {
        "n_instances": int(config.n_instances),
        "worst_slack_lower": float(np.min(arrays["rv"] - arrays["lower"])),
        "worst_slack_upper": float(np.min(arrays["upper"] - arrays["rv"])),
        "corrected_violations": int(np.sum((arrays["rv"] < arrays["lower"] - ROUNDING)
                                           | (arrays["rv"] > arrays["upper"] + ROUNDING))),
        "printed_form_checked": int(checked.sum()),
        "printed_form_violations": int(violated.sum()),
        "printed_lower_violations": int(np.sum(checked & (miss_low > ROUNDING))),
        "printed_upper_violations": int(np.sum(checked & (miss_high > ROUNDING))),
        "width_ratio_min": float(np.min(arrays["width"][checked] / arrays["ag"][checked])),
        "width_ratio_max": float(np.max(arrays["width"][checked] / arrays["ag"][checked])),
        "gap_above_half": int(np.sum(arrays["ag"] > 0.5)),
    }
    return arrays, counterexample, quad_err if config.n_quad else float("nan"), summary


def _monte_carlo(config: Theorem32Config, mixture: GaussianMixture, w: np.ndarray, rng: np.random.Generator):
    n = config.mc_samples
    x, y = mixture.sample(n, rng)
    clean_errors = mixture.predict(x, w) != y
    eps = np.asarray(config.mc_eps, dtype=np.float64)
    out: dict[str, dict[str, np.ndarray]] = {}
    for p in config.p_values:
        key = p_key(p)
        rows: dict[str, list[float]] = {name: [] for name in (
            "positive_rate", "positive_exact", "positive_se", "rv_mc", "rv_low", "rv_high", "rv_exact",
            "gap_mc", "gap_exact", "gap_se", "adv_mc", "adv_exact", "adv_se", "clean_not_adv")}
        for e in eps:
            rate = float(np.mean(mixture.represent(mixture.worst_case_transport(x, w, float(e), p), w) == 1))
            exact_low, _ = mixture.positive_probability_range(w, float(e), p)
            se = math.sqrt(exact_low * (1 - exact_low) / n)
            adv_errors = mixture.predict(mixture.adversarial_transport(x, y, w, float(e), p), w) != y
            gap_exact = mixture.adversarial_gap(w, float(e), p)
            adv_exact = mixture.adversarial_risk(w, float(e), p)
            clip = lambda t: min(max(t, 0.0), 0.5)  # noqa: E731  RV is a function of min(rate, 1 - rate)
            rows["positive_rate"].append(rate)
            rows["positive_exact"].append(exact_low)
            rows["positive_se"].append(se)
            rows["rv_mc"].append(LOG2 - float(binary_entropy(min(rate, 1 - rate))))
            # error bar: RV evaluated at rate ± 1 standard error (RV is monotone in rate on [0, 1/2])
            rows["rv_low"].append(LOG2 - float(binary_entropy(clip(rate + se))))
            rows["rv_high"].append(LOG2 - float(binary_entropy(clip(rate - se))))
            rows["rv_exact"].append(mixture.representation_vulnerability(w, float(e), p))
            # the adversarial map only moves points towards the boundary, so adv_error ≥ clean_error pointwise
            # and adv_error − clean_error is a Bernoulli(AG) indicator
            rows["gap_mc"].append(float(np.mean(adv_errors & ~clean_errors)))
            rows["gap_exact"].append(gap_exact)
            rows["gap_se"].append(math.sqrt(gap_exact * (1 - gap_exact) / n))
            rows["adv_mc"].append(float(np.mean(adv_errors)))
            rows["adv_exact"].append(adv_exact)
            rows["adv_se"].append(math.sqrt(adv_exact * (1 - adv_exact) / n))
            rows["clean_not_adv"].append(float(np.mean(clean_errors & ~adv_errors)))  # must be 0
        out[key] = {name: np.asarray(values) for name, values in rows.items()}
    return eps, out


def _one_dimensional_example(config: Theorem32Config) -> dict[str, float]:
    """The smallest counterexample to the printed form, checkable by hand: d = 1, θ = 1, Σ = 1, w = 1, ℓ2."""
    mixture, w, eps = GaussianMixture([1.0], [[1.0]]), np.array([1.0]), config.example_eps
    lower, upper = mixture.theorem_3_2_bounds(w, eps, 2)
    printed_lower, printed_upper = mixture.theorem_3_2_bounds(w, eps, 2, form="printed")
    return {
        "example_eps": float(eps),
        "example_ag": float(mixture.adversarial_gap(w, eps, 2)),
        "example_width": float(mixture.flip_probability_width(w, eps, 2)),
        "example_rv": float(mixture.representation_vulnerability(w, eps, 2)),
        "example_lower": float(lower),
        "example_upper": float(upper),
        "example_printed_lower": float(printed_lower),
        "example_printed_upper": float(printed_upper),
    }


def tightness(mixture: GaussianMixture, w: np.ndarray, small_eps: float = 1e-4, margin: float = 5.0
              ) -> dict[str, float]:
    """Which side of the corrected sandwich RV sits on, from the ratio ``P / AG ∈ [1, 2]``.

    ``RV = log 2 - H2(1/2 - P/2)`` while the bounds put ``AG`` (lower) or ``2·AG`` (upper) in place of ``P``.
    As ``ε → 0``, ``P ≈ 2φ(a)b`` and ``AG ≈ φ(a)b``, so ``P/AG → 2``: RV meets the **upper** bound, and since
    ``log 2 - H2(1/2 - t/2) ≈ t²/2`` for small ``t``, ``RV / lower → 4``. At a large margin with ``b = a`` the
    interval ``[a - b, a + b]`` loses almost nothing above ``a``, ``P/AG → 1`` and RV meets the **lower** bound.
    Returns both regimes: the base instance at ``small_eps`` (ℓ∞) and a 1-d mixture with ``a = b = margin``.
    """
    rv, ag, lower, upper = (float(v[0]) for v in _curves(mixture, w, np.array([small_eps]), math.inf)[:4])
    width = float(mixture.flip_probability_width(w, small_eps, math.inf))
    one_d, unit = GaussianMixture([margin], [[1.0]]), np.array([1.0])
    rv_m, ag_m, lower_m, upper_m = (float(v[0]) for v in _curves(one_d, unit, np.array([margin]), 2)[:4])
    return {
        "small_eps": small_eps,
        "small_eps_width_ratio": width / ag,
        "small_eps_rv_over_upper": rv / upper,
        "small_eps_rv_over_lower": rv / lower,
        "large_margin": margin,
        "large_margin_width_ratio": float(one_d.flip_probability_width(unit, margin, 2)) / ag_m,
        "large_margin_rv_over_lower": rv_m / lower_m,
        "large_margin_rv_over_upper": rv_m / upper_m,
    }


def run(config: Theorem32Config) -> Theorem32Result:
    """Compute everything chapter 2 shows (about ten seconds for 1,000 instances on one core)."""
    rng = numpy_rng(config.seed)
    mixture, w = base_mixture(config)
    eps_grid = np.linspace(0.0, config.eps_max, config.n_eps)
    per_p = {p_key(p): _curves(mixture, w, eps_grid, p) for p in config.p_values}

    # angle sweep in the plane of θ and a fixed direction orthogonal to it, p = 2
    theta_hat = mixture.theta / np.linalg.norm(mixture.theta)
    other = np.linspace(-1.0, 1.0, config.dim)
    other -= (other @ theta_hat) * theta_hat
    other /= np.linalg.norm(other)
    angles = np.linspace(0.0, math.pi, config.n_angles)
    angle_rows = np.array([
        [float(v) for v in _curves(mixture, math.cos(t) * theta_hat + math.sin(t) * other,
                                   np.asarray(config.angle_eps), 2)[:4]]
        for t in angles
    ])

    instances, counterexample, quad_err, summary = _random_instances(config, rng)
    mc_eps, mc = _monte_carlo(config, mixture, w, rng)
    z_values = []
    for rows in mc.values():
        z_values.append(np.abs(rows["positive_rate"] - rows["positive_exact"]) / rows["positive_se"])
        z_values.append(np.abs(rows["gap_mc"] - rows["gap_exact"]) / rows["gap_se"])
        z_values.append(np.abs(rows["adv_mc"] - rows["adv_exact"]) / rows["adv_se"])
    summary["mc_max_abs_z"] = float(np.max(np.concatenate(z_values)))
    summary["mc_n_checks"] = int(sum(v.size for v in z_values))
    summary["mc_clean_not_adversarial"] = float(max(float(rows["clean_not_adv"].max()) for rows in mc.values()))
    summary["quad_max_abs_err"] = quad_err
    summary.update(_one_dimensional_example(config))
    summary["worst_violation"] = float(counterexample["violation"])
    right_angle = int(np.argmin(np.abs(angles - math.pi / 2)))
    summary["orthogonal_upper_minus_rv"] = float(angle_rows[right_angle, 3] - angle_rows[right_angle, 0])
    summary.update(tightness(mixture, w))

    gap_grid = np.linspace(0.0, 1.0, 201)
    gap_lower, gap_upper = theorem_3_2_bounds_from_gap(gap_grid)
    return Theorem32Result(
        config=config,
        eps_grid=eps_grid,
        rv_eps={k: v[0] for k, v in per_p.items()},
        ag_eps={k: v[1] for k, v in per_p.items()},
        lower_eps={k: v[2] for k, v in per_p.items()},
        upper_eps={k: v[3] for k, v in per_p.items()},
        printed_lower_eps={k: v[4] for k, v in per_p.items()},
        printed_upper_eps={k: v[5] for k, v in per_p.items()},
        angles=angles,
        rv_angle=angle_rows[:, 0],
        ag_angle=angle_rows[:, 1],
        lower_angle=angle_rows[:, 2],
        upper_angle=angle_rows[:, 3],
        instances=instances,
        worst_counterexample=counterexample,
        quad_max_abs_err=quad_err,
        mc_eps=mc_eps,
        mc=mc,
        gap_grid=gap_grid,
        gap_lower=np.asarray(gap_lower),
        gap_upper=np.asarray(gap_upper),
        scalars=summary,
    )
