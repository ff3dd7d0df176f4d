"""Saliency maps (Figures 4–6 of the paper) and their alignment with the image (Etmann et al. 2019).

A saliency map is the gradient of a scalar loss with respect to the input pixels, computed with every module in
eval mode (flags restored afterwards) and without touching any parameter's ``.grad``:

* :func:`dv_saliency` — the MI-maximisation loss of an encoder g with its critic T, ``L(x) = −Î_DV(x; g(x))``
  (Figs 4 and 6, "unsupervised"). The DV estimate is one number for the batch, so the map of ``x_i`` also depends
  on the other images (its negatives). With the paper's critic (image branch detached, as in the official code)
  the gradient flows through ``z = g(x)`` only: the map shows what the *encoder* is sensitive to.
* :func:`ce_saliency` — the cross-entropy ``CE(f(x_i), y_i)`` of a classifier, per example (Figs 4 and 6,
  "supervised").
* :func:`kernel_saliency` — the mean over locations of one second-layer Baseline-H channel (Fig. 5), per example.

:func:`alignment` is Etmann et al.'s ``α(x) = |⟨x, ∇⟩| / (‖x‖₂ ‖∇‖₂)`` per image, in [0, 1] (1: the map is a
multiple of the image; 0: orthogonal to it); robust models are expected to have better-aligned maps.
Mean ± standard error over images: :func:`rrlib.stats.summarize` with ``finite_only=True``.

>>> import torch
>>> x = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
>>> alignment(x, torch.tensor([[2.0, 0.0], [1.0, -1.0]])).tolist()
[1.0, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from rrlib.mi.bounds import dv
from rrlib.runtime import managed_modes

__all__ = [
    "alignment",
    "ce_saliency",
    "display_scale",
    "dv_saliency",
    "input_gradient",
    "kernel_saliency",
]


def input_gradient(objective: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                   modules: Sequence[nn.Module] = ()) -> torch.Tensor:
    """``∇_x Σ objective(x)`` (same shape as ``x``), with ``modules`` in eval mode; parameters' grads untouched."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {getattr(x, 'dtype', type(x).__name__)}")
    with managed_modes(list(modules)), torch.enable_grad():
        xr = x.detach().clone().requires_grad_(True)
        value = objective(xr)
        if not isinstance(value, torch.Tensor) or not value.requires_grad:
            raise ValueError("the objective does not depend differentiably on x (no gradient path to the input)")
        (grad,) = torch.autograd.grad(value.sum(), xr)
    return grad.detach()


def dv_saliency(encoder: nn.Module, critic: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Gradient of the DV loss ``−Î_DV = −dv(critic(x, encoder(x)))`` (nats) w.r.t. the batch ``x`` (n ≥ 2)."""
    if x.shape[0] < 2:
        raise ValueError(f"the DV estimate needs a batch of at least 2 images (negatives), got {x.shape[0]}")
    return input_gradient(lambda xr: -dv(critic(xr, encoder(xr))), x, (encoder, critic))


def ce_saliency(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient of each example's cross-entropy ``CE(model(x_i), y_i)`` w.r.t. ``x_i`` (eval mode)."""
    if not isinstance(y, torch.Tensor) or y.shape != (x.shape[0],):
        raise ValueError(f"y must be a label tensor of shape ({x.shape[0]},), got {getattr(y, 'shape', y)}")
    return input_gradient(lambda xr: F.cross_entropy(model(xr), y.long(), reduction="sum"), x, (model,))


def kernel_saliency(model: nn.Module, x: torch.Tensor, channel: int) -> torch.Tensor:
    """Gradient of the spatial mean of second-layer channel ``channel`` w.r.t. ``x`` (Fig. 5), per example.

    ``model`` has a ``conv2(x)`` method returning ``(B, C, h, w)`` for pixels (Baseline-H classifiers and
    :class:`rrlib.train.encoder.PixelEncoder` do).
    """
    if not callable(getattr(model, "conv2", None)):
        raise TypeError(f"{type(model).__name__} has no conv2(x) method (a Baseline-H model or PixelEncoder)")

    def objective(xr: torch.Tensor) -> torch.Tensor:
        maps = model.conv2(xr)
        if not (isinstance(channel, int) and 0 <= channel < maps.shape[1]):
            raise ValueError(f"channel must be an integer in [0, {maps.shape[1]}), got {channel!r}")
        return maps[:, channel].mean(dim=(-2, -1))

    return input_gradient(objective, x, (model,))


def alignment(x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """``|⟨x_i, g_i⟩| / (‖x_i‖ ‖g_i‖)`` per image (Etmann et al. 2019), shape ``(B,)``, in float64.

    An image or map of zero norm has no direction: its entry is NaN (left out of the summary).
    """
    if not isinstance(x, torch.Tensor) or not isinstance(grad, torch.Tensor) or x.shape != grad.shape:
        raise ValueError(f"x and grad must be tensors of one shape, got {getattr(x, 'shape', x)} and "
                         f"{getattr(grad, 'shape', grad)}")
    a, b = x.detach().flatten(1).double(), grad.detach().flatten(1).double()
    denom = a.norm(dim=1) * b.norm(dim=1)
    out = (a * b).sum(1).abs() / denom
    out[denom == 0] = math.nan
    return out.clamp(max=1.0)


def display_scale(grad: torch.Tensor) -> torch.Tensor:
    """Maps scaled per image to [0, 1] for display: ``0.5 + 0.5 · g / max|g|`` (0.5 = zero gradient)."""
    flat = grad.detach().flatten(1)
    peak = flat.abs().amax(1).clamp_min(torch.finfo(flat.dtype).tiny)
    return (0.5 + 0.5 * flat / peak[:, None]).reshape(grad.shape)
