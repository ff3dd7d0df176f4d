"""What the paper's own published numbers (:mod:`rrlib.paper`) imply, computed once and tested: correlations of
Figure 1, and Theorem 3.4's ceilings checked against the models of Figure 2 (adversarial accuracy against the
worst-case-MI ceiling; natural accuracy against the ε = 0, Fano, ceiling of the normal MI).

>>> paper_figure_2_violations()
0
"""

from __future__ import annotations

import numpy as np

from rrlib.paper import FIGURE_1, FIGURE_2, figure_1_rows
from rrlib.theory import adversarial_accuracy_upper_bound

__all__ = [
    "correlations",
    "paper_correlations",
    "paper_fano_violations",
    "paper_figure_2_points",
    "paper_figure_2_violations",
]


def correlations(x: list[float] | np.ndarray, y: list[float] | np.ndarray) -> dict[str, float]:
    """Pearson and Spearman correlation of two equally long sequences (NaN when undefined, e.g. n < 3)."""
    from scipy import stats

    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"x and y must be 1-d of equal length, got shapes {a.shape} and {b.shape}")
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return {"pearson": float("nan"), "spearman": float("nan"), "n": int(a.size)}
    return {"pearson": float(stats.pearsonr(a, b)[0]), "spearman": float(stats.spearmanr(a, b)[0]),
            "n": int(a.size)}


def paper_correlations() -> dict[str, float]:
    """Pearson and Spearman correlation of RV with the gap over the paper's 12 Figure-1 models."""
    rows = figure_1_rows()
    return correlations([r[2] for r in rows], [r[3] for r in rows])


def paper_figure_2_points(n_classes: int = 10) -> list[dict[str, float | str]]:
    """Every Figure-2 model with its worst-case MI, adversarial accuracy (a fraction) and the Theorem 3.4 ceiling
    ``min(1, (I_worst + log 2)/log n_classes)`` computed from that worst-case MI."""
    points = []
    for model, trainings in FIGURE_2.items():
        for training, point in trainings.items():
            bound = float(adversarial_accuracy_upper_bound(point.worst_mi, n_classes))
            points.append({"model": model, "training": training, "worst_mi": point.worst_mi,
                           "accuracy": point.adversarial_accuracy / 100.0, "bound": bound})
    return points


def paper_figure_2_violations() -> int:
    """Number of the paper's Figure-2 models whose adversarial accuracy exceeds the ceiling of their worst MI."""
    return sum(p.adversarial_accuracy > 100 * adversarial_accuracy_upper_bound(p.worst_mi, 10)
               for points in FIGURE_2.values() for p in points.values())


def paper_fano_violations() -> list[str]:
    """Paper models whose natural accuracy (Figure 1: gap + Figure 2's adversarial accuracy) exceeds the ε = 0
    ceiling ``(I_normal + log 2)/log 10`` of their normal MI — i.e. normal-MI estimates that Fano shows too low."""
    out = []
    for model, points in FIGURE_2.items():
        for training, p in points.items():
            natural = FIGURE_1[model][training][1] + p.adversarial_accuracy
            if natural > 100 * adversarial_accuracy_upper_bound(p.normal_mi, 10):
                out.append(f"{model} ({training})")
    return out
