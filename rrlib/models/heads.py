"""Downstream classifiers h on top of a representation (supplement Table 2; REFERENCE.md §3.2)."""

from __future__ import annotations

from torch import nn

#: The heads :func:`build_head` builds, FC 200 → FC n_classes or one linear layer.
HEADS = ("mlp", "linear")


class MLPHead(nn.Sequential):
    """``mlp``: Linear(in→200) → Dropout(0.1) → BatchNorm1d(200) → ReLU → Linear(200→n_classes)."""

    def __init__(
        self, in_features: int = 64, n_classes: int = 10, hidden: int = 200, dropout: float = 0.1
    ) -> None:
        super().__init__(
            nn.Linear(in_features, hidden),
            nn.Dropout(dropout),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_classes),
        )


class LinearHead(nn.Sequential):
    """``linear``: Linear(in→n_classes)."""

    def __init__(self, in_features: int = 64, n_classes: int = 10) -> None:
        super().__init__(nn.Linear(in_features, n_classes))


def build_head(name: str, in_features: int = 64, n_classes: int = 10) -> nn.Module:
    """The head called ``name`` (``"mlp"`` or ``"linear"``)."""
    if name == "mlp":
        return MLPHead(in_features, n_classes)
    if name == "linear":
        return LinearHead(in_features, n_classes)
    raise ValueError(f"unknown head {name!r}; valid choices: {HEADS}")
