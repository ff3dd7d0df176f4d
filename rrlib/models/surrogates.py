"""Small models the chapters use as representations: the sign code of Theorem 3.2 with a straight-through
surrogate gradient, the linear classifier ``f*`` of the Gaussian mixture, a view of Baseline-H's second conv layer
(Figure 3), and a wrapper that counts forward passes (the cost analysis of Algorithm 2).

>>> import numpy as np, torch
>>> g = SignRepresentation(np.array([0.6, 0.8]), sharpness=3.0)
>>> g(torch.tensor([[1.0, 0.0], [-1.0, 0.0]])).flatten().tolist()
[1.0, -1.0]
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["CallCounter", "Conv2Units", "LinearSignClassifier", "SignRepresentation", "StraightThroughSign"]


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


class Conv2Units(nn.Module):
    """The second conv layer of a Baseline-H classifier as a module: images → ``(B, K, side, side)``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.conv2(x)


class CallCounter(nn.Module):
    """Wraps a module and counts its forward calls, and those whose input requires a gradient (PGD passes)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.forward_calls = 0
        self.input_grad_calls = 0

    def reset(self) -> None:
        self.forward_calls = self.input_grad_calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.forward_calls += 1
        self.input_grad_calls += int(x.requires_grad and torch.is_grad_enabled())
        return self.inner(x)
