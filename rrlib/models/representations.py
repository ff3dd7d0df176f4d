"""Which layer of a trained model is "the representation" whose mutual information is estimated.

``"logits"`` is the model itself (its output layer: the paper's Figures 1–2); ``"z"`` is
``model.representation(x)`` (Baseline-H: the 64-d code ``z = g(x)``), wrapped as a module by
:class:`LatentRepresentation` so that the estimators can treat both alike.

>>> from rrlib.models import build_model
>>> model = build_model("baseline_h", "fashion-mnist", head="linear", width=0.25)
>>> module, dim = representation_module(model, "z", (1, 28, 28))
>>> dim
64
"""

from __future__ import annotations

import torch
from torch import nn

from rrlib.runtime import managed_modes

REPRESENTATIONS = ("logits", "z")

__all__ = ["REPRESENTATIONS", "LatentRepresentation", "representation_module"]


class LatentRepresentation(nn.Module):
    """``x ↦ model.representation(x)`` as a module (Baseline-H: the 64-d code ``z = g(x)``), for the estimators."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        if not callable(getattr(model, "representation", None)):
            raise TypeError(f"{type(model).__name__} has no representation(x) method")
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.representation(x)


def representation_module(model: nn.Module, name: str, input_shape: tuple[int, ...],
                          device: torch.device | str = "cpu") -> tuple[nn.Module, int]:
    """The representation ``x ↦ z`` of ``model`` named ``name`` (:data:`REPRESENTATIONS`) and its dimension.

    The dimension is read from one forward pass on zeros of shape ``(2, *input_shape)`` in eval mode (the
    model's train/eval flags are restored). ``ValueError`` if the representation is not a vector.
    """
    if name not in REPRESENTATIONS:
        raise ValueError(f"unknown representation {name!r}; valid choices: {REPRESENTATIONS}")
    module = model if name == "logits" else LatentRepresentation(model)
    with torch.no_grad(), managed_modes(model):
        z = module(torch.zeros((2, *input_shape), device=device))
    if z.ndim != 2:
        raise ValueError(f"representation {name!r} of this model has shape {tuple(z.shape[1:])}; a vector is needed")
    return module, int(z.shape[1])
