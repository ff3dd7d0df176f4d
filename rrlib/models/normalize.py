"""Input normalisation inside the model, so that attacks work in [0, 1] pixel space (REFERENCE.md §3.1)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class InputNormalize(nn.Module):
    """Clamp to [0, 1], then standardise per channel: ``(clamp(x, 0, 1) - mean) / std``.

    Mirrors the official implementation's ``helpers.InputNormalize``. ``mean`` and ``std`` are buffers of
    shape (C, 1, 1), so they follow the module to its device. Input (B, C, H, W), output the same shape.

    >>> norm = InputNormalize((0.5,), (0.25,))
    >>> norm(torch.tensor([[[[0.0, 1.0, 2.0]]]])).tolist()
    [[[[-2.0, 2.0, 2.0]]]]
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        mean_t = torch.as_tensor(mean, dtype=torch.float32)
        std_t = torch.as_tensor(std, dtype=torch.float32)
        if mean_t.ndim != 1 or mean_t.shape != std_t.shape:
            raise ValueError(f"mean and std must be 1-d of equal length, got {tuple(mean)} and {tuple(std)}")
        if bool((std_t <= 0).any()):
            raise ValueError(f"std must be positive, got {tuple(std)}")
        self.register_buffer("mean", mean_t.view(-1, 1, 1))
        self.register_buffer("std", std_t.view(-1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.mean.shape[0]:
            raise ValueError(f"expected input of shape (B, {self.mean.shape[0]}, H, W), got {tuple(x.shape)}")
        return (x.clamp(0.0, 1.0) - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}"
