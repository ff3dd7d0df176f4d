"""Chapter 3 (Section 3.2, Lemma 3.3, Theorem 3.4): worst-case MI bounds adversarial accuracy.

``run(config)`` computes:

1. The accuracy bound ``min(1, (I_worst + log 2) / log|Y|)`` as a function of the worst-case MI for several
   ``|Y|``, and the paper's two numbers for ``|Y| = 10`` (zero worst-case MI and 1.08 nats).
2. A brute-force check on random small discrete problems (points on a line, ε-neighbourhoods, deterministic
   ``g``, uniform labels, ``|Y| ≥ 3``): exact worst-case MI by vertex enumeration, exact ``inf_h AdvRisk_ε(h∘g)``
   by enumerating every ``h``, the risk of a label-free adversary (Lemma 3.3's reading), the theorem's lower
   bound, and Fano plus data processing along the optimal *label-aware* coupling (its slack must be ``≥ 0``:
   ``Y → X' → g(X')`` is a Markov chain for every coupling).
3. A check of the vertex enumeration against random kernels inside the W∞ ball (none may go lower).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rrlib.analysis import paper_figure_2_points
from rrlib.jsonable import to_jsonable
from rrlib.paper import FIGURE_2_TEXT
from rrlib.runtime import numpy_rng
from rrlib.theory import (
    DiscreteRobustnessProblem,
    adversarial_accuracy_upper_bound,
    saturating_worst_case_mi,
)

__all__ = ["Theorem34Config", "Theorem34Result", "run"]

ROUNDING = 1e-12


@dataclass(frozen=True)
class Theorem34Config:
    """Parameters of chapter 3."""

    seed: int = 0
    class_counts: tuple[int, ...] = (2, 3, 5, 10, 100)
    mi_max: float = 5.0
    n_mi: int = 251
    paper_classes: int = 10
    paper_worst_case_mi: float = float(FIGURE_2_TEXT["densenet121_worst_mi"])
    n_problems: int = 300
    n_points: int = 9
    classes_range: tuple[int, int] = (3, 5)
    codes_range: tuple[int, int] = (2, 5)
    eps_choices: tuple[float, ...] = (0.0, 1.0, 2.0, 3.0)
    kernel_problems: int = 10
    kernels_per_problem: int = 500

    @classmethod
    def quick(cls, seed: int = 0, device: str = "auto") -> Theorem34Config:
        """CPU, a few seconds: 300 random problems. (NumPy only: ``device`` is accepted for the common contract and
        ignored.)"""
        return cls(seed=seed)

    @classmethod
    def full(cls, seed: int = 0, device: str = "auto") -> Theorem34Config:
        """3,000 random problems and 50 × 500 random kernels."""
        return cls(seed=seed, n_problems=3000, kernel_problems=50)


@dataclass
class Theorem34Result:
    """Curves, the paper's numbers and the brute-force table (one entry per random problem)."""

    config: Theorem34Config
    mi_grid: np.ndarray
    accuracy_bound: dict[int, np.ndarray]
    bound_at_0: float
    bound_at_paper_mi: float
    saturation: dict[int, float]
    problems: dict[str, np.ndarray]
    paper_points: list[dict[str, float | str]]
    scalars: dict[str, float | int] = field(default_factory=dict)

    def metrics(self) -> dict[str, float | int]:
        """The chapter's key numbers (JSON-able): brute-force counts and margins, the paper's Figure-2 points against
        their ceilings, the bound at the paper's two worst-case MI values (computed by :func:`run`)."""
        return to_jsonable(self.scalars)


def _problem(rng: np.random.Generator, config: Theorem34Config) -> tuple[DiscreteRobustnessProblem, dict]:
    k = int(rng.integers(config.classes_range[0], config.classes_range[1] + 1))
    m = int(rng.integers(config.codes_range[0], config.codes_range[1] + 1))
    eps = float(config.eps_choices[int(rng.integers(len(config.eps_choices)))])
    random_codes = bool(rng.integers(2))
    spread = float(rng.uniform(0.5, 3.0))
    problem = DiscreteRobustnessProblem.random_on_a_line(
        rng, n_points=config.n_points, n_classes=k, n_codes=m, eps=eps, spread=spread, random_codes=random_codes
    )
    return problem, {"n_classes": k, "n_codes": m, "eps": eps, "random_codes": random_codes, "spread": spread}


def run(config: Theorem34Config) -> Theorem34Result:
    """Compute everything chapter 3 shows (a few seconds for 300 problems on one core)."""
    rng = numpy_rng(config.seed)
    mi_grid = np.linspace(0.0, config.mi_max, config.n_mi)
    curves = {k: np.asarray(adversarial_accuracy_upper_bound(mi_grid, k)) for k in config.class_counts}

    names = ("n_classes", "n_codes", "eps", "mi", "worst_mi", "rv", "bound", "min_adv_risk",
             "label_free_risk", "standard_risk", "fano_slack")
    table: dict[str, list] = {name: [] for name in names}
    kernel_gaps = []
    kernel_checked = 0
    for _ in range(config.n_problems):
        problem, meta = _problem(rng, config)
        worst = problem.worst_case_mutual_information()
        risk, best_h = problem.min_adversarial_risk()
        standard = DiscreteRobustnessProblem(problem.joint, np.eye(problem.n_points, dtype=bool), problem.codes,
                                             problem.n_codes).min_adversarial_risk()[0]
        row = meta | {
            "mi": problem.mutual_information(), "worst_mi": worst, "rv": problem.representation_vulnerability(),
            "bound": problem.theorem_3_4_bound(), "min_adv_risk": risk,
            "label_free_risk": problem.min_label_free_adversarial_risk(), "standard_risk": standard,
            "fano_slack": problem.fano_check(best_h).slack,
        }
        for name in names:
            table[name].append(row[name])
        if meta["eps"] > 0 and kernel_checked < config.kernel_problems:  # eps = 0 admits only the identity
            kernel_checked += 1
            n = problem.n_points
            for _ in range(config.kernels_per_problem):
                kernel = rng.dirichlet(np.full(n, 0.3), size=n) * problem.neighbours
                kernel /= kernel.sum(axis=1, keepdims=True)
                kernel_gaps.append(problem.mutual_information_under_kernel(kernel) - worst)
    problems = {name: np.asarray(values) for name, values in table.items()}

    margin = problems["min_adv_risk"] - problems["bound"]
    nonvacuous = problems["bound"] > 0
    summary: dict[str, float | int] = {
        "n_problems": int(config.n_problems),
        "n_violations": int(np.sum(margin < -ROUNDING)),
        "n_label_free_violations": int(np.sum(problems["label_free_risk"] - problems["bound"] < -ROUNDING)),
        "n_label_free_above_adv": int(np.sum(problems["label_free_risk"] > problems["min_adv_risk"] + ROUNDING)),
        "n_label_free_strictly_below": int(np.sum(problems["label_free_risk"] < problems["min_adv_risk"] - 1e-9)),
        "n_nonvacuous": int(nonvacuous.sum()),
        "n_fano_violations": int(np.sum(problems["fano_slack"] < -ROUNDING)),
        "min_fano_slack": float(problems["fano_slack"].min()),
        "min_margin": float(margin.min()),
        "median_margin_nonvacuous": float(np.median(margin[nonvacuous])) if nonvacuous.any() else float("nan"),
        "min_margin_nonvacuous": float(margin[nonvacuous].min()) if nonvacuous.any() else float("nan"),
        "max_bound": float(problems["bound"].max()),
        "n_kernels": len(kernel_gaps),
        "min_kernel_gap": float(np.min(kernel_gaps)) if kernel_gaps else float("nan"),
    }
    paper_points = paper_figure_2_points(config.paper_classes)
    summary["paper_points_violations"] = int(sum(p["accuracy"] > p["bound"] for p in paper_points))
    summary["paper_points_min_slack"] = float(min(p["bound"] - p["accuracy"] for p in paper_points))
    summary["paper_bound_at_0_percent"] = float(FIGURE_2_TEXT["bound_at_zero_worst_mi_percent"])
    summary["paper_bound_at_1_08_percent"] = float(FIGURE_2_TEXT["densenet121_bound_percent"])
    summary["bound_at_0"] = float(adversarial_accuracy_upper_bound(0.0, config.paper_classes))
    summary["bound_at_1_08"] = float(adversarial_accuracy_upper_bound(config.paper_worst_case_mi, config.paper_classes))
    summary["bound_at_0_percent"] = 100.0 * summary["bound_at_0"]
    summary["bound_at_1_08_percent"] = 100.0 * summary["bound_at_1_08"]
    summary["saturation_10"] = saturating_worst_case_mi(config.paper_classes)
    zero = problems["worst_mi"] <= 1e-12
    summary["n_zero_worst_mi"] = int(zero.sum())
    summary["zero_worst_mi_risk_equals_chance"] = int(np.sum(
        np.abs(problems["min_adv_risk"][zero] - (1 - 1 / problems["n_classes"][zero])) < 1e-12))
    return Theorem34Result(
        config=config,
        mi_grid=mi_grid,
        accuracy_bound=curves,
        bound_at_0=float(adversarial_accuracy_upper_bound(0.0, config.paper_classes)),
        bound_at_paper_mi=float(adversarial_accuracy_upper_bound(config.paper_worst_case_mi, config.paper_classes)),
        saturation={k: saturating_worst_case_mi(k) for k in config.class_counts},
        problems=problems,
        paper_points=paper_points,
        scalars=summary,
    )
