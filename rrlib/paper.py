"""The paper's published numbers, as data, for side-by-side comparison with ours.

Sources: Zhu, Zhang & Evans (ICML 2020), main text and supplement. Figures 1–3 were digitised from the published
bitmaps (about ±0.01 nats and ±1 percentage point); tables are mean ± std over 4 trials, accuracy in percent.
Mutual information is in nats. Nothing here is computed: these are the numbers our runs are compared against.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Figure 1 — CIFAR-10 logit-layer representation vulnerability (nats) vs natural − adversarial accuracy gap (%).
#: Keys: model → training → (RV, gap). Training: "standard", "eps2" (ε = 2/255), "robust" (ε = 8/255).
FIGURE_1: dict[str, dict[str, tuple[float, float]]] = {
    "Baseline-H": {"standard": (0.887, 85.2), "eps2": (0.775, 71.7), "robust": (0.696, 34.1)},
    "VGG16": {"standard": (0.963, 91.2), "eps2": (0.752, 67.6), "robust": (0.617, 33.6)},
    "ResNet18": {"standard": (1.017, 94.2), "robust": (0.635, 29.4)},
    "DenseNet121": {"standard": (1.132, 95.4), "robust": (0.635, 29.9)},
    "ResNet50": {"standard": (1.197, 94.3), "robust": (0.632, 32.8)},
}


@dataclass(frozen=True)
class Figure2Point:
    """One model of Figure 2: logit-layer worst-case and normal MI (nats) and adversarial accuracy (%)."""

    worst_mi: float
    normal_mi: float
    adversarial_accuracy: float


#: Figure 2 — model → training ("standard" | "robust") → point. "≈0" values in the figure are recorded as read.
FIGURE_2: dict[str, dict[str, Figure2Point]] = {
    "Baseline-H": {"standard": Figure2Point(0.21, 1.10, 0.0), "robust": Figure2Point(1.03, 1.74, 39.6)},
    "ResNet18": {"standard": Figure2Point(0.02, 1.04, 0.0), "robust": Figure2Point(1.06, 1.69, 51.9)},
    "ResNet50": {"standard": Figure2Point(0.04, 1.24, 0.0), "robust": Figure2Point(0.95, 1.58, 54.1)},
    "VGG16": {"standard": Figure2Point(0.00, 0.96, 3.0), "robust": Figure2Point(0.90, 1.51, 47.6)},
    "DenseNet121": {"standard": Figure2Point(0.02, 1.14, 0.0), "robust": Figure2Point(1.08, 1.72, 54.3)},
}

#: The paper's MI regime in nats: from 0 to the largest logit-layer MI in Figure 2 (1.74, Baseline-H robust); the
#: per-neuron MI of Figure 3 (0.02-0.35 nats) lies inside it.
PAPER_MI_RANGE = (0.0, max(p.normal_mi for points in FIGURE_2.values() for p in points.values()))

#: Numbers stated in the text of Section 6.1 about Figure 2 (|Y| = 10).
FIGURE_2_TEXT = {
    "bound_at_zero_worst_mi_percent": 30.1,
    "densenet121_worst_mi": 1.08,
    "densenet121_bound_percent": 77.0,
    "robust_normal_mi_up_to": 1.75,
    "standard_normal_mi_up_to": 1.25,
}

#: Figure 3 — per-neuron MI in Baseline-H's second conv layer (128 neurons; approximate histogram ranges and modes).
FIGURE_3: dict[str, dict[str, dict[str, float]]] = {
    "standard": {
        "normal_mi": {"low": 0.18, "high": 0.34, "mode": 0.26},
        "worst_mi": {"low": 0.06, "high": 0.30, "mode": 0.195},
        "vulnerability": {"low": 0.02, "high": 0.21, "mode": 0.085},
    },
    "robust": {
        "normal_mi": {"low": 0.08, "high": 0.34, "mode": 0.28},
        "worst_mi": {"low": 0.06, "high": 0.35, "mode": 0.26},
        "vulnerability": {"low": 0.0, "high": 0.13, "mode": 0.025},
    },
}

TABLE_COLUMNS = ("mlp_natural", "mlp_adversarial", "linear_natural", "linear_adversarial")
TABLE_ROWS = (
    ("Hjelm et al. (2018)", "Standard"),
    ("Hjelm et al. (2018)", "Robust"),
    ("Ours", "Standard"),
    ("Ours", "Standard (E.S.)"),
    ("Ours", "Robust"),
    ("Fully-Supervised", "Standard"),
    ("Fully-Supervised", "Robust"),
)

Cell = tuple[float, float]  # (mean, std) in percent


def _table(values: list[list[Cell]]) -> dict[tuple[str, str], dict[str, Cell]]:
    return {row: dict(zip(TABLE_COLUMNS, cells, strict=True)) for row, cells in zip(TABLE_ROWS, values, strict=True)}


#: Tables 1, 3, 4, 5 — downstream accuracy (%) for (representation g, classifier h) rows.
TABLES: dict[str, dict[tuple[str, str], dict[str, Cell]]] = {
    "cifar10": _table([
        [(58.77, 0.22), (0.22, 0.08), (47.01, 0.53), (0.15, 0.03)],
        [(29.75, 1.49), (15.08, 0.63), (22.79, 1.42), (10.28, 0.52)],
        [(62.54, 0.12), (14.06, 0.69), (50.29, 0.58), (10.98, 0.49)],
        [(51.59, 3.34), (27.53, 0.81), (48.55, 0.63), (13.52, 0.16)],
        [(52.34, 0.17), (31.52, 0.31), (43.55, 0.10), (25.15, 0.10)],
        [(86.33, 0.17), (0.07, 0.02), (86.36, 0.13), (0.02, 0.01)],
        [(70.71, 0.58), (40.50, 0.27), (72.44, 0.59), (39.98, 0.16)],
    ]),
    "mnist": _table([
        [(96.96, 0.35), (0.00, 0.00), (84.88, 1.11), (0.00, 0.00)],
        [(44.99, 14.49), (16.70, 2.22), (11.35, 0.00), (11.35, 0.00)],
        [(96.67, 0.12), (9.97, 1.88), (82.10, 0.37), (3.69, 0.55)],
        [(94.68, 0.93), (12.79, 2.24), (77.72, 2.47), (4.73, 1.29)],
        [(95.05, 0.19), (60.64, 1.82), (73.99, 1.16), (30.55, 1.34)],
        [(99.13, 0.23), (0.45, 0.33), (99.13, 0.04), (0.00, 0.00)],
        [(99.25, 0.05), (95.73, 0.09), (99.21, 0.06), (95.29, 0.18)],
    ]),
    "fashion-mnist": _table([
        [(89.58, 0.13), (0.00, 0.00), (85.93, 0.26), (0.00, 0.00)],
        [(48.61, 4.96), (14.95, 0.79), (10.00, 0.00), (10.00, 0.00)],
        [(90.45, 0.19), (5.38, 1.00), (87.37, 0.10), (18.20, 2.87)],
        [(81.66, 0.18), (29.71, 2.00), (86.27, 0.64), (23.40, 2.65)],
        [(84.31, 0.29), (70.44, 3.62), (81.05, 0.30), (61.33, 0.49)],
        [(92.09, 0.23), (0.00, 0.00), (85.93, 0.26), (0.00, 0.00)],
        [(87.94, 0.18), (77.59, 0.38), (88.05, 0.46), (77.15, 0.24)],
    ]),
    "svhn": _table([
        [(50.15, 0.89), (0.00, 0.00), (38.94, 1.52), (0.00, 0.00)],
        [(19.59, 0.00), (19.59, 0.00), (19.59, 0.00), (19.59, 0.00)],
        [(74.32, 0.49), (26.29, 1.41), (58.37, 0.54), (21.62, 0.91)],
        [(71.85, 0.59), (29.59, 0.83), (54.76, 0.86), (25.00, 0.53)],
        [(68.25, 0.83), (40.23, 0.83), (49.04, 0.79), (30.56, 0.38)],
        [(91.97, 0.13), (9.77, 1.58), (91.33, 0.15), (9.29, 1.73)],
        [(90.14, 0.83), (65.35, 0.44), (89.60, 0.54), (64.48, 1.06)],
    ]),
}

#: The paper's number of each downstream table, by data set (Tables 1, 3, 4, 5), in the order of :data:`TABLES`.
TABLE_NUMBERS: dict[str, int] = {"cifar10": 1, "mnist": 3, "fashion-mnist": 4, "svhn": 5}


def figure_1_rows() -> list[tuple[str, str, float, float]]:
    """Figure 1 as rows ``(model, training, rv_nats, gap_percent)``."""
    return [(model, training, rv, gap) for model, points in FIGURE_1.items() for training, (rv, gap) in points.items()]


def figure_2_rows() -> list[tuple[str, str, float, float, float]]:
    """Figure 2 as rows ``(model, training, worst_mi, normal_mi, adversarial_accuracy_percent)``."""
    return [(model, training, p.worst_mi, p.normal_mi, p.adversarial_accuracy)
            for model, points in FIGURE_2.items() for training, p in points.items()]
